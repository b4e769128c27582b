package main

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // to check the store's integrity after the run

	"github.com/buildbatch/buildbatch/internal/testclient"
)

// The builds of every chaos project print three lines, write two artifact
// files (one holding the build's own id) and sleep a little.
const chaosPhases = `phases:
  build:
    commands:
      - echo "chaos-line-1 $CODEBUILD_BUILD_ID"
      - echo "chaos-line-2 ${CODEBUILD_BATCH_BUILD_IDENTIFIER:-single}"
      - mkdir -p out && echo "$CODEBUILD_BUILD_ID" > out/id.txt && seq 1 200 > out/data.txt
      - sleep "${CHAOS_SLEEP:-0.3}"
      - echo "chaos-line-3 done"
artifacts:
  files:
    - 'out/**/*'
`

// chaosProject is one kind of work a round starts.
type chaosProject struct {
	suffix    string
	batch     bool
	buildspec string
	packaging string // of its S3 artifacts
	extra     map[string]any
}

var chaosProjects = []chaosProject{
	{suffix: "list", batch: true, packaging: "NONE", buildspec: `version: 0.2
batch:
  build-list:
    - identifier: one
    - identifier: two
      env:
        variables:
          CHAOS_SLEEP: "0.6"
    - identifier: three
      ignore-failure: true
` + chaosPhases},
	{suffix: "graph", batch: true, packaging: "ZIP", buildspec: `version: 0.2
batch:
  build-graph:
    - identifier: a
    - identifier: b
      depend-on: [a]
    - identifier: c
      depend-on: [a]
      env:
        variables:
          CHAOS_SLEEP: "0.5"
    - identifier: d
      depend-on: [b, c]
` + chaosPhases},
	{suffix: "matrix", batch: true, packaging: "ZIP", extra: map[string]any{"combineArtifacts": true}, buildspec: `version: 0.2
batch:
  build-matrix:
    dynamic:
      env:
        variables:
          CHAOS_SLEEP: ["0.1", "0.4", "0.8"]
` + chaosPhases},
	// Single builds, retried once when they do not succeed (a build cut
	// by a kill ends FAULT and is retried).
	{suffix: "single", packaging: "ZIP", extra: map[string]any{"autoRetryLimit": 1}, buildspec: "version: 0.2\n" + chaosPhases},
}

const chaosBucket = "chaos-artifacts"

type chaosRun struct {
	env     *env
	data    string
	args    []string
	rng     *rand.Rand
	failed  []string
	started time.Time

	mu         sync.Mutex
	ackBuilds  []string // StartBuild answered 200 with these
	ackBatches []string // StartBuildBatch answered 200 with these
	cutStarts  int      // start requests the kill cut (outcome unknown)

	builds     []build         // as the last start saw them
	batches    []buildBatch    //
	restarts   []time.Duration // start → listening, after a kill
	finalWait  time.Duration
	kills      int
	startsSent int
	// what the checks looked at
	logsRead, artifactsRead, groupsChecked, combinedChecked int
}

func (r *chaosRun) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.failed = append(r.failed, msg)
	logf("FAIL: %s", msg)
}

