package e2e

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codebuild/types"

	"github.com/buildbatch/buildbatch/internal/store/postgres/pgtest"
)

// TestPostgresStore runs builds and a batch with the resources in
// PostgreSQL, checks that a second node on the database answers the same,
// and restarts the server on the same database.
func TestPostgresStore(t *testing.T) {
	url := pgtest.Start(t)
	s := Start(t, "--store", url)
	c := s.Client(t, "test", "us-east-1")
	batchProject(t, c, "pg", `version: 0.2
batch:
  build-graph:
    - identifier: first
    - identifier: second
      depend-on: [first]
phases:
  build:
    commands:
      - echo "hello from $CODEBUILD_BATCH_BUILD_IDENTIFIER"
`)
	b := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("pg")}).Id))
	if b.BuildStatus != types.StatusTypeSucceeded {
		t.Fatalf("build %s %s", b.BuildStatus, phaseTable(b))
	}
	bb := waitBatch(t, c, aws.ToString(startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("pg")}).Id))
	if bb.BuildBatchStatus != types.StatusTypeSucceeded || groups(bb) != "DOWNLOAD_SOURCE:SUCCEEDED first:SUCCEEDED second:SUCCEEDED" {
		t.Fatalf("batch %s %s", bb.BuildBatchStatus, groups(bb))
	}

	// A second node on the same database answers the same.
	s2 := Start(t, "--store", url)
	c2 := s2.Client(t, "test", "us-east-1")
	if a, b := batchJSON(t, c, aws.ToString(bb.Id)), batchJSON(t, c2, aws.ToString(bb.Id)); a != b {
		t.Errorf("the nodes disagree:\n%s\n%s", a, b)
	}
	s2.Stop()

	s.Restart()
	c = s.Client(t, "test", "us-east-1")
	ids, err := c.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String("pg")})
	if err != nil || len(ids.Ids) != 4 { // the build, and the batch's three
		t.Fatalf("after a restart: %v %v", ids, err)
	}
	if got := getBatch(t, c, aws.ToString(bb.Id)); got.BuildBatchStatus != types.StatusTypeSucceeded {
		t.Errorf("batch after a restart: %s", got.BuildBatchStatus)
	}
	s.Python(t, "test_builds")
}

// batchJSON is a batch as BatchGetBuildBatches returns it, as JSON.
func batchJSON(t *testing.T, c *codebuild.Client, id string) string {
	t.Helper()
	out, err := c.BatchGetBuildBatches(ctx, &codebuild.BatchGetBuildBatchesInput{Ids: []string{id}})
	if err != nil || len(out.BuildBatches) != 1 {
		t.Fatalf("BatchGetBuildBatches: %v", err)
	}
	j, _ := json.Marshal(out.BuildBatches[0])
	return string(j)
}
