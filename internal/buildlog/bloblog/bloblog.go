// Package bloblog keeps build logs in a blob.Store (S3, or the filesystem
// store), so that every node sharing the store can read any build's log,
// while the build runs and after.
//
// A log is a folder <Prefix>/<name> of one bucket (Options.Bucket,
// DefaultBucket unless set), which holds nothing but logs. Objects cannot
// be appended to, so a Writer buffers output and stores it as numbered,
// immutable chunk objects — the bytes and when each write arrived — when
// FlushBytes are buffered or FlushInterval has passed, and at Close, which
// then writes the completion marker (see chunk.go for the layout):
//
//	<Prefix>/<name>/0000000000-0          chunk 0 (empty: written by Create)
//	<Prefix>/<name>/0000000001-0          chunk 1, from offset 0
//	<Prefix>/<name>/0000000002-262144     chunk 2, from offset 262144
//	<Prefix>/<name>/complete              the log is closed
//
// Storing happens in a goroutine of the Writer (ended by Close), so
// writes only copy into memory: they wait for the store only when
// MaxPending bytes are not stored yet (one flush attempt each). A chunk
// that fails to be stored stays queued, with the same number and
// content, and is tried again at the next flush; Close tries for up to
// CloseTimeout and reports what could not be stored (then no marker is
// written, and the log never reads as complete).
//
// Readers list a log once, then learn its new chunks by reading the next
// one's key (its number and offset follow from the last) and, when it is
// not there, the marker: a follower polls so every PollInterval, backing
// off to MaxPollInterval. What they learn is kept (chunks are immutable):
// the chunks' offsets for as long as the log is used, their content in a
// cache of CacheBytes. On the node writing a log, readers are told of
// each chunk as it is stored, and woken by it, without reading the store
// for news; other nodes see output within FlushInterval plus their poll
// interval.
package bloblog

import (
	"bytes"
	"container/list"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/buildbatch/buildbatch/internal/blob"
	"github.com/buildbatch/buildbatch/internal/buildlog"
)

// DefaultBucket is the bucket logs are kept in unless Options.Bucket says
// otherwise.
const DefaultBucket = "buildbatch-logs"

