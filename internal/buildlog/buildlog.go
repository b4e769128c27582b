// Package buildlog keeps what builds print: per build, the output exactly
// as printed and when each piece of it arrived. Logs are readable while
// the build runs and after, with followers woken as output arrives. Every
// line gets the time its first byte arrived: output comes in chunks, and
// all the lines of a chunk arrived together.
//
// Logs is what the runner (Create) and the API (Read, Delete) need of a
// place that keeps logs. There are two: Store (this package) keeps them
// as files in a node's data directory; ./bloblog keeps them in a
// blob.Store, so that every node sharing it can read every build's log,
// while the build runs too. ./logtest is the conformance suite both pass.
//
// Both also implement IndexedReader, which reads a piece of a log with
// the records of its times, for readers that need each line's time as a
// number (CloudWatch Logs' events) and not as text.
//
// Both hand out the same *Writer, which does what is common (Printf's
// "[Container]" lines, the newline a log ends with, the time of each
// write) and passes the bytes on to the implementation's Output.
package buildlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Logs is where build logs are kept. Its methods are safe for concurrent
// use.
type Logs interface {
	// Create opens the log of a build for appending (a log that exists
	// goes on where it ended). The Writer must be closed.
	Create(name string) (*Writer, error)
	// Read returns up to max bytes of whole lines from offset (a line
	// longer than max comes in pieces; an offset < 0 or past the end
	// means the end). If wait > 0 and there is nothing new yet, it waits
	// up to wait for more (follow), returning early with ctx's error if
	// ctx ends. With stamps, each line is prefixed with the time it
	// arrived (StampFormat) and a space. A log that was never created is
	// ErrNoLog.
	Read(ctx context.Context, name string, offset int64, max int, wait time.Duration, stamps bool) (Chunk, error)
	// Delete removes a build's log; a missing log is no error.
	Delete(name string) error
}

// IndexedReader is implemented by Logs that can return a piece of a log
// together with the records of when its bytes arrived, for readers that
// want each line's time as a number (CloudWatch Logs' events) rather than
// as a stamp to parse back.
type IndexedReader interface {
	// ReadIndexed returns what Read(ctx, name, offset, max, 0, false)
	// returns, and an Index that gives the time of each of its bytes
	// (it may hold records before and after them; nil when the Chunk has
	// no Data): Stamp(nil, c.Data, c.NextOffset-len(c.Data), x) is what
	// Read with stamps returns. The Index is not to be modified.
	ReadIndexed(ctx context.Context, name string, offset int64, max int) (Chunk, Index, error)
}

// ReadIndexed reads a log as IndexedReader.ReadIndexed does, with l's
// own ReadIndexed if it has one, else with Read's stamps, parsed back
// (one record per line).
func ReadIndexed(ctx context.Context, l Logs, name string, offset int64, max int) (Chunk, Index, error) {
	if r, ok := l.(IndexedReader); ok {
		return r.ReadIndexed(ctx, name, offset, max)
	}
	c, err := l.Read(ctx, name, offset, max, 0, true)
	if err != nil || len(c.Data) == 0 {
		return c, nil, err
	}
	stamped := c.Data
	data := make([]byte, 0, len(stamped))
	var x Index
	for len(stamped) > 0 {
		end := bytes.IndexByte(stamped, '\n') + 1
		if end == 0 {
			end = len(stamped)
		}
		line := stamped[:end]
		stamped = stamped[end:]
		n := len(StampFormat)
		if len(line) <= n || line[n] != ' ' {
			return Chunk{}, nil, fmt.Errorf("log %s: a stamped line without its time: %.40q", name, line)
		}
		t, err := time.Parse(StampFormat, string(line[:n]))
		if err != nil {
			return Chunk{}, nil, fmt.Errorf("log %s: %w", name, err)
		}
		if !t.IsZero() { // the time of a byte without a record
			x = append(x, Record{Offset: int64(len(data)), UnixNano: t.UnixNano()})
		}
		data = append(data, line[n+1:]...)
	}
	start := c.NextOffset - int64(len(data))
	for i := range x {
		x[i].Offset += start
	}
	c.Data = data
	return c, x, nil
}

// Chunk is a piece of a log read from an offset.
type Chunk struct {
	Data       []byte // whole lines
	NextOffset int64
	// Complete is true when nothing more will be written (the build's log
	// is closed) and Data reaches the end.
	Complete bool
}

// ErrNoLog is returned for a build without a log.
var ErrNoLog = errors.New("no log")

// ErrClosed is returned by writes to a closed log.
var ErrClosed = errors.New("log closed")

// StampFormat is how Read renders a line's time when asked to.
const StampFormat = "2006-01-02T15:04:05.000000Z"

// printfFormat is the time in Printf's lines.
const printfFormat = "2006/01/02 15:04:05.000000"

