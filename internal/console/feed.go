package console

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
)

// event is what a client hears: a build or batch of its scope changed.
type event struct {
	Type    string `json:"type"` // build | batch | resync
	ID      string `json:"id,omitempty"`
	Batch   string `json:"batch,omitempty"` // a build's batch
	Project string `json:"project,omitempty"`
	Status  string `json:"status,omitempty"` // "" once it left the incomplete ones
	scope   store.Scope
}

type client struct {
	scope store.Scope
	ch    chan event
	// lost is set when ch was full: the client is told to resync.
	lost bool
}

// seen is what the feed remembers of an incomplete build or batch.
type seen struct {
	scope   store.Scope
	rev     int64
	batch   string
	project string
}

// feed is the process's one change feed (see the package doc).
type feed struct {
	mu      sync.Mutex
	clients map[*client]struct{}
	closed  bool
	done    chan struct{}
	wake    chan struct{}
	// prev holds the incomplete builds ("b"+id) and batches ("B"+id) of
	// the last read; nil until the first read after clients came.
	prev map[string]seen
	// lastBuild and lastBatch are the newest Seq read: a build or batch
	// made after them and complete by the next read (began and ended in
	// between) is announced too.
	lastBuild, lastBatch int64
	// reads counts the reads of the store (for tests).
	reads int
}

func newFeed() *feed {
	return &feed{clients: map[*client]struct{}{}, done: make(chan struct{}), wake: make(chan struct{}, 1)}
}

func (f *feed) subscribe(scope store.Scope) (*client, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, false
	}
	cl := &client{scope: scope, ch: make(chan event, 256)}
	f.clients[cl] = struct{}{}
	f.poke()
	return cl, true
}

func (f *feed) unsubscribe(cl *client) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.clients, cl)
}

// poke asks for a read now.
func (f *feed) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *feed) listening() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.clients) > 0
}

func (f *feed) publish(evs []event) {
	if len(evs) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for cl := range f.clients {
		for _, e := range evs {
			if e.scope != cl.scope {
				continue
			}
			if cl.lost {
				break
			}
			select {
			case cl.ch <- e:
			default:
				cl.lost = true
			}
		}
	}
}

// run reads the store while clients listen, until ctx is done.
func (f *feed) run(ctx context.Context, st store.Store, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	defer func() {
		f.mu.Lock()
		f.closed = true
		close(f.done)
		f.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-f.wake:
		}
		if !f.listening() {
			f.prev = nil // start afresh when a client comes
			continue
		}
		evs, err := f.read(ctx, st)
		f.mu.Lock()
		f.reads++
		f.mu.Unlock()
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("console: reading the change feed", "err", err)
			}
			continue
		}
		f.publish(evs)
	}
}

// afterLimit bounds the new builds (and batches) one read announces
// beyond the incomplete ones; more wait for the next read.
const afterLimit = 1000

