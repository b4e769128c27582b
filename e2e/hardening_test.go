package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codebuild/types"
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

// TestLogAndArtifactLimits: a build printing past --max-log-bytes
// succeeds with a cut log that says so, and its BUILD phase tells why; an
// artifact past --max-artifact-bytes fails UPLOAD_ARTIFACTS with a context
// naming the limit. (In containers too: the limits are the runner's.)
func TestLogAndArtifactLimits(t *testing.T) {
	s := Start(t, "--max-log-bytes", "1MiB", "--max-artifact-bytes", "1MiB")
	c := s.Client(t, "test", "us-east-1")
	project(t, c, "loud", `version: 0.2
phases:
  build:
    commands:
      - yes 'a line of output that goes on and on' | head -c 5000000
      - echo still running
`)
	b := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("loud")}).Id))
	text := logText(t, s, aws.ToString(b.Id))
	if b.BuildStatus != types.StatusTypeSucceeded || len(text) > 1<<20+8192 || !strings.Contains(text, "Output dropped: the build's log reached its limit of 1048576 bytes (--max-log-bytes)") ||
		!strings.Contains(text, "Phase complete: BUILD State: SUCCEEDED") {
		t.Errorf("loud build %s, log of %d bytes ending:\n%s", b.BuildStatus, len(text), text[max(0, len(text)-2000):])
	}
	if bp := phase(b, types.BuildPhaseTypeBuild); len(bp.Contexts) != 1 || aws.ToString(bp.Contexts[0].StatusCode) != "LOG_LIMIT_EXCEEDED" {
		t.Errorf("BUILD contexts %+v", bp.Contexts)
	}

	project(t, c, "big", `version: 0.2
phases:
  build:
    commands:
      - head -c 3000000 /dev/urandom > big.bin
artifacts:
  files: [big.bin]
`, func(in *codebuild.CreateProjectInput) {
		in.Artifacts = &types.ProjectArtifacts{Type: types.ArtifactsTypeS3, Location: aws.String("limits"), Name: aws.String("out.zip"), Packaging: types.ArtifactPackagingZip}
	})
	b = waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("big")}).Id))
	up := phase(b, types.BuildPhaseTypeUploadArtifacts)
	if b.BuildStatus != types.StatusTypeFailed || up == nil || len(up.Contexts) == 0 || aws.ToString(up.Contexts[0].StatusCode) != "ARTIFACT_TOO_LARGE" ||
		!strings.Contains(aws.ToString(up.Contexts[0].Message), "1MiB (--max-artifact-bytes)") {
		t.Errorf("big build %s: %s %+v", b.BuildStatus, phaseTable(b), up)
	}
}

// TestBuildUser: serve --build-user runs local builds as that user: the
// build sees its own source and writes its artifacts, but cannot read the
// server's database. A data directory the user cannot reach is refused at
// start with a clear message.
func TestBuildUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the server switches builds to another user")
	}
	if e2eExecutor == "docker" {
		t.Skip("--build-user is the local executor's")
	}
	base := t.TempDir()
	os.Chmod(base, 0o755)
	os.Chmod(filepath.Dir(base), 0o755)
	data := filepath.Join(base, "data")
	s := Start(t, "--build-user", "nobody", "--data-dir", data)
	c := s.Client(t, "test", "us-east-1")
	project(t, c, "asnobody", `version: 0.2
phases:
  build:
    commands:
      - echo "user=$(id -un) home=$HOME"
      - mkdir out && id -un > out/who.txt
      - if cat `+data+`/buildbatch.db > /dev/null 2>&1; then echo "read the database"; exit 1; fi
artifacts:
  files: [out/who.txt]
`, func(in *codebuild.CreateProjectInput) {
		in.Artifacts = &types.ProjectArtifacts{Type: types.ArtifactsTypeS3, Location: aws.String("who"), Name: aws.String("a"), Packaging: types.ArtifactPackagingNone}
	})
	b := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("asnobody")}).Id))
	if text := logText(t, s, aws.ToString(b.Id)); b.BuildStatus != types.StatusTypeSucceeded || !strings.Contains(text, "user=nobody home=/nonexistent") {
		t.Errorf("build %s: %s\n%s", b.BuildStatus, phaseTable(b), text)
	}

	private := filepath.Join(base, "private")
	os.Mkdir(private, 0o700) // nobody cannot reach into it
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(sctx, binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(private, "data"), "--build-user", "nobody")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--build-user: user nobody cannot reach") {
		t.Errorf("serve with an unreachable data directory: %v: %s", err, out)
	}
}
