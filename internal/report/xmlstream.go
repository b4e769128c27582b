package report

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Streaming XML: report files can be tens of megabytes (a 100,000-case
// JUnit file is 50 MB), so the formats whose files grow with the number
// of tests read them as a stream, keeping in memory only the element
// being read (a <testcase> with what it holds) and its ancestors'
// attributes. normalizer does to a stream what normalizeXML does to a
// whole document.

// chunk is how much of a file is normalised at a time (a variable for
// the tests, which cut files everywhere).
var chunk = 64 << 10

type encoding int

const (
	encUTF8 encoding = iota
	encUTF16LE
	encUTF16BE
	encLatin1
	encCP1252
)

// normalizer reads a report file as UTF-8 XML 1.0: the byte order mark
// or the declared encoding decides how bytes become characters (UTF-8,
// UTF-16, Latin-1, Windows-1252), characters XML forbids become U+FFFD,
// and so do character references to them.
type normalizer struct {
	src  *bufio.Reader
	enc  encoding
	buf  []byte
	in   []byte // bytes read but not yet decoded (an incomplete character)
	mid  []byte // UTF-8 not yet checked (an incomplete character or reference)
	out  []byte // ready for Read
	err  error
	done bool
}

func newNormalizer(r io.Reader) *normalizer {
	n := &normalizer{src: bufio.NewReaderSize(r, max(chunk, 1024))}
	head, _ := n.src.Peek(1024)
	switch {
	case len(head) >= 2 && head[0] == 0xFF && head[1] == 0xFE:
		n.enc = encUTF16LE
		n.src.Discard(2)
	case len(head) >= 2 && head[0] == 0xFE && head[1] == 0xFF:
		n.enc = encUTF16BE
		n.src.Discard(2)
	case bytes.HasPrefix(head, []byte("\xEF\xBB\xBF")):
		n.src.Discard(3)
	default:
		if m := xmlDecl.FindSubmatch(head); m != nil {
			switch strings.ToLower(string(m[1])) {
			case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "iso_8859-1":
				n.enc = encLatin1
			case "windows-1252", "cp1252", "x-cp1252":
				n.enc = encCP1252
			}
		}
	}
	return n
}

func (n *normalizer) Read(p []byte) (int, error) {
	for len(n.out) == 0 {
		if n.done {
			return 0, n.err
		}
		n.fill()
	}
	c := copy(p, n.out)
	n.out = n.out[c:]
	return c, nil
}

// fill reads a chunk and normalises what of it is complete.
func (n *normalizer) fill() {
	if n.buf == nil {
		n.buf = make([]byte, chunk)
	}
	k, err := io.ReadFull(n.src, n.buf)
	eof := false
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		eof = true
	} else if err != nil {
		n.err, n.done = err, true
		return
	}
	raw := append(n.in, n.buf[:k]...)
	n.in = nil
	var text []byte
	switch n.enc {
	case encUTF16LE, encUTF16BE:
		text, n.in = decodeUTF16(raw, n.enc == encUTF16BE, eof)
	case encLatin1, encCP1252:
		text = latin1ToUTF8(raw, n.enc == encCP1252)
	default:
		text = raw
	}
	text = append(n.mid, text...)
	n.mid = nil
	if !eof {
		cut := safeCut(text)
		n.mid = append([]byte(nil), text[cut:]...)
		text = text[:cut]
	}
	n.out = sanitizeXML(text)
	if eof {
		n.err, n.done = io.EOF, true
	}
}

// safeCut is where text can be cut without splitting a character or a
// character reference that sanitizeXML must see whole.
func safeCut(b []byte) int {
	cut := len(b)
	// An incomplete UTF-8 sequence at the end.
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				cut = i
			}
			break
		}
	}
	// A character reference not yet closed: "&#x10FFFF;" is 10 bytes;
	// longer (leading zeros) ones are left to the XML decoder.
	if i := bytes.LastIndexByte(b[:cut], '&'); i >= 0 && cut-i < 16 && bytes.IndexByte(b[i:cut], ';') < 0 {
		cut = i
	}
	return cut
}

// decodeUTF16 decodes complete UTF-16 code units; rest is what must wait
// for more bytes (an odd byte, a high surrogate whose pair is not read).
func decodeUTF16(b []byte, bigEndian, eof bool) (text, rest []byte) {
	n := len(b) &^ 1
	if !eof && n >= 2 {
		last := unit(b[n-2:], bigEndian)
		if last >= 0xD800 && last < 0xDC00 {
			n -= 2
		}
	}
	text = utf16ToUTF8(b[:n], bigEndian)
	if !eof {
		rest = append([]byte(nil), b[n:]...)
	}
	return text, rest
}

func unit(b []byte, bigEndian bool) uint16 {
	if bigEndian {
		return uint16(b[0])<<8 | uint16(b[1])
	}
	return uint16(b[1])<<8 | uint16(b[0])
}

// streamXML reads a document and calls emit for every element capture
// accepts, with the element whole (its attributes, children and text)
// and its ancestors (their names and attributes only; ancestors[0] is
// the document node). capture is asked at each start tag outside a
// captured element, with the ancestors so far. Top-level text that is
// not white space and a document with no element are errors, as in
// parseXML. It returns the first top-level element's name.
func streamXML(r io.Reader, capture func(ancestors []*node, name string) bool, emit func(ancestors []*node, n *node) error) (root string, err error) {
	d := xml.NewDecoder(newNormalizer(r))
	d.Strict = true
	d.Entity = xml.HTMLEntity
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	stack := []*node{{}}
	var tree []*node // the captured element and its open descendants
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return root, xmlError(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack)+len(tree) > maxDepth {
				return root, fmt.Errorf("elements nested more than %d deep", maxDepth)
			}
			n := &node{name: t.Name.Local, attrs: t.Attr}
			if len(stack) == 1 && root == "" {
				root = n.name
			}
			switch {
			case len(tree) > 0:
				top := tree[len(tree)-1]
				top.children = append(top.children, n)
				tree = append(tree, n)
			case capture(stack, n.name):
				tree = append(tree, n)
			default:
				stack = append(stack, n)
			}
		case xml.EndElement:
			if len(tree) > 0 {
				if len(tree) == 1 {
					if err := emit(stack, tree[0]); err != nil {
						return root, err
					}
				}
				tree = tree[:len(tree)-1]
			} else if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			if len(tree) > 0 {
				top := tree[len(tree)-1]
				top.chunks = append(top.chunks, string(t))
			} else if len(stack) == 1 && len(bytes.TrimSpace(t)) > 0 {
				return root, errors.New("not an XML document: text outside any element")
			}
		}
	}
	if root == "" {
		return root, errors.New("no XML element found")
	}
	return root, nil
}
