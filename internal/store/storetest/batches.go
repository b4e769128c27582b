package storetest

import (
	"errors"
	"fmt"
	"testing"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
)

func batchDoc(project string, n int64, status string) *store.Batch {
	return &store.Batch{Scope: scope, Meta: store.BatchMeta{Plan: []byte(`{"kind":"build-list"}`), GroupUUIDs: map[string]string{"a": "u1"}},
		Doc: &cb.BuildBatch{Id: cb.String(fmt.Sprintf("%s:b%d", project, n)), ProjectName: cb.String(project), BuildBatchNumber: cb.Int64(n),
			BuildBatchStatus: cb.String(status), Complete: cb.Bool(status != cb.StatusTypeInProgress),
			BuildGroups: []cb.BuildGroup{{Identifier: cb.String("DOWNLOAD_SOURCE")}}}}
}

func testBatches(t *testing.T, s store.Store) {
	defer s.Close()
	statuses := []string{cb.StatusTypeSucceeded, cb.StatusTypeFailed, cb.StatusTypeInProgress, cb.StatusTypeFailed}
	mustUpdate(t, s, func(tx store.Tx) error {
		for i, st := range statuses {
			if err := tx.BatchInsert(ctx, batchDoc("p", int64(i+1), st)); err != nil {
				return err
			}
		}
		return tx.BatchInsert(ctx, batchDoc("q", 1, cb.StatusTypeFailed))
	})
	err := s.Update(ctx, func(tx store.Tx) error { return tx.BatchInsert(ctx, batchDoc("p", 1, cb.StatusTypeFailed)) })
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate BatchInsert = %v", err)
	}
	var b *store.Batch
	s.View(ctx, func(tx store.Tx) error { b, err = tx.BatchGet(ctx, scope, "p:b3"); return err })
	if err != nil || b.Meta.GroupUUIDs["a"] != "u1" || string(b.Meta.Plan) != `{"kind":"build-list"}` || len(b.Doc.BuildGroups) != 1 {
		t.Fatalf("BatchGet = %+v, %v", b, err)
	}
	b.Doc.BuildBatchStatus, b.Doc.Complete = cb.String(cb.StatusTypeSucceeded), cb.Bool(true)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.BatchPut(ctx, b) })
	list := func(project, status string, desc bool, limit int) string {
		var all []string
		var after *store.Cursor
		for {
			var page []string
			var next *store.Cursor
			s.View(ctx, func(tx store.Tx) error {
				page, next, err = tx.BatchList(ctx, scope, project, status, store.Page{After: after, Limit: limit, Descending: desc})
				return err
			})
			all = append(all, page...)
			if next == nil {
				return fmt.Sprint(all)
			}
			after = next
		}
	}
	if got := list("p", "", true, 2); got != "[p:b4 p:b3 p:b2 p:b1]" {
		t.Errorf("BatchList(p) = %s", got)
	}
	if got := list("", cb.StatusTypeFailed, false, 1); got != "[p:b2 p:b4 q:b1]" {
		t.Errorf("BatchList(FAILED) = %s", got)
	}
	if got := list("p", cb.StatusTypeSucceeded, false, 10); got != "[p:b1 p:b3]" {
		t.Errorf("BatchList(p, SUCCEEDED) = %s", got)
	}
	var inc []*store.Batch
	s.View(ctx, func(tx store.Tx) error { inc, err = tx.BatchListIncomplete(ctx); return err })
	if len(inc) != 0 {
		t.Errorf("BatchListIncomplete = %d batches, want 0", len(inc))
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.BatchDelete(ctx, scope, "p:b1") })
	err = s.View(ctx, func(tx store.Tx) error { _, err := tx.BatchGet(ctx, scope, "p:b1"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("BatchGet after delete = %v", err)
	}
}
