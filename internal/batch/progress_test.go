package batch

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
	"github.com/buildbatch/buildbatch/internal/store"
)

// A progress scenario: a batch and a script of events; the golden file
// holds what each event decided and the batch document at the end.
type scenario struct {
	name      string
	buildspec string // the batch section's buildspec ("" : none planned)
	config    *cb.ProjectBuildBatchConfig
	script    []string // "submit", "done ID STATUS", "plan-fails", "stop", "timeout", "retry TYPE", "combined", "combine-fails", "reconcile"
}

const listSpec = `version: 0.2
batch:
  build-graph:
    - identifier: a
    - identifier: b
      depend-on: [a]
    - identifier: c
      ignore-failure: true
`

const graphFastFail = `version: 0.2
batch:
  fast-fail: true
  build-graph:
    - identifier: a
    - identifier: b
      depend-on: [a]
    - identifier: c
`

var scenarios = []scenario{
	{name: "list-succeeds", buildspec: listSpec, config: &cb.ProjectBuildBatchConfig{CombineArtifacts: cb.Bool(true)},
		script: []string{"submit", "done DOWNLOAD_SOURCE SUCCEEDED", "done a SUCCEEDED", "done c FAILED", "done b SUCCEEDED", "combined"}},
	{name: "required-fails", buildspec: listSpec,
		script: []string{"submit", "done DOWNLOAD_SOURCE SUCCEEDED", "done c SUCCEEDED", "done a FAILED"}},
	{name: "fast-fail", buildspec: graphFastFail,
		script: []string{"submit", "done DOWNLOAD_SOURCE SUCCEEDED", "done a FAILED", "done c STOPPED"}},
	{name: "stopped", buildspec: listSpec,
		script: []string{"submit", "done DOWNLOAD_SOURCE SUCCEEDED", "stop", "stop", "done a STOPPED", "done c STOPPED"}},
	{name: "timed-out", buildspec: listSpec, config: &cb.ProjectBuildBatchConfig{TimeoutInMins: cb.Int32(5)},
		script: []string{"submit", "done DOWNLOAD_SOURCE SUCCEEDED", "done a SUCCEEDED", "timeout", "done b STOPPED", "done c SUCCEEDED"}},
	{name: "bootstrap-fails", buildspec: "",
		script: []string{"submit", "done DOWNLOAD_SOURCE FAILED", "retry RETRY_ALL_BUILDS", "done DOWNLOAD_SOURCE FAILED"}},
	{name: "retry-failed", buildspec: listSpec,
		script: []string{"submit", "done DOWNLOAD_SOURCE SUCCEEDED", "retry RETRY_FAILED_BUILDS", "done a FAILED", "done c SUCCEEDED",
			"retry RETRY_FAILED_BUILDS", "done a SUCCEEDED", "done b SUCCEEDED", "combined"}},
	{name: "combine-fails", buildspec: graphFastFail,
		script: []string{"submit", "done DOWNLOAD_SOURCE SUCCEEDED", "done a SUCCEEDED", "done c SUCCEEDED", "done b SUCCEEDED", "stop", "combine-fails", "retry RETRY_ALL_BUILDS"}},
	{name: "stale-and-repeated-events", buildspec: listSpec,
		script: []string{"reconcile", "submit", "done DOWNLOAD_SOURCE SUCCEEDED", "done DOWNLOAD_SOURCE SUCCEEDED", "done a SUCCEEDED", "done a SUCCEEDED", "done b SUCCEEDED", "done c SUCCEEDED", "reconcile", "combined", "combined", "stop"}},
}

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func newBatch(cfg *cb.ProjectBuildBatchConfig) *store.Batch {
	if cfg == nil {
		cfg = &cb.ProjectBuildBatchConfig{}
	}
	cfg.ServiceRole = cb.String("arn:aws:iam::111122223333:role/batch-role")
	settings, _ := json.Marshal(document.Settings{Source: &cb.ProjectSource{Type: cb.String("NO_SOURCE")},
		Environment: &cb.ProjectEnvironment{ComputeType: cb.String("BUILD_GENERAL1_SMALL"), Image: cb.String("img"), Type: cb.String("LINUX_CONTAINER")}})
	doc := &cb.BuildBatch{Id: cb.String("p:batch-uuid"), Arn: cb.String("arn:aws:codebuild:us-east-1:111122223333:build-batch/p:batch-uuid"),
		ProjectName: cb.String("p"), StartTime: cb.At(t0), BuildBatchStatus: cb.String("IN_PROGRESS"), Complete: cb.Bool(false),
		BuildBatchConfig: cfg, Environment: &cb.ProjectEnvironment{ComputeType: cb.String("BUILD_GENERAL1_SMALL")},
		Phases: []cb.BuildBatchPhase{{PhaseType: cb.String("SUBMITTED"), StartTime: cb.At(t0)}}, CurrentPhase: cb.String("SUBMITTED")}
	return &store.Batch{Scope: store.Scope{Account: "111122223333", Region: "us-east-1"}, Doc: doc, Meta: store.BatchMeta{Settings: settings, User: "alice"}}
}

