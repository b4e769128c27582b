package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
)

// queuedBuild is a build waiting in the queue: SUBMITTED ended, QUEUED
// open.
func queuedBuild(s store.Scope, project string, n int64) *store.Build {
	b := build(project, n, false, "")
	b.Scope = s
	b.Doc.Phases = []cb.BuildPhase{
		{PhaseType: cb.String("SUBMITTED"), PhaseStatus: cb.String(cb.StatusTypeSucceeded), StartTime: cb.At(t0), EndTime: cb.At(t0),
			DurationInSeconds: cb.Int64(0)},
		{PhaseType: cb.String("QUEUED"), StartTime: cb.At(t0)},
	}
	b.Doc.CurrentPhase = cb.String("QUEUED")
	return b
}

// startBuild ends a build's QUEUED phase and opens PROVISIONING: the build
// runs, and is no longer queued.
func startBuild(b *store.Build) {
	p := &b.Doc.Phases[len(b.Doc.Phases)-1]
	p.EndTime, p.PhaseStatus, p.DurationInSeconds = cb.At(t0), cb.String(cb.StatusTypeSucceeded), cb.Int64(0)
	b.Doc.Phases = append(b.Doc.Phases, cb.BuildPhase{PhaseType: cb.String("PROVISIONING"), StartTime: cb.At(t0)})
	b.Doc.CurrentPhase = cb.String("PROVISIONING")
}

// completeBuild ends a build: the open phase ends, COMPLETED opens.
func completeBuild(b *store.Build) {
	if p := &b.Doc.Phases[len(b.Doc.Phases)-1]; p.EndTime == nil {
		p.EndTime, p.PhaseStatus = cb.At(t0), cb.String(cb.StatusTypeSucceeded)
	}
	b.Doc.Phases = append(b.Doc.Phases, cb.BuildPhase{PhaseType: cb.String("COMPLETED"), StartTime: cb.At(t0)})
	b.Doc.CurrentPhase = cb.String("COMPLETED")
	b.Doc.BuildStatus, b.Doc.BuildComplete = cb.String(cb.StatusTypeSucceeded), cb.Bool(true)
}

func getBuild(t *testing.T, s store.Store, sc store.Scope, id string) *store.Build {
	t.Helper()
	var b *store.Build
	if err := s.View(ctx, func(tx store.Tx) (err error) { b, err = tx.BuildGet(ctx, sc, id); return err }); err != nil {
		t.Fatalf("BuildGet(%s): %v", id, err)
	}
	return b
}

func getBatch(t *testing.T, s store.Store, id string) *store.Batch {
	t.Helper()
	var b *store.Batch
	if err := s.View(ctx, func(tx store.Tx) (err error) { b, err = tx.BatchGet(ctx, scope, id); return err }); err != nil {
		t.Fatalf("BatchGet(%s): %v", id, err)
	}
	return b
}

func claim(t *testing.T, s store.Store, c store.Claim) []*store.Build {
	t.Helper()
	var out []*store.Build
	mustUpdate(t, s, func(tx store.Tx) (err error) { out, err = tx.BuildClaim(ctx, c); return err })
	return out
}

func renew(t *testing.T, s store.Store, node string, until time.Time) []store.Lease {
	t.Helper()
	var out []store.Lease
	mustUpdate(t, s, func(tx store.Tx) (err error) { out, err = tx.BuildRenew(ctx, node, until); return err })
	return out
}

func put(s store.Store, b *store.Build) error {
	return s.Update(ctx, func(tx store.Tx) error { return tx.BuildPut(ctx, b) })
}

func ids(bs []*store.Build) string {
	var out []string
	for _, b := range bs {
		out = append(out, cb.Deref(b.Doc.Id))
	}
	return fmt.Sprint(out)
}

func leaseIDs(ls []store.Lease) string {
	var out []string
	for _, l := range ls {
		s := l.ID
		if l.StopRequested {
			s += "!"
		}
		out = append(out, s)
	}
	return fmt.Sprint(out)
}

