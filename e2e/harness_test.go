// Package e2e starts the real buildbatch binary on a free loopback port and
// drives it with real clients: aws-sdk-go-v2, boto3 and the aws cli,
// asserting on what those clients see.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	model "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/executor/docker/dockertest"
	"github.com/buildbatch/buildbatch/internal/store/postgres/pgtest"
	"github.com/moby/moby/client"
)

var binary, staticBinary string

func TestMain(m *testing.M) {
	// A race-enabled program sleeps a second when it exits (GORACE's
	// atexit_sleep_ms, 1000 by default), so that its last reports get
	// out: every server stop and every CLI run here would take a second
	// more. The reports are written before that sleep anyway.
	if !strings.Contains(os.Getenv("GORACE"), "atexit_sleep_ms") {
		os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	}
	dir, err := os.MkdirTemp("", "buildbatch-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "buildbatch")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "../cmd/buildbatch")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building buildbatch:", err)
		os.Exit(1)
	}
	if e2eExecutor == "docker" {
		cli, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
		if err == nil {
			err = dockertest.Standard(context.Background(), cli)
			cli.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "BUILDBATCH_E2E_EXECUTOR=docker:", err)
			os.Exit(1)
		}
	}
	// A statically linked binary, for codebuild-tests-run in containers.
	staticBinary = filepath.Join(dir, "buildbatch-static")
	static := exec.Command("go", "build", "-o", staticBinary, "../cmd/buildbatch")
	static.Env = append(os.Environ(), "CGO_ENABLED=0")
	static.Stdout, static.Stderr = os.Stderr, os.Stderr
	if err := static.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building a static buildbatch:", err)
		os.Exit(1)
	}
	if err := startShared(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	stopShared()
	pgtest.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Server is one running buildbatch process.
type Server struct {
	t       *testing.T
	URL     string
	Addr    string
	DataDir string
	args    []string
	cmd     *exec.Cmd
	mu      sync.Mutex
	stderr  bytes.Buffer
	exited  chan struct{}
	docker  bool // runs builds on the docker executor
}

// Start runs `buildbatch serve` on a free loopback port with a fresh data
// directory; extra args are appended.
func Start(t *testing.T, args ...string) *Server {
	t.Helper()
	s := &Server{t: t, DataDir: filepath.Join(t.TempDir(), "data"), args: append(append(executorArgs(), sharedArgs(t)...), args...)}
	for _, a := range args {
		if a == "docker" {
			s.docker = true
		}
	}
	s.start("127.0.0.1:0")
	t.Cleanup(func() { s.Stop() })
	return s
}

func (s *Server) start(listen string) {
	s.t.Helper()
	args := append([]string{"serve", "--listen", listen, "--data-dir", s.DataDir}, s.args...)
	cmd := exec.Command(binary, args...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = &lockedWriter{mu: &s.mu, w: &s.stderr}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	go func() { cmd.Wait(); close(s.exited) }()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				s.t.Fatalf("buildbatch exited before listening: %s", s.Stderr())
			}
			if rest, ok := strings.CutPrefix(line, "buildbatch "); ok && strings.Contains(rest, "listening on http://") {
				s.URL = rest[strings.Index(rest, "http://"):]
				s.Addr = strings.TrimPrefix(s.URL, "http://")
				return
			}
		case <-deadline:
			s.t.Fatalf("buildbatch did not start: %s", s.Stderr())
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Stderr is what the server logged so far.
func (s *Server) Stderr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// Stop sends SIGTERM and waits; it fails the test unless the server exits 0.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		s.t.Errorf("buildbatch did not stop within 30s of SIGTERM")
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 && !s.killed() {
		s.t.Errorf("buildbatch exited %d: %s", code, s.Stderr())
	}
	s.cmd = nil
	s.checkNoContainers()
}

func (s *Server) killed() bool {
	ws, ok := s.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// Kill stops the server abruptly (SIGKILL), as a crash would.
func (s *Server) Kill() {
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Restart stops the server and starts it again on the same address and
// data directory.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start(s.Addr)
}

// RestartAfterKill kills the server and starts it again.
func (s *Server) RestartAfterKill() {
	s.t.Helper()
	s.Kill()
	s.start(s.Addr)
}

// Client returns an aws-sdk-go-v2 CodeBuild client whose every response is
// checked against the model's output shape.
func (s *Server) Client(t *testing.T, accessKey, region string) *codebuild.Client {
	return codebuild.New(codebuild.Options{
		Region:           region,
		BaseEndpoint:     aws.String(s.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(accessKey, "secret-"+accessKey, ""),
		HTTPClient:       &http.Client{Transport: &checkingTransport{t: t}},
		RetryMaxAttempts: 1,
	})
}

// ClientWithSecret is Client with an explicit secret (strict mode).
func (s *Server) ClientWithSecret(t *testing.T, accessKey, secret, region string) *codebuild.Client {
	c := s.Client(t, accessKey, region)
	return codebuild.New(c.Options(), func(o *codebuild.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(accessKey, secret, "")
	})
}

// checkingTransport validates every response body against the model.
type checkingTransport struct{ t *testing.T }

func (c *checkingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), model.TargetPrefix+".")
	checkResponse(c.t, op, resp.StatusCode, body)
	return resp, nil
}

// checkResponse asserts that a response body matches the model: a success
// body the operation's output shape, an error body the AWS error shape.
func checkResponse(t *testing.T, op string, status int, body []byte) {
	t.Helper()
	if status != http.StatusOK {
		var e map[string]any
		if err := json.Unmarshal(body, &e); err != nil || e["__type"] == nil || e["message"] == nil || len(e) != 2 {
			t.Errorf("%s: error body %s is not {__type, message}", op, body)
		}
		return
	}
	o, ok := model.LookupOperation(op)
	if !ok {
		t.Errorf("response to unknown operation %q", op)
		return
	}
	shape, _ := model.LookupShape(o.Output)
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Errorf("%s: response is not JSON: %v", op, err)
		return
	}
	if err := shape.ValidateOutput(v); err != nil {
		t.Errorf("%s: response does not match %s: %v\n%s", op, o.Output, err, body)
	}
	if path := findNull(v, ""); path != "" {
		t.Errorf("%s: response has a null at %s: %s", op, path, body)
	}
}

