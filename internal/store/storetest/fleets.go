package storetest

import (
	"fmt"
	"testing"
	"time"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
)

// Builds on a fleet are claimed only through Claim.Fleets, within the
// limit asked for each fleet; BuildFleetLoad counts them.
func testFleetClaims(t *testing.T, s store.Store) {
	defer s.Close()
	other := store.Scope{Account: "999999999999", Region: "us-east-1"}
	onFleet := func(sc store.Scope, n int64, ref string) *store.Build {
		b := queuedBuild(sc, "p", n)
		b.Doc.Environment = &cb.ProjectEnvironment{Type: cb.String("LINUX_CONTAINER"), Fleet: &cb.ProjectFleet{FleetArn: cb.String(ref)}}
		return b
	}
	arn := "arn:aws:codebuild:us-east-1:111122223333:fleet/f1:0c8a7d2e-1111-2222-3333-444455556666"
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, b := range []*store.Build{onFleet(scope, 1, arn), onFleet(scope, 2, "f1"), queuedBuild(scope, "p", 3),
			onFleet(scope, 4, "f2"), onFleet(other, 5, "f1")} {
			if err := tx.BuildInsert(ctx, b); err != nil {
				return err
			}
		}
		return nil
	})
	load := func() string {
		t.Helper()
		var l []store.FleetLoad
		if err := s.View(ctx, func(tx store.Tx) (err error) { l, err = tx.BuildFleetLoad(ctx); return err }); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(l)
	}
	want := fmt.Sprint([]store.FleetLoad{{Scope: scope, Fleet: "f1", Queued: 2}, {Scope: other, Fleet: "f1", Queued: 1}, {Scope: scope, Fleet: "f2", Queued: 1}})
	if got := load(); got != want {
		t.Errorf("BuildFleetLoad = %s, want %s", got, want)
	}
	until := t0.Add(time.Hour)
	// The on-demand limit takes only the build on no fleet.
	if got := ids(claim(t, s, store.Claim{Node: "A", Now: t0, Until: until, Limit: 10})); got != "[p:3]" {
		t.Errorf("on-demand claim = %s, want [p:3]", got)
	}
	// A fleet's limit takes its builds of its scope, oldest first.
	got := ids(claim(t, s, store.Claim{Node: "A", Now: t0, Until: until, Fleets: []store.FleetClaim{{Scope: scope, Fleet: "f1", Limit: 1}, {Scope: scope, Fleet: "f2", Limit: 0}}}))
	if got != "[p:1]" {
		t.Errorf("fleet claim = %s, want [p:1]", got)
	}
	want = fmt.Sprint([]store.FleetLoad{{Scope: scope, Fleet: "f1", Queued: 1, Running: 1}, {Scope: other, Fleet: "f1", Queued: 1}, {Scope: scope, Fleet: "f2", Queued: 1}})
	if got := load(); got != want {
		t.Errorf("BuildFleetLoad after a claim = %s, want %s", got, want)
	}
	got = ids(claim(t, s, store.Claim{Node: "B", Now: t0, Until: until, Limit: 1, Fleets: []store.FleetClaim{{Scope: scope, Fleet: "f1", Limit: 5}, {Scope: other, Fleet: "f1", Limit: 5}}}))
	if got != "[p:2 p:5]" {
		t.Errorf("second fleet claim = %s, want [p:2 p:5]", got)
	}
	// A fleet that overflows on demand: its builds past its reserved
	// ones compete for the on-demand slots in creation order with the
	// builds on no fleet.
	if got := ids(claim(t, s, store.Claim{Node: "A", Now: t0, Until: until, Limit: 5, OnDemand: []store.FleetRef{{Scope: scope, Fleet: "f2"}}})); got != "[p:4]" {
		t.Errorf("on-demand claim of a fleet's build = %s, want [p:4]", got)
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, b := range []*store.Build{onFleet(scope, 6, "f3"), queuedBuild(scope, "p", 7), onFleet(scope, 8, "f3"), onFleet(scope, 9, "f3"), queuedBuild(scope, "p", 10)} {
			if err := tx.BuildInsert(ctx, b); err != nil {
				return err
			}
		}
		return nil
	})
	got = ids(claim(t, s, store.Claim{Node: "A", Now: t0, Until: until, Limit: 2,
		Fleets: []store.FleetClaim{{Scope: scope, Fleet: "f3", Limit: 1}}, OnDemand: []store.FleetRef{{Scope: scope, Fleet: "f3"}}}))
	if got != "[p:6 p:7 p:8]" {
		t.Errorf("reserved then on-demand claim = %s, want [p:6 p:7 p:8] (f3's reserved p:6, then p:7 and p:8 by creation)", got)
	}
	for _, c := range []struct {
		ref, want string
	}{{arn, "f1"}, {"f1", "f1"}, {"", ""}} {
		b := onFleet(scope, 9, c.ref)
		if got := store.FleetOf(b.Doc); got != c.want {
			t.Errorf("FleetOf(%q) = %q, want %q", c.ref, got, c.want)
		}
	}
}
