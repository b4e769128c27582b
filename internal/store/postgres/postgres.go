// Package postgres is a Store on PostgreSQL, through pgx. It keeps the same
// tables as the embedded SQLite store (./sqlite): each resource's API
// document as stored JSON bytes (bytea, so that BatchGet answers return
// them byte for byte) beside a few indexed columns.
//
// Writers run one at a time, as in SQLite: every Update takes a
// transaction-level advisory lock first, then runs at READ COMMITTED, so it
// sees everything committed before it and PostgreSQL never aborts it for a
// serialization failure: Update's fn runs exactly once (callers keep state
// beside the transaction, e.g. the batch coordinator). View runs its fn in
// a REPEATABLE READ READ ONLY transaction (one snapshot), which is never
// aborted either. A deadlock or serialization failure, should one happen
// anyway, is returned, not retried.
//
// Builds, batches and reports are numbered (Seq) in commit order, as in
// SQLite, which has one writer at a time: a transaction takes an advisory
// lock, held until it ends, before its first insert of a build, a batch or
// a report, so that a listing paged by Seq never finds a row appear behind
// its cursor.
//
// Text columns use the "C" collation, so listings order by bytes as
// SQLite's default BINARY collation does, whatever the database's locale;
// strings are stored with NUL bytes escaped (see escape), which PostgreSQL
// text cannot hold. The database's encoding must be UTF8 (or SQL_ASCII).
package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/buildbatch/buildbatch/internal/store"
)

// Store is a store.Store on one PostgreSQL database.
type Store struct {
	pool  *pgxpool.Pool
	where string // user@host:port/database
}

// Describe says which database the store uses (no password).
func (s *Store) Describe() string { return s.where }

var _ store.Store = (*Store)(nil)

// Advisory lock keys (arbitrary constants, "bbseq", "bbmig" and "bbwri").
const (
	seqLockKey     int64 = 0x6262736571
	migrateLockKey int64 = 0x62626d6967
	writerLockKey  int64 = 0x6262777269
)

// Open connects to the database at url (a postgres:// URL or a libpq
// keyword/value string; pool settings such as pool_max_conns may be given
// in it) and migrates it to the current schema version.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s: %w", redact(cfg), err)
	}
	// Text is compared and stored byte for byte only in these encodings.
	var enc string
	if err := pool.QueryRow(ctx, `SHOW server_encoding`).Scan(&enc); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if enc != "UTF8" && enc != "SQL_ASCII" {
		pool.Close()
		return nil, fmt.Errorf("postgres: database %s has encoding %s; buildbatch needs UTF8", redact(cfg), enc)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate %s: %w", redact(cfg), err)
	}
	return &Store{pool: pool, where: redact(cfg)}, nil
}

func redact(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// Close closes the connection pool, waiting for connections in use to be
// returned.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	return store.CheckFull(s.run(ctx, false, fn))
}

// View implements store.Store.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	return s.run(ctx, true, fn)
}

func (s *Store) run(ctx context.Context, readOnly bool, fn func(store.Tx) error) error {
	opts := pgx.TxOptions{IsoLevel: pgx.ReadCommitted, AccessMode: pgx.ReadWrite}
	if readOnly {
		opts = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	}
	return s.attempt(ctx, opts, readOnly, fn)
}

// attempt runs fn once in a transaction, committed if fn returns nil.
func (s *Store) attempt(ctx context.Context, opts pgx.TxOptions, readOnly bool, fn func(store.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	// Rolls back when fn fails or panics; a no-op after Commit.
	defer tx.Rollback(context.WithoutCancel(ctx))
	if !readOnly {
		// One writer at a time (see the package comment).
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, writerLockKey); err != nil {
			return err
		}
	}
	t := &txn{tx: tx, readOnly: readOnly}
	if err := fn(t); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// txn implements store.Tx. Its methods may be called from several
// goroutines: mu keeps one statement on the connection at a time.
type txn struct {
	mu        sync.Mutex
	tx        pgx.Tx
	readOnly  bool
	seqLocked bool // the transaction holds the insert-order lock
}

// note passes err on (a hook for statement errors).
func (t *txn) note(err error) error { return err }

// exec, scanRow and query pass string arguments through escape: strings
// read back must go through unescape.

func (t *txn) exec(ctx context.Context, q string, args ...any) (pgconn.CommandTag, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tag, err := t.tx.Exec(ctx, q, escapeArgs(args)...)
	return tag, t.note(err)
}

// scanRow runs a query of at most one row into dest; no row is
// pgx.ErrNoRows.
func (t *txn) scanRow(ctx context.Context, q string, args []any, dest ...any) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.note(t.tx.QueryRow(ctx, q, escapeArgs(args)...).Scan(dest...))
}

// query runs a query and calls each for every row.
func (t *txn) query(ctx context.Context, q string, args []any, each func(pgx.Rows) error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	rows, err := t.tx.Query(ctx, q, escapeArgs(args)...)
	if err != nil {
		return t.note(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return t.note(err)
		}
	}
	return t.note(rows.Err())
}

// lockSeq takes the lock that makes inserts of builds, batches and
// reports, and so their Seq, follow commit order.
func (t *txn) lockSeq(ctx context.Context) error {
	if t.seqLocked {
		return nil
	}
	if _, err := t.exec(ctx, `SELECT pg_advisory_xact_lock($1)`, seqLockKey); err != nil {
		return err
	}
	t.seqLocked = true
	return nil
}

func mustAffect(tag pgconn.CommandTag, what string) error {
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// limit is the LIMIT of a page query: one more than the page, to tell
// whether there is a next page. As in SQLite, a negative limit means none
// (nil is LIMIT NULL, that is LIMIT ALL).
func limit(p store.Page) any {
	if n := p.Limit + 1; n >= 0 {
		return int64(n)
	}
	return nil
}

// PostgreSQL text cannot hold NUL bytes, which SQLite stores like any
// other. Strings are stored escaped: NUL as 0x01 0x01 and 0x01 as 0x01
// 0x02, an encoding that keeps byte order (so listings sort as in SQLite)
// and leaves every other string as it is.
func escape(s string) string {
	if strings.IndexByte(s, 0) < 0 && strings.IndexByte(s, 1) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case 0:
			b.WriteString("\x01\x01")
		case 1:
			b.WriteString("\x01\x02")
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func unescape(s string) string {
	if strings.IndexByte(s, 1) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 1 && i+1 < len(s) {
			i++
			b.WriteByte(s[i] - 1)
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// escapeArgs escapes the strings among query arguments.
func escapeArgs(args []any) []any {
	var out []any
	for i, a := range args {
		var e any
		switch v := a.(type) {
		case string:
			if x := escape(v); x != v {
				e = x
			}
		case []string:
			for j, s := range v {
				if x := escape(s); x != s {
					if e == nil {
						e = slices.Clone(v)
					}
					e.([]string)[j] = x
				}
			}
		}
		if e != nil {
			if out == nil {
				out = slices.Clone(args)
			}
			out[i] = e
		}
	}
	if out == nil {
		return args
	}
	return out
}

func encode(v any) ([]byte, error) { return json.Marshal(v) }

func decode[T any](b []byte) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("corrupt stored document: %w", err)
	}
	return v, nil
}
