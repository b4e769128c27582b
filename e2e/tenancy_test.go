package e2e

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codebuild/types"
)

// tenant is one account in one region, with what it made there.
type tenant struct {
	name, key, region string
	c                 *codebuild.Client
	bucket            string // its artifacts, cache and report exports
	build, batch      string // ids
	report, group     string // ARNs
}

// TestTenancy runs every operation as two accounts in two regions against
// what the others made: no resource of one scope is seen, changed or
// deleted from another, and no build reads or writes another account's
// buckets (nor its own account's buckets of another region), in either
// direction.
func TestTenancy(t *testing.T) {
	s := Start(t)
	tenants := []*tenant{
		{name: "A-east", key: "111111111111", region: "us-east-1"},
		{name: "A-west", key: "111111111111", region: "eu-west-1"},
		{name: "B-east", key: "222222222222", region: "us-east-1"},
		{name: "B-west", key: "222222222222", region: "eu-west-1"},
	}
	if e2eExecutor == "docker" {
		// In containers every build takes a second: two tenants that
		// differ in account and region; the local run has all four.
		tenants = []*tenant{tenants[0], tenants[3]}
	}
	for _, tn := range tenants {
		tn.c = s.Client(t, tn.key, tn.region)
		tn.bucket = "bucket-" + strings.ToLower(tn.name)
		setUpTenant(t, tn)
	}
	before := map[string][]string{}
	for _, tn := range tenants {
		before[tn.bucket] = s.Keys(t, tn.bucket, "")
		if len(before[tn.bucket]) == 0 {
			t.Fatalf("%s stored nothing in %s", tn.name, tn.bucket)
		}
	}
	for _, me := range tenants {
		for _, them := range tenants {
			if me == them {
				continue
			}
			t.Run(me.name+" on "+them.name, func(t *testing.T) {
				operationsSeeNothing(t, s, me, them)
				bucketsRefused(t, s, me, them)
			})
		}
	}
	for _, tn := range tenants {
		if after := s.Keys(t, tn.bucket, ""); !slices.Equal(after, before[tn.bucket]) {
			t.Errorf("%s's bucket changed: %v, was %v", tn.name, after, before[tn.bucket])
		}
		// Everything is still there for its owner.
		got, err := tn.c.BatchGetProjects(ctx, &codebuild.BatchGetProjectsInput{Names: []string{"app"}})
		if err != nil || len(got.Projects) != 1 {
			t.Errorf("%s's project: %v %v", tn.name, got, err)
		}
		b := getBuild(t, tn.c, tn.build)
		if b.BuildStatus != types.StatusTypeSucceeded {
			t.Errorf("%s's build is %s", tn.name, b.BuildStatus)
		}
	}
}

