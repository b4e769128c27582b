package e2e

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var (
	uuidRE     = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`)
	timeRE     = regexp.MustCompile(`"(startTime|endTime|requestedOn)":\s*[0-9.]+`)
	durationRE = regexp.MustCompile(`"durationInSeconds":\s*[0-9]+`)
)

// normalize replaces what changes from run to run (uuids, times) with
// placeholders numbered in order of appearance, and indents.
var serverRE = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/`)

func normalize(t *testing.T, raw []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	pretty, _ := json.MarshalIndent(v, "", "  ")
	seen := map[string]string{}
	out := uuidRE.ReplaceAllFunc(pretty, func(u []byte) []byte {
		if _, ok := seen[string(u)]; !ok {
			seen[string(u)] = fmt.Sprintf("<uuid-%d>", len(seen)+1)
		}
		return []byte(seen[string(u)])
	})
	out = timeRE.ReplaceAll(out, []byte(`"$1": "<time>"`))
	out = durationRE.ReplaceAll(out, []byte(`"durationInSeconds": "<seconds>"`))
	out = serverRE.ReplaceAll(out, []byte(`http://<server>/`)) // the console's links
	return out
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./e2e -run Golden -update)", err)
	}
	if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
		t.Errorf("%s differs from the golden file; got:\n%s", name, got)
	}
}

// TestGoldenBatchResponse pins the exact shape of a BatchGetBuildBatches
// answer for a finished build-graph batch, and of one of its builds.
func TestGoldenBatchResponse(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	batchProject(t, c, "golden", `version: 0.2
batch:
  build-graph:
    - identifier: linux_small
    - identifier: linux_medium
      depend-on: [linux_small]
      env:
        compute-type: BUILD_GENERAL1_MEDIUM
        variables:
          SIZE: medium
phases:
  build:
    commands:
      - echo "$CODEBUILD_BATCH_BUILD_IDENTIFIER"
`)
	id := aws.ToString(startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("golden")}).Id)
	b := waitBatch(t, c, id)
	_, body := rawPost(t, s.URL, "BatchGetBuildBatches", `{"ids":["`+id+`","golden:missing"]}`, &signing{key: "test", secret: "test", at: time.Now()})
	golden(t, "batch_get_build_batches.json", normalize(t, []byte(body)))
	member := aws.ToString(b.BuildGroups[2].CurrentBuildSummary.Arn)
	_, body = rawPost(t, s.URL, "BatchGetBuilds", `{"ids":["`+member+`"]}`, &signing{key: "test", secret: "test", at: time.Now()})
	golden(t, "batch_get_builds_member.json", normalize(t, []byte(body)))
}