// doneBuild is the completed build of a group's current summary.
func doneBuild(b *store.Batch, id, status string) *store.Build {
	g := group(b.Doc, id)
	arn := "arn:unknown"
	if g != nil && g.CurrentBuildSummary != nil {
		arn = cb.Deref(g.CurrentBuildSummary.Arn)
	}
	doc := &cb.Build{Arn: cb.String(arn), BuildStatus: cb.String(status), BuildComplete: cb.Bool(true), ResolvedSourceVersion: cb.String("abc123"),
		Phases: []cb.BuildPhase{{PhaseType: cb.String("BUILD"), PhaseStatus: cb.String(status)}}}
	if status == "SUCCEEDED" {
		doc.Artifacts = &cb.BuildArtifacts{Location: cb.String("arn:aws:s3:::bucket/" + id)}
	}
	return &store.Build{Doc: doc, Meta: store.BuildMeta{BatchIdentifier: id, Artifacts: &cb.ProjectArtifacts{Type: cb.String("S3")}}}
}

func run(t *testing.T, sc scenario) string {
	b := newBatch(sc.config)
	var out strings.Builder
	n := 0
	env := Env{Minute: time.Minute, UUID: func() string { n++; return fmt.Sprintf("uuid-%d", n) }}
	var plan *Plan
	if sc.buildspec != "" {
		var err error
		if plan, err = FromBuildspec([]byte(sc.buildspec), b.Doc); err != nil {
			t.Fatal(err)
		}
	}
	for i, line := range sc.script {
		env.Now = t0.Add(time.Duration(i+1) * time.Second)
		f := strings.Fields(line)
		var e Event
		switch f[0] {
		case "submit":
			e = Event{Kind: Submit}
		case "done":
			e = Event{Kind: BuildDone, Build: doneBuild(b, f[1], f[2])}
			if f[1] == document.DownloadSource && f[2] == "SUCCEEDED" {
				e.Plan = plan
			}
		case "stop":
			e = Event{Kind: Stop}
		case "timeout":
			e = Event{Kind: Timeout}
		case "retry":
			e = Event{Kind: Retry, RetryType: f[1]}
		case "combined":
			e = Event{Kind: Combined}
		case "combine-fails":
			e = Event{Kind: Combined, CombineErr: errors.New("build a: no such object")}
		case "reconcile":
			e = Event{Kind: Reconcile}
		default:
			t.Fatalf("bad script line %q", line)
		}
		step, err := Progress(b, e, env)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		fmt.Fprintf(&out, "%-32s -> %s", line, cb.Deref(b.Doc.BuildBatchStatus))
		if p := document.BatchOpen(b.Doc); p != "" {
			fmt.Fprintf(&out, " in %s", p)
		}
		for _, s := range step.Start {
			fmt.Fprintf(&out, " start(%s %s)", s.Meta.BatchIdentifier, s.Spec.UUID)
		}
		for _, s := range step.Stop {
			fmt.Fprintf(&out, " stop(%s)", s)
		}
		if step.Combine {
			out.WriteString(" combine")
		}
		if step.Err != nil {
			fmt.Fprintf(&out, " refused(%v)", step.Err)
		}
		out.WriteString("\n")
	}
	doc, _ := json.MarshalIndent(b.Doc, "", "  ")
	meta, _ := json.MarshalIndent(struct {
		Failed     bool
		Ending     string
		Deadline   int64
		GroupUUIDs map[string]string
	}{b.Meta.Failed, b.Meta.Ending, b.Meta.Deadline, b.Meta.GroupUUIDs}, "", "  ")
	return out.String() + "\n" + string(meta) + "\n" + string(doc) + "\n"
}

// TestProgressGolden runs every scenario and compares with its golden file
// (go test -update rewrites them).
func TestProgressGolden(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			got := run(t, sc)
			golden := filepath.Join("testdata", "progress", sc.name+".golden")
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s: got\n%s\nwant\n%s", sc.name, got, want)
			}
		})
	}
}

// TestProgressPure: the same script gives the same result twice, and a
// corrupt plan is an error, not a panic.
func TestProgressPure(t *testing.T) {
	for _, sc := range scenarios {
		if run(t, sc) != run(t, sc) {
			t.Errorf("%s: not deterministic", sc.name)
		}
	}
	b := newBatch(nil)
	b.Meta.Plan = []byte("{")
	if _, err := Progress(b, Event{Kind: Submit}, Env{Now: t0, UUID: func() string { return "u" }}); err == nil {
		t.Error("corrupt plan accepted")
	}
}
