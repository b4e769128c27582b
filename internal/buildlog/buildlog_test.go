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
	w, err := s.Create("b1")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("one\ntw"))
	w.Write([]byte("o\nthree"))
	c, err := s.Read(context.Background(), "b1", 0, 1<<20, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(StripTimestamps(c.Data)); got != "one\ntwo\n" || c.Complete {
		t.Errorf("Read = %q complete=%v, want two whole lines, not complete", got, c.Complete)
	}
	for _, line := range strings.SplitAfter(string(c.Data), "\n")[:2] {
		if _, err := time.Parse(stampFormat, line[:stampLen-1]); err != nil {
			t.Errorf("line %q has no timestamp: %v", line, err)
		}
	}
	// A follower waits for more.
	var wg sync.WaitGroup
	wg.Add(1)
	var followed Chunk
	go func() {
		defer wg.Done()
		followed, _ = s.Read(context.Background(), "b1", c.NextOffset, 1<<20, 5*time.Second)
	}()
	time.Sleep(50 * time.Millisecond)
	w.Write([]byte("\n"))
	wg.Wait()
	if got := string(StripTimestamps(followed.Data)); got != "three\n" {
		t.Errorf("followed %q, want three", got)
	}
	w.Printf("Phase complete: %s State: %s", "BUILD", "SUCCEEDED")
	w.Close()
	c, _ = s.Read(context.Background(), "b1", 0, 1<<20, time.Second)
	text := string(StripTimestamps(c.Data))
	if !c.Complete || !strings.HasSuffix(text, "three\n") && !strings.Contains(text, "[Container] ") {
		t.Errorf("after close: %q complete=%v", text, c.Complete)
	}
	if !strings.Contains(text, "Phase complete: BUILD State: SUCCEEDED\n") {
		t.Errorf("Printf line missing: %q", text)
	}
	// Paging: small max returns whole lines only.
	var paged strings.Builder
	off := int64(0)
	for i := 0; i < 20; i++ {
		c, _ = s.Read(context.Background(), "b1", off, 40, 0)
		paged.Write(c.Data)
		off = c.NextOffset
		if c.Complete {
			break
		}
	}
	if got := string(StripTimestamps([]byte(paged.String()))); got != text {
		t.Errorf("paged read %q, want %q", got, text)
	}
	if _, err := s.Read(context.Background(), "nope", 0, 10, 0); err != ErrNoLog {
		t.Errorf("Read of a missing log = %v", err)
	}
}
