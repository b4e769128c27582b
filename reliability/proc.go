package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/buildbatch/buildbatch/internal/executor/local"
	"github.com/buildbatch/buildbatch/internal/testproc"
)

// env is what a tool started: a temporary directory, the buildbatch binary
// built into it, servers; cleanup stops them all and kills the build
// processes they left, however the tool ends.
type env struct {
	tmp    string
	binary string
	keep   bool
	race   bool // the binary has the race detector
	// marker is the start of every CODEBUILD_BUILD_ID of this run (its
	// projects' names share it), to find this run's build processes and
	// no one else's.
	marker string

	mu      sync.Mutex
	servers []*server
	nlog    int
}

func newEnv(name string, keep bool) (*env, error) {
	tmp, err := os.MkdirTemp("", "buildbatch-"+name+"-")
	if err != nil {
		return nil, err
	}
	return &env{tmp: tmp, keep: keep}, nil
}

// build compiles buildbatch once (with the race detector if race: its
// reports end up in the server's log, which the tools check).
func (e *env) build(ctx context.Context, race bool) error {
	e.binary = filepath.Join(e.tmp, "buildbatch")
	args := []string{"build", "-o", e.binary}
	if race {
		args = append(args, "-race")
	}
	e.race = race
	cmd := exec.CommandContext(ctx, "go", append(args, "./cmd/buildbatch")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building buildbatch: %v", err)
	}
	return nil
}

// cleanup stops every server still running (SIGTERM, then SIGKILL), kills
// the build processes of this run that are left and removes the temporary
// directory (unless -keep). It may be called more than once.
func (e *env) cleanup() {
	e.mu.Lock()
	servers := e.servers
	e.servers = nil
	e.mu.Unlock()
	for _, s := range servers {
		s.stop(10 * time.Second)
	}
	if e.marker != "" {
		for _, pid := range buildProcesses(e.marker) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if e.keep {
		fmt.Fprintf(os.Stderr, "kept %s\n", e.tmp)
	} else {
		os.RemoveAll(e.tmp)
	}
}

// server is a running `buildbatch serve`.
type server struct {
	url    string
	pid    int
	cmd    *exec.Cmd
	logf   string // its standard error
	exited chan struct{}
	err    error // Wait's, once exited is closed
}

// start starts `buildbatch serve` on a free loopback port with the given
// data directory and arguments, and waits until it listens.
func (e *env) start(ctx context.Context, dataDir string, args ...string) (*server, error) {
	e.mu.Lock()
	e.nlog++
	logf := filepath.Join(e.tmp, fmt.Sprintf("server-%03d.log", e.nlog))
	e.mu.Unlock()
	lf, err := os.Create(logf)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	cmd := exec.Command(e.binary, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "warn"}, args...)...)
	// Its own process group, so that a Ctrl-C reaches the tool, which
	// stops it; and killed if the tool dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = lf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{pid: cmd.Process.Pid, cmd: cmd, logf: logf, exited: make(chan struct{})}
	e.mu.Lock()
	e.servers = append(e.servers, s)
	e.mu.Unlock()
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), "listening on "); ok {
				urls <- u
				break
			}
		}
		io.Copy(io.Discard, stdout)
		s.err = cmd.Wait()
		close(s.exited)
	}()
	select {
	case s.url = <-urls:
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("buildbatch serve exited (%v) before listening:\n%s", s.err, s.logTail(20))
	case <-time.After(60 * time.Second):
		s.kill()
		return nil, fmt.Errorf("buildbatch serve did not listen within 60s:\n%s", s.logTail(20))
	case <-ctx.Done():
		s.kill()
		return nil, ctx.Err()
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

// stop sends SIGTERM, and SIGKILL if it has not stopped within grace. It
// reports whether the server stopped by itself, with status 0.
func (s *server) stop(grace time.Duration) bool {
	select {
	case <-s.exited:
		return s.err == nil
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return s.err == nil
	case <-time.After(grace):
		s.kill()
		return false
	}
}

func (s *server) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// logTail is the end of the server's standard error.
func (s *server) logTail(lines int) string {
	data, _ := os.ReadFile(s.logf)
	l := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return "    " + strings.Join(l, "\n    ")
}

// forget drops a server that is gone from the ones cleanup stops.
func (e *env) forget(s *server) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, t := range e.servers {
		if t == s {
			e.servers = append(e.servers[:i], e.servers[i+1:]...)
			return
		}
	}
}

// buildProcesses lists the live processes (not zombies) whose environment
// has a CODEBUILD_BUILD_ID starting with prefix: what the local executor
// marks build processes with.
func buildProcesses(prefix string) []int { return local.ProcessesWithPrefix(prefix) }

// describeProcess is a process's command line, for reports.
func describeProcess(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return fmt.Sprintf("pid %d: %s", pid, strings.TrimSpace(strings.ReplaceAll(string(data), "\x00", " ")))
}

// procStatus returns a process's resident set size and its peak, in bytes.
func procStatus(pid int) (rss, peak int64) { return testproc.RSS(pid) }

// openFDs counts a process's open file descriptors.
func openFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// containers lists the Docker containers labelled with a build id that
// starts with prefix; ok is false when Docker cannot be asked.
func containers(ctx context.Context, prefix string) (list []string, ok bool) {
	if _, err := exec.LookPath("docker"); err != nil {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "ps", "-a", "--filter", "label=buildbatch.build-id",
		"--format", `{{.ID}} {{.Label "buildbatch.build-id"}} {{.Status}}`).Output()
	if err != nil {
		return nil, false
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[1], prefix) {
			list = append(list, line)
		}
	}
	return list, true
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

// buildNote says how the binary was built, for the results.
func (e *env) buildNote() string {
	if e.race {
		return "server built with `-race`"
	}
	return "server built without the race detector"
}
