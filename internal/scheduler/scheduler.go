// Package scheduler runs builds on this node: it claims QUEUED builds from
// the store (any node may have queued them) while it has free slots, holds
// their leases while they run, and stores each build's end together with
// what follows from it (batchrun) in one transaction. It also ends builds
// whose node went away (their lease expired), times out builds that waited
// too long in the queue, stops builds when StopBuild on any node asks, and
// runs the batch sweep (timeouts, combines taken over). The queue is the
// store's: nothing that decides what happens next is held only here. Every
// goroutine it starts is its own and ends by Shutdown.
package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/buildbatch/buildbatch/internal/batchrun"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
	"github.com/buildbatch/buildbatch/internal/runner"
	"github.com/buildbatch/buildbatch/internal/store"
)

// Options configures a Scheduler.
type Options struct {
	Store  store.Store
	Runner *runner.Runner
	Coord  *batchrun.Coordinator
	// Node names this node in the store's leases.
	Node          string
	MaxConcurrent int
	MaxQueued     int
	// Lease is how long a claim on a build lasts unless renewed (renewed
	// every Lease/3); a node that dies loses its builds when it expires.
	Lease time.Duration
	// Poll is how often the node looks for builds other nodes queued and
	// for StopBuild requests made on other nodes; 0: only when woken (one
	// node alone on its store).
	Poll time.Duration
	// Exclusive: this node is the only one on its store, so at start every
	// build a node held is an orphan (their leases need not expire).
	Exclusive bool
	// Sweep is how often queued and batch timeouts are checked.
	Sweep  time.Duration
	Minute time.Duration
	Now    func() time.Time
	Log    *slog.Logger
	// Reap kills what a build left running when its node died.
	Reap func(buildID string) error
}

// ErrQueueFull is returned by Admit when the queue is at its bound.
type ErrQueueFull struct{ Max int }

func (e *ErrQueueFull) Error() string {
	return fmt.Sprintf("Cannot have more than %d builds in queue for the account", e.Max)
}

type key = batchrun.Key

type active struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
	// fleet: the build runs on a fleet's reserved capacity, not on one of
	// the node's --max-concurrent-builds slots.
	fleet bool
	// ended: the run returned; its end is being stored (complete in the
	// store, so no longer leased, before the build leaves running).
	ended bool
	// n is the build's number among those started here (Scheduler.startCount).
	n int64
}

// Scheduler runs builds.
type Scheduler struct {
	o Options

	mu      sync.Mutex
	running map[key]*active
	// startCount counts the builds started here; each active holds its
	// number (renew ignores those started after its read of the leases).
	startCount int64

	// claimMu makes claims one at a time: free slots are counted, builds
	// claimed and started without another claim in between.
	claimMu sync.Mutex

	endMu      sync.Mutex
	ends       []*ending // builds' ends waiting to be stored
	committing bool      // a build goroutine stores ends for the others

	queueChecked time.Time // when sweep last looked for queued timeouts (the loop's)

	wake   chan struct{}
	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
	loop   chan struct{} // closed when the loop ends
	once   sync.Once
}

// New returns a scheduler; Start starts it.
func New(o Options) *Scheduler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Minute <= 0 {
		o.Minute = time.Minute
	}
	if o.Sweep <= 0 {
		o.Sweep = min(time.Second, max(o.Minute/4, 10*time.Millisecond))
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	return &Scheduler{o: o, running: map[key]*active{}, wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel}
}

// Start takes over what this node (or, if Exclusive, any node) left
// behind and starts the loop.
func (s *Scheduler) Start(ctx context.Context) error {
	now := s.o.Now()
	c := store.Claim{Node: s.o.Node, Now: now, Until: now.Add(s.o.Lease), Own: true}
	if s.o.Exclusive {
		c.Now = time.Unix(0, 1<<62)
	}
	if err := s.claim(ctx, c, true); err != nil {
		var full *store.FullError
		if !errors.As(err, &full) {
			return err
		}
		// The server still starts and serves reads; the loop claims
		// again (and ends what was left) once the store can write.
		s.o.Log.Warn("cannot take over the builds left behind yet", "err", err)
	}
	s.loop = make(chan struct{})
	go s.run()
	s.Wake()
	return nil
}

