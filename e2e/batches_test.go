package e2e

import (
	"archive/zip"
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codebuild/types"
)

const batchRole = "arn:aws:iam::000000000000:role/service-role/batch-role"

// batchProject creates a project with batch builds enabled.
func batchProject(t *testing.T, c *codebuild.Client, name, buildspec string, mut ...func(*codebuild.CreateProjectInput)) {
	t.Helper()
	project(t, c, name, buildspec, append([]func(*codebuild.CreateProjectInput){func(in *codebuild.CreateProjectInput) {
		in.BuildBatchConfig = &types.ProjectBuildBatchConfig{ServiceRole: aws.String(batchRole)}
	}}, mut...)...)
}

func startBatch(t *testing.T, c *codebuild.Client, in *codebuild.StartBuildBatchInput) types.BuildBatch {
	t.Helper()
	out, err := c.StartBuildBatch(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	return *out.BuildBatch
}

func getBatch(t *testing.T, c *codebuild.Client, id string) types.BuildBatch {
	t.Helper()
	out, err := c.BatchGetBuildBatches(ctx, &codebuild.BatchGetBuildBatchesInput{Ids: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.BuildBatches) != 1 {
		t.Fatalf("batch %s not found", id)
	}
	return out.BuildBatches[0]
}

func waitBatch(t *testing.T, c *codebuild.Client, id string) types.BuildBatch {
	t.Helper()
	return waitBatchFor(t, c, id, 90*time.Second)
}

// waitBatchFor waits up to limit for a batch to complete.
func waitBatchFor(t *testing.T, c *codebuild.Client, id string, limit time.Duration) types.BuildBatch {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		b := getBatch(t, c, id)
		if b.Complete {
			return b
		}
		time.Sleep(25 * time.Millisecond)
	}
	b := getBatch(t, c, id)
	t.Fatalf("batch %s did not complete in %v: %s %s", id, limit, batchPhases(b), groups(b))
	return types.BuildBatch{}
}

func batchPhases(b types.BuildBatch) string {
	var parts []string
	for _, p := range b.Phases {
		s := string(p.PhaseType)
		if p.PhaseStatus != "" {
			s += ":" + string(p.PhaseStatus)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// groups renders "identifier:status" for every group.
func groups(b types.BuildBatch) string {
	var parts []string
	for _, g := range b.BuildGroups {
		s := "?"
		if g.CurrentBuildSummary != nil {
			s = string(g.CurrentBuildSummary.BuildStatus)
		}
		parts = append(parts, aws.ToString(g.Identifier)+":"+s)
	}
	return strings.Join(parts, " ")
}

func buildOfGroup(t *testing.T, c *codebuild.Client, b types.BuildBatch, id string) types.Build {
	t.Helper()
	for _, g := range b.BuildGroups {
		if aws.ToString(g.Identifier) == id {
			return getBuild(t, c, aws.ToString(g.CurrentBuildSummary.Arn))
		}
	}
	t.Fatalf("no group %s", id)
	return types.Build{}
}

// waitFirstGroupRunning waits until the batch's first planned group (after
// DOWNLOAD_SOURCE) has a build in progress, and returns the batch.
func waitFirstGroupRunning(t *testing.T, c *codebuild.Client, id string) types.BuildBatch {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b := getBatch(t, c, id)
		if len(b.BuildGroups) > 1 && b.BuildGroups[1].CurrentBuildSummary.BuildStatus == types.StatusTypeInProgress {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("batch %s did not start its first build: %s", id, groups(b))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const batchOK = "SUBMITTED:SUCCEEDED DOWNLOAD_BATCHSPEC:SUCCEEDED IN_PROGRESS:SUCCEEDED COMBINE_ARTIFACTS:SUCCEEDED SUCCEEDED"

func TestBatchGraphRunsInOrder(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	batchProject(t, c, "graph", `version: 0.2
batch:
  build-graph:
    - identifier: linux_small
      env:
        variables:
          SIZE: small
    - identifier: linux_medium
      depend-on: [linux_small]
      env:
        compute-type: BUILD_GENERAL1_MEDIUM
        variables:
          SIZE: medium
    - identifier: linux_large
      depend-on: [linux_medium, linux_small]
      env:
        compute-type: BUILD_GENERAL1_LARGE
phases:
  build:
    commands:
      - echo "group=$CODEBUILD_BATCH_BUILD_IDENTIFIER size=$SIZE initiator=$CODEBUILD_INITIATOR"
      - sleep 0.2
`)
	started := startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("graph")})
	if aws.ToString(started.CurrentPhase) != "SUBMITTED" || started.BuildBatchStatus != types.StatusTypeInProgress || started.Complete ||
		started.Phases != nil || started.BuildGroups != nil || aws.ToInt64(started.BuildBatchNumber) != 1 ||
		aws.ToString(started.Arn) != "arn:aws:codebuild:us-east-1:000000000000:build-batch/"+aws.ToString(started.Id) {
		t.Errorf("StartBuildBatch returned %+v", started)
	}
	b := waitBatch(t, c, aws.ToString(started.Id))
	if b.BuildBatchStatus != types.StatusTypeSucceeded || batchPhases(b) != batchOK || aws.ToString(b.CurrentPhase) != "SUCCEEDED" {
		t.Fatalf("graph batch: %s %s %s", b.BuildBatchStatus, batchPhases(b), groups(b))
	}
	if groups(b) != "DOWNLOAD_SOURCE:SUCCEEDED linux_small:SUCCEEDED linux_medium:SUCCEEDED linux_large:SUCCEEDED" {
		t.Errorf("groups: %s", groups(b))
	}
	if b.BuildGroups[0].DependsOn != nil || b.BuildGroups[1].DependsOn == nil || len(b.BuildGroups[1].DependsOn) != 0 ||
		!slices.Equal(b.BuildGroups[3].DependsOn, []string{"linux_medium", "linux_small"}) {
		t.Errorf("dependsOn: %v %v %v", b.BuildGroups[0].DependsOn, b.BuildGroups[1].DependsOn, b.BuildGroups[3].DependsOn)
	}
	if !b.EndTime.Equal(*b.Phases[len(b.Phases)-1].StartTime) || !b.StartTime.Equal(*started.StartTime) {
		t.Errorf("times: start %v end %v", b.StartTime, b.EndTime)
	}
	// Dependents started after their dependencies ended.
	small, medium, large := buildOfGroup(t, c, b, "linux_small"), buildOfGroup(t, c, b, "linux_medium"), buildOfGroup(t, c, b, "linux_large")
	if !medium.StartTime.After(*small.EndTime) && !medium.StartTime.Equal(*small.EndTime) || large.StartTime.Before(*medium.EndTime) {
		t.Errorf("order: small ended %v, medium started %v ended %v, large started %v", small.EndTime, medium.StartTime, medium.EndTime, large.StartTime)
	}
	if aws.ToString(medium.BuildBatchArn) != aws.ToString(b.Arn) || medium.Environment.ComputeType != types.ComputeTypeBuildGeneral1Medium ||
		aws.ToString(medium.Initiator) != "batch-role/AWSCodeBuild-"+strings.TrimPrefix(aws.ToString(b.Id), "graph:") {
		t.Errorf("member build: batch %s compute %s initiator %s", aws.ToString(medium.BuildBatchArn), medium.Environment.ComputeType, aws.ToString(medium.Initiator))
	}
	if text := logText(t, s, aws.ToString(medium.Id)); !strings.Contains(text, "group=linux_medium size=medium initiator=batch-role/AWSCodeBuild-") {
		t.Errorf("member log:\n%s", text)
	}
	ds := buildOfGroup(t, c, b, "DOWNLOAD_SOURCE")
	if ds.BuildStatus != types.StatusTypeSucceeded || !strings.HasSuffix(phaseTable(ds), "DOWNLOAD_SOURCE:SUCCEEDED FINALIZING:SUCCEEDED COMPLETED") {
		t.Errorf("DOWNLOAD_SOURCE build: %s", phaseTable(ds))
	}
	summary := b.BuildGroups[1].CurrentBuildSummary
	if summary.PrimaryArtifact == nil || aws.ToString(summary.PrimaryArtifact.Identifier) != "linux_small" || summary.SecondaryArtifacts == nil || summary.RequestedOn == nil {
		t.Errorf("summary: %+v", summary)
	}
	// Member builds are real builds: listed for the project.
	l, _ := c.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String("graph")})
	if len(l.Ids) != 4 {
		t.Errorf("project has %d builds, want 4", len(l.Ids))
	}
}

func TestBatchListMatrixFanout(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	repo, commit := gitRepo(t, map[string]string{
		"buildspec.yml": `version: 0.2
batch:
  build-list:
    - identifier: one
      env:
        variables: {N: "1"}
    - identifier: two
      buildspec: other.yml
phases:
  build:
    commands:
      - echo "list $CODEBUILD_BATCH_BUILD_IDENTIFIER N=$N at $CODEBUILD_RESOLVED_SOURCE_VERSION"
`,
		"other.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo other buildspec for $CODEBUILD_BATCH_BUILD_IDENTIFIER\n",
		"matrix.yml": `version: 0.2
batch:
  build-matrix:
    static:
      env:
        privileged-mode: ` + privilegedMatrix + `
    dynamic:
      buildspec: [m1.yml, m2.yml]
      env:
        variables:
          V: [a, b, c]
phases:
  build:
    commands: [echo unused]
`,
		"m1.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo m1 V=$V id=$CODEBUILD_BATCH_BUILD_IDENTIFIER\n",
		"m2.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo m2 V=$V id=$CODEBUILD_BATCH_BUILD_IDENTIFIER\n",
		"fanout.yml": `version: 0.2
batch:
  build-fanout:
    parallelism: 3
phases:
  build:
    commands:
      - codebuild-tests-run --test-command 'echo RUNNING' --files-search "codebuild-glob-search 'tests/**/*_test.sh'"
      - 'echo "shard files: $(echo $CODEBUILD_CURRENT_SHARD_FILES)"'
`,
		"tests/a_test.sh": "", "tests/b_test.sh": "", "tests/sub/c_test.sh": "", "tests/sub/d_test.sh": "", "tests/e_test.sh": "",
	})
	head := commit("")
	_, err := c.CreateProject(ctx, &codebuild.CreateProjectInput{
		Name:             aws.String("kinds"),
		Source:           &types.ProjectSource{Type: types.SourceTypeGithub, Location: aws.String(repo)},
		Artifacts:        &types.ProjectArtifacts{Type: types.ArtifactsTypeNoArtifacts},
		Environment:      &types.ProjectEnvironment{Type: types.EnvironmentTypeLinuxContainer, Image: aws.String("img"), ComputeType: types.ComputeTypeBuildGeneral1Small},
		ServiceRole:      aws.String("role"),
		BuildBatchConfig: &types.ProjectBuildBatchConfig{ServiceRole: aws.String(batchRole)},
	})
	if err != nil {
		t.Fatal(err)
	}

	// build-list, with a per-task buildspec.
	b := waitBatch(t, c, aws.ToString(startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("kinds")}).Id))
	if b.BuildBatchStatus != types.StatusTypeSucceeded || groups(b) != "DOWNLOAD_SOURCE:SUCCEEDED one:SUCCEEDED two:SUCCEEDED" ||
		aws.ToString(b.ResolvedSourceVersion) != head {
		t.Fatalf("list batch: %s %s %s resolved %s", b.BuildBatchStatus, batchPhases(b), groups(b), aws.ToString(b.ResolvedSourceVersion))
	}
	if text := logText(t, s, aws.ToString(buildOfGroup(t, c, b, "one").Id)); !strings.Contains(text, "list one N=1 at "+head) {
		t.Errorf("list member one:\n%s", text)
	}
	if text := logText(t, s, aws.ToString(buildOfGroup(t, c, b, "two").Id)); !strings.Contains(text, "other buildspec for two") {
		t.Errorf("list member two:\n%s", text)
	}

	// build-matrix: 2 buildspecs × 3 values, named build1..build6.
	b = waitBatch(t, c, aws.ToString(startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("kinds"), BuildspecOverride: aws.String("matrix.yml")}).Id))
	if b.BuildBatchStatus != types.StatusTypeSucceeded || len(b.BuildGroups) != 7 {
		t.Fatalf("matrix batch: %s %s", b.BuildBatchStatus, groups(b))
	}
	var seen []string
	for i := 1; i <= 6; i++ {
		mb := buildOfGroup(t, c, b, fmt.Sprintf("build%d", i))
		if aws.ToBool(mb.Environment.PrivilegedMode) != (privilegedMatrix == "true") {
			t.Errorf("build%d: privileged %v", i, aws.ToBool(mb.Environment.PrivilegedMode))
		}
		text := logText(t, s, aws.ToString(mb.Id))
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(line, "m1 ") || strings.HasPrefix(line, "m2 ") {
				seen = append(seen, line)
			}
		}
	}
	want := []string{"m1 V=a id=build1", "m1 V=b id=build2", "m1 V=c id=build3", "m2 V=a id=build4", "m2 V=b id=build5", "m2 V=c id=build6"}
	if !slices.Equal(seen, want) {
		t.Errorf("matrix builds printed %v, want %v", seen, want)
	}

	// build-fanout: 3 shards share the 5 test files.
	b = waitBatch(t, c, aws.ToString(startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("kinds"), BuildspecOverride: aws.String("fanout.yml")}).Id))
	if b.BuildBatchStatus != types.StatusTypeSucceeded || groups(b) != "DOWNLOAD_SOURCE:SUCCEEDED build1:SUCCEEDED build2:SUCCEEDED build3:SUCCEEDED" {
		t.Fatalf("fanout batch: %s %s", b.BuildBatchStatus, groups(b))
	}
	var ran []string
	for i := 1; i <= 3; i++ {
		text := logText(t, s, aws.ToString(buildOfGroup(t, c, b, fmt.Sprintf("build%d", i)).Id))
		for _, line := range strings.Split(text, "\n") {
			if f, ok := strings.CutPrefix(line, "RUNNING "); ok {
				ran = append(ran, strings.Fields(f)...)
			}
		}
		// As on AWS, CODEBUILD_CURRENT_SHARD_FILES exists only inside codebuild-tests-run.
		if !strings.Contains(text, "shard files: \n") {
			t.Errorf("fanout build%d saw CODEBUILD_CURRENT_SHARD_FILES outside codebuild-tests-run:\n%s", i, text)
		}
	}
	sort.Strings(ran)
	if strings.Join(ran, " ") != "tests/a_test.sh tests/b_test.sh tests/e_test.sh tests/sub/c_test.sh tests/sub/d_test.sh" {
		t.Errorf("fanout ran %v, want every test file once", ran)
	}
}

