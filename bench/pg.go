package main

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/buildbatch/buildbatch/internal/store/postgres"
	"github.com/buildbatch/buildbatch/internal/store/postgres/pgtest"
)

// pgURL is the PostgreSQL server of the parts that use one: that of
// $BUILDBATCH_POSTGRES_URL (pgtest.EnvURL) if set, else a throwaway one,
// started by the first part (initdb and pg_ctl must be on PATH; as root it
// runs as pgtest.User) and stopped, its directory removed, in the
// environment's cleanup; if the bench dies without cleanup, pgtest's
// watchdog stops it. pgErr is why there is none.
var (
	pgURL    string
	pgServer *pgtest.Server
	pgErr    error
)

// postgresDB returns the URL of a fresh, empty database on the bench's
// PostgreSQL server, starting the server if need be; the database goes
// with the throwaway server, or is dropped in cleanup. An error says there
// is no server to be had (the parts skip their rows then, as the Docker
// part does without Docker).
func (e *benchEnv) postgresDB() (string, error) {
	if pgURL == "" && pgErr == nil {
		pgURL = os.Getenv(pgtest.EnvURL)
	}
	if pgURL == "" && pgErr == nil {
		t0 := time.Now()
		s, err := pgtest.StartServer()
		if err != nil {
			pgErr = err
			return "", err
		}
		pgURL, pgServer = s.URL, s
		e.atExit = append(e.atExit, func() {
			s.Stop()
			pgURL, pgServer = "", nil
		})
		log.Printf("PostgreSQL started in %v", time.Since(t0).Round(time.Millisecond))
	}
	if pgErr != nil {
		return "", pgErr
	}
	url, drop, err := pgtest.CreateDatabase(context.Background(), pgURL)
	if err != nil {
		fatalf("creating a PostgreSQL database: %v", err)
	}
	if pgServer == nil { // else the database goes with the server
		e.atExit = append(e.atExit, func() {
			if err := drop(); err != nil {
				log.Print(err)
			}
		})
	}
	return url, nil
}

// pgWhat says which PostgreSQL server the figures come from.
func pgWhat() string {
	if pgServer == nil {
		return "the server of $" + pgtest.EnvURL
	}
	return "a throwaway local server over TCP on 127.0.0.1, `synchronous_commit=off`"
}

// populatePG stores completed builds in the PostgreSQL database at url
// until there are n, as populate does in SQLite, then has PostgreSQL
// gather the tables' statistics (ANALYZE), as its autovacuum does on a
// server in use: a table filled in one go has none until then, and
// without them the planner answers BatchGetBuilds by reading every build
// of the account and region (the listing index) instead of looking the
// 100 ids up.
func populatePG(url string, ids []string, n int) []string {
	ctx := context.Background()
	st, err := postgres.Open(ctx, url)
	if err != nil {
		fatal(err)
	}
	ids = fill(st, ids, n)
	st.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `ANALYZE`); err != nil {
		fatalf("ANALYZE: %v", err)
	}
	return ids
}
