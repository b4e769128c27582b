package batchrun

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/buildbatch/buildbatch/internal/batch"
	"github.com/buildbatch/buildbatch/internal/blob/fs"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
	"github.com/buildbatch/buildbatch/internal/store"
	"github.com/buildbatch/buildbatch/internal/store/sqlite"
)

var (
	ctx   = context.Background()
	scope = store.Scope{Account: "111122223333", Region: "us-east-1"}
)

type fixture struct {
	t     *testing.T
	st    store.Store
	c     *Coordinator
	now   time.Time
	batch string
}

func newFixture(t *testing.T, cfg *cb.ProjectBuildBatchConfig) *fixture {
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := fs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, st: st, now: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	f.c = New(Options{Store: st, Blob: blobs, Node: "n1", Lease: time.Minute, Now: func() time.Time { return f.now }, TempDir: dir})
	t.Cleanup(f.c.Shutdown)
	cfg.ServiceRole = cb.String("arn:aws:iam::111122223333:role/r")
	settings, _ := json.Marshal(document.Settings{Source: &cb.ProjectSource{Type: cb.String("NO_SOURCE")},
		Artifacts:   &cb.ProjectArtifacts{Type: cb.String("NO_ARTIFACTS")},
		Environment: &cb.ProjectEnvironment{ComputeType: cb.String("BUILD_GENERAL1_SMALL"), Image: cb.String("img"), Type: cb.String("LINUX_CONTAINER")}})
	doc := &cb.BuildBatch{Id: cb.String("p:b1"), Arn: cb.String("arn:aws:codebuild:us-east-1:111122223333:build-batch/p:b1"), ProjectName: cb.String("p"),
		StartTime: cb.At(f.now), BuildBatchStatus: cb.String("IN_PROGRESS"), Complete: cb.Bool(false), BuildBatchConfig: cfg,
		Phases: []cb.BuildBatchPhase{{PhaseType: cb.String("SUBMITTED"), StartTime: cb.At(f.now)}}}
	b := &store.Batch{Scope: scope, Doc: doc, Meta: store.BatchMeta{Settings: settings}}
	f.update(func(tx store.Tx, fx *Effects) error {
		if err := tx.BatchInsert(ctx, b); err != nil {
			return err
		}
		return f.c.Submit(ctx, tx, b, fx)
	})
	f.batch = "p:b1"
	return f
}

func (f *fixture) update(fn func(store.Tx, *Effects) error) Effects {
	f.t.Helper()
	var fx Effects
	if err := f.st.Update(ctx, func(tx store.Tx) error { fx = Effects{}; return fn(tx, &fx) }); err != nil {
		f.t.Fatal(err)
	}
	return fx
}

func (f *fixture) get() *store.Batch {
	var b *store.Batch
	f.st.View(ctx, func(tx store.Tx) (err error) { b, err = tx.BatchGet(ctx, scope, f.batch); return err })
	return b
}

// builds are the batch's builds: identifier → build.
func (f *fixture) builds() map[string]*store.Build {
	out := map[string]*store.Build{}
	f.st.View(ctx, func(tx store.Tx) error {
		bs, err := tx.BuildListByBatch(ctx, scope, f.batch)
		for _, b := range bs {
			out[b.Meta.BatchIdentifier] = b
		}
		return err
	})
	return out
}

// finish ends a member build with a status (as a scheduler would) and
// applies what follows.
func (f *fixture) finish(id, status string, plan *batch.Plan) Effects {
	f.t.Helper()
	return f.update(func(tx store.Tx, fx *Effects) error {
		b := f.builds()[id]
		b, err := tx.BuildGet(ctx, scope, cb.Deref(b.Doc.Id))
		if err != nil {
			return err
		}
		document.End(b.Doc, cb.StatusTypeSucceeded, nil, f.now)
		document.Start(b.Doc, document.Build, f.now)
		document.End(b.Doc, status, nil, f.now)
		document.Complete(b.Doc, status, f.now)
		if err := tx.BuildPut(ctx, b); err != nil {
			return err
		}
		return f.c.Finished(ctx, tx, b, plan, fx)
	})
}

