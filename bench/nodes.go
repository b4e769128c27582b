package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/config"
	"github.com/buildbatch/buildbatch/internal/store"
	"github.com/buildbatch/buildbatch/internal/store/postgres"
)

// matrixProject creates a project whose batch is a side×side build-matrix
// of builds running `true`.
func matrixProject(c *client, name string, side int) {
	var vals []string
	for i := 0; i < side; i++ {
		vals = append(vals, strconv.Itoa(i))
	}
	spec := fmt.Sprintf("version: 0.2\nbatch:\n  build-matrix:\n    dynamic:\n      env:\n        variables:\n          A: [%s]\n          B: [%s]\nphases:\n  build:\n    commands:\n      - true\n",
		strings.Join(vals, ", "), strings.Join(vals, ", "))
	c.mustCall("CreateProject", project(name, spec, map[string]any{"buildBatchConfig": map[string]any{"serviceRole": "arn:aws:iam::000000000000:role/b"}}), nil)
}

// batchDoc is what the bench reads of a build batch.
type batchDoc struct {
	ID       string  `json:"id"`
	Status   string  `json:"buildBatchStatus"`
	Complete bool    `json:"complete"`
	Start    float64 `json:"startTime"`
	End      float64 `json:"endTime"`
	Groups   []any   `json:"buildGroups"`
}

// took is the batch's StartBuildBatch → end, by its own times.
func (d batchDoc) took() time.Duration {
	return time.Duration((d.End - d.Start) * float64(time.Second))
}

// runBatch starts a batch of the project on c and waits (10 minutes at
// most) for it to complete.
func runBatch(c *client, projectName string) batchDoc {
	var out struct {
		BuildBatch batchDoc `json:"buildBatch"`
	}
	c.mustCall("StartBuildBatch", map[string]any{"projectName": projectName}, &out)
	var doc batchDoc
	for deadline := time.Now().Add(10 * time.Minute); ; {
		var got struct {
			BuildBatches []json.RawMessage `json:"buildBatches"`
		}
		c.mustCall("BatchGetBuildBatches", map[string]any{"ids": []string{out.BuildBatch.ID}}, &got)
		if len(got.BuildBatches) != 1 {
			fatalf("batch %s: BatchGetBuildBatches found %d batches", out.BuildBatch.ID, len(got.BuildBatches))
		}
		json.Unmarshal(got.BuildBatches[0], &doc)
		if doc.Complete || time.Now().After(deadline) {
			return doc
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// benchNodes: the build-matrix batch of the matrix part (256 builds of
// `true`) on three nodes sharing one PostgreSQL database, the batch started
// on the first, against the same batch on one node on PostgreSQL; and that
// one node against one node on SQLite (the matrix part's configuration), so
// that the cost of the shared store shows. Every node has the default
// --max-concurrent-builds. The three configurations run the batch in
// turns, three times each; the medians count.
func benchNodes(e *benchEnv, rep *report) {
	side := 16
	if *quick {
		side = 4
	}
	n := side * side
	const rounds = 3
	oneURL, err := e.postgresDB()
	var threeURL string
	if err == nil {
		threeURL, err = e.postgresDB()
	}
	if err != nil {
		rep.note("Nodes rows skipped: %v", err)
		return
	}
	dir := filepath.Join(e.tmp, "nodes")
	defer os.RemoveAll(dir)

	type setup struct {
		name    string
		servers []*server
		client  *client // of the first server, where batches start
		url     string  // the PostgreSQL database, if any
		took    []time.Duration
		ran     map[string]int // builds each node ran, over all rounds
	}
	lite := &setup{name: "one node on SQLite"}
	lite.servers = []*server{e.startServer(filepath.Join(dir, "sqlite"))}
	one := &setup{name: "one node on PostgreSQL", url: oneURL}
	one.servers = []*server{e.startServer(filepath.Join(dir, "pg"), "--store", one.url, "--node-id", "pg")}
	three := &setup{name: "three nodes on PostgreSQL", url: threeURL, ran: map[string]int{}}
	for i := 1; i <= 3; i++ {
		three.servers = append(three.servers, e.startServer(filepath.Join(dir, "node"+strconv.Itoa(i)),
			"--store", three.url, "--node-id", "node"+strconv.Itoa(i)))
	}
	configs := []*setup{lite, one, three}
	for _, c := range configs {
		c.client = newClient(c.servers[0].url, 4)
		matrixProject(c.client, "nodes", side)
	}
	for r := 0; r < rounds; r++ {
		for k := range configs {
			c := configs[(r+k)%len(configs)] // each goes first once
			doc := runBatch(c.client, "nodes")
			if doc.Status != "SUCCEEDED" || len(doc.Groups) != n+1 {
				fatalf("nodes: %s: batch ended %s with %d groups", c.name, doc.Status, len(doc.Groups))
			}
			c.took = append(c.took, doc.took())
			if c.ran != nil {
				for node, count := range buildsByNode(c.url, doc.ID) {
					c.ran[node] += count
				}
			}
		}
	}
	for _, c := range configs {
		for _, s := range c.servers {
			s.stop()
		}
	}

	rate := func(c *setup) float64 { return float64(n) / percentile(c.took, 0.5).Seconds() }
	show := func(c *setup) string {
		return fmt.Sprintf("%.0f builds/s (%s)", rate(c), ms(percentile(c.took, 0.5)))
	}
	rep.add(fmt.Sprintf("nodes: %d-build build-matrix batch on three nodes sharing PostgreSQL", n), show(three),
		"one node on PostgreSQL: "+show(one), fmt.Sprintf("%.2f×", rate(three)/rate(one)), "—", true)
	rep.add("  … the same batch on one node on PostgreSQL", show(one),
		"one node on SQLite: "+show(lite), fmt.Sprintf("%.2f×", rate(one)/rate(lite)), "—", true)
	var nodes []string
	for node := range three.ran {
		nodes = append(nodes, node)
	}
	sort.Strings(nodes)
	var ran []string
	for _, node := range nodes {
		ran = append(ran, fmt.Sprintf("%s %d", cmp.Or(node, "(none)"), three.ran[node]))
	}
	rep.note("Nodes: builds per second of a %d-build build-matrix batch of `true` (StartBuildBatch → SUCCEEDED by the batch's own times; ratios of builds/s, higher is faster), median of %d batches per configuration taken in turns (the five servers run throughout; idle ones on PostgreSQL poll it); each node has the default --max-concurrent-builds (%d on this machine, so three nodes have three times the slots) and a shared store's poll for builds other nodes queued (250 ms). On three nodes the batch's builds (and its DOWNLOAD_SOURCE build) ran on: %s. The nodes share this machine's %d CPUs with PostgreSQL: three nodes add slots and coordination, not CPU, so they cannot be faster here than one; the figure shows what sharing the work costs.",
		n, rounds, config.Default().MaxConcurrentBuilds, strings.Join(ran, ", "), runtime.NumCPU())
}

// buildsByNode counts the builds of a batch by the node that ran them, from
// the store's leases (a build keeps the node that last claimed it).
func buildsByNode(url, batchID string) map[string]int {
	ctx := context.Background()
	st, err := postgres.Open(ctx, url)
	if err != nil {
		fatal(err)
	}
	defer st.Close()
	count := map[string]int{}
	err = st.View(ctx, func(tx store.Tx) error {
		builds, err := tx.BuildListByBatch(ctx, store.Scope{Account: "000000000000", Region: "us-east-1"}, batchID)
		for _, b := range builds {
			count[b.Node]++
		}
		return err
	})
	if err != nil {
		fatal(err)
	}
	return count
}