func chaosMain(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("chaos", flag.ExitOnError)
	rounds := fs.Int("rounds", 50, "kill-and-restart rounds")
	seed := fs.Uint64("seed", 0, "random seed (default: from the clock; printed)")
	out := fs.String("out", "", "markdown file to write the results section into (replaced if there)")
	maxDelay := fs.Duration("max-delay", 2500*time.Millisecond, "longest time from a round's start to its kill")
	lease := fs.Duration("lease", 2*time.Second, "the server's --lease")
	wait := fs.Duration("wait", 5*time.Minute, "how long the last start may take to bring every build and batch to an end")
	timeout := fs.Duration("timeout", 30*time.Minute, "hard limit of the whole run")
	race := fs.Bool("race", false, "build the server with the race detector (a race it reports is a failure)")
	keep := fs.Bool("keep", false, "keep the temporary directory (data directory, server logs)")
	fs.Parse(args)
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	where := machine()
	interrupted := ctx
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	e, err := newEnv("chaos", *keep)
	if err != nil {
		logf("chaos: %v", err)
		return 1
	}
	defer e.cleanup()
	defer watchdog(e, *timeout+2*time.Minute).Stop()
	r := &chaosRun{env: e, data: filepath.Join(e.tmp, "data"), rng: rand.New(rand.NewPCG(*seed, *seed^0x9e3779b97f4a7c15)), started: time.Now()}
	e.marker = fmt.Sprintf("chaos%08x-", r.rng.Uint32())
	r.args = []string{"--lease", lease.String(), "--timeout-minute", "3s", "--node-id", "chaos"}
	logf("chaos: seed %d, %d rounds, projects %s*, scratch %s", *seed, *rounds, e.marker, e.tmp)
	if err := e.build(ctx, *race); err != nil {
		logf("chaos: %v", err)
		return 1
	}
	err = r.run(ctx, *rounds, *maxDelay, *wait)
	if err != nil {
		r.fail("%v", err)
	}
	total := time.Since(r.started)
	section := r.section(where, *seed, *rounds, *maxDelay, *lease, total)
	fmt.Println(section)
	if *out != "" && interrupted.Err() != nil {
		logf("chaos: interrupted: %s left as it was", *out)
	} else if *out != "" {
		if err := writeSection(*out, "chaos", section); err != nil {
			logf("chaos: writing %s: %v", *out, err)
		}
	}
	if ctx.Err() != nil {
		logf("chaos: stopped: %v", context.Cause(ctx))
		return 1
	}
	if len(r.failed) > 0 {
		logf("chaos: %d integrity failures (seed %d):", len(r.failed), *seed)
		for _, f := range r.failed {
			logf("  - %s", f)
		}
		return 1
	}
	logf("chaos: all checks passed in %v", total.Round(time.Second))
	return 0
}

// run does the rounds, the last start and the checks; an error ends the
// run early.
func (r *chaosRun) run(ctx context.Context, rounds int, maxDelay, wait time.Duration) error {
	defer r.checkLogs()
	for round := 1; round <= rounds; round++ {
		t0 := time.Now()
		s, err := r.env.start(ctx, r.data, r.args...)
		if err != nil && round == 1 {
			return fmt.Errorf("the server did not start: %v", err)
		} else if err != nil {
			return fmt.Errorf("round %d: the server did not start again after a kill: %v", round, err)
		}
		if round > 1 {
			r.restarts = append(r.restarts, time.Since(t0))
		}
		c := newClient(s.url, 8, 30*time.Second)
		if round == 1 {
			if err := r.createProjects(ctx, c); err != nil {
				s.kill()
				return err
			}
		}
		delay := time.Duration(r.rng.Int64N(int64(maxDelay) + 1))
		cut := r.startWork(ctx, c, delay)
		s.kill()
		cut()
		r.env.forget(s)
		r.kills++
		c.CloseIdle()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if round%10 == 0 || round == rounds {
			logf("chaos: round %d/%d: %d builds and %d batches started so far", round, rounds, len(r.ackBuilds), len(r.ackBatches))
		}
	}
	t0 := time.Now()
	s, err := r.env.start(ctx, r.data, r.args...)
	if err != nil {
		return fmt.Errorf("the last start: the server did not start: %v", err)
	}
	r.restarts = append(r.restarts, time.Since(t0))
	c := newClient(s.url, 8, 60*time.Second)
	defer c.CloseIdle()
	builds, batches, err := r.waitComplete(ctx, c, wait)
	r.finalWait = time.Since(t0)
	r.builds, r.batches = builds, batches
	if err != nil {
		return err
	}
	r.check(ctx, c, builds, batches)
	r.checkLeftovers(ctx)
	if !s.stop(60 * time.Second) {
		r.fail("the server did not stop cleanly on SIGTERM (%v):\n%s", s.err, s.logTail(10))
	}
	r.env.forget(s)
	r.checkStore()
	return nil
}

