package blobopen

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildbatch/buildbatch/internal/blob/fs"
	"github.com/buildbatch/buildbatch/internal/blob/s3"
	"github.com/buildbatch/buildbatch/internal/blob/s3/s3test"
)

var ctx = context.Background()

func TestFS(t *testing.T) {
	dir := t.TempDir()
	st, info, err := Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := st.(*fs.Store)
	if !ok || f.Root() != filepath.Join(dir, "artifacts") {
		t.Fatalf("Open(\"\") = %T %v", st, st)
	}
	if want := "fs (" + filepath.Join(dir, "artifacts") + ")"; info != want {
		t.Errorf("info %q, want %q", info, want)
	}
}

func TestS3(t *testing.T) {
	srv := s3test.Start(t)
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	st, info, err := Open(ctx, srv.URL(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(*s3.Store); !ok || !strings.HasPrefix(info, "s3 (bucket "+srv.Bucket+", prefix test-") || !strings.Contains(info, srv.Endpoint) {
		t.Errorf("Open = %T, %q", st, info)
	}
	// A bucket that is not there.
	_, _, err = Open(ctx, "s3://nope?endpoint="+srv.Endpoint, t.TempDir())
	if err == nil || !strings.HasPrefix(err.Error(), "--blob: ") || !strings.Contains(err.Error(), "nope") {
		t.Errorf("Open of a missing bucket: %v", err)
	}
}

func TestErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"file:///x":                    "--blob \"file:///x\": want an s3:// URL",
		"/some/dir":                    "want an s3:// URL",
		"s3://":                        "--blob: s3 URL \"s3://\": no bucket",
		"S3://":                        "--blob: s3 URL \"S3://\": no bucket",
		"s3://b?endpoint=ftp://x":      "--blob: s3 URL",
		"s3://b?endpoint=http://h&x=1": "unknown parameter",
	} {
		if _, _, err := Open(ctx, spec, t.TempDir()); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q): %v, want %q", spec, err, want)
		}
	}
}