// Options tune Logs; zero values take the defaults.
type Options struct {
	// Bucket is the blob store's bucket of the logs (DefaultBucket). It
	// should hold nothing else: Delete removes a log's folder.
	Bucket string
	// Prefix is a folder of the bucket to keep the logs under (none).
	Prefix string
	// FlushBytes: a Writer stores its buffer once it holds this much
	// (256 KiB), and chunks hold at most this much.
	FlushBytes int
	// FlushInterval: a Writer stores what it buffered at least this often
	// (250ms): other nodes see output this late, at worst, plus their
	// poll interval.
	FlushInterval time.Duration
	// MaxPending: while more than this is not stored yet (64 MiB), each
	// write waits for a flush attempt.
	MaxPending int
	// PollInterval is how soon a follower on another node looks for new
	// chunks (100ms); it doubles, up to MaxPollInterval (1s), while
	// nothing comes.
	PollInterval, MaxPollInterval time.Duration
	// Timeout bounds each blob store operation of a Writer and of Create
	// and Delete (30s).
	Timeout time.Duration
	// CloseTimeout is how long Close keeps trying to store what is left
	// (1m).
	CloseTimeout time.Duration
	// CacheBytes bounds the chunks readers keep (16 MiB).
	CacheBytes int
	// Now is the clock of the times of output (time.Now).
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.Bucket == "" {
		o.Bucket = DefaultBucket
	}
	o.Prefix = strings.TrimPrefix(path.Clean("/"+o.Prefix), "/")
	defInt(&o.FlushBytes, 256<<10)
	def(&o.FlushInterval, 250*time.Millisecond)
	defInt(&o.MaxPending, 64<<20)
	def(&o.PollInterval, 100*time.Millisecond)
	def(&o.MaxPollInterval, time.Second)
	o.MaxPollInterval = max(o.MaxPollInterval, o.PollInterval)
	def(&o.Timeout, 30*time.Second)
	def(&o.CloseTimeout, time.Minute)
	defInt(&o.CacheBytes, 16<<20)
	o.FlushBytes = min(o.FlushBytes, maxChunkData)
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Logs keeps logs in a blob store. Several Logs (on several nodes) may
// share one store: each reads what the others write.
type Logs struct {
	store blob.Store
	o     Options
	cache *cache

	mu     sync.Mutex
	logs   map[string]*logState // what this node knows of logs, by name
	nextID uint64
}

var _ buildlog.Logs = (*Logs)(nil)

// maxStates bounds the logs whose chunk offsets a Logs keeps (those being
// written aside).
const maxStates = 4096

// New returns Logs in store.
func New(store blob.Store, o Options) *Logs {
	o = o.withDefaults()
	return &Logs{store: store, o: o, cache: newCache(o.CacheBytes), logs: map[string]*logState{}}
}

// Options returns the options in effect (the defaults filled in).
func (l *Logs) Options() Options { return l.o }

// logState is what a node knows of a log.
type logState struct {
	id   uint64     // names its chunks in the cache
	io   sync.Mutex // held while the store is read for news of the log
	used time.Time  // guarded by Logs.mu

	mu      sync.Mutex
	starts  []int64 // the offset of each chunk, by number; appended to only
	lastLen int64   // the length of the last chunk, -1 if not known yet
	final   *marker // the completion marker, once read
	writer  *output // this node's Writer of the log, while it is open
	changed chan struct{}
}

type snapshot struct {
	starts  []int64
	lastLen int64
	final   *marker
	local   bool
}

func (s snapshot) end() int64 { return s.starts[len(s.starts)-1] + max(s.lastLen, 0) }

func (s snapshot) complete() bool {
	return s.final != nil && s.lastLen >= 0 && int64(len(s.starts)) == s.final.chunks && s.end() == s.final.size
}

func (st *logState) snap() (snapshot, chan struct{}) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return snapshot{st.starts, st.lastLen, st.final, st.writer != nil}, st.changed
}

// add records chunk seq, if it is the next one.
func (st *logState) add(seq int64, c *chunk) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if int64(len(st.starts)) == seq && (st.lastLen < 0 || st.starts[seq-1]+st.lastLen == c.start) {
		st.starts = append(st.starts, c.start)
		st.lastLen = int64(len(c.data))
		close(st.changed)
		st.changed = make(chan struct{})
	}
}

func (l *Logs) newState(starts []int64, lastLen int64) *logState {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.nextID++
	return &logState{id: l.nextID, starts: starts, lastLen: lastLen, changed: make(chan struct{})}
}

// keep makes st the state of name (unless it has one already, which it
// returns), dropping the least recently used if there are too many.
func (l *Logs) keep(name string, st *logState, replace bool) *logState {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old := l.logs[name]; old != nil && !replace {
		old.used = time.Now()
		return old
	}
	st.used = time.Now()
	l.logs[name] = st
	if len(l.logs) > maxStates {
		var oldest string
		var t time.Time
		for n, s := range l.logs {
			s.mu.Lock()
			writing := s.writer != nil
			s.mu.Unlock()
			if !writing && (oldest == "" || s.used.Before(t)) {
				oldest, t = n, s.used
			}
		}
		if oldest != "" {
			delete(l.logs, oldest)
		}
	}
	return st
}

func (l *Logs) forget(name string, st *logState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.logs[name] == st {
		delete(l.logs, name)
	}
}

func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\") {
		return fmt.Errorf("invalid log name %q", name)
	}
	return nil
}

func (l *Logs) dir(name string) string {
	if l.o.Prefix == "" {
		return name
	}
	return l.o.Prefix + "/" + name
}

func (l *Logs) chunkKey(name string, seq, start int64) string {
	return l.dir(name) + "/" + chunkName(seq, start)
}

func (l *Logs) markerKey(name string) string { return l.dir(name) + "/" + markerName }

