package scheduler

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/runner"
	"github.com/buildbatch/buildbatch/internal/store"
	"github.com/buildbatch/buildbatch/internal/store/sqlite"
)

func TestAdmit(t *testing.T) {
	tests := []struct {
		max, maxQueued, running, queued, internalQueued int
		ok                                              bool
	}{
		{max: 2, maxQueued: 1, running: 0, queued: 0, ok: true},
		{max: 2, maxQueued: 1, running: 0, queued: 2, ok: true}, // both will start: the new one is the only one to wait
		{max: 2, maxQueued: 1, running: 2, queued: 0, ok: true},
		{max: 2, maxQueued: 1, running: 2, queued: 1, ok: false},
		{max: 2, maxQueued: 0, running: 1, queued: 0, ok: true},
		{max: 2, maxQueued: 0, running: 2, queued: 0, ok: false},
		{max: 2, maxQueued: 1, running: 2, internalQueued: 50, ok: true}, // builds of batches do not count
		{max: 2, maxQueued: 3, running: 2, queued: 3, ok: false},
	}
	for _, tt := range tests {
		err := admit(tt.max, tt.maxQueued, tt.running, tt.queued+tt.internalQueued, tt.queued)
		if (err == nil) != tt.ok {
			t.Errorf("%+v: admit = %v, want ok %v", tt, err, tt.ok)
		}
		if err != nil && (!IsQueueFull(err) || err.Error() != fmt.Sprintf("Cannot have more than %d builds in queue for the account", tt.maxQueued)) {
			t.Errorf("error %v", err)
		}
	}
}

func TestShutdownBeforeStartAndTwice(t *testing.T) {
	s := New(Options{MaxConcurrent: 1})
	s.Shutdown()
	s.Shutdown()
}

// TestRenewLost: renewing leases gives up a running build that the store
// says another node holds, but not one whose run has ended and whose end
// (complete: no longer leased) is being stored.
func TestRenewLost(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	scope := store.Scope{Account: "000000000000", Region: "us-east-1"}
	for _, id := range []string{"p:ended", "p:taken"} {
		b := &store.Build{Scope: scope, Doc: &cb.Build{Id: cb.String(id), ProjectName: cb.String("p"), BuildNumber: cb.Int64(1),
			BuildStatus: cb.String(cb.StatusTypeSucceeded), BuildComplete: cb.Bool(true)}}
		if err := st.Update(ctx, func(tx store.Tx) error { return tx.BuildInsert(ctx, b) }); err != nil {
			t.Fatal(err)
		}
	}
	s := New(Options{Store: st, Node: "n1", MaxConcurrent: 2})
	cancelled := map[string]error{}
	for id, ended := range map[string]bool{"p:ended": true, "p:taken": false} {
		s.startCount++
		s.running[key{Scope: scope, ID: id}] = &active{ended: ended, done: make(chan struct{}), n: s.startCount,
			cancel: func(cause error) { cancelled[id] = cause }}
	}
	s.renew(ctx)
	if _, ok := cancelled["p:ended"]; ok {
		t.Errorf("a build whose run ended was given up as taken over")
	}
	if !errors.Is(cancelled["p:taken"], runner.ErrLost) {
		t.Errorf("a build this node no longer holds was not given up: %v", cancelled)
	}
	// A build started after renew read the leases (claimed in a
	// transaction that committed after that read) is not judged by them.
	late := &active{done: make(chan struct{}), cancel: func(cause error) { cancelled["p:late"] = cause }}
	s.o.Store = lateStore{Store: st, start: func() {
		s.mu.Lock()
		s.startCount++
		late.n = s.startCount
		s.running[key{Scope: scope, ID: "p:late"}] = late
		s.mu.Unlock()
	}}
	s.renew(ctx)
	if _, ok := cancelled["p:late"]; ok {
		t.Errorf("a build started during the renewal was given up as taken over")
	}
}

// lateStore runs start once its Update's function has run: a build
// started while renew's transaction is under way.
type lateStore struct {
	store.Store
	start func()
}

func (l lateStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	err := l.Store.Update(ctx, fn)
	l.start()
	return err
}