// buildDocs returns the stored documents of builds of the scope, as
// strings ("" for a miss).
func buildDocs(t *testing.T, s store.Store, id ...string) []string {
	t.Helper()
	var docs [][]byte
	if err := s.View(ctx, func(tx store.Tx) (err error) { docs, err = tx.BuildDocs(ctx, scope, id); return err }); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = string(d)
	}
	return out
}

func testRevisions(t *testing.T, s store.Store) {
	defer s.Close()
	b := queuedBuild(scope, "p", 1)
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.BuildInsert(ctx, b); err != nil {
			return err
		}
		return tx.BuildInsert(ctx, build("p", 2, false, "p:batch"))
	})
	if b.Rev != 1 {
		t.Errorf("after BuildInsert, Rev = %d, want 1", b.Rev)
	}
	first, second := getBuild(t, s, scope, "p:1"), getBuild(t, s, scope, "p:1")
	if first.Rev != 1 || first.Node != "" || !first.LeaseUntil.IsZero() || first.StopRequested {
		t.Errorf("BuildGet of a new build: Rev %d Node %q LeaseUntil %v StopRequested %v", first.Rev, first.Node, first.LeaseUntil, first.StopRequested)
	}
	// Warm the documents' cache, if the store has one.
	buildDocs(t, s, "p:1")

	// A write with the revision read succeeds and increments it.
	first.Meta.Shard = 1
	if err := put(s, first); err != nil {
		t.Fatalf("BuildPut at the revision read: %v", err)
	}
	if first.Rev != 2 {
		t.Errorf("after BuildPut, Rev = %d, want 2", first.Rev)
	}
	if got := getBuild(t, s, scope, "p:1"); got.Rev != 2 || got.Meta.Shard != 1 {
		t.Errorf("BuildGet after BuildPut: Rev %d shard %d, want 2 1", got.Rev, got.Meta.Shard)
	}
	wantDoc := buildDocs(t, s, "p:1")[0]

	// One read earlier: stale. The transaction may go on and commit: the
	// stale document is not stored (nor cached).
	second.Meta.Shard = 9
	second.Doc.BuildStatus = cb.String(cb.StatusTypeFailed)
	err := s.Update(ctx, func(tx store.Tx) error {
		err := tx.BuildPut(ctx, second)
		if !errors.Is(err, store.ErrStale) || errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("stale BuildPut = %v, want ErrStale", err)
		}
		if !strings.Contains(err.Error(), "p:1") {
			t.Errorf("stale BuildPut error %q does not name the build", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if second.Rev != 1 {
		t.Errorf("a stale BuildPut changed Rev to %d", second.Rev)
	}
	if got := getBuild(t, s, scope, "p:1"); got.Rev != 2 || got.Meta.Shard != 1 || cb.Deref(got.Doc.BuildStatus) != cb.StatusTypeInProgress {
		t.Errorf("after a stale BuildPut: Rev %d shard %d status %s", got.Rev, got.Meta.Shard, cb.Deref(got.Doc.BuildStatus))
	}
	if got := buildDocs(t, s, "p:1")[0]; got != wantDoc {
		t.Errorf("after a stale BuildPut, BuildDocs = %s, want %s", got, wantDoc)
	}
	// Zero, or a revision from the future, is stale too.
	for _, rev := range []int64{0, 3, -1} {
		x := getBuild(t, s, scope, "p:1")
		x.Rev = rev
		if err := put(s, x); !errors.Is(err, store.ErrStale) {
			t.Errorf("BuildPut at Rev %d = %v, want ErrStale", rev, err)
		}
	}

	// Writes one after the other in one transaction.
	mustUpdate(t, s, func(tx store.Tx) error {
		x, err := tx.BuildGet(ctx, scope, "p:1")
		if err != nil {
			return err
		}
		for range 3 {
			if err := tx.BuildPut(ctx, x); err != nil {
				return err
			}
		}
		if x.Rev != 5 {
			return fmt.Errorf("after three BuildPuts, Rev = %d, want 5", x.Rev)
		}
		y, err := tx.BuildGet(ctx, scope, "p:1")
		if err == nil && y.Rev != 5 {
			err = fmt.Errorf("BuildGet in the transaction: Rev %d, want 5", y.Rev)
		}
		return err
	})
	// A rolled-back write leaves the stored revision (the struct's is
	// incremented: the writer reads the build again).
	x := getBuild(t, s, scope, "p:1")
	s.Update(ctx, func(tx store.Tx) error { tx.BuildPut(ctx, x); return errors.New("roll back") })
	if got := getBuild(t, s, scope, "p:1"); got.Rev != 5 {
		t.Errorf("after a rolled-back BuildPut, Rev = %d, want 5", got.Rev)
	}

	// Missing builds are not found, not stale.
	for _, sc := range []store.Scope{scope, {Account: "999999999999", Region: scope.Region}} {
		ghost := getBuild(t, s, scope, "p:1")
		ghost.Scope = sc
		if sc == scope {
			ghost.Doc.Id = cb.String("p:404")
		}
		if err := put(s, ghost); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrStale) {
			t.Errorf("BuildPut of a missing build (%+v) = %v, want ErrNotFound", sc, err)
		}
	}

	// Listings carry the revision.
	var inc, byBatch []*store.Build
	s.View(ctx, func(tx store.Tx) (err error) {
		if inc, err = tx.BuildListIncomplete(ctx); err != nil {
			return err
		}
		byBatch, err = tx.BuildListByBatch(ctx, scope, "p:batch")
		return err
	})
	if len(inc) != 2 || inc[0].Rev != 5 || inc[1].Rev != 1 || len(byBatch) != 1 || byBatch[0].Rev != 1 {
		t.Errorf("listings: incomplete %s, by batch %s", ids(inc), ids(byBatch))
	}

	// Batches alike.
	xb := batchDoc("p", 1, cb.StatusTypeInProgress)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.BatchInsert(ctx, xb) })
	if xb.Rev != 1 {
		t.Errorf("after BatchInsert, Rev = %d, want 1", xb.Rev)
	}
	bfirst, bsecond := getBatch(t, s, "p:b1"), getBatch(t, s, "p:b1")
	batchDocs := func() string {
		var bd [][]byte
		s.View(ctx, func(tx store.Tx) (err error) { bd, err = tx.BatchDocs(ctx, scope, []string{"p:b1"}); return err })
		return string(bd[0])
	}
	batchDocs() // warms the cache, if any
	if bfirst.Rev != 1 {
		t.Errorf("BatchGet of a new batch: Rev %d, want 1", bfirst.Rev)
	}
	bfirst.Meta.Failed = true
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.BatchPut(ctx, bfirst) }); err != nil || bfirst.Rev != 2 {
		t.Errorf("BatchPut at the revision read = %v, Rev %d; want nil, 2", err, bfirst.Rev)
	}
	bsecond.Meta.Ending = "STOPPED"
	bsecond.Doc.BuildBatchStatus = cb.String(cb.StatusTypeStopped)
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.BatchPut(ctx, bsecond); !errors.Is(err, store.ErrStale) || !strings.Contains(err.Error(), "p:b1") {
			return fmt.Errorf("stale BatchPut = %v, want ErrStale naming the batch", err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if got := getBatch(t, s, "p:b1"); got.Rev != 2 || !got.Meta.Failed || got.Meta.Ending != "" || cb.Deref(got.Doc.BuildBatchStatus) != cb.StatusTypeInProgress {
		t.Errorf("after a stale BatchPut: Rev %d meta %+v", got.Rev, got.Meta)
	}
	var rev int64
	if err := s.View(ctx, func(tx store.Tx) (err error) { rev, err = tx.BatchRev(ctx, scope, "p:b1"); return err }); err != nil || rev != 2 {
		t.Errorf("BatchRev = %d, %v; want 2", rev, err)
	}
	if err := s.View(ctx, func(tx store.Tx) (err error) { _, err = tx.BatchRev(ctx, scope, "p:b404"); return err }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("BatchRev of a missing batch = %v, want ErrNotFound", err)
	}
	var incb []*store.Batch
	s.View(ctx, func(tx store.Tx) (err error) { incb, err = tx.BatchListIncomplete(ctx); return err })
	if len(incb) != 1 || incb[0].Rev != 2 {
		t.Errorf("BatchListIncomplete: %d batches, want 1 at Rev 2", len(incb))
	}
	if d := batchDocs(); d == "" || strings.Contains(d, "STOPPED") {
		t.Errorf("BatchDocs after a stale BatchPut: %s", d)
	}
	ghost := getBatch(t, s, "p:b1")
	ghost.Doc.Id = cb.String("p:b404")
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.BatchPut(ctx, ghost) }); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrStale) {
		t.Errorf("BatchPut of a missing batch = %v, want ErrNotFound", err)
	}
}

