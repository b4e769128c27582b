package postgres

import (
	"context"

	"github.com/buildbatch/buildbatch/internal/store"
)

func (t *txn) BuildCountQueued(ctx context.Context) (all, standalone int, err error) {
	err = t.scanRow(ctx, `SELECT count(*), count(*) FILTER (WHERE batch_id = '') FROM builds
		WHERE NOT complete AND queued AND node = ''`, nil, &all, &standalone)
	return all, standalone, err
}

func (t *txn) BuildListQueued(ctx context.Context) ([]*store.Build, error) {
	return t.queryBuilds(ctx, buildSelect+` WHERE NOT complete AND queued AND node = '' ORDER BY seq`)
}
