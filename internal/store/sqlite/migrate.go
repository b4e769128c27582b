package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are applied in order; the schema version is PRAGMA user_version.
// Never edit a released migration: append a new one.
var migrations = []string{
	// 1: projects.
	`CREATE TABLE projects (
		account       TEXT NOT NULL,
		region        TEXT NOT NULL,
		name          TEXT NOT NULL,
		created       INTEGER NOT NULL,
		last_modified INTEGER NOT NULL,
		doc           BLOB NOT NULL,
		PRIMARY KEY (account, region, name)
	) WITHOUT ROWID;
	CREATE INDEX projects_by_created ON projects (account, region, created, name);
	CREATE INDEX projects_by_modified ON projects (account, region, last_modified, name);`,

	// 2: builds, per-project counters, idempotency tokens.
	`CREATE TABLE counters (
		account TEXT NOT NULL,
		region  TEXT NOT NULL,
		project TEXT NOT NULL,
		kind    TEXT NOT NULL,
		value   INTEGER NOT NULL,
		PRIMARY KEY (account, region, project, kind)
	) WITHOUT ROWID;
	CREATE TABLE builds (
		seq      INTEGER PRIMARY KEY AUTOINCREMENT,
		account  TEXT NOT NULL,
		region   TEXT NOT NULL,
		id       TEXT NOT NULL UNIQUE,
		project  TEXT NOT NULL,
		number   INTEGER NOT NULL,
		status   TEXT NOT NULL,
		complete INTEGER NOT NULL,
		batch_id TEXT NOT NULL,
		doc      BLOB NOT NULL,
		meta     BLOB NOT NULL
	);
	CREATE INDEX builds_by_scope ON builds (account, region, seq);
	CREATE INDEX builds_by_project ON builds (account, region, project, seq);
	CREATE INDEX builds_incomplete ON builds (complete, seq) WHERE complete = 0;
	CREATE INDEX builds_by_batch ON builds (batch_id, seq) WHERE batch_id != '';
	CREATE TABLE idempotency (
		account       TEXT NOT NULL,
		region        TEXT NOT NULL,
		op            TEXT NOT NULL,
		token         TEXT NOT NULL,
		request_hash  TEXT NOT NULL,
		resource_id   TEXT NOT NULL,
		expires       INTEGER NOT NULL,
		PRIMARY KEY (account, region, op, token)
	) WITHOUT ROWID;`,

	// 3: build batches.
	`CREATE TABLE batches (
		seq      INTEGER PRIMARY KEY AUTOINCREMENT,
		account  TEXT NOT NULL,
		region   TEXT NOT NULL,
		id       TEXT NOT NULL UNIQUE,
		project  TEXT NOT NULL,
		number   INTEGER NOT NULL,
		status   TEXT NOT NULL,
		complete INTEGER NOT NULL,
		doc      BLOB NOT NULL,
		meta     BLOB NOT NULL
	);
	CREATE INDEX batches_by_scope ON batches (account, region, seq);
	CREATE INDEX batches_by_project ON batches (account, region, project, seq);
	CREATE INDEX batches_incomplete ON batches (complete, seq) WHERE complete = 0;`,

	// 4: listing indexes that cover the ids, so a page of a listing reads
	// the index only.
	`DROP INDEX builds_by_scope;
	DROP INDEX builds_by_project;
	CREATE INDEX builds_by_scope ON builds (account, region, seq, id);
	CREATE INDEX builds_by_project ON builds (account, region, project, seq, id);
	DROP INDEX batches_by_scope;
	DROP INDEX batches_by_project;
	CREATE INDEX batches_by_scope ON batches (account, region, seq, id, status);
	CREATE INDEX batches_by_project ON batches (account, region, project, seq, id, status);`,

	// 5: report groups (as projects) and reports (as batches, by ARN within
	// the scope), with each report's test cases and coverages beside its
	// document, as JSON arrays (after the document: reading a listing or
	// the document does not need the pages of a large array).
	`CREATE TABLE report_groups (
		account       TEXT NOT NULL,
		region        TEXT NOT NULL,
		name          TEXT NOT NULL,
		created       INTEGER NOT NULL,
		last_modified INTEGER NOT NULL,
		doc           BLOB NOT NULL,
		PRIMARY KEY (account, region, name)
	) WITHOUT ROWID;
	CREATE INDEX report_groups_by_created ON report_groups (account, region, created, name);
	CREATE INDEX report_groups_by_modified ON report_groups (account, region, last_modified, name);
	CREATE TABLE reports (
		seq          INTEGER PRIMARY KEY AUTOINCREMENT,
		account      TEXT NOT NULL,
		region       TEXT NOT NULL,
		arn          TEXT NOT NULL,
		report_group TEXT NOT NULL,
		status       TEXT NOT NULL,
		doc          BLOB NOT NULL,
		test_cases   BLOB NOT NULL,
		coverages    BLOB NOT NULL,
		UNIQUE (account, region, arn)
	);
	CREATE INDEX reports_by_scope ON reports (account, region, seq, arn, status);
	CREATE INDEX reports_by_group ON reports (account, region, report_group, seq, arn, status);`,

	// 6: revisions of builds and batches (checked by BuildPut and
	// BatchPut), and builds' leases: queued (the open phase is QUEUED,
	// kept from the document on every write; filled here from the
	// documents of incomplete builds), the node holding the build, its
	// lease's end (Unix nanoseconds; 0 for none) and StopBuild's request.
	// Builds that were running under a server without leases are held by
	// a node that will never renew them, so the next claim ends them.
	// The partial indexes serve BuildClaim (unclaimed queued builds,
	// expired leases, a node's own builds) and BuildRenew.
	`ALTER TABLE builds ADD COLUMN rev INTEGER NOT NULL DEFAULT 1;
	ALTER TABLE builds ADD COLUMN queued INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE builds ADD COLUMN node TEXT NOT NULL DEFAULT '';
	ALTER TABLE builds ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE builds ADD COLUMN stop_requested INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE batches ADD COLUMN rev INTEGER NOT NULL DEFAULT 1;
	UPDATE builds SET queued = 1 WHERE complete = 0 AND json_valid(CAST(doc AS TEXT))
		AND json_extract(CAST(doc AS TEXT), '$.phases[#-1].phaseType') = 'QUEUED'
		AND json_extract(CAST(doc AS TEXT), '$.phases[#-1].endTime') IS NULL;
	UPDATE builds SET node = '(before leases)' WHERE complete = 0 AND queued = 0;
	CREATE INDEX builds_claimable ON builds (queued, node, seq) WHERE complete = 0;
	CREATE INDEX builds_by_node ON builds (node, seq) WHERE complete = 0;
	CREATE INDEX builds_by_lease ON builds (lease_until) WHERE complete = 0 AND node != '';`,

	// 7: the owners of the blob store's buckets: the scope that first
	// wrote to each (bucket names are global, as in S3), and when it did
	// (Unix nanoseconds).
	`CREATE TABLE buckets (
		name    TEXT PRIMARY KEY,
		account TEXT NOT NULL,
		region  TEXT NOT NULL,
		created INTEGER NOT NULL
	) WITHOUT ROWID;`,

	// 8: resources kept as documents (webhooks, credentials, fleets,
	// sandboxes, command executions, resource policies).
	`CREATE TABLE resources (
		seq      INTEGER PRIMARY KEY AUTOINCREMENT,
		account  TEXT NOT NULL,
		region   TEXT NOT NULL,
		kind     TEXT NOT NULL,
		name     TEXT NOT NULL,
		parent   TEXT NOT NULL,
		key      TEXT,
		created  INTEGER NOT NULL,
		modified INTEGER NOT NULL,
		doc      BLOB NOT NULL,
		live     INTEGER NOT NULL,
		UNIQUE (account, region, kind, name),
		UNIQUE (kind, key)
	);
	CREATE INDEX resources_by_parent ON resources (account, region, kind, parent, created, name);
	CREATE INDEX resources_by_kind ON resources (kind, created, name);
	CREATE INDEX resources_live ON resources (kind, created, name) WHERE live = 1;`,

	// 9: the fleet a build runs on (store.FleetOf; '' for none): fleet
	// builds are claimed within their fleet's capacity.
	`ALTER TABLE builds ADD COLUMN fleet TEXT NOT NULL DEFAULT '';
	CREATE INDEX builds_by_fleet ON builds (fleet, account, region, seq) WHERE complete = 0 AND fleet != '';`,
}

// SchemaVersion is the version this code migrates to.
var SchemaVersion = len(migrations)

func migrate(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this buildbatch (%d); upgrade buildbatch", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, i+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}
