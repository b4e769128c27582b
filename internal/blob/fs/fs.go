// Package fs is a blob.Store on the local filesystem: bucket/key map to
// <root>/<bucket>/<key>, so artifacts can be looked at with ls and unzip.
package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/buildbatch/buildbatch/internal/blob"
)

// Store is the filesystem store.
type Store struct{ root string }

var _ blob.Store = (*Store)(nil)

// New returns a store rooted at dir.
func New(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &Store{root: dir}, nil
}

// Root is the directory of the store.
func (s *Store) Root() string { return s.root }

// Path returns the file of an object, checking that it stays in its bucket.
func (s *Store) Path(bucket, key string) (string, error) {
	if bucket == "" || strings.ContainsAny(bucket, "/\\") || bucket == "." || bucket == ".." {
		return "", fmt.Errorf("invalid bucket name %q", bucket)
	}
	clean := path.Clean("/" + key)
	if clean == "/" && key != "" && key != "/" {
		return "", fmt.Errorf("invalid key %q", key)
	}
	return filepath.Join(s.root, bucket, filepath.FromSlash(clean)), nil
}

// Put implements blob.Store: written to a temporary file, then renamed.
func (s *Store) Put(ctx context.Context, bucket, key string, r io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := s.Path(bucket, key)
	if err != nil {
		return err
	}
	if path.Clean("/"+key) == "/" {
		return fmt.Errorf("put s3://%s/: empty key", bucket)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return err
	}
	if _, err := io.Copy(tmp, ctxReader{ctx, r}); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	// Objects are readable as files are (CreateTemp makes them 0600).
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		os.RemoveAll(p)
	}
	return os.Rename(tmp.Name(), p)
}

// ctxReader fails reads once its context is done, so that a Put ends
// with its context.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// missing reports whether err means that a file is not there: it does
// not exist, or one of its parents is a file (an object) rather than a
// folder.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Open implements blob.Store.
func (s *Store) Open(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := s.Path(bucket, key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if missing(err) {
		return nil, fmt.Errorf("s3://%s/%s: %w", bucket, key, blob.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("s3://%s/%s is a folder: %w", bucket, key, blob.ErrNotFound)
	}
	return f, nil
}

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, bucket, key string) (blob.Info, error) {
	if err := ctx.Err(); err != nil {
		return blob.Info{}, err
	}
	p, err := s.Path(bucket, key)
	if err != nil {
		return blob.Info{}, err
	}
	st, err := os.Stat(p)
	if missing(err) || err == nil && st.IsDir() {
		return blob.Info{}, fmt.Errorf("s3://%s/%s: %w", bucket, key, blob.ErrNotFound)
	}
	if err != nil {
		return blob.Info{}, err
	}
	return blob.Info{Size: st.Size(), Modified: st.ModTime()}, nil
}

// List implements blob.Store.
func (s *Store) List(ctx context.Context, bucket, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	base, err := s.Path(bucket, "")
	if err != nil {
		return nil, err
	}
	start, err := s.Path(bucket, prefix)
	if err != nil {
		return nil, err
	}
	var keys []string
	err = filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if missing(err) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".put-") {
			return nil
		}
		rel, _ := filepath.Rel(base, p)
		keys = append(keys, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(keys)
	return keys, nil
}

// Delete implements blob.Store.
func (s *Store) Delete(ctx context.Context, bucket, prefix string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := s.Path(bucket, prefix)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(p); err != nil && !missing(err) {
		return err
	}
	return nil
}
