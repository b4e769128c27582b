// Package workspace keeps the directories of the builds a node runs: one
// per running build, under one root.
//
// Making directories and files is a large part of what starting a build
// costs on some file systems (ext4 without a journal spends about 0.4 ms of
// CPU on each new inode, and a build made nine: its directory, its source
// and scratch directories, and the files its shell keeps there). So a
// finished build's workspace is not removed: it is emptied, kept idle, and
// renamed to the next build's name, which costs no new inode. Every build
// still gets a directory of its own name, as empty as a new one.
package workspace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// idlePrefix starts the names of idle workspaces.
const idlePrefix = ".idle-"

// Pool hands out workspaces under Root.
type Pool struct {
	root string
	// empty are subdirectories made in every workspace and emptied for
	// the next build (the source directory).
	empty []string
	// scratch are subdirectories whose regular files are truncated, not
	// removed, for the next build (a shell session's private directory,
	// whose few files are written again by name: an empty file there
	// stands for none).
	scratch []string
	max     int

	mu      sync.Mutex
	idle    []string // full paths
	pending int      // releases emptying a workspace for the pool
	seq     int
	closed  bool
}

// Config says what a workspace holds.
type Config struct {
	// Root is the directory of the workspaces.
	Root string
	// Empty and Scratch are relative paths of subdirectories every
	// workspace has; see Pool.
	Empty, Scratch []string
	// MaxIdle bounds the idle workspaces kept (default 16).
	MaxIdle int
}

// New returns a pool under cfg.Root. Subdirectories that are not relative
// paths inside a workspace are left out.
func New(cfg Config) *Pool {
	p := &Pool{root: cfg.Root, max: cfg.MaxIdle}
	if p.max <= 0 {
		p.max = 16
	}
	for _, d := range cfg.Empty {
		if filepath.IsLocal(d) && filepath.Clean(d) != "." {
			p.empty = append(p.empty, filepath.Clean(d))
		}
	}
	for _, d := range cfg.Scratch {
		if filepath.IsLocal(d) && filepath.Clean(d) != "." {
			p.scratch = append(p.scratch, filepath.Clean(d))
		}
	}
	return p
}

// Path is where the workspace of name is.
func (p *Pool) Path(name string) string { return filepath.Join(p.root, name) }

// Acquire makes the workspace of name (a single path element) with its
// subdirectories, from an idle one when there is one, and returns its path.
func (p *Pool) Acquire(name string) (string, error) {
	if name == "" || name == "." || strings.HasPrefix(name, idlePrefix) || !filepath.IsLocal(name) || strings.ContainsRune(name, filepath.Separator) {
		return "", fmt.Errorf("workspace: bad name %q", name)
	}
	dir := p.Path(name)
	for {
		p.mu.Lock()
		n := len(p.idle)
		var from string
		if n > 0 {
			from = p.idle[n-1]
			p.idle = p.idle[:n-1]
		}
		p.mu.Unlock()
		if from == "" {
			break
		}
		if err := os.Rename(from, dir); err == nil {
			return dir, nil
		}
		// Gone or in the way: drop it and try the next one.
		os.RemoveAll(from)
	}
	for _, d := range p.subdirs() {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return "", err
		}
	}
	if len(p.subdirs()) == 0 {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func (p *Pool) subdirs() []string { return append(append([]string(nil), p.empty...), p.scratch...) }

// Release ends the use of a workspace that Acquire returned: it is emptied
// and kept for a next build, or removed (when the pool is full or closed,
// or when anything in it is not this process's user's to reuse, as after
// a build that ran as another user). The build's processes must be gone:
// one still running in the workspace would be in the next build's.
func (p *Pool) Release(dir string) {
	p.mu.Lock()
	full := p.closed || len(p.idle)+p.pending >= p.max
	if !full {
		p.pending++ // the slot is this release's while it empties dir
		p.seq++
	}
	idle := filepath.Join(p.root, fmt.Sprintf("%s%d", idlePrefix, p.seq))
	p.mu.Unlock()
	if full {
		os.RemoveAll(dir)
		return
	}
	ok := p.reset(dir) == nil && os.Rename(dir, idle) == nil
	p.mu.Lock()
	p.pending--
	if ok && p.closed {
		dir, ok = idle, false
	}
	if ok {
		p.idle = append(p.idle, idle)
	}
	p.mu.Unlock()
	if !ok {
		os.RemoveAll(dir)
	}
}

// errForeign: something in a workspace is not this user's alone.
var errForeign = errors.New("workspace: not this user's")

// reset empties dir for a next build: everything but its subdirectories
// goes, the empty ones are emptied, the scratch ones keep their regular
// files, truncated. Directories get back a new one's mode (0755) before
// they are emptied, and files 0644: what a build changed does not reach
// the next one, and nobody else can write in them meanwhile.
func (p *Pool) reset(dir string) error {
	keep := map[string]bool{}
	for _, d := range p.subdirs() {
		for d != "." {
			keep[d] = true
			d = filepath.Dir(d)
		}
	}
	uid := os.Getuid()
	var walk func(rel string) error
	walk = func(rel string) error {
		full := filepath.Join(dir, rel)
		if err := ownDir(full, uid); err != nil {
			return err
		}
		entries, err := os.ReadDir(full)
		if err != nil {
			return err
		}
		scratch := contains(p.scratch, rel)
		for _, e := range entries {
			child := filepath.Join(rel, e.Name())
			switch {
			case keep[child] && e.IsDir():
				if err := walk(child); err != nil {
					return err
				}
			case scratch && e.Type().IsRegular():
				if err := truncate(filepath.Join(dir, child), uid); err != nil {
					return err
				}
			default:
				if err := os.RemoveAll(filepath.Join(dir, child)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk("."); err != nil {
		return err
	}
	// A kept subdirectory removed by the build is made again.
	for _, d := range p.subdirs() {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// ownDir checks that path is a directory (not a link to one) of uid's and
// gives it a new directory's mode.
func ownDir(path string, uid int) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.IsDir() || int(st.Uid) != uid {
		return errForeign
	}
	if fi.Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky) != 0o755 {
		return os.Chmod(path, 0o755)
	}
	return nil
}

// truncate empties the regular file at path, which must be uid's and have
// no other name (a hard link to a file elsewhere is not emptied), without
// following a link that may have replaced it; it gets a new file's mode.
func truncate(path string, uid int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.Mode().IsRegular() || int(st.Uid) != uid || st.Nlink != 1 {
		return errForeign
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	if fi.Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky) != 0o644 {
		return f.Chmod(0o644)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if filepath.Clean(x) == s {
			return true
		}
	}
	return false
}

// Close removes the idle workspaces; later releases remove theirs.
func (p *Pool) Close() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.closed = true
	p.mu.Unlock()
	for _, d := range idle {
		os.RemoveAll(d)
	}
}

// Idle is how many idle workspaces the pool keeps (for tests).
func (p *Pool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}