// Wake makes the loop look for queued builds now.
func (s *Scheduler) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Counts returns how many builds run here.
func (s *Scheduler) Counts() (running int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.running)
}

// free is how many of the node's --max-concurrent-builds slots are free
// (builds on a fleet's reserved capacity take none).
func (s *Scheduler) free() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.o.MaxConcurrent
	for _, a := range s.running {
		if !a.fleet {
			n--
		}
	}
	return n
}

// fleetClaims decides, in tx, how many QUEUED builds of each fleet to
// claim on its reserved capacity: up to its capacity (baseCapacity, or
// what its scaling configuration asks for: document.FleetCapacity) less
// the builds it runs on every node. It also lists the fleets whose builds past that may
// take on-demand slots, in queue order with the builds on no fleet: those
// whose overflowBehavior is ON_DEMAND, and fleets that no longer exist
// (their builds run on demand); the builds of a fleet that QUEUEs wait.
func (s *Scheduler) fleetClaims(ctx context.Context, tx store.Tx) (reserved []store.FleetClaim, onDemand []store.FleetRef, err error) {
	loads, err := tx.BuildFleetLoad(ctx)
	if err != nil || len(loads) == 0 {
		return nil, nil, err
	}
	for _, l := range loads {
		if l.Queued == 0 {
			continue
		}
		capacity, spills := 0, true
		if r, err := tx.ResourceGet(ctx, l.Scope, store.KindFleet, l.Fleet); err == nil {
			var f cb.Fleet
			if json.Unmarshal(r.Doc, &f) == nil {
				capacity = document.FleetCapacity(&f, l.Running, l.Queued)
				spills = cb.Deref(f.OverflowBehavior) == cb.FleetOverflowBehaviorOnDemand
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, nil, err
		}
		if n := min(max(capacity-l.Running, 0), l.Queued); n > 0 {
			reserved = append(reserved, store.FleetClaim{Scope: l.Scope, Fleet: l.Fleet, Limit: n})
		}
		if spills {
			onDemand = append(onDemand, store.FleetRef{Scope: l.Scope, Fleet: l.Fleet})
		}
	}
	return reserved, onDemand, nil
}

// Admit checks in tx, before a StartBuild or RetryBuild inserts its build,
// that one more build may wait: builds of batches do not count (their batch
// does), and builds that will start at once do not wait.
func (s *Scheduler) Admit(ctx context.Context, tx store.Tx) error {
	all, standalone, err := tx.BuildCountQueued(ctx)
	if err != nil {
		return err
	}
	return admit(s.o.MaxConcurrent, s.o.MaxQueued, s.Counts(), all, standalone)
}

func admit(maxConcurrent, maxQueued, running, queued, standalone int) error {
	waiting := running + queued + 1 - maxConcurrent
	if min(waiting, standalone+1) > maxQueued {
		return &ErrQueueFull{Max: maxQueued}
	}
	return nil
}

// run is the scheduler's loop.
func (s *Scheduler) run() {
	defer close(s.loop)
	renewEvery := s.o.Lease / 3
	if s.o.Poll > 0 {
		renewEvery = min(renewEvery, s.o.Poll)
	}
	tick := renewEvery
	if s.o.Poll > 0 {
		tick = min(tick, s.o.Poll)
	}
	tick = min(tick, s.o.Sweep)
	timer := time.NewTimer(tick)
	defer timer.Stop()
	var lastRenew, lastSweep, lastOrphans time.Time
	woken := true
	for {
		now := s.o.Now()
		ctx := s.ctx
		if now.Sub(lastRenew) >= renewEvery {
			lastRenew = now
			s.renew(ctx)
		}
		free := s.free()
		orphans := now.Sub(lastOrphans) >= s.o.Lease/3
		if (woken || s.o.Poll > 0) && (free > 0 || s.fleetWaiting(ctx)) || orphans {
			if orphans {
				lastOrphans = now
			}
			if !orphans && !woken && !s.anyQueued(ctx) {
				// polling, and nothing to claim: no write
			} else if err := s.claim(ctx, store.Claim{Node: s.o.Node, Now: now, Until: now.Add(s.o.Lease)}, false); err != nil && ctx.Err() == nil {
				s.o.Log.Error("claiming builds", "err", err)
			}
		}
		if now.Sub(lastSweep) >= s.o.Sweep {
			lastSweep = now
			s.sweep(ctx)
		}
		woken = false
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
			woken = true
		case <-timer.C:
			timer.Reset(tick)
		}
	}
}

