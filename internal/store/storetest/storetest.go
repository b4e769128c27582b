// Package storetest is the conformance suite of store.Store: every
// implementation runs Run from its own tests.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
)

// Opener opens a fresh, empty store; reopen opens the same one again (to
// check what survives a restart); it may be nil if the store is not durable.
type Opener func(t *testing.T) (open func() store.Store)

// Run runs the suite.
func Run(t *testing.T, newStore Opener) {
	t.Run("Projects", func(t *testing.T) { testProjects(t, newStore(t)()) })
	t.Run("ProjectList", func(t *testing.T) { testProjectList(t, newStore(t)()) })
	t.Run("Scopes", func(t *testing.T) { testScopes(t, newStore(t)()) })
	t.Run("Durable", func(t *testing.T) { testDurable(t, newStore(t)) })
	t.Run("Rollback", func(t *testing.T) { testRollback(t, newStore(t)()) })
	t.Run("Builds", func(t *testing.T) { testBuilds(t, newStore(t)()) })
	t.Run("Counters", func(t *testing.T) { testCounters(t, newStore(t)()) })
	t.Run("Idempotency", func(t *testing.T) { testIdempotency(t, newStore(t)()) })
	t.Run("Batches", func(t *testing.T) { testBatches(t, newStore(t)()) })
	t.Run("Docs", func(t *testing.T) { testDocs(t, newStore(t)()) })
	t.Run("Revisions", func(t *testing.T) { testRevisions(t, newStore(t)()) })
	t.Run("Claims", func(t *testing.T) { testClaims(t, newStore(t)()) })
	t.Run("ReleaseAndQueue", func(t *testing.T) { testReleaseAndQueue(t, newStore(t)()) })
	t.Run("Renew", func(t *testing.T) { testRenew(t, newStore(t)()) })
	t.Run("ConcurrentClaims", func(t *testing.T) { testConcurrentClaims(t, newStore(t)()) })
	t.Run("ReportGroups", func(t *testing.T) { testReportGroups(t, newStore(t)()) })
	t.Run("ReportGroupList", func(t *testing.T) { testReportGroupList(t, newStore(t)()) })
	t.Run("Reports", func(t *testing.T) { testReports(t, newStore(t)()) })
	t.Run("ReportList", func(t *testing.T) { testReportList(t, newStore(t)()) })
	t.Run("Buckets", func(t *testing.T) { testBuckets(t, newStore(t)) })
	t.Run("Resources", func(t *testing.T) { testResources(t, newStore(t)()) })
	t.Run("FleetClaims", func(t *testing.T) { testFleetClaims(t, newStore(t)()) })
	t.Run("ListAfter", func(t *testing.T) { testListAfter(t, newStore(t)()) })
}

var (
	ctx   = context.Background()
	scope = store.Scope{Account: "111122223333", Region: "us-east-1"}
	t0    = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

func project(name string, created, modified time.Time) *cb.Project {
	return &cb.Project{Name: cb.String(name), Arn: cb.String("arn:" + name), Created: cb.At(created), LastModified: cb.At(modified),
		Environment: &cb.ProjectEnvironment{Type: cb.String("LINUX_CONTAINER"), EnvironmentVariables: []cb.EnvironmentVariable{}},
		Tags:        []cb.Tag{{Key: cb.String("k"), Value: cb.String("v")}}, ConcurrentBuildLimit: cb.Int32(3)}
}

func mustUpdate(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

func testProjects(t *testing.T, s store.Store) {
	defer s.Close()
	p := project("alpha", t0, t0)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.ProjectInsert(ctx, scope, p) })
	err := s.Update(ctx, func(tx store.Tx) error { return tx.ProjectInsert(ctx, scope, p) })
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("second ProjectInsert = %v, want ErrConflict", err)
	}
	var got *cb.Project
	s.View(ctx, func(tx store.Tx) error { got, err = tx.ProjectGet(ctx, scope, "alpha"); return err })
	if err != nil || cb.Deref(got.Arn) != "arn:alpha" || !got.Created.Equal(t0) || len(got.Tags) != 1 || cb.Deref(got.ConcurrentBuildLimit) != 3 ||
		got.Environment.EnvironmentVariables == nil {
		t.Errorf("ProjectGet = %+v, %v", got, err)
	}
	got.Description = cb.String("changed")
	mustUpdate(t, s, func(tx store.Tx) error { return tx.ProjectPut(ctx, scope, got) })
	s.View(ctx, func(tx store.Tx) error { got, err = tx.ProjectGet(ctx, scope, "alpha"); return err })
	if cb.Deref(got.Description) != "changed" {
		t.Errorf("after ProjectPut, description = %q", cb.Deref(got.Description))
	}
	err = s.Update(ctx, func(tx store.Tx) error { return tx.ProjectPut(ctx, scope, project("ghost", t0, t0)) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ProjectPut(ghost) = %v, want ErrNotFound", err)
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.ProjectDelete(ctx, scope, "alpha") })
	err = s.View(ctx, func(tx store.Tx) error { _, err := tx.ProjectGet(ctx, scope, "alpha"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ProjectGet after delete = %v, want ErrNotFound", err)
	}
	err = s.Update(ctx, func(tx store.Tx) error { return tx.ProjectDelete(ctx, scope, "alpha") })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second ProjectDelete = %v, want ErrNotFound", err)
	}
}

