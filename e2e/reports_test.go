package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codebuild/types"
)

const junitReport = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="calc" tests="4" failures="1" skipped="1" time="0.5">
    <testcase classname="calc.AddTest" name="adds" time="0.1"/>
    <testcase classname="calc.AddTest" name="adds negatives" time="0.2"/>
    <testcase classname="calc.DivTest" name="divides by zero" time="0.2"><failure message="expected error">stack</failure></testcase>
    <testcase classname="calc.DivTest" name="slow" time="0"><skipped/></testcase>
  </testsuite>
</testsuites>
`

const coberturaReport = `<?xml version="1.0" ?>
<coverage line-rate="0.75" branch-rate="0.5" version="1">
  <packages><package name="calc"><classes>
    <class name="add" filename="calc/add.py"><lines>
      <line number="1" hits="1"/><line number="2" hits="1"/><line number="3" hits="1" branch="true" condition-coverage="50% (1/2)"/><line number="4" hits="0"/>
    </lines></class>
    <class name="div" filename="calc/div.py"><lines>
      <line number="1" hits="1"/><line number="2" hits="0"/>
    </lines></class>
  </classes></package></packages>
</coverage>
`

func TestReports(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	// A group made beforehand, exporting raw files.
	g, err := c.CreateReportGroup(ctx, &codebuild.CreateReportGroupInput{Name: aws.String("rep-unit"), Type: types.ReportTypeTest,
		ExportConfig: &types.ReportExportConfig{ExportConfigType: types.ReportExportConfigTypeS3,
			S3Destination: &types.S3ReportExportConfig{Bucket: aws.String("exports"), Path: aws.String("raw"), Packaging: types.ReportPackagingTypeNone}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateReportGroup(ctx, &codebuild.CreateReportGroupInput{Name: aws.String("rep-unit"), Type: types.ReportTypeTest,
		ExportConfig: &types.ReportExportConfig{ExportConfigType: types.ReportExportConfigTypeNoExport}})
	wantCode(t, err, "ResourceAlreadyExistsException", "rep-unit")
	project(t, c, "rep", "version: 0.2\nphases:\n  build:\n    commands:\n"+
		"      - mkdir -p out/cov && printf '%s' \"$JUNIT\" > out/junit.xml && printf '%s' \"$COB\" > out/cov/coverage.xml && echo '<testsuite' > out/broken.xml\n"+
		"reports:\n  unit:\n    files: [junit.xml]\n    base-directory: out\n  coverage:\n    files: ['**/coverage.xml']\n    base-directory: out\n    file-format: COBERTURAXML\n"+
		"  broken:\n    files: [out/broken.xml]\n  missing:\n    files: [nothing/*.xml]\n",
		func(in *codebuild.CreateProjectInput) {
			in.Environment.EnvironmentVariables = []types.EnvironmentVariable{{Name: aws.String("JUNIT"), Value: aws.String(junitReport)}, {Name: aws.String("COB"), Value: aws.String(coberturaReport)}}
		})
	b := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("rep")}).Id))
	if b.BuildStatus != types.StatusTypeSucceeded || len(b.ReportArns) != 4 {
		t.Fatalf("build %s, reportArns %v:\n%s", b.BuildStatus, b.ReportArns, logText(t, s, aws.ToString(b.Id)))
	}
	out, err := c.BatchGetReports(ctx, &codebuild.BatchGetReportsInput{ReportArns: append(b.ReportArns, "arn:aws:codebuild:us-east-1:000000000000:report/nope:x")})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]types.Report{}
	for _, r := range out.Reports {
		byName[aws.ToString(r.Name)] = r
	}
	unit, cov := byName["rep-unit"], byName["rep-coverage"]
	if unit.Status != types.ReportStatusTypeFailed || unit.Type != types.ReportTypeTest || aws.ToInt32(unit.TestSummary.Total) != 4 ||
		unit.TestSummary.StatusCounts["FAILED"] != 1 || unit.TestSummary.StatusCounts["SKIPPED"] != 1 || unit.TestSummary.StatusCounts["SUCCEEDED"] != 2 ||
		aws.ToString(unit.ExecutionId) != aws.ToString(b.Arn) || unit.ExportConfig == nil || unit.ExportConfig.ExportConfigType != types.ReportExportConfigTypeS3 {
		t.Errorf("unit report: %+v %+v", unit, unit.TestSummary)
	}
	if cov.Status != types.ReportStatusTypeSucceeded || cov.Type != types.ReportTypeCodeCoverage || cov.CodeCoverageSummary == nil ||
		aws.ToInt32(cov.CodeCoverageSummary.LinesCovered) != 4 || aws.ToInt32(cov.CodeCoverageSummary.LinesMissed) != 2 || aws.ToFloat64(cov.CodeCoverageSummary.LineCoveragePercentage) != 66.66 {
		t.Errorf("coverage report: %+v %+v", cov, cov.CodeCoverageSummary)
	}
	if byName["rep-broken"].Status != types.ReportStatusTypeFailed || byName["rep-missing"].Status != types.ReportStatusTypeIncomplete {
		t.Errorf("broken %s, missing %s", byName["rep-broken"].Status, byName["rep-missing"].Status)
	}
	if len(out.ReportsNotFound) != 1 {
		t.Errorf("reportsNotFound %v", out.ReportsNotFound)
	}
	// The raw files were exported as the group says.
	_, uuid, _ := strings.Cut(aws.ToString(b.Id), ":")
	if _, err := s.Object(t, "exports", "raw/rep-unit/"+uuid+"/junit.xml"); err != nil {
		t.Errorf("exported raw file: %v", err)
	}

	// Test cases, filtered and paged.
	tc, err := c.DescribeTestCases(ctx, &codebuild.DescribeTestCasesInput{ReportArn: unit.Arn})
	if err != nil || len(tc.TestCases) != 4 {
		t.Fatalf("DescribeTestCases: %+v %v", tc, err)
	}
	failed, err := c.DescribeTestCases(ctx, &codebuild.DescribeTestCasesInput{ReportArn: unit.Arn, Filter: &types.TestCaseFilter{Status: aws.String("FAILED")}})
	if err != nil || len(failed.TestCases) != 1 || !strings.Contains(aws.ToString(failed.TestCases[0].Name), "divides by zero") || aws.ToString(failed.TestCases[0].Message) == "" {
		t.Errorf("failed cases: %+v %v", failed, err)
	}
	kw, _ := c.DescribeTestCases(ctx, &codebuild.DescribeTestCasesInput{ReportArn: unit.Arn, Filter: &types.TestCaseFilter{Keyword: aws.String("AddTest")}})
	if len(kw.TestCases) != 2 {
		t.Errorf("keyword AddTest: %d cases", len(kw.TestCases))
	}
	page, _ := c.DescribeTestCases(ctx, &codebuild.DescribeTestCasesInput{ReportArn: unit.Arn, MaxResults: aws.Int32(3)})
	rest, _ := c.DescribeTestCases(ctx, &codebuild.DescribeTestCasesInput{ReportArn: unit.Arn, MaxResults: aws.Int32(3), NextToken: page.NextToken})
	if len(page.TestCases) != 3 || page.NextToken == nil || len(rest.TestCases) != 1 || rest.NextToken != nil {
		t.Errorf("paging: %d then %d", len(page.TestCases), len(rest.TestCases))
	}
	_, err = c.DescribeTestCases(ctx, &codebuild.DescribeTestCasesInput{ReportArn: aws.String("arn:aws:codebuild:us-east-1:000000000000:report/nope:x")})
	wantCode(t, err, "ResourceNotFoundException", "nope")

	// The aws cli sees the same.
	cli, err := s.AWS(t, "test", "codebuild", "describe-test-cases", "--report-arn", aws.ToString(unit.Arn), "--filter", "status=FAILED", "--query", "testCases[0].name", "--output", "text")
	if err != nil || !strings.Contains(string(cli), "divides by zero") {
		t.Errorf("aws codebuild describe-test-cases: %s %v", cli, err)
	}
	cli, err = s.AWS(t, "test", "codebuild", "batch-get-reports", "--report-arns", aws.ToString(cov.Arn), "--query", "reports[0].codeCoverageSummary.linesCovered", "--output", "text")
	if err != nil || strings.TrimSpace(string(cli)) != "4" {
		t.Errorf("aws codebuild batch-get-reports: %s %v", cli, err)
	}

	// Coverages, sorted and filtered.
	cc, err := c.DescribeCodeCoverages(ctx, &codebuild.DescribeCodeCoveragesInput{ReportArn: cov.Arn, SortBy: types.ReportCodeCoverageSortByTypeLineCoveragePercentage, SortOrder: types.SortOrderTypeDescending})
	if err != nil || len(cc.CodeCoverages) != 2 || aws.ToString(cc.CodeCoverages[0].FilePath) != "calc/add.py" {
		t.Errorf("DescribeCodeCoverages: %+v %v", cc, err)
	}
	low, _ := c.DescribeCodeCoverages(ctx, &codebuild.DescribeCodeCoveragesInput{ReportArn: cov.Arn, MaxLineCoveragePercentage: aws.Float64(60)})
	if len(low.CodeCoverages) != 1 || aws.ToString(low.CodeCoverages[0].FilePath) != "calc/div.py" {
		t.Errorf("under 60%%: %+v", low.CodeCoverages)
	}

	// Groups: created on demand, listed, trends.
	groups, err := c.ListReportGroups(ctx, &codebuild.ListReportGroupsInput{SortBy: types.ReportGroupSortByTypeName, SortOrder: types.SortOrderTypeAscending})
	if err != nil || strings.Join(groups.ReportGroups, " ") != strings.Join([]string{arnOf("rep-broken"), arnOf("rep-coverage"), arnOf("rep-missing"), arnOf("rep-unit")}, " ") {
		t.Errorf("ListReportGroups: %v %v", groups, err)
	}
	bg, err := c.BatchGetReportGroups(ctx, &codebuild.BatchGetReportGroupsInput{ReportGroupArns: []string{arnOf("rep-coverage"), aws.ToString(g.ReportGroup.Arn), arnOf("nope")}})
	if err != nil || len(bg.ReportGroups) != 2 || bg.ReportGroups[0].Type != types.ReportTypeCodeCoverage || len(bg.ReportGroupsNotFound) != 1 {
		t.Errorf("BatchGetReportGroups: %+v %v", bg, err)
	}
	waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("rep")}).Id))
	inGroup, err := c.ListReportsForReportGroup(ctx, &codebuild.ListReportsForReportGroupInput{ReportGroupArn: g.ReportGroup.Arn})
	if err != nil || len(inGroup.Reports) != 2 {
		t.Errorf("ListReportsForReportGroup: %v %v", inGroup, err)
	}
	all, err := c.ListReports(ctx, &codebuild.ListReportsInput{Filter: &types.ReportFilter{Status: types.ReportStatusTypeIncomplete}})
	if err != nil || len(all.Reports) != 2 {
		t.Errorf("ListReports INCOMPLETE: %v %v", all, err)
	}
	trend, err := c.GetReportGroupTrend(ctx, &codebuild.GetReportGroupTrendInput{ReportGroupArn: g.ReportGroup.Arn, TrendField: types.ReportGroupTrendFieldTypePassRate})
	if err != nil || len(trend.RawData) != 2 || aws.ToString(trend.Stats.Average) != "50" || aws.ToString(trend.RawData[0].Data) != "50" {
		t.Errorf("GetReportGroupTrend PASS_RATE: %+v %v", trend, err)
	}
	ct, err := c.GetReportGroupTrend(ctx, &codebuild.GetReportGroupTrendInput{ReportGroupArn: aws.String(arnOf("rep-coverage")), TrendField: types.ReportGroupTrendFieldTypeLinesCovered, NumOfReports: aws.Int32(1)})
	if err != nil || len(ct.RawData) != 1 || aws.ToString(ct.Stats.Max) != "4" {
		t.Errorf("GetReportGroupTrend LINES_COVERED: %+v %v", ct, err)
	}
	_, err = c.GetReportGroupTrend(ctx, &codebuild.GetReportGroupTrendInput{ReportGroupArn: g.ReportGroup.Arn, TrendField: types.ReportGroupTrendFieldTypeLineCoverage})
	wantCode(t, err, "InvalidInputException", "LINE_COVERAGE")

	// Update, delete.
	up, err := c.UpdateReportGroup(ctx, &codebuild.UpdateReportGroupInput{Arn: g.ReportGroup.Arn, Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}}})
	if err != nil || len(up.ReportGroup.Tags) != 1 || up.ReportGroup.ExportConfig.ExportConfigType != types.ReportExportConfigTypeS3 {
		t.Errorf("UpdateReportGroup: %+v %v", up, err)
	}
	_, err = c.DeleteReportGroup(ctx, &codebuild.DeleteReportGroupInput{Arn: g.ReportGroup.Arn})
	wantCode(t, err, "InvalidInputException", "deleteReports")
	if _, err := c.DeleteReport(ctx, &codebuild.DeleteReportInput{Arn: cov.Arn}); err != nil {
		t.Error(err)
	}
	if _, err := c.DeleteReportGroup(ctx, &codebuild.DeleteReportGroupInput{Arn: g.ReportGroup.Arn, DeleteReports: true}); err != nil {
		t.Error(err)
	}
	gone, _ := c.BatchGetReports(ctx, &codebuild.BatchGetReportsInput{ReportArns: []string{aws.ToString(unit.Arn), aws.ToString(cov.Arn)}})
	if len(gone.Reports) != 0 {
		t.Errorf("reports after deletes: %+v", gone.Reports)
	}
	_, err = c.UpdateReportGroup(ctx, &codebuild.UpdateReportGroupInput{Arn: g.ReportGroup.Arn})
	wantCode(t, err, "ResourceNotFoundException", "rep-unit")
}

func arnOf(group string) string {
	return "arn:aws:codebuild:us-east-1:000000000000:report-group/" + group
}

func TestReportsBoto3(t *testing.T) {
	s := Start(t)
	s.Python(t, "test_reports")
}

// TestFanoutMergedReports: the shards of a build-fanout batch report into
// <group>BuildFanoutShard<n>, and the batch gets one merged report per
// group in its reportArns, merged as AWS documents.
func TestFanoutMergedReports(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	// Shard n runs n+1 tests of n×0.1 s each; shard 2 fails one; shard 3
	// writes no coverage file.
	spec := `version: 0.2
