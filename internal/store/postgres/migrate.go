package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations are applied in order; schema_version has a row for each one
// applied. Never edit a released migration: append a new one.
//
// The tables are those of the SQLite store (version 1 here is SQLite's 4,
// version 2 SQLite's 5, version 3 SQLite's 6, version 4 SQLite's 7), with
// PostgreSQL types: documents and meta data as bytea (kept byte for byte),
// Unix nanoseconds as bigint, text in the "C" collation (byte order, as
// SQLite's BINARY), Seq from an identity column (never reused, as SQLite's
// AUTOINCREMENT).
var migrations = []string{
	// 1: projects, counters, builds, idempotency tokens, build batches.
	`CREATE TABLE projects (
		account       text COLLATE "C" NOT NULL,
		region        text COLLATE "C" NOT NULL,
		name          text COLLATE "C" NOT NULL,
		created       bigint NOT NULL,
		last_modified bigint NOT NULL,
		doc           bytea NOT NULL,
		PRIMARY KEY (account, region, name)
	);
	CREATE INDEX projects_by_created ON projects (account, region, created, name);
	CREATE INDEX projects_by_modified ON projects (account, region, last_modified, name);

	CREATE TABLE counters (
		account text COLLATE "C" NOT NULL,
		region  text COLLATE "C" NOT NULL,
		project text COLLATE "C" NOT NULL,
		kind    text COLLATE "C" NOT NULL,
		value   bigint NOT NULL,
		PRIMARY KEY (account, region, project, kind)
	);

	CREATE TABLE builds (
		seq      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		account  text COLLATE "C" NOT NULL,
		region   text COLLATE "C" NOT NULL,
		id       text COLLATE "C" NOT NULL UNIQUE,
		project  text COLLATE "C" NOT NULL,
		number   bigint NOT NULL,
		status   text COLLATE "C" NOT NULL,
		complete boolean NOT NULL,
		batch_id text COLLATE "C" NOT NULL,
		doc      bytea NOT NULL,
		meta     bytea NOT NULL
	);
	CREATE INDEX builds_by_scope ON builds (account, region, seq) INCLUDE (id);
	CREATE INDEX builds_by_project ON builds (account, region, project, seq) INCLUDE (id);
	CREATE INDEX builds_incomplete ON builds (seq) WHERE NOT complete;
	CREATE INDEX builds_by_batch ON builds (batch_id, seq);

	CREATE TABLE idempotency (
		account      text COLLATE "C" NOT NULL,
		region       text COLLATE "C" NOT NULL,
		op           text COLLATE "C" NOT NULL,
		token        text COLLATE "C" NOT NULL,
		request_hash text NOT NULL,
		resource_id  text NOT NULL,
		expires      bigint NOT NULL,
		PRIMARY KEY (account, region, op, token)
	);

	CREATE TABLE batches (
		seq      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		account  text COLLATE "C" NOT NULL,
		region   text COLLATE "C" NOT NULL,
		id       text COLLATE "C" NOT NULL UNIQUE,
		project  text COLLATE "C" NOT NULL,
		number   bigint NOT NULL,
		status   text COLLATE "C" NOT NULL,
		complete boolean NOT NULL,
		doc      bytea NOT NULL,
		meta     bytea NOT NULL
	);
	CREATE INDEX batches_by_scope ON batches (account, region, seq) INCLUDE (id, status);
	CREATE INDEX batches_by_project ON batches (account, region, project, seq) INCLUDE (id, status);
	CREATE INDEX batches_incomplete ON batches (seq) WHERE NOT complete;`,

	// 2: report groups and reports (SQLite's version 5).
	`CREATE TABLE report_groups (
		account       text COLLATE "C" NOT NULL,
		region        text COLLATE "C" NOT NULL,
		name          text COLLATE "C" NOT NULL,
		created       bigint NOT NULL,
		last_modified bigint NOT NULL,
		doc           bytea NOT NULL,
		PRIMARY KEY (account, region, name)
	);
	CREATE INDEX report_groups_by_created ON report_groups (account, region, created, name);
	CREATE INDEX report_groups_by_modified ON report_groups (account, region, last_modified, name);

	CREATE TABLE reports (
		seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		account      text COLLATE "C" NOT NULL,
		region       text COLLATE "C" NOT NULL,
		arn          text COLLATE "C" NOT NULL,
		report_group text COLLATE "C" NOT NULL,
		status       text COLLATE "C" NOT NULL,
		doc          bytea NOT NULL,
		test_cases   bytea NOT NULL,
		coverages    bytea NOT NULL,
		UNIQUE (account, region, arn)
	);
	CREATE INDEX reports_by_scope ON reports (account, region, seq) INCLUDE (arn, status);
	CREATE INDEX reports_by_group ON reports (account, region, report_group, seq) INCLUDE (arn, status);`,

	// 3: revisions and leases (SQLite's version 6): builds' and batches'
	// revisions; builds' queued (the open phase is QUEUED; filled here from
	// the documents of incomplete builds), node, lease end (Unix
	// nanoseconds, 0 for none) and stop request; partial indexes for
	// BuildClaim and BuildRenew. (PostgreSQL's json refuses to extract
	// from a document holding \u0000, which becomes \u0020 for the
	// look: only hex digits change, so the JSON stays valid.)
	`ALTER TABLE builds
		ADD COLUMN rev            bigint NOT NULL DEFAULT 1,
		ADD COLUMN queued         boolean NOT NULL DEFAULT false,
		ADD COLUMN node           text COLLATE "C" NOT NULL DEFAULT '',
		ADD COLUMN lease_until    bigint NOT NULL DEFAULT 0,
		ADD COLUMN stop_requested boolean NOT NULL DEFAULT false;
	ALTER TABLE batches ADD COLUMN rev bigint NOT NULL DEFAULT 1;
	UPDATE builds SET queued = true
		FROM (SELECT seq, replace(convert_from(doc, 'UTF8'), E'\\u0000', E'\\u0020')::json -> 'phases' -> -1 AS open
			FROM builds WHERE NOT complete) AS last
		WHERE builds.seq = last.seq AND last.open ->> 'phaseType' = 'QUEUED' AND last.open ->> 'endTime' IS NULL;
	UPDATE builds SET node = '(before leases)' WHERE NOT complete AND NOT queued;
	CREATE INDEX builds_claimable ON builds (queued, node, seq) WHERE NOT complete;
	CREATE INDEX builds_by_node ON builds (node, seq) WHERE NOT complete;
	CREATE INDEX builds_by_lease ON builds (lease_until) WHERE NOT complete AND node <> '';`,

	// 4: the owners of the blob store's buckets (SQLite's version 7): the
	// scope that first wrote to each (bucket names are global) and when
	// (Unix nanoseconds).
	`CREATE TABLE buckets (
		name    text COLLATE "C" PRIMARY KEY,
		account text COLLATE "C" NOT NULL,
		region  text COLLATE "C" NOT NULL,
		created bigint NOT NULL
	);`,

	// 5: resources kept as documents (SQLite's version 8).
	`CREATE TABLE resources (
		seq      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		account  text COLLATE "C" NOT NULL,
		region   text COLLATE "C" NOT NULL,
		kind     text COLLATE "C" NOT NULL,
		name     text COLLATE "C" NOT NULL,
		parent   text COLLATE "C" NOT NULL,
		key      text COLLATE "C",
		created  bigint NOT NULL,
		modified bigint NOT NULL,
		doc      bytea NOT NULL,
		live     boolean NOT NULL,
		UNIQUE (account, region, kind, name),
		UNIQUE (kind, key)
	);
	CREATE INDEX resources_by_parent ON resources (account, region, kind, parent, created, name);
	CREATE INDEX resources_by_kind ON resources (kind, created, name);
	CREATE INDEX resources_live ON resources (kind, created, name) WHERE live;`,

	// 6: the fleet a build runs on (SQLite's version 9).
	`ALTER TABLE builds ADD COLUMN fleet text COLLATE "C" NOT NULL DEFAULT '';
	CREATE INDEX builds_by_fleet ON builds (fleet, account, region, seq) WHERE NOT complete AND fleet <> '';`,
}

// SchemaVersion is the version this code migrates to.
var SchemaVersion = len(migrations)

// migrate applies the migrations the database lacks, in one transaction,
// under an advisory lock so that servers opening the database at once do
// not race.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return err
		}
		var v int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v); err != nil {
			return err
		}
		if v > len(migrations) {
			return fmt.Errorf("database schema version %d is newer than this buildbatch (%d); upgrade buildbatch", v, len(migrations))
		}
		for i := v; i < len(migrations); i++ {
			if _, err := tx.Exec(ctx, migrations[i]); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, i+1); err != nil {
				return err
			}
		}
		return nil
	})
}
