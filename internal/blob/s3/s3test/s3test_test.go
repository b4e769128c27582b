package s3test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

var ctx = context.Background()

func need(t *testing.T) {
	t.Helper()
	if _, err := Binary(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// roundTrip puts and gets an object in the server's bucket.
func roundTrip(t *testing.T, s *Server) {
	t.Helper()
	cl := s.Client()
	if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String("a/b"), Body: strings.NewReader("hello")}); err != nil {
		t.Fatal(err)
	}
	out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String("a/b")})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	if b, err := io.ReadAll(out.Body); err != nil || string(b) != "hello" {
		t.Fatalf("read back %q, %v", b, err)
	}
}

// gone waits a little for the process and the directory to go away.
func gone(t *testing.T, s *Server, pid int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, errProc := os.Stat("/proc/" + strconv.Itoa(pid))
		_, errDir := os.Stat(s.Dir)
		if os.IsNotExist(errProc) && os.IsNotExist(errDir) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw %d (%v) or directory %s (%v) left behind", pid, errProc, s.Dir, errDir)
		}
	}
}

func TestStartStop(t *testing.T) {
	need(t)
	var s *Server
	t.Run("server", func(t *testing.T) {
		s = Start(t)
		roundTrip(t, s)
		if a, b := s.URL(), s.URL(); a == b || !strings.HasPrefix(a, "s3://"+Bucket+"/") || !strings.Contains(a, "endpoint="+s.Endpoint) {
			t.Errorf("URLs %q, %q", a, b)
		}
	})
	// Stopped at the end of its test.
	gone(t, s, s.watchdog.Process.Pid)
	if s.cmd != nil {
		t.Error("server not killed")
	}
}

// A server is killed and its directory removed when the process that
// started it ends without Stop: its watchdog sees its standard input close.
func TestWatchdog(t *testing.T) {
	need(t)
	s, err := StartServer()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	roundTrip(t, s)
	pid := s.cmd.Process.Pid
	s.pipe.Close() // as the kernel does when the process ends
	s.watchdog.Wait()
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("versitygw still running")
	}
	s.cmd = nil
	gone(t, s, pid)
}

// On a filesystem without extended attributes, metadata goes to a sidecar
// directory.
func TestSidecar(t *testing.T) {
	need(t)
	forceSidecar = true
	defer func() { forceSidecar = false }()
	s := Start(t)
	roundTrip(t, s)
	var files int
	filepath.WalkDir(filepath.Join(s.Dir, "meta"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files++
		}
		return nil
	})
	if files == 0 {
		t.Error("nothing in the sidecar directory")
	}
}

func TestBinary(t *testing.T) {
	t.Setenv(EnvBinary, "/nonexistent/versitygw")
	if _, err := Binary(); err == nil || !strings.Contains(err.Error(), EnvBinary) {
		t.Errorf("Binary() with a missing %s: %v", EnvBinary, err)
	}
	t.Setenv(EnvBinary, "")
	t.Setenv("PATH", "")
	t.Setenv("HOME", t.TempDir())
	if p, err := Binary(); err == nil && p != "/tmp/vgw/bin/versitygw" {
		t.Errorf("Binary() = %q", p)
	} else if err != nil && !errors.Is(err, err) {
		t.Error(err)
	}
}