batch:
  build-fanout:
    parallelism: 3
phases:
  build:
    commands:
      - |
        n=${CODEBUILD_BATCH_BUILD_IDENTIFIER#build}
        { echo "<testsuite name=\"shard$n\">"
          i=0
          while [ $i -le $n ]; do
            if [ $n = 2 ] && [ $i = 0 ]; then
              echo "<testcase classname=\"s$n\" name=\"t$i\" time=\"0.$n\"><failure message=\"broken in shard $n\">trace</failure></testcase>"
            else
              echo "<testcase classname=\"s$n\" name=\"t$i\" time=\"0.$n\"/>"
            fi
            i=$((i+1))
          done
          echo "</testsuite>"; } > junit.xml
      - |
        if [ "$CODEBUILD_BATCH_BUILD_IDENTIFIER" != build3 ]; then
          printf '%s' "$COB" | sed "s#calc/div.py#calc/div$CODEBUILD_BATCH_BUILD_IDENTIFIER.py#" > coverage.xml
        fi
reports:
  unit:
    files: [junit.xml]
  cov:
    files: [coverage.xml]
    file-format: COBERTURAXML
`
	batchProject(t, c, "fan", spec, func(in *codebuild.CreateProjectInput) {
		in.Environment.EnvironmentVariables = []types.EnvironmentVariable{{Name: aws.String("COB"), Value: aws.String(coberturaReport)}}
	})
	b := waitBatch(t, c, aws.ToString(startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("fan")}).Id))
	if b.BuildBatchStatus != types.StatusTypeSucceeded || len(b.ReportArns) != 2 {
		t.Fatalf("batch %s, reportArns %v\n%s", b.BuildBatchStatus, b.ReportArns, groups(b))
	}
	out, err := c.BatchGetReports(ctx, &codebuild.BatchGetReportsInput{ReportArns: b.ReportArns})
	if err != nil || len(out.Reports) != 2 {
		t.Fatalf("BatchGetReports: %+v %v", out, err)
	}
	byName := map[string]types.Report{}
	for _, r := range out.Reports {
		byName[aws.ToString(r.Name)] = r
		if aws.ToString(r.ExecutionId) != aws.ToString(b.Arn) {
			t.Errorf("merged report %s: executionId %s, want the batch's ARN", aws.ToString(r.Arn), aws.ToString(r.ExecutionId))
		}
	}
	unit, cov := byName["fan-unit"], byName["fan-cov"]
	// 2 + 3 + 4 tests, one failed; the longest shard: 4 × 0.3 s.
	if unit.Status != types.ReportStatusTypeFailed || unit.TestSummary == nil || aws.ToInt32(unit.TestSummary.Total) != 9 ||
		unit.TestSummary.StatusCounts["FAILED"] != 1 || unit.TestSummary.StatusCounts["SUCCEEDED"] != 8 ||
		aws.ToInt64(unit.TestSummary.DurationInNanoSeconds) != 1_200_000_000 || aws.ToString(unit.ReportGroupArn) != arnOf("fan-unit") {
		t.Errorf("merged test report: %+v %+v", unit, unit.TestSummary)
	}
	failed, err := c.DescribeTestCases(ctx, &codebuild.DescribeTestCasesInput{ReportArn: unit.Arn, Filter: &types.TestCaseFilter{Status: aws.String("FAILED")}})
	if err != nil || len(failed.TestCases) != 1 || aws.ToString(failed.TestCases[0].Message) == "" || !strings.Contains(aws.ToString(failed.TestCases[0].Message), "broken in shard 2") {
		t.Errorf("failed cases of the merged report: %+v %v", failed, err)
	}
	// Shard 3 made an INCOMPLETE coverage report: the merge is INCOMPLETE,
	// its counts the sums of the other two.
	if cov.Status != types.ReportStatusTypeIncomplete || cov.CodeCoverageSummary == nil || aws.ToInt32(cov.CodeCoverageSummary.LinesCovered) != 8 ||
		aws.ToInt32(cov.CodeCoverageSummary.LinesMissed) != 4 {
		t.Errorf("merged coverage report: %+v %+v", cov, cov.CodeCoverageSummary)
	}
	files, err := c.DescribeCodeCoverages(ctx, &codebuild.DescribeCodeCoveragesInput{ReportArn: cov.Arn})
	if err != nil || len(files.CodeCoverages) != 3 { // calc/add.py (in both shards, once), calc/divbuild1.py, calc/divbuild2.py
		t.Errorf("merged coverages: %+v %v", files, err)
	}
	// Each shard reported into its own group.
	for i, id := range []string{"build1", "build2", "build3"} {
		m := buildOfGroup(t, c, b, id)
		if len(m.ReportArns) != 2 {
			t.Errorf("%s: reportArns %v", id, m.ReportArns)
			continue
		}
		shard, err := c.BatchGetReports(ctx, &codebuild.BatchGetReportsInput{ReportArns: m.ReportArns})
		if err != nil || len(shard.Reports) != 2 {
			t.Fatalf("%s: %+v %v", id, shard, err)
		}
		for _, r := range shard.Reports {
			if g := aws.ToString(r.ReportGroupArn); g != arnOf("fan-unit"+"BuildFanoutShard"+string(rune('1'+i))) && g != arnOf("fan-cov"+"BuildFanoutShard"+string(rune('1'+i))) {
				t.Errorf("%s: report in group %s", id, g)
			}
		}
	}
	// The merged reports are in the named groups, whose trend they make.
	inGroup, err := c.ListReportsForReportGroup(ctx, &codebuild.ListReportsForReportGroupInput{ReportGroupArn: aws.String(arnOf("fan-unit"))})
	if err != nil || len(inGroup.Reports) != 1 || inGroup.Reports[0] != aws.ToString(unit.Arn) {
		t.Errorf("ListReportsForReportGroup fan-unit: %v %v", inGroup, err)
	}
	trend, err := c.GetReportGroupTrend(ctx, &codebuild.GetReportGroupTrendInput{ReportGroupArn: aws.String(arnOf("fan-unit")), TrendField: types.ReportGroupTrendFieldTypeTotal})
	if err != nil || len(trend.RawData) != 1 || aws.ToString(trend.RawData[0].Data) != "9" {
		t.Errorf("GetReportGroupTrend TOTAL: %+v %v", trend, err)
	}
}

// pytestSpec runs real pytest (Debian's python3-pytest) on three tests,
// one failing, and publishes its JUnit XML; the failing test fails the
// build, as it would on AWS, and the report is made all the same.
const pytestSpec = `version: 0.2
phases:
  build:
    commands:
      - mkdir -p tests
      - |
        cat > tests/test_calc.py <<'PY'
        import pytest

        def test_adds():
            assert 1 + 1 == 2

        def test_divides():
            assert 7 // 2 == 4, "integer division rounds down"

        @pytest.mark.skip(reason="not on this platform")
        def test_skipped():
            pass
        PY
      - /usr/bin/python3 -m pytest -p no:cacheprovider --junitxml=reports/pytest.xml tests
reports:
  pytest:
    files: ['**/*.xml']
    base-directory: reports
`

// needPytest skips a test that runs real pytest where builds cannot: in
// containers (the test images hold busybox only) and on a machine without
// python3-pytest (under CI=true that is a failure: .ci/run installs it).
func needPytest(t *testing.T) {
	t.Helper()
	if e2eExecutor == "docker" {
		t.Skip("pytest is not in the busybox test images")
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import pytest").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-pytest is not installed (.ci/run installs it): %v", err)
		}
		t.Skipf("python3-pytest is not installed: %v", err)
	}
}

// TestPytestReport: a build running pytest with one failing test makes a
// report with the right counts; DescribeTestCases filtering FAILED
// returns that test with its message; three builds make the group's
// trend.
func TestPytestReport(t *testing.T) {
	needPytest(t)
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	project(t, c, "py", pytestSpec)
	var reports []string
	for range 3 {
		b := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("py")}).Id))
		if b.BuildStatus != types.StatusTypeFailed || len(b.ReportArns) != 1 {
			t.Fatalf("build %s, reportArns %v:\n%s", b.BuildStatus, b.ReportArns, logText(t, s, aws.ToString(b.Id)))
		}
		reports = append(reports, b.ReportArns[0])
	}
	out, err := c.BatchGetReports(ctx, &codebuild.BatchGetReportsInput{ReportArns: reports[:1]})
	if err != nil || len(out.Reports) != 1 {
		t.Fatalf("BatchGetReports: %+v %v", out, err)
	}
	r := out.Reports[0]
	if r.Status != types.ReportStatusTypeFailed || aws.ToString(r.Name) != "py-pytest" || aws.ToInt32(r.TestSummary.Total) != 3 ||
		r.TestSummary.StatusCounts["SUCCEEDED"] != 1 || r.TestSummary.StatusCounts["FAILED"] != 1 || r.TestSummary.StatusCounts["SKIPPED"] != 1 {
		t.Errorf("report: %+v %+v", r, r.TestSummary)
	}
	failed, err := c.DescribeTestCases(ctx, &codebuild.DescribeTestCasesInput{ReportArn: r.Arn, Filter: &types.TestCaseFilter{Status: aws.String("FAILED")}})
	if err != nil || len(failed.TestCases) != 1 {
		t.Fatalf("DescribeTestCases FAILED: %+v %v", failed, err)
	}
	tc := failed.TestCases[0]
	if aws.ToString(tc.Name) != "test_divides" || aws.ToString(tc.Prefix) != "tests.test_calc" || aws.ToString(tc.TestRawDataPath) != "pytest.xml" ||
		!strings.Contains(aws.ToString(tc.Message), "integer division rounds down") {
		t.Errorf("failed case: name %q prefix %q raw %q message %q", aws.ToString(tc.Name), aws.ToString(tc.Prefix), aws.ToString(tc.TestRawDataPath), aws.ToString(tc.Message))
	}
	for _, tr := range []struct {
		field types.ReportGroupTrendFieldType
		data  string
	}{{types.ReportGroupTrendFieldTypePassRate, "33.33"}, {types.ReportGroupTrendFieldTypeTotal, "3"}} {
		trend, err := c.GetReportGroupTrend(ctx, &codebuild.GetReportGroupTrendInput{ReportGroupArn: r.ReportGroupArn, TrendField: tr.field})
		if err != nil || len(trend.RawData) != 3 || aws.ToString(trend.Stats.Average) != tr.data || aws.ToString(trend.Stats.Min) != tr.data ||
			aws.ToString(trend.Stats.Max) != tr.data || aws.ToString(trend.RawData[2].Data) != tr.data {
			t.Errorf("GetReportGroupTrend %s: %+v %+v %v", tr.field, trend.Stats, trend.RawData, err)
		}
		for i, d := range trend.RawData {
			if aws.ToString(d.ReportArn) != reports[len(reports)-1-i] && aws.ToString(d.ReportArn) != reports[i] {
				t.Errorf("GetReportGroupTrend %s: rawData[%d] is %s, not one of the three reports in order", tr.field, i, aws.ToString(d.ReportArn))
			}
		}
	}
}

func TestPytestReportBoto3(t *testing.T) {
	needPytest(t)
	s := Start(t)
	s.Python(t, "test_pytest_report")
}
