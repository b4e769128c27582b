package workspace

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

func newPool(t *testing.T, max int) (*Pool, string) {
	t.Helper()
	root := t.TempDir()
	return New(Config{Root: root, Empty: []string{"src"}, Scratch: []string{"exec"}, MaxIdle: max}), root
}

// tree lists what is under dir: "path" for directories, "path=content"
// for files.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		if d.IsDir() {
			out = append(out, rel+"/")
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out = append(out, rel+"="+string(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAcquireMakesSubdirectories(t *testing.T) {
	p, root := newPool(t, 4)
	dir, err := p.Acquire("b1")
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(root, "b1") || dir != p.Path("b1") {
		t.Fatalf("Acquire = %s, Path = %s", dir, p.Path("b1"))
	}
	if got, want := strings.Join(tree(t, dir), " "), "exec/ src/"; got != want {
		t.Fatalf("new workspace holds %q, want %q", got, want)
	}
}

// TestReuse: a released workspace comes back as the next build's, under
// its name, as empty as a new one but for the scratch files, truncated —
// and it is the same directory (no new inode).
func TestReuse(t *testing.T) {
	cases := []struct {
		name  string
		build func(t *testing.T, dir string)
		want  string
	}{
		{"untouched", func(*testing.T, string) {}, "exec/ src/"},
		{"sources and outputs", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "src", "main.go"), "package main")
			write(t, filepath.Join(dir, "src", "deep", "er", "x.txt"), "x")
			write(t, filepath.Join(dir, "src2", "second", "README"), "2")
			write(t, filepath.Join(dir, "artifact.zip"), "zip")
		}, "exec/ src/"},
		{"session files", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "exec", "env"), "export SECRET=1")
			write(t, filepath.Join(dir, "exec", "cwd"), "/x")
			write(t, filepath.Join(dir, "exec", "sub", "f"), "gone")
		}, "exec/ exec/cwd= exec/env= src/"},
		{"source directory removed", func(t *testing.T, dir string) {
			if err := os.RemoveAll(filepath.Join(dir, "src")); err != nil {
				t.Fatal(err)
			}
		}, "exec/ src/"},
		{"symlink to outside", func(t *testing.T, dir string) {
			outside := t.TempDir()
			write(t, filepath.Join(outside, "keep"), "keep")
			if err := os.Symlink(outside, filepath.Join(dir, "src", "link")); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if _, err := os.Stat(filepath.Join(outside, "keep")); err != nil {
					t.Errorf("the symlink's target was touched: %v", err)
				}
			})
		}, "exec/ src/"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, _ := newPool(t, 4)
			dir, err := p.Acquire("first")
			if err != nil {
				t.Fatal(err)
			}
			before, _ := os.Stat(dir)
			c.build(t, dir)
			p.Release(dir)
			if p.Idle() != 1 {
				t.Fatalf("idle workspaces: %d, want 1", p.Idle())
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Fatalf("the released workspace is still under its name: %v", err)
			}
			next, err := p.Acquire("second")
			if err != nil {
				t.Fatal(err)
			}
			after, _ := os.Stat(next)
			if !os.SameFile(before, after) {
				t.Errorf("the second build got a new directory, not the idle one")
			}
			if got := strings.Join(tree(t, next), " "); got != c.want {
				t.Errorf("reused workspace holds %q, want %q", got, c.want)
			}
		})
	}
}

// TestNotReused: a workspace with something in it that is not this
// user's alone is removed, and nothing outside it is touched.
func TestNotReused(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "outside")
	cases := []struct {
		name  string
		root  bool // needs root (chown)
		build func(t *testing.T, dir string)
	}{
		{"scratch file hard-linked to a file outside", false, func(t *testing.T, dir string) {
			write(t, outside, "precious")
			if err := os.Link(outside, filepath.Join(dir, "exec", "env")); err != nil {
				t.Skip(err)
			}
		}},
		{"scratch file of another user", true, func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "exec", "env"), "x")
			if err := os.Chown(filepath.Join(dir, "exec", "env"), 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}},
		{"source directory of another user", true, func(t *testing.T, dir string) {
			if err := os.Chown(filepath.Join(dir, "src"), 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}},
		{"workspace of another user", true, func(t *testing.T, dir string) {
			if err := os.Chown(dir, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.root && os.Getuid() != 0 {
				t.Skip("needs root to give a file to another user")
			}
			p, _ := newPool(t, 4)
			dir, err := p.Acquire("b")
			if err != nil {
				t.Fatal(err)
			}
			c.build(t, dir)
			p.Release(dir)
			if p.Idle() != 0 {
				t.Errorf("idle workspaces: %d, want 0", p.Idle())
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("the workspace was not removed: %v", err)
			}
			if b, err := os.ReadFile(outside); err == nil && string(b) != "precious" {
				t.Errorf("a file outside was changed: %q", b)
			}
		})
	}
}

