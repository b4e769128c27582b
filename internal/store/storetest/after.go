package storetest

import (
	"fmt"
	"testing"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
)

// testListAfter: BuildListAfter/BatchListAfter return what was inserted
// after a Seq, complete or not, in any scope, in Seq order, up to a
// limit; BuildLastSeq/BatchLastSeq are the newest Seq (0 when empty).
func testListAfter(t *testing.T, s store.Store) {
	defer s.Close()
	var last, lastBatch int64
	var err error
	s.View(ctx, func(tx store.Tx) error {
		if last, err = tx.BuildLastSeq(ctx); err != nil {
			return err
		}
		lastBatch, err = tx.BatchLastSeq(ctx)
		return err
	})
	if err != nil || last != 0 || lastBatch != 0 {
		t.Fatalf("LastSeq of an empty store: %d, %d, %v", last, lastBatch, err)
	}
	var seqs []int64
	var batchSeqs []int64
	other := store.Scope{Account: "222222222222", Region: "eu-west-1"}
	mustUpdate(t, s, func(tx store.Tx) error {
		for i := int64(1); i <= 4; i++ {
			b := build("p", i, i%2 == 0, "")
			if i == 3 {
				b.Scope = other
			}
			if err := tx.BuildInsert(ctx, b); err != nil {
				return err
			}
			seqs = append(seqs, b.Seq)
			st := cb.StatusTypeSucceeded
			if i == 1 {
				st = cb.StatusTypeInProgress
			}
			bt := batchDoc("p", i, st)
			if err := tx.BatchInsert(ctx, bt); err != nil {
				return err
			}
			batchSeqs = append(batchSeqs, bt.Seq)
		}
		return nil
	})
	ids := func(after int64, limit int) string {
		var bs []*store.Build
		s.View(ctx, func(tx store.Tx) error { bs, err = tx.BuildListAfter(ctx, after, limit); return err })
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, b := range bs {
			out = append(out, fmt.Sprintf("%s@%s", cb.Deref(b.Doc.Id), b.Scope.Region))
			if b.Seq <= after {
				t.Errorf("BuildListAfter(%d) returned Seq %d", after, b.Seq)
			}
		}
		return fmt.Sprint(out)
	}
	if got := ids(0, 10); got != "[p:1@us-east-1 p:2@us-east-1 p:3@eu-west-1 p:4@us-east-1]" {
		t.Errorf("BuildListAfter(0) = %s", got)
	}
	if got := ids(seqs[1], 10); got != "[p:3@eu-west-1 p:4@us-east-1]" {
		t.Errorf("BuildListAfter(second) = %s", got)
	}
	if got := ids(seqs[0], 2); got != "[p:2@us-east-1 p:3@eu-west-1]" {
		t.Errorf("BuildListAfter(first, limit 2) = %s", got)
	}
	if got := ids(seqs[3], 10); got != "[]" {
		t.Errorf("BuildListAfter(last) = %s", got)
	}
	var bts []*store.Batch
	s.View(ctx, func(tx store.Tx) error {
		if last, err = tx.BuildLastSeq(ctx); err != nil {
			return err
		}
		if lastBatch, err = tx.BatchLastSeq(ctx); err != nil {
			return err
		}
		bts, err = tx.BatchListAfter(ctx, batchSeqs[1], 10)
		return err
	})
	if err != nil || last != seqs[3] || lastBatch != batchSeqs[3] {
		t.Errorf("LastSeq = %d, %d (want %d, %d), %v", last, lastBatch, seqs[3], batchSeqs[3], err)
	}
	var got []string
	for _, b := range bts {
		got = append(got, cb.Deref(b.Doc.Id)+"/"+cb.Deref(b.Doc.BuildBatchStatus))
	}
	if fmt.Sprint(got) != "[p:b3/SUCCEEDED p:b4/SUCCEEDED]" {
		t.Errorf("BatchListAfter(second) = %v", got)
	}
}
