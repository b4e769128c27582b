package bloblog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/buildbatch/buildbatch/internal/blob"
	"github.com/buildbatch/buildbatch/internal/blob/blobtest"
	"github.com/buildbatch/buildbatch/internal/blob/fs"
	"github.com/buildbatch/buildbatch/internal/buildlog"
	"github.com/buildbatch/buildbatch/internal/buildlog/logtest"
)

// fast are options that make the suite quick: small chunks, frequent
// flushes and polls.
var fast = Options{FlushBytes: 64 << 10, FlushInterval: 20 * time.Millisecond, PollInterval: 10 * time.Millisecond, MaxPollInterval: 100 * time.Millisecond}

func newFS(t testing.TB) blob.Store {
	s, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// suite runs the conformance suite on Logs with options o over the stores
// newStore makes.
func suite(t *testing.T, o Options, newStore func(t testing.TB) blob.Store) {
	logtest.Run(t, func(t *testing.T) (buildlog.Logs, func() buildlog.Logs) {
		s := newStore(t)
		open := func() buildlog.Logs { return New(s, o) }
		return open(), open
	})
}

func TestConformanceFS(t *testing.T) {
	t.Run("fast", func(t *testing.T) { suite(t, fast, newFS) })
	t.Run("defaults", func(t *testing.T) { suite(t, Options{}, newFS) })
	t.Run("prefix", func(t *testing.T) {
		o := fast
		o.Bucket, o.Prefix = "other-bucket", "some/prefix/"
		suite(t, o, newFS)
	})
}

// store wraps a blob.Store: it counts calls, and Puts can be made to fail
// or to wait.
type store struct {
	blob.Store
	puts, opens, lists atomic.Int64

	mu   sync.Mutex
	fail error         // Puts fail with it
	gate chan struct{} // Puts wait until it is closed
}

func (s *store) setFail(err error) { s.mu.Lock(); s.fail = err; s.mu.Unlock() }

func (s *store) block() (release func()) {
	g := make(chan struct{})
	s.mu.Lock()
	s.gate = g
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.gate = nil
		s.mu.Unlock()
		close(g)
	}
}

func (s *store) Put(ctx context.Context, bucket, key string, r io.Reader) error {
	s.puts.Add(1)
	s.mu.Lock()
	fail, gate := s.fail, s.gate
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail != nil {
		return fail
	}
	return s.Store.Put(ctx, bucket, key, r)
}

func (s *store) Open(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	s.opens.Add(1)
	return s.Store.Open(ctx, bucket, key)
}

func (s *store) List(ctx context.Context, bucket, prefix string) ([]string, error) {
	s.lists.Add(1)
	return s.Store.List(ctx, bucket, prefix)
}

var ctx = context.Background()

