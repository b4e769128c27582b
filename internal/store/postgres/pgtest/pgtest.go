// Package pgtest gives tests a throwaway PostgreSQL database.
//
// Start returns the URL of a fresh, empty database, dropped when the test
// ends. Its databases live on one server per test binary, started at the
// first call (initdb and pg_ctl must be on PATH) in a temporary directory;
// call Stop from TestMain after m.Run to stop it and remove the directory.
// If the binary ends without Stop (a panic, a -timeout, a signal), a small
// watchdog process, which waits for the binary's end, stops the server and
// removes the directory instead.
//
// PostgreSQL refuses to run as root: under root the server runs as the
// system user buildbatch-pg (created if missing), through runuser.
//
// With BUILDBATCH_POSTGRES_URL set, Start creates its databases on that
// server instead and starts none.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/buildbatch/buildbatch/internal/testproc"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable of an existing server to use.
const EnvURL = "BUILDBATCH_POSTGRES_URL"

// User is the system user the server runs as when the tests run as root.
const User = "buildbatch-pg"

var (
	mu     sync.Mutex
	shared *Server
	dbSeq  atomic.Int64
)

// Start returns the URL of a fresh, empty database, dropped at the end of
// the test; it fails the test if there is no server to be had.
func Start(t testing.TB) string {
	t.Helper()
	base, opts := os.Getenv(EnvURL), ""
	if base == "" {
		s, err := sharedServer()
		if err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		// PostgreSQL 15's default strategy, WAL_LOG, takes longer here.
		base, opts = s.URL, " STRATEGY FILE_COPY"
	}
	u, drop, err := createDatabase(context.Background(), base, opts)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Logf("pgtest: %v", err)
		}
	})
	return u
}

// Stop stops the server Start started, if any, and removes its directory.
// A later Start starts a new one.
func Stop() {
	mu.Lock()
	s := shared
	shared = nil
	mu.Unlock()
	if s != nil {
		s.Stop()
	}
}

func sharedServer() (*Server, error) {
	mu.Lock()
	defer mu.Unlock()
	if shared == nil {
		s, err := StartServer()
		if err != nil {
			return nil, err
		}
		shared = s
	}
	return shared, nil
}

// StartDedicated starts a server of the test's own (not the shared one),
// stopped at the end of the test, and returns the URL of its "postgres"
// database.
func StartDedicated(t testing.TB) string {
	t.Helper()
	s, err := StartServer()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s.URL
}

// CreateDatabase creates a database of a unique name on the server of
// base (a URL or keyword/value connection string) and returns its URL and
// a function that drops it.
func CreateDatabase(ctx context.Context, base string) (dbURL string, drop func() error, err error) {
	return createDatabase(ctx, base, "")
}

