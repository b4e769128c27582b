package storetest

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/buildbatch/buildbatch/internal/store"
)

func bucketOwner(t *testing.T, s store.Store, name string) (store.Scope, bool) {
	t.Helper()
	var owner store.Scope
	var ok bool
	err := s.View(ctx, func(tx store.Tx) (err error) { owner, ok, err = tx.BucketOwner(ctx, name); return err })
	if err != nil {
		t.Fatalf("BucketOwner(%q) = %v", name, err)
	}
	return owner, ok
}

func bucketClaim(t *testing.T, s store.Store, name string, sc store.Scope) store.Scope {
	t.Helper()
	var owner store.Scope
	err := s.Update(ctx, func(tx store.Tx) (err error) { owner, err = tx.BucketClaim(ctx, name, sc, t0); return err })
	if err != nil {
		t.Fatalf("BucketClaim(%q, %+v) = %v", name, sc, err)
	}
	return owner
}

// testBuckets: a bucket belongs to the first scope (account and region)
// that claims it, whichever scope asks; claims race to one owner; a
// rolled-back claim leaves no owner; owners survive a restart.
func testBuckets(t *testing.T, open func() store.Store) {
	s := open()
	defer func() { s.Close() }()
	otherRegion := store.Scope{Account: scope.Account, Region: "eu-west-1"}
	otherAccount := store.Scope{Account: "999999999999", Region: scope.Region}
	none := store.Scope{}
	// want holds the owners the steps leave, checked again after reopening.
	want := map[string]store.Scope{}

	t.Run("Steps", func(t *testing.T) {
		// Each step runs in its own transaction: a claim in an Update, a
		// look-up in a View.
		steps := []struct {
			what   string
			claim  bool // BucketClaim by scope sc, else BucketOwner
			bucket string
			sc     store.Scope
			want   store.Scope
			ok     bool
		}{
			{"never written", false, "artifacts", none, none, false},
			{"first claim wins", true, "artifacts", scope, scope, true},
			{"owner after the claim", false, "artifacts", none, scope, true},
			{"claim again by the owner", true, "artifacts", scope, scope, true},
			{"another account's claim", true, "artifacts", otherAccount, scope, true},
			{"owner unchanged", false, "artifacts", none, scope, true},
			{"same account, other region", true, "artifacts", otherRegion, scope, true},
			{"owner still unchanged", false, "artifacts", none, scope, true},
			// The region is part of the owner.
			{"claimed from another region", true, "eu-cache", otherRegion, otherRegion, true},
			{"its owner's region", false, "eu-cache", none, otherRegion, true},
			{"the account's other region", true, "eu-cache", scope, otherRegion, true},
			// Names are global, and whole: no other name is claimed.
			{"another account's bucket", true, "theirs", otherAccount, otherAccount, true},
			{"claimed from scope", true, "theirs", scope, otherAccount, true},
			{"a longer name", false, "artifacts-2", none, none, false},
			{"a prefix", false, "artifact", none, none, false},
			{"other case", false, "Artifacts", none, none, false},
			{"the longer name claimed", true, "artifacts-2", otherAccount, otherAccount, true},
			{"the first unchanged", false, "artifacts", none, scope, true},
		}
		for _, st := range steps {
			var got store.Scope
			ok := true
			if st.claim {
				got = bucketClaim(t, s, st.bucket, st.sc)
			} else {
				got, ok = bucketOwner(t, s, st.bucket)
			}
			if got != st.want || ok != st.ok {
				t.Errorf("%s: %q: got %+v, %v; want %+v, %v", st.what, st.bucket, got, ok, st.want, st.ok)
			}
		}
		want["artifacts"], want["eu-cache"], want["theirs"], want["artifacts-2"] = scope, otherRegion, otherAccount, otherAccount
	})

	t.Run("SameTransaction", func(t *testing.T) {
		// A transaction sees its own claim, and a second claim in it
		// changes nothing.
		err := s.Update(ctx, func(tx store.Tx) error {
			if o, ok, err := tx.BucketOwner(ctx, "mine"); err != nil || ok {
				return fmt.Errorf("before the claim, BucketOwner = %+v, %v, %v", o, ok, err)
			}
			if o, err := tx.BucketClaim(ctx, "mine", scope, t0); err != nil || o != scope {
				return fmt.Errorf("BucketClaim = %+v, %v", o, err)
			}
			if o, ok, err := tx.BucketOwner(ctx, "mine"); err != nil || !ok || o != scope {
				return fmt.Errorf("after the claim, BucketOwner = %+v, %v, %v", o, ok, err)
			}
			if o, err := tx.BucketClaim(ctx, "mine", otherAccount, t0.Add(time.Second)); err != nil || o != scope {
				return fmt.Errorf("second BucketClaim = %+v, %v", o, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want["mine"] = scope
	})

	t.Run("Rollback", func(t *testing.T) {
		boom := errors.New("boom")
		err := s.Update(ctx, func(tx store.Tx) error {
			if o, err := tx.BucketClaim(ctx, "rolled-back", otherAccount, t0); err != nil || o != otherAccount {
				return fmt.Errorf("BucketClaim = %+v, %v", o, err)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update = %v, want boom", err)
		}
		if o, ok := bucketOwner(t, s, "rolled-back"); ok {
			t.Errorf("a rolled-back claim is visible: owner %+v", o)
		}
		// The bucket is free for the next claim.
		if o := bucketClaim(t, s, "rolled-back", scope); o != scope {
			t.Errorf("claim after the rollback = %+v, want %+v", o, scope)
		}
		want["rolled-back"] = scope
	})

	t.Run("Concurrent", func(t *testing.T) {
		// Several transactions claim the same buckets for different
		// scopes at once, while readers look: one claim wins each bucket,
		// every claimer gets the winner back, and no reader sees another
		// owner.
		const claimers, buckets = 6, 5
		scopes := make([]store.Scope, claimers)
		for i := range scopes {
			scopes[i] = store.Scope{Account: fmt.Sprintf("%012d", i%3), Region: []string{"us-east-1", "eu-west-1"}[i/3]}
		}
		got := make([][buckets]store.Scope, claimers)
		var mu sync.Mutex
		seen := map[string][]store.Scope{}
		var wg sync.WaitGroup
		errc := make(chan error, 2*claimers)
		stop := make(chan struct{})
		var readers sync.WaitGroup
		for range 2 {
			readers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					for b := range buckets {
						name := fmt.Sprintf("race-%d", b)
						var o store.Scope
						var ok bool
						if err := s.View(ctx, func(tx store.Tx) (err error) { o, ok, err = tx.BucketOwner(ctx, name); return err }); err != nil {
							errc <- err
							return
						}
						if ok {
							mu.Lock()
							seen[name] = append(seen[name], o)
							mu.Unlock()
						}
					}
				}
			})
		}
		for i, sc := range scopes {
			wg.Go(func() {
				for j := range buckets {
					// Claimers go through the buckets in different orders.
					b := (j + i) % buckets
					err := s.Update(ctx, func(tx store.Tx) (err error) {
						got[i][b], err = tx.BucketClaim(ctx, fmt.Sprintf("race-%d", b), sc, t0)
						return err
					})
					if err != nil {
						errc <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(stop)
		readers.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		for b := range buckets {
			name := fmt.Sprintf("race-%d", b)
			owner, ok := bucketOwner(t, s, name)
			if !ok {
				t.Errorf("%s has no owner", name)
				continue
			}
			winner := false
			for i := range scopes {
				if got[i][b] != owner {
					t.Errorf("%s: claimer %d (%+v) got %+v, the owner is %+v", name, i, scopes[i], got[i][b], owner)
				}
				winner = winner || scopes[i] == owner
			}
			if !winner {
				t.Errorf("%s: owner %+v is none of the claimers", name, owner)
			}
			for _, o := range seen[name] {
				if o != owner {
					t.Errorf("%s: a reader saw owner %+v, the owner is %+v", name, o, owner)
					break
				}
			}
			want[name] = owner
		}
	})

	t.Run("ListAndRelease", func(t *testing.T) {
		// An account's buckets, in every region, by name; a released
		// bucket is unowned and listed no more, and can be claimed again.
		list := func(account string) string {
			t.Helper()
			var got []store.Bucket
			if err := s.View(ctx, func(tx store.Tx) (err error) { got, err = tx.BucketList(ctx, account); return err }); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, b := range got {
				if b.Owner.Account != account || b.Created.IsZero() || want[b.Name] != b.Owner {
					t.Errorf("BucketList(%s): %+v (want owner %+v)", account, b, want[b.Name])
				}
				names = append(names, b.Name+"@"+b.Owner.Region)
			}
			return strings.Join(names, " ")
		}
		var mine []string
		for name, o := range want {
			if o.Account == scope.Account {
				mine = append(mine, name+"@"+o.Region)
			}
		}
		sort.Strings(mine)
		if got := list(scope.Account); got != strings.Join(mine, " ") {
			t.Errorf("BucketList = %s, want %s", got, strings.Join(mine, " "))
		}
		if got := list("424242424242"); got != "" {
			t.Errorf("BucketList of an account with none = %q", got)
		}
		err := s.Update(ctx, func(tx store.Tx) error {
			if err := tx.BucketRelease(ctx, "mine"); err != nil {
				return err
			}
			return tx.BucketRelease(ctx, "never-claimed")
		})
		if err != nil {
			t.Fatal(err)
		}
		delete(want, "mine")
		if o, ok := bucketOwner(t, s, "mine"); ok {
			t.Errorf("a released bucket has owner %+v", o)
		}
		if strings.Contains(list(scope.Account), "mine@") {
			t.Errorf("a released bucket is listed")
		}
		if o := bucketClaim(t, s, "mine", otherAccount); o != otherAccount {
			t.Errorf("claim after release = %+v", o)
		}
		want["mine"] = otherAccount
	})

	t.Run("Durable", func(t *testing.T) {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = open()
		for name, o := range want {
			if got, ok := bucketOwner(t, s, name); !ok || got != o {
				t.Errorf("after reopen, %q owner = %+v, %v; want %+v", name, got, ok, o)
			}
		}
		if o, ok := bucketOwner(t, s, "never"); ok {
			t.Errorf("after reopen, an unclaimed bucket has owner %+v", o)
		}
		// A claim after the restart still finds the owner.
		late := store.Scope{Account: "123456789012", Region: "ap-south-1"}
		for name, o := range want {
			if got := bucketClaim(t, s, name, late); got != o {
				t.Errorf("after reopen, claim of %q = %+v, want %+v", name, got, o)
			}
		}
	})
}