// anyQueued tells whether a build waits for a node.
func (s *Scheduler) anyQueued(ctx context.Context) bool {
	n := 1
	s.o.Store.View(ctx, func(tx store.Tx) error {
		var err error
		n, _, err = tx.BuildCountQueued(ctx)
		return err
	})
	return n > 0
}

// claim claims builds and starts up to c.Limit of them; orphans (their
// node went away) end FAULT, or go back to the queue if they never
// started; builds past their queued timeout end TIMED_OUT.
func (s *Scheduler) claim(ctx context.Context, c store.Claim, restart bool) error {
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	if !restart {
		c.Limit = s.free() // counted under claimMu
	}
	var cl claimed
	var fx batchrun.Effects
	err := s.o.Store.Update(ctx, func(tx store.Tx) (err error) {
		fx = batchrun.Effects{}
		cl, err = s.claimIn(ctx, tx, c, restart, &fx)
		return err
	})
	if err != nil {
		return err
	}
	s.started(cl)
	s.Handle(fx)
	return nil
}

// Claims is a claim made in a caller's transaction (StartBuild's, so that
// a build this node has room for starts at once, without another
// transaction): Claims locks out other claims until Done.
type Claims struct {
	s    *Scheduler
	cl   claimed
	fx   batchrun.Effects
	done bool
}

// Claims begins a claim; call it before the transaction begins (claims
// are serialized before transactions, never inside one), then In inside
// it, then Done once it committed or failed.
func (s *Scheduler) Claims() interface {
	In(ctx context.Context, tx store.Tx) error
	Done(committed bool)
} {
	s.claimMu.Lock()
	return &Claims{s: s}
}

// In claims, in tx, builds for this node's free slots.
func (c *Claims) In(ctx context.Context, tx store.Tx) error {
	s := c.s
	c.cl, c.fx = claimed{}, batchrun.Effects{}
	free := s.free()
	if free <= 0 || s.ctx.Err() != nil || s.loop == nil {
		return nil
	}
	now := s.o.Now()
	var err error
	c.cl, err = s.claimIn(ctx, tx, store.Claim{Node: s.o.Node, Now: now, Until: now.Add(s.o.Lease), Limit: free}, false, &c.fx)
	return err
}

// Done ends the claim: if the transaction committed, the claimed builds
// start.
func (c *Claims) Done(committed bool) {
	if c.done {
		return
	}
	c.done = true
	if committed {
		c.s.started(c.cl)
	}
	c.s.claimMu.Unlock()
	if committed {
		c.s.Handle(c.fx)
	}
}

// claimed is what a claim in a transaction took: builds to start, and
// orphans it ended.
type claimed struct {
	start, orphans []*store.Build
	// reserved marks the started builds that run on a fleet's reserved
	// capacity (the others take an on-demand slot, fleet overflow too).
	reserved map[*store.Build]bool
}