func TestBatchFailuresFastFailAndRetry(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	spec := func(fastFail bool, ignore bool) string {
		sleep := 1
		if fastFail {
			sleep = 20 // fast-fail must stop it long before
		}
		return fmt.Sprintf(`version: 0.2
batch:
  fast-fail: %v
  build-graph:
    - identifier: ok
    - identifier: bad
      ignore-failure: %v
      env:
        variables: {FAIL: "yes", SLEEP: "1"}
    - identifier: after_bad
      depend-on: [bad]
    - identifier: slow
      env:
        variables: {SLEEP: "%d"}
phases:
  build:
    commands:
      - sleep ${SLEEP:-0}
      - test "$FAIL" != yes
`, fastFail, ignore, sleep)
	}
	batchProject(t, c, "failing", spec(false, false))

	// Without ignore-failure: the batch fails, dependents never start, the rest finishes.
	b := waitBatch(t, c, aws.ToString(startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("failing")}).Id))
	if b.BuildBatchStatus != types.StatusTypeFailed || groups(b) != "DOWNLOAD_SOURCE:SUCCEEDED ok:SUCCEEDED bad:FAILED after_bad:STOPPED slow:SUCCEEDED" ||
		batchPhases(b) != "SUBMITTED:SUCCEEDED DOWNLOAD_BATCHSPEC:SUCCEEDED IN_PROGRESS:FAILED FAILED" {
		t.Errorf("failing batch: %s %s %s", b.BuildBatchStatus, batchPhases(b), groups(b))
	}
	// The failed IN_PROGRESS phase names the builds that failed it.
	if ip := b.Phases[2]; len(ip.Contexts) != 1 || aws.ToString(ip.Contexts[0].Message) != "1 build(s) did not succeed: bad (FAILED); not run or stopped because of them: after_bad" {
		t.Errorf("IN_PROGRESS contexts: %+v", ip.Contexts)
	}
	if after := b.BuildGroups[3]; after.CurrentBuildSummary.PrimaryArtifact != nil {
		t.Errorf("a group that never ran has artifacts: %+v", after.CurrentBuildSummary)
	}
	failedID := aws.ToString(b.Id)

	// RetryBuildBatch RETRY_FAILED_BUILDS: bad and after_bad run again.
	r, err := c.RetryBuildBatch(ctx, &codebuild.RetryBuildBatchInput{Id: aws.String(failedID), RetryType: types.RetryBuildBatchTypeRetryFailedBuilds})
	if err != nil {
		t.Fatal(err)
	}
	rv := *r.BuildBatch
	if aws.ToString(rv.CurrentPhase) != "SUBMITTED" || rv.BuildBatchStatus != types.StatusTypeInProgress || rv.Complete || rv.EndTime != nil ||
		!strings.HasSuffix(batchPhases(rv), "FAILED:RETRY SUBMITTED") || aws.ToInt64(rv.BuildBatchNumber) != aws.ToInt64(b.BuildBatchNumber) {
		t.Errorf("RetryBuildBatch returned %s %s", aws.ToString(rv.CurrentPhase), batchPhases(rv))
	}
	rb := waitBatch(t, c, failedID)
	prior := map[string]int{}
	for _, g := range rb.BuildGroups {
		prior[aws.ToString(g.Identifier)] = len(g.PriorBuildSummaryList)
	}
	if rb.BuildBatchStatus != types.StatusTypeFailed || prior["bad"] != 1 || prior["after_bad"] != 1 || prior["ok"] != 0 || prior["slow"] != 0 {
		t.Errorf("after RETRY_FAILED_BUILDS: %s %s prior %v", rb.BuildBatchStatus, batchPhases(rb), prior)
	}
	// RETRY_ALL_BUILDS: every group runs again; priorBuildSummaryList grows.
	if _, err := c.RetryBuildBatch(ctx, &codebuild.RetryBuildBatchInput{Id: aws.String(failedID), RetryType: types.RetryBuildBatchTypeRetryAllBuilds}); err != nil {
		t.Fatal(err)
	}
	rb = waitBatch(t, c, failedID)
	for _, g := range rb.BuildGroups {
		prior[aws.ToString(g.Identifier)] = len(g.PriorBuildSummaryList)
	}
	if prior["bad"] != 2 || prior["ok"] != 1 || prior["slow"] != 1 || prior["DOWNLOAD_SOURCE"] != 0 {
		t.Errorf("after RETRY_ALL_BUILDS prior counts %v", prior)
	}
	if p := rb.BuildGroups[2].PriorBuildSummaryList; len(p) == 2 && aws.ToString(p[0].Arn) == aws.ToString(p[1].Arn) {
		t.Errorf("prior builds share an ARN")
	}

	// A succeeded batch cannot be retried.
	batchProject(t, c, "fine", "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\nphases:\n  build:\n    commands: [true]\n")
	fine := waitBatch(t, c, aws.ToString(startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("fine")}).Id))
	_, err = c.RetryBuildBatch(ctx, &codebuild.RetryBuildBatchInput{Id: fine.Id})
	wantCode(t, err, "InvalidInputException", "only batch builds that have failed can be retried")

	// With ignore-failure: the batch succeeds and the dependent still runs.
	b = waitBatch(t, c, aws.ToString(startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("failing"), BuildspecOverride: aws.String(spec(false, true))}).Id))
	if b.BuildBatchStatus != types.StatusTypeSucceeded || groups(b) != "DOWNLOAD_SOURCE:SUCCEEDED ok:SUCCEEDED bad:FAILED after_bad:SUCCEEDED slow:SUCCEEDED" {
		t.Errorf("ignore-failure batch: %s %s", b.BuildBatchStatus, groups(b))
	}

	// fast-fail: the failure stops the slow build at once.
	t0 := time.Now()
	b = waitBatch(t, c, aws.ToString(startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("failing"), BuildspecOverride: aws.String(spec(true, false))}).Id))
	if b.BuildBatchStatus != types.StatusTypeFailed || groups(b) != "DOWNLOAD_SOURCE:SUCCEEDED ok:SUCCEEDED bad:FAILED after_bad:STOPPED slow:STOPPED" {
		t.Errorf("fast-fail batch: %s %s", b.BuildBatchStatus, groups(b))
	}
	if d := time.Since(t0); d > 15*time.Second {
		t.Errorf("fast-fail batch took %v; the 20 s build was not stopped", d)
	}
}

