package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildbatch/buildbatch/internal/store"
	"github.com/buildbatch/buildbatch/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func() store.Store {
		path := filepath.Join(t.TempDir(), "db")
		return func() store.Store {
			db, err := Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			return db
		}
	})
}

func TestMigrationVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	var v int
	db.write.QueryRow(`PRAGMA user_version`).Scan(&v)
	var mode string
	db.write.QueryRow(`PRAGMA journal_mode`).Scan(&mode)
	db.Close()
	if v != SchemaVersion || mode != "wal" {
		t.Errorf("user_version %d journal_mode %s, want %d wal", v, mode, SchemaVersion)
	}
	// A database from a newer buildbatch is refused, not damaged.
	raw, _ := sql.Open("sqlite", "file:"+path)
	raw.Exec(`PRAGMA user_version = 999`)
	raw.Close()
	if _, err := Open(context.Background(), path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer schema = %v, want a 'newer' error", err)
	}
}