func plan(t *testing.T, doc *cb.BuildBatch, spec string) *batch.Plan {
	p, err := batch.FromBuildspec([]byte(spec), doc)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const spec = `version: 0.2
batch:
  build-graph:
    - identifier: a
    - identifier: b
      depend-on: [a]
`

// TestBatchInTheStore: events applied in transactions move a batch from
// submission to the end; builds to start are inserted QUEUED; a member no
// node claimed is stopped at once; the timeout sweep ends the batch.
func TestBatchInTheStore(t *testing.T) {
	f := newFixture(t, &cb.ProjectBuildBatchConfig{TimeoutInMins: cb.Int32(5)})
	bs := f.builds()
	if len(bs) != 1 || bs[document.DownloadSource] == nil || !store.Queued(bs[document.DownloadSource].Doc) {
		t.Fatalf("after Submit: %v", bs)
	}
	fx := f.finish(document.DownloadSource, cb.StatusTypeSucceeded, plan(t, f.get().Doc, spec))
	if bs = f.builds(); fx.Queued != 1 || bs["a"] == nil || bs["b"] != nil {
		t.Fatalf("after DOWNLOAD_SOURCE: queued %d, builds %v", fx.Queued, bs)
	}
	f.finish("a", cb.StatusTypeSucceeded, nil)
	if bs = f.builds(); bs["b"] == nil {
		t.Fatal("b did not start after a")
	}

	// A node claims b; StopBuildBatch marks it for that node.
	f.update(func(tx store.Tx, fx *Effects) error {
		_, err := tx.BuildClaim(ctx, store.Claim{Node: "n2", Now: f.now, Until: f.now.Add(time.Minute), Limit: 1})
		return err
	})
	fx = f.update(func(tx store.Tx, fx *Effects) error {
		_, err := f.c.Apply(ctx, tx, scope, f.batch, batch.Event{Kind: batch.Stop}, fx)
		return err
	})
	if len(fx.Stop) != 1 || fx.Stop[0].ID != cb.Deref(f.builds()["b"].Doc.Id) || !f.builds()["b"].StopRequested {
		t.Fatalf("stop effects %+v", fx)
	}
	f.finish("b", cb.StatusTypeStopped, nil)
	if b := f.get(); cb.Deref(b.Doc.BuildBatchStatus) != cb.StatusTypeStopped || !cb.Deref(b.Doc.Complete) {
		t.Errorf("batch %s complete %v", cb.Deref(b.Doc.BuildBatchStatus), cb.Deref(b.Doc.Complete))
	}
}

// TestUnclaimedMemberStoppedAtOnce: a QUEUED member no node claimed ends
// STOPPED in the transaction that stops the batch, which then completes.
func TestUnclaimedMemberStoppedAtOnce(t *testing.T) {
	f := newFixture(t, &cb.ProjectBuildBatchConfig{})
	f.finish(document.DownloadSource, cb.StatusTypeSucceeded, plan(t, f.get().Doc, spec))
	fx := f.update(func(tx store.Tx, fx *Effects) error {
		_, err := f.c.Apply(ctx, tx, scope, f.batch, batch.Event{Kind: batch.Stop}, fx)
		return err
	})
	if len(fx.Stop) != 0 {
		t.Errorf("an unclaimed build was marked, not ended: %+v", fx)
	}
	a := f.builds()["a"]
	if cb.Deref(a.Doc.BuildStatus) != cb.StatusTypeStopped || !cb.Deref(a.Doc.BuildComplete) {
		t.Errorf("a: %s", cb.Deref(a.Doc.BuildStatus))
	}
	if b := f.get(); cb.Deref(b.Doc.BuildBatchStatus) != cb.StatusTypeStopped {
		t.Errorf("batch %s", cb.Deref(b.Doc.BuildBatchStatus))
	}
}

// TestSweepTimesOutAndTakesOverCombines: the sweep times out a batch past
// its deadline, and takes over a combine whose node's lease expired.
func TestSweepTimesOutAndTakesOverCombines(t *testing.T) {
	f := newFixture(t, &cb.ProjectBuildBatchConfig{TimeoutInMins: cb.Int32(5)})
	if fx, err := f.c.Sweep(ctx); err != nil || len(fx.Stop)+fx.Queued != 0 {
		t.Fatalf("early sweep: %+v %v", fx, err)
	}
	f.now = f.now.Add(6 * time.Minute)
	if _, err := f.c.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if b := f.get(); b.Meta.Ending != batch.EndTimedOut {
		t.Fatalf("after the deadline: ending %q", b.Meta.Ending)
	}

	g := newFixture(t, &cb.ProjectBuildBatchConfig{})
	g.finish(document.DownloadSource, cb.StatusTypeSucceeded, plan(t, g.get().Doc, "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n"))
	fx := g.finish("a", cb.StatusTypeSucceeded, nil)
	if len(fx.Combine) != 1 {
		t.Fatalf("no combine after success: %+v", fx)
	}
	// Node n1 died while combining: another node takes over once the lease
	// expired.
	other := New(Options{Store: g.st, Blob: g.c.o.Blob, Node: "n2", Lease: time.Minute, Now: func() time.Time { return g.now }, TempDir: t.TempDir()})
	defer other.Shutdown()
	if fx, _ := other.Sweep(ctx); len(fx.Combine) != 0 {
		t.Fatalf("took over a live combine: %+v", fx)
	}
	g.now = g.now.Add(2 * time.Minute)
	fx, err := other.Sweep(ctx)
	if err != nil || len(fx.Combine) != 1 || g.get().Meta.Combiner != "n2" {
		t.Fatalf("take-over: %+v %v (combiner %q)", fx, err, g.get().Meta.Combiner)
	}
	other.Combine(fx.Combine)
	for deadline := time.Now().Add(10 * time.Second); !cb.Deref(g.get().Doc.Complete) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if b := g.get(); cb.Deref(b.Doc.BuildBatchStatus) != cb.StatusTypeSucceeded || document.BatchOpen(b.Doc) != "" {
		t.Errorf("after the combine: %s %s", cb.Deref(b.Doc.BuildBatchStatus), document.BatchOpen(b.Doc))
	}
}
