// Package local runs a build's shell session as a process group on this
// machine, with no container engine: no isolation beyond the build's own
// directory and a clean environment (see BaseEnv).
package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/buildbatch/buildbatch/internal/executor"
	"github.com/buildbatch/buildbatch/internal/executor/archive"
	"github.com/buildbatch/buildbatch/internal/executor/session"
)

// Executor is the local executor.
type Executor struct {
	// KillGrace is how long a stopped command gets between SIGTERM and
	// SIGKILL.
	KillGrace time.Duration
	// Base is the environment every session starts from, under the
	// build's own variables (see BaseEnv); nil means none.
	Base []string
	// HelperDir, when set, gets the test-splitting commands of CodeBuild's
	// images (codebuild-tests-run, codebuild-glob-search), which call back
	// into this binary, and goes first on the PATH of builds.
	HelperDir string
	// User, when set, is the user builds run as when their buildspec
	// names none (run-as): the server must run as root. The build's
	// directories become the user's, and HOME, USER and LOGNAME its own.
	User string

	helpersOnce sync.Once
	helpersErr  error
}

var _ executor.Executor = (*Executor)(nil)

// Kept names the variables of the server's environment that local builds
// keep: what a shell needs to find commands and a home.
var Kept = []string{"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "TZ", "TMPDIR"}

// BaseEnv picks the Kept variables out of environ.
func BaseEnv(environ []string) []string {
	var env []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		for _, keep := range Kept {
			if k == keep {
				env = append(env, kv)
			}
		}
	}
	return env
}

// Name implements executor.Executor.
func (x *Executor) Name() string { return "local" }

// Layout implements executor.Executor: the build's directories are the
// runner's own.
func (x *Executor) Layout(buildID, hostDir string, secondary []string) executor.Layout {
	l := executor.Layout{Src: filepath.Join(hostDir, "src"), Tmp: filepath.Join(hostDir, "exec"), Secondary: map[string]string{}}
	for _, id := range secondary {
		l.Secondary[id] = filepath.Join(hostDir, "src2", id)
	}
	return l
}

