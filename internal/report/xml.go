package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
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
// Before parsing, the bytes are normalised: a UTF-16 or UTF-8 byte order
// mark is handled, Latin-1 / Windows-1252 documents are converted to
// UTF-8, and characters XML 1.0 forbids (ANSI escapes in captured output
// are common) are replaced by U+FFFD.
func parseXML(data []byte) (*node, error) {
	data = normalizeXML(data)
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.Entity = xml.HTMLEntity
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	doc := &node{}
	stack := []*node{doc}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, xmlError(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) > maxDepth {
				return nil, fmt.Errorf("elements nested more than %d deep", maxDepth)
			}
			n := &node{name: t.Name.Local, attrs: t.Attr}
			top := stack[len(stack)-1]
			top.children = append(top.children, n)
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 1 {
				top := stack[len(stack)-1]
				top.chunks = append(top.chunks, string(t))
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("not an XML document: text outside any element")
			}
		}
	}
	if len(doc.children) == 0 {
		return nil, errors.New("no XML element found")
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

func normalizeXML(b []byte) []byte {
	switch {
	case len(b) >= 2 && b[0] == 0xFF && b[1] == 0xFE:
		b = utf16ToUTF8(b[2:], false)
	case len(b) >= 2 && b[0] == 0xFE && b[1] == 0xFF:
		b = utf16ToUTF8(b[2:], true)
	case bytes.HasPrefix(b, []byte("\xEF\xBB\xBF")):
		b = b[3:]
	default:
		if m := xmlDecl.FindSubmatch(b); m != nil {
			switch strings.ToLower(string(m[1])) {
			case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "iso_8859-1":
				b = latin1ToUTF8(b, false)
			case "windows-1252", "cp1252", "x-cp1252":
				b = latin1ToUTF8(b, true)
			}
		}
	}
	var out []byte
	for i := 0; i < len(b); {
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
