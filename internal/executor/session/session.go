// Package session runs a build's commands in one long-lived shell, whatever
// starts that shell (a local process group, a `docker exec`, ...).
//
// The protocol: a small driver script runs in the shell. It reads each
// command from its standard input, line by line up to an end line carrying
// a random token, writes it to a file in the environment's temporary
// directory and sources that file (so cd and exports persist), then prints
// a marker line with the exit status on its standard output, which is also
// the commands' output (stderr is folded into it). Reading output and status
// from the same stream means that when the status arrives, all of the
// command's output has already been passed on. After every command the
// driver snapshots the exported environment and the working directory; if a
// command ends the shell itself (exit, set -e), a new shell starts from that
// snapshot. The driver uses shell builtins only, so any image with a POSIX
// sh can run it.
package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/buildbatch/buildbatch/internal/ident"
)

// Proc is one running shell.
type Proc interface {
	// Stdin feeds the driver; closing it ends the driver loop.
	Stdin() io.WriteCloser
	// Stdout is the shell's output (stderr folded in by the driver); it
	// reaches EOF when the shell and everything holding it have exited.
	Stdout() io.Reader
	// Wait returns the shell's exit status after Stdout reached EOF.
	Wait() int
	// Kill ends the shell and every process it started, at once.
	Kill()
}

// Config is what a Session needs from its executor.
type Config struct {
	// Start launches a shell running script (the driver) with `<shell> -c`.
	// token is the session's marker token, for executors whose shell is
	// restarted inside the environment (they report the exit status of
	// the ended shell as a marker line: "\x1e<token>:<status>\x1e").
	Start func(script, token string) (Proc, error)
	// TmpDir is a directory of the environment private to the session.
	TmpDir string
	// WorkDir is the initial working directory.
	WorkDir string
	// Output receives the commands' output in whole lines (a very long
	// line goes out in fragments).
	Output io.Writer
	// ReadFile reads a file of the environment (for Vars).
	ReadFile func(ctx context.Context, path string) ([]byte, error)
	// VarsFile is where Vars writes the values it reads (default
	// TmpDir/vars).
	VarsFile string
	// AsUser rewrites a command so that it runs as another user.
	AsUser func(command, user string) string
	// KillGrace is how long Close waits for the driver to end by itself.
	KillGrace time.Duration
}

// Session is one build's shell session.
type Session struct {
	cfg   Config
	token string

	mu     sync.Mutex // serialises Exec and Close
	sh     *shell
	closed bool
}

type shell struct {
	p      Proc
	status chan int
	exited chan struct{} // closed when output is drained and the shell has exited
	code   int
}

// New starts a session's first shell.
func New(cfg Config) (*Session, error) {
	s := &Session{cfg: cfg, token: strings.ReplaceAll(ident.UUID(), "-", "")}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

// Driver returns the driver script for a session with this token and
// directories (exposed for tests and for executors that need to stage it).
func Driver(token, tmpDir, workDir string) string {
	return fmt.Sprintf(driver, token, Quote(tmpDir), Quote(workDir))
}

const driver = `__bb_tok=%s
__bb_tmp=%s
__bb_snap="$__bb_tmp/env"
__bb_cwd="$__bb_tmp/cwd"
__bb_cmd="$__bb_tmp/command.sh"
__bb_end="$(printf '\036')${__bb_tok}:end"
if [ -s "$__bb_snap" ]; then . "$__bb_snap" 2>/dev/null; fi
if [ -s "$__bb_cwd" ]; then IFS= read -r __bb_d < "$__bb_cwd"; cd "$__bb_d" 2>/dev/null; else cd %s 2>/dev/null; fi
exec 2>&1
while :; do
  : > "$__bb_cmd"
  __bb_ok=
  while IFS= read -r __bb_l; do
    if [ "$__bb_l" = "$__bb_end" ]; then __bb_ok=1; break; fi
    printf '%%s\n' "$__bb_l" >> "$__bb_cmd"
  done
  [ -n "$__bb_ok" ] || { : > "$__bb_tmp/eof"; exit 0; }
  . "$__bb_cmd" </dev/null
  __bb_rc=$?
  export -p > "$__bb_snap" 2>/dev/null
  pwd > "$__bb_cwd" 2>/dev/null
  printf '\036%%s:%%d\036\n' "$__bb_tok" "$__bb_rc"
done
`

// Quote quotes s for a POSIX shell.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func (s *Session) start() error {
	p, err := s.cfg.Start(Driver(s.token, s.cfg.TmpDir, s.cfg.WorkDir), s.token)
	if err != nil {
		return err
	}
	sh := &shell{p: p, status: make(chan int, 1), exited: make(chan struct{})}
	s.sh = sh
	go s.read(sh)
	return nil
}

// read copies the shell's output to Output in chunks of whole lines and
// turns marker lines into statuses. It ends when the output ends.
func (s *Session) read(sh *shell) {
	marker := []byte("\x1e" + s.token + ":")
	buf := make([]byte, 0, 2*readChunk)
	out := sh.p.Stdout()
	for {
		if cap(buf)-len(buf) < readChunk {
			grown := make([]byte, len(buf), 2*cap(buf))
			copy(grown, buf)
			buf = grown
		}
		n, err := out.Read(buf[len(buf) : len(buf)+readChunk])
		buf = buf[:len(buf)+n]
		buf = s.emit(buf, marker, sh, err != nil)
		if err != nil {
			break
		}
	}
	sh.code = sh.p.Wait()
	close(sh.exited)
}

