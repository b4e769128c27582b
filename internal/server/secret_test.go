package server

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/buildbatch/buildbatch/internal/store/sqlite"
)

// TestSharedSecret: the first caller makes the secret, every later one
// (another node on the store, or this one restarted) reads the same, also
// when several ask at once.
func TestSharedSecret(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "buildbatch.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	keys := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := sharedSecret(ctx, st, "test")
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for _, k := range keys {
		if len(k) != 32 || !bytes.Equal(k, keys[0]) {
			t.Fatalf("keys differ or are short: %x vs %x", k, keys[0])
		}
	}
	other, err := sharedSecret(ctx, st, "other")
	if err != nil || bytes.Equal(other, keys[0]) {
		t.Errorf("another name's secret: %x, %v", other, err)
	}
	st.Close()
	st, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	again, err := sharedSecret(ctx, st, "test")
	if err != nil || !bytes.Equal(again, keys[0]) {
		t.Errorf("after reopening: %x, %v", again, err)
	}
}
