// Package batchrun runs build batches: it starts a batch's DOWNLOAD_SOURCE
// build, plans the batch from the buildspec's batch section, releases each
// group's build as soon as the groups it depends on have succeeded (or
// failed with ignore-failure), stops dependents of failed groups (and, with
// fast-fail, everything), rolls the builds' outcomes up into the batch's
// status, combines artifacts, and handles StopBuildBatch, RetryBuildBatch
// and the batch timeout.
//
// All changes to batches go through one goroutine (the Coordinator's loop),
// fed by events: build completions from the scheduler, and requests from the
// API. The loop never waits for a build; stopping builds happens in
// goroutines it owns.
package batchrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/buildbatch/buildbatch/internal/batch"
	"github.com/buildbatch/buildbatch/internal/blob"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
	"github.com/buildbatch/buildbatch/internal/store"
)

// Scheduler is what the coordinator needs of the scheduler.
type Scheduler interface {
	Enqueue(b *store.Build)
	Stop(ctx context.Context, id string) bool
}

// Options configures a Coordinator.
type Options struct {
	Store     store.Store
	Scheduler Scheduler
	Blob      blob.Store
	// Minute is the length of a timeout minute.
	Minute  time.Duration
	Now     func() time.Time
	Log     *slog.Logger
	TempDir string
}

// Retry types.
const (
	RetryAll    = "RETRY_ALL_BUILDS"
	RetryFailed = "RETRY_FAILED_BUILDS"
)

type eventKind int

const (
	evSubmit eventKind = iota
	evBuildDone
	evPlan
	evStop
	evTimeout
	evRetry
	evReconcile
	evWait
)

type event struct {
	kind      eventKind
	scope     store.Scope
	batchID   string
	build     *store.Build
	spec      []byte
	srcDir    string
	retryType string
	ending    string
	reply     chan reply
}

type reply struct {
	doc  *cb.BuildBatch
	err  error
	done chan struct{} // closed when the batch completes (evWait, evStop)
}

// Coordinator runs batches.
type Coordinator struct {
	o Options

	mu     sync.Mutex
	queue  []event
	signal chan struct{}

	// Owned by the loop goroutine.
	timers  map[string]*time.Timer
	waiters map[string][]chan struct{}
	cache   map[string]*state // unfinished batches, as last saved

	ctx    context.Context
	cancel context.CancelFunc
	loopWG sync.WaitGroup
	stops  sync.WaitGroup // goroutines stopping builds
	once   sync.Once
}

