package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codebuild/types"
)

// Fidelity points seen failing on real public buildspecs.

// TestFidelityArtifactPaths: AWS's multi-source sample names a secondary
// source's directory as base-directory: $CODEBUILD_SRC_DIR_source1; other
// buildspecs say base-directory: . or ./out/. Artifacts, secondary
// artifacts and reports read them all.
func TestFidelityArtifactPaths(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	repo, commit := gitRepo(t, map[string]string{"source1_file": "from source1\n", "docs/guide.md": "guide\n"})
	commit("")
	_, err := c.CreateProject(ctx, &codebuild.CreateProjectInput{
		Name: aws.String("multi"),
		Source: &types.ProjectSource{Type: types.SourceTypeNoSource, Buildspec: aws.String(`version: 0.2
env:
  variables:
    REPORT_DIR: test-reports
phases:
  build:
    commands:
      - mkdir -p out/sub test-reports && echo primary > out/app.txt && echo nested > out/sub/n.txt && echo top > top.txt
      - echo '<testsuite name="s" tests="1"><testcase classname="c" name="n"/></testsuite>' > test-reports/junit.xml
      - echo generated > "$CODEBUILD_SRC_DIR_source1/generated.txt"
artifacts:
  files: ['**/*']
  base-directory: ./out/
  secondary-artifacts:
    artifact1:
      base-directory: $CODEBUILD_SRC_DIR
      files:
        - top.txt
    artifact2:
      base-directory: $CODEBUILD_SRC_DIR_source1
      files:
        - source1_file
        - generated.txt
        - docs/*
    artifact3:
      base-directory: .
      files: [out/app.txt]
    artifact4:
      files: ['$CODEBUILD_SRC_DIR_source1/source1_file']
      base-directory: ${CODEBUILD_SRC_DIR_source1}/
reports:
  junit:
    base-directory: $CODEBUILD_SRC_DIR/$REPORT_DIR
    files: ['*.xml']
  dotted:
    base-directory: ./
    files: [test-reports/junit.xml]
`)},
		SecondarySources: []types.ProjectSource{{Type: types.SourceTypeCodecommit, Location: aws.String("file://" + repo), SourceIdentifier: aws.String("source1")}},
		Artifacts:        &types.ProjectArtifacts{Type: types.ArtifactsTypeS3, Location: aws.String("bkt"), Name: aws.String("primary")},
		SecondaryArtifacts: []types.ProjectArtifacts{
			{Type: types.ArtifactsTypeS3, Location: aws.String("bkt"), ArtifactIdentifier: aws.String("artifact1"), Name: aws.String("a1")},
			{Type: types.ArtifactsTypeS3, Location: aws.String("bkt"), ArtifactIdentifier: aws.String("artifact2"), Name: aws.String("a2")},
			{Type: types.ArtifactsTypeS3, Location: aws.String("bkt"), ArtifactIdentifier: aws.String("artifact3"), Name: aws.String("a3")},
			{Type: types.ArtifactsTypeS3, Location: aws.String("bkt"), ArtifactIdentifier: aws.String("artifact4"), Name: aws.String("a4")},
		},
		Environment: &types.ProjectEnvironment{Type: types.EnvironmentTypeLinuxContainer, Image: aws.String("aws/codebuild/standard:7.0"), ComputeType: types.ComputeTypeBuildGeneral1Small},
		ServiceRole: aws.String("arn:aws:iam::000000000000:role/codebuild"),
	})
	if err != nil {
		t.Fatal(err)
	}
	b := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("multi")}).Id))
	if b.BuildStatus != types.StatusTypeSucceeded {
		t.Fatalf("build %s: %s\n%s", b.BuildStatus, phaseTable(b), logText(t, s, aws.ToString(b.Id)))
	}
	want := map[string][]string{
		"primary": {"app.txt", "sub/n.txt"},
		"a1":      {"top.txt"},
		"a2":      {"docs/guide.md", "generated.txt", "source1_file"},
		"a3":      {"out/app.txt"},
		"a4":      {"source1_file"},
	}
	for dir, files := range want {
		if got := s.Keys(t, "bkt", dir); !slices.Equal(got, files) {
			t.Errorf("s3://bkt/%s holds %v, want %v", dir, got, files)
		}
	}
	if data, _ := s.Object(t, "bkt", "a2/source1_file"); string(data) != "from source1\n" {
		t.Errorf("a2/source1_file = %q", data)
	}
	if len(b.SecondaryArtifacts) != 4 {
		t.Errorf("secondaryArtifacts %+v", b.SecondaryArtifacts)
	}
	if len(b.ReportArns) != 2 {
		t.Fatalf("reportArns %v\n%s", b.ReportArns, logText(t, s, aws.ToString(b.Id)))
	}
	reps, err := c.BatchGetReports(ctx, &codebuild.BatchGetReportsInput{ReportArns: b.ReportArns})
	if err != nil || len(reps.Reports) != 2 {
		t.Fatalf("BatchGetReports %+v %v", reps, err)
	}
	for _, r := range reps.Reports {
		if r.Status != types.ReportStatusTypeSucceeded || r.TestSummary == nil || aws.ToInt32(r.TestSummary.Total) != 1 {
			t.Errorf("report %s: %s %+v", aws.ToString(r.Arn), r.Status, r.TestSummary)
		}
	}

	// A base-directory that is not there fails UPLOAD_ARTIFACTS saying so.
	project(t, c, "missingbase", "version: 0.2\nphases:\n  build:\n    commands: [true]\nartifacts:\n  files: ['**/*']\n  base-directory: $CODEBUILD_SRC_DIR/nope/\n",
		func(in *codebuild.CreateProjectInput) {
			in.Artifacts = &types.ProjectArtifacts{Type: types.ArtifactsTypeS3, Location: aws.String("bkt"), Name: aws.String("m")}
		})
	fb := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("missingbase")}).Id))
	up := phase(fb, types.BuildPhaseTypeUploadArtifacts)
	if fb.BuildStatus != types.StatusTypeFailed || up == nil || up.PhaseStatus != types.StatusTypeFailed ||
		!strings.Contains(aws.ToString(up.Contexts[0].Message), "no matching base directory path found for $CODEBUILD_SRC_DIR/nope/") {
		t.Errorf("missing base-directory: %s %s %+v", fb.BuildStatus, phaseTable(fb), up)
	}
}

