package console

import (
	"fmt"
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		fails []time.Duration // after t0
		at    time.Duration
		want  time.Duration
	}{
		{"none", nil, 0, 0},
		{"under the limit", spaced(loginLimit-1, time.Second), 10 * time.Second, 0},
		{"at the limit", spaced(loginLimit, time.Second), 10 * time.Second, loginWindow - 10*time.Second},
		{"at the limit, the oldest leaving", spaced(loginLimit, time.Second), loginWindow, 0},
		{"past the limit: the last ten count", spaced(loginLimit+5, time.Second), 20 * time.Second, loginWindow - 15*time.Second},
		{"old failures forgotten", spaced(loginLimit, time.Second), loginWindow + time.Hour, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			th := newThrottle()
			for _, d := range c.fails {
				th.fail("192.0.2.1", t0.Add(d))
			}
			if got := th.wait("192.0.2.1", t0.Add(c.at)); got != c.want {
				t.Errorf("wait = %v, want %v", got, c.want)
			}
			if got := th.wait("192.0.2.2", t0.Add(c.at)); got != 0 {
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

func TestThrottleResetAndBound(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	th := newThrottle()
	for i := range loginLimit {
		th.fail("192.0.2.1", t0.Add(time.Duration(i)*time.Millisecond))
	}
	if th.wait("192.0.2.1", t0.Add(time.Second)) == 0 {
		t.Fatal("not throttled at the limit")
	}
	th.reset("192.0.2.1")
	if w := th.wait("192.0.2.1", t0.Add(time.Second)); w != 0 {
		t.Fatalf("throttled after a reset: %v", w)
	}
	// The addresses remembered stay bounded.
	for i := range maxTracked + 100 {
		th.fail(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), t0.Add(time.Duration(i)*time.Microsecond))
	}
	if n := len(th.fails); n > maxTracked {
		t.Errorf("%d addresses remembered, more than %d", n, maxTracked)
	}
	if got := clientAddr("[2001:db8::1]:443"); got != "2001:db8::1" {
		t.Errorf("clientAddr = %q", got)
	}
}