// claimIn claims builds in tx (see claim); the caller holds claimMu and,
// once tx commits, calls started.
func (s *Scheduler) claimIn(ctx context.Context, tx store.Tx, c store.Claim, restart bool, fx *batchrun.Effects) (claimed, error) {
	var start, orphans []*store.Build
	reserved := map[*store.Build]bool{}
	err := func() error {
		if !restart {
			fleets, onDemand, err := s.fleetClaims(ctx, tx)
			if err != nil {
				return err
			}
			c.Fleets, c.OnDemand = fleets, onDemand
		}
		// Room left: on demand, and on each fleet's reserved capacity.
		room := map[string]int{"": c.Limit}
		for _, f := range c.Fleets {
			room[store.FleetRef{Scope: f.Scope, Fleet: f.Fleet}.Key()] = f.Limit
		}
		spills := map[string]bool{}
		for _, f := range c.OnDemand {
			spills[f.Key()] = true
		}
		claimed, err := tx.BuildClaim(ctx, c)
		if err != nil {
			return err
		}
		now := s.o.Now()
		for _, b := range claimed {
			if document.Open(b.Doc) == document.Queued {
				if !now.Before(s.queuedDeadline(b)) {
					if err := s.o.Coord.EndQueued(ctx, tx, b, cb.StatusTypeTimedOut, document.Context(document.BuildTimedOut, "Build has timed out in the queue. "), fx); err != nil {
						return err
					}
					continue
				}
				// A fleet's build takes its reserved capacity, else (if the
				// fleet overflows on demand) an on-demand slot.
				k := ""
				if f := store.FleetOf(b.Doc); f != "" {
					if fk := (store.FleetRef{Scope: b.Scope, Fleet: f}).Key(); room[fk] > 0 || !spills[fk] {
						k = fk
					}
				}
				if room[k] <= 0 {
					// A QUEUED build a node claimed and never started (it
					// died), beyond this node's free slots: back to the queue.
					if err := tx.BuildRelease(ctx, b); err != nil {
						return err
					}
					continue
				}
				room[k]--
				if k != "" {
					reserved[b] = true
				}
				start = append(start, b)
				continue
			}
			msg := fmt.Sprintf("the node running the build stopped (its lease expired); the build was ended by node %s", s.o.Node)
			if restart {
				msg = "buildbatch stopped while the build was running; the build was ended when it restarted"
			}
			document.End(b.Doc, cb.StatusTypeFault, document.Context(document.InternalError, msg), now)
			document.Complete(b.Doc, cb.StatusTypeFault, now)
			if err := tx.BuildPut(ctx, b); err != nil {
				return err
			}
			if err := s.o.Coord.Finished(ctx, tx, b, nil, fx); err != nil {
				return err
			}
			orphans = append(orphans, b)
		}
		return nil
	}()
	return claimed{start, orphans, reserved}, err
}

// onDemand counts the builds of group that took an on-demand slot (they
// are still in running while their ends are stored).
func (s *Scheduler) onDemand(group []*ending) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range group {
		if a := s.running[key{Scope: e.res.Build.Scope, ID: cb.Deref(e.res.Build.Doc.Id)}]; a == nil || !a.fleet {
			n++
		}
	}
	return n
}

// fleetWaiting reports whether builds wait for a fleet (they may be
// claimed while the node's on-demand slots are full).
func (s *Scheduler) fleetWaiting(ctx context.Context) bool {
	waiting := false
	s.o.Store.View(ctx, func(tx store.Tx) error {
		waiting = fleetWaitingIn(ctx, tx)
		return nil
	})
	return waiting
}

func fleetWaitingIn(ctx context.Context, tx store.Tx) bool {
	loads, _ := tx.BuildFleetLoad(ctx)
	for _, l := range loads {
		if l.Queued > 0 {
			return true
		}
	}
	return false
}

// started carries out a committed claim: it kills what orphans left and
// starts the claimed builds.
func (s *Scheduler) started(cl claimed) {
	for _, b := range cl.orphans {
		id := cb.Deref(b.Doc.Id)
		s.o.Log.Warn("build was running on a node that stopped; marked FAULT", "build", id)
		if s.o.Reap != nil {
			s.o.Reap(id)
		}
		if s.o.Runner != nil {
			s.o.Runner.LogOrphanEnd(b)
		}
	}
	for _, b := range cl.start {
		s.startBuild(b, cl.reserved[b])
	}
}

func (s *Scheduler) queuedDeadline(b *store.Build) time.Time {
	minutes := cb.Deref(b.Doc.QueuedTimeoutInMinutes)
	if minutes <= 0 {
		minutes = 480
	}
	start := time.Time{}
	if b.Doc.StartTime != nil {
		start = b.Doc.StartTime.Time
	}
	if n := len(b.Doc.Phases); n > 0 && b.Doc.Phases[n-1].StartTime != nil {
		start = b.Doc.Phases[n-1].StartTime.Time
	}
	return start.Add(time.Duration(minutes) * s.o.Minute)
}

