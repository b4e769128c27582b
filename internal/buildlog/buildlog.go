// Package buildlog keeps what builds print: one file per build, each line
// prefixed with the time it was received, streamed to disk (never held in
// memory), readable while the build runs and after, with followers woken as
// lines arrive.
//
// File format: every line is "<RFC 3339 UTC timestamp, microseconds> <text>\n".
package buildlog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// stampLen is the length of a line's timestamp prefix, including the space.
const stampLen = len("2006-01-02T15:04:05.000000Z ")

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

func (s *Store) path(name string) string { return filepath.Join(s.dir, name+".log") }

// Create opens the log of a build for appending (a retried phase or a
// resumed build appends to what is there).
func (s *Store) Create(name string) (*Writer, error) {
	f, err := os.OpenFile(s.path(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	w := &Writer{s: s, name: name, f: f, bw: bufio.NewWriterSize(f, 64<<10), changed: make(chan struct{})}
	s.mu.Lock()
	s.active[name] = w
	s.mu.Unlock()
	return w, nil
}

// Delete removes a build's log.
func (s *Store) Delete(name string) error {
	err := os.Remove(s.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Writer appends to one build's log. It is safe for concurrent use.
type Writer struct {
	s    *Store
	name string

	mu      sync.Mutex
	f       *os.File
	bw      *bufio.Writer
	midLine bool
	size    int64
	changed chan struct{} // closed and replaced on every flush
	closed  bool
}

// Write appends output: whole lines or fragments of one. Each new line gets
// the current time as its prefix.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, errors.New("log closed")
	}
	n := len(p)
	var stamp []byte
	for len(p) > 0 {
		if !w.midLine {
			if stamp == nil {
				stamp = w.s.now().UTC().AppendFormat(make([]byte, 0, stampLen), stampFormat)
				stamp = append(stamp, ' ')
			}
			w.bw.Write(stamp)
			w.size += int64(len(stamp))
		}
		i := indexNL(p)
		if i < 0 {
			w.bw.Write(p)
			w.size += int64(len(p))
			w.midLine = true
			break
		}
		w.bw.Write(p[:i+1])
		w.size += int64(i + 1)
		w.midLine = false
		p = p[i+1:]
	}
	if err := w.flushLocked(); err != nil {
		return 0, err
	}
	return n, nil
}

func indexNL(p []byte) int {
	for i, c := range p {
		if c == '\n' {
			return i
		}
	}
	return -1
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

func (w *Writer) flushLocked() error {
	err := w.bw.Flush()
	close(w.changed)
	w.changed = make(chan struct{})
	return err
}

// Close flushes and closes the log; followers see it complete.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.midLine {
		w.bw.WriteByte('\n')
	}
	err := errors.Join(w.bw.Flush(), w.f.Close())
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
	Data       []byte // whole lines, each with its timestamp prefix
	NextOffset int64
	// Complete is true when nothing more will be written (the build's log
	// is closed) and Data reaches the end.
	Complete bool
}

// Read returns up to max bytes of whole lines from offset. If wait > 0 and
// there is nothing new yet, it waits up to wait for more (follow).
func (s *Store) Read(ctx context.Context, name string, offset int64, max int, wait time.Duration) (Chunk, error) {
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
		c, err := s.readFile(name, offset, max)
		if err != nil {
			return c.Chunk, err
		}
		c.Complete = w == nil && c.NextOffset == c.end
		if len(c.Data) > 0 || c.Complete || wait <= 0 || changed == nil {
			return c.Chunk, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return c.Chunk, nil
		}
		timer := time.NewTimer(left)
		select {
		case <-changed:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return c.Chunk, ctx.Err()
		}
		timer.Stop()
	}
}

type fileChunk struct {
	Chunk
	end int64
}

// ErrNoLog is returned for a build without a log.
var ErrNoLog = errors.New("no log")

func (s *Store) readFile(name string, offset int64, max int) (fileChunk, error) {
	f, err := os.Open(s.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return fileChunk{}, ErrNoLog
	}
	if err != nil {
		return fileChunk{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fileChunk{}, err
	}
	end := st.Size()
	if offset < 0 || offset > end {
		offset = end
	}
	n := min(int64(max), end-offset)
	buf := make([]byte, n)
	if _, err := io.ReadFull(io.NewSectionReader(f, offset, n), buf); err != nil {
		return fileChunk{}, err
	}
	// Only whole lines: cut after the last newline (unless a single line is
	// longer than max, then hand out what we have).
	if i := lastNL(buf); i >= 0 {
		buf = buf[:i+1]
	} else if n < int64(max) {
		buf = buf[:0]
	}
	return fileChunk{Chunk: Chunk{Data: buf, NextOffset: offset + int64(len(buf))}, end: end}, nil
}

func lastNL(p []byte) int {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '\n' {
			return i
		}
	}
	return -1
}

// StripTimestamps removes the timestamp prefix of every line of whole-line
// data, leaving the text as the build printed it.
func StripTimestamps(data []byte) []byte {
	out := make([]byte, 0, len(data))
	for len(data) > 0 {
		i := indexNL(data)
		line := data
		if i >= 0 {
			line = data[:i+1]
			data = data[i+1:]
		} else {
			data = nil
		}
		if len(line) >= stampLen && line[stampLen-1] == ' ' {
			line = line[stampLen:]
		}
		out = append(out, line...)
	}
	return out
}
