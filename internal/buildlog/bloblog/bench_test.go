package bloblog

import (
	"strings"
	"testing"
	"time"

	"github.com/buildbatch/buildbatch/internal/buildlog"
)

// BenchmarkWrite10MB writes 10 MB of output in 4 KB writes to one log and
// closes it (for bloblog, the last flush and the marker), in the file
// store and in bloblog over the filesystem blob store. The write-ns/op
// metric is the time of the writes alone: what a build's output waits.
func BenchmarkWrite10MB(b *testing.B) {
	const total, size = 10 << 20, 4 << 10
	line := strings.Repeat("x", 99) + "\n"
	write := []byte(strings.Repeat(line, size/len(line)+1)[:size])
	for _, tc := range []struct {
		name string
		open func(b *testing.B) buildlog.Logs
	}{
		{"file", func(b *testing.B) buildlog.Logs {
			s, err := buildlog.NewStore(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"bloblog-fs", func(b *testing.B) buildlog.Logs { return New(newFS(b), Options{}) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			l := tc.open(b)
			b.SetBytes(total)
			var writing int64
			n := 0
			for b.Loop() {
				n++
				name := "bench" + strings.Repeat("-", n%2) // a new log each time but one
				l.Delete(name)
				w, err := l.Create(name)
				if err != nil {
					b.Fatal(err)
				}
				start := nanotime()
				for range total / size {
					if _, err := w.Write(write); err != nil {
						b.Fatal(err)
					}
				}
				writing += nanotime() - start
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(writing)/float64(n), "write-ns/op")
		})
	}
}

func nanotime() int64 { return time.Now().UnixNano() }
