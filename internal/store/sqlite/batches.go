package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

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
	id := codebuild.Deref(b.Doc.Id)
	res, err := t.exec(ctx, `INSERT INTO batches (account, region, id, project, number, status, complete, doc, meta)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		b.Scope.Account, b.Scope.Region, id, codebuild.Deref(b.Doc.ProjectName), codebuild.Deref(b.Doc.BuildBatchNumber),
		codebuild.Deref(b.Doc.BuildBatchStatus), codebuild.Deref(b.Doc.Complete), doc, meta)
	if err != nil {
		if isConstraint(err) {
			return fmt.Errorf("batch %s: %w", id, store.ErrConflict)
		}
		return err
	}
	t.cached("x", b.Scope, id, doc)
	b.Seq, err = res.LastInsertId()
	b.Rev = 1
	return err
}

const batchSelect = `SELECT account, region, seq, doc, meta, rev FROM batches`

func scanBatch(row interface{ Scan(...any) error }) (*store.Batch, error) {
	var b store.Batch
	var doc, meta []byte
	if err := row.Scan(&b.Scope.Account, &b.Scope.Region, &b.Seq, &doc, &meta, &b.Rev); err != nil {
		return nil, err
	}
	d, err := decode[codebuild.BuildBatch](doc)
	if err != nil {
		return nil, err
	}
	b.Doc = d
	if err := json.Unmarshal(meta, &b.Meta); err != nil {
		return nil, fmt.Errorf("corrupt batch meta data: %w", err)
	}
	return &b, nil
}

func (t *txn) BatchGet(ctx context.Context, s store.Scope, id string) (*store.Batch, error) {
	b, err := scanBatch(t.queryRow(ctx, batchSelect+` WHERE id = ? AND account = ? AND region = ?`, id, s.Account, s.Region))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("batch %s: %w", id, store.ErrNotFound)
	}
	return b, err
}

func (t *txn) BatchPut(ctx context.Context, b *store.Batch) error {
	doc, meta, err := batchCols(b)
	if err != nil {
		return err
	}
	id := codebuild.Deref(b.Doc.Id)
	res, err := t.exec(ctx, `UPDATE batches SET rev = rev + 1, status = ?, complete = ?, doc = ?, meta = ?
		WHERE id = ? AND account = ? AND region = ? AND rev = ?`,
		codebuild.Deref(b.Doc.BuildBatchStatus), codebuild.Deref(b.Doc.Complete), doc, meta, id, b.Scope.Account, b.Scope.Region, b.Rev)
	if err != nil {
		return err
	}
	if err := t.revised(ctx, res, "batches", "batch", id, b.Scope); err != nil {
		return err
	}
	t.cached("x", b.Scope, id, doc)
	b.Rev++
	return nil
}

func (t *txn) BatchDelete(ctx context.Context, s store.Scope, id string) error {
	res, err := t.exec(ctx, `DELETE FROM batches WHERE id = ? AND account = ? AND region = ?`, id, s.Account, s.Region)
	if err != nil {
		return err
	}
	t.cached("x", s, id, nil)
	return mustAffect(res, "batch "+id)
}

func (t *txn) BatchList(ctx context.Context, s store.Scope, project, status string, p store.Page) ([]string, *store.Cursor, error) {
	return t.listIDs(ctx, "batches", s, project, status, p)
}

func (t *txn) BatchListIncomplete(ctx context.Context) ([]*store.Batch, error) {
	return t.queryBatches(ctx, batchSelect+` WHERE complete = 0 ORDER BY seq`)
}

func (t *txn) BatchListAfter(ctx context.Context, seq int64, limit int) ([]*store.Batch, error) {
	return t.queryBatches(ctx, batchSelect+` WHERE seq > ? ORDER BY seq LIMIT ?`, seq, max(limit, 0))
}

func (t *txn) BatchLastSeq(ctx context.Context) (int64, error) { return t.lastSeq(ctx, "batches") }

func (t *txn) queryBatches(ctx context.Context, q string, args ...any) ([]*store.Batch, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Batch
	for rows.Next() {
		b, err := scanBatch(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}
