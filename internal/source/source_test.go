package source

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildbatch/buildbatch/internal/blob/fs"
)

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@x")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// repo makes a repository with three commits: c1 (tag v1), c2 on branch
// feature, c3 on main.
func repo(t *testing.T) (dir string, commits map[string]string) {
	dir = t.TempDir()
	git(t, dir, "init", "-q", "-b", "main")
	commits = map[string]string{}
	write := func(name, content string) { os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644) }
	write("f.txt", "one")
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "c1")
	git(t, dir, "tag", "-a", "v1", "-m", "v1")
	commits["c1"] = git(t, dir, "rev-parse", "HEAD")
	git(t, dir, "checkout", "-q", "-b", "feature")
	write("f.txt", "feature")
	git(t, dir, "commit", "-q", "-am", "c2")
	commits["c2"] = git(t, dir, "rev-parse", "HEAD")
	git(t, dir, "checkout", "-q", "main")
	write("f.txt", "three")
	git(t, dir, "commit", "-q", "-am", "c3")
	commits["c3"] = git(t, dir, "rev-parse", "HEAD")
	return dir, commits
}

func TestGit(t *testing.T) {
	dir, commits := repo(t)
	tests := []struct {
		name    string
		src     Source
		commit  string
		content string
	}{
		{"default branch", Source{Type: "GITHUB", Location: dir}, commits["c3"], "three"},
		{"file url, depth 1", Source{Type: "CODECOMMIT", Location: "file://" + dir, CloneDepth: 1}, commits["c3"], "three"},
		{"tag", Source{Type: "GITLAB", Location: dir, Version: "v1"}, commits["c1"], "one"},
		{"branch", Source{Type: "BITBUCKET", Location: dir, Version: "feature", CloneDepth: 1}, commits["c2"], "feature"},
		{"full commit", Source{Type: "GITHUB", Location: dir, Version: commits["c1"]}, commits["c1"], "one"},
		{"short commit", Source{Type: "GITHUB", Location: dir, Version: commits["c2"][:8]}, commits["c2"], "feature"},
		{"refs/heads", Source{Type: "GITHUB", Location: dir, Version: "refs/heads/feature"}, commits["c2"], "feature"},
	}
	f := &Fetcher{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "src")
			got, err := f.Fetch(context.Background(), tt.src, dst)
			if err != nil {
				t.Fatal(err)
			}
			content, _ := os.ReadFile(filepath.Join(dst, "f.txt"))
			if got != tt.commit || string(content) != tt.content {
				t.Errorf("Fetch = %s with f.txt %q, want %s with %q", got, content, tt.commit, tt.content)
			}
		})
	}
	for _, bad := range []Source{
		{Type: "GITHUB", Location: dir, Version: "no-such-branch"},
		{Type: "GITHUB", Location: "/does/not/exist"},
		{Type: "GITHUB", Location: "relative/path"},
		{Type: "CODEPIPELINE"},
	} {
		_, err := f.Fetch(context.Background(), bad, filepath.Join(t.TempDir(), "src"))
		var se *Error
		if !errors.As(err, &se) || se.Msg == "" {
			t.Errorf("Fetch(%+v) = %v, want a *source.Error saying why", bad, err)
		}
	}
}

func TestGitSubmodules(t *testing.T) {
	sub, _ := repo(t)
	main := t.TempDir()
	git(t, main, "init", "-q", "-b", "main")
	git(t, main, "-c", "protocol.file.allow=always", "submodule", "add", "-q", sub, "lib")
	git(t, main, "commit", "-q", "-m", "with submodule")
	dst := filepath.Join(t.TempDir(), "src")
	if _, err := (&Fetcher{}).Fetch(context.Background(), Source{Type: "GITHUB", Location: main, Submodules: true}, dst); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "lib", "f.txt")); err != nil || string(b) != "three" {
		t.Errorf("submodule content %q, %v", b, err)
	}
}

func TestS3(t *testing.T) {
	store, _ := fs.New(t.TempDir())
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("dir/a.txt")
	w.Write([]byte("zipped"))
	zw.Close()
	store.Put(context.Background(), "bucket", "src.zip", &buf)
	store.Put(context.Background(), "bucket", "folder/x/b.txt", strings.NewReader("foldered"))
	f := &Fetcher{Blob: store}
	dst := filepath.Join(t.TempDir(), "src")
	if _, err := f.Fetch(context.Background(), Source{Type: "S3", Location: "bucket/src.zip"}, dst); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "dir", "a.txt")); string(b) != "zipped" {
		t.Errorf("zip source: %q", b)
	}
	dst = filepath.Join(t.TempDir(), "src")
	if _, err := f.Fetch(context.Background(), Source{Type: "S3", Location: "arn:aws:s3:::bucket/folder"}, dst); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "x", "b.txt")); string(b) != "foldered" {
		t.Errorf("folder source: %q", b)
	}
	_, err := f.Fetch(context.Background(), Source{Type: "S3", Location: "bucket/missing.zip"}, filepath.Join(t.TempDir(), "s"))
	var se *Error
	if !errors.As(err, &se) || !strings.Contains(se.Msg, "not found") {
		t.Errorf("missing S3 source: %v", err)
	}
}

func TestAuthFor(t *testing.T) {
	a := &Auth{Username: "u", Secret: "s"}
	for _, c := range []struct {
		loc, url string // url "": no credential
	}{
		{"https://github.com/o/r.git", "https://github.com/o/r.git"},
		{"https://github.com/o/r/", "https://github.com/o/r"},
		{"http://127.0.0.1:8080/o/r.git", "http://127.0.0.1:8080/o/r.git"},
		{"http://localhost/o/r.git", "http://localhost/o/r.git"},
		{"http://git.example.com/o/r.git", ""}, // in clear to another host
		{"https://user:pw@github.com/o/r.git", ""},
		{"git@github.com:o/r.git", ""},
		{"/srv/git/r.git", ""},
		{"file:///srv/git/r.git", ""},
	} {
		got := authFor(a, c.loc)
		if (got == nil) != (c.url == "") || (got != nil && (got.url != c.url || got.Secret != "s")) {
			t.Errorf("authFor(%q) = %+v, want url %q", c.loc, got, c.url)
		}
	}
	if authFor(nil, "https://github.com/o/r.git") != nil {
		t.Error("authFor(nil) is not nil")
	}
}
