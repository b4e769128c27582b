package pgtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

var ctx = context.Background()

func query(t *testing.T, url, sql string, args ...any) int {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func postmasterPID(t *testing.T, s *Server) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.Dir, "data", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _, _ := strings.Cut(string(b), "\n")
	return pid
}

// gone waits a little for the process and the directory to go away.
func gone(t *testing.T, pid, dir string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, errProc := os.Stat("/proc/" + pid)
		_, errDir := os.Stat(dir)
		if os.IsNotExist(errProc) && os.IsNotExist(errDir) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("postmaster %s (%v) or directory %s (%v) left behind", pid, errProc, dir, errDir)
		}
	}
}

func TestStartStop(t *testing.T) {
	t.Setenv(EnvURL, "")
	var urls []string
	t.Run("databases", func(t *testing.T) {
		for range 2 {
			u := Start(t)
			urls = append(urls, u)
			if n := query(t, u, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`); n != 0 {
				t.Errorf("fresh database has %d tables", n)
			}
		}
		if urls[0] == urls[1] {
			t.Errorf("two Starts gave the same database %s", urls[0])
		}
	})
	s := shared
	if s == nil {
		t.Fatal("no shared server")
	}
	for _, u := range urls {
		name := u[strings.LastIndex(u, "/")+1:]
		if n := query(t, s.URL, `SELECT count(*) FROM pg_database WHERE datname = $1`, name); n != 0 {
			t.Errorf("database %s not dropped at the end of its test", name)
		}
	}
	pid := postmasterPID(t, s)
	Stop()
	gone(t, pid, s.Dir)
	// Start after Stop starts a new server.
	t.Run("again", func(t *testing.T) { query(t, Start(t), `SELECT 1`) })
}

// A server is stopped and its directory removed when the process that
// started it ends without Stop: its watchdog sees its standard input close.
func TestWatchdog(t *testing.T) {
	t.Parallel() // its server is its own
	s, err := StartServer()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	query(t, s.URL, `SELECT 1`)
	pid := postmasterPID(t, s)
	s.pipe.Close() // as the kernel does when the process ends
	s.watchdog.Wait()
	gone(t, pid, s.Dir)
}

// With EnvURL set, Start creates its databases there and starts no server.
func TestEnvURL(t *testing.T) {
	Stop()
	t.Setenv(EnvURL, StartDedicated(t))
	var name string
	t.Run("database", func(t *testing.T) {
		u := Start(t)
		name = u[strings.LastIndex(u, "/")+1:]
		query(t, u, `SELECT 1`)
	})
	if shared != nil {
		t.Error("Start started a server despite " + EnvURL)
	}
	if n := query(t, os.Getenv(EnvURL), `SELECT count(*) FROM pg_database WHERE datname = $1`, name); n != 0 {
		t.Errorf("database %s not dropped", name)
	}
}

func TestWithDatabase(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:p@h:5/db?sslmode=disable": "postgres://u:p@h:5/x?sslmode=disable",
		"postgresql://h":                        "postgresql://h/x",
		"host=h user=u dbname=db":               "host=h user=u dbname=db dbname=x",
	} {
		if got, err := withDatabase(in, "x"); err != nil || got != want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
