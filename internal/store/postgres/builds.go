package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
)

func (t *txn) CounterNext(ctx context.Context, s store.Scope, project, kind string) (int64, error) {
	var v int64
	err := t.scanRow(ctx, `INSERT INTO counters (account, region, project, kind, value) VALUES ($1, $2, $3, $4, 1)
		ON CONFLICT (account, region, project, kind) DO UPDATE SET value = counters.value + 1 RETURNING value`,
		[]any{s.Account, s.Region, project, kind}, &v)
	return v, err
}

func buildCols(b *store.Build) (doc, meta []byte, status string, complete, queued bool, err error) {
	if doc, err = encode(b.Doc); err != nil {
		return
	}
	if meta, err = json.Marshal(b.Meta); err != nil {
		return
	}
	return doc, meta, codebuild.Deref(b.Doc.BuildStatus), codebuild.Deref(b.Doc.BuildComplete), store.Queued(b.Doc), nil
}

// nanos is t in Unix nanoseconds, 0 for the zero time; fromNanos undoes it.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// BuildInsert stores a new build at revision 1, unclaimed (the Node,
// LeaseUntil and StopRequested b has are not stored, and are reset).
func (t *txn) BuildInsert(ctx context.Context, b *store.Build) error {
	doc, meta, status, complete, queued, err := buildCols(b)
	if err != nil {
		return err
	}
	if err := t.lockSeq(ctx); err != nil {
		return err
	}
	id := codebuild.Deref(b.Doc.Id)
	err = t.scanRow(ctx, `INSERT INTO builds (account, region, id, project, number, status, complete, batch_id, doc, meta, rev, queued, fleet)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $12) ON CONFLICT DO NOTHING RETURNING seq`,
		[]any{b.Scope.Account, b.Scope.Region, id, codebuild.Deref(b.Doc.ProjectName), codebuild.Deref(b.Doc.BuildNumber),
			status, complete, b.Meta.BatchID, doc, meta, queued, store.FleetOf(b.Doc)}, &b.Seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("build %s: %w", id, store.ErrConflict)
	}
	if err == nil {
		b.Rev, b.Node, b.LeaseUntil, b.StopRequested = 1, "", time.Time{}, false
	}
	return err
}

// buildColumns are what buildSelect selects and scanBuild reads.
const (
	buildColumns = `account, region, seq, doc, meta, rev, node, lease_until, stop_requested`
	buildSelect  = `SELECT ` + buildColumns + ` FROM builds`
)

// scanBuild reads a row of buildColumns, then more.
func scanBuild(row pgx.Row, more ...any) (*store.Build, error) {
	var b store.Build
	var lease int64
	d, err := scanStored[codebuild.Build](row, "build", &b.Scope, &b.Seq, &b.Meta, append([]any{&b.Rev, &b.Node, &lease, &b.StopRequested}, more...)...)
	if err != nil {
		return nil, err
	}
	b.Doc = d
	b.Node = unescape(b.Node)
	b.LeaseUntil = fromNanos(lease)
	return &b, nil
}

// scanStored reads the columns a build or batch row is selected with:
// scope, seq, document and meta data, then those of more.
func scanStored[D, M any](row pgx.Row, kind string, s *store.Scope, seq *int64, meta *M, more ...any) (*D, error) {
	var doc, m []byte
	if err := row.Scan(append([]any{&s.Account, &s.Region, seq, &doc, &m}, more...)...); err != nil {
		return nil, err
	}
	s.Account, s.Region = unescape(s.Account), unescape(s.Region)
	d, err := decode[D](doc)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(m, meta); err != nil {
		return nil, fmt.Errorf("corrupt %s meta data: %w", kind, err)
	}
	return d, nil
}

func (t *txn) BuildGet(ctx context.Context, s store.Scope, id string) (*store.Build, error) {
	var b *store.Build
	err := t.query(ctx, buildSelect+` WHERE id = $1 AND account = $2 AND region = $3`, []any{id, s.Account, s.Region},
		func(rows pgx.Rows) (err error) { b, err = scanBuild(rows); return err })
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("build %s: %w", id, store.ErrNotFound)
	}
	return b, nil
}

