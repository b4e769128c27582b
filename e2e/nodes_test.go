package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codebuild/types"
	"github.com/jackc/pgx/v5"

	"github.com/buildbatch/buildbatch/internal/blob/s3/s3test"
	"github.com/buildbatch/buildbatch/internal/store/postgres/pgtest"
)

// TestSeveralNodes: three nodes share one PostgreSQL database; a 32-build
// batch starts on node 1; node 2 is SIGKILLed while it runs some of the
// batch's builds. The batch completes, every build ends in a final status
// (node 2's with FAULT, once their leases expire), and every node answers
// BatchGetBuildBatches identically.
func TestSeveralNodes(t *testing.T) {
	url := pgtest.Start(t)
	blobURL := sharedBlob(t)
	common := []string{"--store", url, "--blob", blobURL, "--lease", "1s", "--max-concurrent-builds", "3"}
	nodes := []*Server{
		Start(t, append(common, "--node-id", "node-1")...),
		Start(t, append(common, "--node-id", "node-2")...),
		Start(t, append(common, "--node-id", "node-3")...),
	}
	c1 := nodes[0].Client(t, "test", "us-east-1")
	var values []string
	for i := 1; i <= 32; i++ {
		values = append(values, fmt.Sprint(i))
	}
	batchProject(t, c1, "multi", `version: 0.2
batch:
  build-matrix:
    dynamic:
      env:
        variables:
          N: [`+strings.Join(values, ", ")+`]
phases:
  build:
    commands:
      - echo "build $N"
      - echo "$N" > out.txt
      - sleep 1
artifacts:
  files: [out.txt]
`, func(in *codebuild.CreateProjectInput) {
		in.Artifacts = &types.ProjectArtifacts{Type: types.ArtifactsTypeS3, Location: aws.String("multi-out"), Packaging: types.ArtifactPackagingNone}
	})
	id := aws.ToString(startBatch(t, c1, &codebuild.StartBuildBatchInput{ProjectName: aws.String("multi")}).Id)

	// Wait until node 2 runs builds of the batch, then kill it.
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	held := func(node string) int {
		var n int
		if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM builds WHERE node = $1 AND NOT complete AND NOT queued`, node).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Each node honours its own --max-concurrent-builds: sample what each
	// holds until the batch ends.
	sampler, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer sampler.Close(context.Background())
	most := map[string]int{}
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	stopSampler := sync.OnceFunc(func() { close(stopSampling); <-sampled })
	defer stopSampler() // before the connection closes, however the test ends
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
			rows, err := sampler.Query(context.Background(), `SELECT node, count(*) FROM builds WHERE NOT complete AND NOT queued AND node != '' GROUP BY node`)
			if err != nil {
				continue
			}
			for rows.Next() {
				var node string
				var n int
				if rows.Scan(&node, &n) == nil && n > most[node] {
					most[node] = n
				}
			}
			rows.Close()
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	// A member build, not the DOWNLOAD_SOURCE build that plans the batch
	// (its groups appear once that one has ended): killing the node that
	// runs that one fails the batch, as on AWS.
	for len(getBatch(t, c1, id).BuildGroups) < 2 || held("node-2") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("node 2 never ran a build: %s", nodes[1].Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	nodes[1].Kill()

	// 32 builds on two nodes' six slots, in containers in the second pass
	// of a loaded CI machine: more time than one batch usually needs.
	bb := waitBatchFor(t, c1, id, 5*time.Minute)
	stopSampler()
	for node, n := range most {
		// A dead node's builds stay held until a live node ends them, so
		// node 2 may show its 3 and no more.
		if n > 3 {
			t.Errorf("node %s ran %d builds at once; --max-concurrent-builds is 3\nnode 1 log:\n%s\nnode 3 log:\n%s", node, n, nodes[0].Stderr(), nodes[2].Stderr())
		}
	}
	if len(most) < 2 {
		t.Errorf("builds ran on %d nodes: %v", len(most), most)
	}
	if len(bb.BuildGroups) != 33 {
		t.Fatalf("%d groups", len(bb.BuildGroups))
	}
	faulted := 0
	for _, g := range bb.BuildGroups {
		s := g.CurrentBuildSummary.BuildStatus
		switch s {
		case types.StatusTypeSucceeded:
		case types.StatusTypeFault:
			faulted++
		default:
			if s != types.StatusTypeStopped { // a dependent never started: none here
				t.Errorf("group %s ended %s", aws.ToString(g.Identifier), s)
			}
		}
	}
	if faulted == 0 {
		t.Errorf("no build ended FAULT, though node 2 was killed while running some: %s", groups(bb))
	}
	// The faulted builds say why.
	ids, err := c1.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String("multi")})
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	all = append(all, ids.Ids...)
	for tok := ids.NextToken; tok != nil; {
		more, err := c1.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String("multi"), NextToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		all, tok = append(all, more.Ids...), more.NextToken
	}
	if len(all) != 33 {
		t.Fatalf("%d builds listed", len(all))
	}
	for i := 0; i < len(all); i += 100 {
		out, err := c1.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: all[i:min(i+100, len(all))]})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range out.Builds {
			if b.BuildStatus == types.StatusTypeSucceeded && matrixMember(b) {
				checkShared(t, nodes, b)
			}
			if !b.BuildComplete {
				t.Errorf("build %s not complete: %s", aws.ToString(b.Id), phaseTable(b))
			}
			if b.BuildStatus == types.StatusTypeFault && !strings.Contains(phaseTable(b)+contexts(b), "lease expired") {
				t.Errorf("build %s FAULT without saying why: %s %s", aws.ToString(b.Id), phaseTable(b), contexts(b))
			}
		}
	}

	// Every node answers the same, node 2 too once restarted.
	nodes[1].start(nodes[1].Addr)
	want := batchJSON(t, c1, id)
	for i, n := range nodes[1:] {
		if got := batchJSON(t, n.Client(t, "test", "us-east-1"), id); got != want {
			t.Errorf("node %d answers differently:\n%s\nnode 1:\n%s", i+2, got, want)
		}
	}
}

// contexts lists a build's phase contexts.
func contexts(b types.Build) string {
	var out []string
	for _, p := range b.Phases {
		for _, c := range p.Contexts {
			if m := aws.ToString(c.Message); m != "" {
				out = append(out, string(p.PhaseType)+": "+m)
			}
		}
	}
	return strings.Join(out, "; ")
}

// TestStopFromAnyNode: StopBuild and StopBuildBatch work on a node other
// than the one running the builds.
func TestStopFromAnyNode(t *testing.T) {
	url := pgtest.Start(t)
	blobURL := sharedBlob(t)
	nodes := map[string]*Server{
		"node-a": Start(t, "--store", url, "--blob", blobURL, "--node-id", "node-a"),
		"node-b": Start(t, "--store", url, "--blob", blobURL, "--node-id", "node-b"),
	}
	ca := nodes["node-a"].Client(t, "test", "us-east-1")
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// otherNode returns the node not running the build.
	otherNode := func(id string) *Server {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var node string
			err := conn.QueryRow(context.Background(), `SELECT node FROM builds WHERE id = $1 AND NOT queued`, id).Scan(&node)
			if err == nil && node != "" {
				for name, n := range nodes {
					if name != node {
						return n
					}
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("build %s never ran: %v", id, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	project(t, ca, "long", "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 600\n")
	id := aws.ToString(start(t, ca, &codebuild.StartBuildInput{ProjectName: aws.String("long")}).Id)
	waitPhase(t, ca, id, "BUILD")
	// The other node reads the running build's log (kept in the shared
	// store), and stops it.
	o := otherNode(id)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if strings.Contains(logText(t, o, id), "Running command sleep 600") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other node never showed the running build's log:\n%s", logText(t, o, id))
		}
	}
	t0 := time.Now()
	out, err := o.Client(t, "test", "us-east-1").StopBuild(ctx, &codebuild.StopBuildInput{Id: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Build.BuildStatus != types.StatusTypeStopped || !out.Build.BuildComplete {
		t.Errorf("StopBuild on the other node: %s complete=%v after %v", out.Build.BuildStatus, out.Build.BuildComplete, time.Since(t0))
	}

	batchProject(t, ca, "longbatch", "version: 0.2\nbatch:\n  build-list:\n    - identifier: x\n    - identifier: y\nphases:\n  build:\n    commands:\n      - sleep 600\n")
	bid := aws.ToString(startBatch(t, ca, &codebuild.StartBuildBatchInput{ProjectName: aws.String("longbatch")}).Id)
	var member string
	for deadline := time.Now().Add(30 * time.Second); member == ""; time.Sleep(10 * time.Millisecond) {
		b := getBatch(t, ca, bid)
		for _, g := range b.BuildGroups {
			if aws.ToString(g.Identifier) == "x" && g.CurrentBuildSummary != nil && g.CurrentBuildSummary.BuildStatus == types.StatusTypeInProgress {
				member = strings.SplitN(aws.ToString(g.CurrentBuildSummary.Arn), "build/", 2)[1]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("x never started: %s", groups(b))
		}
	}
	waitPhase(t, ca, member, "BUILD")
	bout, err := otherNode(member).Client(t, "test", "us-east-1").StopBuildBatch(ctx, &codebuild.StopBuildBatchInput{Id: aws.String(bid)})
	if err != nil {
		t.Fatal(err)
	}
	if bout.BuildBatch.BuildBatchStatus != types.StatusTypeStopped || !bout.BuildBatch.Complete {
		t.Errorf("StopBuildBatch on the other node: %s %s", bout.BuildBatch.BuildBatchStatus, groups(*bout.BuildBatch))
	}
}

// sharedBlob starts an S3 server (versitygw) for the nodes of a test and
// gives this process, and the servers it starts, its credentials; it
// returns a --blob URL.
func sharedBlob(t *testing.T) string {
	t.Helper()
	srv := s3test.Start(t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	return srv.URL()
}

// matrixMember tells a build of the matrix (with its variable N) from the
// batch's DOWNLOAD_SOURCE build.
func matrixMember(b types.Build) bool {
	for _, v := range b.Environment.EnvironmentVariables {
		if aws.ToString(v.Name) == "N" {
			return true
		}
	}
	return false
}

// checkShared: every node reads a finished member build's artifact (the
// shared blob store) and its log (kept there too).
func checkShared(t *testing.T, nodes []*Server, b types.Build) {
	t.Helper()
	loc := strings.TrimPrefix(aws.ToString(b.Artifacts.Location), "arn:aws:s3:::")
	bucket, key, _ := strings.Cut(loc, "/")
	for i, n := range nodes {
		if n.cmd == nil {
			continue // killed
		}
		data, err := n.Object(t, bucket, key+"/out.txt")
		if err != nil || len(strings.TrimSpace(string(data))) == 0 {
			t.Errorf("node %d: artifact %s/out.txt of %s: %q %v", i+1, loc, aws.ToString(b.Id), data, err)
		}
		if text := logText(t, n, aws.ToString(b.Id)); !strings.Contains(text, "build "+strings.TrimSpace(string(data))) {
			t.Errorf("node %d: the log of %s lacks its output:\n%s", i+1, aws.ToString(b.Id), text)
		}
	}
}