// The objects of a log, as documented.
func TestLayout(t *testing.T) {
	bs := newFS(t)
	o := Options{Prefix: "p", FlushBytes: 100, FlushInterval: time.Hour}
	l := New(bs, o)
	w := logtest.Create(t, l, "b1")
	if keys, _ := bs.List(ctx, DefaultBucket, ""); !slices.Equal(keys, []string{"p/b1/0000000000-0"}) {
		t.Errorf("after Create: %q", keys)
	}
	logtest.MustWrite(t, w, strings.Repeat("a", 99)+"\n")         // one whole chunk: stored at once
	logtest.MustWrite(t, w, strings.Repeat("b", 149)+"\n"+"tail") // one and a half: the rest waits
	waitFor(t, func() bool { keys, _ := bs.List(ctx, DefaultBucket, "p/b1"); return len(keys) == 3 })
	logtest.MustClose(t, w)
	keys, _ := bs.List(ctx, DefaultBucket, "")
	want := []string{"p/b1/0000000000-0", "p/b1/0000000001-0", "p/b1/0000000002-100", "p/b1/0000000003-200", "p/b1/complete"}
	if !slices.Equal(keys, want) {
		t.Fatalf("objects %q, want %q", keys, want)
	}
	var all []byte
	for i, k := range keys[:4] {
		c, err := decodeChunk(blobtest.Read(t, bs, DefaultBucket, k))
		if err != nil {
			t.Fatal(err)
		}
		_, start, _ := parseChunkName(path.Base(k))
		if c.start != start || (i == 0) != (len(c.data) == 0) || len(c.data) > 100 || len(c.recs) == 0 && i > 0 || i > 0 && c.recs[0].Offset != start {
			t.Errorf("chunk %s: start %d, %d bytes, records %v", k, c.start, len(c.data), c.recs)
		}
		all = append(all, c.data...)
	}
	if want := strings.Repeat("a", 99) + "\n" + strings.Repeat("b", 149) + "\ntail\n"; string(all) != want {
		t.Errorf("chunks hold %q, want %q", all, want)
	}
	m, err := decodeMarker(blobtest.Read(t, bs, DefaultBucket, "p/b1/complete"))
	if err != nil || m != (marker{chunks: 4, size: int64(len(all))}) {
		t.Errorf("marker %+v, %v", m, err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

// The stamps are those of the file store (buildlog's TestWriteReadFollow).
func TestStampsLikeFiles(t *testing.T) {
	clock := time.Date(2026, 11, 27, 1, 2, 3, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); clock = clock.Add(time.Second); return clock }
	l := New(newFS(t), Options{FlushInterval: 5 * time.Millisecond, Now: now})
	w := logtest.Create(t, l, "b1")
	w.Write([]byte("one\ntw"))
	w.Write([]byte("o\nthree"))
	logtest.ReadUntil(t, l, "b1", 0, "two\n")
	stamped, err := l.Read(ctx, "b1", 0, 1<<20, 0, true)
	want := "2026-11-27T01:02:04.000000Z one\n2026-11-27T01:02:04.000000Z two\n"
	if err != nil || string(stamped.Data) != want {
		t.Errorf("stamped = %q, %v; want %q", stamped.Data, err, want)
	}
	w.Write([]byte("\n"))
	logtest.MustClose(t, w)
	c, err := New(l.store, Options{}).Read(ctx, "b1", 8, 1<<20, 0, true)
	if err != nil || string(c.Data) != "2026-11-27T01:02:05.000000Z three\n" || !c.Complete {
		t.Errorf("from another node: %q complete %v, %v", c.Data, c.Complete, err)
	}
}

// A chunk boundary within a write: the chunk after it starts with a
// record of that write's time.
func TestSplitWrite(t *testing.T) {
	l := New(newFS(t), Options{FlushBytes: 1000, FlushInterval: time.Hour})
	w := logtest.Create(t, l, "big")
	logtest.MustWrite(t, w, "first\n")
	big := strings.Repeat(strings.Repeat("y", 99)+"\n", 30)
	logtest.MustWrite(t, w, big)
	logtest.MustClose(t, w)
	all := logtest.ReadAll(t, New(l.store, Options{}), "big", 0, 1<<20, true)
	times, _ := stampedTimes(t, all)
	if len(times) != 31 {
		t.Fatalf("%d lines", len(times))
	}
	for i := 2; i < len(times); i++ {
		if !times[i].Equal(times[1]) {
			t.Fatalf("line %d stamped %v, line 1 %v: one write, one time", i, times[i], times[1])
		}
	}
	keys, _ := l.store.List(ctx, DefaultBucket, "big")
	if len(keys) != 1+4+1 { // chunk 0, 3106 bytes in chunks of 1000, the marker
		t.Errorf("objects %q", keys)
	}
}

func stampedTimes(t *testing.T, b []byte) ([]time.Time, []string) {
	var times []time.Time
	var lines []string
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		ts, err := time.Parse(buildlog.StampFormat, line[:len(buildlog.StampFormat)])
		if err != nil {
			t.Fatal(err)
		}
		times, lines = append(times, ts), append(lines, line[len(buildlog.StampFormat)+1:])
	}
	return times, lines
}

// Writes do not wait for the store; another node sees them within the
// flush interval (and its poll).
func TestWritesDoNotWait(t *testing.T) {
	bs := &store{Store: newFS(t)}
	o := Options{FlushInterval: 50 * time.Millisecond, PollInterval: 10 * time.Millisecond, MaxPollInterval: 20 * time.Millisecond}
	a, b := New(bs, o), New(bs, o)
	w := logtest.Create(t, a, "slow")
	release := bs.block()
	start := time.Now()
	for i := range 1000 {
		fmt.Fprintf(w, "line %d %s\n", i, strings.Repeat("z", 1000))
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("1 MB of writes took %v while the store hangs", d)
	}
	release()
	start = time.Now()
	got, _ := logtest.ReadUntil(t, b, "slow", 0, "line 999 "+strings.Repeat("z", 1000)+"\n")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("another node saw the output after %v", d)
	}
	if n := strings.Count(string(got), "\n"); n != 1000 {
		t.Errorf("%d lines", n)
	}
	// A line written now: on the other node within the interval.
	_, next := logtest.ReadUntil(t, b, "slow", 0, "line 999 "+strings.Repeat("z", 1000)+"\n")
	start = time.Now()
	logtest.MustWrite(t, w, "last\n")
	c, err := b.Read(ctx, "slow", next, 1<<20, 5*time.Second, false)
	if d := time.Since(start); err != nil || string(c.Data) != "last\n" || d > 500*time.Millisecond {
		t.Errorf("another node read %q after %v, %v", c.Data, d, err)
	}
	logtest.MustClose(t, w)
}

