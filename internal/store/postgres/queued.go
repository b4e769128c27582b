package postgres

import (
	"context"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5"
	"time"

	"github.com/buildbatch/buildbatch/internal/store"
)

func (t *txn) BuildCountQueued(ctx context.Context) (all, standalone int, err error) {
	err = t.scanRow(ctx, `SELECT count(*), count(*) FILTER (WHERE batch_id = '') FROM builds
		WHERE NOT complete AND queued AND node = ''`, nil, &all, &standalone)
	return all, standalone, err
}

func (t *txn) BuildRelease(ctx context.Context, b *store.Build) error {
	id := *b.Doc.Id
	tag, err := t.exec(ctx, `UPDATE builds SET node = '', lease_until = 0, rev = rev + 1 WHERE id = $1 AND account = $2 AND region = $3 AND rev = $4`,
		id, b.Scope.Account, b.Scope.Region, b.Rev)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 1 {
		b.Rev++
		b.Node, b.LeaseUntil = "", time.Time{}
		return nil
	}
	if _, err := t.BuildGet(ctx, b.Scope, id); err != nil {
		return err
	}
	return fmt.Errorf("build %s: %w", id, store.ErrStale)
}

func (t *txn) BuildListQueued(ctx context.Context) ([]*store.Build, error) {
	return t.queryBuilds(ctx, buildSelect+` WHERE NOT complete AND queued AND node = '' ORDER BY seq`)
}

func (t *txn) BatchRev(ctx context.Context, s store.Scope, id string) (int64, error) {
	var rev int64
	err := t.scanRow(ctx, `SELECT rev FROM batches WHERE id = $1 AND account = $2 AND region = $3`, []any{id, s.Account, s.Region}, &rev)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("batch %s: %w", id, store.ErrNotFound)
	}
	return rev, err
}
