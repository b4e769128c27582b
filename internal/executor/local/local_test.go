package local

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/buildbatch/buildbatch/internal/executor"
	"github.com/buildbatch/buildbatch/internal/executor/executortest"
)

func open(t *testing.T, shell string) (executor.Env, *executortest.Buffer, string) {
	t.Helper()
	dir := t.TempDir()
	out := &executortest.Buffer{}
	id := "test:" + filepath.Base(dir)
	x := &Executor{KillGrace: 200 * time.Millisecond, Base: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}}
	layout := x.Layout(id, dir, nil)
	env, err := x.Open(context.Background(), executor.Spec{BuildID: id, Layout: layout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	if err := env.Start(context.Background(), executor.Shell{Shell: shell, Output: out, Env: []string{"CODEBUILD_BUILD_ID=" + id}}); err != nil {
		t.Fatal(err)
	}
	return env, out, layout.Src
}

func run(t *testing.T, env executor.Env, cmd string) int {
	t.Helper()
	rc, err := env.Exec(context.Background(), cmd, "")
	if err != nil {
		t.Fatalf("Exec(%q): %v", cmd, err)
	}
	return rc
}

func TestSessionState(t *testing.T) {
	for _, shell := range []string{"sh", "bash"} {
		t.Run(shell, func(t *testing.T) {
			env, out, work := open(t, shell)
			steps := []struct {
				cmd string
				rc  int
			}{
				{"mkdir sub && cd sub", 0},
				{"export EXPORTED=one; PLAIN=two", 0},
				{`echo "pwd=$(basename $(pwd)) exported=$EXPORTED plain=$PLAIN"`, 0},
				{"false", 1},
				{"(exit 7)", 7},
				{"printf 'no newline'", 0},
				{"echo to-stderr >&2", 0},
				{"exit 3", 3},
				{`echo "after exit: pwd=$(basename $(pwd)) exported=$EXPORTED"`, 0},
				{"set -e; false; echo not reached", 1},
				{"echo alive", 0},
				{"read x; echo read=$?", 0},
			}
			for _, s := range steps {
				if rc := run(t, env, s.cmd); rc != s.rc {
					t.Errorf("Exec(%q) = %d, want %d", s.cmd, rc, s.rc)
				}
			}
			want := "pwd=sub exported=one plain=two\nno newline\nto-stderr\nafter exit: pwd=sub exported=one\nalive\nread=1\n"
			if got := out.String(); got != want {
				t.Errorf("output:\n%q\nwant\n%q", got, want)
			}
			if _, err := os.Stat(filepath.Join(work, "sub")); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestVars(t *testing.T) {
	env, out, _ := open(t, "sh")
	run(t, env, "export A='x y'; B=\"multi\nline\"; C=")
	vars, err := env.Vars(context.Background(), []string{"A", "B", "C", "UNSET"})
	if err != nil {
		t.Fatal(err)
	}
	if vars["A"] != "x y" || vars["B"] != "multi\nline" || vars["C"] != "" || len(vars) != 3 {
		t.Errorf("Vars = %q", vars)
	}
	if out.String() != "" {
		t.Errorf("Vars printed %q", out.String())
	}
}

func TestCancelKillsProcessGroup(t *testing.T) {
	env, _, work := open(t, "sh")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	rc, err := env.Exec(ctx, "sh -c 'echo $$ > "+work+"/child.pid; sleep 600' & sleep 600", "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Exec = %d, %v; want DeadlineExceeded", rc, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancel took %v", d)
	}
	pid, _ := os.ReadFile(filepath.Join(work, "child.pid"))
	time.Sleep(100 * time.Millisecond)
	if p := strings.TrimSpace(string(pid)); p != "" && processAlive(p) {
		t.Errorf("background child %s survived the cancel", p)
	}
	// The session goes on with a new shell.
	if rc := run(t, env, "true"); rc != 0 {
		t.Errorf("after cancel, true = %d", rc)
	}
}

func processAlive(pid string) bool {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	// A zombie (state Z) is dead.
	fields := strings.Fields(string(data))
	return len(fields) > 2 && fields[2] != "Z"
}

func TestCloseKillsBackgroundProcesses(t *testing.T) {
	env, _, work := open(t, "sh")
	run(t, env, "sleep 600 & echo $! > "+work+"/bg.pid")
	pid, _ := os.ReadFile(filepath.Join(work, "bg.pid"))
	if err := env.Close(); err != nil {
		t.Fatal(err)
	}
	if err := env.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if processAlive(strings.TrimSpace(string(pid))) {
		t.Errorf("background process survived Close")
	}
	if _, err := env.Exec(context.Background(), "true", ""); err == nil {
		t.Error("Exec after Close succeeded")
	}
}

// TestCloseKillsEscapedProcesses: a process that left the shell's process
// group (setsid, as daemons do) dies with the build too.
func TestCloseKillsEscapedProcesses(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("no setsid")
	}
	env, _, work := open(t, "sh")
	run(t, env, "setsid sh -c 'echo $$ > "+work+"/daemon.pid; exec sleep 600' > /dev/null 2>&1 < /dev/null &")
	var pid string
	for deadline := time.Now().Add(5 * time.Second); pid == "" && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(work, "daemon.pid"))
		pid = strings.TrimSpace(string(b))
	}
	if pid == "" || !processAlive(pid) {
		t.Fatalf("the daemon did not start (%q)", pid)
	}
	if err := env.Close(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); processAlive(pid); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a process outside the build's process group survived Close")
		}
	}
}

