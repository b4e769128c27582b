package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/buildbatch/buildbatch/internal/testclient"
	"github.com/buildbatch/buildbatch/internal/testproc"
)

type benchEnv struct {
	tmp    string
	binary string
	// mu guards procs: a signal's cleanup may run beside a part.
	mu    sync.Mutex
	procs []*exec.Cmd
	// atExit runs, last first, in cleanup after the servers stopped
	// (PostgreSQL, say).
	atExit []func()
}

// build compiles buildbatch (without the race detector: this is about speed).
func (e *benchEnv) build() {
	if *binary != "" {
		abs, err := filepath.Abs(*binary)
		if err != nil {
			fatal(err)
		}
		e.binary = abs
		return
	}
	e.binary = filepath.Join(e.tmp, "buildbatch")
	cmd := exec.Command("go", "build", "-o", e.binary, "./cmd/buildbatch")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fatalf("building buildbatch: %v", err)
	}
}

// track records a process that cleanup stops.
func (e *benchEnv) track(cmd *exec.Cmd) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.procs = append(e.procs, cmd)
}

func (e *benchEnv) cleanup() {
	e.mu.Lock()
	procs := e.procs
	e.procs = nil
	e.mu.Unlock()
	for _, p := range procs {
		if p.Process != nil {
			p.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, p := range procs {
		done := make(chan struct{})
		go func() { p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			p.Process.Kill()
		}
	}
	for i := len(e.atExit) - 1; i >= 0; i-- {
		e.atExit[i]()
	}
	e.atExit = nil
}

// server is a running buildbatch.
type server struct {
	url  string
	pid  int
	cmd  *exec.Cmd
	data string
}

// startServer starts buildbatch on a free port with the given data dir.
func (e *benchEnv) startServer(dataDir string, args ...string) *server {
	cmd := exec.Command(e.binary, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "warn"}, args...)...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		fatal(err)
	}
	e.track(cmd)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if i := strings.Index(sc.Text(), "listening on http://"); i >= 0 {
			s := &server{url: sc.Text()[i+len("listening on "):], pid: cmd.Process.Pid, cmd: cmd, data: dataDir}
			go io.Copy(io.Discard, stdout)
			return s
		}
	}
	fatal("buildbatch did not start")
	return nil
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

// rss returns a process's resident set size and its peak, in bytes.
func rss(pid int) (cur, peak int64) { return testproc.RSS(pid) }

// client signs requests as AWS clients do and keeps connections alive.
type client struct{ *testclient.Client }

func newClient(url string, conns int) *client {
	return &client{testclient.New(url, conns, 60*time.Second)}
}

// do sends one signed request and returns the body.
func (c *client) do(op string, body []byte) ([]byte, error) {
	return c.Send(context.Background(), testclient.Request{Op: op, Body: body})
}

// call is do with JSON in and out.
func (c *client) call(op string, in, out any) error {
	return c.Call(context.Background(), op, in, out)
}

func (c *client) mustCall(op string, in, out any) {
	if err := c.call(op, in, out); err != nil {
		fatal(err)
	}
}

func project(name, buildspec string, extra map[string]any) map[string]any {
	return testclient.Project(name, buildspec, "bench", extra)
}

type buildDoc struct {
	ID       string  `json:"id"`
	Status   string  `json:"buildStatus"`
	Complete bool    `json:"buildComplete"`
	Start    float64 `json:"startTime"`
	End      float64 `json:"endTime"`
	Phases   []struct {
		Type  string  `json:"phaseType"`
		Start float64 `json:"startTime"`
		End   float64 `json:"endTime"`
	} `json:"phases"`
}

func (c *client) startBuild(projectName string) string {
	var out struct{ Build buildDoc }
	c.mustCall("StartBuild", map[string]any{"projectName": projectName}, &out)
	return out.Build.ID
}

func (c *client) waitBuild(id string) buildDoc {
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		var out struct{ Builds []buildDoc }
		c.mustCall("BatchGetBuilds", map[string]any{"ids": []string{id}}, &out)
		if len(out.Builds) == 1 && out.Builds[0].Complete {
			return out.Builds[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	fatalf("build %s did not complete", id)
	return buildDoc{}
}

func (b buildDoc) phase(typ string) (start, end float64) {
	for _, p := range b.Phases {
		if p.Type == typ {
			return p.Start, p.End
		}
	}
	return 0, 0
}

// percentile of sorted durations.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(float64(len(d)-1) * p)
	return d[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

// spawnTimes measures `sh -c true`, the cost of starting a process.
func spawnTimes(n int) []time.Duration {
	var out []time.Duration
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := exec.Command("sh", "-c", "true").Run(); err != nil {
			fatal(err)
		}
		out = append(out, time.Since(t0))
	}
	return out
}

var _ = context.Background
