package awsjson

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/sigv4"
)

func TestHeaderScanner(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"clean", "POST / HTTP/1.1\r\nX-Amz-Target: A.B\r\n\r\n", "POST / HTTP/1.1\r\nX-Amz-Target: A.B\r\n\r\n"},
		{"NUL in a value", "POST / HTTP/1.1\r\nX-Amz-Target: A.\x00B\r\n\r\n", "POST / HTTP/1.1\r\nX-Amz-Target: A.?B\r\n\r\n"},
		{"tab kept, DEL rewritten", "POST / HTTP/1.1\r\nX: a\tb\x7f\r\n\r\n", "POST / HTTP/1.1\r\nX: a\tb?\r\n\r\n"},
		{"body untouched", "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n\x00\x01\x02", "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n\x00\x01\x02"},
		{"next request after the body", "POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\n\x00POST / HTTP/1.1\r\nX: \x01\r\n\r\n",
			"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\n\x00POST / HTTP/1.1\r\nX: ?\r\n\r\n"},
		{"bare newlines", "POST / HTTP/1.1\nX: \x00\n\nbody", "POST / HTTP/1.1\nX: ?\n\nbody"},
		{"chunked: passed on as it is", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n\x00\r\n0\r\n\r\nPOST / HTTP/1.1\r\nX: \x00\r\n\r\n",
			"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n\x00\r\n0\r\n\r\nPOST / HTTP/1.1\r\nX: \x00\r\n\r\n"},
		{"bad length: passed on", "POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n\x00", "POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Byte by byte and all at once give the same.
			for _, step := range []int{1, 7, len(tt.in)} {
				s := headerScanner{max: 1 << 16}
				b := []byte(tt.in)
				for i := 0; i < len(b); i += step {
					s.scan(b[i:min(i+step, len(b))])
				}
				if string(b) != tt.want {
					t.Errorf("step %d: %q, want %q", step, b, tt.want)
				}
			}
		})
	}
}

// TestControlCharacterInTarget: a NUL byte in X-Amz-Target, sent on a raw
// connection (clients refuse to send one), gets an AWS-shaped error, and
// the connection goes on serving.
func TestControlCharacterInTarget(t *testing.T) {
	s := NewServer(cb.TargetPrefix, &sigv4.Verifier{Service: "codebuild", DefaultAccount: "000000000000"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	Handle(s, "DeleteProject", func(ctx context.Context, in *cb.DeleteProjectInput) (*cb.DeleteProjectOutput, error) { return nil, nil })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s}
	go srv.Serve(SanitizeHeaders(ln, 1<<16))
	t.Cleanup(func() { srv.Close() })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	for _, target := range []string{"CodeBuild_20161006.Delete\x00Project", "CodeBuild_20161006.DeleteProject"} {
		body := `{"name":"x"}`
		req := "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: " + ContentType + "\r\nX-Amz-Target: " + target + "\r\nAuthorization: " + auth +
			"\r\nX-Amz-Date: 20261127T010649Z\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct {
			Type string `json:"__type"`
		}
		json.Unmarshal(data, &e)
		if strings.Contains(target, "\x00") {
			if resp.StatusCode != 400 || e.Type != UnknownOperation || resp.Header.Get("Content-Type") != ContentType {
				t.Errorf("NUL target: %d %s", resp.StatusCode, data)
			}
		} else if resp.StatusCode != 200 {
			t.Errorf("then: %d %s", resp.StatusCode, data)
		}
	}
}

// FuzzHeaderScanner: however a connection's bytes are cut into reads, the
// scanner rewrites them the same, never changes their length, and leaves
// no control character but tab and CR in a first line.
func FuzzHeaderScanner(f *testing.F) {
	f.Add([]byte("POST / HTTP/1.1\r\nX-Amz-Target: A.\x00B\r\nContent-Length: 2\r\n\r\n\x00\x01POST / HTTP/1.1\r\n\r\n"), uint8(3))
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n\x00\r\n0\r\n\r\n"), uint8(1))
	f.Add([]byte("\r\n\r\nGET / HTTP/1.1\nHost: \x7f\n\n"), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		whole := append([]byte(nil), data...)
		s := headerScanner{max: 1 << 10}
		s.scan(whole)
		cut := append([]byte(nil), data...)
		s2 := headerScanner{max: 1 << 10}
		n := int(step%16) + 1
		for i := 0; i < len(cut); i += n {
			s2.scan(cut[i:min(i+n, len(cut))])
		}
		if !bytes.Equal(whole, cut) || len(whole) != len(data) {
			t.Fatalf("read whole %q, in pieces of %d %q", whole, n, cut)
		}
		// Without a line end, all of it is the first request's header.
		if bytes.IndexByte(whole, '\n') < 0 {
			for _, c := range whole {
				if c < 0x20 && c != '\t' && c != '\r' && c != '\n' || c == 0x7f {
					t.Fatalf("control character %#x left in a header section: %q", c, whole)
				}
			}
		}
	})
}

// TestSanitizedConnSendsFiles: a response body copied from a file reaches
// the client whole through the wrapped connection, by the TCP
// connection's ReadFrom (sendfile) — the wrapper keeps it.
func TestSanitizedConnSendsFiles(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sl := SanitizeHeaders(ln, 1<<20)
	path := filepath.Join(t.TempDir(), "body")
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		c, err := sl.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		rf, ok := c.(io.ReaderFrom)
		if !ok {
			done <- errors.New("the sanitized connection has no ReadFrom")
			return
		}
		f, err := os.Open(path)
		if err != nil {
			done <- err
			return
		}
		defer f.Close()
		_, err = rf.ReadFrom(f)
		done <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d", len(got), len(want))
	}
	// Without a ReadFrom underneath (a pipe), the bytes are copied.
	a, b := net.Pipe()
	sc := &sanitizingConn{Conn: a}
	go func() { sc.ReadFrom(bytes.NewReader(want[:1000])); a.Close() }()
	if got, _ := io.ReadAll(b); !bytes.Equal(got, want[:1000]) {
		t.Errorf("through a pipe: %d bytes", len(got))
	}
}
