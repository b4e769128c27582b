// Package local runs a build's shell session as a process group on this
// machine, with no container engine.
//
// How a session works: one shell runs a small driver loop that reads the
// path of a command file from fd 3, sources it (so cd and exports persist),
// and prints a marker line carrying the exit status to its stdout, which is
// also the commands' output. Reading output and status from the same pipe
// means that when the status arrives, all of the command's output has
// already been passed on. After every command the driver snapshots the
// exported environment and the working directory; if a command ends the
// shell itself (exit, set -e), a new shell starts from that snapshot.
package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/buildbatch/buildbatch/internal/executor"
	"github.com/buildbatch/buildbatch/internal/ident"
)

// Executor is the local executor.
type Executor struct {
	// KillGrace is how long a stopped command gets between SIGTERM and
	// SIGKILL.
	KillGrace time.Duration
}

var _ executor.Executor = (*Executor)(nil)

// Open implements executor.Executor.
func (x *Executor) Open(ctx context.Context, spec executor.Spec) (executor.Env, error) {
	shell := "sh"
	if spec.Shell == "bash" || spec.Shell == "/bin/bash" {
		shell = "bash"
	}
	path, err := exec.LookPath(shell)
	if err != nil {
		return nil, fmt.Errorf("shell %s not found: %w", shell, err)
	}
	e := &env{x: x, spec: spec, shell: path, token: strings.ReplaceAll(ident.UUID(), "-", "")}
	if spec.User != "" {
		cred, err := credential(spec.User)
		if err != nil {
			return nil, err
		}
		e.cred = cred
	}
	e.snap = filepath.Join(spec.TmpDir, "env")
	e.cwdFile = filepath.Join(spec.TmpDir, "cwd")
	if err := os.WriteFile(e.cwdFile, []byte(spec.WorkDir+"\n"), 0o644); err != nil {
		return nil, err
	}
	if err := e.start(); err != nil {
		return nil, err
	}
	return e, nil
}

// Reap implements executor.Executor: it kills every process whose
// environment holds CODEBUILD_BUILD_ID=<buildID>.
func (x *Executor) Reap(buildID string) error {
	needle := []byte("CODEBUILD_BUILD_ID=" + buildID + "\x00")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	self := os.Getpid()
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == self {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "environ"))
		if err != nil {
			continue
		}
		if bytes.Contains(append([]byte{0}, data...), append([]byte{0}, needle...)) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return nil
}

func credential(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("run-as user %s: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if os.Geteuid() != 0 && uid != os.Geteuid() {
		return nil, fmt.Errorf("run-as user %s: the server must run as root to run commands as another user", name)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// shell is one running shell of a session (a session starts a new one when
// a command ends the old).
type shell struct {
	cmd    *exec.Cmd
	in     *os.File      // fd 3 of the shell
	status chan int      // exit statuses of commands
	exited chan struct{} // closed when the shell has exited and its output is drained
	err    error         // the shell's exit error; read after exited is closed
}

// env is one session.
type env struct {
	x       *Executor
	spec    executor.Spec
	shell   string
	token   string
	cred    *syscall.Credential
	snap    string
	cwdFile string

	mu     sync.Mutex // serialises Exec and Close
	sh     *shell     // nil between shells
	n      int
	closed bool
}

const driver = `__bb_tok=%s
__bb_snap=%s
__bb_cwd=%s
if [ -f "$__bb_snap" ]; then . "$__bb_snap" 2>/dev/null; fi
cd "$(cat "$__bb_cwd")" 2>/dev/null
exec 2>&1
while IFS= read -r __bb_f <&3; do
  . "$__bb_f" 3<&- </dev/null
  __bb_rc=$?
  export -p > "$__bb_snap" 2>/dev/null
  pwd > "$__bb_cwd" 2>/dev/null
  printf '\036%%s:%%d\036\n' "$__bb_tok" "$__bb_rc"
done
`

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// start launches a (new) shell for the session.
func (e *env) start() error {
	script := fmt.Sprintf(driver, e.token, shellQuote(e.snap), shellQuote(e.cwdFile))
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd := exec.Command(e.shell, "-c", script)
	cmd.Dir = e.spec.WorkDir
	cmd.Env = e.spec.Env
	cmd.ExtraFiles = []*os.File{r}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: e.cred}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		r.Close()
		w.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return fmt.Errorf("starting %s: %w", e.shell, err)
	}
	r.Close()
	sh := &shell{cmd: cmd, in: w, status: make(chan int, 1), exited: make(chan struct{})}
	e.sh = sh
	go e.read(stdout, sh)
	return nil
}

// read copies the shell's output to spec.Output in chunks of whole lines
// (a very long line goes out in fragments) and turns marker lines into
// statuses. It owns nothing but the pipe; it ends when the shell and every
// process holding the pipe have exited.
func (e *env) read(stdout io.Reader, sh *shell) {
	marker := []byte("\x1e" + e.token + ":")
	buf := make([]byte, 0, 2*readChunk)
	for {
		if cap(buf)-len(buf) < readChunk {
			grown := make([]byte, len(buf), 2*cap(buf))
			copy(grown, buf)
			buf = grown
		}
		n, err := stdout.Read(buf[len(buf) : len(buf)+readChunk])
		buf = buf[:len(buf)+n]
		buf = e.emit(buf, marker, sh, err != nil)
		if err != nil {
			break
		}
	}
	sh.err = sh.cmd.Wait()
	close(sh.exited)
}