// renew extends this node's leases, stops the builds StopBuild asked to
// stop, and gives up those another node took over.
func (s *Scheduler) renew(ctx context.Context) {
	// A build claimed after the leases are read (and started meanwhile)
	// is not among them: only those started before are judged.
	s.mu.Lock()
	before := s.startCount
	s.mu.Unlock()
	var leases []store.Lease
	err := s.o.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		leases, err = tx.BuildRenew(ctx, s.o.Node, s.o.Now().Add(s.o.Lease))
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			s.o.Log.Error("renewing leases", "err", err)
		}
		return
	}
	held := map[key]bool{}
	for _, l := range leases {
		k := key{Scope: l.Scope, ID: l.ID}
		held[k] = true
		if l.StopRequested {
			s.stopLocal(k, runner.ErrStopped)
		}
	}
	s.mu.Lock()
	var lost []*active
	for k, a := range s.running {
		// A build whose end is stored is complete, so leased no more,
		// but stays in running until its end's group is committed.
		if !held[k] && !a.ended && a.n <= before {
			s.o.Log.Warn("build taken over by another node (this node's lease expired); stopping it here", "build", k.ID)
			lost = append(lost, a)
		}
	}
	s.mu.Unlock()
	for _, a := range lost {
		a.cancel(runner.ErrLost)
	}
}

// sweep ends builds that waited too long in the queue unclaimed and lets
// the coordinator apply batch timeouts and take over combines.
func (s *Scheduler) sweep(ctx context.Context) {
	fx, err := s.o.Coord.Sweep(ctx)
	if err != nil && ctx.Err() == nil {
		s.o.Log.Error("batch sweep", "err", err)
	}
	s.Handle(fx)
	// Queued timeouts are whole minutes: look at the queue once a minute.
	now := s.o.Now()
	if now.Sub(s.queueChecked) < s.o.Minute {
		return
	}
	s.queueChecked = now
	var expired []*store.Build
	s.o.Store.View(ctx, func(tx store.Tx) error {
		builds, err := tx.BuildListQueued(ctx)
		for _, b := range builds {
			if !now.Before(s.queuedDeadline(b)) {
				expired = append(expired, b)
			}
		}
		return err
	})
	if len(expired) == 0 {
		return
	}
	fx = batchrun.Effects{}
	err = s.o.Store.Update(ctx, func(tx store.Tx) error {
		fx = batchrun.Effects{}
		for _, e := range expired {
			b, err := tx.BuildGet(ctx, e.Scope, cb.Deref(e.Doc.Id))
			if err != nil {
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				return err
			}
			if b.Node != "" || document.Open(b.Doc) != document.Queued {
				continue
			}
			if err := s.o.Coord.EndQueued(ctx, tx, b, cb.StatusTypeTimedOut, document.Context(document.BuildTimedOut, "Build has timed out in the queue. "), &fx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			s.o.Log.Error("queued timeouts", "err", err)
		}
		return
	}
	s.Handle(fx)
}

// Handle carries out what a committed transaction decided: it wakes the
// loop for new builds, stops builds running here and starts combines. Call
// it only after the commit succeeded.
func (s *Scheduler) Handle(fx batchrun.Effects) {
	s.o.Coord.Committed(fx)
	if fx.Queued > 0 {
		s.Wake()
	}
	for _, k := range fx.Stop {
		s.stopLocal(k, runner.ErrStopped)
	}
	if len(fx.Combine) > 0 {
		s.o.Coord.Combine(fx.Combine)
	}
}

func (s *Scheduler) stopLocal(k key, cause error) {
	s.mu.Lock()
	a := s.running[k]
	s.mu.Unlock()
	if a != nil {
		a.cancel(cause)
	}
}

func (s *Scheduler) startBuild(b *store.Build, reserved bool) {
	k := key{Scope: b.Scope, ID: cb.Deref(b.Doc.Id)}
	ctx, cancel := context.WithCancelCause(s.ctx)
	a := &active{cancel: cancel, done: make(chan struct{}), fleet: reserved}
	s.mu.Lock()
	s.startCount++
	a.n = s.startCount
	s.running[k] = a
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		minutes := cb.Deref(b.Doc.TimeoutInMinutes)
		if minutes <= 0 {
			minutes = 60
		}
		tctx, tcancel := context.WithTimeoutCause(ctx, time.Duration(minutes)*s.o.Minute, runner.ErrTimedOut)
		res := s.o.Runner.Run(tctx, b)
		tcancel()
		cancel(nil)
		s.mu.Lock()
		a.ended = true
		s.mu.Unlock()
		if !res.Lost {
			s.finish(res)
		}
		s.mu.Lock()
		delete(s.running, k)
		s.mu.Unlock()
		close(a.done)
		s.Wake()
	}()
}

// ending is a build's end waiting to be stored.
type ending struct {
	res  runner.Result
	done chan struct{}
}

// finish stores a build's end with what follows from it. Ends that arrive
// while another is being stored are stored together, in one transaction
// (a batch's builds then move it on with one read and one write of it):
// the first build to finish commits for the others until none wait. The
// store is tried again while it refuses (until shutdown: then the build is
// ended when a node takes it over).
func (s *Scheduler) finish(res runner.Result) {
	e := &ending{res: res, done: make(chan struct{})}
	s.endMu.Lock()
	s.ends = append(s.ends, e)
	lead := !s.committing
	s.committing = true
	s.endMu.Unlock()
	if !lead {
		<-e.done
		return
	}
	for {
		s.endMu.Lock()
		group := s.ends
		s.ends = nil
		if len(group) == 0 {
			s.committing = false
			s.endMu.Unlock()
			return
		}
		s.endMu.Unlock()
		s.commitEnds(group)
		for _, g := range group {
			close(g.done)
		}
	}
}

func (s *Scheduler) commitEnds(group []*ending) {
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		err := s.commitOnce(group)
		if err == nil {
			return
		}
		s.o.Log.Error("saving the end of builds", "builds", len(group), "err", err)
		select {
		case <-time.After(wait):
		case <-s.ctx.Done():
			if err := s.commitOnce(group); err != nil {
				s.o.Log.Error("saving the end of builds at shutdown", "builds", len(group), "err", err)
			}
			return
		}
	}
}

