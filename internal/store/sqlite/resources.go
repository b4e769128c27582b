package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/buildbatch/buildbatch/internal/store"
)

// Resources do not go through the document cache.

const resourceColumns = `account, region, kind, name, parent, coalesce(key, ''), created, modified, doc, live`

func nullKey(k string) any {
	if k == "" {
		return nil
	}
	return k
}

func (t *txn) ResourceInsert(ctx context.Context, r *store.Resource) error {
	_, err := t.exec(ctx, `INSERT INTO resources (account, region, kind, name, parent, key, created, modified, doc, live) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Scope.Account, r.Scope.Region, r.Kind, r.Name, r.Parent, nullKey(r.Key), nanos(r.Created), nanos(r.Modified), r.Doc, r.Live)
	if isConstraint(err) {
		return fmt.Errorf("%s %s: %w", r.Kind, r.Name, store.ErrConflict)
	}
	return err
}

func scanResource(sc interface{ Scan(...any) error }) (*store.Resource, error) {
	var r store.Resource
	var created, modified int64
	if err := sc.Scan(&r.Scope.Account, &r.Scope.Region, &r.Kind, &r.Name, &r.Parent, &r.Key, &created, &modified, &r.Doc, &r.Live); err != nil {
		return nil, err
	}
	r.Created, r.Modified = fromNanos(created), fromNanos(modified)
	return &r, nil
}

func (t *txn) ResourceGet(ctx context.Context, s store.Scope, kind, name string) (*store.Resource, error) {
	r, err := scanResource(t.queryRow(ctx, `SELECT `+resourceColumns+` FROM resources WHERE account = ? AND region = ? AND kind = ? AND name = ?`,
		s.Account, s.Region, kind, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s %s: %w", kind, name, store.ErrNotFound)
	}
	return r, err
}

func (t *txn) ResourceByKey(ctx context.Context, kind, key string) (*store.Resource, error) {
	r, err := scanResource(t.queryRow(ctx, `SELECT `+resourceColumns+` FROM resources WHERE kind = ? AND key = ?`, kind, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s with key %s: %w", kind, key, store.ErrNotFound)
	}
	return r, err
}

func (t *txn) ResourcePut(ctx context.Context, r *store.Resource) error {
	res, err := t.exec(ctx, `UPDATE resources SET parent = ?, key = ?, modified = ?, doc = ?, live = ? WHERE account = ? AND region = ? AND kind = ? AND name = ?`,
		r.Parent, nullKey(r.Key), nanos(r.Modified), r.Doc, r.Live, r.Scope.Account, r.Scope.Region, r.Kind, r.Name)
	if isConstraint(err) {
		return fmt.Errorf("%s %s: key %s: %w", r.Kind, r.Name, r.Key, store.ErrConflict)
	}
	if err != nil {
		return err
	}
	return mustAffect(res, r.Kind+" "+r.Name)
}

func (t *txn) ResourceDelete(ctx context.Context, s store.Scope, kind, name string) error {
	res, err := t.exec(ctx, `DELETE FROM resources WHERE account = ? AND region = ? AND kind = ? AND name = ?`, s.Account, s.Region, kind, name)
	if err != nil {
		return err
	}
	return mustAffect(res, kind+" "+name)
}

func (t *txn) ResourceList(ctx context.Context, s store.Scope, kind, parent string) ([]*store.Resource, error) {
	q, args := `SELECT `+resourceColumns+` FROM resources WHERE kind = ?`, []any{kind}
	if s != (store.Scope{}) {
		q += ` AND account = ? AND region = ?`
		args = append(args, s.Account, s.Region)
	}
	if parent != "" {
		q += ` AND parent = ?`
		args = append(args, parent)
	}
	return t.resources(ctx, q+` ORDER BY created, name`, args...)
}

func (t *txn) ResourceListLive(ctx context.Context, kind string) ([]*store.Resource, error) {
	return t.resources(ctx, `SELECT `+resourceColumns+` FROM resources WHERE kind = ? AND live = 1 ORDER BY created, name`, kind)
}

func (t *txn) resources(ctx context.Context, q string, args ...any) ([]*store.Resource, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Resource
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
