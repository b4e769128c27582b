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
	p, err := s.Path(bucket, key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return err
	}
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		os.RemoveAll(p)
	}
	return os.Rename(tmp.Name(), p)
}

// Open implements blob.Store.
func (s *Store) Open(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	p, err := s.Path(bucket, key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
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

// List implements blob.Store.
func (s *Store) List(ctx context.Context, bucket, prefix string) ([]string, error) {
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
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".put-") {
			return nil
		}
		rel, _ := filepath.Rel(base, p)
		keys = append(keys, filepath.ToSlash(rel))
		return nil
	})
	sort.Strings(keys)
	return keys, err
}

// Delete implements blob.Store.
func (s *Store) Delete(ctx context.Context, bucket, prefix string) error {
	p, err := s.Path(bucket, prefix)
	if err != nil {
		return err
	}
	return os.RemoveAll(p)
}
