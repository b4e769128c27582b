// Package blob is where artifacts, S3 sources and caches live: buckets of
// objects by key, as in S3. The default, ./fs, keeps them in a directory
// laid out as <bucket>/<key>; an S3 implementation can come later.
package blob

import (
	"context"
	"errors"
	"io"
)

// ErrNotFound is returned for a missing object.
var ErrNotFound = errors.New("no such object")

// Store is a set of buckets.
type Store interface {
	// Put writes an object, replacing any object of that key.
	Put(ctx context.Context, bucket, key string, r io.Reader) error
	// Open reads an object.
	Open(ctx context.Context, bucket, key string) (io.ReadCloser, error)
	// List returns the keys under prefix (a "folder" when it ends in /).
	List(ctx context.Context, bucket, prefix string) ([]string, error)
	// Delete removes every object under prefix (the object itself, or a
	// folder's objects).
	Delete(ctx context.Context, bucket, prefix string) error
}
