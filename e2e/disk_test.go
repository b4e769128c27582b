package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codebuild/types"
)

// TestFullDisk: a build that fills the data directory's disk (a small
// tmpfs) ends FAULT within a minute, with a context naming the cause;
// with the disk full the server restarts after a SIGKILL, serves reads,
// refuses writes and new builds with AWS-shaped errors (not
// InternalFailure), and works again once there is room.
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs as the data directory")
	}
	if e2eExecutor == "docker" || e2eShared {
		t.Skip("the build fills the data directory's disk through its workspace, which is there only with the local executor, SQLite and files")
	}
	mnt := filepath.Join(t.TempDir(), "disk")
	os.Mkdir(mnt, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s)", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount: %v: %s", err, out)
		}
	})
	s := Start(t, "--data-dir", filepath.Join(mnt, "data"), "--min-free-disk", "8MiB")
	c := s.Client(t, "test", "us-east-1")
	project(t, c, "filler", `version: 0.2
phases:
  build:
    commands:
      - dd if=/dev/zero of=fill bs=1M count=100 2>/dev/null || true
      - i=0; while [ $i -lt 600 ]; do echo "line $i after the disk filled"; i=$((i+1)); sleep 0.1; done
`)
	id := aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("filler")}).Id)
	var b types.Build
	for deadline := time.Now().Add(time.Minute); ; {
		if b = getBuild(t, c, id); b.BuildComplete || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var msg string
	for _, p := range b.Phases {
		if p.PhaseStatus == types.StatusTypeFault && len(p.Contexts) > 0 {
			msg = aws.ToString(p.Contexts[0].Message)
		}
	}
	if b.BuildStatus != types.StatusTypeFault || !strings.Contains(msg, "no space left on device") {
		t.Fatalf("the build that filled the disk: %s (%s), context %q", b.BuildStatus, phaseTable(b), msg)
	}

	// A build runs; the disk fills from outside: StopBuild still ends it,
	// writes are refused as unavailable, and the build's end is stored
	// once there is room.
	project(t, c, "sleeper", "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 300\n")
	sleeper := aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("sleeper")}).Id)
	waitPhase(t, c, sleeper, "BUILD")
	ballast := filepath.Join(mnt, "ballast")
	fill := func() {
		f, err := os.Create(ballast)
		if err != nil {
			t.Fatal(err)
		}
		chunk := make([]byte, 1<<20)
		for {
			if _, err := f.Write(chunk); err != nil {
				break
			}
		}
		f.Close()
	}
	fill()
	if _, err := c.StopBuild(ctx, &codebuild.StopBuildInput{Id: aws.String(sleeper)}, noRetries); err != nil {
		t.Errorf("StopBuild with the disk full: %v", err)
	}
	_, err := c.CreateProject(ctx, createInput("meanwhile"), noRetries)
	wantCode(t, err, "ServiceUnavailableException", "disk is full")
	os.Remove(ballast)
	if b := waitBuild(t, c, sleeper); b.BuildStatus != types.StatusTypeStopped {
		t.Errorf("the build stopped with the disk full ended %s (%s)", b.BuildStatus, phaseTable(b))
	}

	// Full again, and the server crashes.
	fill()
	s.RestartAfterKill()
	c = s.Client(t, "test", "us-east-1")
	if _, err := c.ListProjects(ctx, &codebuild.ListProjectsInput{}); err != nil {
		t.Errorf("ListProjects with the disk full: %v", err)
	}
	if got := getBuild(t, c, id); got.BuildStatus != types.StatusTypeFault {
		t.Errorf("the build reads back %s", got.BuildStatus)
	}
	_, err = c.CreateProject(ctx, createInput("later"), noRetries)
	wantCode(t, err, "ServiceUnavailableException", "disk is full")
	_, err = c.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("filler")}, noRetries)
	wantCode(t, err, "ServiceUnavailableException", "--min-free-disk")

	// Room again: writes and builds work.
	os.Remove(ballast)
	project(t, c, "later", "version: 0.2\nphases:\n  build:\n    commands:\n      - echo fine\n")
	if b := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("later")}).Id)); b.BuildStatus != types.StatusTypeSucceeded {
		t.Errorf("a build once there is room: %s (%s)", b.BuildStatus, phaseTable(b))
	}
}

// noRetries makes a client call fail at its first error (SDKs retry 503s).
func noRetries(o *codebuild.Options) { o.RetryMaxAttempts = 1 }