func testProjectList(t *testing.T, s store.Store) {
	defer s.Close()
	// Names ascending; created descending relative to names; modified mixed.
	names := []string{"a", "b", "c", "d", "e"}
	mod := []int{3, 1, 4, 0, 2}
	mustUpdate(t, s, func(tx store.Tx) error {
		for i, n := range names {
			p := project(n, t0.Add(time.Duration(len(names)-i)*time.Second), t0.Add(time.Duration(mod[i])*time.Second))
			if err := tx.ProjectInsert(ctx, scope, p); err != nil {
				return err
			}
		}
		return nil
	})
	tests := []struct {
		by   store.ProjectSort
		desc bool
		want string
	}{
		{store.ProjectsByName, false, "[a b c d e]"},
		{store.ProjectsByName, true, "[e d c b a]"},
		{store.ProjectsByCreated, false, "[e d c b a]"},
		{store.ProjectsByCreated, true, "[a b c d e]"},
		{store.ProjectsByModified, false, "[d b e a c]"},
		{store.ProjectsByModified, true, "[c a e b d]"},
	}
	for _, tt := range tests {
		for _, limit := range []int{1, 2, 5, 100} {
			var all []string
			var after *store.Cursor
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatal("pagination does not end")
				}
				var page []string
				var next *store.Cursor
				err := s.View(ctx, func(tx store.Tx) error {
					var err error
					page, next, err = tx.ProjectList(ctx, scope, tt.by, store.Page{After: after, Limit: limit, Descending: tt.desc})
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > limit {
					t.Fatalf("page of %d > limit %d", len(page), limit)
				}
				all = append(all, page...)
				if next == nil {
					break
				}
				after = next
			}
			if got := fmt.Sprint(all); got != tt.want {
				t.Errorf("ProjectList(by %d, desc %v, limit %d) = %s, want %s", tt.by, tt.desc, limit, got, tt.want)
			}
		}
	}
}

func testScopes(t *testing.T, s store.Store) {
	defer s.Close()
	other := []store.Scope{{Account: "111122223333", Region: "eu-west-1"}, {Account: "999999999999", Region: "us-east-1"}}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.ProjectInsert(ctx, scope, project("shared", t0, t0)) })
	for _, o := range other {
		err := s.View(ctx, func(tx store.Tx) error { _, err := tx.ProjectGet(ctx, o, "shared"); return err })
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ProjectGet from %+v = %v, want ErrNotFound", o, err)
		}
		var names []string
		s.View(ctx, func(tx store.Tx) error {
			names, _, err = tx.ProjectList(ctx, o, store.ProjectsByName, store.Page{Limit: 10})
			return err
		})
		if len(names) != 0 {
			t.Errorf("ProjectList from %+v = %v, want none", o, names)
		}
		// The same name may exist in another scope.
		mustUpdate(t, s, func(tx store.Tx) error { return tx.ProjectInsert(ctx, o, project("shared", t0, t0)) })
	}
}

func testDurable(t *testing.T, open func() store.Store) {
	s := open()
	mustUpdate(t, s, func(tx store.Tx) error { return tx.ProjectInsert(ctx, scope, project("kept", t0, t0)) })
	// Revisions, leases, stop requests and what is queued.
	until := t0.Add(time.Hour + 123*time.Nanosecond)
	x := batchDoc("p", 1, cb.StatusTypeInProgress)
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.BatchInsert(ctx, x); err != nil {
			return err
		}
		if err := tx.BatchPut(ctx, x); err != nil {
			return err
		}
		for i := range 3 {
			if err := tx.BuildInsert(ctx, queuedBuild(scope, "p", int64(i+1))); err != nil {
				return err
			}
		}
		if _, err := tx.BuildClaim(ctx, store.Claim{Node: "A", Now: t0, Until: until, Limit: 1}); err != nil {
			return err
		}
		return tx.BuildRequestStop(ctx, scope, "p:1")
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open()
	defer s.Close()
	err := s.View(ctx, func(tx store.Tx) error { _, err := tx.ProjectGet(ctx, scope, "kept"); return err })
	if err != nil {
		t.Errorf("after reopen, ProjectGet = %v", err)
	}
	if b := getBuild(t, s, scope, "p:1"); b.Rev != 2 || b.Node != "A" || !b.LeaseUntil.Equal(until) || !b.StopRequested {
		t.Errorf("after reopen, build: Rev %d Node %q LeaseUntil %v StopRequested %v", b.Rev, b.Node, b.LeaseUntil, b.StopRequested)
	}
	if b := getBatch(t, s, "p:b1"); b.Rev != 2 {
		t.Errorf("after reopen, batch Rev %d, want 2", b.Rev)
	}
	if got := claim(t, s, store.Claim{Node: "B", Now: t0, Until: until, Limit: 1}); ids(got) != "[p:2]" {
		t.Errorf("after reopen, BuildClaim = %s, want [p:2]", ids(got))
	}
	if l := renew(t, s, "A", until); leaseIDs(l) != "[p:1!]" {
		t.Errorf("after reopen, BuildRenew = %s, want [p:1!]", leaseIDs(l))
	}
}

func testRollback(t *testing.T, s store.Store) {
	defer s.Close()
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.ProjectInsert(ctx, scope, project("ghost", t0, t0)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	err = s.View(ctx, func(tx store.Tx) error { _, err := tx.ProjectGet(ctx, scope, "ghost"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rolled-back insert is visible: %v", err)
	}
}