// load lists a log: ErrNoLog if it has no chunk.
func (l *Logs) load(ctx context.Context, name string) (*logState, error) {
	keys, err := l.store.List(ctx, l.o.Bucket, l.dir(name))
	if err != nil {
		return nil, fmt.Errorf("listing log %s: %w", name, err)
	}
	type found struct{ seq, start int64 }
	var chunks []found
	hasMarker := false
	for _, k := range keys {
		rel, ok := strings.CutPrefix(k, l.dir(name)+"/")
		if !ok {
			continue
		}
		if rel == markerName {
			hasMarker = true
		} else if seq, start, ok := parseChunkName(rel); ok {
			chunks = append(chunks, found{seq, start})
		}
	}
	var starts []int64
	for _, c := range chunks { // sorted by number, as List sorts keys
		if c.seq != int64(len(starts)) {
			break // a gap: what follows cannot be read
		}
		if len(starts) == 0 && c.start != 0 || len(starts) > 0 && c.start < starts[len(starts)-1] {
			return nil, fmt.Errorf("log %s: %w: chunk %d starts at %d, before chunk %d", name, errCorrupt, c.seq, c.start, c.seq-1)
		}
		starts = append(starts, c.start)
	}
	if len(starts) == 0 {
		return nil, buildlog.ErrNoLog
	}
	st := l.newState(starts, -1)
	if hasMarker {
		m, err := l.readMarker(ctx, name)
		if err != nil && !errors.Is(err, blob.ErrNotFound) {
			return nil, err
		}
		if err == nil {
			st.final = &m
		}
	}
	return st, nil
}

// state returns what this node knows of a log, listing it if nothing.
func (l *Logs) state(ctx context.Context, name string) (*logState, error) {
	l.mu.Lock()
	st := l.logs[name]
	if st != nil {
		st.used = time.Now()
	}
	l.mu.Unlock()
	if st != nil {
		return st, nil
	}
	st, err := l.load(ctx, name)
	if err != nil {
		return nil, err
	}
	return l.keep(name, st, false), nil
}

func (l *Logs) readMarker(ctx context.Context, name string) (marker, error) {
	b, err := l.get(ctx, l.markerKey(name), markerLen)
	if err != nil {
		return marker{}, err
	}
	m, err := decodeMarker(b)
	if err != nil {
		return marker{}, fmt.Errorf("log %s: %w", name, err)
	}
	return m, nil
}

// get reads an object of at most limit bytes.
func (l *Logs) get(ctx context.Context, key string, limit int64) ([]byte, error) {
	rc, err := l.store.Open(ctx, l.o.Bucket, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("s3://%s/%s: %w: too large", l.o.Bucket, key, errCorrupt)
	}
	return b, nil
}

// fetch returns chunk seq of a log, which starts at start.
func (l *Logs) fetch(ctx context.Context, name string, st *logState, seq, start int64) (*chunk, error) {
	k := cacheKey{st.id, seq}
	if c := l.cache.get(k); c != nil {
		return c, nil
	}
	key := l.chunkKey(name, seq, start)
	b, err := l.get(ctx, key, chunkHeader+4+4+17*maxChunkData)
	if err != nil {
		return nil, err
	}
	c, err := decodeChunk(b)
	if err == nil && c.start != start {
		err = fmt.Errorf("%w: starts at %d, not %d", errCorrupt, c.start, start)
	}
	if err != nil {
		return nil, fmt.Errorf("s3://%s/%s: %w", l.o.Bucket, key, err)
	}
	l.cache.put(k, c)
	return c, nil
}

// errGone: a chunk the node knew of is not there any more.
var errGone = errors.New("log deleted")

// knowLast makes sure the length of the log's last chunk is known.
func (l *Logs) knowLast(ctx context.Context, name string, st *logState) error {
	if s, _ := st.snap(); s.lastLen >= 0 {
		return nil
	}
	st.io.Lock()
	defer st.io.Unlock()
	s, _ := st.snap()
	if s.lastLen >= 0 {
		return nil
	}
	seq := int64(len(s.starts) - 1)
	c, err := l.fetch(ctx, name, st, seq, s.starts[seq])
	if errors.Is(err, blob.ErrNotFound) {
		return errGone
	}
	if err != nil {
		return err
	}
	st.mu.Lock()
	if int64(len(st.starts)) == seq+1 && st.lastLen < 0 {
		st.lastLen = int64(len(c.data))
	}
	st.mu.Unlock()
	return nil
}

