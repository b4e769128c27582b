package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
)

func batchCols(b *store.Batch) (doc, meta []byte, err error) {
	if doc, err = encode(b.Doc); err != nil {
		return
	}
	meta, err = json.Marshal(b.Meta)
	return
}

func (t *txn) BatchInsert(ctx context.Context, b *store.Batch) error {
	doc, meta, err := batchCols(b)
	if err != nil {
		return err
	}
	if err := t.lockSeq(ctx); err != nil {
		return err
	}
	id := codebuild.Deref(b.Doc.Id)
	err = t.scanRow(ctx, `INSERT INTO batches (account, region, id, project, number, status, complete, doc, meta)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING seq`,
		[]any{b.Scope.Account, b.Scope.Region, id, codebuild.Deref(b.Doc.ProjectName), codebuild.Deref(b.Doc.BuildBatchNumber),
			codebuild.Deref(b.Doc.BuildBatchStatus), codebuild.Deref(b.Doc.Complete), doc, meta}, &b.Seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("batch %s: %w", id, store.ErrConflict)
	}
	if err == nil {
		b.Rev = 1
	}
	return err
}

const batchSelect = `SELECT account, region, seq, doc, meta, rev FROM batches`

func scanBatch(row pgx.Row) (*store.Batch, error) {
	var b store.Batch
	d, err := scanStored[codebuild.BuildBatch](row, "batch", &b.Scope, &b.Seq, &b.Meta, &b.Rev)
	if err != nil {
		return nil, err
	}
	b.Doc = d
	return &b, nil
}

func (t *txn) BatchGet(ctx context.Context, s store.Scope, id string) (*store.Batch, error) {
	var b *store.Batch
	err := t.query(ctx, batchSelect+` WHERE id = $1 AND account = $2 AND region = $3`, []any{id, s.Account, s.Region},
		func(rows pgx.Rows) (err error) { b, err = scanBatch(rows); return err })
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("batch %s: %w", id, store.ErrNotFound)
	}
	return b, nil
}

func (t *txn) BatchPut(ctx context.Context, b *store.Batch) error {
	doc, meta, err := batchCols(b)
	if err != nil {
		return err
	}
	id := codebuild.Deref(b.Doc.Id)
	tag, err := t.exec(ctx, `UPDATE batches SET rev = rev + 1, status = $1, complete = $2, doc = $3, meta = $4
		WHERE id = $5 AND account = $6 AND region = $7 AND rev = $8`,
		codebuild.Deref(b.Doc.BuildBatchStatus), codebuild.Deref(b.Doc.Complete), doc, meta, id, b.Scope.Account, b.Scope.Region, b.Rev)
	if err != nil {
		return err
	}
	if err := t.revised(ctx, tag, "batches", "batch", id, b.Scope); err != nil {
		return err
	}
	b.Rev++
	return nil
}

func (t *txn) BatchDelete(ctx context.Context, s store.Scope, id string) error {
	tag, err := t.exec(ctx, `DELETE FROM batches WHERE id = $1 AND account = $2 AND region = $3`, id, s.Account, s.Region)
	if err != nil {
		return err
	}
	return mustAffect(tag, "batch "+id)
}

func (t *txn) BatchList(ctx context.Context, s store.Scope, project, status string, p store.Page) ([]string, *store.Cursor, error) {
	return t.listIDs(ctx, "batches", s, project, status, p)
}

func (t *txn) BatchListIncomplete(ctx context.Context) ([]*store.Batch, error) {
	return t.queryBatches(ctx, batchSelect+` WHERE NOT complete ORDER BY seq`)
}

func (t *txn) BatchListAfter(ctx context.Context, seq int64, limit int) ([]*store.Batch, error) {
	return t.queryBatches(ctx, batchSelect+` WHERE seq > $1 ORDER BY seq LIMIT $2`, seq, max(limit, 0))
}

func (t *txn) BatchLastSeq(ctx context.Context) (int64, error) { return t.lastSeq(ctx, "batches") }

func (t *txn) queryBatches(ctx context.Context, q string, args ...any) ([]*store.Batch, error) {
	var out []*store.Batch
	err := t.query(ctx, q, args, func(rows pgx.Rows) error {
		b, err := scanBatch(rows)
		if err != nil {
			return err
		}
		out = append(out, b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
