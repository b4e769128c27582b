package cli

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestParseRunFlags(t *testing.T) {
	var stderr bytes.Buffer
	o, code := parseRunFlags([]string{"-b", "ci/bs.yml", "--batch", "--env", "A=1", "--env=B=x=y", "--env-file", "f1",
		"--secondary-source", "lib=../lib", "--image", "img:1", "--executor", "docker", "--artifacts", "out", "--secrets-file", "s.json", "--verbose"}, &stderr)
	if code != -1 {
		t.Fatalf("code %d: %s", code, stderr.String())
	}
	want := runOptions{buildspec: "ci/bs.yml", batch: true, env: []string{"A=1", "B=x=y"}, envFiles: []string{"f1"},
		secondary: []string{"lib=../lib"}, image: "img:1", executor: "docker", artifacts: "out", secretsFile: "s.json", verbose: true}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("got %+v\nwant %+v", o, want)
	}

	o, code = parseRunFlags([]string{"--buildspec", "x.yml"}, &stderr)
	if code != -1 || o.buildspec != "x.yml" || o.image != "aws/codebuild/standard:7.0" || o.executor != "local" || o.artifacts != "artifacts" || o.batch {
		t.Errorf("defaults: %+v, code %d", o, code)
	}

	for _, args := range [][]string{
		{"--executor", "vm"},
		{"stray"},
		{"--no-such-flag"},
		{"--artifacts", ""},
	} {
		stderr.Reset()
		if _, code := parseRunFlags(args, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("%v: code %d, stderr %q; want 2 and a message", args, code, stderr.String())
		}
	}
	if _, code := parseRunFlags([]string{"-h"}, &stderr); code != 0 {
		t.Errorf("-h: code %d", code)
	}
}

func TestParseEnvFile(t *testing.T) {
	vars, err := parseEnvFile([]byte("# a comment\n\nA=1\r\n  export B = two words \nC=\"quoted # not a comment\"\nD='single'\nE=\nF=a=b\nG=\"unbalanced\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []envVar{{"A", "1"}, {"B", "two words"}, {"C", "quoted # not a comment"}, {"D", "single"}, {"E", ""}, {"F", "a=b"}, {"G", "\"unbalanced"}}
	if !reflect.DeepEqual(vars, want) {
		t.Errorf("got %q\nwant %q", vars, want)
	}
	for _, bad := range []string{"NOEQUALS\n", "=value\n", "TWO WORDS=x\n"} {
		if _, err := parseEnvFile([]byte("OK=1\n" + bad)); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%q: err %v, want one naming line 2", bad, err)
		}
	}
}

func TestRunEnvironment(t *testing.T) {
	files := map[string]string{"one": "A=file\nB=file\n", "two": "B=two\nC=two\n"}
	read := func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		return nil, fmt.Errorf("open %s: no such file", name)
	}
	o := runOptions{envFiles: []string{"one", "two"}, env: []string{"C=flag", "D=flag"}}
	vars, err := o.environment(read)
	if err != nil {
		t.Fatal(err)
	}
	want := []envVar{{"A", "file"}, {"B", "two"}, {"C", "flag"}, {"D", "flag"}}
	if !reflect.DeepEqual(vars, want) {
		t.Errorf("got %q, want %q", vars, want)
	}
	if _, err := (runOptions{envFiles: []string{"missing"}}).environment(read); err == nil {
		t.Error("a missing --env-file: no error")
	}
	if _, err := (runOptions{env: []string{"NOVALUE"}}).environment(read); err == nil {
		t.Error("--env NOVALUE: no error")
	}
}