func TestReap(t *testing.T) {
	id := "reap-test:" + filepath.Base(t.TempDir())
	cmd := exec.Command("sleep", "600")
	cmd.Env = []string{"CODEBUILD_BUILD_ID=" + id}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if err := (&Executor{}).Reap(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatal("Reap did not kill the leftover process")
	}
}

func TestLargeOutputAndLongLines(t *testing.T) {
	env, out, _ := open(t, "sh")
	run(t, env, "head -c 200000 /dev/zero | tr '\\0' 'x'; echo; seq 1 20000")
	s := out.String()
	if !strings.HasPrefix(s, strings.Repeat("x", 200000)+"\n1\n2\n") || !strings.HasSuffix(s, "\n20000\n") {
		t.Errorf("output of %d bytes is mangled: %q...%q", len(s), s[:20], s[len(s)-20:])
	}
}

// The buildspec's run-as runs the whole session as that user (the server
// must be root, as the tests are in CI).
func TestSessionUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run as another user")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755) // the user must reach the build's directory
	out := &executortest.Buffer{}
	x := &Executor{KillGrace: 200 * time.Millisecond, Base: []string{"PATH=" + os.Getenv("PATH")}}
	id := "test:user-" + filepath.Base(dir)
	layout := x.Layout(id, dir, nil)
	env, err := x.Open(context.Background(), executor.Spec{BuildID: id, Layout: layout})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	os.Chmod(layout.Src, 0o777)
	if err := env.Start(context.Background(), executor.Shell{User: "nobody", Output: out, Env: []string{"CODEBUILD_BUILD_ID=" + id}}); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"export B=2; cd /tmp", `echo "uid=$(id -u) B=$B pwd=$(pwd)"`} {
		if rc, err := env.Exec(context.Background(), cmd, ""); rc != 0 || err != nil {
			t.Fatalf("%q: %d %v: %s", cmd, rc, err, out.String())
		}
	}
	if !strings.Contains(out.String(), "uid=65534 B=2 pwd=/tmp") {
		t.Errorf("%s", out.String())
	}
}

// TestBuildUser: with User set (serve --build-user), a build whose
// buildspec names no run-as runs as that user, owns its directories (the
// fetched source included) and gets the user's HOME, and cannot write
// what belongs to the server's user.
func TestBuildUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run builds as another user")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	private := filepath.Join(dir, "server-only")
	os.Mkdir(private, 0o755)
	out := &executortest.Buffer{}
	x := &Executor{KillGrace: 200 * time.Millisecond, Base: []string{"PATH=" + os.Getenv("PATH"), "HOME=/root"}, User: "nobody"}
	id := "test:builduser-" + filepath.Base(dir)
	layout := x.Layout(id, filepath.Join(dir, "build"), nil)
	env, err := x.Open(context.Background(), executor.Spec{BuildID: id, Layout: layout})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	if err := os.WriteFile(filepath.Join(layout.Src, "fetched.txt"), []byte("source\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := env.Start(context.Background(), executor.Shell{Output: out, Env: []string{"CODEBUILD_BUILD_ID=" + id}}); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{`echo "user=$(id -un) home=$HOME"`, "echo more >> fetched.txt && mkdir out && touch out/artifact"} {
		if rc := run(t, env, cmd); rc != 0 {
			t.Fatalf("%q: exit %d: %s", cmd, rc, out.String())
		}
	}
	if rc := run(t, env, "touch "+private+"/x"); rc == 0 {
		t.Errorf("the build user wrote into the server's directory")
	}
	if !strings.Contains(out.String(), "user=nobody home=/nonexistent") {
		t.Errorf("output: %s", out.String())
	}
	if data, _ := os.ReadFile(filepath.Join(layout.Src, "fetched.txt")); string(data) != "source\nmore\n" {
		t.Errorf("fetched.txt = %q", data)
	}
}