func testClaims(t *testing.T, s store.Store) {
	defer s.Close()
	other := store.Scope{Account: "999999999999", Region: "eu-west-1"}
	// Seq order: p:1, p:2, running p:3 (unclaimed, not queued), complete
	// p:4 (whose last phase would be an open QUEUED), p:5 of another
	// scope, p:6.
	mustUpdate(t, s, func(tx store.Tx) error {
		running := queuedBuild(scope, "p", 3)
		startBuild(running)
		done := queuedBuild(scope, "p", 4)
		done.Doc.BuildStatus, done.Doc.BuildComplete = cb.String(cb.StatusTypeStopped), cb.Bool(true)
		for _, b := range []*store.Build{queuedBuild(scope, "p", 1), queuedBuild(scope, "p", 2), running, done,
			queuedBuild(other, "p", 5), queuedBuild(scope, "p", 6)} {
			if err := tx.BuildInsert(ctx, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err := s.Update(ctx, func(tx store.Tx) error { _, err := tx.BuildClaim(ctx, store.Claim{Limit: 1}); return err }); err == nil {
		t.Error("BuildClaim without a node succeeded")
	}
	minute := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	docs := buildDocs(t, s, "p:1", "p:2")

	// Nothing with a zero or negative limit.
	for _, limit := range []int{0, -1} {
		if got := claim(t, s, store.Claim{Node: "A", Now: t0, Until: minute(1), Limit: limit}); len(got) != 0 {
			t.Errorf("BuildClaim(limit %d) = %s, want none", limit, ids(got))
		}
	}
	stale := getBuild(t, s, scope, "p:1")

	// Queued builds in creation order, up to the limit.
	got := claim(t, s, store.Claim{Node: "A", Now: t0, Until: minute(1), Limit: 2})
	if ids(got) != "[p:1 p:2]" {
		t.Fatalf("A's claim = %s, want [p:1 p:2]", ids(got))
	}
	for _, b := range got {
		if b.Node != "A" || !b.LeaseUntil.Equal(minute(1)) || b.Rev != 2 || b.Seq == 0 || b.Scope != scope || b.Meta.BatchIdentifier == "" ||
			len(b.Doc.Phases) != 2 {
			t.Errorf("claimed %s: Node %q LeaseUntil %v Rev %d Seq %d Scope %+v", cb.Deref(b.Doc.Id), b.Node, b.LeaseUntil, b.Rev, b.Seq, b.Scope)
		}
	}
	held := got
	if g := getBuild(t, s, scope, "p:1"); g.Node != "A" || !g.LeaseUntil.Equal(minute(1)) || g.Rev != 2 {
		t.Errorf("BuildGet after the claim: Node %q LeaseUntil %v Rev %d", g.Node, g.LeaseUntil, g.Rev)
	}
	// A claim changes no document.
	if after := buildDocs(t, s, "p:1", "p:2"); fmt.Sprint(after) != fmt.Sprint(docs) {
		t.Errorf("a claim changed documents:\n%s\n%s", docs, after)
	}
	// The previous reader's write is stale.
	if err := put(s, stale); !errors.Is(err, store.ErrStale) {
		t.Errorf("BuildPut of a build read before its claim = %v, want ErrStale", err)
	}

	// B gets the rest of the queue (any scope), not A's live leases, not
	// the running or the complete build.
	got = claim(t, s, store.Claim{Node: "B", Now: t0.Add(30 * time.Second), Until: minute(3), Limit: 10})
	if ids(got) != "[p:5 p:6]" || got[0].Scope != other || got[0].Node != "B" {
		t.Fatalf("B's claim = %s, want [p:5 p:6]", ids(got))
	}
	if got := claim(t, s, store.Claim{Node: "C", Now: t0.Add(59 * time.Second), Until: minute(3), Limit: 10}); len(got) != 0 {
		t.Errorf("C's claim of an empty queue = %s", ids(got))
	}

	// The holder writes at the claimed revision: its build starts.
	startBuild(held[0])
	if err := put(s, held[0]); err != nil || held[0].Rev != 3 {
		t.Errorf("holder's BuildPut = %v, Rev %d; want nil, 3", err, held[0].Rev)
	}
	if g := getBuild(t, s, scope, "p:1"); g.Node != "A" || !g.LeaseUntil.Equal(minute(1)) {
		t.Errorf("BuildPut of an incomplete build changed its lease: Node %q LeaseUntil %v", g.Node, g.LeaseUntil)
	}

	// A build put back in the queue (p:3, unclaimed) is claimed, after
	// orphans; A's leases expired at minute 1: B takes them as orphans.
	p3 := getBuild(t, s, scope, "p:3")
	p3.Doc.Phases = p3.Doc.Phases[:2]
	p3.Doc.Phases[1].EndTime, p3.Doc.Phases[1].PhaseStatus = nil, nil
	if err := put(s, p3); err != nil {
		t.Fatal(err)
	}
	got = claim(t, s, store.Claim{Node: "B", Now: minute(2), Until: minute(4), Limit: 1})
	if ids(got) != "[p:1 p:2 p:3]" {
		t.Fatalf("B's claim after A's leases expired = %s, want [p:1 p:2 p:3]", ids(got))
	}
	for _, b := range got {
		if b.Node != "B" || !b.LeaseUntil.Equal(minute(4)) {
			t.Errorf("orphan %s: Node %q LeaseUntil %v", cb.Deref(b.Doc.Id), b.Node, b.LeaseUntil)
		}
	}
	if got[0].Rev != 4 || len(got[0].Doc.Phases) != 3 {
		t.Errorf("orphan p:1: Rev %d, %d phases; want 4, 3", got[0].Rev, len(got[0].Doc.Phases))
	}
	if l := renew(t, s, "A", minute(10)); len(l) != 0 {
		t.Errorf("A's BuildRenew after its builds were taken = %s, want none", leaseIDs(l))
	}
	if err := put(s, held[0]); !errors.Is(err, store.ErrStale) {
		t.Errorf("former holder's BuildPut = %v, want ErrStale", err)
	}
	if g := getBuild(t, s, scope, "p:1"); g.Node != "B" || !g.LeaseUntil.Equal(minute(4)) {
		t.Errorf("A's BuildRenew changed B's lease: Node %q LeaseUntil %v", g.Node, g.LeaseUntil)
	}

	// Orphans come in creation order whatever their lease: at minute 5
	// B's leases of minute 3 (p:5, p:6) and 4 (p:1, p:2, p:3) expired.
	got = claim(t, s, store.Claim{Node: "C", Now: minute(5), Until: minute(6), Limit: 5})
	if ids(got) != "[p:1 p:2 p:3 p:5 p:6]" {
		t.Errorf("C's claim of every orphan = %s", ids(got))
	}

	// Own: C takes back what it holds, live leases too, with the
	// orphans, in creation order.
	mustUpdate(t, s, func(tx store.Tx) error { return tx.BuildInsert(ctx, queuedBuild(scope, "p", 7)) })
	if got := claim(t, s, store.Claim{Node: "D", Now: minute(5), Until: minute(8), Limit: 1}); ids(got) != "[p:7]" {
		t.Fatalf("D's claim = %s, want [p:7]", ids(got))
	}
	if got := claim(t, s, store.Claim{Node: "C", Now: minute(5), Until: minute(7), Limit: 1}); len(got) != 0 {
		t.Errorf("C's claim without Own = %s, want none", ids(got))
	}
	got = claim(t, s, store.Claim{Node: "C", Now: minute(5).Add(30 * time.Second), Until: minute(9), Limit: 0, Own: true})
	if ids(got) != "[p:1 p:2 p:3 p:5 p:6]" {
		t.Errorf("C's claim of its own = %s", ids(got))
	}
	for _, b := range got {
		if b.Node != "C" || !b.LeaseUntil.Equal(minute(9)) {
			t.Errorf("own %s: Node %q LeaseUntil %v", cb.Deref(b.Doc.Id), b.Node, b.LeaseUntil)
		}
	}
	// Own with an expired orphan of another node (D's p:7 at minute 8).
	got = claim(t, s, store.Claim{Node: "C", Now: minute(8).Add(time.Nanosecond), Until: minute(10), Own: true})
	if ids(got) != "[p:1 p:2 p:3 p:5 p:6 p:7]" {
		t.Errorf("C's claim of its own and an orphan = %s", ids(got))
	}
	// A lease that ends exactly at Now has not expired.
	if got := claim(t, s, store.Claim{Node: "D", Now: minute(10), Until: minute(11)}); len(got) != 0 {
		t.Errorf("claim at the leases' end = %s, want none", ids(got))
	}

	// A complete build's lease ends; it is never claimed again.
	p2 := getBuild(t, s, scope, "p:2")
	completeBuild(p2)
	if err := put(s, p2); err != nil {
		t.Fatal(err)
	}
	if !p2.LeaseUntil.IsZero() {
		t.Errorf("after BuildPut of a complete build, its LeaseUntil = %v", p2.LeaseUntil)
	}
	if g := getBuild(t, s, scope, "p:2"); g.Node != "C" || !g.LeaseUntil.IsZero() {
		t.Errorf("complete build: Node %q LeaseUntil %v, want C and none", g.Node, g.LeaseUntil)
	}
	got = claim(t, s, store.Claim{Node: "E", Now: minute(60), Until: minute(61), Limit: 100, Own: true})
	if ids(got) != "[p:1 p:3 p:5 p:6 p:7]" {
		t.Errorf("claim of everything incomplete = %s", ids(got))
	}
	if l := renew(t, s, "C", minute(100)); len(l) != 0 {
		t.Errorf("C's BuildRenew = %s, want none", leaseIDs(l))
	}
}

func testRenew(t *testing.T, s store.Store) {
	defer s.Close()
	other := store.Scope{Account: "999999999999", Region: "eu-west-1"}
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, b := range []*store.Build{queuedBuild(scope, "p", 1), queuedBuild(other, "p", 2), queuedBuild(scope, "p", 3),
			queuedBuild(scope, "p", 4), queuedBuild(scope, "p", 5)} {
			if err := tx.BuildInsert(ctx, b); err != nil {
				return err
			}
		}
		return nil
	})
	minute := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	claim(t, s, store.Claim{Node: "A", Now: t0, Until: minute(1), Limit: 3})
	claim(t, s, store.Claim{Node: "B", Now: t0, Until: minute(1), Limit: 1})

	if l := renew(t, s, "A", minute(5)); leaseIDs(l) != "[p:1 p:2 p:3]" || l[1].Scope != other || l[0].Scope != scope {
		t.Errorf("A's BuildRenew = %s %+v, want [p:1 p:2 p:3]", leaseIDs(l), l)
	}
	p1 := getBuild(t, s, scope, "p:1")
	if !p1.LeaseUntil.Equal(minute(5)) || p1.Node != "A" || p1.Rev != 2 {
		t.Errorf("after BuildRenew: LeaseUntil %v Node %q Rev %d; want minute 5, A, 2 (unchanged)", p1.LeaseUntil, p1.Node, p1.Rev)
	}
	if g := getBuild(t, s, scope, "p:4"); !g.LeaseUntil.Equal(minute(1)) {
		t.Errorf("A's BuildRenew changed B's lease to %v", g.LeaseUntil)
	}
	// The renewed leases are live at minute 3, B's expired.
	if got := claim(t, s, store.Claim{Node: "C", Now: minute(3), Until: minute(4)}); ids(got) != "[p:4]" {
		t.Errorf("claim at minute 3 = %s, want B's [p:4]", ids(got))
	}
	if l := renew(t, s, "B", minute(5)); len(l) != 0 {
		t.Errorf("B's BuildRenew = %s, want none", leaseIDs(l))
	}
	if l := renew(t, s, "nobody", minute(5)); len(l) != 0 {
		t.Errorf("BuildRenew of a node without builds = %s", leaseIDs(l))
	}
	if l := renew(t, s, "", minute(5)); len(l) != 0 {
		t.Errorf(`BuildRenew("") = %s, want none (unclaimed builds are nobody's)`, leaseIDs(l))
	}
	if g := getBuild(t, s, scope, "p:5"); !g.LeaseUntil.IsZero() || g.Node != "" {
		t.Errorf(`BuildRenew("") leased an unclaimed build until %v`, g.LeaseUntil)
	}

	// Stop requests: seen by the holder's BuildRenew and BuildGet, with no
	// new revision or document.
	doc := buildDocs(t, s, "p:3")[0]
	for _, id := range []string{"p:3", "p:5"} {
		mustUpdate(t, s, func(tx store.Tx) error { return tx.BuildRequestStop(ctx, scope, id) })
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.BuildRequestStop(ctx, scope, "p:3") }) // again
	p3 := getBuild(t, s, scope, "p:3")
	if !p3.StopRequested || p3.Rev != 2 || p3.Node != "A" {
		t.Errorf("after BuildRequestStop: StopRequested %v Rev %d Node %q; want true 2 A", p3.StopRequested, p3.Rev, p3.Node)
	}
	if got := buildDocs(t, s, "p:3")[0]; got != doc {
		t.Errorf("BuildRequestStop changed the document:\n%s\n%s", doc, got)
	}
	if g := getBuild(t, s, scope, "p:1"); g.StopRequested {
		t.Error("BuildRequestStop of p:3 stops p:1")
	}
	if l := renew(t, s, "A", minute(6)); leaseIDs(l) != "[p:1 p:2 p:3!]" {
		t.Errorf("A's BuildRenew after a stop request = %s, want [p:1 p:2 p:3!]", leaseIDs(l))
	}
	// The request stays through writes and claims.
	p3.Meta.Shard = 4
	if err := put(s, p3); err != nil {
		t.Fatal(err)
	}
	if g := getBuild(t, s, scope, "p:3"); !g.StopRequested || g.Meta.Shard != 4 {
		t.Errorf("after BuildPut: StopRequested %v", g.StopRequested)
	}
	if got := claim(t, s, store.Claim{Node: "C", Now: minute(3), Until: minute(4), Limit: 5}); ids(got) != "[p:5]" || !got[0].StopRequested {
		t.Errorf("claim of a queued build asked to stop = %s (%v)", ids(got), got)
	}
	var inc []*store.Build
	s.View(ctx, func(tx store.Tx) (err error) { inc, err = tx.BuildListIncomplete(ctx); return err })
	var stops []string
	for _, b := range inc {
		stops = append(stops, fmt.Sprintf("%s:%s:%v", cb.Deref(b.Doc.Id), b.Node, b.StopRequested))
	}
	if fmt.Sprint(stops) != "[p:1:A:false p:2:A:false p:3:A:true p:4:C:false p:5:C:true]" {
		t.Errorf("BuildListIncomplete: %v", stops)
	}
	for _, sc := range []store.Scope{scope, other} {
		err := s.Update(ctx, func(tx store.Tx) error { return tx.BuildRequestStop(ctx, sc, "p:404") })
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("BuildRequestStop of a missing build = %v, want ErrNotFound", err)
		}
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.BuildRequestStop(ctx, other, "p:1") }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("BuildRequestStop from another scope = %v, want ErrNotFound", err)
	}

	// A complete build is no longer held.
	p1 = getBuild(t, s, scope, "p:1")
	completeBuild(p1)
	if err := put(s, p1); err != nil {
		t.Fatal(err)
	}
	if l := renew(t, s, "A", minute(7)); leaseIDs(l) != "[p:2 p:3!]" {
		t.Errorf("A's BuildRenew after p:1 completed = %s, want [p:2 p:3!]", leaseIDs(l))
	}
	if g := getBuild(t, s, scope, "p:1"); !g.LeaseUntil.IsZero() {
		t.Errorf("BuildRenew leased a complete build until %v", g.LeaseUntil)
	}
}