// TestModesReset: modes a build changed do not reach the next build.
func TestModesReset(t *testing.T) {
	p, _ := newPool(t, 4)
	dir, err := p.Acquire("first")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "exec", "env"), "export X=1")
	for path, mode := range map[string]os.FileMode{"src": 0o777, "exec": 0o700 | os.ModeSetgid, "exec/env": 0o200, ".": 0o775} {
		if err := os.Chmod(filepath.Join(dir, path), mode); err != nil {
			t.Fatal(err)
		}
	}
	p.Release(dir)
	next, err := p.Acquire("second")
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{"src": 0o755, "exec": 0o755, "exec/env": 0o644, ".": 0o755} {
		fi, err := os.Stat(filepath.Join(next, path))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() & (os.ModePerm | os.ModeSetgid | os.ModeSetuid | os.ModeSticky); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(next, "exec", "env")); len(b) != 0 {
		t.Errorf("exec/env holds %q", b)
	}
}

func TestMaxIdleAndClose(t *testing.T) {
	p, root := newPool(t, 2)
	var dirs []string
	for i := range 5 {
		d, err := p.Acquire(fmt.Sprintf("b%d", i))
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		p.Release(d)
	}
	if p.Idle() != 2 {
		t.Fatalf("idle workspaces: %d, want 2", p.Idle())
	}
	if entries, _ := os.ReadDir(root); len(entries) != 2 {
		t.Fatalf("root holds %d entries, want the 2 idle ones", len(entries))
	}
	p.Close()
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Fatalf("after Close the root holds %d entries", len(entries))
	}
	// A release after Close removes its workspace.
	late, err := p.Acquire("late")
	if err != nil {
		t.Fatal(err)
	}
	p.Release(late)
	if entries, _ := os.ReadDir(root); len(entries) != 0 || p.Idle() != 0 {
		t.Fatalf("a release after Close kept its workspace: %d entries, %d idle", len(entries), p.Idle())
	}
	// Releasing a workspace that was never made is harmless.
	p.Release(filepath.Join(root, "never"))
	if p.Idle() != 0 {
		t.Fatalf("a missing workspace was kept")
	}
}

func TestBadNames(t *testing.T) {
	p, _ := newPool(t, 2)
	for _, name := range []string{"", ".", "..", "a/b", "../x", ".idle-1"} {
		if _, err := p.Acquire(name); err == nil {
			t.Errorf("Acquire(%q) succeeded", name)
		}
	}
	// Subdirectories outside a workspace are left out.
	q := New(Config{Root: t.TempDir(), Empty: []string{"../up", "/abs", "src"}, Scratch: []string{"."}})
	d, err := q.Acquire("b")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tree(t, d), " "); got != "src/" {
		t.Errorf("workspace holds %q", got)
	}
}

// TestConcurrent: builds acquiring and releasing at once each get a
// workspace of their own, empty.
func TestConcurrent(t *testing.T) {
	p, _ := newPool(t, 3)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				d, err := p.Acquire(fmt.Sprintf("w%d-%d", w, i))
				if err != nil {
					t.Error(err)
					return
				}
				if entries, _ := os.ReadDir(filepath.Join(d, "src")); len(entries) != 0 {
					t.Errorf("%s: source directory not empty", d)
				}
				write(t, filepath.Join(d, "src", "f"), d)
				p.Release(d)
			}
		}()
	}
	wg.Wait()
	if p.Idle() > 3 {
		t.Errorf("idle workspaces: %d, more than 3", p.Idle())
	}
}
