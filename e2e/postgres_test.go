package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codebuild/types"

	"github.com/buildbatch/buildbatch/internal/store/postgres/pgtest"
)

// TestPostgresStore runs builds and a batch with the resources in
// PostgreSQL, restarts the server on the same database, and checks that a
// second server on it is refused.
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

	// A second server on the same database is refused.
	cmd := exec.Command(binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--store", url)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another buildbatch server is using this database") {
		t.Errorf("second server: %v: %s", err, out)
	}

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
