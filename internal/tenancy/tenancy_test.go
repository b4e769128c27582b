package tenancy

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildbatch/buildbatch/internal/blob/fs"
	"github.com/buildbatch/buildbatch/internal/store"
	"github.com/buildbatch/buildbatch/internal/store/sqlite"
)

func TestGuard(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	blobs, err := fs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	// An operator's object in a bucket no one owns yet.
	if err := blobs.Put(ctx, "by-hand", "src.zip", strings.NewReader("zip")); err != nil {
		t.Fatal(err)
	}
	aEast := store.Scope{Account: "111111111111", Region: "us-east-1"}
	aWest := store.Scope{Account: "111111111111", Region: "eu-west-1"}
	bEast := store.Scope{Account: "222222222222", Region: "us-east-1"}
	guard := map[store.Scope]*Guard{aEast: New(blobs, st, aEast), aWest: New(blobs, st, aWest), bEast: New(blobs, st, bEast)}

	steps := []struct {
		name   string
		as     store.Scope
		op     string // put, open, list, delete
		bucket string
		denied string // "" (allowed), "account" or "region"
	}{
		{"anyone reads an unowned bucket", bEast, "open", "by-hand", ""},
		{"anyone lists an unowned bucket", aWest, "list", "by-hand", ""},
		{"the first writer owns it", aEast, "put", "by-hand", ""},
		{"then another account cannot read it", bEast, "open", "by-hand", "account"},
		{"nor list it", bEast, "list", "by-hand", "account"},
		{"nor write it", bEast, "put", "by-hand", "account"},
		{"nor delete in it", bEast, "delete", "by-hand", "account"},
		{"nor the owner's account in another region", aWest, "open", "by-hand", "region"},
		{"the owner reads it", aEast, "open", "by-hand", ""},
		{"a new bucket is its first writer's", bEast, "put", "b-artifacts", ""},
		{"and no one else's", aEast, "put", "b-artifacts", "account"},
		{"its owner deletes in it", bEast, "delete", "b-artifacts", ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			g := guard[s.as]
			var err error
			switch s.op {
			case "put":
				err = g.Put(ctx, s.bucket, "k", strings.NewReader("v"))
			case "open":
				var rc io.ReadCloser
				if rc, err = g.Open(ctx, s.bucket, "src.zip"); err == nil {
					rc.Close()
				}
			case "list":
				_, err = g.List(ctx, s.bucket, "")
			case "delete":
				err = g.Delete(ctx, s.bucket, "k")
			}
			var de *DeniedError
			switch {
			case s.denied == "" && err != nil:
				t.Errorf("%s: %v", s.op, err)
			case s.denied != "" && !errors.As(err, &de):
				t.Errorf("%s: %v, want AccessDenied", s.op, err)
			case s.denied == "region" && (de.Region != "us-east-1" || !strings.Contains(err.Error(), "region us-east-1")):
				t.Errorf("%s: %v, want the region named", s.op, err)
			case s.denied == "account" && (de.Region != "" || strings.Contains(err.Error(), "111111111111") || strings.Contains(err.Error(), "222222222222")):
				t.Errorf("%s: %v (another account's denial names no account)", s.op, err)
			}
		})
	}
	if rc, err := blobs.Open(ctx, "by-hand", "k"); err != nil {
		t.Errorf("the owner's object: %v", err)
	} else {
		data, _ := io.ReadAll(rc)
		rc.Close()
		if string(data) != "v" {
			t.Errorf("the owner's object = %q", data)
		}
	}
}