func (s *Scheduler) commitOnce(group []*ending) error {
	ctx := context.WithoutCancel(s.ctx)
	// The slots these builds leave are filled in the same transaction.
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	var cl claimed
	revs := make([]int64, len(group))
	for i, e := range group {
		revs[i] = e.res.Build.Rev
	}
	var fx batchrun.Effects
	var stale []string
	err := s.o.Store.Update(ctx, func(tx store.Tx) error {
		fx, stale = batchrun.Effects{}, nil
		var done []batchrun.Done
		for i, e := range group {
			e.res.Build.Rev = revs[i]
			err := tx.BuildPut(ctx, e.res.Build)
			if errors.Is(err, store.ErrStale) {
				stale = append(stale, cb.Deref(e.res.Build.Doc.Id))
				continue
			}
			if err != nil {
				return err
			}
			done = append(done, batchrun.Done{Build: e.res.Build, Plan: e.res.Plan})
		}
		if err := s.o.Coord.FinishedAll(ctx, tx, done, &fx); err != nil {
			return err
		}
		cl = claimed{}
		if free := s.free() + s.onDemand(group); s.ctx.Err() == nil && (free > 0 || fleetWaitingIn(ctx, tx)) {
			now := s.o.Now()
			var err error
			cl, err = s.claimIn(ctx, tx, store.Claim{Node: s.o.Node, Now: now, Until: now.Add(s.o.Lease), Limit: free}, false, &fx)
			return err
		}
		return nil
	})
	if err != nil {
		for i, e := range group {
			e.res.Build.Rev = revs[i]
		}
		return err
	}
	for _, id := range stale {
		s.o.Log.Warn("build was taken over by another node; its end here is dropped", "build", id)
	}
	s.started(cl)
	s.Handle(fx)
	return nil
}

// StopLocal stops a build if it runs here and returns once its end is
// stored; it reports whether it ran here.
func (s *Scheduler) StopLocal(ctx context.Context, sc store.Scope, id string) bool {
	s.mu.Lock()
	a := s.running[key{Scope: sc, ID: id}]
	s.mu.Unlock()
	if a == nil {
		return false
	}
	a.cancel(runner.ErrStopped)
	select {
	case <-a.done:
	case <-ctx.Done():
	}
	return true
}

// Shutdown stops the loop and ends the running builds (FAULT: the node
// went away); queued builds stay queued in the store for any node. It
// waits for every build goroutine. Safe to call twice and before Start.
func (s *Scheduler) Shutdown() {
	s.once.Do(func() {
		s.cancel(runner.ErrShutdown)
		if s.loop != nil {
			<-s.loop
		}
		s.wg.Wait()
	})
}

// QueueFull marks the error as a full-queue refusal (for the API).
func (e *ErrQueueFull) QueueFull() bool { return true }

// IsQueueFull tells whether err is a full-queue refusal.
func IsQueueFull(err error) bool {
	var q *ErrQueueFull
	return errors.As(err, &q)
}
