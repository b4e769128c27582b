package scheduler

import (
	"fmt"
	"testing"

	"github.com/buildbatch/buildbatch/internal/store"
)

func TestReserve(t *testing.T) {
	tests := []struct {
		max, maxQueued, running, queued, internalQueued, reserved int
		ok                                                        bool
	}{
		{max: 2, maxQueued: 1, running: 0, queued: 0, ok: true},
		{max: 2, maxQueued: 1, running: 0, queued: 2, ok: true}, // both will start: the new one is the only one to wait
		{max: 2, maxQueued: 1, running: 2, queued: 0, ok: true},
		{max: 2, maxQueued: 1, running: 2, queued: 1, ok: false},
		{max: 2, maxQueued: 1, running: 1, queued: 1, reserved: 1, ok: false},
		{max: 2, maxQueued: 0, running: 1, queued: 0, ok: true},
		{max: 2, maxQueued: 0, running: 2, queued: 0, ok: false},
		{max: 2, maxQueued: 1, running: 2, internalQueued: 50, ok: true}, // builds of batches do not count
		{max: 2, maxQueued: 3, running: 2, queued: 3, ok: false},
	}
	for _, tt := range tests {
		s := New(Options{MaxConcurrent: tt.max, MaxQueued: tt.maxQueued})
		for i := 0; i < tt.running; i++ {
			s.running[fmt.Sprint(i)] = &active{}
		}
		for i := 0; i < tt.queued; i++ {
			s.queue = append(s.queue, &queued{b: &store.Build{}})
		}
		for i := 0; i < tt.internalQueued; i++ {
			s.queue = append(s.queue, &queued{b: &store.Build{Meta: store.BuildMeta{Internal: true}}})
		}
		s.reserved = tt.reserved
		release, err := s.Reserve()
		if (err == nil) != tt.ok {
			t.Errorf("%+v: Reserve = %v, want ok %v", tt, err, tt.ok)
		}
		if err == nil {
			release()
			release()
			if s.reserved != tt.reserved {
				t.Errorf("release left reserved = %d", s.reserved)
			}
		} else if !IsQueueFull(err) || err.Error() != fmt.Sprintf("Cannot have more than %d builds in queue for the account", tt.maxQueued) {
			t.Errorf("error %v", err)
		}
	}
}

func TestShutdownBeforeStartAndTwice(t *testing.T) {
	s := New(Options{MaxConcurrent: 1})
	s.Shutdown()
	s.Shutdown()
}
