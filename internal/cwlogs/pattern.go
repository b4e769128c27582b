package cwlogs

import (
	"regexp"
	"strings"
)

// pattern is a filterPattern of FilterLogEvents in its term forms
// (CloudWatch Logs' "Filter pattern syntax"): terms an event must all
// contain (ERROR Exception), terms of which it must contain one (?ERROR
// ?WARN), terms it must not contain (-Retry), "quoted phrases", and
// %regular expressions% (at most two). Terms are case-sensitive. The JSON
// ({ $.level = … }) and space-delimited ([ip, user, …]) forms are
// refused.
type pattern struct {
	all, any, none []matcher
}

type matcher interface{ match(string) bool }

type term string

func (t term) match(s string) bool { return strings.Contains(s, string(t)) }

type re struct{ *regexp.Regexp }

func (r re) match(s string) bool { return r.MatchString(s) }

func (p pattern) match(s string) bool {
	s = strings.TrimSuffix(s, "\n") // an event's line ending is no part of what it says
	for _, m := range p.all {
		if !m.match(s) {
			return false
		}
	}
	for _, m := range p.none {
		if m.match(s) {
			return false
		}
	}
	if len(p.any) == 0 {
		return true
	}
	for _, m := range p.any {
		if m.match(s) {
			return true
		}
	}
	return false
}

// reChars is what CloudWatch Logs allows in a %regex%: alphanumerics,
// :_#=@/;,- and the operators ^ $ ? [ ] { } | \ * + . (no groups).
var reChars = regexp.MustCompile(`^[A-Za-z0-9:_#=@/;,\-^$?\[\]{}|\\*+. ]*$`)

func parsePattern(s string) (pattern, error) {
	var p pattern
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[") {
		return p, invalid("Invalid filter pattern: buildbatch supports terms, ?terms, -terms, \"quoted phrases\" and %%regular expressions%%, not the JSON or space-delimited forms")
	}
	regexes := 0
	for len(s) > 0 {
		list := &p.all
		switch s[0] {
		case '?':
			list, s = &p.any, s[1:]
		case '-':
			list, s = &p.none, s[1:]
		}
		var m matcher
		switch {
		case strings.HasPrefix(s, `"`):
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return p, invalid("Invalid filter pattern: unterminated quoted phrase")
			}
			m, s = term(s[1:1+end]), s[2+end:]
		case strings.HasPrefix(s, "%"):
			end := strings.IndexByte(s[1:], '%')
			if end < 0 {
				return p, invalid("Invalid filter pattern: unterminated regular expression (%%…%%)")
			}
			expr := s[1 : 1+end]
			s = s[2+end:]
			regexes++
			if regexes > 2 || !reChars.MatchString(expr) {
				return p, invalid("Invalid filter pattern: a pattern has at most two regular expressions, of alphanumerics, :_#=@/;,- and ^ $ ? [ ] { } | \\ * + .")
			}
			r, err := regexp.Compile(expr)
			if err != nil {
				return p, invalid("Invalid filter pattern: %v", err)
			}
			m = re{r}
		default:
			end := strings.IndexAny(s, " \t")
			if end < 0 {
				end = len(s)
			}
			if end == 0 {
				return p, invalid("Invalid filter pattern: an empty term")
			}
			m, s = term(s[:end]), s[end:]
		}
		*list = append(*list, m)
		s = strings.TrimLeft(s, " \t")
	}
	return p, nil
}
