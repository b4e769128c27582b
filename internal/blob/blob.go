// Package blob is where artifacts, S3 sources and caches live: buckets of
// objects by key, as in S3. The default, ./fs, keeps them in a directory
// laid out as <bucket>/<key>; ./s3 keeps them in one bucket of an S3 (or
// S3-compatible) service, under <prefix>/<bucket>/<key>; ./blobopen picks
// one from the --blob setting. ./blobtest is the conformance suite that
// every implementation passes: it enforces the semantics below.
//
// Keys are slash-separated paths, cleaned as path.Clean does: leading,
// trailing and repeated slashes and "." elements are dropped and ".."
// elements resolved, so "/a//b/./c/" names the object "a/b/c". A key that
// climbs out of its bucket ("..", "a/../..") is invalid. Prefixes are
// cleaned the same way, and name a path, not a string prefix: the prefix
// "a/b" (or "a/b/") covers the object "a/b" and every object whose key
// begins with "a/b/", never "a/bc"; the prefix "" covers the whole bucket.
// A key cannot be both an object and a folder of other objects at once
// (the filesystem cannot hold "a/b" and "a/b/c" together): what a Put does
// to the other is undefined.
//
// A bucket name is non-empty, without / or \, and not "." or "..". A
// bucket that was never written to is empty, not an error.
package blob

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned for a missing object.
var ErrNotFound = errors.New("no such object")

// Store is a set of buckets. Its methods are safe for concurrent use, and
// each returns ctx's error if ctx is done before it starts.
// CacheBucket is buildbatch's own bucket of LOCAL caches, kept under
// <account>/<region>/<project>/ (the runner saves them, InvalidateProjectCache
// deletes them); S3 clients cannot reach it.
const CacheBucket = "buildbatch-cache"

type Store interface {
	// Put writes an object, replacing any object of that key; an empty key
	// is an error. It either stores all of r or, when r, ctx or the store
	// fails, nothing: the object before the Put (if any) stays.
	Put(ctx context.Context, bucket, key string, r io.Reader) error
	// Open reads an object. A missing object (a missing bucket, a folder
	// that is no object, an empty key) is an error wrapping ErrNotFound.
	Open(ctx context.Context, bucket, key string) (io.ReadCloser, error)
	// List returns the keys under prefix (the object of that key and a
	// folder's objects; a trailing / makes no difference), cleaned and
	// sorted in byte order; none is no error.
	List(ctx context.Context, bucket, prefix string) ([]string, error)
	// Stat describes an object: its size and when it was last written. A
	// missing object is an error wrapping ErrNotFound, as for Open.
	Stat(ctx context.Context, bucket, key string) (Info, error)
	// Delete removes every object under prefix (the object itself, or a
	// folder's objects): the objects List returns. Nothing there is no
	// error.
	Delete(ctx context.Context, bucket, prefix string) error
}

// Info describes an object.
type Info struct {
	Size     int64
	Modified time.Time
}
