package sqlite

import (
	"container/list"
	"context"
	"strings"
	"sync"

	"github.com/buildbatch/buildbatch/internal/store"
)

// docCache keeps recently written or read documents (JSON bytes), bounded
// in bytes, so that BatchGet answers do not go to SQLite for hot resources.
// Writes reach it only when their transaction commits.
type docCache struct {
	mu    sync.Mutex
	max   int
	size  int
	lru   *list.List // front: most recent
	items map[string]*list.Element

	// Build listings: pages are cached with the generation of their scope,
	// which every committed insert or delete of a build bumps.
	gens  map[store.Scope]uint64
	pages map[string]listPage
	// writes counts commits that changed documents (see putRead), bumps
	// the bumps of every scope.
	writes, bumps uint64
}

type listPage struct {
	gen  uint64
	ids  []string
	next *store.Cursor
}

const maxPages = 4096

func (c *docCache) gen(s store.Scope) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gens[s]
}

func (c *docCache) bump(s store.Scope) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gens[s]++
	c.bumps++
}

// bumpCount is the number of bumps so far, in every scope.
func (c *docCache) bumpCount() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bumps
}

func (c *docCache) page(key string, gen uint64) (listPage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pages[key]
	return p, ok && p.gen == gen
}

func (c *docCache) putPage(key string, p listPage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pages) >= maxPages {
		clear(c.pages)
	}
	c.pages[key] = p
}

type cacheEntry struct {
	key string
	doc []byte
}

func newDocCache(maxBytes int) *docCache {
	return &docCache{max: maxBytes, lru: list.New(), items: map[string]*list.Element{}, gens: map[store.Scope]uint64{}, pages: map[string]listPage{}}
}

func cacheKey(kind string, s store.Scope, id string) string {
	return kind + "\x00" + s.Account + "\x00" + s.Region + "\x00" + id
}

func (c *docCache) get(key string) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*cacheEntry).doc
	}
	return nil
}

// wrote counts a commit that changes documents.
func (c *docCache) wrote() {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
}

// writeCount is the number of commits that changed documents so far.
func (c *docCache) writeCount() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

// putRead caches a document read from SQLite, unless a commit changed
// documents since the read began (at writeCount() == since): the read may
// then be older than what that commit put in the cache.
func (c *docCache) putRead(key string, doc []byte, since uint64) {
	c.mu.Lock()
	stale := c.writes != since
	c.mu.Unlock()
	if !stale {
		c.put(key, doc)
	}
}

// put stores a document; a nil doc removes the key.
func (c *docCache) put(key string, doc []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.size -= len(e.Value.(*cacheEntry).doc)
		c.lru.Remove(e)
		delete(c.items, key)
	}
	if doc == nil || len(doc) > c.max/8 {
		return
	}
	c.items[key] = c.lru.PushFront(&cacheEntry{key, doc})
	c.size += len(doc)
	for c.size > c.max {
		e := c.lru.Back()
		ent := e.Value.(*cacheEntry)
		c.size -= len(ent.doc)
		c.lru.Remove(e)
		delete(c.items, ent.key)
	}
}

// cached records a document change, applied to the cache on commit.
func (t *txn) cached(kind string, s store.Scope, id string, doc []byte) {
	t.pending = append(t.pending, cacheEntry{cacheKey(kind, s, id), doc})
}

// docs returns documents by key, from the cache or, for the rest, from one
// query; what it reads from SQLite it caches.
func (t *txn) docs(ctx context.Context, kind, table, keyCol string, s store.Scope, ids []string) ([][]byte, error) {
	out := make([][]byte, len(ids))
	var missing []string
	for i, id := range ids {
		if d := t.cache.get(cacheKey(kind, s, id)); d != nil {
			out[i] = d
		} else {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	since := t.cache.writeCount()
	found := map[string][]byte{}
	for start := 0; start < len(missing); start += 100 {
		part := missing[start:min(start+100, len(missing))]
		// Builds and batches are asked by id alone, so that SQLite uses the
		// id's own index; projects by their primary key. Rows of other
		// scopes are dropped below.
		where := keyCol + " IN (?" + strings.Repeat(", ?", len(part)-1) + ")"
		args := make([]any, 0, len(part)+2)
		if table == "projects" {
			where = "account = ? AND region = ? AND " + where
			args = append(args, s.Account, s.Region)
		}
		q := "SELECT account, region, " + keyCol + ", doc FROM " + table + " WHERE " + where
		for _, id := range part {
			args = append(args, id)
		}
		rows, err := t.query(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var account, region, id string
			var doc []byte
			if err := rows.Scan(&account, &region, &id, &doc); err != nil {
				rows.Close()
				return nil, err
			}
			if account == s.Account && region == s.Region {
				found[id] = doc
			}
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	for i, id := range ids {
		if out[i] == nil {
			if d, ok := found[id]; ok {
				out[i] = d
				if t.readOnly {
					t.cache.putRead(cacheKey(kind, s, id), d, since)
				}
			}
		}
	}
	return out, nil
}

func (t *txn) ProjectDocs(ctx context.Context, s store.Scope, names []string) ([][]byte, error) {
	return t.docs(ctx, "p", "projects", "name", s, names)
}

func (t *txn) BuildDocs(ctx context.Context, s store.Scope, ids []string) ([][]byte, error) {
	return t.docs(ctx, "b", "builds", "id", s, ids)
}

func (t *txn) BatchDocs(ctx context.Context, s store.Scope, ids []string) ([][]byte, error) {
	return t.docs(ctx, "x", "batches", "id", s, ids)
}
