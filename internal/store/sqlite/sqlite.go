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
	"strings"
	"sync"

	"github.com/buildbatch/buildbatch/internal/store"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DB is a Store on one SQLite file.
type DB struct {
	write, read           *sql.DB
	writeStmts, readStmts *stmtCache
	cache                 *docCache
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
		for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "synchronous(NORMAL)", "foreign_keys(1)", "mmap_size(1073741824)"} {
			q.Add("_pragma", p)
		}
		// '%', '?' and '#' are URI syntax: a path holding them is escaped.
		return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path) + "?" + q.Encode() + extra
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
	return &DB{write: w, read: r, writeStmts: newStmtCache(w), readStmts: newStmtCache(r), cache: newDocCache(32 << 20)}, nil
}

// Close closes both pools.
func (db *DB) Close() error {
	return errors.Join(db.readStmts.close(), db.writeStmts.close(), db.read.Close(), db.write.Close())
}

// Update implements store.Store.
func (db *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
	return store.CheckFull(run(ctx, db.write, db.writeStmts, db.cache, false, fn))
}

// View implements store.Store.
func (db *DB) View(ctx context.Context, fn func(store.Tx) error) error {
	return run(ctx, db.read, db.readStmts, db.cache, true, fn)
}

func run(ctx context.Context, db *sql.DB, stmts *stmtCache, cache *docCache, readOnly bool, fn func(store.Tx) error) error {
	stmts.prepareWanted(ctx)
	t := &txn{db: db, readOnly: readOnly, stmts: stmts, cache: cache}
	if err := fn(t); err != nil {
		if t.tx != nil {
			t.tx.Rollback()
		}
		return err
	}
	if t.err != nil {
		return t.err
	}
	if t.tx != nil {
		if err := t.tx.Commit(); err != nil {
			return err
		}
	}
	if len(t.pending) > 0 {
		cache.wrote()
	}
	for _, p := range t.pending {
		cache.put(p.key, p.doc)
	}
	for _, s := range t.bumps {
		cache.bump(s)
	}
	return nil
}

// txn implements store.Tx. It begins its SQL transaction at the first
// query, so that what the caches answer costs no transaction.
type txn struct {
	db       *sql.DB
	readOnly bool
	tx       *sql.Tx
	err      error // beginning the transaction failed
	stmts    *stmtCache
	cache    *docCache
	pending  []cacheEntry  // document changes, applied to the cache on commit
	bumps    []store.Scope // scopes whose build listings changed
	// beganBumps is the cache's bump count when the SQLite transaction
	// began: a listing read in it is cached only if nothing was bumped
	// since (so the page is not older than its generation).
	beganBumps uint64
}

func (t *txn) sqlTx(ctx context.Context) (*sql.Tx, error) {
	if t.tx == nil && t.err == nil {
		t.beganBumps = t.cache.bumpCount()
		t.tx, t.err = t.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: t.readOnly})
	}
	return t.tx, t.err
}

// stmtCache keeps prepared statements, so that SQLite parses each query
// once per connection rather than on every call. A query is prepared at the
// start of the transaction after the one that first used it: preparing
// inside a transaction could wait for the very connection the transaction
// holds.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	wanted map[string]bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, wanted: map[string]bool{}}
}

// get returns the prepared statement of q, or nil (and remembers q).
func (c *stmtCache) get(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[q]; ok {
		return s
	}
	c.wanted[q] = true
	return nil
}

// prepareWanted prepares the queries get was asked for; call it outside
// any transaction.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	c.mu.Lock()
	var qs []string
	for q := range c.wanted {
		qs = append(qs, q)
	}
	c.mu.Unlock()
	for _, q := range qs {
		s, err := c.db.PrepareContext(ctx, q)
		c.mu.Lock()
		delete(c.wanted, q)
		if err == nil && c.m != nil && c.m[q] == nil {
			c.m[q] = s
		} else if err == nil {
			s.Close()
		}
		c.mu.Unlock()
	}
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, s := range c.m {
		errs = append(errs, s.Close())
	}
	c.m = nil
	return errors.Join(errs...)
}

func (t *txn) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	tx, err := t.sqlTx(ctx)
	if err != nil {
		return nil, err
	}
	if s := t.stmts.get(q); s != nil {
		return tx.StmtContext(ctx, s).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, q, args...)
}

// rowErr is a *sql.Row-like result for a transaction that could not begin.
type row interface{ Scan(...any) error }

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func (t *txn) queryRow(ctx context.Context, q string, args ...any) row {
	tx, err := t.sqlTx(ctx)
	if err != nil {
		return errRow{err}
	}
	if s := t.stmts.get(q); s != nil {
		return tx.StmtContext(ctx, s).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, q, args...)
}

func (t *txn) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	tx, err := t.sqlTx(ctx)
	if err != nil {
		return nil, err
	}
	if s := t.stmts.get(q); s != nil {
		return tx.StmtContext(ctx, s).QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, q, args...)
}

func encode(v any) ([]byte, error) { return json.Marshal(v) }

func decode[T any](b []byte) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("corrupt stored document: %w", err)
	}
	return v, nil
}
