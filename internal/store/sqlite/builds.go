package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
)

func (t *txn) CounterNext(ctx context.Context, s store.Scope, project, kind string) (int64, error) {
	var v int64
	err := t.queryRow(ctx, `INSERT INTO counters (account, region, project, kind, value) VALUES (?, ?, ?, ?, 1)
		ON CONFLICT (account, region, project, kind) DO UPDATE SET value = value + 1 RETURNING value`,
		s.Account, s.Region, project, kind).Scan(&v)
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
	id := codebuild.Deref(b.Doc.Id)
	res, err := t.exec(ctx, `INSERT INTO builds (account, region, id, project, number, status, complete, batch_id, doc, meta, rev, queued, fleet)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
		b.Scope.Account, b.Scope.Region, id, codebuild.Deref(b.Doc.ProjectName), codebuild.Deref(b.Doc.BuildNumber),
		status, complete, b.Meta.BatchID, doc, meta, queued, store.FleetOf(b.Doc))
	if err != nil {
		if isConstraint(err) {
			return fmt.Errorf("build %s: %w", id, store.ErrConflict)
		}
		return err
	}
	t.cached("b", b.Scope, id, doc)
	t.bumps = append(t.bumps, b.Scope)
	b.Seq, err = res.LastInsertId()
	b.Rev, b.Node, b.LeaseUntil, b.StopRequested = 1, "", time.Time{}, false
	return err
}

// buildColumns are what buildSelect selects and scanBuild reads.
const (
	buildColumns = `account, region, seq, doc, meta, rev, node, lease_until, stop_requested`
	buildSelect  = `SELECT ` + buildColumns + ` FROM builds`
)

func scanBuild(row interface{ Scan(...any) error }) (*store.Build, error) {
	var b store.Build
	var doc, meta []byte
	var lease int64
	if err := row.Scan(&b.Scope.Account, &b.Scope.Region, &b.Seq, &doc, &meta, &b.Rev, &b.Node, &lease, &b.StopRequested); err != nil {
		return nil, err
	}
	b.LeaseUntil = fromNanos(lease)
	d, err := decode[codebuild.Build](doc)
	if err != nil {
		return nil, err
	}
	b.Doc = d
	if err := json.Unmarshal(meta, &b.Meta); err != nil {
		return nil, fmt.Errorf("corrupt build meta data: %w", err)
	}
	return &b, nil
}

func (t *txn) BuildGet(ctx context.Context, s store.Scope, id string) (*store.Build, error) {
	b, err := scanBuild(t.queryRow(ctx, buildSelect+` WHERE id = ? AND account = ? AND region = ?`, id, s.Account, s.Region))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("build %s: %w", id, store.ErrNotFound)
	}
	return b, err
}

func (t *txn) BuildPut(ctx context.Context, b *store.Build) error {
	doc, meta, status, complete, queued, err := buildCols(b)
	if err != nil {
		return err
	}
	id := codebuild.Deref(b.Doc.Id)
	res, err := t.exec(ctx, `UPDATE builds SET rev = rev + 1, status = ?, complete = ?, queued = ?,
		lease_until = CASE WHEN ? THEN 0 ELSE lease_until END, doc = ?, meta = ?
		WHERE id = ? AND account = ? AND region = ? AND rev = ?`,
		status, complete, queued, complete, doc, meta, id, b.Scope.Account, b.Scope.Region, b.Rev)
	if err != nil {
		return err
	}
	if err := t.revised(ctx, res, "builds", "build", id, b.Scope); err != nil {
		return err
	}
	// Only a write that happened reaches the cache (a caller may go on
	// after ErrStale and commit).
	t.cached("b", b.Scope, id, doc)
	b.Rev++
	if complete {
		b.LeaseUntil = time.Time{}
	}
	return nil
}

// revised checks the result of a revision-checked update of a build or
// batch: no row changed is ErrNotFound if there is no such row, else
// ErrStale.
func (t *txn) revised(ctx context.Context, res sql.Result, table, kind, id string, s store.Scope) error {
	n, err := res.RowsAffected()
	if err != nil || n > 0 {
		return err
	}
	var one int
	err = t.queryRow(ctx, `SELECT 1 FROM `+table+` WHERE id = ? AND account = ? AND region = ?`, id, s.Account, s.Region).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%s %s: %w", kind, id, store.ErrNotFound)
	case err != nil:
		return err
	}
	return fmt.Errorf("%s %s: %w", kind, id, store.ErrStale)
}

func (t *txn) BuildClaim(ctx context.Context, c store.Claim) ([]*store.Build, error) {
	if c.Node == "" {
		return nil, errors.New("build claim without a node")
	}
	// The builds to claim, by seq: orphans first, then queued builds.
	var seqs []int64
	seen := map[int64]bool{}
	add := func(q string, args ...any) error {
		rows, err := t.query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				return err
			}
			if !seen[seq] {
				seen[seq] = true
				seqs = append(seqs, seq)
			}
		}
		return rows.Err()
	}
	// Expired leases through builds_by_lease (with ORDER BY, SQLite would
	// rather walk every incomplete build in seq order), sorted below.
	if err := add(`SELECT seq FROM builds WHERE complete = 0 AND node != '' AND lease_until < ?`, nanos(c.Now)); err != nil {
		return nil, err
	}
	if c.Own {
		if err := add(`SELECT seq FROM builds WHERE complete = 0 AND node = ?`, c.Node); err != nil {
			return nil, err
		}
	}
	slices.Sort(seqs)
	for _, f := range c.Fleets {
		if f.Limit <= 0 || f.Fleet == "" {
			continue
		}
		if err := add(`SELECT seq FROM builds WHERE complete = 0 AND fleet = ? AND account = ? AND region = ? AND queued = 1 AND node = ''
			ORDER BY seq LIMIT ?`, f.Fleet, f.Scope.Account, f.Scope.Region, f.Limit); err != nil {
			return nil, err
		}
	}
	if c.Limit > 0 {
		// Builds on no fleet and those of the fleets that overflow on
		// demand, by seq, past those already taken above.
		taken, err := json.Marshal(append([]int64{}, seqs...)) // [] not null: NOT IN (NULL) is never true
		if err != nil {
			return nil, err
		}
		keys := make([]string, len(c.OnDemand))
		for i, f := range c.OnDemand {
			keys[i] = f.Key()
		}
		onDemand, err := json.Marshal(keys)
		if err != nil {
			return nil, err
		}
		if err := add(`SELECT seq FROM builds WHERE complete = 0 AND queued = 1 AND node = ''
			AND (fleet = '' OR account || '/' || region || '/' || fleet IN (SELECT value FROM json_each(?)))
			AND seq NOT IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT ?`, string(onDemand), string(taken), c.Limit); err != nil {
			return nil, err
		}
	}
	if len(seqs) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(seqs)
	if err != nil {
		return nil, err
	}
	// Claims change no document: nothing for the cache.
	claimed, err := t.queryBuilds(ctx, `UPDATE builds SET node = ?, lease_until = ?, rev = rev + 1
		WHERE seq IN (SELECT value FROM json_each(?)) RETURNING `+buildColumns, c.Node, nanos(c.Until), string(list))
	if err != nil {
		return nil, err
	}
	bySeq := make(map[int64]*store.Build, len(claimed))
	for _, b := range claimed {
		bySeq[b.Seq] = b
	}
	out := make([]*store.Build, 0, len(seqs))
	for _, seq := range seqs {
		if b := bySeq[seq]; b != nil {
			out = append(out, b)
		}
	}
	return out, nil
}

func (t *txn) BuildFleetLoad(ctx context.Context) ([]store.FleetLoad, error) {
	rows, err := t.query(ctx, `SELECT account, region, fleet, sum(queued = 1 AND node = ''), sum(node != '')
		FROM builds INDEXED BY builds_by_fleet WHERE complete = 0 AND fleet != '' GROUP BY fleet, account, region ORDER BY fleet, account, region`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.FleetLoad
	for rows.Next() {
		var l store.FleetLoad
		if err := rows.Scan(&l.Scope.Account, &l.Scope.Region, &l.Fleet, &l.Queued, &l.Running); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

func (t *txn) BuildRenew(ctx context.Context, node string, until time.Time) ([]store.Lease, error) {
	if node == "" { // holds nothing
		return nil, nil
	}
	rows, err := t.query(ctx, `UPDATE builds SET lease_until = ? WHERE node = ? AND complete = 0
		RETURNING seq, account, region, id, stop_requested`, nanos(until), node)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type seqLease struct {
		seq int64
		l   store.Lease
	}
	var all []seqLease
	for rows.Next() {
		var x seqLease
		if err := rows.Scan(&x.seq, &x.l.Scope.Account, &x.l.Scope.Region, &x.l.ID, &x.l.StopRequested); err != nil {
			return nil, err
		}
		all = append(all, x)
	}
	if err := rows.Err(); err != nil {
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
	res, err := t.exec(ctx, `UPDATE builds SET stop_requested = 1 WHERE id = ? AND account = ? AND region = ?`, id, s.Account, s.Region)
	if err != nil {
		return err
	}
	return mustAffect(res, "build "+id)
}

func (t *txn) BuildDelete(ctx context.Context, s store.Scope, id string) error {
	res, err := t.exec(ctx, `DELETE FROM builds WHERE id = ? AND account = ? AND region = ?`, id, s.Account, s.Region)
	if err != nil {
		return err
	}
	t.cached("b", s, id, nil)
	t.bumps = append(t.bumps, s)
	return mustAffect(res, "build "+id)
}

func (t *txn) BuildList(ctx context.Context, s store.Scope, project string, p store.Page) ([]string, *store.Cursor, error) {
	if !t.readOnly {
		return t.buildList(ctx, s, project, p) // the cache knows only what is committed
	}
	gen, bumps := t.cache.gen(s), t.cache.bumpCount()
	var after int64
	if p.After != nil {
		after = p.After.Key
	}
	key := fmt.Sprintf("%s\x00%s\x00%s\x00%v\x00%d\x00%d", s.Account, s.Region, project, p.Descending, after, p.Limit)
	if pg, ok := t.cache.page(key, gen); ok {
		return pg.ids, pg.next, nil
	}
	ids, next, err := t.buildList(ctx, s, project, p)
	if err == nil && t.beganBumps == bumps {
		t.cache.putPage(key, listPage{gen: gen, ids: ids, next: next})
	}
	return ids, next, err
}

func (t *txn) buildList(ctx context.Context, s store.Scope, project string, p store.Page) ([]string, *store.Cursor, error) {
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
	q := `SELECT seq, ` + idCol + ` FROM ` + table + ` WHERE account = ? AND region = ?`
	args := []any{s.Account, s.Region}
	if owner != "" {
		q += ` AND ` + ownerCol + ` = ?`
		args = append(args, owner)
	}
	if status != "" {
		q += ` AND status = ?`
		args = append(args, status)
	}
	dir, cmp := "ASC", ">"
	if p.Descending {
		dir, cmp = "DESC", "<"
	}
	if p.After != nil {
		q += ` AND seq ` + cmp + ` ?`
		args = append(args, p.After.Key)
	}
	q += ` ORDER BY seq ` + dir + ` LIMIT ?`
	args = append(args, p.Limit+1)
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	ids := []string{}
	var last int64
	var next *store.Cursor
	for rows.Next() {
		var seq int64
		var id string
		if err := rows.Scan(&seq, &id); err != nil {
			return nil, nil, err
		}
		if len(ids) == p.Limit {
			next = &store.Cursor{Key: last}
			break
		}
		ids = append(ids, id)
		last = seq
	}
	return ids, next, rows.Err()
}

func (t *txn) queryBuilds(ctx context.Context, q string, args ...any) ([]*store.Build, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Build
	for rows.Next() {
		b, err := scanBuild(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

func (t *txn) BuildListIncomplete(ctx context.Context) ([]*store.Build, error) {
	return t.queryBuilds(ctx, buildSelect+` WHERE complete = 0 ORDER BY seq`)
}

func (t *txn) BuildListAfter(ctx context.Context, seq int64, limit int) ([]*store.Build, error) {
	return t.queryBuilds(ctx, buildSelect+` WHERE seq > ? ORDER BY seq LIMIT ?`, seq, max(limit, 0))
}

func (t *txn) BuildLastSeq(ctx context.Context) (int64, error) { return t.lastSeq(ctx, "builds") }

// lastSeq is the greatest seq of a table (builds or batches), 0 if empty.
func (t *txn) lastSeq(ctx context.Context, table string) (int64, error) {
	var seq int64
	err := t.queryRow(ctx, `SELECT coalesce(max(seq), 0) FROM `+table).Scan(&seq)
	return seq, err
}

func (t *txn) BuildCountIncomplete(ctx context.Context, s store.Scope, project string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM builds WHERE complete = 0 AND account = ? AND region = ? AND project = ?`,
		s.Account, s.Region, project).Scan(&n)
	return n, err
}

func (t *txn) BuildListByBatch(ctx context.Context, s store.Scope, batchID string) ([]*store.Build, error) {
	return t.queryBuilds(ctx, buildSelect+` WHERE batch_id = ? AND account = ? AND region = ? ORDER BY seq`, batchID, s.Account, s.Region)
}

func (t *txn) IdempotencyGet(ctx context.Context, s store.Scope, op, token string, now time.Time) (string, string, error) {
	var hash, id string
	err := t.queryRow(ctx, `SELECT request_hash, resource_id FROM idempotency
		WHERE account = ? AND region = ? AND op = ? AND token = ? AND expires > ?`, s.Account, s.Region, op, token, now.UnixNano()).Scan(&hash, &id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("idempotency token: %w", store.ErrNotFound)
	}
	return hash, id, err
}

func (t *txn) IdempotencyPut(ctx context.Context, s store.Scope, op, token, hash, id string, expires time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO idempotency (account, region, op, token, request_hash, resource_id, expires) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (account, region, op, token) DO UPDATE SET request_hash = excluded.request_hash, resource_id = excluded.resource_id, expires = excluded.expires`,
		s.Account, s.Region, op, token, hash, id, expires.UnixNano())
	return err
}
