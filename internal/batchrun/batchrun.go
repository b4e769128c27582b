// Package batchrun carries out what follows from events, in the store:
// a build that completes moves its batch on (batch.Progress) or starts its
// automatic retry; StartBuildBatch, StopBuildBatch, RetryBuildBatch and the
// batch timeout change the batch. Each event is applied in the
// transaction that records it, so nothing that decides what happens next
// is held in memory, and any node can apply any event. Builds to start are
// inserted QUEUED (any node's scheduler claims them); builds to stop are
// ended at once if no node has claimed them yet, or marked for the node
// that holds them. Combining artifacts happens off the coordination path:
// the batch enters COMBINE_ARTIFACTS, the node combines them, then applies
// Combined.
package batchrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/buildbatch/buildbatch/internal/batch"
	"github.com/buildbatch/buildbatch/internal/blob"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/store"
)

// Options configures a Coordinator.
type Options struct {
	Store store.Store
	Blob  blob.Store
	// Node names this node (it holds the combines it runs).
	Node string
	// Lease is how long a node holds a combine before another may take it
	// over.
	Lease time.Duration
	// Minute is the length of a timeout minute.
	Minute  time.Duration
	Now     func() time.Time
	UUID    func() string
	Log     *slog.Logger
	TempDir string
	// Exclusive: this node is alone on its store, so at its first sweep
	// every combine in progress was cut short (by its own earlier run).
	Exclusive bool
}

// Effects are what a node does after a transaction that applied events
// commits.
type Effects struct {
	// Queued: builds were inserted QUEUED (wake the scheduler).
	Queued int
	// Stop are builds marked to be stopped (the node holding one stops it).
	Stop []Key
	// Combine are batches whose artifacts this node combines.
	Combine []Key

	written []*store.Batch // batches the transaction put (see Committed)
}

// Key names a build or batch.
type Key struct {
	Scope store.Scope
	ID    string
}

// Coordinator applies events. Its only goroutines combine artifacts; they
// end by Shutdown.
type Coordinator struct {
	o      Options
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
	swept  bool // a sweep ran (owned by the scheduler's loop, which sweeps)

	// kept holds batches as this node last committed them, by key: a
	// transaction that finds the stored revision unchanged takes one
	// instead of reading and decoding it (see Committed).
	keptMu sync.Mutex
	kept   map[Key]*store.Batch

	planMu    sync.Mutex
	planBytes []byte      // the encoded plan last decoded, and
	plan      *batch.Plan // that plan (read only: Progress replaces, never changes, a plan)
}

// New returns a coordinator.
func New(o Options) *Coordinator {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.UUID == nil {
		o.UUID = ident.UUID
	}
	if o.Minute == 0 {
		o.Minute = time.Minute
	}
	if o.Lease == 0 {
		o.Lease = 30 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Coordinator{o: o, ctx: ctx, cancel: cancel, kept: map[Key]*store.Batch{}}
}

// Shutdown waits for the combines in progress to end (a combine cut short
// is taken over when its lease expires).
func (c *Coordinator) Shutdown() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
}

func (c *Coordinator) env() batch.Env {
	return batch.Env{Now: c.o.Now(), Minute: c.o.Minute, UUID: c.o.UUID}
}

// Apply applies an event to a batch in tx and returns what the batch
// decided (Step.Err answers a refused request).
func (c *Coordinator) Apply(ctx context.Context, tx store.Tx, scope store.Scope, id string, e batch.Event, fx *Effects) (batch.Step, error) {
	b, err := c.batch(ctx, tx, scope, id)
	if err != nil {
		return batch.Step{}, err
	}
	return c.apply(ctx, tx, b, e, fx)
}

// Submit starts a batch just inserted in tx.
func (c *Coordinator) Submit(ctx context.Context, tx store.Tx, b *store.Batch, fx *Effects) error {
	_, err := c.apply(ctx, tx, b, batch.Event{Kind: batch.Submit}, fx)
	return err
}

func (c *Coordinator) apply(ctx context.Context, tx store.Tx, b *store.Batch, e batch.Event, fx *Effects) (batch.Step, error) {
	return c.applyAll(ctx, tx, b, []batch.Event{e}, fx)
}

