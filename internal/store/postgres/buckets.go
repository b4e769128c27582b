package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/buildbatch/buildbatch/internal/store"
)

func (t *txn) BucketOwner(ctx context.Context, name string) (store.Scope, bool, error) {
	var s store.Scope
	err := t.scanRow(ctx, `SELECT account, region FROM buckets WHERE name = $1`, []any{name}, &s.Account, &s.Region)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Scope{}, false, nil
	}
	if err != nil {
		return store.Scope{}, false, err
	}
	return store.Scope{Account: unescape(s.Account), Region: unescape(s.Region)}, true, nil
}

// BucketClaim inserts s as the owner unless the bucket has one, then reads
// the owner back. Writers run one at a time, and at READ COMMITTED a
// conflicting insert would wait for the other transaction and the read
// (a new statement) see its row: the insert and the read agree.
func (t *txn) BucketClaim(ctx context.Context, name string, s store.Scope, now time.Time) (store.Scope, error) {
	if _, err := t.exec(ctx, `INSERT INTO buckets (name, account, region, created) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING`,
		name, s.Account, s.Region, now.UnixNano()); err != nil {
		return store.Scope{}, err
	}
	owner, ok, err := t.BucketOwner(ctx, name)
	if err != nil {
		return store.Scope{}, err
	}
	if !ok {
		return store.Scope{}, fmt.Errorf("bucket %s: claimed, but no owner is stored", name)
	}
	return owner, nil
}

func (t *txn) BucketList(ctx context.Context, account string) ([]store.Bucket, error) {
	var out []store.Bucket
	err := t.query(ctx, `SELECT name, account, region, created FROM buckets WHERE account = $1 ORDER BY name COLLATE "C"`, []any{account}, func(rows pgx.Rows) error {
		var b store.Bucket
		var created int64
		if err := rows.Scan(&b.Name, &b.Owner.Account, &b.Owner.Region, &created); err != nil {
			return err
		}
		b.Name, b.Owner = unescape(b.Name), store.Scope{Account: unescape(b.Owner.Account), Region: unescape(b.Owner.Region)}
		b.Created = time.Unix(0, created)
		out = append(out, b)
		return nil
	})
	return out, err
}

func (t *txn) BucketRelease(ctx context.Context, name string) error {
	_, err := t.exec(ctx, `DELETE FROM buckets WHERE name = $1`, name)
	return err
}