func (r *chaosRun) createProjects(ctx context.Context, c *client) error {
	for _, p := range chaosProjects {
		extra := map[string]any{
			"artifacts":        map[string]any{"type": "S3", "location": chaosBucket, "packaging": p.packaging, "name": "out", "namespaceType": "BUILD_ID", "path": p.suffix},
			"timeoutInMinutes": 5,
		}
		if p.batch {
			cfg := map[string]any{"serviceRole": "arn:aws:iam::000000000000:role/chaos-batch"}
			if p.extra["combineArtifacts"] == true {
				cfg["combineArtifacts"] = true
			}
			extra["buildBatchConfig"] = cfg
		}
		if v, ok := p.extra["autoRetryLimit"]; ok {
			extra["autoRetryLimit"] = v
		}
		if err := c.Call(ctx, "CreateProject", project(r.env.marker+p.suffix, p.buildspec, extra), nil); err != nil {
			return fmt.Errorf("creating the projects: %v", err)
		}
	}
	return nil
}

// startWork starts one to three batches and up to two single builds at
// random moments of the round's first half second, and returns after
// delay (or, one time in four, just after the first start was sent). What was not sent by then is not sent; the caller kills the
// server and then calls the function returned, which waits for the
// requests in flight, cut by the kill.
func (r *chaosRun) startWork(ctx context.Context, c *client, delay time.Duration) (cut func()) {
	type start struct {
		p  chaosProject
		at time.Duration
	}
	var starts []start
	for range 1 + r.rng.IntN(3) {
		starts = append(starts, start{chaosProjects[r.rng.IntN(3)], time.Duration(r.rng.Int64N(int64(500 * time.Millisecond)))})
	}
	for range r.rng.IntN(3) {
		starts = append(starts, start{chaosProjects[3], time.Duration(r.rng.Int64N(int64(500 * time.Millisecond)))})
	}
	if r.rng.IntN(4) == 0 {
		// A quarter of the kills aim at a start request in flight.
		first := starts[0].at
		for _, st := range starts {
			first = min(first, st.at)
		}
		delay = first + time.Duration(r.rng.Int64N(int64(40*time.Millisecond)))
	}
	stopSending := make(chan struct{})
	var wg sync.WaitGroup
	for _, st := range starts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-time.After(st.at):
			case <-stopSending:
				return
			}
			r.mu.Lock()
			r.startsSent++
			r.mu.Unlock()
			name := r.env.marker + st.p.suffix
			var err error
			if st.p.batch {
				var out struct {
					Batch buildBatch `json:"buildBatch"`
				}
				if err = c.Call(ctx, "StartBuildBatch", map[string]any{"projectName": name}, &out); err == nil {
					r.mu.Lock()
					r.ackBatches = append(r.ackBatches, out.Batch.ID)
					r.mu.Unlock()
				}
			} else {
				var out struct {
					Build build `json:"build"`
				}
				if err = c.Call(ctx, "StartBuild", map[string]any{"projectName": name}, &out); err == nil {
					r.mu.Lock()
					r.ackBuilds = append(r.ackBuilds, out.Build.ID)
					r.mu.Unlock()
				}
			}
			var ae *testclient.APIError
			r.mu.Lock()
			defer r.mu.Unlock()
			switch {
			case err == nil:
			case errors.As(err, &ae):
				// The server answered: a refusal is a finding.
				r.fail("start on %s refused: %v", name, err)
			default:
				r.cutStarts++
			}
		}()
	}
	select {
	case <-time.After(delay):
	case <-ctx.Done():
	}
	close(stopSending)
	return wg.Wait
}

