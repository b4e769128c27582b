package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runIn runs `buildbatch run args...` in dir with a clean environment (and
// a private TMPDIR, checked empty afterwards: the embedded server's
// data directory is gone) and returns its stdout, stderr and exit code.
// The command always uses the local executor: it starts its own embedded
// server, independent of the suite's.
func runIn(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	tmp := t.TempDir()
	cmd := exec.Command(binary, append([]string{"run"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), "TMPDIR="+tmp)
	stdout, stderr, code := runCmd(t, cmd)
	checkEmpty(t, tmp)
	return stdout, stderr, code
}

// checkEmpty checks that buildbatch run removed its temporary directory.
func checkEmpty(t *testing.T, tmp string) {
	t.Helper()
	entries, _ := os.ReadDir(tmp)
	for _, e := range entries {
		t.Errorf("left in TMPDIR: %s", e.Name())
	}
}

// gitIn runs git in dir.
func gitIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.email=run@example.com", "-c", "user.name=run", "-c", "init.defaultBranch=main"}, args...)...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// noProcessWith waits until no process's command line holds marker.
func noProcessWith(t *testing.T, marker string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var found []string
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			data, _ := os.ReadFile(p)
			if bytes.Contains(data, []byte(marker)) {
				found = append(found, p+": "+strings.ReplaceAll(string(data), "\x00", " "))
			}
		}
		if len(found) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left behind:\n%s", strings.Join(found, "\n"))
		}
		time.Sleep(50 * time.Millisecond) // polling /proc: there is nothing to wait on
	}
}

