// Package buildlog keeps what builds print: per build, the output exactly
// as printed (<name>.log) and an index of when each piece arrived
// (<name>.idx), both streamed to disk and never held in memory. Logs are
// readable while the build runs and after, with followers woken as output
// arrives. Every line gets the time its first byte arrived: output comes
// in chunks, and all the lines of a chunk arrived together.
//
// The index is a sequence of 16-byte records (offset, Unix nanoseconds),
// little-endian, one per write.
package buildlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// stampFormat is how Read renders a line's time when asked to.
const stampFormat = "2006-01-02T15:04:05.000000Z"

// Store holds the logs of all builds under one directory.
type Store struct {
	dir string
	now func() time.Time

	mu     sync.Mutex
	active map[string]*Writer // by log name, while a build writes
}

// NewStore returns a store in dir (created if needed).
func NewStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &Store{dir: dir, now: time.Now, active: map[string]*Writer{}}, nil
}

func (s *Store) path(name, ext string) string { return filepath.Join(s.dir, name+ext) }

// Create opens the log of a build for appending.
func (s *Store) Create(name string) (*Writer, error) {
	f, err := os.OpenFile(s.path(name, ".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	idx, err := os.OpenFile(s.path(name, ".idx"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		f.Close()
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		idx.Close()
		return nil, err
	}
	w := &Writer{s: s, name: name, f: f, idx: idx, size: st.Size(), changed: make(chan struct{})}
	s.mu.Lock()
	s.active[name] = w
	s.mu.Unlock()
	return w, nil
}

// Delete removes a build's log.
func (s *Store) Delete(name string) error {
	var errs []error
	for _, ext := range []string{".log", ".idx"} {
		if err := os.Remove(s.path(name, ext)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Writer appends to one build's log. It is safe for concurrent use.
type Writer struct {
	s    *Store
	name string

	mu      sync.Mutex
	f, idx  *os.File
	size    int64
	midLine bool
	changed chan struct{} // closed and replaced on every write
	closed  bool
	rec     [16]byte
}

// Write appends output: whole lines or fragments of one.
func (w *Writer) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, errors.New("log closed")
	}
	binary.LittleEndian.PutUint64(w.rec[:8], uint64(w.size))
	binary.LittleEndian.PutUint64(w.rec[8:], uint64(w.s.now().UnixNano()))
	if _, err := w.idx.Write(w.rec[:]); err != nil {
		return 0, err
	}
	n, err := w.f.Write(p)
	w.size += int64(n)
	if n > 0 {
		w.midLine = p[n-1] != '\n'
	}
	close(w.changed)
	w.changed = make(chan struct{})
	return n, err
}

// Printf appends one line of buildbatch's own ("[Container] ...") output.
func (w *Writer) Printf(format string, args ...any) {
	line := fmt.Sprintf("[Container] %s ", w.s.now().UTC().Format("2006/01/02 15:04:05.000000")) + fmt.Sprintf(format, args...) + "\n"
	w.mu.Lock()
	mid := w.midLine
	w.mu.Unlock()
	if mid {
		line = "\n" + line
	}
	w.Write([]byte(line))
}

// Close closes the log; followers see it complete.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	mid := w.midLine
	w.mu.Unlock()
	if mid {
		w.Write([]byte("\n"))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	err := errors.Join(w.f.Close(), w.idx.Close())
	w.s.mu.Lock()
	if w.s.active[w.name] == w {
		delete(w.s.active, w.name)
	}
	w.s.mu.Unlock()
	close(w.changed)
	return err
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

// Read returns up to max bytes of whole lines from offset (a line longer
// than max comes in pieces). If wait > 0 and there is nothing new yet, it
// waits up to wait for more (follow). With stamps, each line is prefixed
// with the time it arrived and a space.
func (s *Store) Read(ctx context.Context, name string, offset int64, max int, wait time.Duration, stamps bool) (Chunk, error) {
	deadline := time.Now().Add(wait)
	for {
		s.mu.Lock()
		w := s.active[name]
		s.mu.Unlock()
		var changed chan struct{}
		if w != nil {
			w.mu.Lock()
			changed = w.changed
			w.mu.Unlock()
		}
		c, end, err := s.readFile(name, offset, max)
		if err != nil {
			return c, err
		}
		c.Complete = w == nil && c.NextOffset == end
		if len(c.Data) > 0 || c.Complete || wait <= 0 || changed == nil {
			if stamps && len(c.Data) > 0 {
				c.Data, err = s.stamp(name, offset, c.Data)
			}
			return c, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return c, nil
		}
		timer := time.NewTimer(left)
		select {
		case <-changed:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return c, ctx.Err()
		}
		timer.Stop()
	}
}

func (s *Store) readFile(name string, offset int64, max int) (Chunk, int64, error) {
	f, err := os.Open(s.path(name, ".log"))
	if errors.Is(err, os.ErrNotExist) {
		return Chunk{}, 0, ErrNoLog
	}
	if err != nil {
		return Chunk{}, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Chunk{}, 0, err
	}
	end := st.Size()
	if offset < 0 || offset > end {
		offset = end
	}
	n := min(int64(max), end-offset)
	buf := make([]byte, n)
	if _, err := io.ReadFull(io.NewSectionReader(f, offset, n), buf); err != nil {
		return Chunk{}, 0, err
	}
	// Only whole lines: cut after the last newline, unless one line is
	// longer than max.
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		buf = buf[:i+1]
	} else if n < int64(max) {
		buf = buf[:0]
	}
	return Chunk{Data: buf, NextOffset: offset + int64(len(buf))}, end, nil
}

// stamp prefixes every line of data (which starts at offset) with its time.
func (s *Store) stamp(name string, offset int64, data []byte) ([]byte, error) {
	raw, err := os.ReadFile(s.path(name, ".idx"))
	if err != nil {
		return nil, err
	}
	type rec struct{ off, ns int64 }
	recs := make([]rec, 0, len(raw)/16)
	for i := 0; i+16 <= len(raw); i += 16 {
		recs = append(recs, rec{int64(binary.LittleEndian.Uint64(raw[i:])), int64(binary.LittleEndian.Uint64(raw[i+8:]))})
	}
	timeAt := func(off int64) time.Time {
		i := sort.Search(len(recs), func(i int) bool { return recs[i].off > off }) - 1
		if i < 0 {
			return time.Time{}
		}
		return time.Unix(0, recs[i].ns).UTC()
	}
	out := make([]byte, 0, len(data)+len(data)/8)
	for pos := 0; pos < len(data); {
		end := bytes.IndexByte(data[pos:], '\n')
		if end < 0 {
			end = len(data) - pos
		} else {
			end++
		}
		out = timeAt(offset+int64(pos)).AppendFormat(out, stampFormat)
		out = append(out, ' ')
		out = append(out, data[pos:pos+end]...)
		pos += end
	}
	return out, nil
}
