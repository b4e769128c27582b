package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
	"github.com/buildbatch/buildbatch/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func() store.Store {
		path := filepath.Join(t.TempDir(), "db")
		return func() store.Store {
			db, err := Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			return db
		}
	})
}

func TestMigrationVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	var v int
	db.write.QueryRow(`PRAGMA user_version`).Scan(&v)
	var mode string
	db.write.QueryRow(`PRAGMA journal_mode`).Scan(&mode)
	db.Close()
	if v != SchemaVersion || mode != "wal" {
		t.Errorf("user_version %d journal_mode %s, want %d wal", v, mode, SchemaVersion)
	}
	// A database from a newer buildbatch is refused, not damaged.
	raw, _ := sql.Open("sqlite", "file:"+path)
	raw.Exec(`PRAGMA user_version = 999`)
	raw.Close()
	if _, err := Open(context.Background(), path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer schema = %v, want a 'newer' error", err)
	}
}

// Migration 6 fills queued from the documents of the builds it finds:
// a build waiting in the queue before the upgrade is claimed after it.
func TestMigrationQueued(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range migrations[:5] {
		if _, err := raw.Exec(m); err != nil {
			t.Fatalf("migration %d: %v", i+1, err)
		}
	}
	scope := store.Scope{Account: "a", Region: "r"}
	at := cb.At(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	phase := func(typ string, ended bool) cb.BuildPhase {
		p := cb.BuildPhase{PhaseType: cb.String(typ), StartTime: at}
		if ended {
			p.EndTime = at
		}
		return p
	}
	docs := map[string]*cb.Build{
		"p:1": {Phases: []cb.BuildPhase{phase("SUBMITTED", true), phase("QUEUED", false)}},                               // queued
		"p:2": {Phases: []cb.BuildPhase{phase("SUBMITTED", true), phase("QUEUED", true), phase("PROVISIONING", false)}},  // running
		"p:3": {Phases: []cb.BuildPhase{phase("SUBMITTED", true), phase("QUEUED", true)}},                                // between phases
		"p:4": {},                                                                                                        // no phases
		"p:5": {Phases: []cb.BuildPhase{phase("SUBMITTED", true), phase("QUEUED", false)}, BuildComplete: cb.Bool(true)}, // complete
		"p:6": {Phases: []cb.BuildPhase{phase("QUEUED", false)}, Initiator: cb.String("a\x00\u2028é\\u0000\\")},          // queued
	}
	for _, id := range []string{"p:1", "p:2", "p:3", "p:4", "p:5", "p:6"} {
		d := docs[id]
		d.Id = cb.String(id)
		doc, _ := json.Marshal(d)
		if _, err := raw.Exec(`INSERT INTO builds (account, region, id, project, number, status, complete, batch_id, doc, meta)
			VALUES (?, ?, ?, 'p', 1, 'IN_PROGRESS', ?, '', ?, '{}')`, scope.Account, scope.Region, id, cb.Deref(d.BuildComplete), doc); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := raw.Exec(`INSERT INTO batches (account, region, id, project, number, status, complete, doc, meta)
		VALUES ('a', 'r', 'p:b1', 'p', 1, 'IN_PROGRESS', 0, '{"id":"p:b1"}', '{}')`); err != nil {
		t.Fatal(err)
	}
	raw.Exec(`PRAGMA user_version = 5`)
	raw.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var claimed []*store.Build
	err = db.Update(ctx, func(tx store.Tx) (err error) {
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
	if err := db.View(ctx, func(tx store.Tx) (err error) { x, err = tx.BatchGet(ctx, scope, "p:b1"); return err }); err != nil || x.Rev != 1 {
		t.Errorf("batch after migrating: %+v, %v", x, err)
	}
}
