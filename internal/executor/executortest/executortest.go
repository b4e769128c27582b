// Package executortest is the conformance suite every executor passes: the
// same scenarios (layout and copies, state across commands and phases,
// failing commands, stop, timeout, output order, large output, masked
// secrets, a clean environment) run against each implementation.
package executortest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/buildbatch/buildbatch/internal/executor"
)

// Setup describes the executor under test.
type Setup struct {
	Executor executor.Executor
	// Image is the image builds name (for executors that run images).
	Image string
	// Leftovers reports what the build left behind after Close (processes,
	// containers): it must be nothing.
	Leftovers func(t *testing.T, buildID string) []string
}

// Buffer is a goroutine-safe output buffer.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Canary is set in the test process's environment; no build may see it.
const Canary = "BUILDBATCH_CANARY_SECRET"

type build struct {
	t      *testing.T
	id     string
	layout executor.Layout
	env    executor.Env
	out    *Buffer
}

var seq struct {
	sync.Mutex
	n int
}

func open(t *testing.T, s Setup, shell string, secrets ...string) *build {
	t.Helper()
	seq.Lock()
	seq.n++
	id := fmt.Sprintf("conformance:%d-%d", os.Getpid(), seq.n)
	seq.Unlock()
	host := t.TempDir()
	layout := s.Executor.Layout(id, host, []string{"second"})
	ctx := context.Background()
	env, err := s.Executor.Open(ctx, executor.Spec{BuildID: id, Layout: layout, Image: s.Image,
		EnvironmentType: "LINUX_CONTAINER", ComputeType: "BUILD_GENERAL1_SMALL", Log: t.Logf})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	b := &build{t: t, id: id, layout: layout, env: env, out: &Buffer{}}
	t.Cleanup(func() {
		env.Close()
		if s.Leftovers != nil {
			if left := s.Leftovers(t, id); len(left) > 0 {
				t.Errorf("left behind after Close: %v", left)
			}
		}
	})
	src := filepath.Join(host, "in")
	os.MkdirAll(filepath.Join(src, "dir"), 0o755)
	os.WriteFile(filepath.Join(src, "dir", "given.txt"), []byte("from the host\n"), 0o644)
	os.WriteFile(filepath.Join(src, "run.sh"), []byte("#!/bin/sh\necho ran\n"), 0o755)
	if err := env.CopyIn(ctx, src, layout.Src); err != nil {
		t.Fatalf("CopyIn: %v", err)
	}
	var out = executor.Shell{Shell: shell, Output: b.out,
		Env: []string{"CODEBUILD_BUILD_ID=" + id, "CODEBUILD_SRC_DIR=" + layout.Src, "GIVEN=given value", "SECRET_VALUE=" + strings.Join(secrets, "")}}
	if len(secrets) > 0 {
		out.Output = executor.NewMasker(b.out, secrets)
	}
	if err := env.Start(ctx, out); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return b
}

func (b *build) run(cmd string) int {
	b.t.Helper()
	rc, err := b.env.Exec(context.Background(), cmd, "")
	if err != nil {
		b.t.Fatalf("Exec(%q): %v", cmd, err)
	}
	return rc
}

// Run runs the suite.
func Run(t *testing.T, s Setup) {
	os.Setenv(Canary, "leaked-canary-value")
	t.Run("LayoutAndCopies", func(t *testing.T) { testLayout(t, s) })
	t.Run("State", func(t *testing.T) {
		for _, sh := range []string{"sh", "bash"} {
			t.Run(sh, func(t *testing.T) { testState(t, s, sh) })
		}
	})
	t.Run("OutputOrder", func(t *testing.T) { testOutputOrder(t, s) })
	t.Run("LargeOutput", func(t *testing.T) { testLargeOutput(t, s) })
	t.Run("Stop", func(t *testing.T) { testInterrupt(t, s, false) })
	t.Run("Timeout", func(t *testing.T) { testInterrupt(t, s, true) })
	t.Run("SecretsMasked", func(t *testing.T) { testSecrets(t, s) })
	t.Run("CleanEnvironment", func(t *testing.T) { testCleanEnv(t, s) })
	t.Run("Close", func(t *testing.T) { testClose(t, s) })
}