// setUpTenant makes a project "app" whose build writes an artifact, a
// cache and a report (exported) into the tenant's bucket, runs a build
// and a batch of it.
func setUpTenant(t *testing.T, tn *tenant) {
	t.Helper()
	if _, err := tn.c.CreateReportGroup(ctx, &codebuild.CreateReportGroupInput{Name: aws.String("tests"), Type: types.ReportTypeTest,
		ExportConfig: &types.ReportExportConfig{ExportConfigType: types.ReportExportConfigTypeS3,
			S3Destination: &types.S3ReportExportConfig{Bucket: aws.String(tn.bucket), Path: aws.String("reports"), Packaging: types.ReportPackagingTypeNone}}}); err != nil {
		t.Fatal(err)
	}
	project(t, tn.c, "app", fmt.Sprintf(`version: 0.2
batch:
  build-list:
    - identifier: one
phases:
  build:
    commands:
      - mkdir -p deps out && echo "secret of %[1]s" > out/private.txt && echo "cache of %[1]s" > deps/lib.txt
      - echo '<testsuite name="t"><testcase name="c"/></testsuite>' > report.xml
artifacts:
  files: [out/private.txt]
cache:
  paths: ['deps/**/*']
reports:
  arn:aws:codebuild:%[2]s:%[3]s:report-group/tests:
    files: [report.xml]
`, tn.name, tn.region, tn.key), func(in *codebuild.CreateProjectInput) {
		in.Artifacts = &types.ProjectArtifacts{Type: types.ArtifactsTypeS3, Location: aws.String(tn.bucket), Name: aws.String("app"), Packaging: types.ArtifactPackagingNone}
		in.Cache = &types.ProjectCache{Type: types.CacheTypeS3, Location: aws.String(tn.bucket + "/cache")}
		in.BuildBatchConfig = &types.ProjectBuildBatchConfig{ServiceRole: aws.String("arn:aws:iam::" + tn.key + ":role/batch")}
	})
	b := waitBuild(t, tn.c, aws.ToString(start(t, tn.c, &codebuild.StartBuildInput{ProjectName: aws.String("app")}).Id))
	if b.BuildStatus != types.StatusTypeSucceeded || len(b.ReportArns) != 1 {
		t.Fatalf("%s's build: %s %s, reports %v", tn.name, b.BuildStatus, phaseTable(b), b.ReportArns)
	}
	tn.build, tn.report = aws.ToString(b.Id), b.ReportArns[0]
	tn.group = "arn:aws:codebuild:" + tn.region + ":" + tn.key + ":report-group/tests"
	out, err := tn.c.StartBuildBatch(ctx, &codebuild.StartBuildBatchInput{ProjectName: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	tn.batch = aws.ToString(out.BuildBatch.Id)
	waitBatch(t, tn.c, tn.batch)
}

// operationsSeeNothing calls every operation as me with them's names, ids
// and ARNs.
func operationsSeeNothing(t *testing.T, s *Server, me, them *tenant) {
	c := me.c
	tests := []struct {
		op   string
		call func() error
	}{
		{"BatchGetProjects", func() error {
			out, err := c.BatchGetProjects(ctx, &codebuild.BatchGetProjectsInput{Names: []string{"arn:aws:codebuild:" + them.region + ":" + them.key + ":project/app"}})
			return none(err, func() int { return len(out.Projects) }, "projects")
		}},
		{"ListProjects", func() error { return nil }}, // each scope has an "app" of its own: names only
		{"UpdateProject", func() error {
			_, err := c.UpdateProject(ctx, &codebuild.UpdateProjectInput{Name: aws.String("arn:aws:codebuild:" + them.region + ":" + them.key + ":project/app"), Description: aws.String("mine")})
			return expect(err, "ResourceNotFoundException", "InvalidInputException")
		}},
		{"StartBuild", func() error {
			_, err := c.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("arn:aws:codebuild:" + them.region + ":" + them.key + ":project/app")})
			return expect(err, "ResourceNotFoundException", "InvalidInputException")
		}},
		{"StartBuildBatch", func() error {
			_, err := c.StartBuildBatch(ctx, &codebuild.StartBuildBatchInput{ProjectName: aws.String("arn:aws:codebuild:" + them.region + ":" + them.key + ":project/app")})
			return expect(err, "ResourceNotFoundException", "InvalidInputException")
		}},
		{"BatchGetBuilds", func() error {
			out, err := c.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{them.build}})
			if err == nil && (len(out.Builds) != 0 || len(out.BuildsNotFound) != 1) {
				return fmt.Errorf("saw %d builds", len(out.Builds))
			}
			return err
		}},
		{"ListBuilds", func() error {
			out, err := c.ListBuilds(ctx, &codebuild.ListBuildsInput{})
			return notListed(err, func() []string { return out.Ids }, them.build)
		}},
		{"ListBuildsForProject", func() error {
			out, err := c.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String("app")})
			return notListed(err, func() []string { return out.Ids }, them.build)
		}},
		{"StopBuild", func() error {
			_, err := c.StopBuild(ctx, &codebuild.StopBuildInput{Id: aws.String(them.build)})
			return expect(err, "ResourceNotFoundException")
		}},
		{"RetryBuild", func() error {
			_, err := c.RetryBuild(ctx, &codebuild.RetryBuildInput{Id: aws.String(them.build)})
			return expect(err, "ResourceNotFoundException")
		}},
		{"BatchDeleteBuilds", func() error {
			out, err := c.BatchDeleteBuilds(ctx, &codebuild.BatchDeleteBuildsInput{Ids: []string{them.build}})
			if err == nil && slices.Contains(out.BuildsDeleted, them.build) {
				return fmt.Errorf("deleted %s", them.build)
			}
			return err
		}},
		{"BatchGetBuildBatches", func() error {
			out, err := c.BatchGetBuildBatches(ctx, &codebuild.BatchGetBuildBatchesInput{Ids: []string{them.batch}})
			return none(err, func() int { return len(out.BuildBatches) }, "batches")
		}},
		{"ListBuildBatches", func() error {
			out, err := c.ListBuildBatches(ctx, &codebuild.ListBuildBatchesInput{})
			return notListed(err, func() []string { return out.Ids }, them.batch)
		}},
		{"ListBuildBatchesForProject", func() error {
			out, err := c.ListBuildBatchesForProject(ctx, &codebuild.ListBuildBatchesForProjectInput{ProjectName: aws.String("app")})
			return notListed(err, func() []string { return out.Ids }, them.batch)
		}},
		{"StopBuildBatch", func() error {
			_, err := c.StopBuildBatch(ctx, &codebuild.StopBuildBatchInput{Id: aws.String(them.batch)})
			return expect(err, "ResourceNotFoundException")
		}},
		{"RetryBuildBatch", func() error {
			_, err := c.RetryBuildBatch(ctx, &codebuild.RetryBuildBatchInput{Id: aws.String(them.batch)})
			return expect(err, "ResourceNotFoundException", "InvalidInputException")
		}},
		{"DeleteBuildBatch", func() error {
			out, err := c.DeleteBuildBatch(ctx, &codebuild.DeleteBuildBatchInput{Id: aws.String(them.batch)})
			if err == nil && len(out.BuildsDeleted) != 0 {
				return fmt.Errorf("deleted %v", out.BuildsDeleted)
			}
			return expect(err, "", "ResourceNotFoundException", "InvalidInputException")
		}},
		{"BatchGetReportGroups", func() error {
			out, err := c.BatchGetReportGroups(ctx, &codebuild.BatchGetReportGroupsInput{ReportGroupArns: []string{them.group}})
			return none(err, func() int { return len(out.ReportGroups) }, "report groups")
		}},
		{"ListReportGroups", func() error {
			out, err := c.ListReportGroups(ctx, &codebuild.ListReportGroupsInput{})
			return notListed(err, func() []string { return out.ReportGroups }, them.group)
		}},
		{"UpdateReportGroup", func() error {
			_, err := c.UpdateReportGroup(ctx, &codebuild.UpdateReportGroupInput{Arn: aws.String(them.group), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
			return expect(err, "ResourceNotFoundException", "InvalidInputException")
		}},
		{"DeleteReportGroup", func() error {
			_, err := c.DeleteReportGroup(ctx, &codebuild.DeleteReportGroupInput{Arn: aws.String(them.group)})
			return expect(err, "", "ResourceNotFoundException", "InvalidInputException")
		}},
		{"BatchGetReports", func() error {
			out, err := c.BatchGetReports(ctx, &codebuild.BatchGetReportsInput{ReportArns: []string{them.report}})
			return none(err, func() int { return len(out.Reports) }, "reports")
		}},
		{"ListReports", func() error {
			out, err := c.ListReports(ctx, &codebuild.ListReportsInput{})
			return notListed(err, func() []string { return out.Reports }, them.report)
		}},
		{"ListReportsForReportGroup", func() error {
			out, err := c.ListReportsForReportGroup(ctx, &codebuild.ListReportsForReportGroupInput{ReportGroupArn: aws.String(them.group)})
			if err == nil && len(out.Reports) != 0 {
				return fmt.Errorf("listed %v", out.Reports)
			}
			return expect(err, "", "ResourceNotFoundException", "InvalidInputException")
		}},
		{"DescribeTestCases", func() error {
			out, err := c.DescribeTestCases(ctx, &codebuild.DescribeTestCasesInput{ReportArn: aws.String(them.report)})
			if err == nil && len(out.TestCases) != 0 {
				return fmt.Errorf("saw %d test cases", len(out.TestCases))
			}
			return expect(err, "", "ResourceNotFoundException", "InvalidInputException")
		}},
		{"DescribeCodeCoverages", func() error {
			out, err := c.DescribeCodeCoverages(ctx, &codebuild.DescribeCodeCoveragesInput{ReportArn: aws.String(them.report)})
			if err == nil && len(out.CodeCoverages) != 0 {
				return fmt.Errorf("saw %d coverages", len(out.CodeCoverages))
			}
			return expect(err, "", "ResourceNotFoundException", "InvalidInputException")
		}},
		{"GetReportGroupTrend", func() error {
			out, err := c.GetReportGroupTrend(ctx, &codebuild.GetReportGroupTrendInput{ReportGroupArn: aws.String(them.group), TrendField: types.ReportGroupTrendFieldTypePassRate})
			if err == nil && len(out.RawData) != 0 {
				return fmt.Errorf("saw %d trend points", len(out.RawData))
			}
			return expect(err, "", "ResourceNotFoundException", "InvalidInputException")
		}},
		{"DeleteReport", func() error {
			_, err := c.DeleteReport(ctx, &codebuild.DeleteReportInput{Arn: aws.String(them.report)})
			return expect(err, "", "ResourceNotFoundException", "InvalidInputException")
		}},
		{"DeleteProject", func() error {
			_, err := c.DeleteProject(ctx, &codebuild.DeleteProjectInput{Name: aws.String("arn:aws:codebuild:" + them.region + ":" + them.key + ":project/app")})
			return expect(err, "", "ResourceNotFoundException", "InvalidInputException")
		}},
		{"GetBuildLog", func() error { // buildbatch's extension, through `buildbatch logs`
			cmd := exec.Command(binary, "logs", "--endpoint-url", s.URL, "--region", me.region, them.build)
			cmd.Env = append(cleanEnv(), "AWS_ACCESS_KEY_ID="+me.key, "AWS_SECRET_ACCESS_KEY=x")
			out, err := cmd.CombinedOutput()
			if err == nil || strings.Contains(string(out), "secret of") {
				return fmt.Errorf("read the log: %v: %s", err, out)
			}
			return nil
		}},
	}
	for _, tt := range tests {
		if err := tt.call(); err != nil {
			t.Errorf("%s as %s on %s's: %v", tt.op, me.name, them.name, err)
		}
	}
	// What them made is untouched, as they see it.
	if b := getBuild(t, them.c, them.build); b.BuildStatus != types.StatusTypeSucceeded {
		t.Errorf("%s's build is now %s", them.name, b.BuildStatus)
	}
	rep, err := them.c.BatchGetReports(ctx, &codebuild.BatchGetReportsInput{ReportArns: []string{them.report}})
	if err != nil || len(rep.Reports) != 1 {
		t.Errorf("%s's report: %v %v", them.name, rep, err)
	}
}

