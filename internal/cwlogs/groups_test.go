package cwlogs

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/buildbatch/buildbatch/internal/awsjson"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
	"github.com/buildbatch/buildbatch/internal/store/sqlite"
)

// The groups found for one page are kept for the next pages, but a group
// the kept ones lack (a project made since) is found at once.
func TestGroupsKept(t *testing.T) {
	ctx := awsjson.WithCaller(context.Background(), awsjson.Caller{Account: "111122223333", Region: "us-east-1"})
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	scope := store.Scope{Account: "111122223333", Region: "us-east-1"}
	add := func(name string) {
		t.Helper()
		now := cb.At(time.Now())
		if err := st.Update(ctx, func(tx store.Tx) error {
			return tx.ProjectInsert(ctx, scope, &cb.Project{Name: cb.String(name), Created: now, LastModified: now})
		}); err != nil {
			t.Fatal(err)
		}
	}
	a := New(Options{Store: st})
	add("first")
	if g, err := a.group(ctx, "/aws/codebuild/first"); err != nil || g.projects[0] != "first" {
		t.Fatalf("group of first: %+v %v", g, err)
	}
	add("second")
	if g, err := a.group(ctx, "/aws/codebuild/second"); err != nil || g.projects[0] != "second" {
		t.Fatalf("group of a project made since: %+v %v", g, err)
	}
	if _, err := a.group(ctx, "/aws/codebuild/none"); !errors.Is(err, errNoGroup) {
		t.Errorf("unknown group: %v", err)
	}
	other := awsjson.WithCaller(context.Background(), awsjson.Caller{Account: "444455556666", Region: "us-east-1"})
	if _, err := a.group(other, "/aws/codebuild/first"); !errors.Is(err, errNoGroup) {
		t.Errorf("another account's group: %v", err)
	}
}
