// Package logtest is the conformance suite of buildlog.Logs: every
// implementation runs Run on itself, so that the runner and the API can
// use any of them alike.
//
// What it checks:
//
//   - Round trip: what many writes (of any bytes, lines longer than a
//     read) put in comes back byte for byte, read in pages of any size;
//     every page is whole lines (or a piece of a line longer than max),
//     NextOffset says where the next page starts, and Complete comes with
//     the last page of a closed log only. An offset < 0 or past the end
//     reads at the end.
//   - Printf lines ("[Container] 2006/01/02 15:04:05.000000 text"), on a
//     line of their own; Close ends an unterminated last line.
//   - Stamps: "2006-01-02T15:04:05.000000Z " before every line, the time
//     its first byte was written (all the lines of one write share it),
//     the same whichever Logs (node) reads it and however it is paged.
//   - Indexed reads (buildlog.ReadIndexed, with the Logs' own
//     ReadIndexed and with the fallback that parses stamps): the same
//     Chunk as Read, with an Index that stamps it as Read does.
//   - Followers (Read with wait) are woken by new output and by Close, and
//     a follower of a closed log returns at once.
//   - Another Logs over the same storage (another node) reads what one
//     writes while it is written, follows it, and sees it complete.
//   - ErrNoLog for a log never created; Delete (of a missing log too).
//   - Create of an existing log appends to it.
//   - Writers of different logs, and of one, at once.
//   - A follower returns with ctx's error when ctx ends.
//   - A closed Writer refuses writes; closing twice is no error.
package logtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/buildbatch/buildbatch/internal/buildlog"
)

// Open returns a Logs over fresh, empty storage, and a function that
// opens another Logs over the same storage, as another node sharing it
// would. Run calls it once for each subtest, from parallel subtests.
type Open func(t *testing.T) (logs buildlog.Logs, another func() buildlog.Logs)

// Run runs the suite.
func Run(t *testing.T, open Open) {
	for _, tc := range []struct {
		name string
		f    func(*testing.T, Open)
	}{
		{"RoundTrip", testRoundTrip},
		{"Offsets", testOffsets},
		{"PartialLines", testPartialLines},
		{"Printf", testPrintf},
		{"Stamps", testStamps},
		{"Indexed", testIndexed},
		{"Follow", testFollow},
		{"OtherNode", testOtherNode},
		{"Missing", testMissing},
		{"Delete", testDelete},
		{"Append", testAppend},
		{"Concurrent", testConcurrent},
		{"Canceled", testCanceled},
		{"Closed", testClosed},
	} {
		t.Run(tc.name, func(t *testing.T) { t.Parallel(); tc.f(t, open) })
	}
}

var ctx = context.Background()

// soon bounds how long output may take to be readable (an implementation
// may store it a little after it was written).
const soon = 10 * time.Second

// Create creates a log, failing the test on error.
func Create(t testing.TB, l buildlog.Logs, name string) *buildlog.Writer {
	t.Helper()
	w, err := l.Create(name)
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	return w
}

// MustWrite writes p, failing the test on error.
func MustWrite(t testing.TB, w *buildlog.Writer, p string) {
	t.Helper()
	if n, err := w.Write([]byte(p)); n != len(p) || err != nil {
		t.Fatalf("Write(%.40q) = %d, %v", p, n, err)
	}
}

