package sqlite

import (
	"context"

	"github.com/buildbatch/buildbatch/internal/store"
)

func (t *txn) BuildCountQueued(ctx context.Context) (all, standalone int, err error) {
	err = t.queryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE batch_id = '') FROM builds
		WHERE complete = 0 AND queued = 1 AND node = ''`).Scan(&all, &standalone)
	return all, standalone, err
}

func (t *txn) BuildListQueued(ctx context.Context) ([]*store.Build, error) {
	return t.queryBuilds(ctx, buildSelect+` WHERE complete = 0 AND queued = 1 AND node = '' ORDER BY seq`)
}
