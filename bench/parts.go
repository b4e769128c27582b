package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/buildbatch/buildbatch/internal/batch"
	"github.com/buildbatch/buildbatch/internal/buildspec"
	"github.com/buildbatch/buildbatch/internal/testclient"
	"github.com/buildbatch/buildbatch/internal/testproc"
)

// benchPlan: parsing and planning a 1,000-build build-graph (chains of ten
// joined by diamonds), in process.
func benchPlan(e *benchEnv, rep *report) {
	src := []byte(graphSource(1000))
	res := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s, err := buildspec.Parse(src)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := batch.Make(s.Batch, batch.Restrictions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	perOp := time.Duration(res.NsPerOp())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, _ := buildspec.Parse(src)
	p, _ := batch.Make(s.Batch, batch.Restrictions{})
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(p)
	alloc := int64(after.TotalAlloc - before.TotalAlloc)
	rep.add("1,000-build build-graph: parse + plan time", ms(perOp), "—", "—", "< 50 ms", perOp < 50*time.Millisecond)
	rep.add("1,000-build build-graph: memory allocated planning it", mb(alloc), "—", "—", "< 50 MB", alloc < 50<<20)
}

func graphSource(n int) string {
	var b strings.Builder
	b.WriteString("version: 0.2\nbatch:\n  build-graph:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "    - identifier: b%d\n", i)
		switch {
		case i == 0:
		case i%10 == 0:
			fmt.Fprintf(&b, "      depend-on: [b%d, b%d]\n", i-1, max(0, i-11))
		default:
			fmt.Fprintf(&b, "      depend-on: [b%d]\n", i-1)
		}
	}
	return b.String()
}

// benchStart: StartBuild → the first buildspec command running, against
// the time to spawn `sh -c true`.
func benchStart(e *benchEnv, rep *report) {
	n := 40
	if *quick {
		n = 10
	}
	s := e.startServer(filepath.Join(e.tmp, "start"))
	defer s.stop()
	c := newClient(s.url, 2)
	marks := filepath.Join(e.tmp, "marks")
	os.MkdirAll(marks, 0o755)
	c.mustCall("CreateProject", project("start", "version: 0.2\nenv:\n  shell: bash\nphases:\n  build:\n    commands:\n      - echo $EPOCHREALTIME > $MARKS/$CODEBUILD_BUILD_NUMBER\n",
		map[string]any{"environment": map[string]any{"type": "LINUX_CONTAINER", "image": "i", "computeType": "BUILD_GENERAL1_SMALL",
			"environmentVariables": []map[string]string{{"name": "MARKS", "value": marks}}}}), nil)
	var lat []time.Duration
	for i := 1; i <= n+2; i++ {
		t0 := time.Now()
		id := c.startBuild("start")
		c.waitBuild(id)
		data, err := os.ReadFile(filepath.Join(marks, strconv.Itoa(i)))
		if err != nil {
			fatal(err)
		}
		f, _ := strconv.ParseFloat(strings.TrimSpace(string(data)), 64)
		t1 := time.Unix(0, int64(f*1e9))
		if i > 2 { // the first builds warm up the server
			lat = append(lat, t1.Sub(t0))
		}
	}
	spawn := spawnTimes(n)
	p50, p99 := percentile(lat, 0.5), percentile(lat, 0.99)
	sp := percentile(spawn, 0.5)
	rep.add(fmt.Sprintf("StartBuild → first command running, median (%d builds)", n), ms(p50), "spawn `sh -c true`: "+ms(sp),
		fmt.Sprintf("%.1f×", float64(p50)/float64(sp)), "< 20 ms", p50 < 20*time.Millisecond)
	rep.add("StartBuild → first command running, p99", ms(p99), "spawn p99: "+ms(percentile(spawn, 0.99)),
		fmt.Sprintf("%.1f×", float64(p99)/float64(percentile(spawn, 0.99))), "—", true)
}

// benchMatrix: a 256-build build-matrix batch of `true` commands, against
// 256 spawns of `sh -c true` on the machine's cores.
func benchMatrix(e *benchEnv, rep *report) {
	side := 16
	if *quick {
		side = 4
	}
	n := side * side
	s := e.startServer(filepath.Join(e.tmp, "matrix"))
	defer s.stop()
	c := newClient(s.url, 4)
	matrixProject(c, "matrix", side)
	own0, kids0 := testproc.CPUTime(s.pid)
	doc := runBatch(c, "matrix")
	own1, kids1 := testproc.CPUTime(s.pid)
	if doc.Status != "SUCCEEDED" || len(doc.Groups) != n+1 {
		fatalf("matrix batch ended %s with %d groups", doc.Status, len(doc.Groups))
	}
	total := doc.took()
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &before)
	ref := parallelSpawns(n, runtime.NumCPU())
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &after)
	over := (total - ref) / time.Duration(n)
	rep.add(fmt.Sprintf("%d-build build-matrix batch, StartBuildBatch → SUCCEEDED", n), ms(total),
		fmt.Sprintf("%d × `sh -c true` on %d cores: %s", n, runtime.NumCPU(), ms(ref)), fmt.Sprintf("%.1f×", float64(total)/float64(ref)),
		"overhead < 5 ms per build", over < 5*time.Millisecond)
	rep.add("  … overhead per build", ms(over), "", "", "< 5 ms", over < 5*time.Millisecond)
	// CPU time varies less than wall time on a busy machine: the server's
	// own per build, and with its builds' processes, against what one
	// `sh -c true` cost the bench.
	spawnCPU := (cpuOf(after) - cpuOf(before)) / time.Duration(n)
	perBuild := (own1 - own0) / time.Duration(n)
	withKids := perBuild + (kids1-kids0)/time.Duration(n)
	rep.add("  … CPU per build: the server, and with its builds' processes", fmt.Sprintf("%s; %s", ms(perBuild), ms(withKids)),
		"`sh -c true`: "+ms(spawnCPU), fmt.Sprintf("%.1f×", float64(withKids)/float64(max(spawnCPU, time.Microsecond))), "—", true)
}

