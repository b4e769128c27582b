package archive

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(src, "a", "b", "f.txt"), []byte("content"), 0o640)
	os.WriteFile(filepath.Join(src, "run.sh"), []byte("#!/bin/sh\n"), 0o755)
	os.Symlink("b/f.txt", filepath.Join(src, "a", "link"))
	var buf bytes.Buffer
	if err := Pack(&buf, src, "codebuild/output/src1/src"); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if err := Unpack(bytes.NewReader(buf.Bytes()), dst, 4); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(dst, "a", "b", "f.txt")); string(data) != "content" {
		t.Errorf("file %q", data)
	}
	if info, _ := os.Stat(filepath.Join(dst, "run.sh")); info == nil || info.Mode().Perm()&0o100 == 0 {
		t.Errorf("mode lost: %v", info)
	}
	if l, _ := os.Readlink(filepath.Join(dst, "a", "link")); l != "b/f.txt" {
		t.Errorf("link %q", l)
	}
	// CopyDir merges and keeps the modes of directories that exist.
	os.Chmod(dst, 0o700)
	if err := CopyDir(src, dst); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(dst); info.Mode().Perm() != 0o700 {
		t.Errorf("existing directory's mode changed to %v", info.Mode().Perm())
	}
}

func tarOf(t testing.TB, entries ...tar.Header) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		h := h
		body := ""
		if h.Typeflag == tar.TypeReg {
			body = "x"
			h.Size = 1
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	return buf.Bytes()
}

func TestUnpackStaysInside(t *testing.T) {
	for _, h := range []tar.Header{
		{Typeflag: tar.TypeReg, Name: "../escape", Mode: 0o644},
		{Typeflag: tar.TypeReg, Name: "a/../../escape", Mode: 0o644},
		{Typeflag: tar.TypeReg, Name: "/abs/escape", Mode: 0o644},
	} {
		dst := filepath.Join(t.TempDir(), "in")
		Unpack(bytes.NewReader(tarOf(t, h)), dst, 0)
		if _, err := os.Stat(filepath.Join(filepath.Dir(dst), "escape")); err == nil {
			t.Errorf("%s escaped the target", h.Name)
		}
	}
	// Through a symbolic link.
	root := t.TempDir()
	dst := filepath.Join(root, "in")
	outside := filepath.Join(root, "outside")
	os.MkdirAll(outside, 0o755)
	err := Unpack(bytes.NewReader(tarOf(t, tar.Header{Typeflag: tar.TypeSymlink, Name: "s", Linkname: outside},
		tar.Header{Typeflag: tar.TypeReg, Name: "s/planted", Mode: 0o644})), dst, 0)
	if _, serr := os.Stat(filepath.Join(outside, "planted")); serr == nil || err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("wrote through a symbolic link: %v", err)
	}
}

func FuzzUnpack(f *testing.F) {
	f.Add(tarOf(f, tar.Header{Typeflag: tar.TypeDir, Name: "d/", Mode: 0o755}, tar.Header{Typeflag: tar.TypeReg, Name: "d/f", Mode: 0o644}), 0)
	f.Add(tarOf(f, tar.Header{Typeflag: tar.TypeSymlink, Name: "s", Linkname: "/etc"}, tar.Header{Typeflag: tar.TypeReg, Name: "x/../../y", Mode: 0o644}), 1)
	f.Fuzz(func(t *testing.T, data []byte, strip int) {
		root := t.TempDir()
		dst := filepath.Join(root, "in")
		Unpack(bytes.NewReader(data), dst, strip%4)
		ents, _ := os.ReadDir(root)
		for _, e := range ents {
			if e.Name() != "in" {
				t.Fatalf("wrote %s outside the target", e.Name())
			}
		}
		if _, err := os.Stat("/etc/x"); err == nil {
			t.Fatalf("wrote /etc/x")
		}
	})
}
