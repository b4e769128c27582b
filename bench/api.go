package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

type apiCase struct {
	name string
	op   string
	body []byte // for buildbatch (and the bare handler)
	moto []byte // nil: moto does not have the operation
}

// benchAPI: throughput and latency of read operations at 1, 8 and 64
// concurrent signed clients, beside moto_server and a bare net/http
// handler returning the same bytes as buildbatch (the limit).
func benchAPI(e *benchEnv, rep *report) {
	dur := 1500 * time.Millisecond
	if *quick {
		dur = 400 * time.Millisecond
	}
	args := []string{"--max-concurrent-builds", "16"}
	if addr := os.Getenv("BENCH_PPROF"); addr != "" {
		args = append(args, "--pprof-listen", addr) // profile the server under test
	}
	s := e.startServer(filepath.Join(e.tmp, "api"), args...)
	defer s.stop()
	c := newClient(s.url, 64)
	c.mustCall("CreateProject", project("bench", "version: 0.2\nbatch:\n  build-list:\n    - identifier: only\nphases:\n  build:\n    commands:\n      - true\n",
		map[string]any{"buildBatchConfig": map[string]any{"serviceRole": "arn:aws:iam::000000000000:role/b"}}), nil)
	var buildIDs, batchIDs []string
	for i := 0; i < 100; i++ {
		buildIDs = append(buildIDs, c.startBuild("bench"))
		var out struct {
			BuildBatch struct {
				ID string `json:"id"`
			} `json:"buildBatch"`
		}
		c.mustCall("StartBuildBatch", map[string]any{"projectName": "bench"}, &out)
		batchIDs = append(batchIDs, out.BuildBatch.ID)
	}
	for _, id := range buildIDs {
		c.waitBuild(id)
	}
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); {
		var got struct {
			BuildBatches []struct {
				Complete bool `json:"complete"`
			} `json:"buildBatches"`
		}
		c.mustCall("BatchGetBuildBatches", map[string]any{"ids": batchIDs}, &got)
		done := 0
		for _, b := range got.BuildBatches {
			if b.Complete {
				done++
			}
		}
		if done == len(batchIDs) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cases := []apiCase{
		{name: "BatchGetProjects", op: "BatchGetProjects", body: []byte(`{"names":["bench"]}`)},
		{name: "BatchGetBuilds (100 ids)", op: "BatchGetBuilds", body: fmt.Appendf(nil, `{"ids":%s}`, jsonList(buildIDs))},
		{name: "BatchGetBuildBatches (100 ids)", op: "BatchGetBuildBatches", body: fmt.Appendf(nil, `{"ids":%s}`, jsonList(batchIDs))},
		{name: "ListBuilds", op: "ListBuilds", body: []byte(`{}`)},
	}

	// The bare handler serves buildbatch's own answers.
	responses := map[string][]byte{}
	for _, cs := range cases {
		data, err := c.do(cs.op, cs.body)
		if err != nil {
			fatal(err)
		}
		responses[cs.op] = data
	}
	bare := e.startBare(responses)

	// moto_server with the same project and 100 builds.
	motoURL := e.startMoto()
	if motoURL != "" {
		m := newClient(motoURL, 64)
		err := m.call("CreateProject", map[string]any{
			"name": "bench", "source": map[string]any{"type": "S3", "location": "bucket/src.zip"}, "artifacts": map[string]any{"type": "NO_ARTIFACTS"},
			"environment": map[string]any{"type": "LINUX_CONTAINER", "image": "i", "computeType": "BUILD_GENERAL1_SMALL"},
			"serviceRole": "arn:aws:iam::123456789012:role/bench"}, nil)
		if err != nil {
			log.Printf("moto: %v", err)
			motoURL = ""
		} else {
			var motoIDs []string
			for i := 0; i < 100; i++ {
				var out struct {
					Build struct {
						ID string `json:"id"`
					} `json:"build"`
				}
				m.mustCall("StartBuild", map[string]any{"projectName": "bench"}, &out)
				motoIDs = append(motoIDs, out.Build.ID)
			}
			cases[0].moto = cases[0].body
			cases[1].moto = fmt.Appendf(nil, `{"ids":%s}`, jsonList(motoIDs))
			cases[3].moto = cases[3].body
		}
	} else {
		rep.note("moto_server was not found on PATH: the moto column is empty.")
	}

	levels := []int{1, 8, 64}
	for _, cs := range cases {
		for _, conc := range levels {
			ours := load(s.url, cs.op, cs.body, conc, dur)
			bareR := load(bare, cs.op, cs.body, conc, dur)
			ref := fmt.Sprintf("bare %.0f/s", bareR.rps)
			ratio := fmt.Sprintf("%.0f%% of bare", 100*ours.rps/bareR.rps)
			met := ours.rps >= bareR.rps/2
			goal := "≥ 50% of bare"
			if cs.moto != nil && motoURL != "" {
				mr := load(motoURL, cs.op, cs.moto, conc, dur)
				if mr.rps > 0 && bareR.rps < 30*mr.rps {
					rep.note("%s at %d client(s): even the bare handler, which does nothing but answer, is only %.0f× moto here, so no server can be 30× moto in this setup.",
						cs.name, conc, bareR.rps/mr.rps)
				}
				ref = fmt.Sprintf("moto %.0f/s; %s", mr.rps, ref)
				if mr.rps > 0 {
					ratio = fmt.Sprintf("%.0f× moto; %s", ours.rps/mr.rps, ratio)
					met = met && ours.rps >= 30*mr.rps
				} else {
					ratio = "moto failed; " + ratio
				}
				goal = "≥ 30× moto; " + goal
				if mr.errs > 0 {
					rep.note("moto answered %d requests with errors in %s at %d clients.", mr.errs, cs.name, conc)
				}
			}
			if ours.errs > 0 {
				rep.note("buildbatch answered %d requests with errors in %s at %d clients.", ours.errs, cs.name, conc)
				met = false
			}
			rep.add(fmt.Sprintf("API %s, %d client(s)", cs.name, conc),
				fmt.Sprintf("%.0f/s p50 %s p99 %s", ours.rps, ms(ours.p50), ms(ours.p99)), ref, ratio, goal, met)
		}
	}
	rep.note("API figures: every client signs every request (SigV4) and reuses its connections (moto closes them); the load generator shares the machine's %d cores with the server under test, as with the references.", runtime.NumCPU())
}

