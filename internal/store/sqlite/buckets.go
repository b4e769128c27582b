package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/buildbatch/buildbatch/internal/store"
)

// Buckets' owners do not go through the document cache: every read goes
// to SQLite.

func (t *txn) BucketOwner(ctx context.Context, name string) (store.Scope, bool, error) {
	var s store.Scope
	err := t.queryRow(ctx, `SELECT account, region FROM buckets WHERE name = ?`, name).Scan(&s.Account, &s.Region)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Scope{}, false, nil
	}
	if err != nil {
		return store.Scope{}, false, err
	}
	return s, true, nil
}

// BucketClaim inserts s as the owner unless the bucket has one, then reads
// the owner back: with one writer at a time (BEGIN IMMEDIATE), the insert
// and the read see the same owner.
func (t *txn) BucketClaim(ctx context.Context, name string, s store.Scope, now time.Time) (store.Scope, error) {
	if _, err := t.exec(ctx, `INSERT INTO buckets (name, account, region, created) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
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
	rows, err := t.query(ctx, `SELECT name, account, region, created FROM buckets WHERE account = ? ORDER BY name`, account)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Bucket
	for rows.Next() {
		var b store.Bucket
		var created int64
		if err := rows.Scan(&b.Name, &b.Owner.Account, &b.Owner.Region, &created); err != nil {
			return nil, err
		}
		b.Created = time.Unix(0, created)
		out = append(out, b)
	}
	return out, rows.Err()
}

func (t *txn) BucketRelease(ctx context.Context, name string) error {
	_, err := t.exec(ctx, `DELETE FROM buckets WHERE name = ?`, name)
	return err
}
