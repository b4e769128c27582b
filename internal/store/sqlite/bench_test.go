package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
)

// BenchmarkBuildDocs reads 100 random builds' documents among n stored,
// with the document cache bypassed (every read goes to SQLite).
func BenchmarkBuildDocs(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ctx := context.Background()
			db, err := Open(ctx, filepath.Join(b.TempDir(), "db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			scope := store.Scope{Account: "a", Region: "r"}
			pad := strings.Repeat("x", 2000)
			var ids []string
			for len(ids) < n {
				db.Update(ctx, func(tx store.Tx) error {
					for i := 0; i < 5000 && len(ids) < n; i++ {
						id := fmt.Sprintf("p:%08d", len(ids))
						doc := &cb.Build{Id: cb.String(id), ProjectName: cb.String("p"), BuildNumber: cb.Int64(int64(len(ids))),
							BuildStatus: cb.String("SUCCEEDED"), BuildComplete: cb.Bool(true), Initiator: cb.String(pad)}
						if err := tx.BuildInsert(ctx, &store.Build{Scope: scope, Doc: doc}); err != nil {
							return err
						}
						ids = append(ids, id)
					}
					return nil
				})
			}
			db.cache = newDocCache(0)
			b.ResetTimer()
			for b.Loop() {
				pick := make([]string, 100)
				for i := range pick {
					pick[i] = ids[rand.IntN(len(ids))]
				}
				db.View(ctx, func(tx store.Tx) error {
					_, err := tx.BuildDocs(ctx, scope, pick)
					return err
				})
			}
		})
	}
}
