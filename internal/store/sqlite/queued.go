package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/buildbatch/buildbatch/internal/store"
)

func (t *txn) BuildCountQueued(ctx context.Context) (all, standalone int, err error) {
	err = t.queryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE batch_id = '') FROM builds
		WHERE complete = 0 AND queued = 1 AND node = ''`).Scan(&all, &standalone)
	return all, standalone, err
}

func (t *txn) BuildRelease(ctx context.Context, b *store.Build) error {
	id := b.Doc.Id
	res, err := t.exec(ctx, `UPDATE builds SET node = '', lease_until = 0, rev = rev + 1 WHERE id = ? AND account = ? AND region = ? AND rev = ?`,
		*id, b.Scope.Account, b.Scope.Region, b.Rev)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		if err == nil {
			b.Rev++
			b.Node, b.LeaseUntil = "", time.Time{}
		}
		return err
	}
	if _, err := t.BuildGet(ctx, b.Scope, *id); err != nil {
		return err
	}
	return fmt.Errorf("build %s: %w", *id, store.ErrStale)
}

func (t *txn) BuildListQueued(ctx context.Context) ([]*store.Build, error) {
	return t.queryBuilds(ctx, buildSelect+` WHERE complete = 0 AND queued = 1 AND node = '' ORDER BY seq`)
}

func (t *txn) BatchRev(ctx context.Context, s store.Scope, id string) (int64, error) {
	var rev int64
	err := t.queryRow(ctx, `SELECT rev FROM batches WHERE id = ? AND account = ? AND region = ?`, id, s.Account, s.Region).Scan(&rev)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("batch %s: %w", id, store.ErrNotFound)
	}
	return rev, err
}
