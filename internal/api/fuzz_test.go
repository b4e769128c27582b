package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/buildbatch/buildbatch/internal/api"
	"github.com/buildbatch/buildbatch/internal/awsjson"
	"github.com/buildbatch/buildbatch/internal/batchrun"
	"github.com/buildbatch/buildbatch/internal/blob/fs"
	"github.com/buildbatch/buildbatch/internal/buildlog"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/report"
	"github.com/buildbatch/buildbatch/internal/sigv4"
	"github.com/buildbatch/buildbatch/internal/store"
	"github.com/buildbatch/buildbatch/internal/store/sqlite"
)

// operations are the operations api.Register serves (the last one is the
// log-reading extension, whose target has its own prefix).
var operations = append(cb.OperationNames(), "GetBuildLog")

func target(op string) string {
	if op == "GetBuildLog" {
		return api.GetBuildLogTarget
	}
	return cb.TargetPrefix + "." + op
}

// hangAfter is how long a request may take before it counts as hung.
const hangAfter = 30 * time.Second

// scheduler admits every build and runs none: builds stay QUEUED, and no
// command of a fuzzed buildspec ever runs.
type scheduler struct{}

func (scheduler) Admit(context.Context, store.Tx) error { return nil }
func (scheduler) Handle(batchrun.Effects)               {}
func (scheduler) Claims() api.Claimer                   { return claimer{} }
func (scheduler) StopLocal(context.Context, store.Scope, string) bool {
	return false
}

type claimer struct{}

func (claimer) In(context.Context, store.Tx) error { return nil }
func (claimer) Done(bool)                          {}

const (
	region  = "us-east-1"
	account = "123456789012"
	// auth is a local-mode Authorization header (any signature passes; a
	// 12-digit access key is the account).
	auth = "AWS4-HMAC-SHA256 Credential=" + account + "/20261127/" + region + "/codebuild/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000"
)

const batchSpec = `version: 0.2
batch:
  fast-fail: false
  build-graph:
    - identifier: test
      env:
        variables:
          SUITE: unit
    - identifier: package
      depend-on: [test]
      ignore-failure: false
phases:
  build:
    commands:
      - echo "hello from $CODEBUILD_BATCH_BUILD_IDENTIFIER"
reports:
  pytest:
    files: ["report.xml"]
    file-format: JUNITXML
`

// fixture is a server in local mode on its own SQLite store.
type fixture struct {
	h     http.Handler
	close func()
}

// openFixture serves the store in dir (created if need be).
func openFixture(tb testing.TB, dir string) (*fixture, store.Store) {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "buildbatch.db"))
	if err != nil {
		tb.Fatal(err)
	}
	blobs, err := fs.New(filepath.Join(dir, "artifacts"))
	if err != nil {
		tb.Fatal(err)
	}
	logs, err := buildlog.NewStore(filepath.Join(dir, "logs"))
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	coord := batchrun.New(batchrun.Options{Store: st, Blob: blobs, Node: "fuzz", Log: log, TempDir: dir, Exclusive: true})
	a := api.New(api.Options{Store: st, AccountConcurrentBuilds: 8, BaseURL: "http://127.0.0.1:4599",
		Scheduler: scheduler{}, Coordinator: coord, Logs: logs, Log: log})
	s := awsjson.NewServer(cb.TargetPrefix, &sigv4.Verifier{Service: "codebuild", DefaultAccount: "000000000000"}, log)
	a.Register(s)
	return &fixture{h: s, close: func() {
		coord.Shutdown()
		st.Close()
	}}, st
}

// template is a store with one resource of each kind, so that requests
// find things as well as miss them. Every input gets a copy of it: the
// answer to an input does not depend on the inputs before it, so that a
// failing input fails again alone, and the fuzzer's coverage is stable.
type template struct {
	db []byte
	// repl replaces placeholders in fuzzed bodies with the ids of the
	// template's resources.
	repl *strings.Replacer
}

