package awsjson

import (
	"bytes"
	"io"
	"net"
	"strconv"
)

// SanitizeHeaders wraps a listener so that control characters (a NUL byte,
// say) in a request's header section reach the server as '?' instead of
// making net/http answer a bare "400 Bad Request" in plain text: the
// request then fails in the handler, as AWS's services fail it, with an
// AWS-shaped error (a malformed X-Amz-Target, an incomplete signature).
//
// It follows HTTP/1.1 requests with Content-Length bodies (what AWS's SDKs
// and clients send); on a connection that uses another framing
// (Transfer-Encoding) it stops rewriting and passes the bytes on as they
// are, and net/http answers as it would.
func SanitizeHeaders(ln net.Listener, maxHeader int) net.Listener {
	return &sanitizingListener{Listener: ln, max: maxHeader}
}

type sanitizingListener struct {
	net.Listener
	max int
}

func (l *sanitizingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &sanitizingConn{Conn: c, s: headerScanner{max: l.max}}, nil
}

type sanitizingConn struct {
	net.Conn
	s headerScanner
}

func (c *sanitizingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.s.scan(p[:n])
	return n, err
}

// ReadFrom writes what r holds to the connection by the connection's own
// ReadFrom when it has one (a TCP connection sends a file with
// sendfile(2), which net/http uses for a file's response body; only what
// is read from the connection is scanned).
func (c *sanitizingConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{c.Conn}, r)
}

// writerOnly hides a writer's ReadFrom (io.Copy would call it back).
type writerOnly struct{ io.Writer }

// headerScanner rewrites control characters in header sections, in place,
// as the bytes of a connection go by.
type headerScanner struct {
	max     int
	off     bool   // passing bytes on unchanged for good
	body    int64  // bytes of the current body still to come
	head    []byte // the header section so far (up to max bytes)
	newline int    // "\n" seen at the end of the header so far, ignoring "\r"
}

func (s *headerScanner) scan(p []byte) {
	for len(p) > 0 && !s.off {
		if s.body > 0 {
			n := int64(len(p))
			if n > s.body {
				n = s.body
			}
			s.body -= n
			p = p[n:]
			continue
		}
		c := p[0]
		switch {
		case c == '\n':
			s.newline++
		case c == '\r':
		default:
			s.newline = 0
			if (c < 0x20 && c != '\t') || c == 0x7f {
				p[0] = '?'
				c = '?'
			}
		}
		if len(s.head) < s.max {
			s.head = append(s.head, c)
		}
		p = p[1:]
		if s.newline == 2 {
			s.endHeader()
		}
	}
}

// endHeader reads the framing of the request whose header just ended.
func (s *headerScanner) endHeader() {
	head := s.head
	s.head, s.newline = s.head[:0], 0
	if len(bytes.TrimSpace(head)) == 0 {
		return // blank lines between requests
	}
	if len(head) >= s.max {
		s.off = true // net/http refuses it anyway
		return
	}
	for _, line := range bytes.Split(head, []byte("\n")) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		switch {
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			s.off = true
			return
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(bytes.TrimSpace(value)), 10, 64)
			if err != nil || n < 0 {
				s.off = true
				return
			}
			s.body = n
		}
	}
}