// TestFidelityAbsoluteCachePath: AWS's Maven example caches
// /root/.m2/**/*, a path outside the source; the next build gets the files
// back where they were.
func TestFidelityAbsoluteCachePath(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	m2 := filepath.Join(t.TempDir(), ".m2") // stands for /root/.m2, which the local executor's builds must not touch
	project(t, c, "maven", `version: 0.2
phases:
  build:
    commands:
      - |
        if [ -f `+m2+`/repository/org/lib.jar ]; then
          echo "m2 hit: $(cat `+m2+`/repository/org/lib.jar)"
        else
          echo "m2 miss"
          mkdir -p `+m2+`/repository/org && echo downloaded-once > `+m2+`/repository/org/lib.jar
        fi
cache:
  paths:
    - '`+m2+`/**/*'
`, func(in *codebuild.CreateProjectInput) {
		in.Cache = &types.ProjectCache{Type: types.CacheTypeLocal, Modes: []types.CacheMode{types.CacheModeLocalCustomCache}}
	})
	first := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("maven")}).Id))
	text := logText(t, s, aws.ToString(first.Id))
	if first.BuildStatus != types.StatusTypeSucceeded || !strings.Contains(text, "m2 miss") || !strings.Contains(text, "Saved 1 files to the cache") {
		t.Fatalf("first build %s:\n%s", first.BuildStatus, text)
	}
	os.RemoveAll(m2) // the next build's environment starts without it (a container's always does)
	second := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("maven")}).Id))
	if text := logText(t, s, aws.ToString(second.Id)); second.BuildStatus != types.StatusTypeSucceeded || !strings.Contains(text, "m2 hit: downloaded-once") {
		t.Errorf("second build %s did not get the cache:\n%s", second.BuildStatus, text)
	}
}