// applyAll applies events to a batch in order, and puts it once.
func (c *Coordinator) applyAll(ctx context.Context, tx store.Tx, b *store.Batch, events []batch.Event, fx *Effects) (batch.Step, error) {
	var first batch.Step
	state, err := c.load(b)
	if err != nil {
		return first, err
	}
	wasComplete := cb.Deref(b.Doc.Complete)
	for i := 0; i < len(events); i++ {
		step := state.Apply(events[i], c.env())
		if i == 0 {
			first = step
		}
		for _, nb := range step.Start {
			if _, err := document.Insert(ctx, tx, nb.Spec, nb.Meta, c.o.Now()); err != nil {
				return first, err
			}
			fx.Queued++
		}
		for _, bid := range step.Stop {
			ended, err := c.stop(ctx, tx, b.Scope, bid, fx)
			if err != nil {
				return first, err
			}
			if ended != nil {
				// A member no node had claimed yet ended here: the batch
				// hears of it in this transaction.
				events = append(events, batch.Event{Kind: batch.BuildDone, Build: ended})
			}
		}
		if step.Combine {
			b.Meta.Combiner = c.o.Node
			b.Meta.CombineUntil = c.o.Now().Add(c.o.Lease).UnixNano()
			fx.Combine = append(fx.Combine, Key{b.Scope, cb.Deref(b.Doc.Id)})
		}
	}
	if !wasComplete && cb.Deref(b.Doc.Complete) {
		if err := c.mergeReports(ctx, tx, b, state.Plan()); err != nil {
			return first, err
		}
	}
	if err := state.Save(); err != nil {
		return first, err
	}
	if err := tx.BatchPut(ctx, b); err != nil {
		return first, err
	}
	fx.written = append(fx.written, b)
	return first, nil
}

// batch reads a batch in tx: the one this node kept, if the stored
// revision is still the one it committed, else from the store.
func (c *Coordinator) batch(ctx context.Context, tx store.Tx, scope store.Scope, id string) (*store.Batch, error) {
	k := Key{scope, id}
	c.keptMu.Lock()
	b := c.kept[k]
	delete(c.kept, k) // the transaction owns it now; Committed gives it back
	c.keptMu.Unlock()
	if b != nil {
		rev, err := tx.BatchRev(ctx, scope, id)
		if err != nil {
			return nil, err
		}
		if rev == b.Rev {
			return b, nil
		}
	}
	return tx.BatchGet(ctx, scope, id)
}

// Committed keeps the unfinished batches a committed transaction wrote
// (fx is what it returned); only call it once the commit succeeded. A
// kept batch is used again only while its stored revision is the one
// committed, which no other write (on any node) can leave unchanged.
func (c *Coordinator) Committed(fx Effects) {
	c.keptMu.Lock()
	defer c.keptMu.Unlock()
	for _, b := range fx.written {
		k := Key{b.Scope, cb.Deref(b.Doc.Id)}
		if cb.Deref(b.Doc.Complete) {
			delete(c.kept, k)
			continue
		}
		if len(c.kept) >= 64 {
			for old := range c.kept {
				delete(c.kept, old)
				break
			}
		}
		c.kept[k] = b
	}
}

