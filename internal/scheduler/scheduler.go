// Package scheduler owns the running builds: a FIFO queue of QUEUED builds,
// a server-wide limit of builds running at once, queued timeouts, build
// timeouts, StopBuild, and recovery after a restart. Every goroutine it
// starts is its own and ends by Shutdown.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
	"github.com/buildbatch/buildbatch/internal/runner"
	"github.com/buildbatch/buildbatch/internal/store"
)

// Options configures a Scheduler.
type Options struct {
	Store         store.Store
	Runner        *runner.Runner
	MaxConcurrent int
	MaxQueued     int
	Now           func() time.Time
	Log           *slog.Logger
	// Reap kills what a build left running when the server died.
	Reap func(buildID string) error
	// OnDone is called, outside any lock, after a build completed (however
	// it ended). The batch coordinator listens here.
	OnDone func(b *store.Build)
}

// ErrQueueFull is returned by Reserve when the queue is at its bound.
type ErrQueueFull struct{ Max int }

func (e *ErrQueueFull) Error() string {
	return fmt.Sprintf("Cannot have more than %d builds in queue for the account", e.Max)
}

type queued struct {
	b        *store.Build
	deadline time.Time
}

type active struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// Scheduler runs builds.
type Scheduler struct {
	o Options

	mu       sync.Mutex
	queue    []*queued
	reserved int
	running  map[string]*active

	wake   chan struct{}
	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
	loop   chan struct{} // closed when the dispatch loop ends
	once   sync.Once
}

// New returns a scheduler; Start starts it.
func New(o Options) *Scheduler {
	if o.Now == nil {
		o.Now = time.Now
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	return &Scheduler{o: o, running: map[string]*active{}, wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel}
}

// Start recovers the builds a previous run left behind and starts
// dispatching: builds still QUEUED wait again, in their order; builds that
// were running when the server died end with FAULT.
func (s *Scheduler) Start(ctx context.Context) error {
	var builds []*store.Build
	err := s.o.Store.View(ctx, func(tx store.Tx) error {
		var err error
		builds, err = tx.BuildListIncomplete(ctx)
		return err
	})
	if err != nil {
		return err
	}
	var faulted []*store.Build
	for _, b := range builds {
		if document.Open(b.Doc) == document.Queued {
			s.enqueueLocked(b)
			continue
		}
		id := cb.Deref(b.Doc.Id)
		if s.o.Reap != nil {
			s.o.Reap(id)
		}
		now := s.o.Now()
		document.End(b.Doc, cb.StatusTypeFault, document.Context(document.InternalError,
			"buildbatch stopped while the build was running; the build was ended when it restarted"), now)
		document.Complete(b.Doc, cb.StatusTypeFault, now)
		if err := s.put(b); err != nil {
			return err
		}
		s.o.Log.Warn("build was running when the server stopped; marked FAULT", "build", id)
		faulted = append(faulted, b)
	}
	s.loop = make(chan struct{})
	go s.dispatch()
	s.kick()
	for _, b := range faulted {
		s.done(b)
	}
	return nil
}

func (s *Scheduler) put(b *store.Build) error {
	return s.o.Store.Update(context.Background(), func(tx store.Tx) error { return tx.BuildPut(context.Background(), b) })
}

func (s *Scheduler) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Scheduler) done(b *store.Build) {
	if s.o.OnDone != nil {
		s.o.OnDone(b)
	}
}

// Reserve checks that one more build may be queued and holds a place for
// it; release gives the place back if the build is not enqueued after all.
// Builds of a batch (internal) are not bounded: the batch is.
func (s *Scheduler) Reserve() (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// With this build, how many would wait for a slot, and how many of
	// those count (builds of batches do not)?
	ours := s.reserved + 1
	for _, q := range s.queue {
		if !q.b.Meta.Internal {
			ours++
		}
	}
	waiting := len(s.running) + len(s.queue) + s.reserved + 1 - s.o.MaxConcurrent
	if min(waiting, ours) > s.o.MaxQueued {
		return nil, &ErrQueueFull{Max: s.o.MaxQueued}
	}
	s.reserved++
	var once sync.Once
	return func() { once.Do(func() { s.mu.Lock(); s.reserved--; s.mu.Unlock() }) }, nil
}

// Enqueue adds a stored build in QUEUED to the queue (after Reserve, whose
// release the caller then calls).
func (s *Scheduler) Enqueue(b *store.Build) {
	s.mu.Lock()
	s.enqueueLocked(b)
	s.mu.Unlock()
	s.kick()
}