// TestFidelityBatchEnv: a batch build's env compute-type, image and type
// are held to the API's override constraints at planning, and env fleet
// reaches the member build.
func TestFidelityBatchEnv(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	const fleet = "arn:aws:codebuild:us-east-1:000000000000:fleet/reserved:0f7c5e1e-1b7a-4d3c-9d1e-6c2f3a4b5c6d"
	batchProject(t, c, "batchenv", `version: 0.2
batch:
  build-list:
    - identifier: onfleet
      env:
        fleet: `+fleet+`
    - identifier: plain
phases:
  build:
    commands: [echo ok]
`)
	b := waitBatch(t, c, aws.ToString(startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("batchenv")}).Id))
	if b.BuildBatchStatus != types.StatusTypeSucceeded {
		t.Fatalf("batch %s %s %s", b.BuildBatchStatus, batchPhases(b), groups(b))
	}
	member := buildOfGroup(t, c, b, "onfleet")
	if member.Environment == nil || member.Environment.Fleet == nil || aws.ToString(member.Environment.Fleet.FleetArn) != fleet {
		t.Errorf("member build environment %+v, want fleet %s", member.Environment, fleet)
	}
	if plain := buildOfGroup(t, c, b, "plain"); plain.Environment.Fleet != nil {
		t.Errorf("build without env fleet has %+v", plain.Environment.Fleet)
	}

	tests := []struct {
		name, buildspec, msg string
	}{
		{"compute-type", "version: 0.2\nbatch:\n  build-graph:\n    - identifier: fine\n    - identifier: big\n      depend-on: [fine]\n      env:\n        compute-type: BUILD_GENERAL1_HUGE\nphases:\n  build:\n    commands: [true]\n",
			"build big (batch.build-graph[1]): invalid env.compute-type 'BUILD_GENERAL1_HUGE': Value 'BUILD_GENERAL1_HUGE' at 'computeTypeOverride' failed to satisfy constraint: Member must satisfy enum value set: [BUILD_GENERAL1_SMALL, "},
		{"image", "version: 0.2\nbatch:\n  build-list:\n    - identifier: noimage\n      env:\n        image: ''\nphases:\n  build:\n    commands: [true]\n",
			"build noimage (batch.build-list[0]): invalid env.image '': Value '' at 'imageOverride' failed to satisfy constraint: Member must have length greater than or equal to 1 at line 6"},
		{"matrix", "version: 0.2\nbatch:\n  build-matrix:\n    dynamic:\n      env:\n        compute-type:\n          - BUILD_GENERAL1_SMALL\n          - build_general1_large\nphases:\n  build:\n    commands: [true]\n",
			"batch.build-matrix.dynamic.env.compute-type[1]: invalid env.compute-type 'build_general1_large'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := waitBatch(t, c, aws.ToString(startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("batchenv"), BuildspecOverride: aws.String(tt.buildspec)}).Id))
			if b.BuildBatchStatus != types.StatusTypeFailed || batchPhases(b) != "SUBMITTED:SUCCEEDED DOWNLOAD_BATCHSPEC:FAILED FAILED" || len(b.BuildGroups) != 1 {
				t.Fatalf("%s %s %s", b.BuildBatchStatus, batchPhases(b), groups(b))
			}
			p := b.Phases[1]
			if len(p.Contexts) != 1 || aws.ToString(p.Contexts[0].StatusCode) != "YAML_FILE_ERROR" || !strings.Contains(aws.ToString(p.Contexts[0].Message), tt.msg) {
				t.Errorf("DOWNLOAD_BATCHSPEC contexts %+v, want YAML_FILE_ERROR containing %q", p.Contexts, tt.msg)
			}
		})
	}
	// The line is the value's.
	b = waitBatch(t, c, aws.ToString(startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("batchenv"), BuildspecOverride: aws.String(tests[0].buildspec)}).Id))
	if len(b.Phases) < 2 || len(b.Phases[1].Contexts) != 1 || !strings.HasSuffix(aws.ToString(b.Phases[1].Contexts[0].Message), "] at line 8") {
		t.Errorf("DOWNLOAD_BATCHSPEC %+v does not end with the value's line", b.Phases)
	}
}

