package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
)

func (t *txn) CounterNext(ctx context.Context, s store.Scope, project, kind string) (int64, error) {
	var v int64
	err := t.scanRow(ctx, `INSERT INTO counters (account, region, project, kind, value) VALUES ($1, $2, $3, $4, 1)
		ON CONFLICT (account, region, project, kind) DO UPDATE SET value = counters.value + 1 RETURNING value`,
		[]any{s.Account, s.Region, project, kind}, &v)
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
	if err := t.lockSeq(ctx); err != nil {
		return err
	}
	id := codebuild.Deref(b.Doc.Id)
	err = t.scanRow(ctx, `INSERT INTO builds (account, region, id, project, number, status, complete, batch_id, doc, meta)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING RETURNING seq`,
		[]any{b.Scope.Account, b.Scope.Region, id, codebuild.Deref(b.Doc.ProjectName), codebuild.Deref(b.Doc.BuildNumber),
			status, complete, b.Meta.BatchID, doc, meta}, &b.Seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("build %s: %w", id, store.ErrConflict)
	}
	return err
}

const buildSelect = `SELECT account, region, seq, doc, meta FROM builds`

func scanBuild(row pgx.Row) (*store.Build, error) {
	var b store.Build
	d, err := scanStored[codebuild.Build](row, "build", &b.Scope, &b.Seq, &b.Meta)
	if err != nil {
		return nil, err
	}
	b.Doc = d
	return &b, nil
}

// scanStored reads the columns a build or batch row is selected with:
// scope, seq, document and meta data.
func scanStored[D, M any](row pgx.Row, kind string, s *store.Scope, seq *int64, meta *M) (*D, error) {
	var doc, m []byte
	if err := row.Scan(&s.Account, &s.Region, seq, &doc, &m); err != nil {
		return nil, err
	}
	s.Account, s.Region = unescape(s.Account), unescape(s.Region)
	d, err := decode[D](doc)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(m, meta); err != nil {
		return nil, fmt.Errorf("corrupt %s meta data: %w", kind, err)
	}
	return d, nil
}

func (t *txn) BuildGet(ctx context.Context, s store.Scope, id string) (*store.Build, error) {
	var b *store.Build
	err := t.query(ctx, buildSelect+` WHERE id = $1 AND account = $2 AND region = $3`, []any{id, s.Account, s.Region},
		func(rows pgx.Rows) (err error) { b, err = scanBuild(rows); return err })
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("build %s: %w", id, store.ErrNotFound)
	}
	return b, nil
}

func (t *txn) BuildPut(ctx context.Context, b *store.Build) error {
	doc, meta, status, complete, err := buildCols(b)
	if err != nil {
		return err
	}
	id := codebuild.Deref(b.Doc.Id)
	// As in SQLite, the project, number and batch id columns keep their
	// inserted values.
	tag, err := t.exec(ctx, `UPDATE builds SET status = $1, complete = $2, doc = $3, meta = $4 WHERE id = $5 AND account = $6 AND region = $7`,
		status, complete, doc, meta, id, b.Scope.Account, b.Scope.Region)
	if err != nil {
		return err
	}
	return mustAffect(tag, "build "+id)
}

func (t *txn) BuildDelete(ctx context.Context, s store.Scope, id string) error {
	tag, err := t.exec(ctx, `DELETE FROM builds WHERE id = $1 AND account = $2 AND region = $3`, id, s.Account, s.Region)
	if err != nil {
		return err
	}
	return mustAffect(tag, "build "+id)
}

func (t *txn) BuildList(ctx context.Context, s store.Scope, project string, p store.Page) ([]string, *store.Cursor, error) {
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
	q := `SELECT seq, ` + idCol + ` FROM ` + table + ` WHERE account = $1 AND region = $2`
	args := []any{s.Account, s.Region}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if owner != "" {
		q += ` AND ` + ownerCol + ` = ` + arg(owner)
	}
	if status != "" {
		q += ` AND status = ` + arg(status)
	}
	dir, cmp := "ASC", ">"
	if p.Descending {
		dir, cmp = "DESC", "<"
	}
	if p.After != nil {
		q += ` AND seq ` + cmp + ` ` + arg(p.After.Key)
	}
	q += ` ORDER BY seq ` + dir + ` LIMIT ` + arg(limit(p)) + `::bigint`
	ids := []string{}
	var last int64
	var next *store.Cursor
	err := t.query(ctx, q, args, func(rows pgx.Rows) error {
		if next != nil {
			return nil
		}
		var seq int64
		var id string
		if err := rows.Scan(&seq, &id); err != nil {
			return err
		}
		if len(ids) == p.Limit {
			next = &store.Cursor{Key: last}
			return nil
		}
		ids = append(ids, unescape(id))
		last = seq
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return ids, next, nil
}

func (t *txn) queryBuilds(ctx context.Context, q string, args ...any) ([]*store.Build, error) {
	var out []*store.Build
	err := t.query(ctx, q, args, func(rows pgx.Rows) error {
		b, err := scanBuild(rows)
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

func (t *txn) BuildListIncomplete(ctx context.Context) ([]*store.Build, error) {
	return t.queryBuilds(ctx, buildSelect+` WHERE NOT complete ORDER BY seq`)
}

func (t *txn) BuildCountIncomplete(ctx context.Context, s store.Scope, project string) (int, error) {
	var n int
	err := t.scanRow(ctx, `SELECT count(*) FROM builds WHERE NOT complete AND account = $1 AND region = $2 AND project = $3`,
		[]any{s.Account, s.Region, project}, &n)
	return n, err
}

func (t *txn) BuildListByBatch(ctx context.Context, s store.Scope, batchID string) ([]*store.Build, error) {
	return t.queryBuilds(ctx, buildSelect+` WHERE batch_id = $1 AND account = $2 AND region = $3 ORDER BY seq`, batchID, s.Account, s.Region)
}

func (t *txn) IdempotencyGet(ctx context.Context, s store.Scope, op, token string, now time.Time) (string, string, error) {
	var hash, id string
	err := t.scanRow(ctx, `SELECT request_hash, resource_id FROM idempotency
		WHERE account = $1 AND region = $2 AND op = $3 AND token = $4 AND expires > $5`,
		[]any{s.Account, s.Region, op, token, now.UnixNano()}, &hash, &id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", fmt.Errorf("idempotency token: %w", store.ErrNotFound)
	}
	return unescape(hash), unescape(id), err
}

func (t *txn) IdempotencyPut(ctx context.Context, s store.Scope, op, token, hash, id string, expires time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO idempotency (account, region, op, token, request_hash, resource_id, expires) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (account, region, op, token) DO UPDATE SET request_hash = excluded.request_hash, resource_id = excluded.resource_id, expires = excluded.expires`,
		s.Account, s.Region, op, token, hash, id, expires.UnixNano())
	return err
}