// expect is nil if err is one of the codes ("" meaning success).
func expect(err error, codes ...string) error {
	got := ""
	if err != nil {
		got = apiCode(err)
	}
	if slices.Contains(codes, got) {
		return nil
	}
	if err == nil {
		return fmt.Errorf("succeeded, want one of %v", codes)
	}
	return fmt.Errorf("%v, want one of %v", err, codes)
}

// bucketsRefused: me's builds cannot read them's bucket as an S3 source
// or a cache, nor write artifacts, a cache or report exports there.
func bucketsRefused(t *testing.T, s *Server, me, them *tenant) {
	name := "reads-" + strings.ToLower(them.name)
	project(t, me.c, name, "version: 0.2\nphases:\n  build:\n    commands:\n      - cat out/private.txt\n", func(in *codebuild.CreateProjectInput) {
		in.Source = &types.ProjectSource{Type: types.SourceTypeS3, Location: aws.String(them.bucket + "/app/"),
			Buildspec: aws.String("version: 0.2\nphases:\n  build:\n    commands:\n      - cat out/private.txt\n")}
	})
	b := waitBuild(t, me.c, aws.ToString(start(t, me.c, &codebuild.StartBuildInput{ProjectName: aws.String(name)}).Id))
	dl := phase(b, types.BuildPhaseTypeDownloadSource)
	if b.BuildStatus != types.StatusTypeFailed || dl == nil || dl.PhaseStatus != types.StatusTypeFailed || len(dl.Contexts) == 0 ||
		!strings.Contains(aws.ToString(dl.Contexts[0].Message), "AccessDenied") {
		t.Errorf("S3 source in %s's bucket: %s %s %+v", them.name, b.BuildStatus, phaseTable(b), dl)
	}

	name = "writes-" + strings.ToLower(them.name)
	group := "into-" + strings.ToLower(them.name)
	if _, err := me.c.CreateReportGroup(ctx, &codebuild.CreateReportGroupInput{Name: aws.String(group), Type: types.ReportTypeTest,
		ExportConfig: &types.ReportExportConfig{ExportConfigType: types.ReportExportConfigTypeS3,
			S3Destination: &types.S3ReportExportConfig{Bucket: aws.String(them.bucket), Path: aws.String("stolen"), Packaging: types.ReportPackagingTypeNone}}}); err != nil {
		t.Fatal(err)
	}
	project(t, me.c, name, fmt.Sprintf(`version: 0.2
phases:
  build:
    commands:
      - 'if [ -f deps/lib.txt ]; then echo "got $(cat deps/lib.txt)"; fi'
      - mkdir -p deps out && echo overwritten > deps/lib.txt && echo planted > out/private.txt
      - echo '<testsuite name="t"><testcase name="c"/></testsuite>' > report.xml
artifacts:
  files: [out/private.txt]
cache:
  paths: ['deps/**/*']
reports:
  arn:aws:codebuild:%s:%s:report-group/%s:
    files: [report.xml]
`, me.region, me.key, group), func(in *codebuild.CreateProjectInput) {
		in.Artifacts = &types.ProjectArtifacts{Type: types.ArtifactsTypeS3, Location: aws.String(them.bucket), Name: aws.String("app"), Packaging: types.ArtifactPackagingNone}
		in.Cache = &types.ProjectCache{Type: types.CacheTypeS3, Location: aws.String(them.bucket + "/cache")}
	})
	b = waitBuild(t, me.c, aws.ToString(start(t, me.c, &codebuild.StartBuildInput{ProjectName: aws.String(name)}).Id))
	up := phase(b, types.BuildPhaseTypeUploadArtifacts)
	if b.BuildStatus != types.StatusTypeFailed || up == nil || len(up.Contexts) == 0 || !strings.Contains(aws.ToString(up.Contexts[0].Message), "AccessDenied") {
		t.Errorf("artifacts into %s's bucket: %s %s %+v\n%s", them.name, b.BuildStatus, phaseTable(b), up, logTextAs(t, s, me, aws.ToString(b.Id)))
	}
	if text := logTextAs(t, s, me, aws.ToString(b.Id)); strings.Contains(text, "got cache of") || strings.Contains(text, "secret of") {
		t.Errorf("read %s's cache:\n%s", them.name, text)
	}
}

// logTextAs reads a build's log with the tenant's credentials.
func logTextAs(t *testing.T, s *Server, tn *tenant, id string) string {
	t.Helper()
	cmd := exec.Command(binary, "logs", "--endpoint-url", s.URL, "--region", tn.region, id)
	cmd.Env = append(cleanEnv(), "AWS_ACCESS_KEY_ID="+tn.key, "AWS_SECRET_ACCESS_KEY=x")
	return runLogs(t, cmd)
}

// notListed is nil if the call failed with err or its list (read only
// after a success) lacks id.
func notListed(err error, list func() []string, id string) error {
	if err == nil && slices.Contains(list(), id) {
		return fmt.Errorf("listed %s", id)
	}
	return err
}

// none is nil if the call failed with err or returned no items.
func none(err error, n func() int, what string) error {
	if err == nil && n() != 0 {
		return fmt.Errorf("saw %d %s", n(), what)
	}
	return err
}
