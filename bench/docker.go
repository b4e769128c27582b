package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	dockerclient "github.com/moby/moby/client"

	"github.com/buildbatch/buildbatch/internal/executor/docker/dockertest"
)

// benchDocker: builds in containers. StartBuild → the first command
// running in its container, against `docker run --rm IMAGE true` on the
// same image; and a 64-build matrix batch in containers against 64 such
// runs, as many at once as the server runs builds.
func benchDocker(e *benchEnv, rep *report) {
	cli, err := dockerclient.New(dockerclient.FromEnv, dockerclient.WithAPIVersionNegotiation())
	if err == nil {
		err = dockertest.Standard(context.Background(), cli)
		cli.Close()
	}
	if err != nil {
		rep.note("Docker rows skipped: %v", err)
		return
	}
	image := dockertest.ImageA
	workers := max(4, runtime.NumCPU()*4) // the server's default --max-concurrent-builds
	s := e.startServer(filepath.Join(e.tmp, "docker"), "--executor", "docker")
	defer s.stop()
	c := newClient(s.url, 4)

	// Start-up.
	n := 20
	if *quick {
		n = 5
	}
	c.mustCall("CreateProject", project("dstart", "version: 0.2\nphases:\n  build:\n    commands:\n      - true\n",
		map[string]any{"environment": map[string]any{"type": "LINUX_CONTAINER", "image": image, "computeType": "BUILD_GENERAL1_SMALL"}}), nil)
	var lat []time.Duration
	for i := 0; i < n+2; i++ {
		t0 := time.Now()
		b := c.waitBuild(c.startBuild("dstart"))
		if b.Status != "SUCCEEDED" {
			fatalf("docker build ended %s", b.Status)
		}
		start, _ := b.phase("BUILD")
		if i >= 2 {
			lat = append(lat, time.Unix(0, int64(start*1e9)).Sub(t0))
		}
	}
	var runs []time.Duration
	for i := 0; i < n; i++ {
		runs = append(runs, dockerRun(image))
	}
	p50, ref := percentile(lat, 0.5), percentile(runs, 0.5)
	rep.add(fmt.Sprintf("docker: StartBuild → first command in its container, median (%d)", n), ms(p50),
		"`docker run --rm IMAGE true`: "+ms(ref), fmt.Sprintf("%.2f×", float64(p50)/float64(ref)), "≤ 1.3×", float64(p50) <= 1.3*float64(ref))

	// A 64-build matrix.
	side := 8
	if *quick {
		side = 4
	}
	total := side * side
	var vals []string
	for i := 0; i < side; i++ {
		vals = append(vals, strconv.Itoa(i))
	}
	spec := fmt.Sprintf("version: 0.2\nbatch:\n  build-matrix:\n    dynamic:\n      env:\n        variables:\n          A: [%s]\n          B: [%s]\nphases:\n  build:\n    commands:\n      - true\n",
		strings.Join(vals, ", "), strings.Join(vals, ", "))
	c.mustCall("CreateProject", project("dmatrix", spec, map[string]any{
		"environment":      map[string]any{"type": "LINUX_CONTAINER", "image": image, "computeType": "BUILD_GENERAL1_SMALL"},
		"buildBatchConfig": map[string]any{"serviceRole": "arn:aws:iam::000000000000:role/b"}}), nil)
	var out struct {
		BuildBatch struct {
			ID string `json:"id"`
		} `json:"buildBatch"`
	}
	t0 := time.Now()
	c.mustCall("StartBuildBatch", map[string]any{"projectName": "dmatrix"}, &out)
	var doc struct {
		Status   string `json:"buildBatchStatus"`
		Complete bool   `json:"complete"`
	}
	for deadline := time.Now().Add(10 * time.Minute); ; {
		var got struct {
			BuildBatches []json.RawMessage `json:"buildBatches"`
		}
		c.mustCall("BatchGetBuildBatches", map[string]any{"ids": []string{out.BuildBatch.ID}}, &got)
		json.Unmarshal(got.BuildBatches[0], &doc)
		if doc.Complete || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	batch := time.Since(t0)
	if doc.Status != "SUCCEEDED" {
		fatalf("docker matrix batch ended %s", doc.Status)
	}
	refAll := parallel(total, workers, func() { dockerRun(image) })
	over := float64(batch)/float64(refAll) - 1
	rep.add(fmt.Sprintf("docker: %d-build matrix batch in containers", total), ms(batch),
		fmt.Sprintf("%d × `docker run --rm`, %d at once: %s", total, workers, ms(refAll)), fmt.Sprintf("%.2f×", float64(batch)/float64(refAll)),
		"overhead ≤ 20%", over <= 0.20)
}

func dockerRun(image string) time.Duration {
	t0 := time.Now()
	if out, err := exec.Command("docker", "run", "--rm", image, "true").CombinedOutput(); err != nil {
		fatalf("docker run: %v: %s", err, out)
	}
	return time.Since(t0)
}
