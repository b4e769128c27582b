// Package sqlite is the embedded default Store: SQLite in WAL mode through a
// pure-Go driver (no cgo). Writes go through one connection (SQLite has one
// writer at a time; BEGIN IMMEDIATE avoids lock upgrades), reads through a
// pool of read-only connections that WAL lets run beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"

	"github.com/buildbatch/buildbatch/internal/store"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DB is a Store on one SQLite file.
type DB struct {
	write *sql.DB
	read  *sql.DB
}

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the database at path and migrates it to the
// current schema version.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	dsn := func(extra string) string {
		q := url.Values{}
		for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "synchronous(NORMAL)", "foreign_keys(1)"} {
			q.Add("_pragma", p)
		}
		return "file:" + path + "?" + q.Encode() + extra
	}
	w, err := sql.Open("sqlite", dsn("&_txlock=immediate"))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn("&mode=ro"))
	if err != nil {
		w.Close()
		return nil, err
	}
	n := max(4, runtime.GOMAXPROCS(0)*2)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	return &DB{write: w, read: r}, nil
}

// Close closes both pools.
func (db *DB) Close() error {
	return errors.Join(db.read.Close(), db.write.Close())
}

// Update implements store.Store.
func (db *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
	return run(ctx, db.write, false, fn)
}

// View implements store.Store.
func (db *DB) View(ctx context.Context, fn func(store.Tx) error) error {
	return run(ctx, db.read, true, fn)
}

func run(ctx context.Context, db *sql.DB, readOnly bool, fn func(store.Tx) error) error {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: readOnly})
	if err != nil {
		return err
	}
	if err := fn(&txn{tx: tx}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// txn implements store.Tx.
type txn struct {
	tx *sql.Tx
}

func encode(v any) ([]byte, error) { return json.Marshal(v) }

func decode[T any](b []byte) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("corrupt stored document: %w", err)
	}
	return v, nil
}