// MustClose closes w, failing the test on error.
func MustClose(t testing.TB, w *buildlog.Writer) {
	t.Helper()
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// ReadAll reads a log from offset in pages of max until it is complete,
// following it, failing the test if it is not complete within soon.
func ReadAll(t testing.TB, l buildlog.Logs, name string, offset int64, max int, stamps bool) []byte {
	t.Helper()
	var out []byte
	deadline := time.Now().Add(soon)
	for {
		c, err := l.Read(ctx, name, offset, max, time.Second, stamps)
		if err != nil {
			t.Fatalf("Read(%q, %d, %d): %v", name, offset, max, err)
		}
		checkPage(t, c, offset, max, stamps)
		out = append(out, c.Data...)
		offset = c.NextOffset
		if c.Complete {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("log %q not complete after %v: %d bytes read", name, soon, len(out))
		}
	}
}

// ReadUntil follows a log from offset until what it read (unstamped)
// has suffix, and returns that.
func ReadUntil(t testing.TB, l buildlog.Logs, name string, offset int64, suffix string) (data []byte, next int64) {
	t.Helper()
	deadline := time.Now().Add(soon)
	for !bytes.HasSuffix(data, []byte(suffix)) {
		if time.Now().After(deadline) {
			t.Fatalf("log %q: read %q, not ending with %q after %v", name, data, suffix, soon)
		}
		c, err := l.Read(ctx, name, offset, 1<<20, time.Second, false)
		if err != nil {
			t.Fatalf("Read(%q, %d): %v", name, offset, err)
		}
		data = append(data, c.Data...)
		offset = c.NextOffset
	}
	return data, offset
}

// checkPage checks what any page of a log promises.
func checkPage(t testing.TB, c buildlog.Chunk, offset int64, max int, stamps bool) {
	t.Helper()
	if c.NextOffset < offset && offset >= 0 {
		t.Fatalf("Read from %d: NextOffset %d", offset, c.NextOffset)
	}
	if !stamps {
		if offset >= 0 && c.NextOffset-offset != int64(len(c.Data)) {
			t.Fatalf("Read from %d: %d bytes, NextOffset %d", offset, len(c.Data), c.NextOffset)
		}
		if len(c.Data) > max {
			t.Fatalf("Read of at most %d bytes: %d", max, len(c.Data))
		}
		if len(c.Data) > 0 && len(c.Data) < max && c.Data[len(c.Data)-1] != '\n' {
			t.Fatalf("Read from %d returned part of a line: %.80q", offset, c.Data)
		}
	}
}

// text returns n bytes of lines of random lengths (some longer than
// 64 KiB), of random bytes but newlines.
func text(r *rand.Rand, n int) []byte {
	b := make([]byte, 0, n)
	for len(b) < n {
		l := r.IntN(200)
		if r.IntN(50) == 0 {
			l = 64<<10 + r.IntN(64<<10)
		}
		for i := 0; i < l && len(b) < n-1; i++ {
			c := byte(r.IntN(255))
			if c == '\n' {
				c = 0xff
			}
			b = append(b, c)
		}
		b = append(b, '\n')
	}
	return b[:n]
}

func testRoundTrip(t *testing.T, open Open) {
	l, another := open(t)
	r := rand.New(rand.NewPCG(1, 2))
	want := text(r, 3<<20+12345)
	w := Create(t, l, "round-trip")
	for rest := want; len(rest) > 0; {
		n := min(len(rest), 1+r.IntN(8<<10))
		if r.IntN(100) == 0 {
			n = min(len(rest), 300<<10) // a write larger than a chunk
		}
		MustWrite(t, w, string(rest[:n]))
		rest = rest[n:]
	}
	// want ends with a newline: Close adds none.
	MustClose(t, w)
	for _, max := range []int{1 << 20, 100, 4096, 70000, 1<<20 + 7} {
		if got := ReadAll(t, l, "round-trip", 0, max, false); !bytes.Equal(got, want) {
			t.Fatalf("read in pages of %d: %d bytes, want %d (first difference at %d)", max, len(got), len(want), diff(got, want))
		}
	}
	// From any offset, up to max, whole lines.
	for range 20 {
		off := r.Int64N(int64(len(want)))
		max := 1 + r.IntN(200<<10)
		c, err := l.Read(ctx, "round-trip", off, max, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		checkPage(t, c, off, max, false)
		if !bytes.Equal(c.Data, want[off:off+int64(len(c.Data))]) {
			t.Fatalf("Read(%d, %d): wrong bytes", off, max)
		}
		if len(c.Data) < max && off+int64(len(c.Data)) < int64(len(want)) {
			// It ends at the last newline within max.
			if i := bytes.IndexByte(want[off+int64(len(c.Data)):min(int64(len(want)), off+int64(max))], '\n'); i >= 0 {
				t.Fatalf("Read(%d, %d) = %d bytes: stopped before a whole line", off, max, len(c.Data))
			}
		}
		if c.Complete != (c.NextOffset == int64(len(want))) {
			t.Fatalf("Read(%d, %d): NextOffset %d of %d, complete %v", off, max, c.NextOffset, len(want), c.Complete)
		}
	}
	// Another node reads the same.
	if got := ReadAll(t, another(), "round-trip", 0, 1<<20, false); !bytes.Equal(got, want) {
		t.Fatalf("another Logs read %d bytes, want %d (first difference at %d)", len(got), len(want), diff(got, want))
	}
}

func diff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func testOffsets(t *testing.T, open Open) {
	l, _ := open(t)
	w := Create(t, l, "offsets")
	long := strings.Repeat("x", 250) + "\n"
	MustWrite(t, w, "one\n"+long+"two\n")
	ReadUntil(t, l, "offsets", 0, "two\n")
	size := int64(4 + len(long) + 4)
	// Not complete yet, from anywhere.
	for _, off := range []int64{0, 4, size, size + 100, -1} {
		c, err := l.Read(ctx, "offsets", off, 1<<20, 0, false)
		if err != nil || c.Complete {
			t.Errorf("Read(%d) of an open log: complete %v, %v", off, c.Complete, err)
		}
	}
	// A line longer than max comes in pieces of max.
	var pieces []string
	for off := int64(4); off < size; {
		c, err := l.Read(ctx, "offsets", off, 100, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		pieces = append(pieces, string(c.Data))
		off = c.NextOffset
	}
	if want := []string{long[:100], long[100:200], long[200:] + "two\n"}; !slices.Equal(pieces, want) {
		t.Errorf("pieces of a long line: %q, want %q", pieces, want)
	}
	MustClose(t, w)
	ReadAll(t, l, "offsets", 0, 1<<20, false)
	// Past the end and < 0 mean the end.
	for _, off := range []int64{size, size + 100, -1} {
		c, err := l.Read(ctx, "offsets", off, 1<<20, 0, false)
		if err != nil || len(c.Data) != 0 || c.NextOffset != size || !c.Complete {
			t.Errorf("Read(%d) of a closed log of %d bytes = %q next %d complete %v, %v; want nothing, %d, complete", off, size, c.Data, c.NextOffset, c.Complete, err, size)
		}
	}
	// A follower at the end of a closed log returns at once.
	start := time.Now()
	if c, err := l.Read(ctx, "offsets", size, 1<<20, soon, false); err != nil || !c.Complete {
		t.Errorf("following a closed log: complete %v, %v", c.Complete, err)
	}
	if d := time.Since(start); d > soon/2 {
		t.Errorf("following a closed log took %v", d)
	}
}

func testPartialLines(t *testing.T, open Open) {
	l, _ := open(t)
	w := Create(t, l, "partial")
	// Nothing yet: empty, not complete.
	c, err := l.Read(ctx, "partial", 0, 1<<20, 0, false)
	if err != nil || len(c.Data) != 0 || c.NextOffset != 0 || c.Complete {
		t.Fatalf("Read of a new log = %q next %d complete %v, %v", c.Data, c.NextOffset, c.Complete, err)
	}
	MustWrite(t, w, "one\ntw")
	MustWrite(t, w, "o\nthr")
	got, next := ReadUntil(t, l, "partial", 0, "two\n")
	if string(got) != "one\ntwo\n" {
		t.Fatalf("read %q, want %q", got, "one\ntwo\n")
	}
	// "thr" is not a line yet.
	c, err = l.Read(ctx, "partial", next, 1<<20, 300*time.Millisecond, false)
	if err != nil || len(c.Data) != 0 || c.NextOffset != next || c.Complete {
		t.Fatalf("Read of a partial line = %q next %d complete %v, %v", c.Data, c.NextOffset, c.Complete, err)
	}
	MustWrite(t, w, "ee")
	MustClose(t, w) // ends the line
	if got := ReadAll(t, l, "partial", next, 1<<20, false); string(got) != "three\n" {
		t.Fatalf("after Close: %q, want %q", got, "three\n")
	}
}

var printfLine = `\[Container\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6} `

func testPrintf(t *testing.T, open Open) {
	l, _ := open(t)
	w := Create(t, l, "printf")
	before := time.Now().UTC().Truncate(time.Microsecond)
	w.Printf("Entering phase %s", "BUILD")
	MustWrite(t, w, "output without newline")
	w.Printf("Phase complete: %s State: %s", "BUILD", "SUCCEEDED")
	MustWrite(t, w, "unterminated")
	MustClose(t, w)
	after := time.Now().UTC()
	got := string(ReadAll(t, l, "printf", 0, 1<<20, false))
	re := regexp.MustCompile(`^` + printfLine + `Entering phase BUILD\noutput without newline\n` + printfLine + `Phase complete: BUILD State: SUCCEEDED\nunterminated\n$`)
	if !re.MatchString(got) {
		t.Fatalf("log %q does not match %s", got, re)
	}
	ts, err := time.Parse("2006/01/02 15:04:05.000000", got[len("[Container] "):len("[Container] 2006/01/02 15:04:05.000000")])
	if err != nil || ts.Before(before) || ts.After(after) {
		t.Errorf("Printf time %v (%v), want within [%v, %v]", ts, err, before, after)
	}
}

var stampRE = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (.*\n)$`)

// stamped splits a stamped text into times and lines.
func stamped(t testing.TB, b []byte) (times []time.Time, lines []string) {
	t.Helper()
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		m := stampRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("stamped line %q does not match %s", line, stampRE)
		}
		ts, err := time.Parse(buildlog.StampFormat, m[1])
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, ts)
		lines = append(lines, m[2])
	}
	return times, lines
}

func testStamps(t *testing.T, open Open) {
	l, another := open(t)
	w := Create(t, l, "stamps")
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	MustWrite(t, w, "a\nb\n")
	time.Sleep(3 * time.Millisecond)
	t1 := time.Now().UTC().Truncate(time.Microsecond)
	MustWrite(t, w, "c\nd")
	time.Sleep(3 * time.Millisecond)
	MustWrite(t, w, "\n")
	time.Sleep(3 * time.Millisecond)
	MustWrite(t, w, "e") // the newline Close adds is not a line's start
	time.Sleep(3 * time.Millisecond)
	MustClose(t, w)
	t2 := time.Now().UTC()
	all := ReadAll(t, l, "stamps", 0, 1<<20, true)
	times, lines := stamped(t, all)
	if want := []string{"a\n", "b\n", "c\n", "d\n", "e\n"}; !slices.Equal(lines, want) {
		t.Fatalf("lines %q, want %q", lines, want)
	}
	if !times[0].Equal(times[1]) || !times[2].Equal(times[3]) || !times[1].Before(times[2]) || !times[3].Before(times[4]) {
		t.Errorf("stamps %v: want a = b < c = d < e", times)
	}
	if times[0].Before(t0) || times[2].Before(t1) || times[4].After(t2) {
		t.Errorf("stamps %v outside the times of the writes (%v, %v, %v)", times, t0, t1, t2)
	}
	// From an offset, in pages, from another node: the same stamps.
	if got := ReadAll(t, l, "stamps", 4, 1<<20, true); !bytes.Equal(got, all[bytes.Index(all, []byte(" c\n"))-len(buildlog.StampFormat):]) {
		t.Errorf("stamped from offset 4: %q", got)
	}
	if got := ReadAll(t, l, "stamps", 0, 3, true); !bytes.Equal(got, all) {
		t.Errorf("stamped in pages of 3: %q, want %q", got, all)
	}
	if got := ReadAll(t, another(), "stamps", 0, 1<<20, true); !bytes.Equal(got, all) {
		t.Errorf("stamped by another Logs: %q, want %q", got, all)
	}
	// From the start of a line written with another ("c\nd").
	c, err := l.Read(ctx, "stamps", 6, 1<<20, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if ts, lines := stamped(t, c.Data); !slices.Equal(lines, []string{"d\n", "e\n"}) || !ts[0].Equal(times[3]) || !ts[1].Equal(times[4]) {
		t.Errorf("stamped from offset 6: %q", c.Data)
	}
}

// hidden is a Logs without its ReadIndexed, if it has one: read through
// buildlog.ReadIndexed's fallback.
type hidden struct{ buildlog.Logs }

func testIndexed(t *testing.T, open Open) {
	l, another := open(t)
	r := rand.New(rand.NewPCG(3, 4))
	want := text(r, 400<<10)
	w := Create(t, l, "indexed")
	check := func(complete bool) {
		t.Helper()
		other := another()
		readers := []buildlog.Logs{l, hidden{l}, other}
		for i := range 30 {
			off, max := r.Int64N(int64(len(want))+10), 1+r.IntN(100<<10)
			switch i {
			case 0:
				off, max = 0, 1<<20
			case 1:
				off = -1
			}
			plain, err := l.Read(ctx, "indexed", off, max, 0, false)
			if err != nil {
				t.Fatal(err)
			}
			stamped, err := l.Read(ctx, "indexed", off, max, 0, true)
			if err != nil {
				t.Fatal(err)
			}
			for _, reader := range readers {
				c, x, err := buildlog.ReadIndexed(ctx, reader, "indexed", off, max)
				if err != nil {
					t.Fatalf("ReadIndexed(%d, %d) (%T): %v", off, max, reader, err)
				}
				if reader == other && !complete {
					continue // another node may see less of an open log
				}
				if !bytes.Equal(c.Data, plain.Data) || c.NextOffset != plain.NextOffset || c.Complete != plain.Complete {
					t.Fatalf("ReadIndexed(%d, %d) (%T): %d bytes next %d complete %v; Read: %d bytes next %d complete %v",
						off, max, reader, len(c.Data), c.NextOffset, c.Complete, len(plain.Data), plain.NextOffset, plain.Complete)
				}
				if got := buildlog.Stamp(nil, c.Data, c.NextOffset-int64(len(c.Data)), x); !bytes.Equal(got, stamped.Data) {
					t.Fatalf("ReadIndexed(%d, %d) (%T): stamped with its index %.200q, Read's stamps %.200q", off, max, reader, got, stamped.Data)
				}
			}
		}
	}
	for rest := want; len(rest) > 0; {
		n := min(len(rest), 1+r.IntN(16<<10))
		MustWrite(t, w, string(rest[:n]))
		rest = rest[n:]
		if r.IntN(8) == 0 {
			time.Sleep(time.Millisecond) // times that differ
		}
	}
	ReadUntil(t, l, "indexed", 0, string(want[bytes.LastIndexByte(want[:len(want)-1], '\n')+1:]))
	check(false)
	MustClose(t, w)
	ReadAll(t, l, "indexed", 0, 1<<20, false)
	ReadAll(t, another(), "indexed", 0, 1<<20, false)
	check(true)
	if _, _, err := buildlog.ReadIndexed(ctx, l, "no-such-log", 0, 100); !errors.Is(err, buildlog.ErrNoLog) {
		t.Errorf("ReadIndexed of a missing log: %v, want ErrNoLog", err)
	}
	if _, _, err := buildlog.ReadIndexed(ctx, hidden{l}, "no-such-log", 0, 100); !errors.Is(err, buildlog.ErrNoLog) {
		t.Errorf("ReadIndexed (fallback) of a missing log: %v, want ErrNoLog", err)
	}
}

// follow starts a follower of a log from offset, reading once with wait.
func follow(l buildlog.Logs, name string, offset int64, wait time.Duration) <-chan result {
	ch := make(chan result, 1)
	go func() {
		start := time.Now()
		c, err := l.Read(ctx, name, offset, 1<<20, wait, false)
		ch <- result{c, err, time.Since(start)}
	}()
	return ch
}

type result struct {
	c   buildlog.Chunk
	err error
	d   time.Duration
}

func testFollow(t *testing.T, open Open) {
	l, _ := open(t)
	w := Create(t, l, "follow")
	MustWrite(t, w, "first\n")
	_, next := ReadUntil(t, l, "follow", 0, "first\n")
	// Woken by new output, long before its wait ends.
	f := follow(l, "follow", next, 3*soon)
	time.Sleep(100 * time.Millisecond)
	MustWrite(t, w, "second\n")
	r := <-f
	if r.err != nil || string(r.c.Data) != "second\n" || r.c.Complete || r.d > soon {
		t.Fatalf("follower got %q complete %v after %v, %v; want %q soon", r.c.Data, r.c.Complete, r.d, r.err, "second\n")
	}
	// Woken by Close.
	f = follow(l, "follow", r.c.NextOffset, 3*soon)
	time.Sleep(100 * time.Millisecond)
	MustClose(t, w)
	r = <-f
	if r.err != nil || len(r.c.Data) != 0 || !r.c.Complete || r.c.NextOffset != int64(len("first\nsecond\n")) || r.d > soon {
		t.Fatalf("follower at Close got %q next %d complete %v after %v, %v", r.c.Data, r.c.NextOffset, r.c.Complete, r.d, r.err)
	}
	// Woken by Close ending a partial line.
	w = Create(t, l, "follow2")
	MustWrite(t, w, "partial")
	f = follow(l, "follow2", 0, 3*soon)
	time.Sleep(100 * time.Millisecond)
	MustClose(t, w)
	r = <-f
	if r.err == nil && string(r.c.Data) == "partial\n" && !r.c.Complete {
		// Woken by the line before the log was complete.
		if r = <-follow(l, "follow2", r.c.NextOffset, 3*soon); len(r.c.Data) == 0 {
			r.c.Data = []byte("partial\n")
		}
	}
	if r.err != nil || string(r.c.Data) != "partial\n" || !r.c.Complete || r.d > soon {
		t.Fatalf("follower of a partial line at Close got %q complete %v after %v, %v", r.c.Data, r.c.Complete, r.d, r.err)
	}
}

func testOtherNode(t *testing.T, open Open) {
	a, another := open(t)
	b := another()
	w := Create(t, a, "shared")
	// Created is there, empty, not complete.
	c, err := b.Read(ctx, "shared", 0, 1<<20, 0, false)
	if err != nil || len(c.Data) != 0 || c.Complete {
		t.Fatalf("another node reads a new log: %q complete %v, %v", c.Data, c.Complete, err)
	}
	MustWrite(t, w, "one\n")
	got, next := ReadUntil(t, b, "shared", 0, "one\n")
	if string(got) != "one\n" {
		t.Fatalf("another node read %q", got)
	}
	// Followed from the other node.
	f := follow(b, "shared", next, 3*soon)
	time.Sleep(50 * time.Millisecond)
	MustWrite(t, w, "two\n")
	r := <-f
	if r.err != nil || string(r.c.Data) != "two\n" || r.c.Complete || r.d > soon {
		t.Fatalf("follower on another node got %q complete %v after %v, %v", r.c.Data, r.c.Complete, r.d, r.err)
	}
	for i := range 100 {
		MustWrite(t, w, fmt.Sprintf("line %d\n", i))
	}
	// The end seen from the other node.
	f = follow(b, "shared", r.c.NextOffset, 3*soon)
	MustClose(t, w)
	r = <-f
	if r.err != nil || r.d > soon {
		t.Fatalf("follower on another node: after %v, %v", r.d, r.err)
	}
	rest := append(r.c.Data, ReadAll(t, b, "shared", r.c.NextOffset, 1<<20, false)...)
	if !strings.HasPrefix(string(rest), "line 0\n") || !strings.HasSuffix(string(rest), "line 99\n") {
		t.Errorf("another node read %q", rest)
	}
	// A third node, that has seen nothing, reads it all, complete.
	all := ReadAll(t, another(), "shared", 0, 1<<20, true)
	if !bytes.Equal(all, ReadAll(t, a, "shared", 0, 1<<20, true)) {
		t.Errorf("nodes disagree")
	}
}

func testMissing(t *testing.T, open Open) {
	l, another := open(t)
	for _, wait := range []time.Duration{0, 200 * time.Millisecond} {
		if _, err := l.Read(ctx, "missing", 0, 10, wait, false); !errors.Is(err, buildlog.ErrNoLog) {
			t.Errorf("Read of a missing log (wait %v): %v, want ErrNoLog", wait, err)
		}
	}
	MustClose(t, Create(t, l, "other"))
	if _, err := another().Read(ctx, "missing", 0, 10, 0, false); !errors.Is(err, buildlog.ErrNoLog) {
		t.Errorf("Read of a missing log from another Logs: %v, want ErrNoLog", err)
	}
}

func testDelete(t *testing.T, open Open) {
	l, another := open(t)
	for _, name := range []string{"gone", "kept"} {
		w := Create(t, l, name)
		MustWrite(t, w, name+"\n")
		MustClose(t, w)
		ReadAll(t, l, name, 0, 1<<20, false)
	}
	if err := l.Delete("gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Read(ctx, "gone", 0, 10, 0, false); !errors.Is(err, buildlog.ErrNoLog) {
		t.Errorf("Read after Delete: %v, want ErrNoLog", err)
	}
	if _, err := another().Read(ctx, "gone", 0, 10, 0, false); !errors.Is(err, buildlog.ErrNoLog) {
		t.Errorf("Read after Delete from another Logs: %v, want ErrNoLog", err)
	}
	if got := ReadAll(t, l, "kept", 0, 1<<20, false); string(got) != "kept\n" {
		t.Errorf("the other log: %q", got)
	}
	if err := l.Delete("gone"); err != nil {
		t.Errorf("Delete of a deleted log: %v", err)
	}
	if err := l.Delete("never"); err != nil {
		t.Errorf("Delete of a missing log: %v", err)
	}
	// Deleted by another node.
	if err := another().Delete("kept"); err != nil {
		t.Fatal(err)
	}
	if _, err := another().Read(ctx, "kept", 0, 10, 0, false); !errors.Is(err, buildlog.ErrNoLog) {
		t.Errorf("Read after Delete by another Logs: %v, want ErrNoLog", err)
	}
}

func testAppend(t *testing.T, open Open) {
	l, another := open(t)
	w := Create(t, l, "again")
	MustWrite(t, w, "one\n")
	MustClose(t, w)
	ReadAll(t, l, "again", 0, 1<<20, false)
	w = Create(t, l, "again")
	MustWrite(t, w, "two\n")
	MustClose(t, w)
	if got := ReadAll(t, l, "again", 0, 1<<20, false); string(got) != "one\ntwo\n" {
		t.Errorf("created twice: %q", got)
	}
	if got := ReadAll(t, another(), "again", 0, 1<<20, false); string(got) != "one\ntwo\n" {
		t.Errorf("created twice, read by another Logs: %q", got)
	}
}

func testConcurrent(t *testing.T, open Open) {
	l, _ := open(t)
	const logs, lines = 8, 300
	writers := make([]*buildlog.Writer, logs)
	for i := range writers {
		writers[i] = Create(t, l, fmt.Sprintf("log%d", i))
	}
	var wg sync.WaitGroup
	for i, w := range writers {
		wg.Go(func() {
			for j := range lines {
				if j%10 == 0 {
					w.Printf("log %d line %d", i, j)
				} else {
					fmt.Fprintf(w, "log %d line %d\n", i, j)
				}
			}
			if err := w.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	// Several writers of one log: each write stays whole.
	shared := Create(t, l, "shared")
	for i := range 4 {
		wg.Go(func() {
			for j := range lines {
				fmt.Fprintf(shared, "writer %d line %d\n", i, j)
			}
		})
	}
	// And followers meanwhile.
	for i := range logs {
		wg.Go(func() {
			name := fmt.Sprintf("log%d", i)
			for off, deadline := int64(0), time.Now().Add(soon); ; {
				c, err := l.Read(ctx, name, off, 1000, time.Second, i%2 == 0)
				if err != nil || time.Now().After(deadline) {
					t.Errorf("following %s: %v", name, err)
					return
				}
				if off = c.NextOffset; c.Complete {
					return
				}
			}
		})
	}
	wg.Wait()
	MustClose(t, shared)
	for i := range logs {
		got := strings.Split(strings.TrimSuffix(string(ReadAll(t, l, fmt.Sprintf("log%d", i), 0, 1<<20, false)), "\n"), "\n")
		if len(got) != lines {
			t.Fatalf("log%d: %d lines, want %d", i, len(got), lines)
		}
		for j, line := range got {
			if want := fmt.Sprintf("log %d line %d", i, j); !strings.HasSuffix(line, want) {
				t.Fatalf("log%d line %d: %q, want %q", i, j, line, want)
			}
		}
	}
	got := strings.Split(strings.TrimSuffix(string(ReadAll(t, l, "shared", 0, 1<<20, false)), "\n"), "\n")
	var want []string
	for i := range 4 {
		for j := range lines {
			want = append(want, fmt.Sprintf("writer %d line %d", i, j))
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("shared log: %d lines, not those written", len(got))
	}
}

func testCanceled(t *testing.T, open Open) {
	l, another := open(t)
	w := Create(t, l, "canceled")
	defer w.Close()
	MustWrite(t, w, "line\n")
	_, next := ReadUntil(t, l, "canceled", 0, "line\n")
	for _, reader := range []buildlog.Logs{l, another()} {
		c, cancel := context.WithCancel(ctx)
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, err := reader.Read(c, "canceled", next, 1<<20, 3*soon, false)
		if !errors.Is(err, context.Canceled) || time.Since(start) > soon {
			t.Errorf("Read when its context is canceled: %v after %v", err, time.Since(start))
		}
	}
}

func testClosed(t *testing.T, open Open) {
	l, _ := open(t)
	w := Create(t, l, "closed")
	MustWrite(t, w, "x\n")
	MustClose(t, w)
	if _, err := w.Write([]byte("more\n")); err == nil {
		t.Error("Write after Close: no error")
	}
	w.Printf("ignored")
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if got := ReadAll(t, l, "closed", 0, 1<<20, false); string(got) != "x\n" {
		t.Errorf("log %q, want %q", got, "x\n")
	}
}