const readChunk = 64 << 10

// emit writes out what buf holds up to its last whole line, handling
// marker lines, and returns the rest (moved to the front of buf).
func (s *Session) emit(buf, marker []byte, sh *shell, final bool) []byte {
	out := s.cfg.Output
	start := 0
	for {
		i := bytes.Index(buf[start:], marker)
		if i < 0 {
			break
		}
		i += start
		end := bytes.IndexByte(buf[i:], '\n')
		if end < 0 {
			break // the rest of the marker line is still to come
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
			select {
			case sh.status <- rc:
			default:
			}
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

// ErrClosed is returned by Exec after Close.
var ErrClosed = errors.New("session closed")

// Exec runs one command and returns its exit status. A non-zero status is
// data; err is for the machinery, and for ctx ending (the shell is then
// killed with everything it started, and err is ctx's error).
func (s *Session) Exec(ctx context.Context, command, user string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return -1, ErrClosed
	}
	if user != "" && s.cfg.AsUser != nil {
		command = s.cfg.AsUser(command, user)
	}
	msg := []byte(command + "\n\x1e" + s.token + ":end\n")
	if s.sh == nil {
		if err := s.start(); err != nil {
			return -1, err
		}
	}
	if _, err := s.sh.p.Stdin().Write(msg); err != nil {
		// The shell is gone; start another and try once more.
		s.reset()
		if err := s.start(); err != nil {
			return -1, err
		}
		if _, err := s.sh.p.Stdin().Write(msg); err != nil {
			return -1, err
		}
	}
	sh := s.sh
	select {
	case rc := <-sh.status:
		return rc, nil
	case <-sh.exited:
		// The command ended the shell (exit N, set -e): its status is the
		// shell's. A later command gets a new shell from the snapshot.
		s.sh = nil
		select {
		case rc := <-sh.status:
			return rc, nil
		default:
		}
		return sh.code, nil
	case <-ctx.Done():
		s.reset()
		return -1, ctx.Err()
	}
}

// reset kills the current shell and forgets it.
func (s *Session) reset() {
	if s.sh == nil {
		return
	}
	sh := s.sh
	s.sh = nil
	sh.p.Kill()
	sh.p.Stdin().Close()
	select {
	case <-sh.exited:
	case <-time.After(5 * time.Second):
		// A process that escaped still holds the output; the reader ends
		// when it does.
	}
}

// Vars reads the current values of shell variables (unset ones are missing
// from the map).
func (s *Session) Vars(ctx context.Context, names []string) (map[string]string, error) {
	out := s.cfg.VarsFile
	if out == "" {
		out = s.cfg.TmpDir + "/vars"
	}
	var b strings.Builder
	b.WriteString(": > " + Quote(out) + "\n")
	for _, n := range names {
		if !ValidName(n) {
			continue
		}
		fmt.Fprintf(&b, "if [ -n \"${%s+x}\" ]; then printf '%%s=%%s\\000' %s \"$%s\" >> %s; fi\n", n, n, n, Quote(out))
	}
	if _, err := s.Exec(ctx, b.String(), ""); err != nil {
		return nil, err
	}
	data, err := s.cfg.ReadFile(ctx, out)
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

// ValidName tells whether n is a shell variable name.
func ValidName(n string) bool {
	if n == "" {
		return false
	}
	for i, r := range n {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9' {
			continue
		}
		return false
	}
	return true
}

// Close ends the session and kills every process it started. It is
// idempotent.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	sh := s.sh
	if sh == nil {
		return nil
	}
	s.sh = nil
	sh.p.Stdin().Close() // the driver loop ends
	grace := s.cfg.KillGrace
	if grace == 0 {
		grace = 100 * time.Millisecond
	}
	select {
	case <-sh.exited:
	case <-time.After(grace):
	}
	sh.p.Kill() // and whatever it left behind
	select {
	case <-sh.exited:
	case <-time.After(5 * time.Second):
	}
	return nil
}

// Slot holds an environment's session once it has started; executors embed
// it for Exec, Vars and the closed state.
type Slot struct {
	mu     sync.Mutex
	s      *Session
	closed bool
}

// ErrNotStarted is returned before a session is set.
var ErrNotStarted = errors.New("the build's shell session has not started")

// Set stores the session; it fails (and closes s) if the slot was closed.
func (h *Slot) Set(s *Session) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		s.Close()
		return ErrClosed
	}
	h.s = s
	return nil
}

// Closed tells whether Take was called.
func (h *Slot) Closed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// Get returns the session.
func (h *Slot) Get() (*Session, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	if h.s == nil {
		return nil, ErrNotStarted
	}
	return h.s, nil
}

// Exec runs a command in the session.
func (h *Slot) Exec(ctx context.Context, command, user string) (int, error) {
	s, err := h.Get()
	if err != nil {
		return -1, err
	}
	return s.Exec(ctx, command, user)
}

// Vars reads variables of the session.
func (h *Slot) Vars(ctx context.Context, names []string) (map[string]string, error) {
	s, err := h.Get()
	if err != nil {
		return nil, err
	}
	return s.Vars(ctx, names)
}

// Take closes the slot and returns the session (nil if none) for the
// caller to close; first tells whether this was the first Take.
func (h *Slot) Take() (s *Session, first bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	first = !h.closed
	h.closed = true
	s, h.s = h.s, nil
	return s, first
}
