package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/buildbatch/buildbatch/internal/store"
)

func testResources(t *testing.T, s store.Store) {
	defer s.Close()
	other := store.Scope{Account: "444455556666", Region: "us-east-1"}
	res := func(sc store.Scope, kind, name, parent, key string, at int) *store.Resource {
		return &store.Resource{Scope: sc, Kind: kind, Name: name, Parent: parent, Key: key,
			Created: t0.Add(timeStep(at)), Modified: t0.Add(timeStep(at)), Doc: []byte(`{"name":"` + name + `"}`)}
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, r := range []*store.Resource{
			res(scope, store.KindSandbox, "p:2", "p", "", 2),
			res(scope, store.KindSandbox, "p:1", "p", "", 1),
			res(scope, store.KindSandbox, "q:1", "q", "", 3),
			res(other, store.KindSandbox, "p:1", "p", "", 0),
			res(scope, store.KindWebhook, "p", "", "tok-1", 0),
			res(scope, store.KindFleet, "p:1", "", "", 0), // same name, another kind
		} {
			if err := tx.ResourceInsert(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	for _, c := range []struct {
		what string
		r    *store.Resource
	}{
		{"same name", res(scope, store.KindSandbox, "p:1", "p", "", 9)},
		{"same key", res(other, store.KindWebhook, "x", "", "tok-1", 9)},
	} {
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.ResourceInsert(ctx, c.r) }); !errors.Is(err, store.ErrConflict) {
			t.Errorf("ResourceInsert (%s) = %v, want ErrConflict", c.what, err)
		}
	}
	var got *store.Resource
	var err error
	s.View(ctx, func(tx store.Tx) error { got, err = tx.ResourceGet(ctx, scope, store.KindSandbox, "p:1"); return err })
	if err != nil || got.Parent != "p" || string(got.Doc) != `{"name":"p:1"}` || !got.Created.Equal(t0.Add(timeStep(1))) || got.Scope != scope {
		t.Errorf("ResourceGet = %+v, %v", got, err)
	}
	s.View(ctx, func(tx store.Tx) error { _, err = tx.ResourceGet(ctx, scope, store.KindSandbox, "nope"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ResourceGet of a missing resource = %v, want ErrNotFound", err)
	}
	s.View(ctx, func(tx store.Tx) error { got, err = tx.ResourceByKey(ctx, store.KindWebhook, "tok-1"); return err })
	if err != nil || got.Name != "p" || got.Scope != scope {
		t.Errorf("ResourceByKey = %+v, %v", got, err)
	}
	s.View(ctx, func(tx store.Tx) error { _, err = tx.ResourceByKey(ctx, store.KindFleet, "tok-1"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ResourceByKey of another kind = %v, want ErrNotFound", err)
	}

	names := func(sc store.Scope, kind, parent string) []string {
		t.Helper()
		var l []*store.Resource
		if err := s.View(ctx, func(tx store.Tx) error { l, err = tx.ResourceList(ctx, sc, kind, parent); return err }); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range l {
			out = append(out, r.Scope.Account+"/"+r.Name)
		}
		return out
	}
	for _, c := range []struct {
		sc           store.Scope
		kind, parent string
		want         []string
	}{
		{scope, store.KindSandbox, "", []string{"111122223333/p:1", "111122223333/p:2", "111122223333/q:1"}},
		{scope, store.KindSandbox, "p", []string{"111122223333/p:1", "111122223333/p:2"}},
		{other, store.KindSandbox, "", []string{"444455556666/p:1"}},
		{store.Scope{}, store.KindSandbox, "p", []string{"444455556666/p:1", "111122223333/p:1", "111122223333/p:2"}},
		{scope, store.KindPolicy, "", nil},
	} {
		if got := names(c.sc, c.kind, c.parent); !equalStrings(got, c.want) {
			t.Errorf("ResourceList(%v, %s, %q) = %v, want %v", c.sc, c.kind, c.parent, got, c.want)
		}
	}

	// Put replaces the document, the parent and the key.
	up := res(scope, store.KindWebhook, "p", "", "tok-2", 0)
	up.Doc, up.Modified = []byte(`{"v":2}`), t0.Add(timeStep(5))
	mustUpdate(t, s, func(tx store.Tx) error { return tx.ResourcePut(ctx, up) })
	s.View(ctx, func(tx store.Tx) error { got, err = tx.ResourceByKey(ctx, store.KindWebhook, "tok-2"); return err })
	if err != nil || string(got.Doc) != `{"v":2}` || !got.Modified.Equal(t0.Add(timeStep(5))) || !got.Created.Equal(t0) {
		t.Errorf("after ResourcePut: %+v, %v", got, err)
	}
	s.View(ctx, func(tx store.Tx) error { _, err = tx.ResourceByKey(ctx, store.KindWebhook, "tok-1"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old key after ResourcePut = %v, want ErrNotFound", err)
	}
	// Another resource's key is a conflict, and the transaction goes on.
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.ResourceInsert(ctx, res(scope, store.KindWebhook, "q", "", "tok-3", 0))
	})
	clash := res(scope, store.KindWebhook, "q", "", "tok-2", 0)
	if err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.ResourcePut(ctx, clash); !errors.Is(err, store.ErrConflict) {
			t.Errorf("ResourcePut taking another's key = %v, want ErrConflict", err)
		}
		_, err := tx.ResourceGet(ctx, scope, store.KindWebhook, "q")
		return err
	}); err != nil {
		t.Errorf("the transaction after a key conflict: %v", err)
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.ResourcePut(ctx, res(scope, store.KindWebhook, "none", "", "", 0)) }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ResourcePut of a missing resource = %v, want ErrNotFound", err)
	}

	// Live resources: found across scopes without the others; a Put
	// that ends them takes them out.
	live := func() []string {
		t.Helper()
		var l []*store.Resource
		if err := s.View(ctx, func(tx store.Tx) error { l, err = tx.ResourceListLive(ctx, store.KindSandbox); return err }); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range l {
			if !r.Live {
				t.Errorf("ResourceListLive returned %s, not live", r.Name)
			}
			out = append(out, r.Scope.Account+"/"+r.Name)
		}
		return out
	}
	if got := live(); len(got) != 0 {
		t.Errorf("ResourceListLive with none live = %v", got)
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, r := range []*store.Resource{res(scope, store.KindSandbox, "q:1", "q", "", 3), res(other, store.KindSandbox, "p:1", "p", "", 0)} {
			r.Live = true
			if err := tx.ResourcePut(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if got := live(); !equalStrings(got, []string{"444455556666/p:1", "111122223333/q:1"}) {
		t.Errorf("ResourceListLive = %v", got)
	}
	s.View(ctx, func(tx store.Tx) error { got, err = tx.ResourceGet(ctx, scope, store.KindSandbox, "q:1"); return err })
	if err != nil || !got.Live {
		t.Errorf("ResourceGet of a live resource: %+v, %v", got, err)
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.ResourcePut(ctx, res(other, store.KindSandbox, "p:1", "p", "", 0)) })
	if got := live(); !equalStrings(got, []string{"111122223333/q:1"}) {
		t.Errorf("ResourceListLive after one ended = %v", got)
	}

	mustUpdate(t, s, func(tx store.Tx) error { return tx.ResourceDelete(ctx, scope, store.KindSandbox, "p:1") })
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.ResourceDelete(ctx, scope, store.KindSandbox, "p:1") }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second ResourceDelete = %v, want ErrNotFound", err)
	}
	if got := names(scope, store.KindSandbox, "p"); !equalStrings(got, []string{"111122223333/p:2"}) {
		t.Errorf("after ResourceDelete: %v", got)
	}
	// The other account's resource of the same name is untouched.
	if got := names(other, store.KindSandbox, "p"); len(got) != 1 {
		t.Errorf("other scope after ResourceDelete: %v", got)
	}
}

func timeStep(n int) time.Duration { return time.Duration(n) * time.Second }

func equalStrings(a, b []string) bool { return slices.Equal(a, b) }