// findNull returns the path of the first JSON null in v, or "".
func findNull(v any, path string) string {
	switch x := v.(type) {
	case nil:
		return path + " "
	case map[string]any:
		for k, e := range x {
			if p := findNull(e, path+"."+k); p != "" {
				return p
			}
		}
	case []any:
		for i, e := range x {
			if p := findNull(e, fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	}
	return ""
}

// AWS runs the aws cli against the server and returns its stdout; on a
// non-zero exit it returns an error holding stderr.
func (s *Server) AWS(t *testing.T, accessKey string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "aws", append([]string{"--endpoint-url", s.URL, "--region", "us-east-1", "--output", "json"}, args...)...)
	cmd.Env = append(cleanEnv(), "AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY=secret", "AWS_PAGER=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("aws %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// Python runs a unittest module from ./python against the server.
func (s *Server) Python(t *testing.T, module string, env ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "python3", "-m", "unittest", "-v", module)
	cmd.Dir = "python"
	cmd.Env = append(cleanEnv(), append(append([]string{"BUILDBATCH_ENDPOINT=" + s.URL, "BUILDBATCH_DATA_DIR=" + s.DataDir}, s.pythonBlobEnv()...), env...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python %s failed: %v\n%s", module, err, out)
	}
	t.Logf("python %s:\n%s", module, out)
}

// cleanEnv is the environment without AWS settings that could leak in.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent", "AWS_EC2_METADATA_DISABLED=true")
}

var _ = runtime.GOOS