func createDatabase(ctx context.Context, base, opts string) (dbURL string, drop func() error, err error) {
	var rnd [4]byte
	rand.Read(rnd[:])
	name := fmt.Sprintf("bbtest_%d_%d_%s", os.Getpid(), dbSeq.Add(1), hex.EncodeToString(rnd[:]))
	dbURL, err = withDatabase(base, name)
	if err != nil {
		return "", nil, err
	}
	if err := adminExec(ctx, base, `CREATE DATABASE `+name+opts); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	drop = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := adminExec(ctx, base, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	return dbURL, drop, nil
}

func adminExec(ctx context.Context, connString, sql string) error {
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase returns the connection string base with its database
// replaced by name.
func withDatabase(base, name string) (string, error) {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			return "", fmt.Errorf("%s: %w", EnvURL, err)
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	return base + " dbname=" + name, nil // a later keyword wins
}

// Server is a PostgreSQL server in a temporary directory.
type Server struct {
	// URL is that of the server's "postgres" database (user postgres,
	// trust authentication, over TCP on 127.0.0.1).
	URL  string
	Dir  string // the temporary directory: data/, sock/, log
	Port int

	asUser   bool
	stopOnce sync.Once
	watchdog *exec.Cmd
	pipe     io.WriteCloser
}

// StartServer starts a server; Stop stops it.
func StartServer() (s *Server, err error) {
	for _, bin := range []string{"initdb", "pg_ctl"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("PostgreSQL binaries are not on PATH (set %s to use a running server): %w", EnvURL, err)
		}
	}
	s = &Server{asUser: os.Geteuid() == 0}
	var uid, gid int
	if s.asUser {
		if uid, gid, err = ensureUser(); err != nil {
			return nil, err
		}
	}
	tmp := os.TempDir()
	if len(tmp) > 40 { // keep the socket's path short
		tmp = "/tmp"
	}
	if s.Dir, err = os.MkdirTemp(tmp, "bbpg"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	sock := filepath.Join(s.Dir, "sock")
	if err := os.Mkdir(sock, 0o700); err != nil {
		return nil, err
	}
	if s.asUser {
		for _, d := range []string{s.Dir, sock} {
			if err := os.Chown(d, uid, gid); err != nil {
				return nil, err
			}
		}
	}
	// The watchdog first: from now on the directory, and the server once
	// started, go away with this process however it ends.
	if err := s.startWatchdog(); err != nil {
		return nil, err
	}
	data := filepath.Join(s.Dir, "data")
	if out, err := s.command("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	logFile := filepath.Join(s.Dir, "log")
	for try := 1; ; try++ {
		if s.Port, err = testproc.FreePort(); err != nil {
			return nil, err
		}
		opts := fmt.Sprintf("-F -k %s -p %d -c listen_addresses=127.0.0.1 -c full_page_writes=off -c synchronous_commit=off -c max_connections=200", sock, s.Port)
		out, err := s.command("pg_ctl", "-D", data, "-l", logFile, "-o", opts, "-w", "-t", "60", "start").CombinedOutput()
		if err == nil {
			break
		}
		log, _ := os.ReadFile(logFile)
		if try == 3 || !strings.Contains(string(log), "could not bind") {
			return nil, fmt.Errorf("pg_ctl start: %v: %s\n%s", err, out, log)
		}
	}
	s.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.Port)
	return s, nil
}

// Stop stops the server (pg_ctl stop -m immediate) and removes its
// directory.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		if pid, err := os.ReadFile(filepath.Join(s.Dir, "data", "postmaster.pid")); err == nil {
			s.command("pg_ctl", "-D", filepath.Join(s.Dir, "data"), "-m", "immediate", "-w", "-t", "60", "stop").Run()
			// The postmaster, orphaned by pg_ctl start, is gone once init
			// has reaped it: wait for that (a little), so that nothing of
			// the server is left when Stop returns.
			if line, _, _ := strings.Cut(string(pid), "\n"); line != "" {
				for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
					if _, err := os.Stat("/proc/" + strings.TrimSpace(line)); err != nil {
						break
					}
				}
			}
		}
		os.RemoveAll(s.Dir)
		if s.pipe != nil {
			s.pipe.Close() // the watchdog has nothing left to do
			s.watchdog.Wait()
		}
	})
}

// command runs a PostgreSQL program, as User when running as root.
func (s *Server) command(name string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if s.asUser {
		cmd = exec.Command("runuser", append([]string{"-u", User, "--", name}, args...)...)
	} else {
		cmd = exec.Command(name, args...)
	}
	cmd.Dir = s.Dir // a directory User can enter
	return cmd
}

// watchdogScript waits for its standard input to close, that is for the
// process that started it to end or to call Stop, then stops the server
// and removes its directory. It ignores the signals a terminal sends to
// the test's process group.
const watchdogScript = `trap '' INT TERM HUP QUIT
read -r _
if [ -f "$1/data/postmaster.pid" ]; then
	if [ "$2" = 1 ]; then
		runuser -u "$3" -- pg_ctl -D "$1/data" -m immediate -w -t 60 stop >/dev/null 2>&1
	else
		pg_ctl -D "$1/data" -m immediate -w -t 60 stop >/dev/null 2>&1
	fi
fi
rm -rf "$1"`

func (s *Server) startWatchdog() error {
	asUser := "0"
	if s.asUser {
		asUser = "1"
	}
	cmd, pipe, err := testproc.Watchdog(watchdogScript, "pgtest-watchdog", s.Dir, asUser, User)
	if err != nil {
		return err
	}
	s.watchdog, s.pipe = cmd, pipe
	return nil
}

// ensureUser creates User if missing and returns its ids.
func ensureUser() (uid, gid int, err error) {
	for try := 0; ; try++ {
		if u, err := user.Lookup(User); err == nil {
			uid, _ = strconv.Atoi(u.Uid)
			gid, _ = strconv.Atoi(u.Gid)
			return uid, gid, nil
		}
		out, err := exec.Command("useradd", "--system", "--no-create-home", User).CombinedOutput()
		if err != nil && try == 5 {
			return 0, 0, fmt.Errorf("useradd %s: %v: %s", User, err, out)
		}
		if err != nil { // perhaps another test binary is adding it
			time.Sleep(200 * time.Millisecond)
		}
	}
}