const readChunk = 64 << 10

// emit writes out what buf holds up to its last whole line, handling
// marker lines, and returns the rest (moved to the front of buf).
func (e *env) emit(buf, marker []byte, sh *shell, final bool) []byte {
	out := e.spec.Output
	start := 0
	for {
		i := bytes.Index(buf[start:], marker)
		if i < 0 {
			break
		}
		i += start
		end := bytes.IndexByte(buf[i:], '\n')
		if end < 0 {
			break // the rest of the marker line is still in the pipe
		}
		end += i
		if i > start {
			if buf[i-1] == '\n' {
				out.Write(buf[start:i])
			} else {
				// Output without a final newline: close its line.
				out.Write(append(buf[start:i:i], '\n'))
			}
		}
		rest := buf[i+len(marker) : end]
		if j := bytes.IndexByte(rest, 0x1e); j >= 0 {
			rc, _ := strconv.Atoi(string(rest[:j]))
			sh.status <- rc
		}
		start = end + 1
	}
	if last := bytes.LastIndexByte(buf[start:], '\n'); last >= 0 {
		out.Write(buf[start : start+last+1])
		start += last + 1
	}
	// A very long line goes out in pieces, keeping enough back that a marker
	// that starts in it is not cut.
	if keep := len(marker) + 24; len(buf)-start > readChunk+keep && bytes.Index(buf[start:], marker) < 0 {
		cut := len(buf) - keep
		out.Write(buf[start:cut])
		start = cut
	}
	if final && start < len(buf) {
		out.Write(buf[start:])
		start = len(buf)
	}
	n := copy(buf, buf[start:])
	return buf[:n]
}

// Exec implements executor.Env.
func (e *env) Exec(ctx context.Context, command, user string) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return -1, errors.New("session closed")
	}
	if user != "" && user != e.spec.User {
		cur, _ := userName()
		if user != cur {
			command = "runuser -u " + shellQuote(user) + " -- " + e.shell + " -c " + shellQuote(command)
		}
	}
	e.n++
	file := filepath.Join(e.spec.TmpDir, fmt.Sprintf("cmd-%d.sh", e.n))
	if err := os.WriteFile(file, []byte(command+"\n"), 0o644); err != nil {
		return -1, err
	}
	defer os.Remove(file)
	if e.sh == nil {
		if err := e.start(); err != nil {
			return -1, err
		}
	}
	if _, err := e.sh.in.Write([]byte(file + "\n")); err != nil {
		// The shell is gone; start another and try once more.
		e.reset()
		if err := e.start(); err != nil {
			return -1, err
		}
		if _, err := e.sh.in.Write([]byte(file + "\n")); err != nil {
			return -1, err
		}
	}
	sh := e.sh
	select {
	case rc := <-sh.status:
		return rc, nil
	case <-sh.exited:
		// The command ended the shell (exit N, set -e): its status is the
		// shell's. A later command gets a new shell from the snapshot.
		e.reset()
		select {
		case rc := <-sh.status:
			return rc, nil
		default:
		}
		return exitCode(sh.err), nil
	case <-ctx.Done():
		e.kill()
		e.reset()
		return -1, ctx.Err()
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func userName() (string, error) {
	u, err := user.Current()
	if err != nil {
		return "", err
	}
	return u.Username, nil
}

// kill stops the shell's whole process group: SIGTERM, then SIGKILL after
// the grace period, and waits for the reader to finish.
func (e *env) kill() {
	sh := e.sh
	if sh == nil {
		return
	}
	pgid := sh.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	grace := e.x.KillGrace
	if grace == 0 {
		grace = 2 * time.Second
	}
	select {
	case <-sh.exited:
	case <-time.After(grace):
	}
	syscall.Kill(-pgid, syscall.SIGKILL)
	sh.in.Close()
	select {
	case <-sh.exited:
	case <-time.After(5 * time.Second):
		// A process that left the group still holds the output pipe; the
		// reader ends when it does.
	}
}

// reset forgets the current shell (after it exited or was killed); processes
// it left in its group are killed.
func (e *env) reset() {
	if e.sh == nil {
		return
	}
	syscall.Kill(-e.sh.cmd.Process.Pid, syscall.SIGKILL)
	e.sh.in.Close()
	e.sh = nil
}

// Vars implements executor.Env.
func (e *env) Vars(ctx context.Context, names []string) (map[string]string, error) {
	out := filepath.Join(e.spec.TmpDir, "vars")
	var b strings.Builder
	b.WriteString(": > " + shellQuote(out) + "\n")
	for _, n := range names {
		fmt.Fprintf(&b, "if [ -n \"${%s+x}\" ]; then printf '%%s=%%s\\000' %s \"$%s\" >> %s; fi\n", n, n, n, shellQuote(out))
	}
	if _, err := e.Exec(ctx, b.String(), ""); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	for _, kv := range strings.Split(string(data), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	return vars, nil
}

// Close implements executor.Env.
func (e *env) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	sh := e.sh
	if sh == nil {
		return nil
	}
	sh.in.Close() // the driver loop ends
	select {
	case <-sh.exited:
	case <-time.After(100 * time.Millisecond):
	}
	syscall.Kill(-sh.cmd.Process.Pid, syscall.SIGKILL) // and whatever it left behind
	select {
	case <-sh.exited:
	case <-time.After(5 * time.Second):
	}
	e.sh = nil
	return nil
}
