package console

import (
	"net"
	"sync"
	"time"
)

// Failed logins allowed per client address within loginWindow (strict
// mode): past them, logins from the address are refused with 429 until
// the oldest failure leaves the window, whatever the secret.
const (
	loginLimit  = 10
	loginWindow = 5 * time.Minute
	// maxTracked bounds the addresses remembered: past it, the ones whose
	// failures are all older than the window are forgotten, then the
	// oldest.
	maxTracked = 10000
)

// throttle counts failed logins per client address.
type throttle struct {
	mu    sync.Mutex
	fails map[string][]time.Time // oldest first, within the window
}

func newThrottle() *throttle { return &throttle{fails: map[string][]time.Time{}} }

// clientAddr is the address of a request's client, without its port.
func clientAddr(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// wait tells how long addr must wait before it may try again (0: now).
func (t *throttle) wait(addr string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := recent(t.fails[addr], now)
	if len(f) == 0 {
		delete(t.fails, addr)
		return 0
	}
	t.fails[addr] = f
	if len(f) < loginLimit {
		return 0
	}
	return f[len(f)-loginLimit].Add(loginWindow).Sub(now)
}

// fail records a failed login of addr.
func (t *throttle) fail(addr string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.fails[addr]; !ok && len(t.fails) >= maxTracked {
		t.prune(now)
	}
	f := append(recent(t.fails[addr], now), now)
	if len(f) > loginLimit {
		f = f[len(f)-loginLimit:]
	}
	t.fails[addr] = f
}

// reset forgets addr's failures (after it logged in).
func (t *throttle) reset(addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.fails, addr)
}

// prune forgets the addresses with no failure in the window and, if that
// is not enough, the one whose last failure is oldest.
func (t *throttle) prune(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for a, f := range t.fails {
		f = recent(f, now)
		if len(f) == 0 {
			delete(t.fails, a)
			continue
		}
		if last := f[len(f)-1]; oldest == "" || last.Before(oldestAt) {
			oldest, oldestAt = a, last
		}
	}
	if len(t.fails) >= maxTracked {
		delete(t.fails, oldest)
	}
}

// recent is the part of f within the window before now.
func recent(f []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(f) && now.Sub(f[i]) >= loginWindow {
		i++
	}
	return f[i:]
}
