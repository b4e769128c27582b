// Package s3test gives tests a throwaway S3 server: versitygw on its posix
// backend, in a temporary directory, listening on a free port of
// 127.0.0.1, with one bucket (Bucket) made for the tests.
//
// Start starts a server of the test's own, stopped (its process group
// killed, its directory removed) when the test ends. If the test binary
// ends without that (a panic, a -timeout, a signal), a small watchdog
// process, which waits for the binary's end, kills the server and removes
// the directory instead.
//
// The versitygw binary is $BUILDBATCH_VERSITYGW, else versitygw on PATH,
// else ~/.cache/buildbatch/bin/versitygw (where .ci/run installs it), else
// /tmp/vgw/bin/versitygw. Install it with
//
//	GOBIN=$HOME/.cache/buildbatch/bin go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
//
// Without it Start skips the test, except under CI=true, where it fails it.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/buildbatch/buildbatch/internal/testproc"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// EnvBinary names the environment variable of the versitygw binary.
const EnvBinary = "BUILDBATCH_VERSITYGW"

// Bucket is the bucket Start makes.
const Bucket = "buildbatch-test"

// Region is the region of the server.
const Region = "us-east-1"

// EnvInstalling names the environment variable holding the pid of a
// `go install` of versitygw still running (CI starts it in the background):
// Binary waits for it to end before looking at EnvBinary.
const EnvInstalling = "BUILDBATCH_VERSITYGW_INSTALLING"

// waitInstall waits, up to 15 minutes, while the install named by
// EnvInstalling runs.
func waitInstall() {
	pid, err := strconv.Atoi(os.Getenv(EnvInstalling))
	if err != nil || pid <= 0 {
		return
	}
	for deadline := time.Now().Add(15 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		if syscall.Kill(pid, 0) != nil {
			return
		}
	}
}

// Binary returns the versitygw binary to run (see the package comment).
func Binary() (string, error) {
	waitInstall()
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvBinary, p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	var candidates []string
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, ".cache", "buildbatch", "bin", "versitygw"))
	}
	candidates = append(candidates, "/tmp/vgw/bin/versitygw")
	for _, p := range candidates {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("versitygw not found (set %s, put it on PATH, or: GOBIN=$HOME/.cache/buildbatch/bin go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)", EnvBinary)
}

// Server is a running versitygw.
type Server struct {
	// Endpoint is its URL: http://127.0.0.1:PORT.
	Endpoint string
	// Bucket is the bucket made for the tests.
	Bucket string
	// AccessKey and SecretKey are the root user's credentials.
	AccessKey, SecretKey string
	// Dir holds data/ (the posix backend's root), meta/ (its sidecar
	// metadata, where the filesystem has no extended attributes) and log.
	Dir string

	cmd      *exec.Cmd
	exited   chan struct{} // closed when cmd has been waited for
	watchdog *exec.Cmd
	pipe     io.WriteCloser
	stopOnce sync.Once
	prefixes atomic.Int64
}

// Start starts a server of the test's own, stopped when the test ends;
// without versitygw it skips the test (fails it under CI=true).
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := Binary(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("s3test: %v", err)
		}
		t.Skipf("s3test: %v", err)
	}
	s, err := StartServer()
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StartServer starts a server; Stop stops it.
func StartServer() (s *Server, err error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	s = &Server{Bucket: Bucket, AccessKey: "bbtest" + randomHex(6), SecretKey: randomHex(20)}
	if s.Dir, err = os.MkdirTemp("", "bbs3"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	// The watchdog first: from now on the directory, and the server once
	// started, go away with this process however it ends.
	if err := s.startWatchdog(); err != nil {
		return nil, err
	}
	data := filepath.Join(s.Dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		return nil, err
	}
	backend := []string{"posix"}
	if forceSidecar || !hasXattrs(s.Dir) {
		// The posix backend keeps metadata (ETags, content types) in
		// extended attributes; without them, in files beside.
		meta := filepath.Join(s.Dir, "meta")
		if err := os.Mkdir(meta, 0o755); err != nil {
			return nil, err
		}
		backend = append(backend, "--sidecar", meta)
	}
	backend = append(backend, data)
	logFile := filepath.Join(s.Dir, "log")
	for try := 1; ; try++ {
		port, err := testproc.FreePort()
		if err != nil {
			return nil, err
		}
		s.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
		err = s.start(bin, logFile, append([]string{"--port", fmt.Sprintf("127.0.0.1:%d", port), "--region", Region, "--quiet"}, backend...))
		if err == nil {
			break
		}
		log, _ := os.ReadFile(logFile)
		if try == 3 || !strings.Contains(string(log), "address already in use") {
			return nil, fmt.Errorf("versitygw: %v\n%s", err, log)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.Bucket)}); err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", s.Bucket, err)
	}
	return s, nil
}