// Output is where a Writer's bytes go: what an implementation of Logs
// provides. A Writer calls it from one goroutine at a time.
type Output interface {
	// Append adds p (never empty, not kept after the call), which
	// arrived at t, to the end of the log.
	Append(p []byte, t time.Time) error
	// Close ends the log: readers see it complete once everything
	// appended is stored.
	Close() error
}

// Writer appends to one build's log. It is safe for concurrent use.
type Writer struct {
	out Output
	now func() time.Time

	mu      sync.Mutex
	midLine bool // the last byte written was not a newline
	closed  bool
	limit   int64 // output past this many bytes is dropped (0: no limit)
	written int64 // bytes written
	dropped bool  // output was dropped at the limit
	err     error // the first failed append: what follows is dropped
	failed  chan struct{}
}

// Failed is closed when an append to the log fails (a full disk, say):
// the Writer then drops what it is given, so that the build's commands
// never block on their output, and Err says why.
func (w *Writer) Failed() <-chan struct{} { return w.failed }

// Err is the failure that closed Failed, or nil.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Limit bounds the output (Write) this Writer keeps to n bytes: past them,
// output is dropped after one marker line; Printf's own lines, which are
// few and short, are still written. 0 means no limit.
func (w *Writer) Limit(n int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.limit = n
}

// Dropped reports whether output was dropped at the limit.
func (w *Writer) Dropped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dropped
}

// NewWriter returns a Writer over out; now is its clock (nil: time.Now).
func NewWriter(out Output, now func() time.Time) *Writer {
	if now == nil {
		now = time.Now
	}
	return &Writer{out: out, now: now, failed: make(chan struct{})}
}

// Write appends output: whole lines or fragments of one.
func (w *Writer) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.limit <= 0 || w.written+int64(len(p)) <= w.limit {
		return w.write(p, w.now())
	}
	if w.closed {
		return 0, ErrClosed
	}
	if w.dropped {
		return len(p), nil
	}
	t := w.now()
	if keep := w.limit - w.written; keep > 0 {
		if _, err := w.write(p[:keep], t); err != nil {
			return 0, err
		}
	}
	w.dropped = true
	w.printf(t, "Output dropped: the build's log reached its limit of %d bytes (--max-log-bytes); the build goes on", w.limit)
	return len(p), nil
}

func (w *Writer) write(p []byte, t time.Time) (int, error) {
	if w.closed {
		return 0, ErrClosed
	}
	if w.err != nil {
		return len(p), nil
	}
	if err := w.out.Append(p, t); err != nil {
		w.err = err
		close(w.failed)
		return len(p), nil
	}
	w.written += int64(len(p))
	w.midLine = p[len(p)-1] != '\n'
	return len(p), nil
}

// Printf appends one line of buildbatch's own ("[Container] ...") output,
// on a line of its own.
func (w *Writer) Printf(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.printf(w.now(), format, args...)
}

func (w *Writer) printf(t time.Time, format string, args ...any) {
	var b []byte
	if w.midLine {
		b = append(b, '\n')
	}
	b = append(b, "[Container] "...)
	b = t.UTC().AppendFormat(b, printfFormat)
	b = append(b, ' ')
	b = fmt.Appendf(b, format, args...)
	b = append(b, '\n')
	w.write(b, t)
}

// Close ends the log with a newline if it does not end with one, and
// closes it; followers see it complete. Closing twice is no error.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	var err error
	if w.midLine {
		_, err = w.write([]byte("\n"), w.now())
	}
	w.closed = true
	return errors.Join(err, w.err, w.out.Close())
}

// Record says when the byte at Offset of a log, and those after it up to
// the next record's, arrived (Unix nanoseconds): one per write.
type Record struct {
	Offset   int64
	UnixNano int64
}

// Index is a log's records (or those of a stretch of it), by offset.
type Index []Record

// TimeAt returns the time the byte at off arrived: that of the last
// record at or before it (the zero time if there is none).
func (x Index) TimeAt(off int64) time.Time {
	i := sort.Search(len(x), func(i int) bool { return x[i].Offset > off }) - 1
	if i < 0 {
		return time.Time{}
	}
	return time.Unix(0, x[i].UnixNano).UTC()
}

// Stamp appends data (which starts at offset of the log) to dst, every
// line prefixed with the time its first byte arrived in StampFormat and a
// space.
func Stamp(dst, data []byte, offset int64, x Index) []byte {
	for pos := 0; pos < len(data); {
		end := bytes.IndexByte(data[pos:], '\n')
		if end < 0 {
			end = len(data) - pos
		} else {
			end++
		}
		dst = x.TimeAt(offset+int64(pos)).AppendFormat(dst, StampFormat)
		dst = append(dst, ' ')
		dst = append(dst, data[pos:pos+end]...)
		pos += end
	}
	return dst
}

// WholeLines cuts buf, the next bytes of a log after an offset (at most
// max of them), after its last newline, unless it has none and is max
// bytes long (one line longer than max, which comes in pieces).
func WholeLines(buf []byte, max int) []byte {
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		return buf[:i+1]
	}
	if len(buf) < max {
		return buf[:0]
	}
	return buf
}
