// Package archive moves directory trees in and out of build environments as
// tar streams (the Docker Engine's archive format).
package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Pack writes the contents of hostDir as a tar stream whose names start
// with prefix (a slash-separated path without a leading slash; "" for
// none). The directories of prefix itself are written first, so that an
// extraction creates them.
func Pack(w io.Writer, hostDir, prefix string) error {
	tw := tar.NewWriter(w)
	prefix = strings.Trim(path.Clean("/"+prefix), "/")
	if prefix != "" {
		parts := strings.Split(prefix, "/")
		for i := range parts {
			dir := strings.Join(parts[:i+1], "/")
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755}); err != nil {
				return err
			}
		}
	}
	err := filepath.WalkDir(hostDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(hostDir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return nil // sockets and the like are skipped
		}
		hdr.Name = path.Join(prefix, filepath.ToSlash(rel))
		if d.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// Unpack extracts a tar stream into hostDir, dropping the first strip
// components of every name. Names that would land outside hostDir are
// refused.
func Unpack(r io.Reader, hostDir string, strip int) error {
	tr := tar.NewReader(r)
	strip = max(strip, 0)
	if err := os.MkdirAll(hostDir, 0o755); err != nil {
		return err
	}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := strings.Trim(path.Clean("/"+hdr.Name), "/")
		parts := strings.Split(name, "/")
		if name == "" || len(parts) < strip {
			continue
		}
		parts = parts[strip:]
		rel := filepath.FromSlash(strings.Join(parts, "/"))
		dst := filepath.Join(hostDir, rel)
		if rel == "" {
			dst = hostDir
		}
		if !within(hostDir, dst) {
			return fmt.Errorf("archive entry %q is outside the target", hdr.Name)
		}
		if err := noLinkedParent(hostDir, dst); err != nil {
			return err
		}
		mode := fs.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if _, err := os.Lstat(dst); err == nil {
				continue // an existing directory keeps its mode
			}
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			os.Chmod(dst, mode|0o700)
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			os.Remove(dst)
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode|0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			os.Chtimes(dst, hdr.ModTime, hdr.ModTime)
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			os.Remove(dst)
			if err := os.Symlink(hdr.Linkname, dst); err != nil {
				return err
			}
		case tar.TypeLink:
			target := strings.Split(strings.Trim(path.Clean("/"+hdr.Linkname), "/"), "/")
			if len(target) <= strip {
				continue
			}
			src := filepath.Join(hostDir, filepath.FromSlash(strings.Join(target[strip:], "/")))
			if !within(hostDir, src) || noLinkedParent(hostDir, src) != nil {
				return fmt.Errorf("archive link %q is outside the target", hdr.Linkname)
			}
			os.Remove(dst)
			if err := os.Link(src, dst); err != nil {
				return err
			}
		}
	}
}

// noLinkedParent refuses a path whose parent directories (below root)
// include a symbolic link, through which an entry could land outside root.
func noLinkedParent(root, p string) error {
	rel, err := filepath.Rel(root, filepath.Dir(p))
	if err != nil || rel == "." {
		return err
	}
	cur := root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		cur = filepath.Join(cur, part)
		info, err := os.Lstat(cur)
		if err != nil {
			return nil // not there yet: it will be made a directory
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("archive entry %s is below a symbolic link", p)
		}
	}
	return nil
}

func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// CopyDir copies the contents of src into dst on this machine (through a
// tar stream, so the result is what an extraction in a container gives).
func CopyDir(src, dst string) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(Pack(pw, src, "")) }()
	err := Unpack(pr, dst, 0)
	pr.CloseWithError(errors.New("copy ended"))
	return err
}