func TestRun(t *testing.T) {
	t.Parallel()

	t.Run("working tree with uncommitted change", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"msg.txt": "committed\n"})
		gitIn(t, dir, "init", "-q")
		gitIn(t, dir, "add", ".")
		gitIn(t, dir, "commit", "-qm", "first")
		writeFiles(t, dir, map[string]string{
			"msg.txt": "uncommitted-change\n",
			"buildspec.yml": `version: 0.2
phases:
  build:
    commands:
      - cat msg.txt
      - test -d .git && echo has-git
      - mkdir -p out && tr a-z A-Z < msg.txt > out/upper.txt
artifacts:
  files:
    - out/upper.txt
`,
		})
		stdout, stderr, code := runIn(t, dir)
		if code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		inOrder(t, "stdout", stdout, "[build] BUILD", "\nuncommitted-change\n", "has-git", "[build] SUCCEEDED in ", "IDENTIFIER", "build", "SUCCEEDED", "artifacts")
		if strings.Contains(stdout, "\x1b[") {
			t.Errorf("ANSI escapes in plain output:\n%q", stdout)
		}
		if stderr != "" {
			t.Errorf("stderr: %s", stderr)
		}
		if got := readFile(t, filepath.Join(dir, "artifacts", "out", "upper.txt")); got != "UNCOMMITTED-CHANGE\n" {
			t.Errorf("artifact: %q", got)
		}
	})

	t.Run("batch build-graph", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"buildspec.yml": `version: 0.2
batch:
  build-graph:
    - identifier: a
    - identifier: b
      depend-on: [a]
phases:
  build:
    commands:
      - echo "line-from-$CODEBUILD_BATCH_BUILD_IDENTIFIER"
      - mkdir -p out && echo "made-by-$CODEBUILD_BATCH_BUILD_IDENTIFIER" > out/id.txt
artifacts:
  files:
    - out/id.txt
  discard-paths: yes
`})
		stdout, stderr, code := runIn(t, dir, "--batch")
		if code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		// Members are followed concurrently: their lines may interleave,
		// each member's in order.
		for _, id := range []string{"a", "b"} {
			inOrder(t, "stdout", stdout, "[batch] DOWNLOAD_BATCHSPEC", "["+id+"] BUILD", id+" | line-from-"+id, "["+id+"] SUCCEEDED in ", "[batch] SUCCEEDED in ", "IDENTIFIER")
		}
		var table []string
		for _, l := range strings.Split(stdout, "\n") {
			if f := strings.Fields(l); len(f) == 4 && (f[0] == "a" || f[0] == "b") {
				table = append(table, f[0]+" "+f[1]+" "+f[3])
			}
		}
		if want := []string{"a SUCCEEDED artifacts/a", "b SUCCEEDED artifacts/b"}; strings.Join(table, "\n") != strings.Join(want, "\n") {
			t.Errorf("closing table rows %q, want %q in:\n%s", table, want, stdout)
		}
		for _, id := range []string{"a", "b"} {
			if got := readFile(t, filepath.Join(dir, "artifacts", id, "id.txt")); got != "made-by-"+id+"\n" {
				t.Errorf("artifact of %s: %q", id, got)
			}
		}
	})

	t.Run("batch with a failing member", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"spec/batch.yml": `version: 0.2
batch:
  build-list:
    - identifier: good
    - identifier: bad
      env:
        variables:
          FAIL: "yes"
phases:
  build:
    commands:
      - echo "member-$CODEBUILD_BATCH_BUILD_IDENTIFIER"
      - test -z "$FAIL"
`})
		stdout, stderr, code := runIn(t, dir, "--batch", "-b", "spec/batch.yml")
		if code != 1 {
			t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		for _, want := range []string{"good | member-good", "bad | member-bad", "[bad] FAILED", "[batch] FAILED"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("no %q in:\n%s", want, stdout)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "artifacts")); !os.IsNotExist(err) {
			t.Errorf("an artifacts directory without an artifacts section: %v", err)
		}
	})

	t.Run("env flags and buildspec outside the source", func(t *testing.T) {
		t.Parallel()
		dir, specDir := t.TempDir(), t.TempDir()
		writeFiles(t, specDir, map[string]string{
			"bs.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo \"K=$K F=$F G=$G\"\n",
			"vars":   "# settings\nF=from-file\nG='quoted value'\nK=overridden\n",
		})
		stdout, stderr, code := runIn(t, dir, "-b", filepath.Join(specDir, "bs.yml"), "--env-file", filepath.Join(specDir, "vars"), "--env", "K=from-flag")
		if code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		if !strings.Contains(stdout, "\nK=from-flag F=from-file G=quoted value\n") {
			t.Errorf("variables did not reach the build:\n%s", stdout)
		}
	})

	t.Run("git source and secondary source", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		repo, lib := filepath.Join(dir, "repo"), filepath.Join(dir, "lib")
		writeFiles(t, repo, map[string]string{
			"msg.txt":       "committed\n",
			"buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - cat msg.txt\n      - cat \"$CODEBUILD_SRC_DIR_lib/l.txt\"\n",
		})
		gitIn(t, repo, "init", "-q")
		gitIn(t, repo, "add", ".")
		gitIn(t, repo, "commit", "-qm", "first")
		writeFiles(t, repo, map[string]string{"msg.txt": "not-committed\n"})
		writeFiles(t, lib, map[string]string{"l.txt": "from-lib\n"})
		stdout, stderr, code := runIn(t, dir, "--source", "repo", "--secondary-source", "lib=lib")
		if code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		// --source clones the repository: its commits, not its working tree.
		inOrder(t, "stdout", stdout, "\ncommitted\n", "\nfrom-lib\n", "[build] SUCCEEDED")
	})

	t.Run("usage errors", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		for _, args := range [][]string{
			{},                      // no buildspec.yml here
			{"--env", "NOEQUALS"},   // bad --env
			{"--executor", "magic"}, // bad executor
			{"extra"},               // stray argument
		} {
			_, stderr, code := runIn(t, dir, args...)
			if code != 2 || !strings.Contains(stderr, "buildbatch run") && !strings.Contains(stderr, "Usage") {
				t.Errorf("run %v: exit %d, stderr %q; want 2 and a message", args, code, stderr)
			}
		}
	})

	t.Run("interrupt stops the build", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		marker := "313.25" // in the build's command line, to find its processes
		writeFiles(t, dir, map[string]string{"buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo started-now\n      - sleep " + marker + "\n"})
		tmp := t.TempDir()
		cmd := exec.Command(binary, "run")
		cmd.Dir = dir
		cmd.Env = append(cleanEnv(), "TMPDIR="+tmp)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		started := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if sc.Text() == "started-now" {
					close(started)
					break
				}
			}
			io.Copy(io.Discard, out)
		}()
		select {
		case <-started:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the build did not start: %s", stderr.String())
		}
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("buildbatch run did not stop on SIGINT: %s", stderr.String())
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 130 {
			t.Errorf("exit %v, want 130; stderr %s", err, stderr.String())
		}
		noProcessWith(t, "sleep "+marker)
		checkEmpty(t, tmp)
	})
}