// cpuOf is the user and system time of a Rusage.
func cpuOf(r syscall.Rusage) time.Duration {
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// parallelSpawns is how long n `sh -c true` take with the given workers.
func parallelSpawns(n, workers int) time.Duration {
	return parallel(n, workers, func() { exec.Command("sh", "-c", "true").Run() })
}

// parallel is how long n calls of f take with the given workers.
func parallel(n, workers int, f func()) time.Duration {
	t0 := time.Now()
	var wg sync.WaitGroup
	jobs := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				f()
			}
		}()
	}
	wg.Wait()
	return time.Since(t0)
}

// benchLogs: a build printing 1 GB, against `cat` of the same data into a
// file; the server's peak memory shows it does not hold the output.
func benchLogs(e *benchEnv, rep *report) {
	size := int64(1 << 30)
	if *quick {
		size = 64 << 20
	}
	data := filepath.Join(e.tmp, "logdata.txt")
	writeLines(data, size)
	defer os.Remove(data)
	refOut := filepath.Join(e.tmp, "ref.txt")
	ref := timeShell("cat " + data + " > " + refOut)
	os.Remove(refOut)
	pipe := timeShell("cat " + data + " | cat > " + refOut)
	os.Remove(refOut)

	s := e.startServer(filepath.Join(e.tmp, "logs"))
	defer s.stop()
	c := newClient(s.url, 2)
	c.mustCall("CreateProject", project("loud", "version: 0.2\nphases:\n  build:\n    commands:\n      - cat "+data+"\n", nil), nil)
	_, idlePeak := rss(s.pid)
	b := c.waitBuild(c.startBuild("loud"))
	start, end := b.phase("BUILD")
	took := time.Duration((end - start) * float64(time.Second))
	_, peak := rss(s.pid)
	rate := float64(size) / took.Seconds() / (1 << 20)
	refRate := float64(size) / ref.Seconds() / (1 << 20)
	pipeRate := float64(size) / pipe.Seconds() / (1 << 20)
	rep.add(fmt.Sprintf("log throughput, a build printing %s", mb(size)), fmt.Sprintf("%.0f MB/s", rate),
		fmt.Sprintf("`cat` into a file: %.0f MB/s", refRate), fmt.Sprintf("%.0f%%", 100*rate/refRate), "≥ 50%", rate >= refRate/2)
	rep.add("  … server peak RSS while logging it", mb(peak), "before: "+mb(idlePeak), "", "bounded", peak < 200<<20)
	rep.note("Log throughput: `cat data > file` may copy in the kernel (copy_file_range); through a pipe, as a build's output goes, `cat data | cat > file` ran at %.0f MB/s in this run (buildbatch: %.0f%% of that).", pipeRate, 100*rate/pipeRate)

	// The same log read back through CloudWatch Logs' GetLogEvents, page
	// after page until the token comes back, against reading the file.
	read := timeShell("cat " + data + " > /dev/null")
	got, pages, took, decoding := readLogEvents(c, "/aws/codebuild/loud", strings.TrimPrefix(b.ID, "loud:"))
	if got < size {
		fatalf("GetLogEvents returned %d bytes of a %d-byte log", got, size)
	}
	evRate := float64(got) / took.Seconds() / (1 << 20)
	readRate := float64(size) / read.Seconds() / (1 << 20)
	rep.add(fmt.Sprintf("GetLogEvents, the %s log read from the head", mb(size)), fmt.Sprintf("%.0f MB/s", evRate),
		fmt.Sprintf("`cat` of the file: %.0f MB/s", readRate), fmt.Sprintf("%.0f%%", 100*evRate/readRate), "≥ 50%", evRate >= readRate/2)
	rep.note("GetLogEvents: %d pages in %.1fs, of which the client's decoding of the answers (encoding/json, as the bench's client reads them) took %.1fs; "+
		"without it, the pages came at %.0f MB/s of messages (the server answering, and the loopback).",
		pages, took.Seconds(), decoding.Seconds(), float64(got)/(took-decoding).Seconds()/(1<<20))
	os.RemoveAll(filepath.Join(e.tmp, "logs"))
}