// read compares the incomplete builds and batches with the last read, and
// finds those made since that are complete already.
func (f *feed) read(ctx context.Context, st store.Store) ([]event, error) {
	var builds, newBuilds []*store.Build
	var batches, newBatches []*store.Batch
	first := f.prev == nil
	lastBuild, lastBatch := f.lastBuild, f.lastBatch
	err := st.View(ctx, func(tx store.Tx) error {
		var err error
		if builds, err = tx.BuildListIncomplete(ctx); err != nil {
			return err
		}
		if batches, err = tx.BatchListIncomplete(ctx); err != nil {
			return err
		}
		if first {
			if lastBuild, err = tx.BuildLastSeq(ctx); err != nil {
				return err
			}
			lastBatch, err = tx.BatchLastSeq(ctx)
			return err
		}
		if newBuilds, err = tx.BuildListAfter(ctx, lastBuild, afterLimit); err != nil {
			return err
		}
		newBatches, err = tx.BatchListAfter(ctx, lastBatch, afterLimit)
		return err
	})
	if err != nil {
		return nil, err
	}
	now := make(map[string]seen, len(builds)+len(batches))
	var evs []event
	note := func(key, typ, id, status string, s seen) {
		now[key] = s
		if old, ok := f.prev[key]; !first && (!ok || old.rev != s.rev) {
			evs = append(evs, event{Type: typ, ID: id, Batch: s.batch, Project: s.project, Status: status, scope: s.scope})
		}
	}
	for _, b := range builds {
		id := codebuild.Deref(b.Doc.Id)
		note("b"+id, "build", id, codebuild.Deref(b.Doc.BuildStatus), seen{scope: b.Scope, rev: b.Rev, batch: b.Meta.BatchID, project: codebuild.Deref(b.Doc.ProjectName)})
	}
	for _, b := range batches {
		id := codebuild.Deref(b.Doc.Id)
		note("B"+id, "batch", id, codebuild.Deref(b.Doc.BuildBatchStatus), seen{scope: b.Scope, rev: b.Rev, project: codebuild.Deref(b.Doc.ProjectName)})
	}
	// Made and ended since the last read: never seen incomplete.
	fresh := func(key string, e event) {
		_, incomplete := now[key]
		if _, seen := f.prev[key]; !incomplete && !seen {
			evs = append(evs, e)
		}
	}
	for _, b := range newBuilds {
		lastBuild = max(lastBuild, b.Seq)
		id := codebuild.Deref(b.Doc.Id)
		fresh("b"+id, event{Type: "build", ID: id, Batch: b.Meta.BatchID, Project: codebuild.Deref(b.Doc.ProjectName), Status: codebuild.Deref(b.Doc.BuildStatus), scope: b.Scope})
	}
	for _, b := range newBatches {
		lastBatch = max(lastBatch, b.Seq)
		id := codebuild.Deref(b.Doc.Id)
		fresh("B"+id, event{Type: "batch", ID: id, Project: codebuild.Deref(b.Doc.ProjectName), Status: codebuild.Deref(b.Doc.BuildBatchStatus), scope: b.Scope})
	}
	f.lastBuild, f.lastBatch = lastBuild, lastBatch
	for key, s := range f.prev {
		if _, ok := now[key]; ok {
			continue
		}
		typ := "build"
		if key[0] == 'B' {
			typ = "batch"
		}
		evs = append(evs, event{Type: typ, ID: key[1:], Batch: s.batch, Project: s.project, scope: s.scope})
	}
	f.prev = now
	return evs, nil
}

// serveEvents streams the session's events (text/event-stream) until the
// client goes or the feed ends.
func (c *Console) serveEvents(w http.ResponseWriter, r *http.Request, s *session) {
	fl, ok := w.(http.Flusher)
	if !ok {
		c.error(w, http.StatusInternalServerError, "InternalFailure", "Streaming is not supported here.")
		return
	}
	cl, ok := c.feed.subscribe(s.scope())
	if !ok {
		c.error(w, http.StatusServiceUnavailable, "ServiceUnavailable", "The server is stopping.")
		return
	}
	defer c.feed.unsubscribe(cl)
	// The server's read timeout would end the stream.
	http.NewResponseController(w).SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 1000\n\n")
	fl.Flush()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	expires := time.Until(time.Unix(s.Expires, 0))
	end := time.NewTimer(max(expires, time.Second))
	defer end.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.feed.done:
			return
		case <-end.C:
			fmt.Fprint(w, "event: expired\ndata: {}\n\n")
			fl.Flush()
			return
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
		case e := <-cl.ch:
			b, _ := json.Marshal(e)
			fmt.Fprintf(w, "data: %s\n\n", b)
			// Send what else is there at once.
			for more := true; more; {
				select {
				case e := <-cl.ch:
					b, _ := json.Marshal(e)
					fmt.Fprintf(w, "data: %s\n\n", b)
				default:
					more = false
				}
			}
		}
		c.feed.mu.Lock()
		lost := cl.lost
		cl.lost = false
		c.feed.mu.Unlock()
		if lost {
			fmt.Fprint(w, "data: {\"type\":\"resync\"}\n\n")
		}
		fl.Flush()
	}
}