// probe reads the store for chunks after those known, and for the
// marker, until the log has max bytes after offset (offset < 0: its end)
// or there is no more.
func (l *Logs) probe(ctx context.Context, name string, st *logState, offset int64, limit int) error {
	st.io.Lock()
	defer st.io.Unlock()
	for {
		s, _ := st.snap()
		if s.local || s.complete() || offset >= 0 && s.end()-offset >= int64(limit) {
			return nil
		}
		n := int64(len(s.starts))
		if s.final != nil && n >= s.final.chunks {
			return fmt.Errorf("log %s: %w: completion marker of %d chunks and %d bytes, but %d chunks and %d bytes", name, errCorrupt, s.final.chunks, s.final.size, n, s.end())
		}
		c, err := l.fetch(ctx, name, st, n, s.end())
		if err == nil {
			st.add(n, c)
			continue
		}
		if !errors.Is(err, blob.ErrNotFound) {
			return err
		}
		if s.final != nil {
			// The marker is written after every chunk.
			return fmt.Errorf("log %s: %w: chunk %d is missing", name, errCorrupt, n)
		}
		m, err := l.readMarker(ctx, name)
		if errors.Is(err, blob.ErrNotFound) {
			return nil // nothing new
		}
		if err != nil {
			return err
		}
		// Chunk n may have come just before the marker: look again.
		st.mu.Lock()
		st.final = &m
		st.mu.Unlock()
	}
}

// Create implements buildlog.Logs: a new log gets an empty chunk 0 at
// once (so that it exists for every node); an existing one goes on after
// its last chunk, its completion marker removed (nodes that saw it
// complete before keep seeing it so). A log has one writer: Create of a
// log this Logs writes is an error (one another node writes is not
// detected).
func (l *Logs) Create(name string) (*buildlog.Writer, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	l.mu.Lock()
	old := l.logs[name]
	l.mu.Unlock()
	if old != nil {
		if s, _ := old.snap(); s.local {
			return nil, fmt.Errorf("log %s is being written", name)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.o.Timeout)
	defer cancel()
	st, err := l.load(ctx, name)
	switch {
	case errors.Is(err, buildlog.ErrNoLog):
		if err := l.store.Put(ctx, l.o.Bucket, l.chunkKey(name, 0, 0), bytes.NewReader(encodeChunk(&chunk{}))); err != nil {
			return nil, fmt.Errorf("creating log %s: %w", name, err)
		}
		st = l.newState([]int64{0}, 0)
	case err != nil:
		return nil, err
	default:
		if err := l.knowLast(ctx, name, st); err != nil {
			return nil, fmt.Errorf("opening log %s: %w", name, err)
		}
		if err := l.store.Delete(ctx, l.o.Bucket, l.markerKey(name)); err != nil {
			return nil, fmt.Errorf("opening log %s: %w", name, err)
		}
		st.final = nil
	}
	s, _ := st.snap()
	o := &output{
		l: l, st: st, name: name,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		bufStart: s.end(), end: s.end(), nextSeq: int64(len(s.starts)),
		flushed: make(chan struct{}),
	}
	st.writer = o
	l.keep(name, st, true)
	go o.run()
	return buildlog.NewWriter(o, l.o.Now), nil
}

// Delete implements buildlog.Logs. Other nodes may still answer reads of
// the log from what they cached.
func (l *Logs) Delete(name string) error {
	if err := checkName(name); err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.o.Timeout)
	defer cancel()
	l.mu.Lock()
	delete(l.logs, name)
	l.mu.Unlock()
	if err := l.store.Delete(ctx, l.o.Bucket, l.dir(name)); err != nil {
		return fmt.Errorf("deleting log %s: %w", name, err)
	}
	return nil
}

