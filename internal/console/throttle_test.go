package console

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		tries []time.Duration // attempts, after t0, none of which logged in
		at    time.Duration
		want  time.Duration
	}{
		{"none", nil, 0, 0},
		{"under the limit", spaced(loginLimit-1, time.Second), 10 * time.Second, 0},
		{"at the limit", spaced(loginLimit, time.Second), 10 * time.Second, loginWindow - 10*time.Second},
		{"at the limit, the oldest leaving", spaced(loginLimit, time.Second), loginWindow, 0},
		{"old attempts forgotten", spaced(loginLimit, time.Second), loginWindow + time.Hour, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			th := newThrottle()
			for _, d := range c.tries {
				if _, w := th.begin("192.0.2.1", t0.Add(d)); w != 0 {
					t.Fatalf("attempt at %v refused", d)
				}
			}
			if _, got := th.begin("192.0.2.1", t0.Add(c.at)); got != c.want {
				t.Errorf("wait = %v, want %v", got, c.want)
			}
			if _, got := th.begin("192.0.2.2", t0.Add(c.at)); got != 0 {
				t.Errorf("another address waits %v", got)
			}
		})
	}
}

func spaced(n int, step time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(i) * step
	}
	return out
}

// TestThrottleForgivesOnlySuccess: a login forgives its own attempt, not
// the failed ones before it.
func TestThrottleForgivesOnlySuccess(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	th := newThrottle()
	for i := range 2*loginLimit - 1 { // loginLimit failures, a login after each but the last
		at, w := th.begin("192.0.2.1", t0.Add(time.Duration(i)*time.Second))
		if i%2 == 1 {
			th.succeeded("192.0.2.1", at) // every other one logs in
		}
		if w != 0 {
			t.Fatalf("attempt %d refused after %d failures", i, (i+1)/2)
		}
	}
	if _, w := th.begin("192.0.2.1", t0.Add(30*time.Second)); w == 0 {
		t.Fatalf("%d failures interleaved with logins were all forgiven", loginLimit)
	}
}

// TestThrottleBurst: attempts begun at once count before any ends.
func TestThrottleBurst(t *testing.T) {
	th := newThrottle()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, w := th.begin("192.0.2.9", now); w == 0 {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if allowed != loginLimit {
		t.Errorf("%d of 50 parallel attempts allowed, want %d", allowed, loginLimit)
	}
}

func TestThrottleBound(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	th := newThrottle()
	for i := range maxTracked + 100 {
		th.begin(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), t0.Add(time.Duration(i)*time.Microsecond))
	}
	if n := len(th.tries); n > maxTracked {
		t.Errorf("%d addresses remembered, more than %d", n, maxTracked)
	}
}

func TestClientAddr(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:41000":              "192.0.2.7",
		"[2001:db8::1]:443":            "2001:db8::/64",
		"[2001:db8:0:0:ffff:1:2:3]:1":  "2001:db8::/64",
		"[::ffff:192.0.2.7]:80":        "192.0.2.7",
		"not an address":               "not an address",
		"[2001:db8:aaaa:bbbb::9]:8080": "2001:db8:aaaa:bbbb::/64",
	} {
		if got := clientAddr(in); got != want {
			t.Errorf("clientAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
