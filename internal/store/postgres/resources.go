package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/buildbatch/buildbatch/internal/store"
)

const resourceColumns = `account, region, kind, name, parent, coalesce(key, ''), created, modified, doc, live`

func nullKey(k string) any {
	if k == "" {
		return nil
	}
	return k
}

func (t *txn) ResourceInsert(ctx context.Context, r *store.Resource) error {
	tag, err := t.exec(ctx, `INSERT INTO resources (account, region, kind, name, parent, key, created, modified, doc, live) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT DO NOTHING`,
		r.Scope.Account, r.Scope.Region, r.Kind, r.Name, r.Parent, nullKey(r.Key), nanos(r.Created), nanos(r.Modified), r.Doc, r.Live)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s %s: %w", r.Kind, r.Name, store.ErrConflict)
	}
	return nil
}

type resourceRow struct {
	r                 store.Resource
	created, modified int64
}

func (x *resourceRow) dest() []any {
	return []any{&x.r.Scope.Account, &x.r.Scope.Region, &x.r.Kind, &x.r.Name, &x.r.Parent, &x.r.Key, &x.created, &x.modified, &x.r.Doc, &x.r.Live}
}

func (x *resourceRow) resource() *store.Resource {
	r := x.r
	r.Scope = store.Scope{Account: unescape(r.Scope.Account), Region: unescape(r.Scope.Region)}
	r.Kind, r.Name, r.Parent, r.Key = unescape(r.Kind), unescape(r.Name), unescape(r.Parent), unescape(r.Key)
	r.Created, r.Modified = fromNanos(x.created), fromNanos(x.modified)
	return &r
}

func (t *txn) ResourceGet(ctx context.Context, s store.Scope, kind, name string) (*store.Resource, error) {
	var x resourceRow
	err := t.scanRow(ctx, `SELECT `+resourceColumns+` FROM resources WHERE account = $1 AND region = $2 AND kind = $3 AND name = $4`,
		[]any{s.Account, s.Region, kind, name}, x.dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%s %s: %w", kind, name, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return x.resource(), nil
}

func (t *txn) ResourceByKey(ctx context.Context, kind, key string) (*store.Resource, error) {
	var x resourceRow
	err := t.scanRow(ctx, `SELECT `+resourceColumns+` FROM resources WHERE kind = $1 AND key = $2`, []any{kind, key}, x.dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%s with key %s: %w", kind, key, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return x.resource(), nil
}

func (t *txn) ResourcePut(ctx context.Context, r *store.Resource) error {
	// A key taken by another resource is a conflict, not a failed
	// transaction: check first.
	if r.Key != "" {
		var n int64
		if err := t.scanRow(ctx, `SELECT count(*) FROM resources WHERE kind = $1 AND key = $2 AND NOT (account = $3 AND region = $4 AND name = $5)`,
			[]any{r.Kind, r.Key, r.Scope.Account, r.Scope.Region, r.Name}, &n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%s %s: key %s: %w", r.Kind, r.Name, r.Key, store.ErrConflict)
		}
	}
	tag, err := t.exec(ctx, `UPDATE resources SET parent = $1, key = $2, modified = $3, doc = $4, live = $5 WHERE account = $6 AND region = $7 AND kind = $8 AND name = $9`,
		r.Parent, nullKey(r.Key), nanos(r.Modified), r.Doc, r.Live, r.Scope.Account, r.Scope.Region, r.Kind, r.Name)
	if err != nil {
		return err
	}
	return mustAffect(tag, r.Kind+" "+r.Name)
}

func (t *txn) ResourceDelete(ctx context.Context, s store.Scope, kind, name string) error {
	tag, err := t.exec(ctx, `DELETE FROM resources WHERE account = $1 AND region = $2 AND kind = $3 AND name = $4`, s.Account, s.Region, kind, name)
	if err != nil {
		return err
	}
	return mustAffect(tag, kind+" "+name)
}

func (t *txn) ResourceList(ctx context.Context, s store.Scope, kind, parent string) ([]*store.Resource, error) {
	q, args := `SELECT `+resourceColumns+` FROM resources WHERE kind = $1`, []any{kind}
	if s != (store.Scope{}) {
		q += ` AND account = $2 AND region = $3`
		args = append(args, s.Account, s.Region)
	}
	if parent != "" {
		args = append(args, parent)
		q += fmt.Sprintf(` AND parent = $%d`, len(args))
	}
	return t.resources(ctx, q+` ORDER BY created, name`, args)
}

func (t *txn) ResourceListLive(ctx context.Context, kind string) ([]*store.Resource, error) {
	return t.resources(ctx, `SELECT `+resourceColumns+` FROM resources WHERE kind = $1 AND live ORDER BY created, name`, []any{kind})
}

func (t *txn) resources(ctx context.Context, q string, args []any) ([]*store.Resource, error) {
	var out []*store.Resource
	err := t.query(ctx, q, args, func(rows pgx.Rows) error {
		var x resourceRow
		if err := rows.Scan(x.dest()...); err != nil {
			return err
		}
		out = append(out, x.resource())
		return nil
	})
	return out, err
}
