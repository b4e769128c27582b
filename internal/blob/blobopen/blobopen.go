// Package blobopen opens the blob store that the --blob setting names. It
// is apart from package blob so that blob needs none of its
// implementations.
package blobopen

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/buildbatch/buildbatch/internal/blob"
	"github.com/buildbatch/buildbatch/internal/blob/fs"
	"github.com/buildbatch/buildbatch/internal/blob/s3"
)

// Open opens the store of spec: "" is the filesystem store in
// <dataDir>/artifacts, s3://BUCKET[/PREFIX]?endpoint=URL[&path-style=true][&region=R]
// a bucket of S3 or of an S3-compatible server (credentials from the
// usual AWS sources). It also returns a line that says which store it is,
// for the server's start-up output. Errors begin with "--blob".
func Open(ctx context.Context, spec, dataDir string) (blob.Store, string, error) {
	switch {
	case spec == "":
		dir := filepath.Join(dataDir, "artifacts")
		st, err := fs.New(dir)
		if err != nil {
			return nil, "", fmt.Errorf("--blob: %w", err)
		}
		return st, "fs (" + dir + ")", nil
	case len(spec) >= len("s3://") && strings.EqualFold(spec[:len("s3://")], "s3://"):
		o, err := s3.ParseURL(spec)
		if err != nil {
			return nil, "", fmt.Errorf("--blob: %w", err)
		}
		st, err := s3.New(ctx, o)
		if err != nil {
			return nil, "", fmt.Errorf("--blob: %w", err)
		}
		return st, st.Describe(), nil
	}
	return nil, "", fmt.Errorf("--blob %q: want an s3:// URL (or nothing, for files under the data directory)", spec)
}