// stop stops a build in tx: one still QUEUED that no node claimed ends
// STOPPED here (and is returned); one a node holds is marked for it.
func (c *Coordinator) stop(ctx context.Context, tx store.Tx, scope store.Scope, id string, fx *Effects) (*store.Build, error) {
	b, err := tx.BuildGet(ctx, scope, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil || cb.Deref(b.Doc.BuildComplete) {
		return nil, err
	}
	if b.Node == "" && document.Open(b.Doc) == document.Queued {
		now := c.o.Now()
		document.End(b.Doc, cb.StatusTypeStopped, nil, now)
		document.Complete(b.Doc, cb.StatusTypeStopped, now)
		return b, tx.BuildPut(ctx, b)
	}
	fx.Stop = append(fx.Stop, Key{scope, id})
	return nil, tx.BuildRequestStop(ctx, scope, id)
}

// StopBuild stops a build in tx (StopBuildBatch's members and StopBuild):
// a QUEUED build no node claimed ends STOPPED at once, with what follows;
// a running one is marked for the node that holds it.
func (c *Coordinator) StopBuild(ctx context.Context, tx store.Tx, scope store.Scope, id string, fx *Effects) error {
	ended, err := c.stop(ctx, tx, scope, id, fx)
	if err != nil || ended == nil {
		return err
	}
	return c.Finished(ctx, tx, ended, nil, fx)
}

// Done is a build that completed, with what a batch's DOWNLOAD_SOURCE
// build planned.
type Done struct {
	Build *store.Build
	Plan  *batch.Plan
}

// Finished records in tx a build that completed (its final document is
// already put) and applies what follows: its batch moves on (plan: what
// a batch's DOWNLOAD_SOURCE build planned), or its automatic retry starts.
func (c *Coordinator) Finished(ctx context.Context, tx store.Tx, b *store.Build, plan *batch.Plan, fx *Effects) error {
	return c.FinishedAll(ctx, tx, []Done{{Build: b, Plan: plan}}, fx)
}

// FinishedAll is Finished for several builds: the builds of one batch are
// applied to it together (read and put once), in order.
func (c *Coordinator) FinishedAll(ctx context.Context, tx store.Tx, done []Done, fx *Effects) error {
	var order []Key
	events := map[Key][]batch.Event{}
	for _, d := range done {
		if d.Build.Meta.BatchID == "" {
			if err := c.autoRetry(ctx, tx, d.Build, fx); err != nil {
				return err
			}
			continue
		}
		k := Key{d.Build.Scope, d.Build.Meta.BatchID}
		if _, ok := events[k]; !ok {
			order = append(order, k)
		}
		events[k] = append(events[k], batch.Event{Kind: batch.BuildDone, Build: d.Build, Plan: d.Plan})
	}
	for _, k := range order {
		b, err := c.batch(ctx, tx, k.Scope, k.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // the batch was deleted
		}
		if err != nil {
			return err
		}
		if _, err := c.applyAll(ctx, tx, b, events[k], fx); err != nil {
			return err
		}
	}
	return nil
}

// EndQueued ends in tx a build that never left the queue (its queued
// timeout passed) and applies what follows.
func (c *Coordinator) EndQueued(ctx context.Context, tx store.Tx, b *store.Build, status string, ctxs []cb.PhaseContext, fx *Effects) error {
	now := c.o.Now()
	document.End(b.Doc, status, ctxs, now)
	document.Complete(b.Doc, status, now)
	if err := tx.BuildPut(ctx, b); err != nil {
		return err
	}
	return c.Finished(ctx, tx, b, nil, fx)
}

// autoRetry starts the next automatic retry of a build that did not
// succeed, as the project's autoRetryLimit (or autoRetryLimitOverride)
// asks; the builds point at each other through autoRetryConfig.
func (c *Coordinator) autoRetry(ctx context.Context, tx store.Tx, old *store.Build, fx *Effects) error {
	arc := old.Doc.AutoRetryConfig
	status := cb.Deref(old.Doc.BuildStatus)
	if arc == nil || status == cb.StatusTypeSucceeded || status == cb.StatusTypeStopped ||
		cb.Deref(arc.AutoRetryNumber) >= cb.Deref(arc.AutoRetryLimit) || arc.NextAutoRetry != nil {
		return nil
	}
	meta := old.Meta
	meta.IdempotencyToken = ""
	spec := document.RetrySpec(old, cb.Deref(old.Doc.Initiator))
	spec.AutoRetry = arc.AutoRetryLimit
	b, err := document.Insert(ctx, tx, spec, meta, c.o.Now())
	if err != nil {
		return err
	}
	b.Doc.AutoRetryConfig = &cb.AutoRetryConfig{AutoRetryLimit: arc.AutoRetryLimit, AutoRetryNumber: cb.Int32(cb.Deref(arc.AutoRetryNumber) + 1),
		PreviousAutoRetry: old.Doc.Arn}
	if err := tx.BuildPut(ctx, b); err != nil {
		return err
	}
	arc.NextAutoRetry = b.Doc.Arn
	fx.Queued++
	return tx.BuildPut(ctx, old)
}

// Combine combines the artifacts of the batches in keys, each in a
// goroutine of the coordinator, then applies Combined; after tells the
// caller what followed (nil: nothing to do).
func (c *Coordinator) Combine(keys []Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	for _, k := range keys {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.combineOne(k)
		}()
	}
}

