package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
)

func build(project string, n int64, complete bool, batch string) *store.Build {
	status := cb.StatusTypeInProgress
	if complete {
		status = cb.StatusTypeSucceeded
	}
	return &store.Build{Scope: scope, Meta: store.BuildMeta{BatchID: batch, BatchIdentifier: "id" + fmt.Sprint(n)},
		Doc: &cb.Build{Id: cb.String(fmt.Sprintf("%s:%d", project, n)), ProjectName: cb.String(project), BuildNumber: cb.Int64(n),
			BuildStatus: cb.String(status), BuildComplete: cb.Bool(complete), Phases: []cb.BuildPhase{{PhaseType: cb.String("SUBMITTED")}}}}
}

func testBuilds(t *testing.T, s store.Store) {
	defer s.Close()
	mustUpdate(t, s, func(tx store.Tx) error {
		for i := int64(1); i <= 5; i++ {
			b := build("p", i, i%2 == 0, "")
			if i == 5 {
				b.Meta.BatchID = "p:batch"
			}
			if err := tx.BuildInsert(ctx, b); err != nil {
				return err
			}
			if b.Seq == 0 {
				return errors.New("no Seq assigned")
			}
		}
		return tx.BuildInsert(ctx, build("q", 1, false, ""))
	})
	err := s.Update(ctx, func(tx store.Tx) error { return tx.BuildInsert(ctx, build("p", 1, false, "")) })
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate BuildInsert = %v, want ErrConflict", err)
	}
	var b *store.Build
	s.View(ctx, func(tx store.Tx) error { b, err = tx.BuildGet(ctx, scope, "p:3"); return err })
	if err != nil || cb.Deref(b.Doc.BuildNumber) != 3 || b.Meta.BatchIdentifier != "id3" || len(b.Doc.Phases) != 1 {
		t.Fatalf("BuildGet = %+v, %v", b, err)
	}
	b.Doc.BuildStatus, b.Doc.BuildComplete = cb.String(cb.StatusTypeFailed), cb.Bool(true)
	b.Meta.Shard = 2
	mustUpdate(t, s, func(tx store.Tx) error { return tx.BuildPut(ctx, b) })
	s.View(ctx, func(tx store.Tx) error { b, err = tx.BuildGet(ctx, scope, "p:3"); return err })
	if cb.Deref(b.Doc.BuildStatus) != cb.StatusTypeFailed || b.Meta.Shard != 2 {
		t.Errorf("after BuildPut: %+v", b)
	}
	var n int
	s.View(ctx, func(tx store.Tx) error { n, err = tx.BuildCountIncomplete(ctx, scope, "p"); return err })
	if n != 2 { // p:1 and p:5
		t.Errorf("BuildCountIncomplete = %d, want 2", n)
	}
	var inc []*store.Build
	s.View(ctx, func(tx store.Tx) error { inc, err = tx.BuildListIncomplete(ctx); return err })
	var ids []string
	for _, b := range inc {
		ids = append(ids, cb.Deref(b.Doc.Id))
	}
	if fmt.Sprint(ids) != "[p:1 p:5 q:1]" {
		t.Errorf("BuildListIncomplete = %v", ids)
	}
	var inBatch []*store.Build
	s.View(ctx, func(tx store.Tx) error { inBatch, err = tx.BuildListByBatch(ctx, scope, "p:batch"); return err })
	if len(inBatch) != 1 || cb.Deref(inBatch[0].Doc.Id) != "p:5" {
		t.Errorf("BuildListByBatch = %v", inBatch)
	}
	list := func(project string, desc bool, limit int) []string {
		var all []string
		var after *store.Cursor
		for {
			var page []string
			var next *store.Cursor
			s.View(ctx, func(tx store.Tx) error {
				page, next, err = tx.BuildList(ctx, scope, project, store.Page{After: after, Limit: limit, Descending: desc})
				return err
			})
			all = append(all, page...)
			if next == nil {
				return all
			}
			after = next
		}
	}
	if got := fmt.Sprint(list("p", true, 2)); got != "[p:5 p:4 p:3 p:2 p:1]" {
		t.Errorf("BuildList(p, desc) = %s", got)
	}
	if got := fmt.Sprint(list("", false, 4)); got != "[p:1 p:2 p:3 p:4 p:5 q:1]" {
		t.Errorf("BuildList(all, asc) = %s", got)
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.BuildDelete(ctx, scope, "p:2") })
	if got := fmt.Sprint(list("p", false, 10)); got != "[p:1 p:3 p:4 p:5]" {
		t.Errorf("after delete: %s", got)
	}
	err = s.View(ctx, func(tx store.Tx) error {
		_, err := tx.BuildGet(ctx, store.Scope{Account: "other", Region: "us-east-1"}, "p:1")
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("BuildGet from another account = %v", err)
	}
}