func newTemplate(tb testing.TB) *template {
	tb.Helper()
	dir := tb.TempDir()
	f, st := openFixture(tb, dir)
	call := func(op, body string) map[string]any {
		code, out := f.do(op, []byte(body))
		if code != 200 {
			tb.Fatalf("fixture: %s %s: %d %s", op, body, code, out)
		}
		var m map[string]any
		json.Unmarshal(out, &m)
		return m
	}
	src, _ := json.Marshal(batchSpec)
	call("CreateProject", `{"name":"demo","source":{"type":"NO_SOURCE","buildspec":`+string(src)+`},
		"artifacts":{"type":"NO_ARTIFACTS"},
		"environment":{"type":"LINUX_CONTAINER","image":"aws/codebuild/standard:7.0","computeType":"BUILD_GENERAL1_SMALL"},
		"serviceRole":"arn:aws:iam::000000000000:role/codebuild",
		"buildBatchConfig":{"serviceRole":"arn:aws:iam::000000000000:role/codebuild-batch","restrictions":{"maximumBuildsAllowed":10}}}`)
	build := call("StartBuild", `{"projectName":"demo"}`)["build"].(map[string]any)["id"].(string)
	batch := call("StartBuildBatch", `{"projectName":"demo"}`)["buildBatch"].(map[string]any)["id"].(string)
	group := call("CreateReportGroup", `{"name":"demo-pytest","type":"TEST","exportConfig":{"exportConfigType":"NO_EXPORT"}}`)["reportGroup"].(map[string]any)["arn"].(string)
	coverageGroup := call("CreateReportGroup", `{"name":"demo-coverage","type":"CODE_COVERAGE","exportConfig":{"exportConfigType":"NO_EXPORT"}}`)["reportGroup"].(map[string]any)["arn"].(string)
	testReport := insertReport(tb, st, "demo-pytest", build, "../report/testdata/junitxml_pytest.xml")
	coverageReport := insertReport(tb, st, "demo-coverage", build, "../report/testdata/coberturaxml_istanbul.xml")
	f.close() // the last connection checkpoints the WAL into the database file
	if m, _ := filepath.Glob(filepath.Join(dir, "buildbatch.db-*")); len(m) > 0 {
		tb.Fatalf("fixture: %v left after closing the store", m)
	}
	db, err := os.ReadFile(filepath.Join(dir, "buildbatch.db"))
	if err != nil {
		tb.Fatal(err)
	}
	return &template{db: db, repl: strings.NewReplacer("$BUILD", build, "$BATCH", batch, "$GROUP", group,
		"$COVERAGE_GROUP", coverageGroup, "$REPORT", testReport, "$COVERAGE_REPORT", coverageReport)}
}

// open serves a copy of the template in dir.
func (tp *template) open(tb testing.TB, dir string) *fixture {
	tb.Helper()
	if err := os.WriteFile(filepath.Join(dir, "buildbatch.db"), tp.db, 0o644); err != nil {
		tb.Fatal(err)
	}
	f, _ := openFixture(tb, dir)
	return f
}

// insertReport stores a report parsed from a real report file, as a build
// would have made it.
func insertReport(tb testing.TB, st store.Store, group, build, file string) string {
	tb.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	scope := store.Scope{Account: account, Region: region}
	arn := ident.ReportARN(region, account, group, ident.UUID())
	doc := &cb.Report{Arn: cb.String(arn), Name: cb.String(group), ReportGroupArn: cb.String(ident.ReportGroupARN(region, account, group)),
		ExecutionId: cb.String(ident.BuildARN(region, account, build)), Created: cb.At(now), Expired: cb.At(now.Add(30 * 24 * time.Hour)),
		Status: cb.String(cb.ReportStatusTypeSucceeded), Truncated: cb.Bool(false)}
	r := &store.Report{Scope: scope, Doc: doc, Group: group}
	if strings.Contains(file, "junit") {
		cases, err := report.ParseTests("JUNITXML", data, filepath.Base(file))
		if err != nil {
			tb.Fatal(err)
		}
		sum := report.SummarizeTests(cases)
		doc.Type, doc.TestSummary, r.TestCases = cb.String(cb.ReportTypeTest), &sum, cases
		for i := range r.TestCases {
			r.TestCases[i].ReportArn = cb.String(arn)
		}
	} else {
		cov, err := report.ParseCoverage("COBERTURAXML", data)
		if err != nil {
			tb.Fatal(err)
		}
		sum := report.SummarizeCoverage(cov)
		doc.Type, doc.CodeCoverageSummary, r.Coverages = cb.String(cb.ReportTypeCodeCoverage), &sum, cov
		for i := range r.Coverages {
			r.Coverages[i].Id, r.Coverages[i].ReportARN = cb.String(ident.UUID()), cb.String(arn)
		}
	}
	if err := st.Update(context.Background(), func(tx store.Tx) error { return tx.ReportInsert(context.Background(), r) }); err != nil {
		tb.Fatal(err)
	}
	return arn
}

