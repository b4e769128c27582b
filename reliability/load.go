package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/buildbatch/buildbatch/internal/testclient"
)

type loadRun struct {
	env      *env
	srv      *server
	c        *client
	pprofURL string
	marker   string
	failed   []string // the first 100
	nfailed  int

	mu      sync.Mutex
	stats   map[string]*opStats
	errs    map[errKey]int
	builds  []string // recent build ids
	batches []string // recent batch ids
	nbuilds int      // StartBuild answered 200
	nbatch  int

	batchTokens atomic.Int64 // StartBuildBatch allowed, refilled by a ticker

	before, peak, after resources
	drained             time.Duration
	loadTime            time.Duration
	stopClean           string
}

type opStats struct {
	lat    []time.Duration
	non200 int
}

type errKey struct {
	op, kind string // kind: "HTTP 400 InvalidInputException", "transport: …"
}

type resources struct {
	rss, peakRSS int64
	fds, gor     int
}

func (r *loadRun) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nfailed++
	if len(r.failed) < 100 {
		msg := fmt.Sprintf(format, args...)
		r.failed = append(r.failed, msg)
		logf("FAIL: %s", msg)
	}
}

func loadMain(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	clients := fs.Int("clients", 200, "concurrent signed clients")
	duration := fs.Duration("duration", 60*time.Second, "how long the clients send requests")
	out := fs.String("out", "", "markdown file to write the results section into (replaced if there)")
	batchRate := fs.Int("batch-rate", 4, "StartBuildBatch requests a second at most, over all clients (batch members are not bounded by --max-queued-builds)")
	reqTimeout := fs.Duration("request-timeout", 30*time.Second, "client-side timeout of one request (such timeouts are counted, not failures)")
	drain := fs.Duration("drain", 5*time.Minute, "how long the builds started may take to end after the load")
	timeout := fs.Duration("timeout", 0, "hard limit of the whole run (default: duration + drain + 5m)")
	race := fs.Bool("race", false, "build the server with the race detector (a race it reports is a failure)")
	keep := fs.Bool("keep", false, "keep the temporary directory (data directory, server log)")
	seed := fs.Uint64("seed", 0, "random seed of the clients' choices (default: from the clock)")
	fs.Parse(args)
	if *timeout == 0 {
		*timeout = *duration + *drain + 5*time.Minute
	}
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	where := machine()
	interrupted := ctx
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	e, err := newEnv("load", *keep)
	if err != nil {
		logf("load: %v", err)
		return 1
	}
	defer e.cleanup()
	defer watchdog(e, *timeout+2*time.Minute).Stop()
	r := &loadRun{env: e, stats: map[string]*opStats{}, errs: map[errKey]int{}}
	e.marker = fmt.Sprintf("load%08x-", rand.Uint32())
	r.marker = e.marker
	logf("load: %d clients for %v, projects %s*, scratch %s", *clients, *duration, r.marker, e.tmp)
	t0 := time.Now()
	if err := e.build(ctx, *race); err != nil {
		logf("load: %v", err)
		return 1
	}
	if err := r.run(ctx, *clients, *duration, *drain, *reqTimeout, *batchRate, *seed); err != nil {
		r.fail("%v", err)
	}
	total := time.Since(t0)
	section := r.section(where, *clients, *duration, *batchRate, total)
	fmt.Println(section)
	if *out != "" && interrupted.Err() != nil {
		logf("load: interrupted: %s left as it was", *out)
	} else if *out != "" {
		if err := writeSection(*out, "load", section); err != nil {
			logf("load: writing %s: %v", *out, err)
		}
	}
	if ctx.Err() != nil {
		logf("load: stopped: %v", context.Cause(ctx))
		return 1
	}
	if r.nfailed > 0 {
		logf("load: %d failures (the first %d):", r.nfailed, len(r.failed))
		for _, f := range r.failed {
			logf("  - %s", f)
		}
		return 1
	}
	logf("load: no 5xx, no transport error, no leak; %v in all", total.Round(time.Second))
	return 0
}