func testCounters(t *testing.T, s store.Store) {
	defer s.Close()
	var got []int64
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, k := range []string{"build", "build", "batch", "build"} {
			v, err := tx.CounterNext(ctx, scope, "p", k)
			if err != nil {
				return err
			}
			got = append(got, v)
		}
		v, err := tx.CounterNext(ctx, scope, "other", "build")
		got = append(got, v)
		return err
	})
	if fmt.Sprint(got) != "[1 2 1 3 1]" {
		t.Errorf("counters = %v", got)
	}
}

func testIdempotency(t *testing.T, s store.Store) {
	defer s.Close()
	now := time.Now()
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.IdempotencyPut(ctx, scope, "StartBuild", "tok", "h1", "p:1", now.Add(5*time.Minute))
	})
	var hash, id string
	var err error
	s.View(ctx, func(tx store.Tx) error {
		hash, id, err = tx.IdempotencyGet(ctx, scope, "StartBuild", "tok", now)
		return nil
	})
	if err != nil || hash != "h1" || id != "p:1" {
		t.Errorf("IdempotencyGet = %s %s %v", hash, id, err)
	}
	s.View(ctx, func(tx store.Tx) error {
		_, _, err = tx.IdempotencyGet(ctx, scope, "StartBuild", "tok", now.Add(6*time.Minute))
		return nil
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired token: %v", err)
	}
	s.View(ctx, func(tx store.Tx) error {
		_, _, err = tx.IdempotencyGet(ctx, scope, "StartBuildBatch", "tok", now)
		return nil
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token of another operation: %v", err)
	}
}

func testDocs(t *testing.T, s store.Store) {
	defer s.Close()
	b := build("p", 1, true, "")
	mustUpdate(t, s, func(tx store.Tx) error { return tx.BuildInsert(ctx, b) })
	docs := func() [][]byte {
		var out [][]byte
		s.View(ctx, func(tx store.Tx) error {
			var err error
			out, err = tx.BuildDocs(ctx, scope, []string{"p:1", "p:404", "p:1"})
			return err
		})
		return out
	}
	want, _ := json.Marshal(b.Doc)
	got := docs()
	if len(got) != 3 || string(got[0]) != string(want) || got[1] != nil || string(got[2]) != string(want) {
		t.Errorf("BuildDocs = %q, want [doc nil doc]", got)
	}
	// A rolled-back change is not seen; a committed one is.
	b.Doc.BuildStatus = cb.String("FAILED")
	// A rolled-back BuildPut leaves b.Rev incremented: put it back.
	rev := b.Rev
	s.Update(ctx, func(tx store.Tx) error { tx.BuildPut(ctx, b); return errors.New("roll back") })
	b.Rev = rev
	if got := docs(); string(got[0]) != string(want) {
		t.Errorf("rolled-back BuildPut is visible: %s", got[0])
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.BuildPut(ctx, b) })
	want, _ = json.Marshal(b.Doc)
	if got := docs(); string(got[0]) != string(want) {
		t.Errorf("after BuildPut: %s", got[0])
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.BuildDelete(ctx, scope, "p:1") })
	if got := docs(); got[0] != nil {
		t.Errorf("after BuildDelete: %s", got[0])
	}
	other := store.Scope{Account: "999999999999", Region: scope.Region}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.ProjectInsert(ctx, scope, project("pp", t0, t0)) })
	var pd [][]byte
	s.View(ctx, func(tx store.Tx) error { pd, _ = tx.ProjectDocs(ctx, other, []string{"pp"}); return nil })
	if pd[0] != nil {
		t.Errorf("ProjectDocs crosses accounts")
	}
	var bd [][]byte
	mustUpdate(t, s, func(tx store.Tx) error { return tx.BatchInsert(ctx, batchDoc("p", 7, cb.StatusTypeSucceeded)) })
	s.View(ctx, func(tx store.Tx) error { bd, _ = tx.BatchDocs(ctx, scope, []string{"p:b7", "nope"}); return nil })
	if bd[0] == nil || bd[1] != nil {
		t.Errorf("BatchDocs = %q", bd)
	}
}