// TestFidelityServiceRole: CreateProject and UpdateProject refuse a
// serviceRole that is not an IAM role, as AWS does ("Invalid service
// role"); role ARNs (with paths, in every partition) and role names pass.
func TestFidelityServiceRole(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	for i, role := range []string{"arn:aws:iam::123456789012:role/service-role/codebuild-demo", "arn:aws-cn:iam::123456789012:role/r", "codebuild-role"} {
		in := createInput(fmt.Sprintf("ok%d", i))
		in.ServiceRole = aws.String(role)
		out, err := c.CreateProject(ctx, in)
		if err != nil || aws.ToString(out.Project.ServiceRole) != role {
			t.Errorf("CreateProject with serviceRole %s: %v", role, err)
		}
	}
	for _, tt := range []struct{ role, msg string }{
		{"arn:aws:iam::123456789012:user/someone", "Invalid service role: arn:aws:iam::123456789012:user/someone is not the ARN of an IAM role"},
		{"arn:aws:iam::0000:role/r", "Invalid service role: arn:aws:iam::0000:role/r is not the ARN of an IAM role"},
		{"service-role/codebuild", "Invalid service role: service-role/codebuild is neither the ARN nor the name of an IAM role"},
	} {
		in := createInput("bad")
		in.ServiceRole = aws.String(tt.role)
		_, err := c.CreateProject(ctx, in)
		wantCode(t, err, "InvalidInputException", tt.msg)
	}
	if _, err := c.BatchGetProjects(ctx, &codebuild.BatchGetProjectsInput{Names: []string{"bad"}}); err != nil {
		t.Fatal(err)
	}
	_, err := c.UpdateProject(ctx, &codebuild.UpdateProjectInput{Name: aws.String("ok0"), ServiceRole: aws.String("arn:aws:s3:::bucket")})
	wantCode(t, err, "InvalidInputException", "Invalid service role: arn:aws:s3:::bucket is not the ARN of an IAM role")
	got, _ := c.BatchGetProjects(ctx, &codebuild.BatchGetProjectsInput{Names: []string{"ok0"}})
	if len(got.Projects) != 1 || aws.ToString(got.Projects[0].ServiceRole) != "arn:aws:iam::123456789012:role/service-role/codebuild-demo" {
		t.Errorf("a refused update changed the project: %+v", got.Projects)
	}
	up, err := c.UpdateProject(ctx, &codebuild.UpdateProjectInput{Name: aws.String("ok0"), ServiceRole: aws.String("arn:aws:iam::123456789012:role/other")})
	if err != nil || aws.ToString(up.Project.ServiceRole) != "arn:aws:iam::123456789012:role/other" {
		t.Errorf("UpdateProject with a role ARN: %v", err)
	}
}

// TestFidelityListBuildsPaging: ListBuildsForProject with sortOrder on a
// project of more than 100 builds pages through all of them, by build
// number, in both orders (the model's text says AWS answers an error
// then; buildbatch pages, as the spec recommends).
func TestFidelityListBuildsPaging(t *testing.T) {
	s := Start(t, "--max-queued-builds", "200")
	c := s.Client(t, "test", "us-east-1")
	project(t, c, "many", "version: 0.2\nphases:\n  build:\n    commands: [true]\n")
	project(t, c, "other", "version: 0.2\nphases:\n  build:\n    commands: [true]\n")
	const n = 105
	var started []string
	for i := 0; i < n; i++ {
		started = append(started, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("many")}).Id))
		if i == 50 {
			start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("other")}) // not listed
		}
	}
	list := func(order types.SortOrderType) (pages []int, ids []string) {
		var token *string
		for {
			out, err := c.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String("many"), SortOrder: order, NextToken: token})
			if err != nil {
				t.Fatalf("ListBuildsForProject %s: %v", order, err)
			}
			pages = append(pages, len(out.Ids))
			ids = append(ids, out.Ids...)
			if token = out.NextToken; token == nil {
				return pages, ids
			}
			if len(pages) > 5 {
				t.Fatalf("ListBuildsForProject %s does not end: %v", order, pages)
			}
		}
	}
	reversed := slices.Clone(started)
	slices.Reverse(reversed)
	for _, tt := range []struct {
		order types.SortOrderType
		want  []string
	}{{types.SortOrderTypeAscending, started}, {types.SortOrderTypeDescending, reversed}, {"", reversed}} {
		pages, ids := list(tt.order)
		if !slices.Equal(pages, []int{100, n - 100}) || !slices.Equal(ids, tt.want) {
			t.Errorf("sortOrder %q: pages %v, ids in order: %v", tt.order, pages, slices.Equal(ids, tt.want))
		}
	}
	// Build numbers agree with the order.
	out, err := c.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: started[:100]})
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range out.Builds {
		if aws.ToInt64(b.BuildNumber) != int64(i+1) {
			t.Errorf("build %s has number %d, want %d", aws.ToString(b.Id), aws.ToInt64(b.BuildNumber), i+1)
		}
	}
	// Let the builds finish before the server stops.
	deadline := time.Now().Add(2 * time.Minute)
	for _, id := range started {
		for !getBuild(t, c, id).BuildComplete && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestFidelityBatchGetBuildsEmpty: an empty ids list is refused with AWS's
// message, not the model's length check.
func TestFidelityBatchGetBuildsEmpty(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	_, err := c.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{}})
	wantCode(t, err, "InvalidInputException", "The input build ID list cannot be empty.")
}
