package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
)

func (t *txn) CounterNext(ctx context.Context, s store.Scope, project, kind string) (int64, error) {
	var v int64
	err := t.queryRow(ctx, `INSERT INTO counters (account, region, project, kind, value) VALUES (?, ?, ?, ?, 1)
		ON CONFLICT (account, region, project, kind) DO UPDATE SET value = value + 1 RETURNING value`,
		s.Account, s.Region, project, kind).Scan(&v)
	return v, err
}

func buildCols(b *store.Build) (doc, meta []byte, status string, complete bool, err error) {
	if doc, err = encode(b.Doc); err != nil {
		return
	}
	if meta, err = json.Marshal(b.Meta); err != nil {
		return
	}
	return doc, meta, codebuild.Deref(b.Doc.BuildStatus), codebuild.Deref(b.Doc.BuildComplete), nil
}

func (t *txn) BuildInsert(ctx context.Context, b *store.Build) error {
	doc, meta, status, complete, err := buildCols(b)
	if err != nil {
		return err
	}
	id := codebuild.Deref(b.Doc.Id)
	res, err := t.exec(ctx, `INSERT INTO builds (account, region, id, project, number, status, complete, batch_id, doc, meta)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		b.Scope.Account, b.Scope.Region, id, codebuild.Deref(b.Doc.ProjectName), codebuild.Deref(b.Doc.BuildNumber),
		status, complete, b.Meta.BatchID, doc, meta)
	if err != nil {
		if isConstraint(err) {
			return fmt.Errorf("build %s: %w", id, store.ErrConflict)
		}
		return err
	}
	t.cached("b", b.Scope, id, doc)
	t.bumps = append(t.bumps, b.Scope)
	b.Seq, err = res.LastInsertId()
	return err
}

const buildSelect = `SELECT account, region, seq, doc, meta FROM builds`

func scanBuild(row interface{ Scan(...any) error }) (*store.Build, error) {
	var b store.Build
	var doc, meta []byte
	if err := row.Scan(&b.Scope.Account, &b.Scope.Region, &b.Seq, &doc, &meta); err != nil {
		return nil, err
	}
	d, err := decode[codebuild.Build](doc)
	if err != nil {
		return nil, err
	}
	b.Doc = d
	if err := json.Unmarshal(meta, &b.Meta); err != nil {
		return nil, fmt.Errorf("corrupt build meta data: %w", err)
	}
	return &b, nil
}

func (t *txn) BuildGet(ctx context.Context, s store.Scope, id string) (*store.Build, error) {
	b, err := scanBuild(t.queryRow(ctx, buildSelect+` WHERE id = ? AND account = ? AND region = ?`, id, s.Account, s.Region))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("build %s: %w", id, store.ErrNotFound)
	}
	return b, err
}

func (t *txn) BuildPut(ctx context.Context, b *store.Build) error {
	doc, meta, status, complete, err := buildCols(b)
	if err != nil {
		return err
	}
	id := codebuild.Deref(b.Doc.Id)
	res, err := t.exec(ctx, `UPDATE builds SET status = ?, complete = ?, doc = ?, meta = ? WHERE id = ? AND account = ? AND region = ?`,
		status, complete, doc, meta, id, b.Scope.Account, b.Scope.Region)
	if err != nil {
		return err
	}
	t.cached("b", b.Scope, id, doc)
	return mustAffect(res, "build "+id)
}

func (t *txn) BuildDelete(ctx context.Context, s store.Scope, id string) error {
	res, err := t.exec(ctx, `DELETE FROM builds WHERE id = ? AND account = ? AND region = ?`, id, s.Account, s.Region)
	if err != nil {
		return err
	}
	t.cached("b", s, id, nil)
	t.bumps = append(t.bumps, s)
	return mustAffect(res, "build "+id)
}

func (t *txn) BuildList(ctx context.Context, s store.Scope, project string, p store.Page) ([]string, *store.Cursor, error) {
	if !t.readOnly {
		return t.buildList(ctx, s, project, p) // the cache knows only what is committed
	}
	gen, bumps := t.cache.gen(s), t.cache.bumpCount()
	var after int64
	if p.After != nil {
		after = p.After.Key
	}
	key := fmt.Sprintf("%s\x00%s\x00%s\x00%v\x00%d\x00%d", s.Account, s.Region, project, p.Descending, after, p.Limit)
	if pg, ok := t.cache.page(key, gen); ok {
		return pg.ids, pg.next, nil
	}
	ids, next, err := t.buildList(ctx, s, project, p)
	if err == nil && t.beganBumps == bumps {
		t.cache.putPage(key, listPage{gen: gen, ids: ids, next: next})
	}
	return ids, next, err
}

func (t *txn) buildList(ctx context.Context, s store.Scope, project string, p store.Page) ([]string, *store.Cursor, error) {
	return t.listIDs(ctx, "builds", s, project, "", p)
}

// listIDs lists the ids of a table's rows in creation (seq) order, of one
// scope and optionally one project and one status, a page at a time.
func (t *txn) listIDs(ctx context.Context, table string, s store.Scope, project, status string, p store.Page) ([]string, *store.Cursor, error) {
	return t.listSeq(ctx, table, "id", "project", s, project, status, p)
}

// listSeq is listIDs of a table whose key column is idCol and whose
// owner's (project, report group) column is ownerCol.
func (t *txn) listSeq(ctx context.Context, table, idCol, ownerCol string, s store.Scope, owner, status string, p store.Page) ([]string, *store.Cursor, error) {
	q := `SELECT seq, ` + idCol + ` FROM ` + table + ` WHERE account = ? AND region = ?`
	args := []any{s.Account, s.Region}
	if owner != "" {
		q += ` AND ` + ownerCol + ` = ?`
		args = append(args, owner)
	}
	if status != "" {
		q += ` AND status = ?`
		args = append(args, status)
	}
	dir, cmp := "ASC", ">"
	if p.Descending {
		dir, cmp = "DESC", "<"
	}
	if p.After != nil {
		q += ` AND seq ` + cmp + ` ?`
		args = append(args, p.After.Key)
	}
	q += ` ORDER BY seq ` + dir + ` LIMIT ?`
	args = append(args, p.Limit+1)
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	ids := []string{}
	var last int64
	var next *store.Cursor
	for rows.Next() {
		var seq int64
		var id string
		if err := rows.Scan(&seq, &id); err != nil {
			return nil, nil, err
		}
		if len(ids) == p.Limit {
			next = &store.Cursor{Key: last}
			break
		}
		ids = append(ids, id)
		last = seq
	}
	return ids, next, rows.Err()
}

func (t *txn) queryBuilds(ctx context.Context, q string, args ...any) ([]*store.Build, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Build
	for rows.Next() {
		b, err := scanBuild(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

func (t *txn) BuildListIncomplete(ctx context.Context) ([]*store.Build, error) {
	return t.queryBuilds(ctx, buildSelect+` WHERE complete = 0 ORDER BY seq`)
}

func (t *txn) BuildCountIncomplete(ctx context.Context, s store.Scope, project string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM builds WHERE complete = 0 AND account = ? AND region = ? AND project = ?`,
		s.Account, s.Region, project).Scan(&n)
	return n, err
}

func (t *txn) BuildListByBatch(ctx context.Context, s store.Scope, batchID string) ([]*store.Build, error) {
	return t.queryBuilds(ctx, buildSelect+` WHERE batch_id = ? AND account = ? AND region = ? ORDER BY seq`, batchID, s.Account, s.Region)
}

func (t *txn) IdempotencyGet(ctx context.Context, s store.Scope, op, token string, now time.Time) (string, string, error) {
	var hash, id string
	err := t.queryRow(ctx, `SELECT request_hash, resource_id FROM idempotency
		WHERE account = ? AND region = ? AND op = ? AND token = ? AND expires > ?`, s.Account, s.Region, op, token, now.UnixNano()).Scan(&hash, &id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("idempotency token: %w", store.ErrNotFound)
	}
	return hash, id, err
}

func (t *txn) IdempotencyPut(ctx context.Context, s store.Scope, op, token, hash, id string, expires time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO idempotency (account, region, op, token, request_hash, resource_id, expires) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (account, region, op, token) DO UPDATE SET request_hash = excluded.request_hash, resource_id = excluded.resource_id, expires = excluded.expires`,
		s.Account, s.Region, op, token, hash, id, expires.UnixNano())
	return err
}
