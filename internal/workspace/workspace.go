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

	mu   sync.Mutex
	idle []string // full paths
	seq  int
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
// and kept for a next build, or removed (when the pool is full, or when
// anything in it is not this process's user's to reuse, as after a build
// that ran as another user).
func (p *Pool) Release(dir string) {
	p.mu.Lock()
	full := len(p.idle) >= p.max
	if !full {
		p.seq++
	}
	idle := filepath.Join(p.root, fmt.Sprintf("%s%d", idlePrefix, p.seq))
	p.mu.Unlock()
	if full || p.reset(dir) != nil || os.Rename(dir, idle) != nil {
		os.RemoveAll(dir)
		return
	}
	p.mu.Lock()
	p.idle = append(p.idle, idle)
	p.mu.Unlock()
}

// errForeign: something in a workspace belongs to another user.
var errForeign = errors.New("workspace: not this user's")

// reset empties dir for a next build: everything but its subdirectories
// goes, the empty ones are emptied, the scratch ones keep their regular
// files, truncated.
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
		if !owned(full, uid) {
			return errForeign
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
				path := filepath.Join(dir, child)
				if !owned(path, uid) {
					return errForeign
				}
				if err := os.Truncate(path, 0); err != nil {
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

// owned tells whether path (not followed) is uid's and nobody else may
// write to it (a build that ran as another user, or changed modes, leaves
// a workspace that is removed rather than handed to the next build).
// Directories must also be their owner's to search and write.
func owned(path string, uid int) bool {
	fi, err := os.Lstat(path)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) != uid || fi.Mode().Perm()&0o002 != 0 {
		return false
	}
	return !fi.IsDir() || fi.Mode().Perm()&0o700 == 0o700
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if filepath.Clean(x) == s {
			return true
		}
	}
	return false
}

// Close removes the idle workspaces.
func (p *Pool) Close() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
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