// readLogEvents reads a stream with GetLogEvents from its head until the
// forward token comes back, and returns the bytes of the messages, the
// pages, the time it took and the part of it spent decoding the answers.
func readLogEvents(c *client, group, stream string) (total int64, pages int, took, decoding time.Duration) {
	token := ""
	t0 := time.Now()
	for ; ; pages++ {
		in := map[string]any{"logGroupName": group, "logStreamName": stream, "startFromHead": true}
		if token != "" {
			in["nextToken"] = token
		}
		body, _ := json.Marshal(in)
		data, err := c.Send(context.Background(), testclient.Request{Target: "Logs_20140328.GetLogEvents", Service: "logs", Op: "GetLogEvents", Body: body})
		if err != nil {
			fatal(err)
		}
		var out struct {
			Events []struct {
				Message string `json:"message"`
			} `json:"events"`
			NextForwardToken string `json:"nextForwardToken"`
		}
		t1 := time.Now()
		if err := json.Unmarshal(data, &out); err != nil {
			fatal(err)
		}
		decoding += time.Since(t1)
		for _, e := range out.Events {
			total += int64(len(e.Message))
		}
		if out.NextForwardToken == token {
			return total, pages + 1, time.Since(t0), decoding
		}
		token = out.NextForwardToken
	}
}

func writeLines(path string, size int64) {
	f, err := os.Create(path)
	if err != nil {
		fatal(err)
	}
	defer f.Close()
	line := []byte("0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ the quick brown fox jumps over it\n")
	block := make([]byte, 0, 1<<20)
	for len(block)+len(line) <= cap(block) {
		block = append(block, line...)
	}
	for written := int64(0); written < size; {
		n := min(int64(len(block)), size-written)
		f.Write(block[:n])
		written += n
	}
}

func timeShell(script string) time.Duration {
	t0 := time.Now()
	if out, err := exec.Command("sh", "-c", script).CombinedOutput(); err != nil {
		fatalf("%s: %v %s", script, err, out)
	}
	return time.Since(t0)
}

// benchMemory: an idle server's RSS, and what 100 running builds add.
func benchMemory(e *benchEnv, rep *report) {
	idleSrv := e.startServer(filepath.Join(e.tmp, "idle"))
	c := newClient(idleSrv.url, 2)
	c.mustCall("ListProjects", map[string]any{}, nil)
	time.Sleep(300 * time.Millisecond)
	idle, _ := rss(idleSrv.pid)
	idleSrv.stop()
	rep.add("memory: idle server RSS", mb(idle), "—", "—", "< 40 MB", idle < 40<<20)

	n := 100
	if *quick {
		n = 20
	}
	s := e.startServer(filepath.Join(e.tmp, "busy"), "--max-concurrent-builds", strconv.Itoa(n), "--max-queued-builds", strconv.Itoa(n))
	defer s.stop()
	c = newClient(s.url, 8)
	c.mustCall("CreateProject", project("sleepy", "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 300\n", nil), nil)
	c.mustCall("ListProjects", map[string]any{}, nil)
	time.Sleep(300 * time.Millisecond)
	base, _ := rss(s.pid)
	var ids []string
	for i := 0; i < n; i++ {
		ids = append(ids, c.startBuild("sleepy"))
	}
	for deadline := time.Now().Add(2 * time.Minute); ; {
		var got struct {
			Builds []struct {
				Phase string `json:"currentPhase"`
			} `json:"builds"`
		}
		c.mustCall("BatchGetBuilds", map[string]any{"ids": ids}, &got)
		running := 0
		for _, b := range got.Builds {
			if b.Phase == "BUILD" {
				running++
			}
		}
		if running == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	busy, _ := rss(s.pid)
	per := (busy - base) / int64(n)
	rep.add(fmt.Sprintf("memory: server RSS with %d running builds", n), mb(busy), "with none: "+mb(base), "", "—", true)
	rep.add("  … per running build", mb(per), "", "", "< 2 MB", per < 2<<20)
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.call("StopBuild", map[string]any{"id": id}, nil)
		}()
	}
	wg.Wait()
}

var _ = context.Background
