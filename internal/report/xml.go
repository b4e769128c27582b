package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds element nesting; real report files nest a few dozen
// levels at most.
const maxDepth = 512

// node is an element of a parsed XML document. Names are local names:
// namespaces (TRX has a default one) are ignored.
type node struct {
	name     string
	attrs    []xml.Attr
	children []*node
	chunks   []string // character data directly inside the element, in order
}

// parseXML reads a whole document. The returned node is a synthetic
// document node whose children are the top-level elements (normally one).
// The bytes are normalised first (see normalizer): a UTF-16 or UTF-8 byte
// order mark is handled, Latin-1 / Windows-1252 documents are converted
// to UTF-8, and characters XML 1.0 forbids (ANSI escapes in captured
// output are common) are replaced by U+FFFD.
func parseXML(data []byte) (*node, error) {
	doc := &node{}
	_, err := streamXML(bytes.NewReader(data), func([]*node, string) bool { return true }, func(_ []*node, n *node) error {
		doc.children = append(doc.children, n)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return doc, nil
}

func xmlError(err error) error {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("XML syntax error on line %d: %s", se.Line, se.Msg)
	}
	return fmt.Errorf("XML error: %v", err)
}

// root returns the first top-level element, checking its name.
func (doc *node) root(names ...string) (*node, error) {
	r := doc.children[0]
	for _, n := range names {
		if r.name == n {
			return r, nil
		}
	}
	want := make([]string, len(names))
	for i, n := range names {
		want[i] = "<" + n + ">"
	}
	return nil, fmt.Errorf("root element is <%s>, expected %s", r.name, strings.Join(want, " or "))
}

func (n *node) attr(name string) string {
	v, _ := n.lookup(name)
	return v
}

func (n *node) lookup(name string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// child returns the first direct child with that name, or nil.
func (n *node) child(name string) *node {
	if n == nil {
		return nil
	}
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

// rawText returns the character data directly inside the element.
// Chunks that are only white space (the indentation around a CDATA
// section or between child elements) are dropped when the element has
// other text; everything else is kept as written.
func (n *node) rawText() string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	for _, c := range n.chunks {
		if strings.TrimSpace(c) != "" {
			b.WriteString(c)
		}
	}
	return b.String()
}

// text returns rawText without surrounding white space.
func (n *node) text() string { return strings.TrimSpace(n.rawText()) }

var (
	xmlDecl = regexp.MustCompile(`^\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']`)
	charRef = regexp.MustCompile(`&#(x[0-9a-fA-F]+|[0-9]+);`)
)

// sanitizeXML replaces what XML 1.0 forbids in UTF-8 text by U+FFFD:
// invalid UTF-8, forbidden characters, and references to them.
func sanitizeXML(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); {
		if c := b[i]; c >= 0x20 && c < utf8.RuneSelf || c == '\n' || c == '\t' || c == '\r' {
			if out != nil {
				out = append(out, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		bad := r == utf8.RuneError && n == 1 || !xmlChar(r)
		if bad && out == nil {
			out = append(make([]byte, 0, len(b)+16), b[:i]...)
		}
		if out != nil {
			if bad {
				out = utf8.AppendRune(out, '\uFFFD')
			} else {
				out = append(out, b[i:i+n]...)
			}
		}
		i += n
	}
	if out != nil {
		b = out
	}
	if bytes.Contains(b, []byte("&#")) {
		b = charRef.ReplaceAllFunc(b, func(m []byte) []byte {
			s := string(m[2 : len(m)-1])
			var v uint64
			var err error
			if s[0] == 'x' {
				v, err = strconv.ParseUint(s[1:], 16, 32)
			} else {
				v, err = strconv.ParseUint(s, 10, 32)
			}
			if err != nil || v > utf8.MaxRune || !xmlChar(rune(v)) {
				return []byte("&#xFFFD;")
			}
			return m
		})
	}
	return b
}

// xmlChar reports whether XML 1.0 allows r in a document.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

func utf16ToUTF8(b []byte, bigEndian bool) []byte {
	u := make([]uint16, len(b)/2)
	for i := range u {
		if bigEndian {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			u[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
		}
	}
	return []byte(string(utf16.Decode(u)))
}

// cp1252 maps bytes 0x80–0x9F of Windows-1252 (0 = undefined).
var cp1252 = [32]rune{
	0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
	0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
}

func latin1ToUTF8(b []byte, windows bool) []byte {
	out := make([]byte, 0, len(b)+len(b)/8)
	for _, c := range b {
		r := rune(c)
		if windows && c >= 0x80 && c <= 0x9F && cp1252[c-0x80] != 0 {
			r = cp1252[c-0x80]
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}