// New returns a coordinator; Start starts it.
func New(o Options) *Coordinator {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Minute == 0 {
		o.Minute = time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Coordinator{o: o, signal: make(chan struct{}, 1), timers: map[string]*time.Timer{}, waiters: map[string][]chan struct{}{}, cache: map[string]*state{},
		ctx: ctx, cancel: cancel}
}

// Start picks up the batches a previous run left unfinished and starts the
// loop. Call it before the scheduler starts, so that the builds the
// scheduler ends at recovery reach their batches.
func (c *Coordinator) Start(ctx context.Context) error {
	var batches []*store.Batch
	err := c.o.Store.View(ctx, func(tx store.Tx) error {
		var err error
		batches, err = tx.BatchListIncomplete(ctx)
		return err
	})
	if err != nil {
		return err
	}
	for _, b := range batches {
		c.push(event{kind: evReconcile, scope: b.Scope, batchID: cb.Deref(b.Doc.Id)})
	}
	c.loopWG.Add(1)
	go c.loop()
	return nil
}

// Shutdown handles the events already queued, stops the loop and waits for
// the goroutines the coordinator started.
func (c *Coordinator) Shutdown() {
	c.once.Do(func() {
		c.cancel()
		c.loopWG.Wait()
		c.stops.Wait()
	})
}

func (c *Coordinator) push(e event) {
	c.mu.Lock()
	c.queue = append(c.queue, e)
	c.mu.Unlock()
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

// request pushes an event and waits for its reply.
func (c *Coordinator) request(ctx context.Context, e event) reply {
	e.reply = make(chan reply, 1)
	c.push(e)
	select {
	case r := <-e.reply:
		return r
	case <-ctx.Done():
		return reply{err: ctx.Err()}
	case <-c.ctx.Done():
		return reply{err: errors.New("buildbatch is shutting down")}
	}
}

func (c *Coordinator) loop() {
	defer c.loopWG.Done()
	for {
		c.mu.Lock()
		q := c.queue
		c.queue = nil
		c.mu.Unlock()
		c.handleQueue(q)
		if len(q) > 0 {
			continue
		}
		select {
		case <-c.signal:
		case <-c.ctx.Done():
			c.mu.Lock()
			rest := c.queue
			c.queue = nil
			c.mu.Unlock()
			c.handleQueue(rest)
			for _, t := range c.timers {
				t.Stop()
			}
			return
		}
	}
}

// Submit starts a stored batch (in SUBMITTED).
func (c *Coordinator) Submit(scope store.Scope, id string) {
	c.push(event{kind: evSubmit, scope: scope, batchID: id})
}

// BuildDone tells the coordinator that a build of a batch completed.
func (c *Coordinator) BuildDone(b *store.Build) {
	c.push(event{kind: evBuildDone, scope: b.Scope, batchID: b.Meta.BatchID, build: b})
}

// Plan reads the batch section of a batch's buildspec (called by the
// runner from the batch's DOWNLOAD_SOURCE build, with the fetched source).
func (c *Coordinator) Plan(ctx context.Context, b *store.Build, spec []byte, srcDir string) error {
	r := c.request(ctx, event{kind: evPlan, scope: b.Scope, batchID: b.Meta.BatchID, build: b, spec: spec, srcDir: srcDir})
	return r.err
}

// Stop stops a batch and returns it once it is complete.
func (c *Coordinator) Stop(ctx context.Context, scope store.Scope, id string) (*cb.BuildBatch, error) {
	r := c.request(ctx, event{kind: evStop, scope: scope, batchID: id, ending: document.Stopped})
	if r.err != nil {
		return nil, r.err
	}
	if r.done != nil {
		select {
		case <-r.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return c.load(ctx, scope, id)
}

// Retry retries a finished, unsuccessful batch and returns it as it is
// right after the retry was accepted.
func (c *Coordinator) Retry(ctx context.Context, scope store.Scope, id, retryType string) (*cb.BuildBatch, error) {
	r := c.request(ctx, event{kind: evRetry, scope: scope, batchID: id, retryType: retryType})
	return r.doc, r.err
}

// Wait returns once a batch is complete (or ctx ends).
func (c *Coordinator) Wait(ctx context.Context, scope store.Scope, id string) error {
	r := c.request(ctx, event{kind: evWait, scope: scope, batchID: id})
	if r.err != nil || r.done == nil {
		return r.err
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Coordinator) load(ctx context.Context, scope store.Scope, id string) (*cb.BuildBatch, error) {
	var b *store.Batch
	err := c.o.Store.View(ctx, func(tx store.Tx) error {
		var err error
		b, err = tx.BatchGet(ctx, scope, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return b.Doc, nil
}

// state is one batch being worked on by an event handler.
type state struct {
	b        *store.Batch
	plan     *batch.Plan
	settings *document.Settings
	start    []*store.Build // builds to enqueue once saved
	stop     []string       // build ids to stop once saved

	replyErr  error          // the answer to a request
	retryView *cb.BuildBatch // the batch as RetryBuildBatch returns it
	planDirty bool           // the plan changed since it was last encoded
}

// handle applies a batch's queued events in one transaction, then starts
// and stops builds, answers requests and keeps the timers.
func (c *Coordinator) handle(scope store.Scope, id string, events []event) {
	st := c.cache[id]
	results := make([]reply, len(events))
	err := c.o.Store.Update(context.Background(), func(tx store.Tx) error {
		if st == nil {
			b, err := tx.BatchGet(context.Background(), scope, id)
			if err != nil {
				return err
			}
			st = &state{b: b}
			if err := st.decode(); err != nil {
				return err
			}
		}
		st.start, st.stop = nil, nil
		for i, e := range events {
			st.replyErr, st.retryView = nil, nil
			if err := c.apply(tx, st, e); err != nil {
				return err
			}
			results[i] = reply{err: st.replyErr, doc: st.retryView}
		}
		return st.save(tx)
	})
	if err != nil {
		delete(c.cache, id) // reload from the store next time
		for _, e := range events {
			if e.reply != nil {
				e.reply <- reply{err: err}
			}
		}
		if !errors.Is(err, store.ErrNotFound) {
			c.o.Log.Error("batch event", "batch", id, "err", err)
		}
		return
	}
	for _, b := range st.start {
		c.o.Scheduler.Enqueue(b)
	}
	for _, bid := range st.stop {
		c.stopBuild(bid)
	}
	doc := st.b.Doc
	complete := cb.Deref(doc.Complete)
	if complete {
		delete(c.cache, id)
		if t := c.timers[id]; t != nil {
			t.Stop()
			delete(c.timers, id)
		}
		for _, w := range c.waiters[id] {
			close(w)
		}
		delete(c.waiters, id)
	} else {
		c.cache[id] = st
		if d := st.b.Meta.Deadline; d > 0 && c.timers[id] == nil {
			c.timers[id] = time.AfterFunc(time.Until(time.Unix(0, d)), func() {
				c.push(event{kind: evTimeout, scope: scope, batchID: id, ending: "TIMED_OUT"})
			})
		}
	}
	for i, e := range events {
		if e.reply == nil {
			continue
		}
		r := results[i]
		if (e.kind == evStop || e.kind == evWait) && r.err == nil && !complete {
			ch := make(chan struct{})
			c.waiters[id] = append(c.waiters[id], ch)
			r.done = ch
		}
		e.reply <- r
	}
}

// handleQueue handles a list of events, batch by batch (each batch's events
// in order, in one transaction).
func (c *Coordinator) handleQueue(q []event) {
	type key struct {
		scope store.Scope
		id    string
	}
	var order []key
	byBatch := map[key][]event{}
	for _, e := range q {
		k := key{e.scope, e.batchID}
		if _, ok := byBatch[k]; !ok {
			order = append(order, k)
		}
		byBatch[k] = append(byBatch[k], e)
	}
	for _, k := range order {
		c.handle(k.scope, k.id, byBatch[k])
	}
}

func (c *Coordinator) stopBuild(id string) {
	c.stops.Add(1)
	go func() {
		defer c.stops.Done()
		c.o.Scheduler.Stop(context.Background(), id)
	}()
}

func (st *state) decode() error {
	if len(st.b.Meta.Plan) > 0 {
		st.plan = new(batch.Plan)
		if err := json.Unmarshal(st.b.Meta.Plan, st.plan); err != nil {
			return fmt.Errorf("corrupt batch plan: %w", err)
		}
	}
	st.settings = new(document.Settings)
	if len(st.b.Meta.Settings) > 0 {
		if err := json.Unmarshal(st.b.Meta.Settings, st.settings); err != nil {
			return fmt.Errorf("corrupt batch settings: %w", err)
		}
	}
	return nil
}

func (st *state) save(tx store.Tx) error {
	if st.plan != nil && st.planDirty {
		p, err := json.Marshal(st.plan)
		if err != nil {
			return err
		}
		st.b.Meta.Plan = p
		st.planDirty = false
	}
	return tx.BatchPut(context.Background(), st.b)
}

func (c *Coordinator) apply(tx store.Tx, st *state, e event) error {
	doc := st.b.Doc
	complete := cb.Deref(doc.Complete)
	switch e.kind {
	case evSubmit:
		if document.BatchOpen(doc) == document.Submitted {
			return c.submit(tx, st)
		}
	case evPlan:
		st.replyErr = c.plan(st, e)
		return nil
	case evBuildDone:
		if !complete {
			return c.buildDone(tx, st, e.build)
		}
	case evStop, evTimeout:
		if !complete {
			return c.end(tx, st, e.ending)
		}
	case evRetry:
		return c.retry(tx, st, e.retryType)
	case evReconcile:
		if !complete {
			return c.reconcile(tx, st)
		}
	}
	return nil
}