type loadResult struct {
	rps      float64
	p50, p99 time.Duration
	errs     int
}

// load runs conc clients for d against url and measures.
func load(url, op string, body []byte, conc int, d time.Duration) loadResult {
	c := newClient(url, conc)
	warm := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(warm) {
		c.do(op, body)
	}
	var mu sync.Mutex
	var all []time.Duration
	errs := 0
	deadline := time.Now().Add(d)
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			e := 0
			for time.Now().Before(deadline) {
				s := time.Now()
				if _, err := c.do(op, body); err != nil {
					e++
				}
				lat = append(lat, time.Since(s))
			}
			mu.Lock()
			all = append(all, lat...)
			errs += e
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	return loadResult{rps: float64(len(all)-errs) / elapsed.Seconds(), p50: percentile(all, 0.5), p99: percentile(all, 0.99), errs: errs}
}

// startBare runs this program as a bare handler in its own process.
func (e *benchEnv) startBare(responses map[string][]byte) string {
	file := filepath.Join(e.tmp, "responses.json")
	data, _ := json.Marshal(responses)
	os.WriteFile(file, data, 0o644)
	self, _ := os.Executable()
	cmd := exec.Command(self, "bare-server", "-responses", file)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		fatal(err)
	}
	e.track(cmd)
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	return strings.TrimSpace(line)
}

// bareServer answers every request with the canned bytes for its operation,
// with the same headers buildbatch sends: the floor of what HTTP costs.
func bareServer(args []string) {
	fs := flag.NewFlagSet("bare-server", flag.ExitOnError)
	file := fs.String("responses", "", "JSON map of operation to response body")
	fs.Parse(args)
	var responses map[string][]byte
	data, err := os.ReadFile(*file)
	if err != nil {
		fatal(err)
	}
	json.Unmarshal(data, &responses)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal(err)
	}
	fmt.Println("http://" + ln.Addr().String())
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "CodeBuild_20161006.")
		body := responses[op]
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("x-amzn-RequestId", "00000000-0000-4000-8000-000000000000")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body)
	}))
}

// startMoto starts moto_server on a free port; "" if it is not installed.
func (e *benchEnv) startMoto() string {
	path, err := exec.LookPath("moto_server")
	if err != nil {
		return ""
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return ""
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(path, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return ""
	}
	e.track(cmd)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if resp, err := http.Get(url + "/moto-api/"); err == nil {
			resp.Body.Close()
			return url
		}
		time.Sleep(100 * time.Millisecond)
	}
	return ""
}
