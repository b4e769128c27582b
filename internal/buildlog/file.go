package buildlog

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"
)

// Store keeps the logs of all builds under one directory (a node's data
// directory): per build the output exactly as printed (<name>.log) and an
// index of when each piece arrived (<name>.idx), both streamed to disk and
// never held in memory.
//
// The index is a sequence of 16-byte records (offset, Unix nanoseconds),
// little-endian, one per write.
//
// While a Writer is open it holds an exclusive flock(2) on its .log file,
// so that a Store of another process (or another Store of this one) over
// the same directory sees the log as still being written; a process that
// dies releases it, and its logs are complete. Followers of a log written
// through the same Store are woken by each write; others poll.
type Store struct {
	dir string
	now func() time.Time

	mu     sync.Mutex
	active map[string]*fileLog // by log name, while a build writes
}

var (
	_ Logs          = (*Store)(nil)
	_ IndexedReader = (*Store)(nil)
)

// pollInterval is how often a follower of a log written by another Store
// looks again (doubling up to maxPollInterval).
const (
	pollInterval    = 50 * time.Millisecond
	maxPollInterval = time.Second
)

// NewStore returns a store in dir (created if needed).
func NewStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &Store{dir: dir, now: time.Now, active: map[string]*fileLog{}}, nil
}

func (s *Store) path(name, ext string) string { return filepath.Join(s.dir, name+ext) }

