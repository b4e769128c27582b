// Package tenancy keeps each account to its own buckets of the blob
// store, as S3 keeps it to its own: a build reads S3 sources and caches,
// and writes artifacts, caches and reports, only in buckets of its account
// and region. A bucket belongs to the account and region that first wrote
// to it through buildbatch (the store records it); a bucket no one owns
// yet (objects an operator put there by hand) may be read by every
// account, and becomes the first writer's.
package tenancy

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/buildbatch/buildbatch/internal/blob"
	"github.com/buildbatch/buildbatch/internal/store"
)

// DeniedError is an access to a bucket of another account, or of the same
// account in another region.
type DeniedError struct {
	Bucket string
	// Region is set when the bucket is the account's own, in another
	// region than the build's.
	Region, BuildRegion string
}

func (e *DeniedError) Error() string {
	if e.Region != "" {
		return fmt.Sprintf("AccessDenied: the S3 bucket %s is in region %s, and a build in %s can only use buckets of its own region (status code: 403)", e.Bucket, e.Region, e.BuildRegion)
	}
	return fmt.Sprintf("AccessDenied: Access Denied to the S3 bucket %s: it belongs to another account (status code: 403)", e.Bucket)
}

// Guard is the blob store as one scope (account and region) sees it. It
// remembers the owners it has looked up for its lifetime (one build's).
type Guard struct {
	blob  blob.Store
	st    store.Store
	scope store.Scope
	now   func() time.Time

	mu     sync.Mutex
	owners map[string]owner
}

type owner struct {
	scope store.Scope
	ok    bool
}

var _ blob.Store = (*Guard)(nil)

// New returns the blob store b as scope sees it; st records the buckets'
// owners.
func New(b blob.Store, st store.Store, scope store.Scope) *Guard {
	return &Guard{blob: b, st: st, scope: scope, now: time.Now, owners: map[string]owner{}}
}

// check refuses access to a bucket of another scope; a write claims an
// unowned bucket for this one.
func (g *Guard) check(ctx context.Context, bucket string, write bool) error {
	g.mu.Lock()
	o, known := g.owners[bucket]
	g.mu.Unlock()
	if !known {
		var err error
		if write {
			err = g.st.Update(ctx, func(tx store.Tx) error {
				s, err := tx.BucketClaim(ctx, bucket, g.scope, g.now())
				o = owner{scope: s, ok: true}
				return err
			})
		} else {
			err = g.st.View(ctx, func(tx store.Tx) error {
				s, ok, err := tx.BucketOwner(ctx, bucket)
				o = owner{scope: s, ok: ok}
				return err
			})
		}
		if err != nil {
			return fmt.Errorf("looking up the owner of bucket %s: %w", bucket, err)
		}
		if o.ok { // an unowned bucket is looked up again: a write may claim it
			g.mu.Lock()
			g.owners[bucket] = o
			g.mu.Unlock()
		}
	}
	switch {
	case !o.ok:
		return nil // no one's yet: readable
	case o.scope.Account != g.scope.Account:
		return &DeniedError{Bucket: bucket}
	case o.scope.Region != g.scope.Region:
		return &DeniedError{Bucket: bucket, Region: o.scope.Region, BuildRegion: g.scope.Region}
	}
	return nil
}

// Put implements blob.Store.
func (g *Guard) Put(ctx context.Context, bucket, key string, r io.Reader) error {
	if err := g.check(ctx, bucket, true); err != nil {
		return err
	}
	return g.blob.Put(ctx, bucket, key, r)
}

// Open implements blob.Store.
func (g *Guard) Open(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	if err := g.check(ctx, bucket, false); err != nil {
		return nil, err
	}
	return g.blob.Open(ctx, bucket, key)
}

// Stat implements blob.Store.
func (g *Guard) Stat(ctx context.Context, bucket, key string) (blob.Info, error) {
	if err := g.check(ctx, bucket, false); err != nil {
		return blob.Info{}, err
	}
	return g.blob.Stat(ctx, bucket, key)
}

// List implements blob.Store.
func (g *Guard) List(ctx context.Context, bucket, prefix string) ([]string, error) {
	if err := g.check(ctx, bucket, false); err != nil {
		return nil, err
	}
	return g.blob.List(ctx, bucket, prefix)
}

// Delete implements blob.Store.
func (g *Guard) Delete(ctx context.Context, bucket, prefix string) error {
	if err := g.check(ctx, bucket, true); err != nil {
		return err
	}
	return g.blob.Delete(ctx, bucket, prefix)
}