// Concurrent claims never take a build twice.
func testConcurrentClaims(t *testing.T, s store.Store) {
	defer s.Close()
	const n, nodes = 30, 5
	mustUpdate(t, s, func(tx store.Tx) error {
		for i := range n {
			if err := tx.BuildInsert(ctx, queuedBuild(scope, "p", int64(i+1))); err != nil {
				return err
			}
		}
		return nil
	})
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	errc := make(chan error, nodes)
	for i := range nodes {
		node := fmt.Sprintf("node%d", i)
		wg.Go(func() {
			for {
				var got []*store.Build
				err := s.Update(ctx, func(tx store.Tx) (err error) {
					got, err = tx.BuildClaim(ctx, store.Claim{Node: node, Now: t0, Until: t0.Add(time.Hour), Limit: 2})
					return err
				})
				if err != nil {
					errc <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, b := range got {
					id := cb.Deref(b.Doc.Id)
					if prev, ok := seen[id]; ok {
						errc <- fmt.Errorf("%s claimed by %s and %s", id, prev, node)
					}
					seen[id] = node
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if len(seen) != n {
		t.Errorf("%d builds claimed, want %d", len(seen), n)
	}
}

// testReleaseAndQueue: a released build goes back to the queue (counted,
// listed, claimable by any node) and its former holder's writes fail;
// the queue counts builds of batches apart.
func testReleaseAndQueue(t *testing.T, s store.Store) {
	defer s.Close()
	member := queuedBuild(scope, "p", 2)
	member.Meta.BatchID = "p:batch"
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, b := range []*store.Build{queuedBuild(scope, "p", 1), member, queuedBuild(scope, "p", 3)} {
			if err := tx.BuildInsert(ctx, b); err != nil {
				return err
			}
		}
		return nil
	})
	count := func() (int, int) {
		var all, standalone int
		if err := s.View(ctx, func(tx store.Tx) (err error) { all, standalone, err = tx.BuildCountQueued(ctx); return err }); err != nil {
			t.Fatal(err)
		}
		return all, standalone
	}
	if all, standalone := count(); all != 3 || standalone != 2 {
		t.Errorf("BuildCountQueued = %d, %d; want 3, 2", all, standalone)
	}
	got := claim(t, s, store.Claim{Node: "A", Now: t0, Until: t0.Add(time.Minute), Limit: 1})
	if ids(got) != "[p:1]" {
		t.Fatalf("claim = %s", ids(got))
	}
	if all, standalone := count(); all != 2 || standalone != 1 {
		t.Errorf("after a claim, BuildCountQueued = %d, %d; want 2, 1", all, standalone)
	}
	var listed []*store.Build
	s.View(ctx, func(tx store.Tx) (err error) { listed, err = tx.BuildListQueued(ctx); return err })
	if ids(listed) != "[p:2 p:3]" {
		t.Errorf("BuildListQueued = %s, want [p:2 p:3]", ids(listed))
	}
	held := got[0]
	stale := *held
	mustUpdate(t, s, func(tx store.Tx) error { return tx.BuildRelease(ctx, held) })
	if held.Node != "" || !held.LeaseUntil.IsZero() || held.Rev != stale.Rev+1 {
		t.Errorf("released: node %q lease %v rev %d", held.Node, held.LeaseUntil, held.Rev)
	}
	if b := getBuild(t, s, scope, "p:1"); b.Node != "" || b.Rev != held.Rev {
		t.Errorf("stored after release: node %q rev %d", b.Node, b.Rev)
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.BuildRelease(ctx, &stale) }); !errors.Is(err, store.ErrStale) {
		t.Errorf("release with an old revision = %v, want ErrStale", err)
	}
	if err := put(s, &stale); !errors.Is(err, store.ErrStale) {
		t.Errorf("the former holder's BuildPut = %v, want ErrStale", err)
	}
	ghost := queuedBuild(scope, "p", 9)
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.BuildRelease(ctx, ghost) }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("release of a missing build = %v, want ErrNotFound", err)
	}
	if got := claim(t, s, store.Claim{Node: "B", Now: t0, Until: t0.Add(time.Minute), Limit: 1}); ids(got) != "[p:1]" {
		t.Errorf("after the release B claims %s, want [p:1]", ids(got))
	}
}
