package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/buildbatch/buildbatch/internal/store"
)

// sharedSecret returns the deployment's secret of this name: a random
// 32-byte key made by the first node that asks and kept in the store, so
// that every node sharing the store (and this one after a restart) uses
// the same.
func sharedSecret(ctx context.Context, st store.Store, name string) ([]byte, error) {
	type doc struct {
		Key []byte `json:"key"`
	}
	read := func() ([]byte, error) {
		var key []byte
		err := st.View(ctx, func(tx store.Tx) error {
			r, err := tx.ResourceGet(ctx, store.Scope{}, store.KindServerSecret, name)
			if err != nil {
				return err
			}
			var d doc
			if err := json.Unmarshal(r.Doc, &d); err != nil || len(d.Key) < 32 {
				return fmt.Errorf("the stored %s secret is unreadable", name)
			}
			key = d.Key
			return nil
		})
		return key, err
	}
	key, err := read()
	if !errors.Is(err, store.ErrNotFound) {
		return key, err
	}
	fresh := make([]byte, 32)
	rand.Read(fresh)
	b, _ := json.Marshal(doc{Key: fresh})
	now := time.Now()
	err = st.Update(ctx, func(tx store.Tx) error {
		return tx.ResourceInsert(ctx, &store.Resource{Kind: store.KindServerSecret, Name: name, Created: now, Modified: now, Doc: b})
	})
	if errors.Is(err, store.ErrConflict) { // another node made it first
		return read()
	}
	if err != nil {
		return nil, err
	}
	return fresh, nil
}