// do sends one request to the handler, as the HTTP server would.
func (f *fixture) do(op string, body []byte) (int, []byte) {
	req := httptest.NewRequest("POST", "http://127.0.0.1:4599/", bytes.NewReader(body))
	req.Header.Set("Content-Type", awsjson.ContentType)
	req.Header.Set("X-Amz-Target", target(op))
	req.Header.Set("X-Amz-Date", "20261127T010649Z")
	req.Header.Set("Authorization", auth)
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	return w.Code, w.Body.Bytes()
}

// seeds are requests as the aws cli, boto3 and the SDKs send them (from the
// README and the end-to-end tests), one or more per operation. $BUILD,
// $BATCH, $GROUP, $COVERAGE_GROUP, $REPORT and $COVERAGE_REPORT stand for
// the fixture's resources.
var seeds = []struct{ op, body string }{
	{"CreateProject", `{"name":"py-proj","source":{"type":"NO_SOURCE","buildspec":"version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n"},"artifacts":{"type":"NO_ARTIFACTS"},"environment":{"type":"LINUX_CONTAINER","image":"aws/codebuild/standard:7.0","computeType":"BUILD_GENERAL1_SMALL"},"serviceRole":"arn:aws:iam::000000000000:role/codebuild","tags":[{"key":"k","value":"v"}],"concurrentBuildLimit":1}`},
	{"CreateProject", `{"name":"x1","source":{"type":"NO_SOURCE","buildspec":"version: 0.2"},"artifacts":{"type":"NO_ARTIFACTS"},"environment":{"type":"LINUX_CONTAINER","computeType":"BUILD_GENERAL1_SMALL"},"serviceRole":"r"}`},
	{"CreateProject", `{"name":"gitzip","source":{"type":"S3","location":"sources/src.zip","buildspec":"buildspec.yml"},"secondarySources":[{"type":"S3","location":"sources/lib.zip","sourceIdentifier":"lib"}],"artifacts":{"type":"S3","location":"out","packaging":"ZIP","name":"a.zip","path":"p","namespaceType":"BUILD_ID"},"secondaryArtifacts":[{"type":"S3","location":"out","artifactIdentifier":"second","packaging":"NONE"}],"cache":{"type":"LOCAL","modes":["LOCAL_CUSTOM_CACHE"]},"environment":{"type":"LINUX_CONTAINER","image":"aws/codebuild/standard:7.0","computeType":"BUILD_GENERAL1_MEDIUM","privilegedMode":true,"environmentVariables":[{"name":"A","value":"1","type":"PLAINTEXT"},{"name":"P","value":"/a/b","type":"PARAMETER_STORE"},{"name":"S","value":"db:password","type":"SECRETS_MANAGER"}]},"serviceRole":"codebuild-role","timeoutInMinutes":60,"queuedTimeoutInMinutes":480,"logsConfig":{"cloudWatchLogs":{"status":"ENABLED"},"s3Logs":{"status":"DISABLED"}},"autoRetryLimit":2,"badgeEnabled":true}`},
	{"CreateProject", `{"name":7}`},
	{"CreateProject", `{"name":"py-bad","source":{"type":"NO_SOURCE","buildspec":"version: 0.2"},"artifacts":{"type":"NO_ARTIFACTS"},"environment":{"type":"LINUX_CONTAINER","image":"i","computeType":"NOPE"},"serviceRole":"r","timeoutInMinutes":5000}`},
	{"UpdateProject", `{"name":"demo","timeoutInMinutes":90,"badgeEnabled":true,"description":"the demo","buildBatchConfig":{"serviceRole":"r","combineArtifacts":true,"timeoutInMins":60,"batchReportMode":"REPORT_INDIVIDUAL_BUILDS","restrictions":{"maximumBuildsAllowed":5,"computeTypesAllowed":["BUILD_GENERAL1_SMALL"]}}}`},
	{"UpdateProject", `{"name":"nope","description":"x"}`},
	{"BatchGetProjects", `{"names":["demo","arn:aws:codebuild:us-east-1:123456789012:project/demo","nope"]}`},
	{"ListProjects", `{}`},
	{"ListProjects", `{"sortBy":"LAST_MODIFIED_TIME","sortOrder":"DESCENDING","nextToken":"eyJrIjoxfQ"}`},
	{"StartBuild", `{"projectName":"demo"}`},
	{"StartBuild", `{"projectName":"demo","sourceVersion":"v1.0","timeoutInMinutesOverride":5,"computeTypeOverride":"BUILD_GENERAL1_LARGE","imageOverride":"ubuntu:22.04","environmentVariablesOverride":[{"name":"X","value":"y"}],"buildspecOverride":"version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 600\n","idempotencyToken":"tok-1","artifactsOverride":{"type":"NO_ARTIFACTS"},"autoRetryLimitOverride":1}`},
	{"StartBuild", `{"projectName":"py-sleep","computeTypeOverride":"HUGE"}`},
	{"BatchGetBuilds", `{"ids":["$BUILD","demo:00000000-0000-4000-8000-000000000000"]}`},
	{"BatchGetBuilds", `{"ids":[]}`},
	{"ListBuilds", `{"sortOrder":"ASCENDING"}`},
	{"ListBuildsForProject", `{"projectName":"demo","sortOrder":"DESCENDING"}`},
	{"StartBuildBatch", `{"projectName":"demo"}`},
	{"StartBuildBatch", `{"projectName":"demo","buildspecOverride":"version: 0.2\nbatch:\n  build-matrix:\n    static:\n      ignore-failure: false\n    dynamic:\n      env:\n        variables:\n          V: [a, b]\nphases:\n  build:\n    commands:\n      - echo $V\n","buildBatchConfigOverride":{"serviceRole":"r","restrictions":{"maximumBuildsAllowed":3}},"buildTimeoutInMinutesOverride":5000}`},
	{"StartBuildBatch", `{"projectName":"demo","buildspecOverride":"version: 0.2\nbatch:\n  build-fanout:\n    parallelism: 3\nphases:\n  build:\n    commands: [true]\n"}`},
	{"BatchGetBuildBatches", `{"ids":["$BATCH","golden:missing"]}`},
	{"ListBuildBatches", `{"filter":{"status":"IN_PROGRESS"},"maxResults":10,"sortOrder":"ASCENDING"}`},
	{"ListBuildBatchesForProject", `{"projectName":"demo","maxResults":1}`},
	{"CreateReportGroup", `{"name":"unit","type":"TEST","exportConfig":{"exportConfigType":"S3","s3Destination":{"bucket":"reports","path":"x","packaging":"ZIP","encryptionDisabled":true}},"tags":[{"key":"team","value":"a"}]}`},
	{"UpdateReportGroup", `{"arn":"$GROUP","exportConfig":{"exportConfigType":"NO_EXPORT"}}`},
	{"BatchGetReportGroups", `{"reportGroupArns":["$GROUP","arn:aws:codebuild:us-east-1:123456789012:report-group/none"]}`},
	{"ListReportGroups", `{"sortBy":"NAME","sortOrder":"ASCENDING","maxResults":2}`},
	{"BatchGetReports", `{"reportArns":["$REPORT","$COVERAGE_REPORT"]}`},
	{"ListReports", `{"filter":{"status":"SUCCEEDED"},"sortOrder":"DESCENDING"}`},
	{"ListReportsForReportGroup", `{"reportGroupArn":"$GROUP","maxResults":100}`},
	{"DescribeTestCases", `{"reportArn":"$REPORT","filter":{"status":"FAILED"},"maxResults":2}`},
	{"DescribeCodeCoverages", `{"reportArn":"$COVERAGE_REPORT","sortKey":"LINE_COVERAGE_PERCENTAGE","sortOrder":"ASCENDING","minLineCoveragePercentage":10,"maxLineCoveragePercentage":90.5}`},
	{"GetReportGroupTrend", `{"reportGroupArn":"$GROUP","trendField":"PASS_RATE","numOfReports":10}`},
	{"GetReportGroupTrend", `{"reportGroupArn":"$COVERAGE_GROUP","trendField":"LINE_COVERAGE"}`},
	{"GetBuildLog", `{"id":"$BUILD","offset":0,"maxBytes":1024,"timestamps":true}`},
	{"StopBuild", `{"id":"$BUILD"}`},
	{"RetryBuild", `{"id":"$BUILD","idempotencyToken":"retry-1"}`},
	{"StopBuildBatch", `{"id":"$BATCH"}`},
	{"RetryBuildBatch", `{"id":"$BATCH","retryType":"RETRY_FAILED_BUILDS","idempotencyToken":"t"}`},
	{"StopBuildBatch", `{"id":"$BATCH"}`},
	{"DeleteBuildBatch", `{"id":"$BATCH"}`},
	{"DeleteReport", `{"arn":"$REPORT"}`},
	{"DeleteReportGroup", `{"arn":"$COVERAGE_GROUP","deleteReports":true}`},
	{"BatchDeleteBuilds", `{"ids":["$BUILD","demo:missing"]}`},
	{"DeleteProject", `{"name":"py-proj"}`},
}

