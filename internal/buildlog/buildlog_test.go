package buildlog

import (
	"context"
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
