package cwlogs

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/buildbatch/buildbatch/internal/buildlog"
)

// onlyLogs is a buildlog.Logs without ReadIndexed: read with stamps.
type onlyLogs struct{ buildlog.Logs }

// writeTestLog writes a log of random lines (empty ones, lines of any
// bytes, lines longer than a read), in writes of random sizes, some a
// few milliseconds apart; the log stays open when open, its last line
// unfinished.
func writeTestLog(t testing.TB, logs buildlog.Logs, name string, seed uint64, size int, open bool) {
	r := rand.New(rand.NewPCG(seed, 7))
	var text []byte
	long := false
	for len(text) < size {
		switch n := r.IntN(100); {
		case n < 5:
			text = append(text, '\n')
		case !long && len(text) > size/3:
			// Longer than two reads: three pieces.
			text = append(text, bytes.Repeat([]byte("long "), 2*readSize/5+r.IntN(readSize/5))...)
			text = append(text, '\n')
			long = true
		default:
			line := randomBytes(r, r.IntN(300))
			line = bytes.ReplaceAll(line, []byte("\n"), []byte(" "))
			text = append(append(text, line...), '\n')
		}
	}
	w, err := logs.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	for len(text) > 0 {
		n := min(len(text), 1+r.IntN(64<<10))
		if _, err := w.Write(text[:n]); err != nil {
			t.Fatal(err)
		}
		text = text[n:]
		if r.IntN(10) == 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	if open {
		w.Write([]byte("an unfinished line"))
		t.Cleanup(func() { w.Close() })
		return
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestEventsAsBefore checks that GetLogEvents answers as it did when it
// read logs with stamps, from the head for every page: events, tokens,
// forward and backward, with limits, times and tokens anywhere.
func TestEventsAsBefore(t *testing.T) {
	store, err := buildlog.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	writeTestLog(t, store, "closed", 1, 3<<20, false)
	writeTestLog(t, store, "open", 2, 300<<10, true)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		logs buildlog.Logs
		log  string
	}{
		{"closed", store, "closed"},
		{"open", store, "open"},
		{"stamps", onlyLogs{store}, "closed"},
		{"missing", store, "missing"},
		{"short-reach", store, "closed"}, // backward pages read from further back, step by step
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "short-reach" {
				defer func(r int64) { backReach = r }(backReach)
				backReach = 3000
			}
			a := New(Options{Logs: tc.logs})
			old := New(Options{Logs: store})
			s := &stream{name: "prefix/" + tc.log, uuid: tc.log}
			size := int64(0)
			if c, err := store.Read(ctx, tc.log, -1, 1, 0, false); err == nil {
				size = c.NextOffset
			}
			r := rand.New(rand.NewPCG(uint64(len(tc.name)), 8))
			compare := func(in *GetLogEventsInput, limit int, forward bool, pos int64, fromToken bool) *GetLogEventsOutput {
				t.Helper()
				want, err := oldEvents(old, ctx, s, in, limit, forward, pos, fromToken)
				if err != nil {
					t.Fatal(err)
				}
				got, err := a.events(ctx, s, in, limit, forward, pos, fromToken)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("limit %d forward %v pos %d startTime %v endTime %v: %d events %s %s, before: %d events %s %s",
						limit, forward, pos, str(in.StartTime), str(in.EndTime), len(got.Events), got.NextForwardToken, got.NextBackwardToken,
						len(want.Events), want.NextForwardToken, want.NextBackwardToken)
				}
				return got
			}
			// Walks from the head, and from the end, token to token.
			var times []int64
			for _, limit := range []int{10000, 777} {
				in := &GetLogEventsInput{}
				pos, fromToken, pages := int64(-1), false, 0
				for ; pages < 100; pages++ {
					out := compare(in, limit, true, pos, fromToken)
					for _, e := range out.Events {
						times = append(times, e.Timestamp)
					}
					if fromToken && out.NextForwardToken == *in.NextToken {
						break
					}
					in.NextToken = &out.NextForwardToken
					_, _, pos, _ = parsePosition(out.NextForwardToken)
					fromToken = true
				}
				if pages == 100 {
					t.Fatal("forward walk does not end")
				}
			}
			if tc.log != "missing" && len(times) == 0 {
				t.Fatal("no events")
			}
			for _, limit := range []int{10000, 3000} {
				in := &GetLogEventsInput{}
				pos, fromToken := int64(-1), false
				for pages := 0; pages < 4; pages++ {
					out := compare(in, limit, false, pos, fromToken)
					if fromToken && out.NextBackwardToken == *in.NextToken {
						break
					}
					in.NextToken = &out.NextBackwardToken
					_, _, pos, _ = parsePosition(out.NextBackwardToken)
					fromToken = true
				}
			}
			// Anywhere, with times.
			for range 25 {
				in := &GetLogEventsInput{}
				if len(times) > 0 && r.IntN(2) == 0 {
					v := times[r.IntN(len(times))] + int64(r.IntN(3)) - 1
					in.StartTime = &v
				}
				if len(times) > 0 && r.IntN(2) == 0 {
					v := times[r.IntN(len(times))] + int64(r.IntN(3)) - 1
					in.EndTime = &v
				}
				limit := []int{1, 2, 50, 10000}[r.IntN(4)]
				pos := []int64{-1, 0, size, size + 5, r.Int64N(size + 1)}[r.IntN(5)]
				forward := r.IntN(2) == 0
				fromToken := pos >= 0 && r.IntN(3) > 0
				if fromToken {
					tok := position("bf"[b2i(forward)], s.name, pos)
					in.NextToken = &tok
				}
				compare(in, limit, forward, pos, fromToken)
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func str(p *int64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

// TestReadAsBefore: the lines FilterLogEvents merges, read from anywhere.
func TestReadAsBefore(t *testing.T) {
	store, err := buildlog.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	writeTestLog(t, store, "log", 4, 2<<20, true)
	a := New(Options{Logs: store})
	r := rand.New(rand.NewPCG(10, 10))
	for i := range 100 {
		off, size := r.Int64N(3<<20)-1, []int{mergeReadSize, readSize, 1 + r.IntN(1000)}[r.IntN(3)]
		if i == 0 {
			off = 0
		}
		got, err := a.read(context.Background(), "log", off, size)
		if err != nil {
			t.Fatal(err)
		}
		want, err := oldRead(a, context.Background(), "log", off, size)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("read(%d, %d): %d lines, before: %d", off, size, len(got), len(want))
		}
	}
	if lines, err := a.read(context.Background(), "missing", 0, 100); err != nil || lines != nil {
		t.Errorf("read of a missing log: %v, %v", lines, err)
	}
}

func TestLineStart(t *testing.T) {
	store, err := buildlog.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	writeTestLog(t, store, "log", 3, 2<<20, false)
	text := string(logtestReadAll(t, store, "log"))
	a := New(Options{Logs: store})
	r := rand.New(rand.NewPCG(9, 9))
	for range 200 {
		off := r.Int64N(int64(len(text)) + 100)
		if r.IntN(4) == 0 { // just after a newline, or on one
			off = int64(strings.IndexByte(text[min(off, int64(len(text))):], '\n')) + min(off, int64(len(text))) + int64(r.IntN(2))
		}
		want := int64(strings.LastIndexByte(text[:min(off, int64(len(text)))], '\n') + 1)
		if got, err := a.lineStart(context.Background(), "log", off); err != nil || got != want {
			t.Fatalf("lineStart(%d) = %d, %v; want %d", off, got, err, want)
		}
	}
	for _, off := range []int64{-1, 0} {
		if got, err := a.lineStart(context.Background(), "log", off); err != nil || got != 0 {
			t.Errorf("lineStart(%d) = %d, %v", off, got, err)
		}
	}
	if got, err := a.lineStart(context.Background(), "missing", 10); err != nil || got != 0 {
		t.Errorf("lineStart of a missing log = %d, %v", got, err)
	}
}

func logtestReadAll(t *testing.T, l buildlog.Logs, name string) []byte {
	var out []byte
	for off := int64(0); ; {
		c, err := l.Read(context.Background(), name, off, 1<<20, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c.Data...)
		off = c.NextOffset
		if c.Complete {
			return out
		}
	}
}

// TestReadLines: lines and their times from an index, pieces of a long
// line, a line without a record.
func TestReadLines(t *testing.T) {
	base := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	r := &lines{text: "ab\n\ncd\nef", start: 100, rec: -1, x: buildlog.Index{
		{Offset: 104, UnixNano: base.UnixNano() + 1_999_999}, // within the line "cd\n"
		{Offset: 105, UnixNano: base.UnixNano() + 5e6},
		{Offset: 107, UnixNano: base.UnixNano() + 9e6},
	}}
	var got []line
	for l, ok := r.next(); ok; l, ok = r.next() {
		got = append(got, l)
	}
	ms := base.UnixMilli()
	want := []line{{"ab\n", noTime, 100, 103}, {"\n", noTime, 103, 104}, {"cd\n", ms + 1, 104, 107}, {"ef", ms + 9, 107, 109}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lines %+v\nwant %+v", got, want)
	}
	if noTime != (time.Time{}).UnixMilli() || !strings.HasPrefix(time.UnixMilli(noTime).UTC().Format(buildlog.StampFormat), "0001-01-01") {
		t.Errorf("noTime = %d", noTime)
	}
}

// randomBytes returns n bytes, mostly printable, some of anything.
func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		switch r.IntN(10) {
		case 0:
			b[i] = byte(r.IntN(256))
		case 1:
			b[i] = "<>&\"\\\t\r\x00\x7f"[r.IntN(9)]
		default:
			b[i] = byte(' ' + r.IntN(95))
		}
	}
	return b
}