// FuzzHandler sends arbitrary bodies to every operation of the real HTTP
// handler (awsjson routing and validation, then the operation) in local
// mode. op picks the operation: a name of operations, or else one chosen
// by its checksum. Whatever the body, the answer is never a 5xx nor a
// panic; an error is AWS-shaped ({"__type": ..., "message": ...}) with a
// message of at most awsjson.MaxMessage bytes; a success is a JSON object.
func FuzzHandler(f *testing.F) {
	for _, s := range seeds {
		f.Add(s.op, []byte(s.body))
	}
	tp := newTemplate(f)
	// Not t.TempDir: the names of seed runs ("FuzzHandler/seed#0") put a
	// '#' in the path, which sqlite.Open's file: URI takes for a fragment.
	base := f.TempDir()
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		if !inList(op) {
			op = operations[crc32.ChecksumIEEE([]byte(op))%uint32(len(operations))]
		}
		body = []byte(tp.repl.Replace(string(body)))
		dir, err := os.MkdirTemp(base, "input")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		fx := tp.open(t, dir)
		defer fx.close()
		// A request that hangs would stall the fuzzer without a word: it
		// kills the worker instead, which saves the input. (StopBuild and
		// StopBuildBatch wait up to 20s for a build that does not stop;
		// here none is claimed, so they end at once.)
		hang := time.AfterFunc(hangAfter, func() {
			panic(fmt.Sprintf("%s %q: no answer after %s", op, body, hangAfter))
		})
		code, out := fx.do(op, body)
		hang.Stop()
		checkResponse(t, op, body, code, out)
	})
}