func (t *txn) BuildPut(ctx context.Context, b *store.Build) error {
	doc, meta, status, complete, queued, err := buildCols(b)
	if err != nil {
		return err
	}
	id := codebuild.Deref(b.Doc.Id)
	// As in SQLite, the project, number and batch id columns keep their
	// inserted values.
	tag, err := t.exec(ctx, `UPDATE builds SET rev = rev + 1, status = $1, complete = $2, queued = $3,
		lease_until = CASE WHEN $2 THEN 0 ELSE lease_until END, doc = $4, meta = $5
		WHERE id = $6 AND account = $7 AND region = $8 AND rev = $9`,
		status, complete, queued, doc, meta, id, b.Scope.Account, b.Scope.Region, b.Rev)
	if err != nil {
		return err
	}
	if err := t.revised(ctx, tag, "builds", "build", id, b.Scope); err != nil {
		return err
	}
	b.Rev++
	if complete {
		b.LeaseUntil = time.Time{}
	}
	return nil
}

// revised checks the result of a revision-checked update of a build or
// batch: no row changed is ErrNotFound if there is no such row, else
// ErrStale.
func (t *txn) revised(ctx context.Context, tag pgconn.CommandTag, table, kind, id string, s store.Scope) error {
	if tag.RowsAffected() > 0 {
		return nil
	}
	var one int
	err := t.scanRow(ctx, `SELECT 1 FROM `+table+` WHERE id = $1 AND account = $2 AND region = $3`, []any{id, s.Account, s.Region}, &one)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%s %s: %w", kind, id, store.ErrNotFound)
	case err != nil:
		return err
	}
	return fmt.Errorf("%s %s: %w", kind, id, store.ErrStale)
}

// BuildClaim claims in one statement (writers run one at a time, and the
// rows are locked besides): orphans (expired leases, and with c.Own the
// node's own builds), then the first c.Limit unclaimed queued builds.
func (t *txn) BuildClaim(ctx context.Context, c store.Claim) ([]*store.Build, error) {
	if c.Node == "" {
		return nil, errors.New("build claim without a node")
	}
	type claimed struct {
		kind int
		b    *store.Build
	}
	var all []claimed
	collect := func(rows pgx.Rows) error {
		var x claimed
		var err error
		x.b, err = scanBuild(rows, &x.kind)
		all = append(all, x)
		return err
	}
	// Fleets' reserved capacity first (the statement below then sees
	// those builds claimed).
	for i, f := range c.Fleets {
		if f.Limit <= 0 || f.Fleet == "" {
			continue
		}
		err := t.query(ctx, `WITH waiting AS (
				SELECT seq FROM builds WHERE NOT complete AND fleet = $1 AND account = $2 AND region = $3 AND queued AND node = ''
				ORDER BY seq LIMIT $4 FOR UPDATE
			)
			UPDATE builds SET node = $5, lease_until = $6, rev = builds.rev + 1 FROM waiting WHERE builds.seq = waiting.seq
			RETURNING builds.account, builds.region, builds.seq, builds.doc, builds.meta, builds.rev, builds.node,
				builds.lease_until, builds.stop_requested, $7::int`,
			[]any{f.Fleet, f.Scope.Account, f.Scope.Region, int64(f.Limit), c.Node, nanos(c.Until), 1 + i}, collect)
		if err != nil {
			return nil, err
		}
	}
	onDemand := make([]string, len(c.OnDemand))
	for i, f := range c.OnDemand {
		onDemand[i] = f.Key()
	}
	err := t.query(ctx, `WITH expired AS (
			SELECT seq FROM builds WHERE NOT complete AND node <> '' AND lease_until < $1 FOR UPDATE
		), own AS (
			SELECT seq FROM builds WHERE $2 AND NOT complete AND node = $3 FOR UPDATE
		), waiting AS (
			SELECT seq FROM builds WHERE NOT complete AND queued AND node = ''
				AND (fleet = '' OR account || '/' || region || '/' || fleet = ANY($6::text[])) ORDER BY seq LIMIT $4 FOR UPDATE
		), picked AS (
			SELECT seq, 0 AS kind FROM expired UNION SELECT seq, 0 FROM own UNION ALL SELECT seq, $7::int FROM waiting
		)
		UPDATE builds SET node = $3, lease_until = $5, rev = builds.rev + 1 FROM picked WHERE builds.seq = picked.seq
		RETURNING builds.account, builds.region, builds.seq, builds.doc, builds.meta, builds.rev, builds.node,
			builds.lease_until, builds.stop_requested, picked.kind`,
		[]any{nanos(c.Now), c.Own, c.Node, int64(max(c.Limit, 0)), nanos(c.Until), onDemand, 1 + len(c.Fleets)}, collect)
	if err != nil {
		return nil, err
	}
	// RETURNING has no order: orphans, then each fleet's reserved builds,
	// then the on-demand ones, by seq.
	slices.SortFunc(all, func(a, b claimed) int {
		return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.b.Seq, b.b.Seq))
	})
	out := make([]*store.Build, len(all))
	for i, x := range all {
		out[i] = x.b
	}
	return out, nil
}

