package cwlogs

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/buildbatch/buildbatch/internal/buildlog"
)

// BenchmarkGetLogEvents reads a 32 MB log of 100-byte lines from the head,
// page after page, as the server answers GetLogEvents (its answer encoded
// with json.Marshal, as awsjson does): "before" with the implementation of
// oracle_test.go, "decoded" with a client's json.Unmarshal of each page
// too (as bench/ reads them); "last-page" reads the last page only (the
// default request), which before read the whole log.
func BenchmarkGetLogEvents(b *testing.B) {
	store, err := buildlog.NewStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	const size = 32 << 20
	w, err := store.Create("big")
	if err != nil {
		b.Fatal(err)
	}
	// In writes of 32 KiB, as exec copies a build's output.
	block := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ the quick brown fox jumps over it\n"), 1000)[:32<<10]
	for n := 0; n < size; n += len(block) {
		w.Write(block)
	}
	w.Close()
	ctx := context.Background()
	a := New(Options{Logs: store})
	s := &stream{name: "prefix/big", uuid: "big"}
	type events func(a *API, ctx context.Context, s *stream, in *GetLogEventsInput, limit int, forward bool, pos int64, fromToken bool) (*GetLogEventsOutput, error)
	run := func(b *testing.B, f events, decode bool) {
		var total int64
		for b.Loop() {
			in := &GetLogEventsInput{}
			pos, fromToken := int64(-1), false
			total = 0
			for {
				out, err := f(a, ctx, s, in, 10000, true, pos, fromToken)
				if err != nil {
					b.Fatal(err)
				}
				data, err := json.Marshal(out)
				if err != nil {
					b.Fatal(err)
				}
				if decode {
					var page struct {
						Events []struct {
							Message string `json:"message"`
						} `json:"events"`
					}
					if err := json.Unmarshal(data, &page); err != nil {
						b.Fatal(err)
					}
				}
				for _, e := range out.Events {
					total += int64(len(e.Message))
				}
				if fromToken && out.NextForwardToken == *in.NextToken {
					break
				}
				in.NextToken = &out.NextForwardToken
				_, _, pos, _ = parsePosition(out.NextForwardToken)
				fromToken = true
			}
		}
		if total == 0 {
			b.Fatal("nothing read")
		}
		b.SetBytes(total)
	}
	// The default request: the last page, backward from the end.
	last := func(b *testing.B, f events) {
		for b.Loop() {
			out, err := f(a, ctx, s, &GetLogEventsInput{}, 10000, false, -1, false)
			if err != nil || len(out.Events) == 0 {
				b.Fatal(out, err)
			}
			if _, err := json.Marshal(out); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("last-page/now", func(b *testing.B) { last(b, (*API).events) })
	b.Run("last-page/before", func(b *testing.B) { last(b, oldEvents) })
	b.Run("now", func(b *testing.B) { run(b, (*API).events, false) })
	b.Run("before", func(b *testing.B) { run(b, oldEvents, false) })
	b.Run("now+decoded", func(b *testing.B) { run(b, (*API).events, true) })
}