func inList(op string) bool {
	for _, o := range operations {
		if o == op {
			return true
		}
	}
	return false
}

func checkResponse(t *testing.T, op string, body []byte, code int, out []byte) {
	t.Helper()
	if code >= 500 {
		t.Fatalf("%s %q: %d %s", op, body, code, out)
	}
	if code >= 400 {
		var e struct {
			Type    *string `json:"__type"`
			Message *string `json:"message"`
		}
		if err := json.Unmarshal(out, &e); err != nil || e.Type == nil || *e.Type == "" || e.Message == nil {
			t.Fatalf("%s %q: %d, not an AWS error: %s", op, body, code, out)
		}
		if len(*e.Message) > awsjson.MaxMessage {
			t.Fatalf("%s %q: %d, a message of %d bytes: %.300s...", op, body, code, len(*e.Message), *e.Message)
		}
		if !utf8.ValidString(*e.Message) {
			t.Fatalf("%s %q: message not UTF-8: %q", op, body, *e.Message)
		}
		return
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("%s %q: %d, not a JSON object: %.300s", op, body, code, out)
	}
}

// TestHandlerSeeds runs the seeds once with plain go test, so that they
// stay valid requests of the fixture (most of them answer 200).
func TestHandlerSeeds(t *testing.T) {
	tp := newTemplate(t)
	fx := tp.open(t, t.TempDir())
	defer fx.close()
	ok := 0
	for _, s := range seeds {
		body := []byte(tp.repl.Replace(s.body))
		code, out := fx.do(s.op, body)
		checkResponse(t, s.op, body, code, out)
		if code == 200 {
			ok++
		} else {
			t.Logf("%s: %d %.200s", s.op, code, out)
		}
	}
	if ok < len(seeds)*2/3 {
		t.Errorf("only %d of %d seeds answered 200", ok, len(seeds))
	}
}

// TestEveryOperationServed walks the model's operations: each one is
// registered (none answers UnknownOperationException), so each is fuzzed.
func TestEveryOperationServed(t *testing.T) {
	tp := newTemplate(t)
	fx := tp.open(t, t.TempDir())
	defer fx.close()
	for _, op := range operations {
		code, out := fx.do(op, []byte("{}"))
		if bytes.Contains(out, []byte(awsjson.UnknownOperation)) {
			t.Errorf("%s: %d %s", op, code, out)
		}
	}
	if len(operations) != 60 { // 59 in the model + GetBuildLog
		t.Errorf("%d operations, want 60", len(operations))
	}
}