func (r *loadRun) run(ctx context.Context, clients int, duration, drain, reqTimeout time.Duration, batchRate int, seed uint64) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	r.pprofURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	s, err := r.env.start(ctx, filepath.Join(r.env.tmp, "data"), "--pprof-listen", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return fmt.Errorf("starting the server: %v", err)
	}
	r.srv = s
	r.c = newClient(s.url, clients, reqTimeout)
	if err := r.setup(ctx); err != nil {
		return err
	}
	r.before, err = r.idle(ctx)
	if err != nil {
		return err
	}
	logf("load: before: %d goroutines, %d fds, RSS %s", r.before.gor, r.before.fds, mb(r.before.rss))

	// The load.
	loadCtx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		r.sample(loadCtx)
	}()
	go func() {
		t := time.NewTicker(time.Second / time.Duration(max(batchRate, 1)))
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if r.batchTokens.Load() < 1 {
					r.batchTokens.Add(1)
				}
			case <-loadCtx.Done():
				return
			}
		}
	}()
	end := time.Now().Add(duration)
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.client(ctx, i, rand.New(rand.NewPCG(seed, uint64(i))), end)
		}()
	}
	wg.Wait()
	r.loadTime = time.Since(t0)
	stopSampling()
	<-sampled
	logf("load: load done after %v; waiting for the builds to end", r.loadTime.Round(time.Millisecond))

	// Drain: every build and batch ends.
	t1 := time.Now()
	if err := r.drain(ctx, drain); err != nil {
		r.fail("%v", err)
	}
	r.drained = time.Since(t1)
	if pids := buildProcesses(r.marker); len(pids) > 0 {
		time.Sleep(3 * time.Second)
		for _, pid := range buildProcesses(r.marker) {
			r.fail("build process left after every build ended: %s", describeProcess(pid))
		}
	}
	r.after, err = r.idle(ctx)
	if err != nil {
		return err
	}
	logf("load: after: %d goroutines, %d fds, RSS %s", r.after.gor, r.after.fds, mb(r.after.rss))
	if d := r.after.gor - r.before.gor; d > max(50, r.before.gor/2) {
		r.fail("goroutine leak: %d goroutines when idle after the load, %d before (+%d)", r.after.gor, r.before.gor, d)
	}
	if d := r.after.fds - r.before.fds; d > max(32, r.before.fds/2) {
		r.fail("file descriptor leak: %d open when idle after the load, %d before (+%d)", r.after.fds, r.before.fds, d)
	}
	if r.stopClean = "yes"; !s.stop(30 * time.Second) {
		r.stopClean = fmt.Sprintf("no (%v)", s.err)
		r.fail("the server did not stop cleanly on SIGTERM after the load (%v):\n%s", s.err, s.logTail(10))
	}
	r.env.forget(s)
	if data, _ := os.ReadFile(s.logf); len(data) > 0 {
		for _, bad := range []string{"panic:", "fatal error:", "DATA RACE"} {
			if i := strings.Index(string(data), bad); i >= 0 {
				r.fail("server log: %s", firstLines(string(data[i:]), 8))
			}
		}
	}
	return nil
}

// setup creates the projects and runs a build and a batch, so that what a
// server starts on first use is there before the first measure.
func (r *loadRun) setup(ctx context.Context) error {
	spec := "version: 0.2\nphases:\n  build:\n    commands:\n      - true\n"
	if err := r.c.Call(ctx, "CreateProject", project(r.marker+"true", spec, nil), nil); err != nil {
		return err
	}
	batchSpec := "version: 0.2\nbatch:\n  build-list:\n    - identifier: one\n    - identifier: two\n" + spec[len("version: 0.2\n"):]
	if err := r.c.Call(ctx, "CreateProject", project(r.marker+"batch", batchSpec, map[string]any{
		"buildBatchConfig": map[string]any{"serviceRole": "arn:aws:iam::000000000000:role/load-batch"}}), nil); err != nil {
		return err
	}
	var b struct {
		Build build `json:"build"`
	}
	if err := r.c.Call(ctx, "StartBuild", map[string]any{"projectName": r.marker + "true"}, &b); err != nil {
		return err
	}
	var bb struct {
		Batch buildBatch `json:"buildBatch"`
	}
	if err := r.c.Call(ctx, "StartBuildBatch", map[string]any{"projectName": r.marker + "batch"}, &bb); err != nil {
		return err
	}
	if _, _, err := r.c.buildLog(ctx, b.Build.ID); err != nil {
		return err
	}
	r.builds = append(r.builds, b.Build.ID)
	r.batches = append(r.batches, bb.Batch.ID)
	return r.drain(ctx, time.Minute)
}