// waitComplete waits until every build and batch of the store has ended.
func (r *chaosRun) waitComplete(ctx context.Context, c *client, wait time.Duration) ([]build, []buildBatch, error) {
	deadline := time.Now().Add(wait)
	for {
		builds, batches, err := r.readAll(ctx, c)
		if err != nil {
			return nil, nil, fmt.Errorf("reading every build and batch: %v", err)
		}
		var open []string
		for _, b := range builds {
			if !b.Complete {
				open = append(open, fmt.Sprintf("build %s %s in %s", b.ID, b.Status, b.CurrentPhase))
			}
		}
		for _, b := range batches {
			if !b.Complete {
				open = append(open, fmt.Sprintf("batch %s %s in %s", b.ID, b.Status, b.CurrentPhase))
			}
		}
		if len(open) == 0 {
			return builds, batches, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			sort.Strings(open)
			if len(open) > 20 {
				open = append(open[:20], fmt.Sprintf("… and %d more", len(open)-20))
			}
			return builds, batches, fmt.Errorf("%d builds and batches did not end within %v of the last start:\n    %s", len(open), wait, strings.Join(open, "\n    "))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (r *chaosRun) readAll(ctx context.Context, c *client) ([]build, []buildBatch, error) {
	ids, err := c.listAll(ctx, "ListBuilds", map[string]any{})
	if err != nil {
		return nil, nil, err
	}
	builds, notFound, err := c.getBuilds(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	if len(notFound) > 0 {
		return nil, nil, fmt.Errorf("ListBuilds lists builds BatchGetBuilds does not find: %v", notFound)
	}
	bids, err := c.listAll(ctx, "ListBuildBatches", map[string]any{})
	if err != nil {
		return nil, nil, err
	}
	batches, notFound, err := c.getBatches(ctx, bids)
	if err != nil {
		return nil, nil, err
	}
	if len(notFound) > 0 {
		return nil, nil, fmt.Errorf("ListBuildBatches lists batches BatchGetBuildBatches does not find: %v", notFound)
	}
	return builds, batches, nil
}

// check is the integrity check of every build and batch.
func (r *chaosRun) check(ctx context.Context, c *client, builds []build, batches []buildBatch) {
	byArn := map[string]*build{}
	byID := map[string]*build{}
	for i := range builds {
		byArn[builds[i].Arn] = &builds[i]
		byID[builds[i].ID] = &builds[i]
	}
	batchByArn := map[string]*buildBatch{}
	batchByID := map[string]*buildBatch{}
	for i := range batches {
		batchByArn[batches[i].Arn] = &batches[i]
		batchByID[batches[i].ID] = &batches[i]
	}
	// Nothing acknowledged is lost.
	for _, id := range r.ackBuilds {
		if byID[id] == nil {
			r.fail("lost build: StartBuild answered %s, which is not in the store", id)
		}
	}
	for _, id := range r.ackBatches {
		if batchByID[id] == nil {
			r.fail("lost batch: StartBuildBatch answered %s, which is not in the store", id)
		}
	}
	final := map[string]bool{"SUCCEEDED": true, "FAILED": true, "FAULT": true, "TIMED_OUT": true, "STOPPED": true}
	// Builds: ended, consistent with their batch and retries.
	groupOf := map[string]string{} // build ARN → its group identifier
	inBatch := map[string]string{} // build ARN → the batch ARN whose groups name it
	for _, bb := range batches {
		if !bb.Complete || !final[bb.Status] || bb.EndTime == 0 {
			r.fail("batch %s not ended: status %s, phase %s, complete %v", bb.ID, bb.Status, bb.CurrentPhase, bb.Complete)
		}
		for _, g := range bb.BuildGroups {
			sums := g.PriorBuildSummaryList
			if g.CurrentBuildSummary != nil {
				sums = append(sums, *g.CurrentBuildSummary)
			} else {
				r.fail("batch %s: group %s has no currentBuildSummary", bb.ID, g.Identifier)
			}
			for k, sum := range sums {
				r.groupsChecked++
				current := k == len(sums)-1 && g.CurrentBuildSummary != nil
				groupOf[sum.Arn] = g.Identifier
				inBatch[sum.Arn] = bb.Arn
				b := byArn[sum.Arn]
				if b == nil {
					if found, _, err := c.getBuilds(ctx, []string{sum.Arn}); err == nil && len(found) == 1 {
						b = &found[0]
					}
				}
				switch {
				case b == nil && current && sum.Status == "STOPPED":
					// A group that never started (its dependency failed):
					// its build's ARN is assigned, the build never made.
				case b == nil:
					r.fail("batch %s (%s): group %s names build %s (%s), which does not exist", bb.ID, bb.Status, g.Identifier, sum.Arn, sum.Status)
				case b.Status != sum.Status:
					r.fail("batch %s (%s): group %s says build %s is %s, the build is %s", bb.ID, bb.Status, g.Identifier, b.ID, sum.Status, b.Status)
				case b.BuildBatchArn != bb.Arn:
					r.fail("batch %s: group %s names build %s, whose buildBatchArn is %q", bb.ID, g.Identifier, b.ID, b.BuildBatchArn)
				}
			}
		}
		if bb.Status == "SUCCEEDED" && bb.BuildBatchConfig.CombineArtifacts {
			if bb.Artifacts.Location == "" {
				r.fail("batch %s SUCCEEDED with combineArtifacts but has no artifacts location", bb.ID)
			} else if p, err := r.artifactPath(bb.Artifacts.Location); err != nil {
				r.fail("batch %s: combined artifacts: %v", bb.ID, err)
			} else if _, err := os.Stat(p); err != nil {
				r.fail("batch %s SUCCEEDED, its combined artifacts %s are missing: %v", bb.ID, bb.Artifacts.Location, err)
			} else {
				r.combinedChecked++
			}
		}
	}
	for i := range builds {
		b := &builds[i]
		if !b.Complete || !final[b.Status] || b.CurrentPhase != "COMPLETED" || b.EndTime == 0 {
			r.fail("build %s not ended: status %s, phase %s, complete %v", b.ID, b.Status, b.CurrentPhase, b.Complete)
			continue
		}
		if b.BuildBatchArn != "" {
			if batchByArn[b.BuildBatchArn] == nil {
				r.fail("build %s: its batch %s does not exist", b.ID, b.BuildBatchArn)
			} else if inBatch[b.Arn] != b.BuildBatchArn {
				r.fail("build %s (%s) of batch %s is in none of the batch's groups", b.ID, b.Status, b.BuildBatchArn)
			}
		}
		if rc := b.AutoRetryConfig; rc != nil && rc.NextAutoRetry != "" {
			if byID[rc.NextAutoRetry] == nil && byArn[rc.NextAutoRetry] == nil {
				r.fail("build %s: its automatic retry %s does not exist", b.ID, rc.NextAutoRetry)
			}
		} else if rc != nil && b.Status != "SUCCEEDED" && rc.AutoRetryNumber < rc.AutoRetryLimit {
			r.fail("build %s ended %s (retry %d of at most %d) and was not retried", b.ID, b.Status, rc.AutoRetryNumber, rc.AutoRetryLimit)
		}
		if b.Status == "SUCCEEDED" {
			r.checkSucceeded(ctx, c, b, groupOf[b.Arn] == "DOWNLOAD_SOURCE")
		}
	}
}

// checkSucceeded: a SUCCEEDED build's log is whole and its artifacts are
// there, holding its own id.
func (r *chaosRun) checkSucceeded(ctx context.Context, c *client, b *build, downloadSource bool) {
	r.logsRead++
	text, complete, err := c.buildLog(ctx, b.ID)
	switch {
	case err != nil:
		r.fail("build %s SUCCEEDED, its log cannot be read: %v", b.ID, err)
		return
	case !complete:
		r.fail("build %s SUCCEEDED, its log is not complete (%d bytes)", b.ID, len(text))
	}
	if downloadSource {
		return
	}
	for _, want := range []string{"chaos-line-1 " + b.ID, "chaos-line-2 ", "chaos-line-3 done"} {
		if !strings.Contains(text, want) {
			r.fail("build %s SUCCEEDED, its log lacks %q (%d bytes)", b.ID, want, len(text))
			return
		}
	}
	if b.Artifacts.Location == "" {
		r.fail("build %s SUCCEEDED without an artifacts location", b.ID)
		return
	}
	p, err := r.artifactPath(b.Artifacts.Location)
	if err != nil {
		r.fail("build %s: %v", b.ID, err)
		return
	}
	st, err := os.Stat(p)
	if err != nil {
		r.fail("build %s SUCCEEDED, its artifacts %s are missing: %v", b.ID, b.Artifacts.Location, err)
		return
	}
	r.artifactsRead++
	var id []byte
	if st.IsDir() {
		id, err = os.ReadFile(filepath.Join(p, "out", "id.txt"))
	} else {
		id, err = zipFile(p, "out/id.txt")
		if err == nil && b.Artifacts.Sha256sum != "" {
			if sum, _ := fileSHA256(p); sum != b.Artifacts.Sha256sum {
				err = fmt.Errorf("sha256 %s, the build says %s", sum, b.Artifacts.Sha256sum)
			}
		}
	}
	if err != nil {
		r.fail("build %s SUCCEEDED, its artifacts %s: %v", b.ID, b.Artifacts.Location, err)
	} else if strings.TrimSpace(string(id)) != b.ID {
		r.fail("build %s SUCCEEDED, its artifacts %s hold another build's id.txt: %q", b.ID, b.Artifacts.Location, id)
	}
}

// artifactPath maps arn:aws:s3:::bucket/key to the file store of the data
// directory.
func (r *chaosRun) artifactPath(location string) (string, error) {
	key, ok := strings.CutPrefix(location, "arn:aws:s3:::")
	if !ok || strings.Contains(key, "..") {
		return "", fmt.Errorf("unexpected artifacts location %q", location)
	}
	return filepath.Join(r.data, "artifacts", filepath.FromSlash(key)), nil
}

func zipFile(path, name string) ([]byte, error) {
	z, err := zip.OpenReader(path)
	if err != nil {
		return nil, err
	}
	defer z.Close()
	f, err := z.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checkLeftovers: no build process and no container of this run is left.
func (r *chaosRun) checkLeftovers(ctx context.Context) {
	var pids []int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		pids = buildProcesses(r.env.marker)
		if len(pids) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, pid := range pids {
		r.fail("build process left after every build ended: %s", describeProcess(pid))
	}
	if list, ok := containers(ctx, r.env.marker); ok {
		for _, c := range list {
			r.fail("container left: %s", c)
		}
	}
}

// checkStore: SQLite's own integrity check of the store, the server
// stopped.
func (r *chaosRun) checkStore() {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(r.data, "buildbatch.db")+"?mode=ro")
	if err != nil {
		r.fail("opening the store: %v", err)
		return
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil {
		r.fail("the store's integrity check: %v", err)
	} else if res != "ok" {
		r.fail("the store's integrity check: %s", res)
	}
}

// checkLogs: no server panicked (a SIGKILL leaves no trace; a panic does).
func (r *chaosRun) checkLogs() {
	files, _ := filepath.Glob(filepath.Join(r.env.tmp, "server-*.log"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		for _, bad := range []string{"panic:", "fatal error:", "DATA RACE"} {
			if i := strings.Index(string(data), bad); i >= 0 {
				r.fail("%s: %s", filepath.Base(f), firstLines(string(data[i:]), 8))
			}
		}
	}
}

func firstLines(s string, n int) string {
	l := strings.SplitN(s, "\n", n+1)
	return strings.Join(l[:min(n, len(l))], "\n    ")
}

// errorLines counts the server's level=ERROR log lines by message.
func (r *chaosRun) errorLines() map[string]int {
	out := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(r.env.tmp, "server-*.log"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(data), "\n") {
			if !strings.Contains(line, "level=ERROR") {
				continue
			}
			msg := line
			if _, m, ok := strings.Cut(line, "msg="); ok {
				msg = m
				if strings.HasPrefix(m, `"`) {
					if j := strings.Index(m[1:], `"`); j >= 0 {
						msg = m[:j+2]
					}
				} else if j := strings.IndexByte(m, ' '); j >= 0 {
					msg = m[:j]
				}
			}
			out[msg]++
		}
	}
	return out
}

// section is the markdown of the results.
func (r *chaosRun) section(where string, seed uint64, rounds int, maxDelay, lease time.Duration, total time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Last `scripts/chaos` run\n\n")
	fmt.Fprintf(&b, "Run %s.\n\n", where)
	fmt.Fprintf(&b, "`-rounds %d -seed %d` (kill within %v of each start, or a quarter of the time within 40 ms of its first start request, `--lease %v --timeout-minute 3s`, local executor, SQLite store, file blob store; %s).\n\n",
		rounds, seed, maxDelay, lease, r.env.buildNote())
	result := "**passed**: every check held"
	if len(r.failed) > 0 {
		result = fmt.Sprintf("**failed**: %d integrity failures (below)", len(r.failed))
	}
	fmt.Fprintf(&b, "| figure | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| result | %s |\n", result)
	fmt.Fprintf(&b, "| whole run (build of the binary included) | %v |\n", total.Round(100*time.Millisecond))
	fmt.Fprintf(&b, "| SIGKILLs | %d |\n", r.kills)
	fmt.Fprintf(&b, "| start requests sent / acknowledged / cut by a kill | %d / %d builds + %d batches / %d |\n", r.startsSent, len(r.ackBuilds), len(r.ackBatches), r.cutStarts)
	singles := 0
	for _, bl := range r.builds {
		if strings.HasSuffix(bl.ProjectName, "-single") && (bl.AutoRetryConfig == nil || bl.AutoRetryConfig.AutoRetryNumber == 0) {
			singles++
		}
	}
	fmt.Fprintf(&b, "| in the store though their start was cut (committed, answer lost) | %d builds, %d batches |\n", singles-len(r.ackBuilds), len(r.batches)-len(r.ackBatches))
	fmt.Fprintf(&b, "| builds in the store, by status | %d: %s |\n", len(r.builds), countBy(r.builds, func(b build) string { return b.Status }))
	fmt.Fprintf(&b, "| batches in the store, by status | %d: %s |\n", len(r.batches), countBy(r.batches, func(b buildBatch) string { return b.Status }))
	retries := 0
	for _, bl := range r.builds {
		if rc := bl.AutoRetryConfig; rc != nil && rc.AutoRetryNumber > 0 {
			retries++
		}
	}
	fmt.Fprintf(&b, "| automatic retries (autoRetryLimit 1 on single builds) | %d |\n", retries)
	fmt.Fprintf(&b, "| FAULT builds, by context | %s |\n", countBy(r.builds, faultContext))
	if len(r.restarts) > 0 {
		d := slices.Clone(r.restarts)
		slices.Sort(d)
		fmt.Fprintf(&b, "| restart after SIGKILL → listening: median / max | %v / %v |\n", d[len(d)/2].Round(time.Millisecond), d[len(d)-1].Round(time.Millisecond))
	}
	fmt.Fprintf(&b, "| last start → every build and batch ended | %v |\n", r.finalWait.Round(100*time.Millisecond))
	fmt.Fprintf(&b, "| checked: group summaries / SUCCEEDED logs read / artifacts opened / combined artifacts | %d / %d / %d / %d |\n",
		r.groupsChecked, r.logsRead, r.artifactsRead, r.combinedChecked)
	errs := r.errorLines()
	keys := slices.Sorted(maps.Keys(errs))
	var el []string
	for _, k := range keys {
		el = append(el, fmt.Sprintf("%d× %s", errs[k], strings.ReplaceAll(k, "|", "\\|")))
	}
	fmt.Fprintf(&b, "| server `level=ERROR` log lines | %s |\n", orNone(strings.Join(el, "; ")))
	if len(r.failed) > 0 {
		b.WriteString("\nFailures:\n\n")
		for _, f := range r.failed {
			fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(f, "\n", "\n  "))
		}
	}
	return b.String()
}

func faultContext(b build) string {
	if b.Status != "FAULT" {
		return ""
	}
	for i := len(b.Phases) - 1; i >= 0; i-- {
		for _, c := range b.Phases[i].Contexts {
			if c.Message != "" {
				m := c.Message
				if len(m) > 90 {
					m = m[:90] + "…"
				}
				return b.Phases[i].Type + ": " + m
			}
		}
	}
	return "(no context)"
}

// countBy is "3 A, 2 B" over the non-empty keys, most first.
func countBy[T any](items []T, key func(T) string) string {
	n := map[string]int{}
	for _, it := range items {
		if k := key(it); k != "" {
			n[k]++
		}
	}
	keys := slices.Collect(maps.Keys(n))
	sort.Slice(keys, func(i, j int) bool { return n[keys[i]] > n[keys[j]] || n[keys[i]] == n[keys[j]] && keys[i] < keys[j] })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", n[k], strings.ReplaceAll(k, "|", "\\|")))
	}
	return orNone(strings.Join(parts, ", "))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