func (c *Coordinator) combineOne(k Key) {
	ctx := c.ctx
	var b *store.Batch
	err := c.o.Store.View(ctx, func(tx store.Tx) error {
		var err error
		b, err = tx.BatchGet(ctx, k.Scope, k.ID)
		return err
	})
	if err != nil {
		c.o.Log.Error("combining artifacts", "batch", k.ID, "err", err)
		return
	}
	res, cerr := c.combine(ctx, b)
	if ctx.Err() != nil {
		return // shutting down: another node (or this one, restarted) combines again
	}
	if cerr != nil {
		c.o.Log.Warn("combining artifacts", "batch", k.ID, "err", cerr)
	}
	var fx Effects
	err = c.o.Store.Update(ctx, func(tx store.Tx) error {
		fx = Effects{}
		b, err := tx.BatchGet(ctx, k.Scope, k.ID)
		if err != nil {
			return err
		}
		if b.Meta.Combiner != c.o.Node || document.BatchOpen(b.Doc) != document.CombineArtifacts {
			return nil // another node took it over
		}
		if res != nil {
			b.Doc.Artifacts = res
		}
		_, err = c.apply(ctx, tx, b, batch.Event{Kind: batch.Combined, CombineErr: cerr}, &fx)
		return err
	})
	if err != nil {
		c.o.Log.Error("combining artifacts", "batch", k.ID, "err", err)
	}
}

// Sweep applies what time decides, for every unfinished batch: timeouts
// of batches past their deadline, and combines whose node went away (their
// lease expired). It returns the effects for the caller to carry out.
func (c *Coordinator) Sweep(ctx context.Context) (Effects, error) {
	var due []*store.Batch
	now := c.o.Now()
	combinesUntil := now // combines whose lease ended before this are taken over
	if c.o.Exclusive && !c.swept {
		combinesUntil = time.Unix(0, 1<<62)
	}
	c.swept = true
	err := c.o.Store.View(ctx, func(tx store.Tx) error {
		batches, err := tx.BatchListIncomplete(ctx)
		for _, b := range batches {
			if c.due(b, now, combinesUntil) != nil {
				due = append(due, b)
			}
		}
		return err
	})
	var fx Effects
	if err != nil || len(due) == 0 {
		return fx, err
	}
	err = c.o.Store.Update(ctx, func(tx store.Tx) error {
		fx = Effects{}
		for _, d := range due {
			b, err := tx.BatchGet(ctx, d.Scope, cb.Deref(d.Doc.Id))
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			e := c.due(b, now, combinesUntil)
			if e == nil {
				continue
			}
			if e.Kind == batch.Reconcile {
				if e.Builds, err = tx.BuildListByBatch(ctx, b.Scope, cb.Deref(b.Doc.Id)); err != nil {
					return err
				}
			}
			if _, err := c.apply(ctx, tx, b, *e, &fx); err != nil {
				return fmt.Errorf("batch %s: %w", cb.Deref(b.Doc.Id), err)
			}
		}
		return nil
	})
	if err != nil {
		return Effects{}, err
	}
	return fx, nil
}

// due is the event time brings to a batch, or nil.
func (c *Coordinator) due(b *store.Batch, now, combinesUntil time.Time) *batch.Event {
	if cb.Deref(b.Doc.Complete) {
		return nil
	}
	switch document.BatchOpen(b.Doc) {
	case document.CombineArtifacts:
		if b.Meta.CombineUntil < combinesUntil.UnixNano() {
			return &batch.Event{Kind: batch.Reconcile}
		}
		return nil
	case document.Submitted:
		return &batch.Event{Kind: batch.Reconcile}
	}
	if d := b.Meta.Deadline; d > 0 && d <= now.UnixNano() && b.Meta.Ending == "" {
		return &batch.Event{Kind: batch.Timeout}
	}
	return nil
}

// load decodes a batch's plan and settings (batch.Load), reusing the last
// decoded plan of the same bytes: a plan does not change once made, and
// decoding a large one is most of the cost of a build's end.
func (c *Coordinator) load(b *store.Batch) (*batch.State, error) {
	c.planMu.Lock()
	reuse := c.planBytes != nil && bytes.Equal(c.planBytes, b.Meta.Plan)
	plan := c.plan
	c.planMu.Unlock()
	if reuse {
		return batch.LoadWithPlan(b, plan)
	}
	st, err := batch.Load(b)
	if err == nil && len(b.Meta.Plan) > 0 {
		c.planMu.Lock()
		c.planBytes, c.plan = b.Meta.Plan, st.Plan()
		c.planMu.Unlock()
	}
	return st, err
}
