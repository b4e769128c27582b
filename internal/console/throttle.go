package console

import (
	"net"
	"sync"
	"time"
)

// Login attempts allowed per client address within loginWindow (strict
// mode): past them, logins from the address are refused with 429 until
// the oldest leaves the window, whatever the secret. An attempt counts
// from its start (a burst of parallel guesses is bounded too); one that
// logs in is forgiven, not the others — so a valid key does not reset the
// count for guesses at another one.
const (
	loginLimit  = 10
	loginWindow = 5 * time.Minute
	// maxTracked bounds the addresses remembered: past it, the ones whose
	// attempts are all older than the window are forgotten, then the
	// oldest.
	maxTracked = 10000
)

// throttle counts login attempts per client address.
type throttle struct {
	mu    sync.Mutex
	tries map[string][]time.Time // oldest first, within the window
}

func newThrottle() *throttle { return &throttle{tries: map[string][]time.Time{}} }

// clientAddr is the address a request's client is counted by: its IP, and
// for IPv6 its /64 (one host usually has a whole /64).
func clientAddr(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip4 := ip.To4(); ip4 != nil {
		return ip4.String()
	}
	return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
}

// begin starts a login attempt of addr: it is counted at once and its
// time returned, unless addr must wait (how long).
func (t *throttle) begin(addr string, now time.Time) (attempt time.Time, wait time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := recent(t.tries[addr], now)
	if len(f) >= loginLimit {
		t.tries[addr] = f
		return time.Time{}, f[len(f)-loginLimit].Add(loginWindow).Sub(now)
	}
	if _, ok := t.tries[addr]; !ok && len(t.tries) >= maxTracked {
		t.prune(now)
	}
	t.tries[addr] = append(f, now)
	return now, 0
}

// succeeded forgives the attempt of addr begun at attempt: it logged in.
func (t *throttle) succeeded(addr string, attempt time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.tries[addr]
	for i := len(f) - 1; i >= 0; i-- {
		if f[i].Equal(attempt) {
			f = append(f[:i:i], f[i+1:]...)
			break
		}
	}
	if len(f) == 0 {
		delete(t.tries, addr)
	} else {
		t.tries[addr] = f
	}
}

// prune forgets the addresses with no attempt in the window and, if that
// is not enough, the one whose last attempt is oldest.
func (t *throttle) prune(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for a, f := range t.tries {
		f = recent(f, now)
		if len(f) == 0 {
			delete(t.tries, a)
			continue
		}
		if last := f[len(f)-1]; oldest == "" || last.Before(oldestAt) {
			oldest, oldestAt = a, last
		}
	}
	if len(t.tries) >= maxTracked {
		delete(t.tries, oldest)
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