// Read implements buildlog.Logs.
func (l *Logs) Read(ctx context.Context, name string, offset int64, max int, wait time.Duration, stamps bool) (buildlog.Chunk, error) {
	if checkName(name) != nil {
		return buildlog.Chunk{}, buildlog.ErrNoLog
	}
	deadline := time.Now().Add(wait)
	poll := l.o.PollInterval
	for {
		st, err := l.state(ctx, name)
		if err != nil {
			return buildlog.Chunk{}, err
		}
		_, changed := st.snap()
		c, x, local, err := l.read(ctx, name, st, offset, max)
		if errors.Is(err, errGone) {
			l.forget(name, st)
			return buildlog.Chunk{}, buildlog.ErrNoLog
		}
		if err != nil {
			return c, err
		}
		if len(c.Data) > 0 || c.Complete || wait <= 0 {
			if stamps && len(c.Data) > 0 {
				c.Data = buildlog.Stamp(make([]byte, 0, len(c.Data)+len(c.Data)/8), c.Data, c.NextOffset-int64(len(c.Data)), x)
			}
			return c, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return c, nil
		}
		if !local {
			left = min(left, poll)
			poll = min(2*poll, l.o.MaxPollInterval)
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

// ReadIndexed implements buildlog.IndexedReader.
func (l *Logs) ReadIndexed(ctx context.Context, name string, offset int64, max int) (buildlog.Chunk, buildlog.Index, error) {
	if checkName(name) != nil {
		return buildlog.Chunk{}, nil, buildlog.ErrNoLog
	}
	st, err := l.state(ctx, name)
	if err != nil {
		return buildlog.Chunk{}, nil, err
	}
	c, x, _, err := l.read(ctx, name, st, offset, max)
	if errors.Is(err, errGone) {
		l.forget(name, st)
		return buildlog.Chunk{}, nil, buildlog.ErrNoLog
	}
	if len(c.Data) == 0 {
		x = nil
	}
	return c, x, err
}

var _ buildlog.IndexedReader = (*Logs)(nil)

// read reads what the store has; local tells that this node writes the
// log (so news come without polling).
func (l *Logs) read(ctx context.Context, name string, st *logState, offset int64, limit int) (c buildlog.Chunk, x buildlog.Index, local bool, err error) {
	if err := l.knowLast(ctx, name, st); err != nil {
		return c, nil, false, err
	}
	if err := l.probe(ctx, name, st, offset, limit); err != nil {
		return c, nil, false, err
	}
	s, _ := st.snap()
	end := s.end()
	if offset < 0 || offset > end {
		offset = end
	}
	n := int(min(int64(limit), end-offset))
	buf := make([]byte, 0, max(n, 0))
	i := sort.Search(len(s.starts), func(i int) bool { return s.starts[i] > offset }) - 1
	for ; len(buf) < n; i++ {
		if i >= len(s.starts) {
			return c, nil, false, fmt.Errorf("log %s: %w: chunks end before %d bytes", name, errCorrupt, end)
		}
		ch, err := l.fetch(ctx, name, st, int64(i), s.starts[i])
		if errors.Is(err, blob.ErrNotFound) {
			return c, nil, false, errGone
		}
		if err != nil {
			return c, nil, false, err
		}
		if i+1 < len(s.starts) && ch.end() != s.starts[i+1] {
			return c, nil, false, fmt.Errorf("log %s: %w: chunk %d ends at %d, chunk %d starts at %d", name, errCorrupt, i, ch.end(), i+1, s.starts[i+1])
		}
		from := offset + int64(len(buf)) - ch.start
		if from < int64(len(ch.data)) {
			buf = append(buf, ch.data[from:min(int64(len(ch.data)), from+int64(n-len(buf)))]...)
			x = append(x, ch.recs...)
		}
	}
	buf = buildlog.WholeLines(buf, limit)
	next := offset + int64(len(buf))
	return buildlog.Chunk{Data: buf, NextOffset: next, Complete: s.complete() && next == end}, x, s.local, nil
}

// output is the buildlog.Output of a log this node writes.
type output struct {
	l    *Logs
	st   *logState
	name string
	kick chan struct{} // a buffer of FlushBytes waits
	stop chan struct{} // closed by Close
	done chan struct{} // closed when run ends

	mu       sync.Mutex
	blocks   [][]byte       // not sealed into chunks yet: FlushBytes each, all full but the last
	recs     buildlog.Index // of blocks: the first at bufStart
	bufStart int64
	end      int64 // of the log
	nextSeq  int64 // the number of the next chunk
	queue    []*sealed
	pending  int           // bytes in blocks and queue
	flushed  chan struct{} // closed and replaced after every flush
}

// sealed is a chunk to store: its object is head, the chunk's data, sum.
type sealed struct {
	seq  int64
	c    *chunk
	head []byte
	sum  [4]byte
}

// Append implements buildlog.Output.
func (o *output) Append(p []byte, t time.Time) error {
	if len(p) == 0 {
		return nil
	}
	o.mu.Lock()
	o.recs = append(o.recs, buildlog.Record{Offset: o.end, UnixNano: t.UnixNano()})
	o.end += int64(len(p))
	o.pending += len(p)
	for len(p) > 0 {
		if len(o.blocks) == 0 || len(o.blocks[len(o.blocks)-1]) == o.l.o.FlushBytes {
			o.blocks = append(o.blocks, make([]byte, 0, o.l.o.FlushBytes))
		}
		b := &o.blocks[len(o.blocks)-1]
		n := min(len(p), cap(*b)-len(*b))
		*b = append(*b, p[:n]...)
		p = p[n:]
	}
	var wait chan struct{}
	if o.pending > o.l.o.MaxPending {
		wait = o.flushed
	}
	if len(o.blocks[0]) == o.l.o.FlushBytes || wait != nil {
		select {
		case o.kick <- struct{}{}:
		default:
		}
	}
	o.mu.Unlock()
	if wait != nil {
		<-wait
	}
	return nil
}

func (o *output) run() {
	defer close(o.done)
	t := time.NewTicker(o.l.o.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-o.stop:
			return
		case <-t.C:
			o.flush(false)
		case <-o.kick:
			o.flush(true)
		}
	}
}

// seal makes chunks of the buffer's blocks (only the full ones if full),
// each starting with a record (the time of the write it starts in).
func (o *output) seal(full bool) {
	o.mu.Lock()
	n := len(o.blocks)
	if full && n > 0 && len(o.blocks[n-1]) < o.l.o.FlushBytes {
		n--
	}
	blocks := o.blocks[:n:n]
	o.blocks = o.blocks[n:]
	start, seq := o.bufStart, o.nextSeq
	for _, b := range blocks {
		o.bufStart += int64(len(b))
	}
	o.nextSeq += int64(n)
	k := sort.Search(len(o.recs), func(i int) bool { return o.recs[i].Offset >= o.bufStart })
	recs := o.recs[:k:k]
	o.recs = o.recs[k:]
	if len(o.blocks) > 0 && (len(o.recs) == 0 || o.recs[0].Offset != o.bufStart) {
		o.recs = append(buildlog.Index{{Offset: o.bufStart, UnixNano: recs[k-1].UnixNano}}, o.recs...)
	}
	o.mu.Unlock()
	// Only this goroutine seals: the chunks are queued in order.
	chunks := make([]*sealed, 0, n)
	for _, b := range blocks {
		end := start + int64(len(b))
		j := sort.Search(len(recs), func(i int) bool { return recs[i].Offset >= start })
		k := sort.Search(len(recs), func(i int) bool { return recs[i].Offset >= end })
		c := &chunk{start: start, data: b, recs: make(buildlog.Index, 0, k-j+1)}
		if j == k || recs[j].Offset != start {
			// The block starts within a write (never the first, which
			// starts at a record).
			c.recs = append(c.recs, buildlog.Record{Offset: start, UnixNano: recs[j-1].UnixNano})
		}
		c.recs = append(c.recs, recs[j:k]...)
		s := &sealed{seq: seq, c: c}
		var sum uint32
		s.head, sum = chunkHead(c)
		binary.LittleEndian.PutUint32(s.sum[:], sum)
		chunks = append(chunks, s)
		start += int64(len(b))
		seq++
	}
	o.mu.Lock()
	o.queue = append(o.queue, chunks...)
	o.mu.Unlock()
}

// flush seals the buffer (only whole chunks of FlushBytes if full) and
// stores the queued chunks in order, up to the first failure.
func (o *output) flush(full bool) error {
	o.seal(full)
	o.mu.Lock()
	queue := slices.Clone(o.queue)
	o.mu.Unlock()
	var err error
	for _, s := range queue {
		ctx, cancel := context.WithTimeout(context.Background(), o.l.o.Timeout)
		body := io.MultiReader(bytes.NewReader(s.head), bytes.NewReader(s.c.data), bytes.NewReader(s.sum[:]))
		err = o.l.store.Put(ctx, o.l.o.Bucket, o.l.chunkKey(o.name, s.seq, s.c.start), body)
		cancel()
		if err != nil {
			err = fmt.Errorf("storing chunk %d of log %s: %w", s.seq, o.name, err)
			break
		}
		o.mu.Lock()
		o.queue = o.queue[1:]
		o.pending -= len(s.c.data)
		o.mu.Unlock()
		o.l.cache.put(cacheKey{o.st.id, s.seq}, s.c)
		o.st.add(s.seq, s.c)
	}
	o.mu.Lock()
	close(o.flushed)
	o.flushed = make(chan struct{})
	o.mu.Unlock()
	return err
}

// Close implements buildlog.Output: the last flush, tried until
// CloseTimeout, and the completion marker.
func (o *output) Close() error {
	close(o.stop)
	<-o.done
	deadline := time.Now().Add(o.l.o.CloseTimeout)
	var err error
	for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		if err = o.flush(false); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), o.l.o.Timeout)
			m := marker{chunks: o.nextSeq, size: o.end}
			err = o.l.store.Put(ctx, o.l.o.Bucket, o.l.markerKey(o.name), bytes.NewReader(encodeMarker(m)))
			cancel()
			if err == nil {
				o.finish(&m)
				return nil
			}
			err = fmt.Errorf("completing log %s: %w", o.name, err)
		}
		if time.Now().Add(backoff).After(deadline) {
			break
		}
		time.Sleep(backoff)
	}
	o.finish(nil)
	o.mu.Lock()
	defer o.mu.Unlock()
	return fmt.Errorf("%w (%d bytes of the log not stored)", err, o.pending)
}