func testLayout(t *testing.T, s Setup) {
	b := open(t, s, "")
	if !filepath.IsAbs(b.layout.Src) || b.layout.Secondary["second"] == "" || b.layout.Tmp == "" {
		t.Fatalf("layout %+v", b.layout)
	}
	if rc := b.run(`[ "$(pwd)" = "$CODEBUILD_SRC_DIR" ] && [ "$(cat dir/given.txt)" = "from the host" ] && ./run.sh`); rc != 0 {
		t.Fatalf("working directory or copied files wrong (rc %d): %s", rc, b.out)
	}
	b.run("mkdir -p out/deep && echo made > out/deep/file.txt && echo single > one.txt && ln -s deep/file.txt out/link")
	host := t.TempDir()
	ctx := context.Background()
	if err := b.env.CopyOut(ctx, b.layout.Src+"/out", filepath.Join(host, "out")); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(host, "out", "deep", "file.txt")); string(data) != "made\n" {
		t.Errorf("copied out %q", data)
	}
	if l, _ := os.Readlink(filepath.Join(host, "out", "link")); l != "deep/file.txt" {
		t.Errorf("symlink copied as %q", l)
	}
	if err := b.env.CopyOut(ctx, b.layout.Src+"/one.txt", filepath.Join(host, "copy.txt")); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(host, "copy.txt")); string(data) != "single\n" {
		t.Errorf("file copied out as %q", data)
	}
	if err := b.env.CopyOut(ctx, b.layout.Src+"/missing", filepath.Join(host, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing path: %v, want fs.ErrNotExist", err)
	}
	// Copy into a secondary directory, then read it from the session.
	more := filepath.Join(host, "more")
	os.MkdirAll(more, 0o755)
	os.WriteFile(filepath.Join(more, "x"), []byte("second\n"), 0o644)
	if err := b.env.CopyIn(ctx, more, b.layout.Secondary["second"]); err != nil {
		t.Fatal(err)
	}
	if rc := b.run(`[ "$(cat ` + b.layout.Secondary["second"] + `/x)" = second ]`); rc != 0 {
		t.Errorf("secondary copy not visible")
	}
}

func testState(t *testing.T, s Setup, shell string) {
	b := open(t, s, shell)
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
		{`echo "after exit: pwd=$(basename $(pwd)) exported=$EXPORTED given=$GIVEN"`, 0},
		{"set -e; false; echo not reached", 1},
		{"echo 'multi'\necho 'line'", 0},
		{"X='a b\nc'", 0},
		{`cat <<EOF
heredoc $EXPORTED
EOF`, 0},
	}
	for _, st := range steps {
		if rc := b.run(st.cmd); rc != st.rc {
			t.Errorf("%q: exit %d, want %d", st.cmd, rc, st.rc)
		}
	}
	out := b.out.String()
	for _, want := range []string{"pwd=sub exported=one plain=two\n", "no newline\n", "to-stderr\n",
		"after exit: pwd=sub exported=one given=given value\n", "multi\nline\n", "heredoc one\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "not reached") {
		t.Errorf("set -e did not stop the command")
	}
	vars, err := b.env.Vars(context.Background(), []string{"X", "EXPORTED", "UNSET_ONE"})
	if err != nil {
		t.Fatal(err)
	}
	if vars["X"] != "a b\nc" || vars["EXPORTED"] != "one" {
		t.Errorf("Vars = %q", vars)
	}
	if _, ok := vars["UNSET_ONE"]; ok {
		t.Errorf("unset variable reported")
	}
}