func (s *Scheduler) enqueueLocked(b *store.Build) {
	minutes := cb.Deref(b.Doc.QueuedTimeoutInMinutes)
	if minutes <= 0 {
		minutes = 480
	}
	start := s.o.Now()
	if n := len(b.Doc.Phases); n > 0 && b.Doc.Phases[n-1].StartTime != nil {
		start = b.Doc.Phases[n-1].StartTime.Time
	}
	s.queue = append(s.queue, &queued{b: b, deadline: start.Add(time.Duration(minutes) * s.o.Runner.Minute())})
}

// Counts returns how many builds run and wait.
func (s *Scheduler) Counts() (running, waiting int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.running), len(s.queue)
}

// dispatch is the scheduler's loop: it starts queued builds while there are
// free slots and times out builds that waited too long.
func (s *Scheduler) dispatch() {
	defer close(s.loop)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		}
		next := s.step()
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(next)
	}
}

// step starts what can start and expires what waited too long; it returns
// how long until the next queued deadline.
func (s *Scheduler) step() time.Duration {
	now := s.o.Now()
	var expired []*store.Build
	s.mu.Lock()
	keep := s.queue[:0]
	for _, q := range s.queue {
		if !now.Before(q.deadline) {
			expired = append(expired, q.b)
			continue
		}
		keep = append(keep, q)
	}
	s.queue = keep
	for len(s.queue) > 0 && len(s.running) < s.o.MaxConcurrent && s.ctx.Err() == nil {
		q := s.queue[0]
		s.queue = s.queue[1:]
		s.startLocked(q.b)
	}
	next := time.Hour
	for _, q := range s.queue {
		if d := q.deadline.Sub(now); d < next {
			next = d
		}
	}
	s.mu.Unlock()
	for _, b := range expired {
		s.endQueued(b, cb.StatusTypeTimedOut, document.Context(document.BuildTimedOut, "Build has timed out in the queue. "))
	}
	return max(next, time.Millisecond)
}

// endQueued finishes a build that never left the queue.
func (s *Scheduler) endQueued(b *store.Build, status string, ctxs []cb.PhaseContext) {
	now := s.o.Now()
	if status == cb.StatusTypeStopped {
		ctxs = nil
	}
	document.End(b.Doc, status, ctxs, now)
	document.Complete(b.Doc, status, now)
	if err := s.put(b); err != nil {
		s.o.Log.Error("saving build", "build", cb.Deref(b.Doc.Id), "err", err)
	}
	s.done(b)
}

func (s *Scheduler) startLocked(b *store.Build) {
	id := cb.Deref(b.Doc.Id)
	ctx, cancel := context.WithCancelCause(s.ctx)
	a := &active{cancel: cancel, done: make(chan struct{})}
	s.running[id] = a
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		minutes := cb.Deref(b.Doc.TimeoutInMinutes)
		if minutes <= 0 {
			minutes = 60
		}
		tctx, tcancel := context.WithTimeoutCause(ctx, time.Duration(minutes)*s.o.Runner.Minute(), runner.ErrTimedOut)
		final := s.o.Runner.Run(tctx, b)
		tcancel()
		cancel(nil)
		s.mu.Lock()
		delete(s.running, id)
		s.mu.Unlock()
		close(a.done)
		s.kick()
		s.done(final)
	}()
}

// Stop stops a build: a queued one leaves the queue, a running one is
// killed; Stop returns once the build's final state is stored. It reports
// false if the build is neither queued nor running here.
func (s *Scheduler) Stop(ctx context.Context, id string) bool {
	s.mu.Lock()
	for i, q := range s.queue {
		if cb.Deref(q.b.Doc.Id) == id {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			s.mu.Unlock()
			s.endQueued(q.b, cb.StatusTypeStopped, nil)
			return true
		}
	}
	a, ok := s.running[id]
	s.mu.Unlock()
	if !ok {
		return false
	}
	a.cancel(runner.ErrStopped)
	select {
	case <-a.done:
	case <-ctx.Done():
	}
	return true
}

// IsActive reports whether a build is queued or running here.
func (s *Scheduler) IsActive(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.running[id]; ok {
		return true
	}
	for _, q := range s.queue {
		if cb.Deref(q.b.Doc.Id) == id {
			return true
		}
	}
	return false
}

// Shutdown stops dispatching and ends the running builds (FAULT: the
// server went away); queued builds stay queued in the store and resume
// after a restart. It waits for every build goroutine. Safe to call twice
// and before Start.
func (s *Scheduler) Shutdown() {
	s.once.Do(func() {
		s.cancel(runner.ErrShutdown)
		if s.loop != nil {
			<-s.loop
		}
		s.wg.Wait()
	})
}

// IsQueueFull tells whether err is a full-queue refusal.
func IsQueueFull(err error) bool {
	var q *ErrQueueFull
	return errors.As(err, &q)
}