// drain waits until every build and batch has ended.
func (r *loadRun) drain(ctx context.Context, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		open, err := r.open(ctx)
		if err != nil {
			return fmt.Errorf("reading the builds and batches: %v", err)
		}
		if len(open) == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			n := len(open)
			if len(open) > 20 {
				open = append(open[:20], "…")
			}
			return fmt.Errorf("%d builds and batches not ended %v after the load:\n    %s", n, wait, strings.Join(open, "\n    "))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (r *loadRun) open(ctx context.Context) ([]string, error) {
	var open []string
	ids, err := r.c.listAll(ctx, "ListBuilds", map[string]any{})
	if err != nil {
		return nil, err
	}
	builds, _, err := r.c.getBuilds(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, b := range builds {
		if !b.Complete {
			open = append(open, fmt.Sprintf("build %s %s in %s", b.ID, b.Status, b.CurrentPhase))
		}
	}
	bids, err := r.c.listAll(ctx, "ListBuildBatches", map[string]any{})
	if err != nil {
		return nil, err
	}
	batches, _, err := r.c.getBatches(ctx, bids)
	if err != nil {
		return nil, err
	}
	for _, b := range batches {
		if !b.Complete {
			open = append(open, fmt.Sprintf("batch %s %s in %s", b.ID, b.Status, b.CurrentPhase))
		}
	}
	return open, nil
}

// idle lets the server settle, without our connections, and measures it:
// the least of a few samples, so that a request in passing does not count.
func (r *loadRun) idle(ctx context.Context) (resources, error) {
	r.c.CloseIdle()
	time.Sleep(2 * time.Second)
	var res resources
	for i := range 5 {
		cur, err := r.measure(ctx)
		if err != nil {
			return res, err
		}
		if i == 0 || cur.gor < res.gor {
			res.gor = cur.gor
		}
		if i == 0 || cur.fds < res.fds {
			res.fds = cur.fds
		}
		res.rss, res.peakRSS = cur.rss, cur.peakRSS
		time.Sleep(300 * time.Millisecond)
	}
	return res, nil
}

func (r *loadRun) measure(ctx context.Context) (resources, error) {
	var res resources
	res.rss, res.peakRSS = procStatus(r.srv.pid)
	res.fds = openFDs(r.srv.pid)
	n, err := r.goroutines(ctx)
	res.gor = n
	return res, err
}

// goroutines reads the server's goroutine count from pprof, on a
// connection of its own that is closed at once.
func (r *loadRun) goroutines(ctx context.Context) (int, error) {
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.pprofURL+"/debug/pprof/goroutine?debug=1", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("reading the goroutine count: %v", err)
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	_, total, ok := strings.Cut(strings.TrimSpace(line), "total ")
	n, err := strconv.Atoi(total)
	if !ok || err != nil {
		return 0, fmt.Errorf("unexpected goroutine profile: %q", line)
	}
	return n, nil
}

// sample keeps the peaks of the server's resources during the load.
func (r *loadRun) sample(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur, err := r.measure(ctx)
		if err != nil {
			continue
		}
		r.peak.rss = max(r.peak.rss, cur.rss)
		r.peak.peakRSS = max(r.peak.peakRSS, cur.peakRSS)
		r.peak.fds = max(r.peak.fds, cur.fds)
		r.peak.gor = max(r.peak.gor, cur.gor)
	}
}

// The mix: weights of the operations.
var loadMix = []struct {
	op     string
	weight int
}{
	{"BatchGetProjects", 12},
	{"ListProjects", 8},
	{"ProjectLifecycle", 6}, // CreateProject, UpdateProject, DeleteProject
	{"StartBuild", 8},
	{"BatchGetBuilds", 14},
	{"ListBuilds", 8},
	{"ListBuildsForProject", 8},
	{"StartBuildBatch", 3},
	{"BatchGetBuildBatches", 6},
	{"StopBuild", 4},
	{"GetBuildLog", 3},
	{"Invalid", 10},
}

// client is one client's loop until end.
func (r *loadRun) client(ctx context.Context, i int, rng *rand.Rand, end time.Time) {
	total := 0
	for _, m := range loadMix {
		total += m.weight
	}
	n := 0
	for time.Now().Before(end) && ctx.Err() == nil {
		w := rng.IntN(total)
		op := ""
		for _, m := range loadMix {
			if w < m.weight {
				op = m.op
				break
			}
			w -= m.weight
		}
		n++
		r.one(ctx, i, n, rng, op)
	}
}

func (r *loadRun) one(ctx context.Context, i, n int, rng *rand.Rand, op string) {
	switch op {
	case "BatchGetProjects":
		r.do(ctx, op, map[string]any{"names": []string{r.marker + "true", r.marker + "batch", fmt.Sprintf("%sc%d-%d", r.marker, i, rng.IntN(n)), "no-such-project"}}, nil)
	case "ListProjects":
		in := map[string]any{}
		if rng.IntN(2) == 0 {
			in["sortBy"], in["sortOrder"] = "CREATED_TIME", "DESCENDING"
		}
		r.do(ctx, op, in, nil)
	case "ProjectLifecycle":
		name := fmt.Sprintf("%sc%d-%d", r.marker, i, n)
		if !r.do(ctx, "CreateProject", project(name, "version: 0.2\nphases:\n  build:\n    commands:\n      - true\n", nil), nil) {
			return
		}
		r.do(ctx, "UpdateProject", map[string]any{"name": name, "description": "updated by load", "timeoutInMinutes": 10}, nil)
		if rng.IntN(4) != 0 { // a quarter are kept, so listings grow
			r.do(ctx, "DeleteProject", map[string]any{"name": name}, nil)
		}
	case "StartBuild":
		var out struct {
			Build build `json:"build"`
		}
		if r.do(ctx, op, map[string]any{"projectName": r.marker + "true"}, &out) {
			r.mu.Lock()
			r.nbuilds++
			r.builds = ring(r.builds, out.Build.ID, 512)
			r.mu.Unlock()
		}
	case "BatchGetBuilds":
		ids := r.recent(rng, &r.builds, 1+rng.IntN(40))
		r.do(ctx, op, map[string]any{"ids": ids}, nil)
	case "ListBuilds":
		in := map[string]any{}
		if rng.IntN(3) == 0 {
			in["sortOrder"] = "ASCENDING"
		}
		r.do(ctx, op, in, nil)
	case "ListBuildsForProject":
		r.do(ctx, op, map[string]any{"projectName": r.marker + "true"}, nil)
	case "StartBuildBatch":
		if r.batchTokens.Add(-1) < 0 {
			r.batchTokens.Add(1)
			r.one(ctx, i, n, rng, "BatchGetBuildBatches")
			return
		}
		var out struct {
			Batch buildBatch `json:"buildBatch"`
		}
		if r.do(ctx, op, map[string]any{"projectName": r.marker + "batch"}, &out) {
			r.mu.Lock()
			r.nbatch++
			r.batches = ring(r.batches, out.Batch.ID, 256)
			r.mu.Unlock()
		}
	case "BatchGetBuildBatches":
		r.do(ctx, op, map[string]any{"ids": r.recent(rng, &r.batches, 1+rng.IntN(10))}, nil)
	case "StopBuild":
		r.do(ctx, op, map[string]any{"id": r.recent(rng, &r.builds, 1)[0]}, nil)
	case "GetBuildLog":
		id := r.recent(rng, &r.builds, 1)[0]
		t0 := time.Now()
		_, _, err := r.c.buildLog(ctx, id)
		r.record(ctx, "GetBuildLog", time.Since(t0), err, false)
	case "Invalid":
		r.invalid(ctx, rng)
	}
}

// invalid sends a request the server must refuse with a 4xx.
func (r *loadRun) invalid(ctx context.Context, rng *rand.Rand) {
	type bad struct {
		name string
		req  testclient.Request
	}
	cases := []bad{
		{"unknown operation", testclient.Request{Op: "NoSuchOperation", Body: []byte(`{}`)}},
		{"malformed JSON", testclient.Request{Op: "ListProjects", Body: []byte(`{"sortBy": `)}},
		{"wrong JSON type", testclient.Request{Op: "BatchGetProjects", Body: []byte(`{"names": "x"}`)}},
		{"constraint (timeout 3)", testclient.Request{Op: "StartBuild", Body: []byte(`{"projectName": "` + r.marker + `true", "timeoutInMinutesOverride": 3}`)}},
		{"empty ids", testclient.Request{Op: "BatchGetBuilds", Body: []byte(`{"ids": []}`)}},
		{"unknown project", testclient.Request{Op: "StartBuild", Body: []byte(`{"projectName": "no-such-project"}`)}},
		{"unsigned", testclient.Request{Op: "ListProjects", Body: []byte(`{}`), Unsigned: true}},
		{"batch without config", testclient.Request{Op: "StartBuildBatch", Body: []byte(`{"projectName": "` + r.marker + `true"}`)}},
	}
	c := cases[rng.IntN(len(cases))]
	op := "invalid: " + c.name
	t0 := time.Now()
	_, err := r.c.Send(ctx, c.req)
	r.record(ctx, op, time.Since(t0), err, true)
}

// do sends one valid request and records it; ok is a 200.
func (r *loadRun) do(ctx context.Context, op string, in, out any) bool {
	t0 := time.Now()
	err := r.c.Call(ctx, op, in, out)
	r.record(ctx, op, time.Since(t0), err, false)
	return err == nil
}

func (r *loadRun) record(ctx context.Context, op string, d time.Duration, err error, want4xx bool) {
	kind := ""
	var ae *testclient.APIError
	var ne net.Error
	switch {
	case err == nil && want4xx:
		kind = "HTTP 200 (a 4xx was expected)"
		r.fail("%s: answered 200, a 4xx was expected", op)
	case err == nil:
	case errors.As(err, &ae):
		kind = fmt.Sprintf("HTTP %d %s", ae.Status, ae.Type)
		if ae.Status >= 500 {
			r.fail("%s: %v", op, err)
		} else if ae.Status < 400 {
			r.fail("%s: unexpected status: %v", op, err)
		}
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		kind = "client-side timeout"
	case ctx.Err() != nil:
		kind = "cancelled (run stopped)"
	default:
		kind = "transport: " + transportKind(err)
		r.fail("%s: transport error: %v", op, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stats[op]
	if st == nil {
		st = &opStats{}
		r.stats[op] = st
	}
	st.lat = append(st.lat, d)
	if kind != "" {
		st.non200++
		r.errs[errKey{op, kind}]++
	}
}

func transportKind(err error) string {
	s := err.Error()
	for _, k := range []string{"connection reset by peer", "connection refused", "broken pipe", "EOF", "i/o timeout"} {
		if strings.Contains(s, k) {
			return k
		}
	}
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

func ring(list []string, id string, size int) []string {
	list = append(list, id)
	if len(list) > size {
		list = list[len(list)-size:]
	}
	return list
}

// recent picks n ids among the recent ones (with repeats).
func (r *loadRun) recent(rng *rand.Rand, list *[]string, n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, n)
	for range n {
		if len(*list) == 0 {
			out = append(out, "nothing-yet:00000000-0000-0000-0000-000000000000")
			continue
		}
		out = append(out, (*list)[rng.IntN(len(*list))])
	}
	return out
}

// section is the markdown of the results.
func (r *loadRun) section(where string, clients int, duration time.Duration, batchRate int, total time.Duration) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "### Last `scripts/load` run\n\n")
	fmt.Fprintf(&b, "Run %s.\n\n", where)
	requests, non200 := 0, 0
	for _, st := range r.stats {
		requests += len(st.lat)
		non200 += st.non200
	}
	result := "**passed**: no 5xx, no transport error, no leak"
	if r.nfailed > 0 {
		result = fmt.Sprintf("**failed**: %d failures (below)", r.nfailed)
	}
	fmt.Fprintf(&b, "`-clients %d -duration %v` (StartBuildBatch at most %d/s; server defaults otherwise: `--max-concurrent-builds` 4 × CPUs, `--max-queued-builds` 5 × that; %s).\n\n",
		clients, duration, batchRate, r.env.buildNote())
	fmt.Fprintf(&b, "| figure | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| result | %s |\n", result)
	fmt.Fprintf(&b, "| requests (non-200) | %d (%d) in %v: %.0f requests/s |\n", requests, non200, r.loadTime.Round(100*time.Millisecond), float64(requests)/max(r.loadTime.Seconds(), 0.001))
	fmt.Fprintf(&b, "| builds / batches started (StartBuild and StartBuildBatch answered 200) | %d / %d |\n", r.nbuilds, r.nbatch)
	fmt.Fprintf(&b, "| end of the load → every build and batch ended | %v |\n", r.drained.Round(100*time.Millisecond))
	fmt.Fprintf(&b, "| whole run (build of the binary included) | %v |\n", total.Round(100*time.Millisecond))
	fmt.Fprintf(&b, "| server stopped cleanly on SIGTERM afterwards | %s |\n", orNone(r.stopClean))
	fmt.Fprintf(&b, "\n| server | before (idle, after a warm-up build and batch) | peak during the load | after (idle, builds ended) |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| goroutines | %d | %d | %d |\n", r.before.gor, r.peak.gor, r.after.gor)
	fmt.Fprintf(&b, "| open file descriptors | %d | %d | %d |\n", r.before.fds, r.peak.fds, r.after.fds)
	fmt.Fprintf(&b, "| RSS | %s | %s (VmHWM %s) | %s |\n", mb(r.before.rss), mb(r.peak.rss), mb(r.peak.peakRSS), mb(r.after.rss))

	fmt.Fprintf(&b, "\n| operation | requests | non-200 | p50 | p99 | max |\n|---|---|---|---|---|---|\n")
	ops := make([]string, 0, len(r.stats))
	for op := range r.stats {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool {
		ii, ij := strings.HasPrefix(ops[i], "invalid"), strings.HasPrefix(ops[j], "invalid")
		return ii != ij && ij || ii == ij && ops[i] < ops[j]
	})
	for _, op := range ops {
		st := r.stats[op]
		l := slices.Clone(st.lat)
		slices.Sort(l)
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %s | %s |\n", op, len(l), st.non200, msd(pct(l, 0.5)), msd(pct(l, 0.99)), msd(l[len(l)-1]))
	}
	fmt.Fprintf(&b, "\n| operation | answer | count |\n|---|---|---|\n")
	keys := make([]errKey, 0, len(r.errs))
	for k := range r.errs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].op < keys[j].op || keys[i].op == keys[j].op && keys[i].kind < keys[j].kind
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "| %s | %s | %d |\n", k.op, k.kind, r.errs[k])
	}
	if len(keys) == 0 {
		b.WriteString("| — | every answer was 200 | |\n")
	}
	if len(r.failed) > 0 {
		b.WriteString("\nFailures")
		if r.nfailed > 30 {
			fmt.Fprintf(&b, " (the first 30 of %d)", r.nfailed)
		}
		b.WriteString(":\n\n")
		for _, f := range r.failed[:min(30, len(r.failed))] {
			fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(f, "\n", "\n  "))
		}
	}
	return b.String()
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(float64(len(sorted)-1)*p)]
}

func msd(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