// Open implements executor.Executor.
func (x *Executor) Open(ctx context.Context, spec executor.Spec) (executor.Env, error) {
	for _, d := range []string{spec.Layout.Src, spec.Layout.Tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if spec.Log != nil {
		spec.Log("Running on buildbatch (local executor) in %s", filepath.Dir(spec.Layout.Src))
	}
	return &env{x: x, spec: spec}, nil
}

// Reap implements executor.Executor: it kills every process whose
// environment holds CODEBUILD_BUILD_ID=<buildID>.
func (x *Executor) Reap(ctx context.Context, buildID string) error {
	for _, pid := range Processes(buildID) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	return nil
}

// Processes lists the live processes (not zombies) whose environment holds
// CODEBUILD_BUILD_ID=<buildID>.
func Processes(buildID string) []int {
	return ProcessesWithPrefix(buildID + "\x00")
}

// ProcessesWithPrefix lists the live processes (not zombies) whose
// environment has a CODEBUILD_BUILD_ID starting with prefix.
func ProcessesWithPrefix(prefix string) []int { return processesFrom(prefix, 0) }

// processesFrom is ProcessesWithPrefix among the processes whose pid is at
// least from: those started since the process whose pid it is. Pids grow
// until they wrap around: while the last one given is below from, every
// process is looked at (a build that outlives a whole round of pids, past
// from again, may keep one started after the wrap).
func processesFrom(prefix string, from int) []int {
	needle := []byte("\x00CODEBUILD_BUILD_ID=" + prefix)
	if b, err := os.ReadFile("/proc/sys/kernel/ns_last_pid"); err != nil {
		from = 0
	} else if last, err := strconv.Atoi(strings.TrimSpace(string(b))); err != nil || last < from {
		from = 0
	}
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	var pids []int
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == self || pid < from {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "environ"))
		if err != nil || !bytes.Contains(append([]byte{0}, data...), needle) {
			continue
		}
		if stat, _ := os.ReadFile(filepath.Join("/proc", ent.Name(), "stat")); bytes.Contains(stat, []byte(") Z ")) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

func credential(name string) (*syscall.Credential, *user.User, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, nil, fmt.Errorf("run-as user %s: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if os.Geteuid() != 0 && uid != os.Geteuid() {
		return nil, nil, fmt.Errorf("run-as user %s: the server must run as root to run commands as another user", name)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, u, nil
}

// CheckUser tells whether builds can run as name: the user exists, and
// this process may switch to it.
func CheckUser(name string) error {
	_, _, err := credential(name)
	return err
}

// CheckReach tells whether user name can reach dir: every directory
// above it must be searchable by the user (by others, unless the user or
// its group owns it).
func CheckReach(name, dir string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		mode := st.Mode().Perm()
		ok := mode&0o001 != 0
		if sys, isUnix := st.Sys().(*syscall.Stat_t); isUnix {
			ok = ok || int(sys.Uid) == uid && mode&0o100 != 0 || int(sys.Gid) == gid && mode&0o010 != 0
		}
		if !ok {
			return fmt.Errorf("user %s cannot reach %s: %s (mode %s) is not searchable by it (chmod o+x %s, or choose a --data-dir it can reach)", name, dir, d, mode, d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// chownTree gives dir and everything under it (symbolic links themselves,
// not their targets) to uid:gid.
func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// env is one build's environment.
type env struct {
	session.Slot
	x    *Executor
	spec executor.Spec
	// firstPid is the pid of the build's first shell (0: none started):
	// every process of the build started after it.
	firstPid atomic.Int64
}

func same(a, b string) bool { return filepath.Clean(a) == filepath.Clean(b) }

// CopyIn implements executor.Env.
func (e *env) CopyIn(ctx context.Context, hostDir, dir string) error {
	if same(hostDir, dir) {
		return nil
	}
	return archive.CopyDir(hostDir, dir)
}

// CopyOut implements executor.Env.
func (e *env) CopyOut(ctx context.Context, path, hostPath string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if same(path, hostPath) {
		return nil
	}
	if info.IsDir() {
		return archive.CopyDir(path, hostPath)
	}
	if err := os.MkdirAll(filepath.Dir(hostPath), 0o755); err != nil {
		return err
	}
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(hostPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm()|0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// environ is the session's environment: the build's variables over the
// base ones, with the helper directory first on PATH.
func (e *env) environ(vars []string) []string {
	set := map[string]bool{}
	for _, kv := range vars {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	var out []string
	for _, kv := range e.x.Base {
		if k, _, _ := strings.Cut(kv, "="); !set[k] {
			out = append(out, kv)
		}
	}
	out = append(out, vars...)
	if e.x.HelperDir != "" {
		found := false
		for i, kv := range out {
			if p, ok := strings.CutPrefix(kv, "PATH="); ok {
				out[i] = "PATH=" + e.x.HelperDir + ":" + p
				found = true
			}
		}
		if !found {
			out = append(out, "PATH="+e.x.HelperDir+":/usr/local/bin:/usr/bin:/bin")
		}
	}
	return out
}

// Start implements executor.Env.
func (e *env) Start(ctx context.Context, sh executor.Shell) error {
	if e.Closed() {
		return session.ErrClosed
	}
	if e.x.HelperDir != "" {
		e.x.helpersOnce.Do(func() { e.x.helpersErr = writeHelpers(e.x.HelperDir) })
		if e.x.helpersErr != nil {
			return e.x.helpersErr
		}
	}
	shell := "sh"
	if sh.Shell == "bash" || sh.Shell == "/bin/bash" {
		shell = "bash"
	}
	path, err := exec.LookPath(shell)
	if err != nil {
		return fmt.Errorf("shell %s not found: %w", shell, err)
	}
	var cred *syscall.Credential
	var home []string
	runAs := sh.User
	if runAs == "" {
		runAs = e.x.User
	}
	if runAs != "" {
		var u *user.User
		if cred, u, err = credential(runAs); err != nil {
			return err
		}
		// The build's directories (its sources and the session's private
		// one) must be the user's to write.
		if err := chownTree(filepath.Dir(e.spec.Layout.Src), int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("run-as user %s: %w", runAs, err)
		}
		if err := os.Chown(e.spec.Layout.Tmp, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("run-as user %s: %w", runAs, err)
		}
		home = []string{"HOME=" + u.HomeDir, "USER=" + u.Username, "LOGNAME=" + u.Username}
	}
	vars := e.environ(append(home, sh.Env...))
	cur, _ := user.Current()
	s, err := session.New(session.Config{
		TmpDir: e.spec.Layout.Tmp, WorkDir: e.spec.Layout.Src, Output: sh.Output, KillGrace: 100 * time.Millisecond,
		Start: func(script, _ string) (session.Proc, error) {
			p, err := startProc(path, script, e.spec.Layout.Src, vars, cred, e.x.KillGrace)
			if err == nil {
				e.firstPid.CompareAndSwap(0, int64(p.cmd.Process.Pid))
			}
			return p, err
		},
		ReadFile: func(ctx context.Context, p string) ([]byte, error) { return os.ReadFile(p) },
		AsUser: func(command, u string) string {
			if u == runAs || runAs == "" && cur != nil && u == cur.Username {
				return command
			}
			return "runuser -u " + session.Quote(u) + " -- " + path + " -c " + session.Quote(command)
		},
	})
	if err != nil {
		return err
	}
	return e.Set(s)
}

// proc is a shell running as its own process group.
type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.Reader
	grace  time.Duration
	done   chan struct{} // closed by Wait
}

func startProc(shell, script, dir string, env []string, cred *syscall.Credential, grace time.Duration) (*proc, error) {
	cmd := exec.Command(shell, "-c", script)
	cmd.Dir = dir
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", shell, err)
	}
	if grace == 0 {
		grace = 2 * time.Second
	}
	return &proc{cmd: cmd, stdin: stdin, stdout: stdout, grace: grace, done: make(chan struct{})}, nil
}

func (p *proc) Stdin() io.WriteCloser { return p.stdin }
func (p *proc) Stdout() io.Reader     { return p.stdout }

func (p *proc) Wait() int {
	err := p.cmd.Wait()
	close(p.done)
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

// Kill stops the shell's whole process group: SIGTERM, then SIGKILL after
// the grace period.
func (p *proc) Kill() {
	pgid := p.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	deadline := time.Now().Add(p.grace)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			syscall.Kill(-pgid, syscall.SIGKILL) // what the shell left
			return
		case <-time.After(10 * time.Millisecond):
		}
		if syscall.Kill(-pgid, 0) != nil {
			return // the whole group is gone
		}
	}
	syscall.Kill(-pgid, syscall.SIGKILL)
}

// Close implements executor.Env. Every process of the build dies with it:
// the shell's process group, and then what left the group (setsid, a
// daemon) but still carries the build's CODEBUILD_BUILD_ID — as a
// container's end would take them all, and so that none lingers in the
// workspace that the next build gets.
func (e *env) Close() error {
	var err error
	if s, _ := e.Take(); s != nil {
		err = s.Close()
	}
	if first := int(e.firstPid.Load()); first != 0 && e.spec.BuildID != "" {
		// Only processes started since its first shell can be the
		// build's. A leftover may fork while it is being killed: look
		// again.
		for range 3 {
			pids := processesFrom(e.spec.BuildID+"\x00", first)
			if len(pids) == 0 {
				break
			}
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	return err
}

// writeHelpers puts the commands CodeBuild images provide for test
// splitting on the build's PATH; they call back into the buildbatch binary.
func writeHelpers(dir string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range []string{"codebuild-tests-run", "codebuild-glob-search"} {
		script := "#!/bin/sh\nexec " + session.Quote(self) + " " + name + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			return err
		}
	}
	return nil
}