func (o *output) finish(m *marker) {
	st := o.st
	st.mu.Lock()
	defer st.mu.Unlock()
	st.writer = nil
	st.final = m
	close(st.changed)
	st.changed = make(chan struct{})
}

// cache keeps chunks, least recently used first out.
type cache struct {
	mu    sync.Mutex
	max   int
	size  int
	order *list.List // of *entry, most recently used first
	m     map[cacheKey]*list.Element
}

type cacheKey struct {
	log uint64 // logState.id
	seq int64
}

type entry struct {
	k    cacheKey
	c    *chunk
	size int
}

func newCache(max int) *cache {
	return &cache{max: max, order: list.New(), m: map[cacheKey]*list.Element{}}
}

func (c *cache) get(k cacheKey) *chunk {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[k]; e != nil {
		c.order.MoveToFront(e)
		return e.Value.(*entry).c
	}
	return nil
}

func (c *cache) put(k cacheKey, ch *chunk) {
	size := len(ch.data) + 16*len(ch.recs) + 64
	if size > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[k] != nil {
		return
	}
	c.m[k] = c.order.PushFront(&entry{k, ch, size})
	c.size += size
	for c.size > c.max {
		e := c.order.Back()
		c.order.Remove(e)
		old := e.Value.(*entry)
		delete(c.m, old.k)
		c.size -= old.size
	}
}