// Create opens the log of a build for appending.
func (s *Store) Create(name string) (*Writer, error) {
	f, err := os.OpenFile(s.path(name, ".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	lockWriter(f)
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
	l := &fileLog{s: s, name: name, f: f, idx: idx, size: st.Size(), changed: make(chan struct{})}
	s.mu.Lock()
	s.active[name] = l
	s.mu.Unlock()
	return NewWriter(l, s.now), nil
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

// fileLog is the Output of a log being written.
type fileLog struct {
	s    *Store
	name string
	f    *os.File // the log, locked
	idx  *os.File
	rec  [16]byte

	mu      sync.Mutex
	size    int64
	changed chan struct{} // closed and replaced on every write, closed at Close
}

// Append implements Output: the record first, so that every byte of the
// log has one.
func (l *fileLog) Append(p []byte, t time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	binary.LittleEndian.PutUint64(l.rec[:8], uint64(l.size))
	binary.LittleEndian.PutUint64(l.rec[8:], uint64(t.UnixNano()))
	if _, err := l.idx.Write(l.rec[:]); err != nil {
		return err
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	close(l.changed)
	l.changed = make(chan struct{})
	return err
}

// Close implements Output.
func (l *fileLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := errors.Join(l.f.Close(), l.idx.Close())
	l.s.mu.Lock()
	if l.s.active[l.name] == l {
		delete(l.s.active, l.name)
	}
	l.s.mu.Unlock()
	close(l.changed)
	return err
}

// Read implements Logs.
func (s *Store) Read(ctx context.Context, name string, offset int64, max int, wait time.Duration, stamps bool) (Chunk, error) {
	deadline := time.Now().Add(wait)
	poll := pollInterval
	for {
		s.mu.Lock()
		l := s.active[name]
		s.mu.Unlock()
		var changed chan struct{}
		if l != nil {
			l.mu.Lock()
			changed = l.changed
			l.mu.Unlock()
		}
		c, end, writing, err := s.readFile(name, offset, max, l == nil)
		if err != nil {
			return c, err
		}
		c.Complete = l == nil && !writing && c.NextOffset == end
		if len(c.Data) > 0 || c.Complete || wait <= 0 {
			if stamps && len(c.Data) > 0 {
				c.Data, err = s.stamp(name, c.NextOffset-int64(len(c.Data)), c.Data)
			}
			return c, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return c, nil
		}
		if changed == nil {
			// Written by another Store: look again in a while.
			left = min(left, poll)
			poll = min(2*poll, maxPollInterval)
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

// readFile reads from offset; with checkLock it also tells whether a
// writer (of another Store) holds the log, checked before its size is
// read, so that a log not written to any more is read to its end.
func (s *Store) readFile(name string, offset int64, max int, checkLock bool) (c Chunk, end int64, writing bool, err error) {
	f, err := os.Open(s.path(name, ".log"))
	if errors.Is(err, os.ErrNotExist) {
		return Chunk{}, 0, false, ErrNoLog
	}
	if err != nil {
		return Chunk{}, 0, false, err
	}
	defer f.Close()
	if checkLock {
		writing = lockedByWriter(f)
	}
	st, err := f.Stat()
	if err != nil {
		return Chunk{}, 0, false, err
	}
	end = st.Size()
	if offset < 0 || offset > end {
		offset = end
	}
	n := min(int64(max), end-offset)
	if n < 0 {
		n = 0
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(io.NewSectionReader(f, offset, n), buf); err != nil {
		return Chunk{}, 0, false, err
	}
	buf = WholeLines(buf, max)
	return Chunk{Data: buf, NextOffset: offset + int64(len(buf))}, end, writing, nil
}

// stamp prefixes every line of data (which starts at offset) with its time.
func (s *Store) stamp(name string, offset int64, data []byte) ([]byte, error) {
	x, err := s.index(name, offset, offset+int64(len(data)))
	if err != nil {
		return nil, err
	}
	return Stamp(make([]byte, 0, len(data)+len(data)/8), data, offset, x), nil
}

// ReadIndexed implements IndexedReader.
func (s *Store) ReadIndexed(ctx context.Context, name string, offset int64, max int) (Chunk, Index, error) {
	s.mu.Lock()
	l := s.active[name]
	s.mu.Unlock()
	c, end, writing, err := s.readFile(name, offset, max, l == nil)
	if err != nil {
		return c, nil, err
	}
	c.Complete = l == nil && !writing && c.NextOffset == end
	if len(c.Data) == 0 {
		return c, nil, nil
	}
	x, err := s.index(name, c.NextOffset-int64(len(c.Data)), c.NextOffset)
	return c, x, err
}

// recordSize is the size of a record in a .idx file.
const recordSize = 16

// index returns the records of a log that tell the times of its bytes
// from offset from to offset to: the last at or before from and those
// after it before to. The .idx file's records are in order of offset, so
// they are found by binary search, not read whole: reading a stretch of a
// long log costs as little as one of a short one.
func (s *Store) index(name string, from, to int64) (Index, error) {
	f, err := os.Open(s.path(name, ".idx"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	n := int(st.Size() / recordSize) // a record being appended is not one yet
	var rec [recordSize]byte
	var readErr error
	offsetOf := func(i int) int64 {
		if _, err := f.ReadAt(rec[:], int64(i)*recordSize); err != nil && readErr == nil {
			readErr = err
		}
		return int64(binary.LittleEndian.Uint64(rec[:8]))
	}
	// The first record after from; the one before it is the last at or
	// before from (none: from has no time yet).
	first := max(sort.Search(n, func(i int) bool { return offsetOf(i) > from })-1, 0)
	if readErr != nil {
		return nil, readErr
	}
	var x Index
	var buf []byte
	for i, batch := first, 256; i < n; i, batch = i+batch, min(2*batch, 4096) {
		batch = min(batch, n-i)
		buf = slices.Grow(buf[:0], batch*recordSize)[:batch*recordSize]
		if _, err := f.ReadAt(buf, int64(i)*recordSize); err != nil {
			return nil, err
		}
		for b := buf; len(b) > 0; b = b[recordSize:] {
			r := Record{int64(binary.LittleEndian.Uint64(b)), int64(binary.LittleEndian.Uint64(b[8:]))}
			if r.Offset >= to {
				return x, nil
			}
			x = append(x, r)
		}
	}
	return x, nil
}