func (t *txn) BuildFleetLoad(ctx context.Context) ([]store.FleetLoad, error) {
	var out []store.FleetLoad
	err := t.query(ctx, `SELECT account, region, fleet, count(*) FILTER (WHERE queued AND node = ''), count(*) FILTER (WHERE node <> '')
		FROM builds WHERE NOT complete AND fleet <> '' GROUP BY fleet, account, region ORDER BY fleet, account, region`, nil,
		func(rows pgx.Rows) error {
			var l store.FleetLoad
			var q, r int64
			if err := rows.Scan(&l.Scope.Account, &l.Scope.Region, &l.Fleet, &q, &r); err != nil {
				return err
			}
			l.Scope = store.Scope{Account: unescape(l.Scope.Account), Region: unescape(l.Scope.Region)}
			l.Fleet, l.Queued, l.Running = unescape(l.Fleet), int(q), int(r)
			out = append(out, l)
			return nil
		})
	return out, err
}

func (t *txn) BuildRenew(ctx context.Context, node string, until time.Time) ([]store.Lease, error) {
	if node == "" { // holds nothing
		return nil, nil
	}
	type seqLease struct {
		seq int64
		l   store.Lease
	}
	var all []seqLease
	err := t.query(ctx, `UPDATE builds SET lease_until = $1 WHERE node = $2 AND NOT complete
		RETURNING seq, account, region, id, stop_requested`, []any{nanos(until), node}, func(rows pgx.Rows) error {
		var x seqLease
		if err := rows.Scan(&x.seq, &x.l.Scope.Account, &x.l.Scope.Region, &x.l.ID, &x.l.StopRequested); err != nil {
			return err
		}
		x.l.Scope.Account, x.l.Scope.Region, x.l.ID = unescape(x.l.Scope.Account), unescape(x.l.Scope.Region), unescape(x.l.ID)
		all = append(all, x)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(all, func(a, b seqLease) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]store.Lease, len(all))
	for i, x := range all {
		out[i] = x.l
	}
	return out, nil
}

func (t *txn) BuildRequestStop(ctx context.Context, s store.Scope, id string) error {
	tag, err := t.exec(ctx, `UPDATE builds SET stop_requested = true WHERE id = $1 AND account = $2 AND region = $3`, id, s.Account, s.Region)
	if err != nil {
		return err
	}
	return mustAffect(tag, "build "+id)
}

func (t *txn) BuildDelete(ctx context.Context, s store.Scope, id string) error {
	tag, err := t.exec(ctx, `DELETE FROM builds WHERE id = $1 AND account = $2 AND region = $3`, id, s.Account, s.Region)
	if err != nil {
		return err
	}
	return mustAffect(tag, "build "+id)
}

func (t *txn) BuildList(ctx context.Context, s store.Scope, project string, p store.Page) ([]string, *store.Cursor, error) {
	return t.listIDs(ctx, "builds", s, project, "", p)
}

// listIDs lists the ids of a table's rows in creation (seq) order, of one
// scope and optionally one project and one status, a page at a time.
func (t *txn) listIDs(ctx context.Context, table string, s store.Scope, project, status string, p store.Page) ([]string, *store.Cursor, error) {
	return t.listSeq(ctx, table, "id", "project", s, project, status, p)
}

// listSeq is listIDs of a table whose key column is idCol and whose
// owner's (project, report group) column is ownerCol.
func (t *txn) listSeq(ctx context.Context, table, idCol, ownerCol string, s store.Scope, owner, status string, p store.Page) ([]string, *store.Cursor, error) {
	q := `SELECT seq, ` + idCol + ` FROM ` + table + ` WHERE account = $1 AND region = $2`
	args := []any{s.Account, s.Region}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if owner != "" {
		q += ` AND ` + ownerCol + ` = ` + arg(owner)
	}
	if status != "" {
		q += ` AND status = ` + arg(status)
	}
	dir, cmp := "ASC", ">"
	if p.Descending {
		dir, cmp = "DESC", "<"
	}
	if p.After != nil {
		q += ` AND seq ` + cmp + ` ` + arg(p.After.Key)
	}
	q += ` ORDER BY seq ` + dir + ` LIMIT ` + arg(limit(p)) + `::bigint`
	ids := []string{}
	var last int64
	var next *store.Cursor
	err := t.query(ctx, q, args, func(rows pgx.Rows) error {
		if next != nil {
			return nil
		}
		var seq int64
		var id string
		if err := rows.Scan(&seq, &id); err != nil {
			return err
		}
		if len(ids) == p.Limit {
			next = &store.Cursor{Key: last}
			return nil
		}
		ids = append(ids, unescape(id))
		last = seq
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return ids, next, nil
}

func (t *txn) queryBuilds(ctx context.Context, q string, args ...any) ([]*store.Build, error) {
	var out []*store.Build
	err := t.query(ctx, q, args, func(rows pgx.Rows) error {
		b, err := scanBuild(rows)
		if err != nil {
			return err
		}
		out = append(out, b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (t *txn) BuildListIncomplete(ctx context.Context) ([]*store.Build, error) {
	return t.queryBuilds(ctx, buildSelect+` WHERE NOT complete ORDER BY seq`)
}

func (t *txn) BuildListAfter(ctx context.Context, seq int64, limit int) ([]*store.Build, error) {
	return t.queryBuilds(ctx, buildSelect+` WHERE seq > $1 ORDER BY seq LIMIT $2`, seq, max(limit, 0))
}

func (t *txn) BuildLastSeq(ctx context.Context) (int64, error) { return t.lastSeq(ctx, "builds") }

// lastSeq is the greatest seq of a table (builds or batches), 0 if empty.
func (t *txn) lastSeq(ctx context.Context, table string) (int64, error) {
	var seq int64
	err := t.scanRow(ctx, `SELECT coalesce(max(seq), 0) FROM `+table, nil, &seq)
	return seq, err
}

func (t *txn) BuildCountIncomplete(ctx context.Context, s store.Scope, project string) (int, error) {
	var n int
	err := t.scanRow(ctx, `SELECT count(*) FROM builds WHERE NOT complete AND account = $1 AND region = $2 AND project = $3`,
		[]any{s.Account, s.Region, project}, &n)
	return n, err
}

func (t *txn) BuildListByBatch(ctx context.Context, s store.Scope, batchID string) ([]*store.Build, error) {
	return t.queryBuilds(ctx, buildSelect+` WHERE batch_id = $1 AND account = $2 AND region = $3 ORDER BY seq`, batchID, s.Account, s.Region)
}

func (t *txn) IdempotencyGet(ctx context.Context, s store.Scope, op, token string, now time.Time) (string, string, error) {
	var hash, id string
	err := t.scanRow(ctx, `SELECT request_hash, resource_id FROM idempotency
		WHERE account = $1 AND region = $2 AND op = $3 AND token = $4 AND expires > $5`,
		[]any{s.Account, s.Region, op, token, now.UnixNano()}, &hash, &id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", fmt.Errorf("idempotency token: %w", store.ErrNotFound)
	}
	return unescape(hash), unescape(id), err
}

func (t *txn) IdempotencyPut(ctx context.Context, s store.Scope, op, token, hash, id string, expires time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO idempotency (account, region, op, token, request_hash, resource_id, expires) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (account, region, op, token) DO UPDATE SET request_hash = excluded.request_hash, resource_id = excluded.resource_id, expires = excluded.expires`,
		s.Account, s.Region, op, token, hash, id, expires.UnixNano())
	return err
}