func TestBatchStopDeleteListAndErrors(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	batchProject(t, c, "stoppable", `version: 0.2
batch:
  build-graph:
    - identifier: runs
    - identifier: waits
      depend-on: [runs]
phases:
  build:
    commands:
      - sleep 600
`)
	started := startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("stoppable")})
	id := aws.ToString(started.Id)
	if b := waitFirstGroupRunning(t, c, id); string(b.BuildGroups[2].CurrentBuildSummary.BuildStatus) != "PENDING" || aws.ToString(b.BuildGroups[2].CurrentBuildSummary.Arn) == "" {
		t.Errorf("waiting group: %+v", b.BuildGroups[2].CurrentBuildSummary)
	}
	// A running batch cannot be deleted.
	_, err := c.DeleteBuildBatch(ctx, &codebuild.DeleteBuildBatchInput{Id: aws.String(id)})
	wantCode(t, err, "InvalidInputException", "still in progress")
	out, err := c.StopBuildBatch(ctx, &codebuild.StopBuildBatchInput{Id: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	b := *out.BuildBatch
	if b.BuildBatchStatus != types.StatusTypeStopped || !b.Complete || groups(b) != "DOWNLOAD_SOURCE:SUCCEEDED runs:STOPPED waits:STOPPED" ||
		batchPhases(b) != "SUBMITTED:SUCCEEDED DOWNLOAD_BATCHSPEC:SUCCEEDED IN_PROGRESS:STOPPED STOPPED" {
		t.Errorf("stopped batch: %s %s %s", b.BuildBatchStatus, batchPhases(b), groups(b))
	}
	if rb := buildOfGroup(t, c, b, "runs"); rb.BuildStatus != types.StatusTypeStopped {
		t.Errorf("member build after StopBuildBatch: %s", rb.BuildStatus)
	}
	again, err := c.StopBuildBatch(ctx, &codebuild.StopBuildBatchInput{Id: aws.String(id)})
	if err != nil || again.BuildBatch.BuildBatchStatus != types.StatusTypeStopped {
		t.Errorf("stopping a stopped batch: %v", err)
	}

	// Lists: filters, order, pagination.
	batchProject(t, c, "quick", "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\nphases:\n  build:\n    commands: [true]\n")
	var quick []string
	for i := 0; i < 5; i++ {
		quick = append(quick, aws.ToString(waitBatch(t, c, aws.ToString(startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("quick")}).Id)).Id))
	}
	var listed []string
	p := codebuild.NewListBuildBatchesForProjectPaginator(c, &codebuild.ListBuildBatchesForProjectInput{ProjectName: aws.String("quick"), MaxResults: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		listed = append(listed, page.Ids...)
	}
	slices.Reverse(quick)
	if !slices.Equal(listed, quick) || pages != 3 {
		t.Errorf("ListBuildBatchesForProject in %d pages = %v, want newest first %v", pages, listed, quick)
	}
	stopped, err := c.ListBuildBatches(ctx, &codebuild.ListBuildBatchesInput{Filter: &types.BuildBatchFilter{Status: types.StatusTypeStopped}})
	if err != nil || !slices.Equal(stopped.Ids, []string{id}) {
		t.Errorf("ListBuildBatches(STOPPED) = %v, %v", stopped, err)
	}
	asc, _ := c.ListBuildBatches(ctx, &codebuild.ListBuildBatchesInput{SortOrder: types.SortOrderTypeAscending})
	if len(asc.Ids) != 6 || asc.Ids[0] != id {
		t.Errorf("ListBuildBatches ascending = %v", asc.Ids)
	}
	_, err = c.ListBuildBatchesForProject(ctx, &codebuild.ListBuildBatchesForProjectInput{ProjectName: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException", "project/nope")
	_, err = c.ListBuildBatches(ctx, &codebuild.ListBuildBatchesInput{MaxResults: aws.Int32(101)})
	wantCode(t, err, "InvalidInputException", "maxResults")

	// BatchGetBuildBatches keeps order and reports misses.
	got, err := c.BatchGetBuildBatches(ctx, &codebuild.BatchGetBuildBatchesInput{Ids: []string{quick[1], "quick:nope", quick[0]}})
	if err != nil || len(got.BuildBatches) != 2 || aws.ToString(got.BuildBatches[0].Id) != quick[1] || !slices.Equal(got.BuildBatchesNotFound, []string{"quick:nope"}) {
		t.Errorf("BatchGetBuildBatches = %+v, %v", got, err)
	}

	// DeleteBuildBatch deletes the batch and its builds, reported by ARN.
	del, err := c.DeleteBuildBatch(ctx, &codebuild.DeleteBuildBatchInput{Id: aws.String(id)})
	if err != nil || aws.ToString(del.StatusCode) != "BATCH_DELETED" || len(del.BuildsDeleted) != 2 || !strings.Contains(del.BuildsDeleted[0], ":build/stoppable:") {
		t.Errorf("DeleteBuildBatch = %+v, %v", del, err)
	}
	if got, _ := c.BatchGetBuildBatches(ctx, &codebuild.BatchGetBuildBatchesInput{Ids: []string{id}}); len(got.BuildBatchesNotFound) != 1 {
		t.Errorf("deleted batch still found")
	}
	if gb, _ := c.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: del.BuildsDeleted}); len(gb.Builds) != 0 {
		t.Errorf("deleted batch's builds still found")
	}

	// Errors.
	_, err = c.StopBuildBatch(ctx, &codebuild.StopBuildBatchInput{Id: aws.String("quick:nope")})
	wantCode(t, err, "ResourceNotFoundException", "quick:nope")
	_, err = c.StartBuildBatch(ctx, &codebuild.StartBuildBatchInput{ProjectName: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException", "project/nope")
	project(t, c, "no-batch", "version: 0.2\nphases:\n  build:\n    commands: [true]\n")
	_, err = c.StartBuildBatch(ctx, &codebuild.StartBuildBatchInput{ProjectName: aws.String("no-batch")})
	wantCode(t, err, "InvalidInputException", "batch builds are not enabled")
	// ... unless the request brings a batch configuration.
	nb := waitBatch(t, c, aws.ToString(startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("no-batch"),
		BuildspecOverride:        aws.String("version: 0.2\nbatch:\n  build-list:\n    - identifier: x\nphases:\n  build:\n    commands: [true]\n"),
		BuildBatchConfigOverride: &types.ProjectBuildBatchConfig{ServiceRole: aws.String(batchRole), BatchReportMode: types.BatchReportModeTypeReportAggregatedBatch}}).Id))
	if nb.BuildBatchStatus != types.StatusTypeSucceeded || nb.BuildBatchConfig.BatchReportMode != types.BatchReportModeTypeReportAggregatedBatch {
		t.Errorf("batch with a config override: %s %+v", nb.BuildBatchStatus, nb.BuildBatchConfig)
	}
}

