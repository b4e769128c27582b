package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawRequest is an HTTP request written by hand, for what clients refuse
// to send.
func rawRequest(target, body string, extra ...string) string {
	return "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: " + target +
		"\r\nX-Amz-Date: 20261127T010649Z\r\nAuthorization: AWS4-HMAC-SHA256 Credential=test/20261127/us-east-1/codebuild/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=" +
		strings.Repeat("0", 64) + "\r\n" + strings.Join(extra, "") + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// TestSlowClientsCutOff: connections that trickle their request body (one
// byte a second) are closed once --read-timeout has passed, all of them,
// while the server goes on answering others.
func TestSlowClientsCutOff(t *testing.T) {
	s := Start(t, "--read-timeout", "2s")
	const conns = 50
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", s.Addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(60 * time.Second))
			req := rawRequest("CodeBuild_20161006.ListProjects", strings.Repeat(" ", 1000))
			head := req[:len(req)-1000]
			if _, err := io.WriteString(c, head); err != nil {
				errs <- err
				return
			}
			// Trickle the body until the server gives up on us.
			closed := make(chan struct{})
			go func() {
				io.Copy(io.Discard, c) // the server's answer, then EOF
				close(closed)
			}()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-closed:
					return
				case <-tick.C:
					if _, err := c.Write([]byte(" ")); err != nil {
						<-closed
						return
					}
				}
			}
		}()
	}
	// Others are served meanwhile.
	c := s.Client(t, "test", "us-east-1")
	if _, err := c.ListProjects(ctx, nil); err != nil {
		t.Errorf("ListProjects beside the slow clients: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// 2s of read timeout; 60s would be the test's own deadline.
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("slow connections closed after %s", took)
	}
}

// TestMalformedRequests: what clients refuse to send, sent by hand, gets
// AWS-shaped errors, never kilobytes of echoed input.
func TestMalformedRequests(t *testing.T) {
	s := Start(t, "--max-header-bytes", "8192")
	tests := []struct {
		name     string
		req      string
		status   int
		wantType string
	}{
		{"NUL in X-Amz-Target", rawRequest("CodeBuild_20161006.List\x00Projects", "{}"), 400, "UnknownOperationException"},
		{"control character in X-Amz-Target", rawRequest("CodeBuild_20161006.\x01", "{}"), 400, "UnknownOperationException"},
		{"kilobytes of X-Amz-Target", rawRequest("CodeBuild_20161006."+strings.Repeat("A", 4000), "{}"), 400, "UnknownOperationException"},
		{"kilobytes of a project name", rawRequest("CodeBuild_20161006.StartBuild", `{"projectName":"`+strings.Repeat("n", 200000)+`"}`), 400, "ResourceNotFoundException"},
		{"header section too large", rawRequest("CodeBuild_20161006.ListProjects", "{}", "X-Padding: "+strings.Repeat("p", 20000)+"\r\n"), 431, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", s.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := io.WriteString(c, tt.req); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Log("write:", err) // the server may answer and close before reading it all
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, tt.status, body)
			}
			if len(body) > 1500 {
				t.Errorf("a %d-byte answer: %.300s…", len(body), body)
			}
			if tt.wantType == "" {
				return
			}
			var e struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Type != tt.wantType || e.Message == "" || resp.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
				t.Errorf("answer %s %s, want an AWS-shaped %s", resp.Header.Get("Content-Type"), body, tt.wantType)
			}
		})
	}
}
