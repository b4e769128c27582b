package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/buildbatch/buildbatch/internal/store"
)

// docs returns the stored documents of the given keys of one scope, in
// order, nil for a miss, from one query.
func (t *txn) docs(ctx context.Context, table, keyCol string, s store.Scope, ids []string) ([][]byte, error) {
	out := make([][]byte, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	found := make(map[string][]byte, len(ids))
	err := t.query(ctx, `SELECT `+keyCol+`, doc FROM `+table+` WHERE `+keyCol+` = ANY($1::text[]) AND account = $2 AND region = $3`,
		[]any{ids, s.Account, s.Region}, func(rows pgx.Rows) error {
			var id string
			var doc []byte
			if err := rows.Scan(&id, &doc); err != nil {
				return err
			}
			found[unescape(id)] = doc
			return nil
		})
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		out[i] = found[id]
	}
	return out, nil
}

func (t *txn) ProjectDocs(ctx context.Context, s store.Scope, names []string) ([][]byte, error) {
	return t.docs(ctx, "projects", "name", s, names)
}

func (t *txn) BuildDocs(ctx context.Context, s store.Scope, ids []string) ([][]byte, error) {
	return t.docs(ctx, "builds", "id", s, ids)
}

func (t *txn) BatchDocs(ctx context.Context, s store.Scope, ids []string) ([][]byte, error) {
	return t.docs(ctx, "batches", "id", s, ids)
}