func testOutputOrder(t *testing.T, s Setup) {
	b := open(t, s, "")
	b.run(`for i in 1 2 3 4 5; do echo "out $i"; echo "err $i" >&2; done`)
	b.run("echo last")
	var want strings.Builder
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(&want, "out %d\nerr %d\n", i, i)
	}
	want.WriteString("last\n")
	if got := b.out.String(); got != want.String() {
		t.Errorf("output\n%q\nwant\n%q", got, want.String())
	}
}

func testLargeOutput(t *testing.T, s Setup) {
	b := open(t, s, "")
	const n = 100000
	if rc := b.run(fmt.Sprintf(`i=0; while [ $i -lt %d ]; do echo "line $i of the large output"; i=$((i+1)); done`, n)); rc != 0 {
		t.Fatalf("rc %d", rc)
	}
	b.run("echo done")
	lines := strings.Split(strings.TrimSuffix(b.out.String(), "\n"), "\n")
	if len(lines) != n+1 || lines[n] != "done" {
		t.Fatalf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
	for i := 0; i < n; i++ {
		if lines[i] != fmt.Sprintf("line %d of the large output", i) {
			t.Fatalf("line %d = %q", i, lines[i])
		}
	}
	// A line longer than the read buffer arrives whole.
	b.out = &Buffer{}
	if rc := b.run(`i=0; s=x; while [ $i -lt 18 ]; do s="$s$s"; i=$((i+1)); done; echo "$s" | wc -c`); rc != 0 {
		t.Fatal(rc)
	}
}

func testInterrupt(t *testing.T, s Setup, timeout bool) {
	b := open(t, s, "")
	b.run("sleep 300 & echo $! > bg.pid")
	var ctx context.Context
	var cancel context.CancelFunc
	if timeout {
		ctx, cancel = context.WithTimeout(context.Background(), 500*time.Millisecond)
	} else {
		ctx, cancel = context.WithCancel(context.Background())
		go func() {
			for !strings.Contains(b.out.String(), "started") {
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
		}()
	}
	defer cancel()
	start := time.Now()
	_, err := b.env.Exec(ctx, "echo started; sleep 300; echo not reached", "")
	if err == nil || !errors.Is(err, ctx.Err()) {
		t.Fatalf("Exec returned %v, want the context's error", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v to stop", d)
	}
	if strings.Contains(b.out.String(), "not reached") {
		t.Errorf("command went on")
	}
	if err := b.env.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func testSecrets(t *testing.T, s Setup) {
	const secret = "hunter2-very-secret"
	b := open(t, s, "", secret)
	b.run(`echo "value: $SECRET_VALUE"`)
	b.run(`printf 'hunter2-'; sleep 0.2; printf 'very-secret and more\n'`)
	b.run(`printf '%s' "$SECRET_VALUE"`)
	out := b.out.String()
	if strings.Contains(out, secret) {
		t.Errorf("secret in clear:\n%s", out)
	}
	if strings.Count(out, "***") != 3 {
		t.Errorf("want 3 masked values:\n%s", out)
	}
}

func testCleanEnv(t *testing.T, s Setup) {
	b := open(t, s, "")
	b.run("env | sort")
	out := b.out.String()
	if strings.Contains(out, Canary) || strings.Contains(out, "leaked-canary-value") {
		t.Errorf("the server's environment leaked into the build:\n%s", out)
	}
	for _, want := range []string{"GIVEN=given value", "CODEBUILD_BUILD_ID=" + b.id, "PATH="} {
		if !strings.Contains(out, want) {
			t.Errorf("environment lacks %s:\n%s", want, out)
		}
	}
}

func testClose(t *testing.T, s Setup) {
	b := open(t, s, "")
	b.run("sleep 300 &")
	if err := b.env.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.env.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := b.env.Exec(context.Background(), "true", ""); err == nil {
		t.Errorf("Exec after Close succeeded")
	}
	if s.Leftovers != nil {
		if left := s.Leftovers(t, b.id); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	}
}

// Eventually calls list until it returns nothing or 10 seconds have passed,
// and returns its last answer (leftovers take a moment to go).
func Eventually(list func() []string) []string {
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := list()
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}