func TestBatchPlanningFailuresAndRestrictions(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	batchProject(t, c, "limits", "version: 0.2\nbatch:\n  build-fanout:\n    parallelism: 5\nphases:\n  build:\n    commands: [true]\n", func(in *codebuild.CreateProjectInput) {
		in.BuildBatchConfig.Restrictions = &types.BatchRestrictions{MaximumBuildsAllowed: aws.Int32(4), ComputeTypesAllowed: []string{"BUILD_GENERAL1_SMALL"}}
	})
	tests := []struct {
		name, buildspec, msg string
	}{
		{"maximumBuildsAllowed", "", "the batch has 5 builds, more than the 4 that buildBatchConfig.restrictions.maximumBuildsAllowed allows at line 2"},
		{"computeTypesAllowed", "version: 0.2\nbatch:\n  build-list:\n    - identifier: big\n      env:\n        compute-type: BUILD_GENERAL1_LARGE\nphases:\n  build:\n    commands: [true]\n",
			"build big uses compute type BUILD_GENERAL1_LARGE, which buildBatchConfig.restrictions.computeTypesAllowed (BUILD_GENERAL1_SMALL) does not allow at line 4"},
		{"cycle", "version: 0.2\nbatch:\n  build-graph:\n    - identifier: a\n      depend-on: [b]\n    - identifier: b\n      depend-on: [a]\nphases:\n  build:\n    commands: [true]\n",
			"the build graph has a cycle: a -> b -> a at line 4"},
		{"unknown dependency", "version: 0.2\nbatch:\n  build-graph:\n    - identifier: a\n      depend-on: [zzz]\nphases:\n  build:\n    commands: [true]\n",
			"depends on zzz, which is not a build of this batch at line 5"},
		{"two forms", "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n  build-fanout:\n    parallelism: 2\n", "only one of"},
		{"unknown key", "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n      evn: {}\n", "unknown key 'evn' in batch.build-list[0] at line 5"},
		{"duplicate identifier", "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n    - identifier: a\n", "duplicate build identifier 'a' (first at line 4) at line 5"},
		{"no batch section", "version: 0.2\nphases:\n  build:\n    commands: [true]\n", "no batch section"},
		{"bad indentation", "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n   - identifier: b\n", "invalid YAML: did not find expected key at line 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &codebuild.StartBuildBatchInput{ProjectName: aws.String("limits")}
			if tt.buildspec != "" {
				in.BuildspecOverride = aws.String(tt.buildspec)
			}
			b := waitBatch(t, c, aws.ToString(startBatch(t, c, in).Id))
			if b.BuildBatchStatus != types.StatusTypeFailed || batchPhases(b) != "SUBMITTED:SUCCEEDED DOWNLOAD_BATCHSPEC:FAILED FAILED" || len(b.BuildGroups) != 1 {
				t.Fatalf("%s %s %s", b.BuildBatchStatus, batchPhases(b), groups(b))
			}
			p := b.Phases[1]
			if len(p.Contexts) != 1 || !strings.Contains(aws.ToString(p.Contexts[0].Message), tt.msg) || aws.ToString(p.Contexts[0].StatusCode) != "YAML_FILE_ERROR" ||
				strings.Contains(aws.ToString(p.Contexts[0].Message), "YAML_FILE_ERROR") {
				t.Errorf("DOWNLOAD_BATCHSPEC contexts %+v, want a message containing %q", p.Contexts, tt.msg)
			}
		})
	}
	// Retrying a batch that failed in DOWNLOAD_BATCHSPEC runs DOWNLOAD_SOURCE again.
	l, _ := c.ListBuildBatchesForProject(ctx, &codebuild.ListBuildBatchesForProjectInput{ProjectName: aws.String("limits"), SortOrder: types.SortOrderTypeAscending})
	if _, err := c.RetryBuildBatch(ctx, &codebuild.RetryBuildBatchInput{Id: aws.String(l.Ids[0])}); err != nil {
		t.Fatal(err)
	}
	rb := waitBatch(t, c, l.Ids[0])
	if rb.BuildBatchStatus != types.StatusTypeFailed || len(rb.BuildGroups[0].PriorBuildSummaryList) != 1 || !strings.Contains(batchPhases(rb), "FAILED:RETRY SUBMITTED:SUCCEEDED DOWNLOAD_BATCHSPEC:FAILED FAILED") {
		t.Errorf("retried planning failure: %s %s", rb.BuildBatchStatus, batchPhases(rb))
	}
}