func TestSecondarySources(t *testing.T) {
	got, err := runOptions{secondary: []string{"lib=../lib", "tools=https://example.com/t.git"}}.secondarySources()
	if err != nil {
		t.Fatal(err)
	}
	if want := []secondarySource{{"lib", "../lib"}, {"tools", "https://example.com/t.git"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range [][]string{{"lib"}, {"=dir"}, {"lib="}, {"a=x", "a=y"}} {
		if _, err := (runOptions{secondary: bad}).secondarySources(); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
	for s, want := range map[string]bool{"https://h/r.git": true, "file:///srv/r": true, "git@github.com:o/r.git": true, "../lib": false, "/abs/dir": false} {
		if isGitURL(s) != want {
			t.Errorf("isGitURL(%q) = %v", s, !want)
		}
	}
}

func TestHasArtifacts(t *testing.T) {
	for spec, want := range map[string]bool{
		"version: 0.2\nartifacts:\n  files: ['**/*']\n":                                  true,
		"version: 0.2\nartifacts :\n  files: [a]\n":                                      true,
		"version: 0.2\r\nartifacts:\r\n  files: [a]\r\n":                                 true,
		"version: 0.2\nphases:\n  build:\n    commands: [ls]\n":                          false,
		"version: 0.2\nenv:\n  variables:\n    artifacts: x\n":                           false,
		"version: 0.2\n# artifacts:\n":                                                   false,
		"version: 0.2\nphases:\n  build:\n    commands:\n      - echo artifacts: none\n": false,
	} {
		if got := hasArtifacts([]byte(spec)); got != want {
			t.Errorf("hasArtifacts(%q) = %v", spec, got)
		}
	}
}

func TestEnteringPhase(t *testing.T) {
	for line, want := range map[string]string{
		"[Container] 2026/11/27 16:00:54.374974 Entering phase BUILD":  "BUILD",
		"[Container] 2026/11/27 16:00:54.374974 Phase complete: BUILD": "",
		"Entering phase BUILD":                   "", // the build's own output
		"b | [Container] x Entering phase BUILD": "",
	} {
		if got := enteringPhase(line); got != want {
			t.Errorf("enteringPhase(%q) = %q, want %q", line, got, want)
		}
	}
}

func TestLineSplitter(t *testing.T) {
	var l lineSplitter
	var got []string
	for _, piece := range []string{"a\nb", "c\n", "", "\n", "d\ne\nf"} {
		got = append(got, l.lines(piece)...)
	}
	got = append(got, l.rest()...)
	if want := []string{"a", "bc", "", "d", "e", "f"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if r := l.rest(); r != nil {
		t.Errorf("rest twice: %q", r)
	}
}

func TestProjectName(t *testing.T) {
	for dir, want := range map[string]string{"/home/u/my app.v2": "my-app-v2", "/": "local", "/x": "local", "/src/api_server": "api_server"} {
		if got := projectName(dir); got != want {
			t.Errorf("projectName(%q) = %q, want %q", dir, got, want)
		}
	}
}

func TestZipTree(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{"a.txt": "A", "sub/b.sh": "#!/bin/sh\n", ".git/HEAD": "ref", "artifacts/old.txt": "old"} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(dir, "sub/b.sh"), 0o755)
	if err := os.Symlink("a.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := zipTree(context.Background(), dir, []string{filepath.Join(dir, "artifacts")}, &buf); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		desc := f.Name
		switch {
		case f.Mode()&os.ModeSymlink != 0:
			desc += " symlink"
		case !f.Mode().IsDir() && f.Mode()&0o100 != 0:
			desc += " exec"
		}
		names = append(names, desc)
	}
	sort.Strings(names)
	want := []string{".git/", ".git/HEAD", "a.txt", "link symlink", "sub/", "sub/b.sh exec"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("zip holds %q, want %q", names, want)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := zipTree(ctx, dir, nil, &bytes.Buffer{}); err == nil {
		t.Error("a cancelled zipTree: no error")
	}
}

func TestRunUsageInDirWithoutBuildspec(t *testing.T) {
	t.Chdir(t.TempDir())
	var stdout, stderr bytes.Buffer
	if code := Main(context.Background(), []string{"run"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "no buildspec.yml") {
		t.Errorf("code %d, stderr %q", code, stderr.String())
	}
}
