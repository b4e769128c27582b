package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
	"github.com/buildbatch/buildbatch/internal/store/postgres/pgtest"
	"github.com/buildbatch/buildbatch/internal/store/sqlite"
	"github.com/buildbatch/buildbatch/internal/store/storetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

var (
	ctx   = context.Background()
	scope = store.Scope{Account: "111122223333", Region: "us-east-1"}
	t0    = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

func open(t *testing.T, url string) *Store {
	t.Helper()
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func() store.Store {
		url := pgtest.Start(t)
		return func() store.Store { return open(t, url) }
	})
}

func TestMigrationVersion(t *testing.T) {
	t.Parallel()
	url := pgtest.Start(t)
	s := open(t, url)
	var v int
	if err := s.pool.QueryRow(ctx, `SELECT max(version) FROM schema_version`).Scan(&v); err != nil || v != SchemaVersion {
		t.Errorf("schema_version %d, %v; want %d", v, err, SchemaVersion)
	}
	s.Close()
	// Opening again applies nothing.
	s = open(t, url)
	var n int
	s.pool.QueryRow(ctx, `SELECT count(*) FROM schema_version`).Scan(&n)
	if n != SchemaVersion {
		t.Errorf("%d schema_version rows after reopening, want %d", n, SchemaVersion)
	}
	// A database from a newer buildbatch is refused, not damaged.
	if _, err := s.pool.Exec(ctx, `INSERT INTO schema_version (version) VALUES (999)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(ctx, url); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer schema = %v, want a 'newer' error", err)
	}
}

// Servers opening a new database at once migrate it once.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	url := pgtest.Start(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := Open(ctx, url)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	s := open(t, url)
	defer s.Close()
	var n int
	s.pool.QueryRow(ctx, `SELECT count(*) FROM schema_version`).Scan(&n)
	if n != SchemaVersion {
		t.Errorf("%d schema_version rows, want %d", n, SchemaVersion)
	}
}

// Concurrent Updates that read, change and write the same rows lose no
// write: serialization failures are retried.
func TestConcurrentUpdates(t *testing.T) {
	t.Parallel()
	url := pgtest.Start(t)
	if strings.HasPrefix(url, "postgres") { // a URL: more connections than workers
		sep := map[bool]string{true: "&", false: "?"}[strings.Contains(url, "?")]
		url += sep + "pool_max_conns=10"
	}
	s := open(t, url)
	defer s.Close()
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.BuildInsert(ctx, &store.Build{Scope: scope, Doc: &cb.Build{Id: cb.String("p:1"), ProjectName: cb.String("p"),
			BuildNumber: cb.Int64(1), BuildStatus: cb.String("IN_PROGRESS"), BuildComplete: cb.Bool(false)}})
	})
	const workers, each = 8, 15
	var runs atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	counters := make(chan int64, workers*each)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				var c int64
				err := s.Update(ctx, func(tx store.Tx) error {
					runs.Add(1)
					b, err := tx.BuildGet(ctx, scope, "p:1")
					if err != nil {
						return err
					}
					b.Meta.Shard++
					if err := tx.BuildPut(ctx, b); err != nil {
						return err
					}
					c, err = tx.CounterNext(ctx, scope, "p", "build")
					return err
				})
				if err != nil {
					errc <- err
					return
				}
				counters <- c
			}
		}()
	}
	wg.Wait()
	close(errc)
	close(counters)
	for err := range errc {
		t.Fatal(err)
	}
	var b *store.Build
	if err := s.View(ctx, func(tx store.Tx) (err error) { b, err = tx.BuildGet(ctx, scope, "p:1"); return err }); err != nil {
		t.Fatal(err)
	}
	if b.Meta.Shard != workers*each {
		t.Errorf("after %d increments, shard = %d", workers*each, b.Meta.Shard)
	}
	seen := map[int64]bool{}
	for c := range counters {
		if seen[c] || c < 1 || c > workers*each {
			t.Errorf("counter value %d repeated or out of range", c)
		}
		seen[c] = true
	}
	t.Logf("%d updates took %d runs of fn", workers*each, runs.Load())
}

// A statement that finds a conflict does not abort the transaction: the
// caller may go on and commit.
func TestConflictThenContinue(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.Start(t))
	defer s.Close()
	p := &cb.Project{Name: cb.String("a"), Created: cb.At(t0), LastModified: cb.At(t0)}
	b := &store.Build{Scope: scope, Doc: &cb.Build{Id: cb.String("a:1"), ProjectName: cb.String("a"), BuildNumber: cb.Int64(1)}}
	g := &store.ReportGroup{Scope: scope, Doc: &cb.ReportGroup{Name: cb.String("g")}}
	r := &store.Report{Scope: scope, Group: "g", Doc: &cb.Report{Arn: cb.String("arn:report/g:1")}}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.ProjectInsert(ctx, scope, p); err != nil {
			return err
		}
		if err := tx.ReportGroupInsert(ctx, g); err != nil {
			return err
		}
		if err := tx.ReportInsert(ctx, r); err != nil {
			return err
		}
		return tx.BuildInsert(ctx, b)
	})
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.ProjectInsert(ctx, scope, p); !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("ProjectInsert = %v, want ErrConflict", err)
		}
		if err := tx.BuildInsert(ctx, b); !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("BuildInsert = %v, want ErrConflict", err)
		}
		if err := tx.ReportGroupInsert(ctx, g); !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("ReportGroupInsert = %v, want ErrConflict", err)
		}
		if err := tx.ReportInsert(ctx, r); !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("ReportInsert = %v, want ErrConflict", err)
		}
		if _, err := tx.ReportGet(ctx, scope, "nope"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("ReportGet = %v, want ErrNotFound", err)
		}
		if _, err := tx.ProjectGet(ctx, scope, "nope"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("ProjectGet = %v, want ErrNotFound", err)
		}
		p.Description = cb.String("kept")
		return tx.ProjectPut(ctx, scope, p)
	})
	var got *cb.Project
	s.View(ctx, func(tx store.Tx) (err error) { got, err = tx.ProjectGet(ctx, scope, "a"); return err })
	if got == nil || cb.Deref(got.Description) != "kept" {
		t.Errorf("after the transaction: %+v", got)
	}
	// A write in View fails.
	if err := s.View(ctx, func(tx store.Tx) error { return tx.ProjectDelete(ctx, scope, "a") }); err == nil {
		t.Error("ProjectDelete in View succeeded")
	}
}

// Builds and reports are numbered in commit order: an insert waits for a
// transaction that inserted before it to end.
func TestSeqFollowsCommits(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.Start(t))
	defer s.Close()
	kinds := map[string]func(tx store.Tx, n int) (int64, error){
		"build": func(tx store.Tx, n int) (int64, error) {
			b := store.Build{Scope: scope, Doc: &cb.Build{Id: cb.String(fmt.Sprintf("p:%d", n)), ProjectName: cb.String("p")}}
			err := tx.BuildInsert(ctx, &b)
			return b.Seq, err
		},
		"report": func(tx store.Tx, n int) (int64, error) {
			r := store.Report{Scope: scope, Group: "g", Doc: &cb.Report{Arn: cb.String(fmt.Sprintf("arn:report/g:%d", n))}}
			err := tx.ReportInsert(ctx, &r)
			return r.Seq, err
		},
	}
	for kind, insert := range kinds {
		inserted, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		var first, second int64
		done := make(chan error, 1)
		go func() {
			done <- s.Update(ctx, func(tx store.Tx) (err error) {
				if first, err = insert(tx, 1); err != nil {
					return err
				}
				once.Do(func() { close(inserted) })
				<-release
				return nil
			})
		}()
		<-inserted
		secondDone := make(chan error, 1)
		go func() {
			secondDone <- s.Update(ctx, func(tx store.Tx) (err error) { second, err = insert(tx, 2); return err })
		}()
		select {
		case err := <-secondDone:
			t.Fatalf("second %s insert ended (%v) while the first transaction was open", kind, err)
		case <-time.After(300 * time.Millisecond):
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := <-secondDone; err != nil {
			t.Fatal(err)
		}
		if first >= second {
			t.Errorf("%s seq %d committed first, %d second", kind, first, second)
		}
	}
}

// The same operations on SQLite and PostgreSQL answer the same, down to
// the order of names that only byte order sorts, ties of sort keys, and
// odd page limits.
func TestSameAsSQLite(t *testing.T) {
	t.Parallel()
	lite, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pg := open(t, pgtest.Start(t))
	defer pg.Close()
	names := []string{"b", "B", "a", "_x", "é", "Z9", "a-b", "a_b", "aa", "10", "9", "a\x00", "a\x01", "a\x00b", "\x01", "a\x02"}
	stores := []store.Store{lite, pg}
	for _, s := range stores {
		mustUpdate(t, s, func(tx store.Tx) error {
			for i, n := range names {
				// Ties: created takes three values, modified one.
				p := &cb.Project{Name: cb.String(n), Created: cb.At(t0.Add(time.Duration(i%3) * time.Second)), LastModified: cb.At(t0)}
				if err := tx.ProjectInsert(ctx, scope, p); err != nil {
					return err
				}
			}
			for i := range 7 {
				project := []string{"p", "q"}[i%2]
				if err := tx.BuildInsert(ctx, &store.Build{Scope: scope, Doc: &cb.Build{Id: cb.String(fmt.Sprintf("%s:%d", project, i)),
					ProjectName: cb.String(project), BuildNumber: cb.Int64(int64(i)), BuildComplete: cb.Bool(i%3 == 0)}}); err != nil {
					return err
				}
				if err := tx.BatchInsert(ctx, &store.Batch{Scope: scope, Doc: &cb.BuildBatch{Id: cb.String(fmt.Sprintf("%s:b%d", project, i)),
					ProjectName: cb.String(project), BuildBatchStatus: cb.String([]string{"FAILED", "SUCCEEDED"}[i%2])}}); err != nil {
					return err
				}
			}
			for i, n := range names {
				g := &cb.ReportGroup{Name: cb.String(n), Created: cb.At(t0.Add(time.Duration(i%3) * time.Second)), LastModified: cb.At(t0)}
				if err := tx.ReportGroupInsert(ctx, &store.ReportGroup{Scope: scope, Doc: g}); err != nil {
					return err
				}
			}
			for i := range 9 {
				group := []string{"g", "g\x00", "h"}[i%3]
				r := &store.Report{Scope: scope, Group: group, Doc: &cb.Report{Arn: cb.String(fmt.Sprintf("arn:report/%s:%d", group, i)),
					Status: cb.String([]string{"FAILED", "SUCCEEDED"}[i%2])},
					TestCases: []cb.TestCase{{Name: cb.String(fmt.Sprintf("t\x00%d", i))}}}
				if err := tx.ReportInsert(ctx, r); err != nil {
					return err
				}
			}
			return nil
		})
	}
	// Every listing, paged to its end, on both stores.
	listAll := func(s store.Store, page func(tx store.Tx, after *store.Cursor) ([]string, *store.Cursor, error)) string {
		var out []string
		var after *store.Cursor
		for range 100 {
			var ids []string
			var next *store.Cursor
			err := s.View(ctx, func(tx store.Tx) (err error) { ids, next, err = page(tx, after); return err })
			out = append(out, fmt.Sprintf("%q %+v %v", ids, next, err))
			if next == nil || err != nil {
				break
			}
			after = next
		}
		return strings.Join(out, "\n")
	}
	for _, limit := range []int{-2, -1, 0, 1, 2, 3, 100} {
		for _, desc := range []bool{false, true} {
			p := func(after *store.Cursor) store.Page { return store.Page{After: after, Limit: limit, Descending: desc} }
			for _, by := range []store.ProjectSort{store.ProjectsByName, store.ProjectsByCreated, store.ProjectsByModified, 7} {
				compare(t, fmt.Sprintf("ProjectList(by %d, limit %d, desc %v)", by, limit, desc), stores, func(s store.Store) any {
					return listAll(s, func(tx store.Tx, after *store.Cursor) ([]string, *store.Cursor, error) {
						return tx.ProjectList(ctx, scope, by, p(after))
					})
				})
			}
			for _, by := range []store.ProjectSort{store.ProjectsByName, store.ProjectsByCreated, store.ProjectsByModified, 7} {
				compare(t, fmt.Sprintf("ReportGroupList(by %d, limit %d, desc %v)", by, limit, desc), stores, func(s store.Store) any {
					return listAll(s, func(tx store.Tx, after *store.Cursor) ([]string, *store.Cursor, error) {
						return tx.ReportGroupList(ctx, scope, by, p(after))
					})
				})
			}
			for _, group := range []string{"", "g", "g\x00", "none"} {
				for _, status := range []string{"", "FAILED"} {
					compare(t, fmt.Sprintf("ReportList(%q, %q, limit %d, desc %v)", group, status, limit, desc), stores, func(s store.Store) any {
						return listAll(s, func(tx store.Tx, after *store.Cursor) ([]string, *store.Cursor, error) {
							return tx.ReportList(ctx, scope, group, status, p(after))
						})
					})
				}
			}
			for _, project := range []string{"", "p", "none"} {
				// A zero limit's cursor is {Key: 0}, which SQLite's page
				// cache of build listings takes for the first page (After
				// nil) when that is cached, and for "seq < 0" otherwise.
				if limit != 0 || !desc {
					compare(t, fmt.Sprintf("BuildList(%q, limit %d, desc %v)", project, limit, desc), stores, func(s store.Store) any {
						return listAll(s, func(tx store.Tx, after *store.Cursor) ([]string, *store.Cursor, error) {
							return tx.BuildList(ctx, scope, project, p(after))
						})
					})
				}
				for _, status := range []string{"", "FAILED"} {
					compare(t, fmt.Sprintf("BatchList(%q, %q, limit %d, desc %v)", project, status, limit, desc), stores, func(s store.Store) any {
						return listAll(s, func(tx store.Tx, after *store.Cursor) ([]string, *store.Cursor, error) {
							return tx.BatchList(ctx, scope, project, status, p(after))
						})
					})
				}
			}
		}
	}
	view := func(s store.Store, fn func(tx store.Tx) (any, error)) any {
		var v any
		err := s.View(ctx, func(tx store.Tx) (err error) { v, err = fn(tx); return err })
		return fmt.Sprintf("%#v %v", v, err)
	}
	compare(t, "ProjectList of another scope", stores, func(s store.Store) any {
		return view(s, func(tx store.Tx) (any, error) {
			names, next, err := tx.ProjectList(ctx, store.Scope{Account: "x"}, store.ProjectsByName, store.Page{Limit: 5})
			return fmt.Sprintf("%#v %v", names, next), err
		})
	})
	compare(t, "ProjectDocs", stores, func(s store.Store) any {
		return view(s, func(tx store.Tx) (any, error) {
			docs, err := tx.ProjectDocs(ctx, scope, []string{"é", "nope", "B", "é", "a\x00", "a\x00\x00"})
			return fmt.Sprintf("%q", docs), err
		})
	})
	compare(t, "ProjectGet", stores, func(s store.Store) any {
		return view(s, func(tx store.Tx) (any, error) {
			p, err := tx.ProjectGet(ctx, scope, "a\x00b")
			if err != nil {
				return nil, err
			}
			return cb.Deref(p.Name), nil
		})
	})
	compare(t, "Idempotency", stores, func(s store.Store) any {
		err := s.Update(ctx, func(tx store.Tx) error {
			return tx.IdempotencyPut(ctx, scope, "op", "t\x00", "h\x00\x01", "id\x01", t0.Add(time.Hour))
		})
		return []any{err, view(s, func(tx store.Tx) (any, error) {
			h, id, err := tx.IdempotencyGet(ctx, scope, "op", "t\x00", t0)
			return []string{h, id}, err
		}), view(s, func(tx store.Tx) (any, error) {
			h, id, err := tx.IdempotencyGet(ctx, scope, "op", "t", t0)
			return []string{h, id}, err
		})}
	})
	compare(t, "Scope with NUL", stores, func(s store.Store) any {
		odd := store.Scope{Account: "a\x00", Region: "\x01"}
		err := s.Update(ctx, func(tx store.Tx) error {
			return tx.BuildInsert(ctx, &store.Build{Scope: odd, Doc: &cb.Build{Id: cb.String("odd\x00:1"), BuildComplete: cb.Bool(false)}})
		})
		return []any{err, view(s, func(tx store.Tx) (any, error) {
			b, err := tx.BuildGet(ctx, odd, "odd\x00:1")
			if err != nil {
				return nil, err
			}
			return fmt.Sprintf("%q %q", b.Scope, cb.Deref(b.Doc.Id)), nil
		}), view(s, func(tx store.Tx) (any, error) {
			ids, next, err := tx.BuildList(ctx, odd, "", store.Page{Limit: 5})
			return fmt.Sprintf("%q %v", ids, next), err
		}), view(s, func(tx store.Tx) (any, error) {
			bs, err := tx.BuildListIncomplete(ctx)
			var scopes []string
			for _, b := range bs {
				scopes = append(scopes, fmt.Sprintf("%q", b.Scope))
			}
			return scopes, err
		})}
	})
	compare(t, "Buckets with NUL", stores, func(s store.Store) any {
		odd := store.Scope{Account: "a\x00", Region: "\x01"}
		var claims []string
		for _, c := range []struct {
			name string
			s    store.Scope
		}{{"b\x00", odd}, {"b\x00", scope}, {"b", scope}, {"b\x01", odd}} {
			err := s.Update(ctx, func(tx store.Tx) error {
				o, err := tx.BucketClaim(ctx, c.name, c.s, t0)
				claims = append(claims, fmt.Sprintf("%q", o))
				return err
			})
			claims = append(claims, fmt.Sprint(err))
		}
		var owners []any
		for _, name := range []string{"b\x00", "b", "b\x01", "b\x02", "b\x00\x00"} {
			owners = append(owners, view(s, func(tx store.Tx) (any, error) {
				o, ok, err := tx.BucketOwner(ctx, name)
				return fmt.Sprintf("%q %v", o, ok), err
			}))
		}
		return []any{claims, owners}
	})
	compare(t, "ReportGroupGet", stores, func(s store.Store) any {
		return view(s, func(tx store.Tx) (any, error) {
			g, err := tx.ReportGroupGet(ctx, scope, "a\x00b")
			if err != nil {
				return nil, err
			}
			return fmt.Sprintf("%q %q", g.Scope, cb.Deref(g.Doc.Name)), nil
		})
	})
	compare(t, "ReportGet", stores, func(s store.Store) any {
		return view(s, func(tx store.Tx) (any, error) {
			r, err := tx.ReportGet(ctx, scope, "arn:report/g\x00:4")
			if err != nil {
				return nil, err
			}
			return fmt.Sprintf("%q %q %q %q %v", r.Scope, r.Group, cb.Deref(r.Doc.Arn), cb.Deref(r.TestCases[0].Name), r.Coverages), nil
		})
	})
	compare(t, "ProjectDocs of none", stores, func(s store.Store) any {
		return view(s, func(tx store.Tx) (any, error) { return tx.ProjectDocs(ctx, scope, nil) })
	})
	compare(t, "BuildListIncomplete", stores, func(s store.Store) any {
		return view(s, func(tx store.Tx) (any, error) {
			bs, err := tx.BuildListIncomplete(ctx)
			var ids []string
			for _, b := range bs {
				ids = append(ids, cb.Deref(b.Doc.Id))
			}
			return fmt.Sprintf("%d %v", len(bs), ids), err
		})
	})
	compare(t, "BuildListByBatch('')", stores, func(s store.Store) any {
		return view(s, func(tx store.Tx) (any, error) {
			bs, err := tx.BuildListByBatch(ctx, scope, "")
			return len(bs), err
		})
	})
	compare(t, "BatchListIncomplete", stores, func(s store.Store) any {
		return view(s, func(tx store.Tx) (any, error) {
			bs, err := tx.BatchListIncomplete(ctx)
			return len(bs), err
		})
	})
	compare(t, "errors", stores, func(s store.Store) any {
		var out []string
		for _, err := range []error{
			s.Update(ctx, func(tx store.Tx) error { return tx.ProjectDelete(ctx, scope, "nope") }),
			s.Update(ctx, func(tx store.Tx) error { return tx.BuildDelete(ctx, scope, "nope") }),
			s.Update(ctx, func(tx store.Tx) error { return tx.BatchDelete(ctx, scope, "nope") }),
			s.View(ctx, func(tx store.Tx) error { _, err := tx.BuildGet(ctx, scope, "nope"); return err }),
			s.View(ctx, func(tx store.Tx) error { _, err := tx.BatchGet(ctx, scope, "nope"); return err }),
			s.View(ctx, func(tx store.Tx) error { _, _, err := tx.IdempotencyGet(ctx, scope, "op", "t", t0); return err }),
			s.Update(ctx, func(tx store.Tx) error {
				return tx.BatchInsert(ctx, &store.Batch{Scope: store.Scope{Account: "other"}, Doc: &cb.BuildBatch{Id: cb.String("p:b1")}})
			}),
			s.Update(ctx, func(tx store.Tx) error {
				return tx.BuildPut(ctx, &store.Build{Scope: store.Scope{Account: "other"}, Doc: &cb.Build{Id: cb.String("p:0")}})
			}),
			s.Update(ctx, func(tx store.Tx) error { return tx.ReportGroupDelete(ctx, scope, "nope") }),
			s.Update(ctx, func(tx store.Tx) error { return tx.ReportDelete(ctx, scope, "nope") }),
			s.View(ctx, func(tx store.Tx) error { _, err := tx.ReportGroupGet(ctx, scope, "nope"); return err }),
			s.View(ctx, func(tx store.Tx) error { _, err := tx.ReportGet(ctx, scope, "nope"); return err }),
			s.Update(ctx, func(tx store.Tx) error {
				return tx.ReportGroupInsert(ctx, &store.ReportGroup{Scope: scope, Doc: &cb.ReportGroup{Name: cb.String("a")}})
			}),
			s.Update(ctx, func(tx store.Tx) error {
				return tx.ReportInsert(ctx, &store.Report{Scope: scope, Doc: &cb.Report{Arn: cb.String("arn:report/g:0")}})
			}),
			s.Update(ctx, func(tx store.Tx) error {
				return tx.ReportGroupPut(ctx, &store.ReportGroup{Scope: store.Scope{Account: "other"}, Doc: &cb.ReportGroup{Name: cb.String("a")}})
			}),
			s.Update(ctx, func(tx store.Tx) error {
				return tx.ReportPut(ctx, &store.Report{Scope: store.Scope{Account: "other"}, Doc: &cb.Report{Arn: cb.String("arn:report/g:0")}})
			}),
		} {
			out = append(out, fmt.Sprint(err, errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict)))
		}
		return out
	})
}

func compare(t *testing.T, what string, stores []store.Store, fn func(store.Store) any) {
	t.Helper()
	want, got := fn(stores[0]), fn(stores[1])
	if !reflect.DeepEqual(want, got) {
		t.Errorf("%s:\nsqlite:   %v\npostgres: %v", what, want, got)
	}
}

// Seq values, the only thing SQLite and PostgreSQL number differently,
// still start at 1 on an empty database.
func TestFirstSeq(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.Start(t))
	defer s.Close()
	b := &store.Build{Scope: scope, Doc: &cb.Build{Id: cb.String("p:1")}}
	x := &store.Batch{Scope: scope, Doc: &cb.BuildBatch{Id: cb.String("p:b1")}}
	r := &store.Report{Scope: scope, Group: "g", Doc: &cb.Report{Arn: cb.String("arn:report/g:1")}}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.BuildInsert(ctx, b); err != nil {
			return err
		}
		if err := tx.BatchInsert(ctx, x); err != nil {
			return err
		}
		return tx.ReportInsert(ctx, r)
	})
	if b.Seq != 1 || x.Seq != 1 || r.Seq != 1 {
		t.Errorf("first seqs %d %d %d, want 1 1 1", b.Seq, x.Seq, r.Seq)
	}
}

// Update's fn runs exactly once, even when it fails with what would be a
// retryable error.
func TestRunsOnce(t *testing.T) {
	t.Parallel()
	url := pgtest.Start(t)
	s := open(t, url)
	defer s.Close()
	var runs int
	err := s.Update(ctx, func(tx store.Tx) error {
		runs++
		_, err := tx.(*txn).exec(ctx, `DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = 'serialization_failure'; END $$`)
		return err
	})
	if err == nil || runs != 1 {
		t.Errorf("Update = %v after %d runs, want the failure after 1", err, runs)
	}
}

// escape keeps byte order and is undone by unescape.
func TestEscape(t *testing.T) {
	var all []string
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		all = append(all, prefix)
		if n > 0 {
			for _, c := range "\x00\x01\x02a" {
				gen(prefix+string(c), n-1)
			}
		}
	}
	gen("", 4)
	for _, a := range all {
		if unescape(escape(a)) != a || strings.IndexByte(escape(a), 0) >= 0 {
			t.Fatalf("escape(%q) = %q, unescaped %q", a, escape(a), unescape(escape(a)))
		}
		for _, b := range all {
			if strings.Compare(a, b) != strings.Compare(escape(a), escape(b)) {
				t.Fatalf("%q, %q: escaped %q, %q compare otherwise", a, b, escape(a), escape(b))
			}
		}
	}
	if escape("plain") != "plain" || unescape("plain") != "plain" {
		t.Error("plain strings change")
	}
}

func mustUpdate(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

// Migration 3 fills queued from the documents of the builds it finds: a
// build waiting in the queue before the upgrade is claimed after it.
func TestMigrationQueued(t *testing.T) {
	t.Parallel()
	url := pgtest.Start(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for i, m := range migrations[:2] {
		if _, err := conn.Exec(ctx, m); err != nil {
			t.Fatalf("migration %d: %v", i+1, err)
		}
		conn.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, i+1)
	}
	at := cb.At(t0)
	phase := func(typ string, ended bool) cb.BuildPhase {
		p := cb.BuildPhase{PhaseType: cb.String(typ), StartTime: at}
		if ended {
			p.EndTime = at
		}
		return p
	}
	docs := []*cb.Build{
		{Phases: []cb.BuildPhase{phase("SUBMITTED", true), phase("QUEUED", false)}},                              // queued
		{Phases: []cb.BuildPhase{phase("SUBMITTED", true), phase("QUEUED", true), phase("PROVISIONING", false)}}, // running
		{Phases: []cb.BuildPhase{phase("SUBMITTED", true), phase("QUEUED", true)}},                               // between phases
		{}, // no phases
		{Phases: []cb.BuildPhase{phase("SUBMITTED", true), phase("QUEUED", false)}, BuildComplete: cb.Bool(true)}, // complete
		{Phases: []cb.BuildPhase{phase("QUEUED", false)}, Initiator: cb.String("a\x00\u2028é\\u0000\\")},          // queued
	}
	for i, d := range docs {
		d.Id = cb.String(fmt.Sprintf("p:%d", i+1))
		doc, _ := json.Marshal(d)
		if _, err := conn.Exec(ctx, `INSERT INTO builds (account, region, id, project, number, status, complete, batch_id, doc, meta)
			VALUES ($1, $2, $3, 'p', 1, 'IN_PROGRESS', $4, '', $5, '{}')`, scope.Account, scope.Region, *d.Id, cb.Deref(d.BuildComplete), doc); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, `INSERT INTO batches (account, region, id, project, number, status, complete, doc, meta)
		VALUES ($1, $2, 'p:b1', 'p', 1, 'IN_PROGRESS', false, '{"id":"p:b1"}', '{}')`, scope.Account, scope.Region); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	s := open(t, url)
	defer s.Close()
	var claimed []*store.Build
	err = s.Update(ctx, func(tx store.Tx) (err error) {
		claimed, err = tx.BuildClaim(ctx, store.Claim{Node: "n", Now: time.Now(), Until: time.Now().Add(time.Minute), Limit: 10})
		return err
	})
	var got []string
	for _, b := range claimed {
		got = append(got, fmt.Sprintf("%s@%d", cb.Deref(b.Doc.Id), b.Rev))
	}
	if err != nil || fmt.Sprint(got) != "[p:2@2 p:3@2 p:4@2 p:1@2 p:6@2]" {
		t.Errorf("claim after migrating = %v, %v; want the running builds (orphans of the server before leases), then the queued ones", got, err)
	}
	var x *store.Batch
	if err := s.View(ctx, func(tx store.Tx) (err error) { x, err = tx.BatchGet(ctx, scope, "p:b1"); return err }); err != nil || x.Rev != 1 {
		t.Errorf("batch after migrating: %+v, %v", x, err)
	}
}

// Claims of builds with odd node names and scopes, and the errors of
// revision-checked writes, are as in SQLite.
func TestClaimsSameAsSQLite(t *testing.T) {
	t.Parallel()
	lite, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pg := open(t, pgtest.Start(t))
	defer pg.Close()
	odd := store.Scope{Account: "a\x00", Region: "\x01"}
	queued := func(sc store.Scope, id string) *store.Build {
		return &store.Build{Scope: sc, Doc: &cb.Build{Id: cb.String(id), BuildComplete: cb.Bool(false),
			Phases: []cb.BuildPhase{{PhaseType: cb.String("QUEUED"), StartTime: cb.At(t0)}}}}
	}
	describe := func(bs []*store.Build) []string {
		var out []string
		for _, b := range bs {
			out = append(out, fmt.Sprintf("%q %q %d %q %v %v", b.Scope, cb.Deref(b.Doc.Id), b.Rev, b.Node, b.LeaseUntil.UnixNano(), b.StopRequested))
		}
		return out
	}
	compare(t, "claims", []store.Store{lite, pg}, func(s store.Store) any {
		var out []any
		err := s.Update(ctx, func(tx store.Tx) error {
			for i, sc := range []store.Scope{scope, odd, scope, odd} {
				if err := tx.BuildInsert(ctx, queued(sc, fmt.Sprintf("p\x00:%d", i))); err != nil {
					return err
				}
			}
			return tx.BuildRequestStop(ctx, odd, "p\x00:1")
		})
		out = append(out, err)
		for _, c := range []store.Claim{
			{Node: "n\x00\x01é", Now: t0, Until: t0.Add(time.Minute), Limit: 3},
			{Node: "n\x00", Now: t0.Add(2 * time.Minute), Until: t0.Add(3 * time.Minute), Limit: 3},
			{Node: "n\x00", Now: t0, Until: t0.Add(4 * time.Minute), Own: true},
			{Node: "", Limit: 1},
		} {
			var got []*store.Build
			err := s.Update(ctx, func(tx store.Tx) (err error) { got, err = tx.BuildClaim(ctx, c); return err })
			out = append(out, describe(got), fmt.Sprint(err))
		}
		for _, node := range []string{"n\x00", "n\x00\x01é", ""} {
			var ls []store.Lease
			err := s.Update(ctx, func(tx store.Tx) (err error) { ls, err = tx.BuildRenew(ctx, node, t0.Add(time.Hour)); return err })
			var leases []string
			for _, l := range ls {
				leases = append(leases, fmt.Sprintf("%q %q %v", l.Scope, l.ID, l.StopRequested))
			}
			out = append(out, leases, fmt.Sprint(err))
		}
		var b *store.Build
		s.View(ctx, func(tx store.Tx) (err error) { b, err = tx.BuildGet(ctx, odd, "p\x00:1"); return err })
		out = append(out, describe([]*store.Build{b}))
		stale := *b
		stale.Rev--
		for _, err := range []error{
			s.Update(ctx, func(tx store.Tx) error { return tx.BuildPut(ctx, &stale) }),
			s.Update(ctx, func(tx store.Tx) error { return tx.BuildRequestStop(ctx, scope, "p\x00:1") }),
			s.Update(ctx, func(tx store.Tx) error {
				return tx.BatchPut(ctx, &store.Batch{Scope: scope, Doc: &cb.BuildBatch{Id: cb.String("nope")}})
			}),
		} {
			out = append(out, fmt.Sprint(err, errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrStale)))
		}
		return out
	})
}