func TestBatchCombineArtifactsTimeoutAndRestart(t *testing.T) {
	s := Start(t, "--timeout-minute", "200ms")
	c := s.Client(t, "test", "us-east-1")
	batchProject(t, c, "combined", `version: 0.2
batch:
  build-list:
    - identifier: linux
    - identifier: arm
phases:
  build:
    commands:
      - mkdir -p out && echo "made by $CODEBUILD_BATCH_BUILD_IDENTIFIER" > out/result.txt
artifacts:
  files: ['**/*']
  base-directory: out
`, func(in *codebuild.CreateProjectInput) {
		in.Artifacts = &types.ProjectArtifacts{Type: types.ArtifactsTypeS3, Location: aws.String("artifacts-bucket"), Name: aws.String("combined.zip"), Packaging: types.ArtifactPackagingZip}
		in.BuildBatchConfig.CombineArtifacts = aws.Bool(true)
	})
	b := waitBatch(t, c, aws.ToString(startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("combined")}).Id))
	if b.BuildBatchStatus != types.StatusTypeSucceeded {
		t.Fatalf("combine batch: %s %s %s", b.BuildBatchStatus, batchPhases(b), groups(b))
	}
	if aws.ToString(b.Artifacts.Location) != "arn:aws:s3:::artifacts-bucket/combined.zip" || len(aws.ToString(b.Artifacts.Sha256sum)) != 64 {
		t.Errorf("batch artifacts = %+v", b.Artifacts)
	}
	data, err := s.Object(t, "artifacts-bucket", "combined.zip")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if time.Since(f.Modified) > time.Hour || time.Until(f.Modified) > time.Hour {
			t.Errorf("combined zip entry %s modified %v, not when it was made", f.Name, f.Modified)
		}
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "arm/result.txt linux/result.txt" {
		t.Errorf("combined zip holds %v", names)
	}
	// Members' artifacts do not overwrite each other: one folder per identifier.
	lb := buildOfGroup(t, c, b, "linux")
	if !strings.HasSuffix(aws.ToString(lb.Artifacts.Location), "/linux/combined.zip") {
		t.Errorf("member artifact location %s", aws.ToString(lb.Artifacts.Location))
	}
	if _, err := s.Object(t, "artifacts-bucket", "linux/combined.zip"); err != nil {
		t.Errorf("member artifact: %v", err)
	}

	// The batch timeout (5 "minutes" = 1 s here) stops the whole batch.
	batchProject(t, c, "slowbatch", "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n    - identifier: b\nphases:\n  build:\n    commands: [sleep 600]\n", func(in *codebuild.CreateProjectInput) {
		in.BuildBatchConfig.TimeoutInMins = aws.Int32(5)
	})
	b = waitBatch(t, c, aws.ToString(startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("slowbatch")}).Id))
	if b.BuildBatchStatus != types.StatusTypeTimedOut || batchPhases(b) != "SUBMITTED:SUCCEEDED DOWNLOAD_BATCHSPEC:SUCCEEDED IN_PROGRESS:TIMED_OUT FAILED" ||
		groups(b) != "DOWNLOAD_SOURCE:SUCCEEDED a:STOPPED b:STOPPED" {
		t.Errorf("timed-out batch: %s %s %s", b.BuildBatchStatus, batchPhases(b), groups(b))
	}

	// The server dies mid-batch; after the restart the batch is not left IN_PROGRESS.
	batchProject(t, c, "crashy", "version: 0.2\nbatch:\n  build-graph:\n    - identifier: a\n    - identifier: b\n      depend-on: [a]\nphases:\n  build:\n    commands: [sleep 600]\n")
	id := aws.ToString(startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("crashy")}).Id)
	waitFirstGroupRunning(t, c, id)
	time.Sleep(200 * time.Millisecond)
	s.RestartAfterKill()
	b = waitBatch(t, c, id)
	if b.BuildBatchStatus != types.StatusTypeFailed || groups(b) != "DOWNLOAD_SOURCE:SUCCEEDED a:FAULT b:STOPPED" {
		t.Errorf("batch after restart: %s %s %s", b.BuildBatchStatus, batchPhases(b), groups(b))
	}
	// And it can be retried.
	if _, err := c.RetryBuildBatch(ctx, &codebuild.RetryBuildBatchInput{Id: aws.String(id), RetryType: types.RetryBuildBatchTypeRetryFailedBuilds}); err != nil {
		t.Fatal(err)
	}
	waitFirstGroupRunning(t, c, id)
	if _, err := c.StopBuildBatch(ctx, &codebuild.StopBuildBatchInput{Id: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
}
