package scheduler

import (
	"fmt"
	"testing"
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
