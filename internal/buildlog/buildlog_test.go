package buildlog

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestWriteReadFollow(t *testing.T) {
	s, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 11, 27, 1, 2, 3, 0, time.UTC)
	s.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	w, err := s.Create("b1")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("one\ntw"))
	w.Write([]byte("o\nthree"))
	c, err := s.Read(context.Background(), "b1", 0, 1<<20, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(c.Data); got != "one\ntwo\n" || c.Complete {
		t.Errorf("Read = %q complete=%v, want two whole lines, not complete", got, c.Complete)
	}
	stamped, _ := s.Read(context.Background(), "b1", 0, 1<<20, 0, true)
	// Each line has the time its first byte arrived.
	want := "2026-11-27T01:02:04.000000Z one\n2026-11-27T01:02:04.000000Z two\n"
	if string(stamped.Data) != want {
		t.Errorf("stamped = %q, want %q", stamped.Data, want)
	}
	// A follower waits for more.
	var wg sync.WaitGroup
	wg.Add(1)
	var followed Chunk
	go func() {
		defer wg.Done()
		followed, _ = s.Read(context.Background(), "b1", c.NextOffset, 1<<20, 5*time.Second, true)
	}()
	time.Sleep(50 * time.Millisecond)
	w.Write([]byte("\n"))
	wg.Wait()
	if got := string(followed.Data); got != "2026-11-27T01:02:05.000000Z three\n" {
		t.Errorf("followed %q", got)
	}
	w.Printf("Phase complete: %s State: %s", "BUILD", "SUCCEEDED")
	w.Write([]byte("unterminated"))
	w.Close()
	c, _ = s.Read(context.Background(), "b1", 0, 1<<20, time.Second, false)
	text := string(c.Data)
	if !c.Complete || !strings.Contains(text, "three\n[Container] ") || !strings.HasSuffix(text, "Phase complete: BUILD State: SUCCEEDED\nunterminated\n") {
		t.Errorf("after close: %q complete=%v", text, c.Complete)
	}
	// Paging: a small max returns whole lines only.
	var paged strings.Builder
	off := int64(0)
	for i := 0; i < 50; i++ {
		c, _ = s.Read(context.Background(), "b1", off, 40, 0, false)
		paged.Write(c.Data)
		off = c.NextOffset
		if c.Complete {
			break
		}
	}
	if paged.String() != text {
		t.Errorf("paged read %q, want %q", paged.String(), text)
	}
	if _, err := s.Read(context.Background(), "nope", 0, 10, 0, false); err != ErrNoLog {
		t.Errorf("Read of a missing log = %v", err)
	}
	if err := s.Delete("b1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(context.Background(), "b1", 0, 10, 0, false); err != ErrNoLog {
		t.Errorf("Read after Delete = %v", err)
	}
}

// BenchmarkWrite measures appending 64 KiB chunks of 100-byte lines.
func BenchmarkWrite(b *testing.B) {
	s, _ := NewStore(b.TempDir())
	w, _ := s.Create("bench")
	defer w.Close()
	line := strings.Repeat("x", 99) + "\n"
	chunk := []byte(strings.Repeat(line, 655))
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		w.Write(chunk)
	}
}

// recorder is an Output that keeps what it is given.
type recorder struct {
	data   []byte
	times  []time.Time
	fail   error
	closed int
}

func (r *recorder) Append(p []byte, t time.Time) error {
	if r.fail != nil {
		return r.fail
	}
	r.data = append(r.data, p...)
	r.times = append(r.times, t)
	return nil
}

func (r *recorder) Close() error { r.closed++; return nil }

func TestWriter(t *testing.T) {
	clock := time.Date(2026, 11, 27, 1, 2, 3, 0, time.UTC)
	r := &recorder{}
	w := NewWriter(r, func() time.Time { clock = clock.Add(time.Millisecond); return clock })
	w.Printf("first %d", 1)
	w.Write([]byte("mid"))
	w.Write(nil)
	w.Printf("second")
	w.Write([]byte("end\n"))
	select {
	case <-w.Failed():
		t.Fatal("Failed closed before a failure")
	default:
	}
	r.fail = errors.New("disk full")
	// A failed append is dropped (commands must not block on their
	// output): the Writer says so through Failed and Err, and drops what
	// follows even once the output works again.
	if n, err := w.Write([]byte("x\n")); n != 2 || err != nil {
		t.Errorf("Write when the output fails = %d, %v", n, err)
	}
	<-w.Failed()
	if w.Err() != r.fail {
		t.Errorf("Err = %v", w.Err())
	}
	r.fail = nil
	w.Write([]byte("dropped\n"))
	if err := w.Close(); !errors.Is(err, w.Err()) {
		t.Errorf("Close = %v, want the failure", err)
	}
	want := "[Container] 2026/11/27 01:02:03.001000 first 1\nmid\n[Container] 2026/11/27 01:02:03.003000 second\nend\n"
	if string(r.data) != want {
		t.Errorf("wrote %q, want %q", r.data, want)
	}
	if len(r.times) != 4 || !r.times[0].Equal(time.Date(2026, 11, 27, 1, 2, 3, 1e6, time.UTC)) {
		t.Errorf("times %v", r.times)
	}
	if _, err := w.Write([]byte("late")); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	if err := w.Close(); err != nil || r.closed != 1 {
		t.Errorf("second Close: %v, output closed %d times", err, r.closed)
	}
}

func TestStampAndWholeLines(t *testing.T) {
	x := Index{{0, 1e9}, {4, 2e9}, {6, 3e9}}
	got := string(Stamp(nil, []byte("ab\ncd\nef"), 1, x))
	want := "1970-01-01T00:00:01.000000Z ab\n1970-01-01T00:00:02.000000Z cd\n1970-01-01T00:00:03.000000Z ef"
	if got != want {
		t.Errorf("Stamp = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"a\nb\nc", 10, "a\nb\n"}, {"abc", 10, ""}, {"abc", 3, "abc"}, {"ab\n", 3, "ab\n"}, {"", 5, ""},
	} {
		if got := string(WholeLines([]byte(tc.in), tc.max)); got != tc.want {
			t.Errorf("WholeLines(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestWriterLimit(t *testing.T) {
	clock := time.Date(2026, 11, 27, 1, 2, 3, 0, time.UTC)
	tests := []struct {
		name   string
		limit  int64
		writes []string
		want   string
	}{
		{"under", 10, []string{"abc\n", "def\n"}, "abc\ndef\n"},
		{"exactly", 8, []string{"abc\n", "def\n"}, "abc\ndef\n"},
		{"cut in a write", 6, []string{"abc\n", "def\n", "ghi\n"}, "abc\nde\n[Container] 2026/11/27 01:02:03.000000 Output dropped: the build's log reached its limit of 6 bytes (--max-log-bytes); the build goes on\n[Container] 2026/11/27 01:02:03.000000 own line\n"},
		{"at a line end", 4, []string{"abc\n", "def\n"}, "abc\n[Container] 2026/11/27 01:02:03.000000 Output dropped: the build's log reached its limit of 4 bytes (--max-log-bytes); the build goes on\n[Container] 2026/11/27 01:02:03.000000 own line\n"},
		{"no limit", 0, []string{"abc\n", "def\n"}, "abc\ndef\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{}
			w := NewWriter(r, func() time.Time { return clock })
			w.Limit(tt.limit)
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if w.Dropped() {
				w.Printf("own line") // buildbatch's own lines go on
				w.Write([]byte("more output\n"))
			}
			w.Close()
			if string(r.data) != tt.want {
				t.Errorf("wrote %q,\nwant %q", r.data, tt.want)
			}
		})
	}
}