// Failed flushes are retried; nothing is lost; Close reports what it
// could not store, and then no marker is written.
func TestFailingStore(t *testing.T) {
	bs := &store{Store: newFS(t)}
	l := New(bs, Options{FlushBytes: 1000, FlushInterval: 10 * time.Millisecond, CloseTimeout: 300 * time.Millisecond})
	w := logtest.Create(t, l, "flaky")
	bs.setFail(errors.New("store down"))
	var want strings.Builder
	for i := range 500 {
		line := fmt.Sprintf("line %d\n", i)
		want.WriteString(line)
		logtest.MustWrite(t, w, line)
	}
	failed := bs.puts.Load()
	waitFor(t, func() bool { return bs.puts.Load() > failed+3 }) // retried
	bs.setFail(nil)
	logtest.MustClose(t, w)
	if got := logtest.ReadAll(t, New(bs, Options{}), "flaky", 0, 1<<20, false); string(got) != want.String() {
		t.Errorf("read %d bytes, want %d", len(got), want.Len())
	}

	w = logtest.Create(t, l, "down")
	logtest.MustWrite(t, w, "lost?\n")
	bs.setFail(errors.New("store down"))
	start := time.Now()
	err := w.Close()
	if err == nil || !strings.Contains(err.Error(), "store down") || !strings.Contains(err.Error(), "6 bytes") {
		t.Errorf("Close with the store down: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v", d)
	}
	bs.setFail(nil)
	if keys, _ := bs.List(ctx, DefaultBucket, "down"); slices.Contains(keys, "down/complete") {
		t.Errorf("marker written: %q", keys)
	}
	c, err := New(bs, Options{}).Read(ctx, "down", 0, 1<<20, 0, false)
	if err != nil || c.Complete {
		t.Errorf("read of a log not stored whole: complete %v, %v", c.Complete, err)
	}
}

// Past MaxPending bytes not stored, writes wait for a flush.
func TestMaxPending(t *testing.T) {
	bs := &store{Store: newFS(t)}
	l := New(bs, Options{FlushBytes: 1000, FlushInterval: time.Hour, MaxPending: 5000})
	w := logtest.Create(t, l, "pending")
	release := bs.block()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 10 {
			fmt.Fprintf(w, "%s\n", strings.Repeat("p", 999))
		}
	}()
	select {
	case <-done:
		t.Fatal("10 KB written while the store holds 5 KB back")
	case <-time.After(200 * time.Millisecond):
	}
	release()
	<-done
	logtest.MustClose(t, w)
	if got := logtest.ReadAll(t, l, "pending", 0, 1<<20, false); len(got) != 10000 {
		t.Errorf("read %d bytes", len(got))
	}
}

// The flusher ends at Close.
func TestCloseEndsGoroutine(t *testing.T) {
	l := New(newFS(t), Options{})
	w := logtest.Create(t, l, "g")
	l.mu.Lock()
	o := l.logs["g"].writer
	l.mu.Unlock()
	logtest.MustClose(t, w)
	select {
	case <-o.done:
	default:
		t.Error("flusher still running after Close")
	}
}

// An idle follower on another node polls with backoff, a local one not
// at all.
func TestPolling(t *testing.T) {
	bs := &store{Store: newFS(t)}
	o := Options{PollInterval: 10 * time.Millisecond, MaxPollInterval: 160 * time.Millisecond}
	a := New(bs, o)
	w := logtest.Create(t, a, "idle")
	defer w.Close()
	opens := bs.opens.Load()
	if _, err := a.Read(ctx, "idle", 0, 1<<20, time.Second, false); err != nil {
		t.Fatal(err)
	}
	if n := bs.opens.Load() - opens; n != 0 {
		t.Errorf("local follower: %d reads of the store", n)
	}
	b := New(bs, o)
	b.Read(ctx, "idle", 0, 1<<20, 0, false)
	opens, lists := bs.opens.Load(), bs.lists.Load()
	if _, err := b.Read(ctx, "idle", 0, 1<<20, time.Second, false); err != nil {
		t.Fatal(err)
	}
	// 10+20+40+80+160+160+160+160+... ms: about 10 polls of 2 reads.
	if n := bs.opens.Load() - opens; n < 6 || n > 30 || bs.lists.Load() != lists {
		t.Errorf("follower on another node: %d reads and %d lists of the store in a second", n, bs.lists.Load()-lists)
	}
}

// Corrupt objects are errors, not panics.
func TestCorrupt(t *testing.T) {
	bs := newFS(t)
	l := New(bs, Options{})
	w := logtest.Create(t, l, "c")
	logtest.MustWrite(t, w, "hello\n")
	logtest.MustClose(t, w)
	keys, _ := bs.List(ctx, DefaultBucket, "c")
	blobtest.MustPut(t, bs, DefaultBucket, keys[1], []byte("garbage"))
	if _, err := New(bs, Options{}).Read(ctx, "c", 0, 1<<20, 0, false); err == nil || errors.Is(err, buildlog.ErrNoLog) {
		t.Errorf("Read of a corrupt chunk: %v", err)
	}
	blobtest.MustPut(t, bs, DefaultBucket, "c/complete", encodeMarker(marker{chunks: 5, size: 6}))
	blobtest.MustPut(t, bs, DefaultBucket, keys[1], blobtest.Read(t, bs, DefaultBucket, keys[0])) // empty, not 6 bytes
	if _, err := New(bs, Options{}).Read(ctx, "c", 0, 1<<20, 0, false); err == nil {
		t.Errorf("Read of an inconsistent log: no error")
	}
}
