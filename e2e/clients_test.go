package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestProjectsBoto3(t *testing.T) {
	s := Start(t)
	s.Python(t, "test_projects")
}

func TestProjectsAWSCLI(t *testing.T) {
	s := Start(t)
	out, err := s.AWS(t, "test", "codebuild", "create-project", "--name", "cli-demo",
		"--source", "type=NO_SOURCE,buildspec=version: 0.2",
		"--artifacts", "type=NO_ARTIFACTS",
		"--environment", "type=LINUX_CONTAINER,image=aws/codebuild/standard:7.0,computeType=BUILD_GENERAL1_SMALL",
		"--service-role", "arn:aws:iam::000000000000:role/x")
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		Project struct {
			Arn     string  `json:"arn"`
			Created float64 `json:"created"`
		} `json:"project"`
	}
	if err := json.Unmarshal(out, &created); err != nil || created.Project.Arn != "arn:aws:codebuild:us-east-1:000000000000:project/cli-demo" {
		t.Fatalf("create-project printed %s (%v)", out, err)
	}
	out, err = s.AWS(t, "test", "codebuild", "list-projects")
	if err != nil || !strings.Contains(string(out), `"cli-demo"`) {
		t.Errorf("list-projects: %s %v", out, err)
	}
	out, err = s.AWS(t, "test", "codebuild", "batch-get-projects", "--names", "cli-demo", "ghost")
	if err != nil || !strings.Contains(string(out), `"ghost"`) || !strings.Contains(string(out), `"projectVisibility": "PRIVATE"`) {
		t.Errorf("batch-get-projects: %s %v", out, err)
	}
	_, err = s.AWS(t, "test", "codebuild", "create-project", "--name", "cli-demo",
		"--source", "type=NO_SOURCE,buildspec=version: 0.2", "--artifacts", "type=NO_ARTIFACTS",
		"--environment", "type=LINUX_CONTAINER,image=i,computeType=BUILD_GENERAL1_SMALL", "--service-role", "r")
	if err == nil || !strings.Contains(err.Error(), "ResourceAlreadyExistsException") {
		t.Errorf("duplicate create-project: %v", err)
	}
	_, err = s.AWS(t, "test", "codebuild", "update-project", "--name", "cli-demo", "--timeout-in-minutes", "9999")
	if err == nil || !strings.Contains(err.Error(), "InvalidInputException") || !strings.Contains(err.Error(), "timeoutInMinutes") {
		t.Errorf("out-of-range update-project: %v", err)
	}
	if _, err := s.AWS(t, "test", "codebuild", "delete-project", "--name", "cli-demo"); err != nil {
		t.Error(err)
	}
}

func TestBuildsBoto3(t *testing.T) {
	s := Start(t)
	s.Python(t, "test_builds")
}

func TestBuildLimitsBoto3(t *testing.T) {
	s := Start(t, "--max-concurrent-builds", "2", "--max-queued-builds", "1", "--timeout-minute", "1s") // 5-minute timeouts of 5 s: a container starts well within that under load
	s.Python(t, "test_builds_limits", "BUILDBATCH_BINARY="+binary)
}

func TestBuildsAWSCLI(t *testing.T) {
	s := Start(t)
	_, err := s.AWS(t, "test", "codebuild", "create-project", "--name", "cli-build",
		"--source", `{"type":"NO_SOURCE","buildspec":"version: 0.2\nphases:\n  build:\n    commands:\n      - echo hello from the cli\n"}`,
		"--artifacts", "type=NO_ARTIFACTS",
		"--environment", "type=LINUX_CONTAINER,image=aws/codebuild/standard:7.0,computeType=BUILD_GENERAL1_SMALL",
		"--service-role", "r")
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.AWS(t, "test", "codebuild", "start-build", "--project-name", "cli-build", "--query", "build.id", "--output", "text")
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(string(out))
	c := s.Client(t, "test", "us-east-1")
	waitBuild(t, c, id)
	out, err = s.AWS(t, "test", "codebuild", "batch-get-builds", "--ids", id, "--query", "builds[0].[buildStatus,currentPhase]", "--output", "text")
	if err != nil || strings.Fields(string(out))[0] != "SUCCEEDED" {
		t.Errorf("batch-get-builds: %s %v", out, err)
	}
	out, err = s.AWS(t, "test", "codebuild", "list-builds-for-project", "--project-name", "cli-build")
	if err != nil || !strings.Contains(string(out), id) {
		t.Errorf("list-builds-for-project: %s %v", out, err)
	}
	if text := logText(t, s, id); !strings.Contains(text, "hello from the cli") {
		t.Errorf("log: %s", text)
	}
	_, err = s.AWS(t, "test", "codebuild", "stop-build", "--id", "cli-build:nope")
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Errorf("stop-build of an unknown build: %v", err)
	}
}

func TestBatchesBoto3(t *testing.T) {
	s := Start(t)
	s.Python(t, "test_batches")
	s.Python(t, "test_batches_more")
}

func TestBatchesAWSCLI(t *testing.T) {
	s := Start(t)
	buildspec := `version: 0.2
batch:
  build-graph:
    - identifier: build1
    - identifier: build2
      depend-on: [build1]
phases:
  build:
    commands:
      - echo $CODEBUILD_BATCH_BUILD_IDENTIFIER
`
	src, _ := json.Marshal(map[string]string{"type": "NO_SOURCE", "buildspec": buildspec})
	if _, err := s.AWS(t, "test", "codebuild", "create-project", "--name", "cli-batch", "--source", string(src),
		"--artifacts", "type=NO_ARTIFACTS", "--environment", "type=LINUX_CONTAINER,image=aws/codebuild/standard:7.0,computeType=BUILD_GENERAL1_SMALL",
		"--service-role", "r", "--build-batch-config", "serviceRole=arn:aws:iam::000000000000:role/batch"); err != nil {
		t.Fatal(err)
	}
	out, err := s.AWS(t, "test", "codebuild", "start-build-batch", "--project-name", "cli-batch", "--query", "buildBatch.id", "--output", "text")
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(string(out))
	waitBatch(t, s.Client(t, "test", "us-east-1"), id)
	out, err = s.AWS(t, "test", "codebuild", "batch-get-build-batches", "--ids", id)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		BuildBatches []struct {
			Status string `json:"buildBatchStatus"`
			Groups []struct {
				Identifier string `json:"identifier"`
			} `json:"buildGroups"`
		} `json:"buildBatches"`
	}
	if err := json.Unmarshal(out, &got); err != nil || len(got.BuildBatches) != 1 || got.BuildBatches[0].Status != "SUCCEEDED" || len(got.BuildBatches[0].Groups) != 3 {
		t.Errorf("batch-get-build-batches: %s (%v)", out, err)
	}
	out, err = s.AWS(t, "test", "codebuild", "list-build-batches-for-project", "--project-name", "cli-batch")
	if err != nil || !strings.Contains(string(out), id) {
		t.Errorf("list-build-batches-for-project: %s %v", out, err)
	}
	out, err = s.AWS(t, "test", "codebuild", "delete-build-batch", "--id", id)
	if err != nil || !strings.Contains(string(out), "BATCH_DELETED") {
		t.Errorf("delete-build-batch: %s %v", out, err)
	}
}