// start starts versitygw and waits until it answers.
func (s *Server) start(bin, logFile string, args []string) error {
	log, err := os.Create(logFile)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(bin, args...)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = log, log
	// The root credentials through the environment, not the command line
	// (which ps shows).
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // killed as a group
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	fmt.Fprintf(s.pipe, "%d\n", cmd.Process.Pid)
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case <-exited:
			s.cmd = nil
			return fmt.Errorf("exited: %v", cmd.ProcessState)
		case <-time.After(20 * time.Millisecond):
		}
		// Any answer, even 403 (unsigned), says it is serving.
		if resp, err := client.Get(s.Endpoint); err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return errors.New("not answering after 30s")
		}
	}
}

// kill kills the server's process group and waits for it.
func (s *Server) kill() {
	if s.cmd == nil {
		return
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
}

// Stop kills the server and removes its directory.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.kill()
		os.RemoveAll(s.Dir)
		if s.pipe != nil {
			fmt.Fprintln(s.pipe, "stopped") // the watchdog has nothing left to do
			s.pipe.Close()
			s.watchdog.Wait()
		}
	})
}

// URL returns a store URL (package s3) of a prefix of the bucket that no
// other call returned, so every store it makes starts empty.
func (s *Server) URL() string {
	return fmt.Sprintf("s3://%s/test-%d?endpoint=%s&region=%s", s.Bucket, s.prefixes.Add(1), s.Endpoint, Region)
}

// Credentials returns the root user's credentials.
func (s *Server) Credentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, "")
}

// Client returns an S3 client of the server, to look behind a store's back.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  s.Credentials(),
		// As package s3 does: versitygw wants no checksums it did not ask for.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// watchdogScript waits for the pid of the server on its standard input,
// then for the line "stopped", which Stop writes once it has done the
// work; if its input closes first (the test binary ended), it kills the
// server's process group and removes the directory. It ignores the
// signals a terminal sends to the test's process group.
const watchdogScript = `trap '' INT TERM HUP QUIT
pid=
while read -r line; do
	case $line in
	stopped) exit 0 ;;
	*) pid=$line ;;
	esac
done
if [ -n "$pid" ]; then kill -9 "-$pid" 2>/dev/null; fi
rm -rf "$1"`

func (s *Server) startWatchdog() error {
	cmd, pipe, err := testproc.Watchdog(watchdogScript, "s3test-watchdog", s.Dir)
	if err != nil {
		return err
	}
	s.watchdog, s.pipe = cmd, pipe
	return nil
}

// forceSidecar makes StartServer use --sidecar (for tests).
var forceSidecar bool

// hasXattrs reports whether the filesystem of dir keeps user extended
// attributes.
func hasXattrs(dir string) bool {
	f, err := os.CreateTemp(dir, "xattr")
	if err != nil {
		return false
	}
	f.Close()
	defer os.Remove(f.Name())
	return syscall.Setxattr(f.Name(), "user.buildbatch", []byte("1"), 0) == nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
