package e2e

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codebuild/types"
)

// project creates a NO_SOURCE project with an inline buildspec.
func project(t *testing.T, c *codebuild.Client, name, buildspec string, mut ...func(*codebuild.CreateProjectInput)) {
	t.Helper()
	in := createInput(name)
	in.Source.Buildspec = aws.String(buildspec)
	for _, m := range mut {
		m(in)
	}
	if _, err := c.CreateProject(ctx, in); err != nil {
		t.Fatal(err)
	}
}

func start(t *testing.T, c *codebuild.Client, in *codebuild.StartBuildInput) types.Build {
	t.Helper()
	out, err := c.StartBuild(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	return *out.Build
}

func getBuild(t *testing.T, c *codebuild.Client, id string) types.Build {
	t.Helper()
	out, err := c.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Builds) != 1 {
		t.Fatalf("build %s not found", id)
	}
	return out.Builds[0]
}

func waitBuild(t *testing.T, c *codebuild.Client, id string) types.Build {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		b := getBuild(t, c, id)
		if b.BuildComplete {
			return b
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("build %s did not complete", id)
	return types.Build{}
}

// waitPhase waits until a build is in the given phase.
func waitPhase(t *testing.T, c *codebuild.Client, id, phase string) types.Build {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		b := getBuild(t, c, id)
		if aws.ToString(b.CurrentPhase) == phase {
			return b
		}
		if b.BuildComplete {
			t.Fatalf("build %s completed (%s) before reaching %s", id, b.BuildStatus, phase)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("build %s did not reach %s", id, phase)
	return types.Build{}
}

// phaseTable renders phases as "TYPE:STATUS" for comparisons.
func phaseTable(b types.Build) string {
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

func phase(b types.Build, typ types.BuildPhaseType) *types.BuildPhase {
	for i := range b.Phases {
		if b.Phases[i].PhaseType == typ {
			return &b.Phases[i]
		}
	}
	return nil
}

func logText(t *testing.T, s *Server, id string) string {
	t.Helper()
	cmd := exec.Command(binary, "logs", "--endpoint-url", s.URL, id)
	cmd.Env = cleanEnv()
	return runLogs(t, cmd)
}

// runLogs runs `buildbatch logs` and returns what it printed; a build
// that did not succeed is no error (exit status 1 and one line on stderr).
func runLogs(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1 && strings.HasPrefix(stderr.String(), "buildbatch logs: build ")) {
		t.Fatalf("buildbatch logs: %v: %s%s", err, out, stderr.String())
	}
	return string(out)
}

const okPhases = "SUBMITTED:SUCCEEDED QUEUED:SUCCEEDED PROVISIONING:SUCCEEDED DOWNLOAD_SOURCE:SUCCEEDED INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:SUCCEEDED POST_BUILD:SUCCEEDED UPLOAD_ARTIFACTS:SUCCEEDED FINALIZING:SUCCEEDED COMPLETED"

func TestPassingAndFailingBuilds(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	project(t, c, "pass", `version: 0.2
env:
  variables:
    FROM_SPEC: spec
  exported-variables: [RESULT, UNSET_ONE]
phases:
  pre_build:
    commands:
      - mkdir -p out && cd out
      - export RESULT=built-$CODEBUILD_BUILD_NUMBER
  build:
    commands:
      - echo "in $(basename $(pwd)) spec=$FROM_SPEC project=$FROM_PROJECT override=$FROM_OVERRIDE id=$CODEBUILD_BUILD_ID batch=[$CODEBUILD_BATCH_BUILD_IDENTIFIER] ci=$CODEBUILD_CI"
`, func(in *codebuild.CreateProjectInput) {
		in.Environment.EnvironmentVariables = []types.EnvironmentVariable{{Name: aws.String("FROM_PROJECT"), Value: aws.String("project")}, {Name: aws.String("FROM_OVERRIDE"), Value: aws.String("not yet")}}
	})
	b := start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("pass"),
		EnvironmentVariablesOverride: []types.EnvironmentVariable{{Name: aws.String("FROM_OVERRIDE"), Value: aws.String("override")}}})
	if b.BuildStatus != types.StatusTypeInProgress || aws.ToString(b.CurrentPhase) != "QUEUED" || b.BuildComplete || aws.ToInt64(b.BuildNumber) != 1 ||
		!strings.HasPrefix(aws.ToString(b.Id), "pass:") || aws.ToString(b.Arn) != "arn:aws:codebuild:us-east-1:000000000000:build/"+aws.ToString(b.Id) ||
		phaseTable(b) != "SUBMITTED:SUCCEEDED QUEUED" || aws.ToString(b.Initiator) != "test" {
		t.Errorf("StartBuild returned %s %s %v %s", b.BuildStatus, aws.ToString(b.CurrentPhase), b.BuildComplete, phaseTable(b))
	}
	b = waitBuild(t, c, aws.ToString(b.Id))
	if b.BuildStatus != types.StatusTypeSucceeded || phaseTable(b) != okPhases || aws.ToString(b.CurrentPhase) != "COMPLETED" {
		t.Errorf("passing build: %s %s", b.BuildStatus, phaseTable(b))
	}
	for i, p := range b.Phases {
		if i > 0 && !p.StartTime.Equal(*b.Phases[i-1].EndTime) {
			t.Errorf("phase %s starts at %v, previous ended %v", p.PhaseType, p.StartTime, b.Phases[i-1].EndTime)
		}
		if p.PhaseType == types.BuildPhaseTypeProvisioning && (len(p.Contexts) != 1 || aws.ToString(p.Contexts[0].StatusCode) != "") {
			t.Errorf("successful phase contexts = %+v", p.Contexts)
		}
		if (p.PhaseType == types.BuildPhaseTypeSubmitted || p.PhaseType == types.BuildPhaseTypeQueued) && p.Contexts != nil {
			t.Errorf("%s has contexts", p.PhaseType)
		}
	}
	if !b.EndTime.Equal(*b.Phases[len(b.Phases)-1].StartTime) {
		t.Errorf("endTime %v is not COMPLETED's start", b.EndTime)
	}
	exported := map[string]string{}
	for _, v := range b.ExportedEnvironmentVariables {
		exported[aws.ToString(v.Name)] = aws.ToString(v.Value)
	}
	if exported["RESULT"] != "built-1" || len(exported) != 2 {
		t.Errorf("exported variables = %v", exported)
	}
	if b.Logs == nil || aws.ToString(b.Logs.GroupName) != "/aws/codebuild/pass" || !strings.HasSuffix(aws.ToString(b.Id), ":"+aws.ToString(b.Logs.StreamName)) {
		t.Errorf("logs = %+v", b.Logs)
	}
	text := logText(t, s, aws.ToString(b.Id))
	for _, want := range []string{"in out spec=spec project=project override=override id=" + aws.ToString(b.Id) + " batch=[] ci=true\n",
		"Running command mkdir -p out && cd out", "Phase complete: BUILD State: SUCCEEDED"} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %q:\n%s", want, text)
		}
	}

	project(t, c, "fail", `version: 0.2
phases:
  build:
    commands:
      - echo before
      - exit 3
      - echo never
    finally:
      - echo finally ran
  post_build:
    commands:
      - echo "post_build ran, succeeding=$CODEBUILD_BUILD_SUCCEEDING"
`)
	b = waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("fail")}).Id))
	if b.BuildStatus != types.StatusTypeFailed || phaseTable(b) != strings.Replace(okPhases, "BUILD:SUCCEEDED POST", "BUILD:FAILED POST", 1) {
		t.Errorf("failing build: %s %s", b.BuildStatus, phaseTable(b))
	}
	bp := phase(b, types.BuildPhaseTypeBuild)
	if len(bp.Contexts) != 1 || aws.ToString(bp.Contexts[0].StatusCode) != "COMMAND_EXECUTION_ERROR" ||
		aws.ToString(bp.Contexts[0].Message) != "Error while executing command: exit 3. Reason: exit status 3" {
		t.Errorf("BUILD contexts = %+v", bp.Contexts)
	}
	text = logText(t, s, aws.ToString(b.Id))
	if !strings.Contains(text, "post_build ran, succeeding=0") || !strings.Contains(text, "finally ran") || strings.Contains(text, "never") {
		t.Errorf("failing build log:\n%s", text)
	}

	// A failing INSTALL skips to FINALIZING.
	project(t, c, "install-fails", "version: 0.2\nphases:\n  install:\n    commands:\n      - false\n  build:\n    commands:\n      - echo never\n")
	b = waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("install-fails")}).Id))
	if want := "SUBMITTED:SUCCEEDED QUEUED:SUCCEEDED PROVISIONING:SUCCEEDED DOWNLOAD_SOURCE:SUCCEEDED INSTALL:FAILED FINALIZING:SUCCEEDED COMPLETED"; phaseTable(b) != want || b.BuildStatus != types.StatusTypeFailed {
		t.Errorf("install failure: %s\nwant %s", phaseTable(b), want)
	}

	// on-failure: CONTINUE keeps going (the build still fails).
	project(t, c, "continue", "version: 0.2\nphases:\n  pre_build:\n    on-failure: CONTINUE\n    commands:\n      - false\n  build:\n    commands:\n      - echo build ran\n")
	b = waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("continue")}).Id))
	if !strings.Contains(phaseTable(b), "PRE_BUILD:FAILED BUILD:SUCCEEDED POST_BUILD:SUCCEEDED") || b.BuildStatus != types.StatusTypeFailed {
		t.Errorf("on-failure CONTINUE: %s %s", b.BuildStatus, phaseTable(b))
	}

	// An invalid buildspec fails DOWNLOAD_SOURCE, naming the line.
	b = waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("pass"),
		BuildspecOverride: aws.String("version: 0.2\nphases:\n  build:\n    comands:\n      - echo\n")}).Id))
	dp := phase(b, types.BuildPhaseTypeDownloadSource)
	if b.BuildStatus != types.StatusTypeFailed || dp.PhaseStatus != types.StatusTypeFailed || len(dp.Contexts) != 1 ||
		aws.ToString(dp.Contexts[0].StatusCode) != "YAML_FILE_ERROR" || !strings.Contains(aws.ToString(dp.Contexts[0].Message), "unknown key 'comands' in phases.build at line 4") ||
		phaseTable(b) != "SUBMITTED:SUCCEEDED QUEUED:SUCCEEDED PROVISIONING:SUCCEEDED DOWNLOAD_SOURCE:FAILED FINALIZING:SUCCEEDED COMPLETED" {
		t.Errorf("bad buildspec: %s %s %+v", b.BuildStatus, phaseTable(b), dp.Contexts)
	}
	if aws.ToString(b.Source.Buildspec) != "version: 0.2\nphases:\n  build:\n    comands:\n      - echo\n" {
		t.Errorf("buildspecOverride not reflected in source.buildspec: %q", aws.ToString(b.Source.Buildspec))
	}

	// Build numbers count per project; ListBuildsForProject is newest first.
	b2 := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("pass")}).Id))
	if aws.ToInt64(b2.BuildNumber) != 3 {
		t.Errorf("third build of pass has number %d", aws.ToInt64(b2.BuildNumber))
	}
	l, err := c.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String("pass")})
	if err != nil || len(l.Ids) != 3 || l.Ids[0] != aws.ToString(b2.Id) {
		t.Errorf("ListBuildsForProject = %v, %v", l, err)
	}
	_, err = c.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException", "project/nope")
	_, err = c.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException", "Project cannot be found: arn:aws:codebuild:us-east-1:000000000000:project/nope")
	all, err := c.ListBuilds(ctx, &codebuild.ListBuildsInput{SortOrder: types.SortOrderTypeAscending})
	if err != nil || len(all.Ids) != 6 || !strings.HasPrefix(all.Ids[0], "pass:") {
		t.Errorf("ListBuilds = %v, %v", all, err)
	}
	got, err := c.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{aws.ToString(b2.Id), "pass:00000000-0000-0000-0000-000000000000", aws.ToString(b2.Arn)}})
	if err != nil || len(got.Builds) != 1 || len(got.BuildsNotFound) != 1 {
		t.Errorf("BatchGetBuilds with a miss = %+v, %v", got, err)
	}

	// RetryBuild: a new build with a new number and the same settings.
	r, err := c.RetryBuild(ctx, &codebuild.RetryBuildInput{Id: b.Id})
	if err != nil {
		t.Fatal(err)
	}
	rb := waitBuild(t, c, aws.ToString(r.Build.Id))
	if aws.ToString(rb.Id) == aws.ToString(b.Id) || aws.ToInt64(rb.BuildNumber) != 4 || aws.ToString(rb.Source.Buildspec) != aws.ToString(b.Source.Buildspec) || rb.BuildStatus != types.StatusTypeFailed {
		t.Errorf("retried build: %s #%d %s", aws.ToString(rb.Id), aws.ToInt64(rb.BuildNumber), rb.BuildStatus)
	}

	// BatchDeleteBuilds deletes finished builds and reports the rest.
	del, err := c.BatchDeleteBuilds(ctx, &codebuild.BatchDeleteBuildsInput{Ids: []string{aws.ToString(rb.Id), "pass:missing"}})
	if err != nil || len(del.BuildsDeleted) != 1 || del.BuildsDeleted[0] != aws.ToString(rb.Arn) || len(del.BuildsNotDeleted) != 1 {
		t.Errorf("BatchDeleteBuilds = %+v, %v", del, err)
	}
	if got, _ := c.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{aws.ToString(rb.Id)}}); len(got.BuildsNotFound) != 1 {
		t.Errorf("deleted build still found")
	}
}

func TestStopTimeoutAndLimits(t *testing.T) {
	s := Start(t, "--max-concurrent-builds", "2", "--max-queued-builds", "1", "--timeout-minute", "300ms")
	c := s.Client(t, "test", "us-east-1")
	project(t, c, "sleepy", "version: 0.2\nphases:\n  build:\n    commands:\n      - echo sleeping\n      - sleep 600\n")

	// StopBuild of a running `sleep 600`.
	b := start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("sleepy")})
	waitPhase(t, c, aws.ToString(b.Id), "BUILD")
	time.Sleep(100 * time.Millisecond)
	t0 := time.Now()
	out, err := c.StopBuild(ctx, &codebuild.StopBuildInput{Id: b.Id})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("StopBuild took %v", d)
	}
	sb := *out.Build
	if sb.BuildStatus != types.StatusTypeStopped || !sb.BuildComplete || !strings.HasSuffix(phaseTable(sb), "BUILD:STOPPED COMPLETED") || phase(sb, types.BuildPhaseTypeBuild).Contexts != nil {
		t.Errorf("stopped build: %s %s", sb.BuildStatus, phaseTable(sb))
	}
	again, err := c.StopBuild(ctx, &codebuild.StopBuildInput{Id: b.Id})
	if err != nil || again.Build.BuildStatus != types.StatusTypeStopped {
		t.Errorf("StopBuild of a stopped build = %v, %v", again, err)
	}
	_, err = c.StopBuild(ctx, &codebuild.StopBuildInput{Id: aws.String("sleepy:nope")})
	wantCode(t, err, "ResourceNotFoundException", "sleepy:nope")

	// A 5-"minute" build timeout (1.5 s with --timeout-minute 300ms).
	b = start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("sleepy"), TimeoutInMinutesOverride: aws.Int32(5)})
	tb := waitBuild(t, c, aws.ToString(b.Id))
	bp := phase(tb, types.BuildPhaseTypeBuild)
	if tb.BuildStatus != types.StatusTypeTimedOut || bp.PhaseStatus != types.StatusTypeTimedOut || !strings.HasSuffix(phaseTable(tb), "BUILD:TIMED_OUT FINALIZING:SUCCEEDED COMPLETED") ||
		aws.ToInt32(tb.TimeoutInMinutes) != 5 {
		t.Errorf("timed-out build: %s %s", tb.BuildStatus, phaseTable(tb))
	}

	// The server-wide limit: 2 run, 1 waits in QUEUED, the next is refused.
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("sleepy")}).Id))
	}
	time.Sleep(300 * time.Millisecond)
	if q := getBuild(t, c, ids[2]); aws.ToString(q.CurrentPhase) != "QUEUED" {
		t.Errorf("third build is in %s, want QUEUED", aws.ToString(q.CurrentPhase))
	}
	_, err = c.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("sleepy")})
	wantCode(t, err, "AccountLimitExceededException", "Cannot have more than 1 builds in queue for the account")
	// Stopping a running build lets the queued one start, in order.
	c.StopBuild(ctx, &codebuild.StopBuildInput{Id: aws.String(ids[0])})
	waitPhase(t, c, ids[2], "BUILD")
	// Stopping a queued build.
	q := start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("sleepy")})
	qs, err := c.StopBuild(ctx, &codebuild.StopBuildInput{Id: q.Id})
	if err != nil || phaseTable(*qs.Build) != "SUBMITTED:SUCCEEDED QUEUED:STOPPED COMPLETED" {
		t.Errorf("stopped queued build: %v %v", phaseTable(*qs.Build), err)
	}
	// Queued timeout: 5 "minutes" in the queue.
	qt := start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("sleepy"), QueuedTimeoutInMinutesOverride: aws.Int32(5)})
	qb := waitBuild(t, c, aws.ToString(qt.Id))
	if qb.BuildStatus != types.StatusTypeTimedOut || phaseTable(qb) != "SUBMITTED:SUCCEEDED QUEUED:TIMED_OUT COMPLETED" {
		t.Errorf("queued timeout: %s %s", qb.BuildStatus, phaseTable(qb))
	}
	for _, id := range ids[1:] {
		c.StopBuild(ctx, &codebuild.StopBuildInput{Id: aws.String(id)})
	}

	// A project's concurrentBuildLimit refuses, not queues.
	project(t, c, "limited", "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 600\n", func(in *codebuild.CreateProjectInput) {
		in.ConcurrentBuildLimit = aws.Int32(1)
	})
	lb := start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("limited")})
	_, err = c.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("limited")})
	wantCode(t, err, "AccountLimitExceededException", "concurrent build limit of 1")
	c.StopBuild(ctx, &codebuild.StopBuildInput{Id: lb.Id})
	if _, err := c.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("limited")}); err != nil {
		t.Errorf("after the stop, StartBuild = %v", err)
	}
}

func TestFollowLogsAndRestartMidBuild(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	project(t, c, "slow", "version: 0.2\nphases:\n  build:\n    commands:\n      - for i in 1 2 3; do echo tick $i; sleep 0.3; done\n")
	b := start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("slow")})
	cmd := exec.Command(binary, "logs", "--follow", aws.ToString(b.Id))
	cmd.Env = append(cleanEnv(), "AWS_ENDPOINT_URL="+s.URL)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("logs --follow did not end with the build")
	}
	fb := getBuild(t, c, aws.ToString(b.Id))
	if !fb.BuildComplete || !strings.Contains(out.String(), "tick 1\ntick 2\ntick 3\n") || !strings.Contains(out.String(), "Build completed with status SUCCEEDED") {
		t.Errorf("followed log (build complete %v):\n%s", fb.BuildComplete, out.String())
	}

	// The server dies mid-build; after the restart the build is not left
	// IN_PROGRESS, and its processes are gone.
	project(t, c, "crash", "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 600\n")
	cb := start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("crash")})
	waitPhase(t, c, aws.ToString(cb.Id), "BUILD")
	time.Sleep(200 * time.Millisecond)
	s.RestartAfterKill()
	after := getBuild(t, c, aws.ToString(cb.Id))
	if !after.BuildComplete || after.BuildStatus != types.StatusTypeFault {
		t.Fatalf("after restart: %s complete=%v", after.BuildStatus, after.BuildComplete)
	}
	bp := phase(after, types.BuildPhaseTypeBuild)
	if bp.PhaseStatus != types.StatusTypeFault || !strings.Contains(aws.ToString(bp.Contexts[0].Message), "buildbatch stopped while the build was running") {
		t.Errorf("BUILD after restart: %+v", bp)
	}
	if text := logText(t, s, aws.ToString(cb.Id)); !strings.HasSuffix(strings.TrimSpace(text), "Build completed with status FAULT") ||
		!strings.Contains(text, "Phase context status code: INTERNAL_ERROR Message: buildbatch stopped while the build was running") {
		t.Errorf("the crashed build's log does not say how it ended:\n%s", text)
	}
	if out, _ := exec.Command("pgrep", "-f", "sleep 600").Output(); len(out) > 0 {
		// Another test's sleep may be running; check for ours by build id.
		for _, pid := range strings.Fields(string(out)) {
			env, _ := os.ReadFile("/proc/" + pid + "/environ")
			if bytes.Contains(env, []byte(aws.ToString(cb.Id))) {
				t.Errorf("process %s of the crashed build survived the restart", pid)
			}
		}
	}
	// Builds still work after the restart.
	nb := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("slow")}).Id))
	if nb.BuildStatus != types.StatusTypeSucceeded {
		t.Errorf("build after restart: %s", nb.BuildStatus)
	}
}

func gitRepo(t *testing.T, files map[string]string) (dir string, commit func(tag string) string) {
	dir = t.TempDir()
	run := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@x")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("init", "-q", "-b", "main")
	for name, content := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
	}
	return dir, func(tag string) string {
		run("add", "-A")
		run("commit", "-q", "--allow-empty", "-m", "commit "+tag)
		if tag != "" {
			run("tag", tag)
		}
		return run("rev-parse", "HEAD")
	}
}

func TestGitSourceArtifactsAndS3Source(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	repo, commit := gitRepo(t, map[string]string{
		"buildspec.yml": `version: 0.2
phases:
  build:
    commands:
      - mkdir -p dist/sub
      - echo "version $(cat VERSION) at $CODEBUILD_RESOLVED_SOURCE_VERSION" > dist/app.txt
      - echo nested > dist/sub/n.txt
      - 'echo "secondary: $(cat $CODEBUILD_SRC_DIR_extra/VERSION)"'
artifacts:
  files: ['**/*']
  base-directory: dist
  secondary-artifacts:
    report:
      files: [app.txt]
      base-directory: dist
`,
		"VERSION": "1.0",
	})
	v1 := commit("v1.0")
	os.WriteFile(filepath.Join(repo, "VERSION"), []byte("2.0"), 0o644)
	commit("")

	_, err := c.CreateProject(ctx, &codebuild.CreateProjectInput{
		Name:             aws.String("gitproj"),
		Source:           &types.ProjectSource{Type: types.SourceTypeGithub, Location: aws.String(repo), GitCloneDepth: aws.Int32(1)},
		SecondarySources: []types.ProjectSource{{Type: types.SourceTypeCodecommit, Location: aws.String("file://" + repo), SourceIdentifier: aws.String("extra")}},
		Artifacts: &types.ProjectArtifacts{Type: types.ArtifactsTypeS3, Location: aws.String("my-bucket"), Path: aws.String("out"),
			NamespaceType: types.ArtifactNamespaceBuildId, Name: aws.String("app.zip"), Packaging: types.ArtifactPackagingZip},
		SecondaryArtifacts: []types.ProjectArtifacts{{Type: types.ArtifactsTypeS3, Location: aws.String("my-bucket"), ArtifactIdentifier: aws.String("report"), Name: aws.String("report")}},
		Environment:        &types.ProjectEnvironment{Type: types.EnvironmentTypeLinuxContainer, Image: aws.String("img"), ComputeType: types.ComputeTypeBuildGeneral1Small},
		ServiceRole:        aws.String("role"),
	})
	if err != nil {
		t.Fatal(err)
	}
	b := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("gitproj"), SourceVersion: aws.String("v1.0"),
		SecondarySourcesVersionOverride: []types.ProjectSourceVersion{{SourceIdentifier: aws.String("extra"), SourceVersion: aws.String("v1.0")}}}).Id))
	if b.BuildStatus != types.StatusTypeSucceeded {
		t.Fatalf("git build %s: %s\n%s", b.BuildStatus, phaseTable(b), logText(t, s, aws.ToString(b.Id)))
	}
	if aws.ToString(b.ResolvedSourceVersion) != v1 || aws.ToString(b.SourceVersion) != "v1.0" {
		t.Errorf("resolvedSourceVersion %s sourceVersion %s, want %s v1.0", aws.ToString(b.ResolvedSourceVersion), aws.ToString(b.SourceVersion), v1)
	}
	if text := logText(t, s, aws.ToString(b.Id)); !strings.Contains(text, "secondary: 1.0") {
		t.Errorf("secondary source at v1.0 missing from log:\n%s", text)
	}
	_, uuid, _ := strings.Cut(aws.ToString(b.Id), ":")
	wantLoc := "arn:aws:s3:::my-bucket/out/" + uuid + "/app.zip"
	if aws.ToString(b.Artifacts.Location) != wantLoc {
		t.Errorf("artifact location %s, want %s", aws.ToString(b.Artifacts.Location), wantLoc)
	}
	data, err := s.Object(t, "my-bucket", "out/"+uuid+"/app.zip")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if aws.ToString(b.Artifacts.Sha256sum) != hex.EncodeToString(sum[:]) || len(aws.ToString(b.Artifacts.Md5sum)) != 32 {
		t.Errorf("sha256sum %s does not match the zip on disk (%x)", aws.ToString(b.Artifacts.Sha256sum), sum)
	}
	zr, _ := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if strings.Join(names, ",") != "app.txt,sub/n.txt" {
		t.Errorf("zip holds %v", names)
	}
	if len(b.SecondaryArtifacts) != 1 || aws.ToString(b.SecondaryArtifacts[0].ArtifactIdentifier) != "report" ||
		aws.ToString(b.SecondaryArtifacts[0].Location) != "arn:aws:s3:::my-bucket/report" {
		t.Errorf("secondary artifacts = %+v", b.SecondaryArtifacts)
	}
	if content, _ := s.Object(t, "my-bucket", "report/app.txt"); !strings.HasPrefix(string(content), "version 1.0 at "+v1) {
		t.Errorf("secondary artifact content %q", content)
	}

	// One build's artifacts feed another as an S3 source.
	project(t, c, "consumer", "unused", func(in *codebuild.CreateProjectInput) {
		in.Source = &types.ProjectSource{Type: types.SourceTypeS3, Location: aws.String("my-bucket/out/" + uuid + "/app.zip"),
			Buildspec: aws.String("version: 0.2\nphases:\n  build:\n    commands:\n      - cat app.txt sub/n.txt\n")}
	})
	cbld := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("consumer")}).Id))
	if text := logText(t, s, aws.ToString(cbld.Id)); cbld.BuildStatus != types.StatusTypeSucceeded || !strings.Contains(text, "version 1.0 at "+v1+"\nnested\n") {
		t.Errorf("S3 source build %s:\n%s", cbld.BuildStatus, text)
	}

	// A source that cannot be fetched fails DOWNLOAD_SOURCE, saying why.
	fb := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("gitproj"), SourceVersion: aws.String("no-such-tag")}).Id))
	dp := phase(fb, types.BuildPhaseTypeDownloadSource)
	if fb.BuildStatus != types.StatusTypeFailed || dp.PhaseStatus != types.StatusTypeFailed || !strings.Contains(aws.ToString(dp.Contexts[0].Message), "no-such-tag") {
		t.Errorf("unfetchable source: %s %s %+v", fb.BuildStatus, phaseTable(fb), dp.Contexts)
	}
}

func TestSecretsAndParameters(t *testing.T) {
	secretsFile := filepath.Join(t.TempDir(), "secrets.json")
	os.WriteFile(secretsFile, []byte(`{"parameters":{"/app/token":"tok-123456"},"secrets":{"db":{"password":"hunter2-secret"}}}`), 0o600)
	s := Start(t, "--secrets-file", secretsFile)
	c := s.Client(t, "test", "us-east-1")
	project(t, c, "sec", `version: 0.2
env:
  parameter-store:
    TOKEN: /app/token
  secrets-manager:
    PASS: db:password
  exported-variables: [PASS, DSN, PLAIN]
phases:
  build:
    commands:
      - echo "token=$TOKEN pass=$PASS len=${#PASS}"
      - export DSN="postgres://app:$PASS@db/app" PLAIN=visible
`)
	b := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("sec")}).Id))
	text := logText(t, s, aws.ToString(b.Id))
	if b.BuildStatus != types.StatusTypeSucceeded || !strings.Contains(text, "token=*** pass=*** len=14") || strings.Contains(text, "hunter2") {
		t.Errorf("secrets build %s:\n%s", b.BuildStatus, text)
	}
	// Exported variables are an API response: a secret in one is masked
	// as in the log (AWS's documentation speaks of logs only; not leaking
	// is the safer reading).
	exported := map[string]string{}
	for _, v := range b.ExportedEnvironmentVariables {
		exported[aws.ToString(v.Name)] = aws.ToString(v.Value)
	}
	if want := map[string]string{"PASS": "***", "DSN": "postgres://app:***@db/app", "PLAIN": "visible"}; !reflect.DeepEqual(exported, want) {
		t.Errorf("exported variables %v, want %v", exported, want)
	}
	b = waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("sec"),
		BuildspecOverride: aws.String("version: 0.2\nenv:\n  parameter-store:\n    X: /missing\nphases:\n  build:\n    commands: [echo]\n")}).Id))
	dp := phase(b, types.BuildPhaseTypeDownloadSource)
	if b.BuildStatus != types.StatusTypeFailed || !strings.Contains(aws.ToString(dp.Contexts[0].Message), "/missing") {
		t.Errorf("missing parameter: %s %+v", b.BuildStatus, dp.Contexts)
	}
}

func TestIdempotentStartBuild(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	project(t, c, "idem", "version: 0.2\nphases:\n  build:\n    commands: [true]\n")
	in := &codebuild.StartBuildInput{ProjectName: aws.String("idem"), IdempotencyToken: aws.String("tok-1")}
	a, b := start(t, c, in), start(t, c, in)
	if aws.ToString(a.Id) != aws.ToString(b.Id) {
		t.Errorf("same token started two builds: %s %s", aws.ToString(a.Id), aws.ToString(b.Id))
	}
	_, err := c.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("idem"), IdempotencyToken: aws.String("tok-1"), SourceVersion: aws.String("x")})
	wantCode(t, err, "InvalidInputException", "idempotencyToken")
	_, err = c.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("idem"), TimeoutInMinutesOverride: aws.Int32(3000)})
	wantCode(t, err, "InvalidInputException", "timeoutInMinutesOverride")
	l, _ := c.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String("idem")})
	if len(l.Ids) != 1 {
		t.Errorf("%d builds, want 1: %v", len(l.Ids), fmt.Sprint(l.Ids))
	}
}

func TestAutoRetry(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	project(t, c, "flaky", "version: 0.2\nphases:\n  build:\n    commands:\n      - exit 1\n", func(in *codebuild.CreateProjectInput) {
		in.AutoRetryLimit = aws.Int32(2)
	})
	first := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("flaky")}).Id))
	var chain []types.Build
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		l, _ := c.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String("flaky"), SortOrder: types.SortOrderTypeAscending})
		if len(l.Ids) == 3 {
			got, _ := c.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: l.Ids})
			if len(got.Builds) == 3 && got.Builds[2].BuildComplete {
				chain = got.Builds
				break
			}
		}
	}
	if len(chain) != 3 || aws.ToString(chain[0].Id) != aws.ToString(first.Id) {
		t.Fatalf("want the build and 2 automatic retries, got %d builds", len(chain))
	}
	for i, b := range chain {
		arc := b.AutoRetryConfig
		if arc == nil || aws.ToInt32(arc.AutoRetryLimit) != 2 || aws.ToInt32(arc.AutoRetryNumber) != int32(i) || b.BuildStatus != types.StatusTypeFailed {
			t.Errorf("build %d: %s %+v", i, b.BuildStatus, arc)
			continue
		}
		if i > 0 && aws.ToString(arc.PreviousAutoRetry) != aws.ToString(chain[i-1].Arn) {
			t.Errorf("build %d previousAutoRetry %s", i, aws.ToString(arc.PreviousAutoRetry))
		}
		if i < 2 && aws.ToString(arc.NextAutoRetry) != aws.ToString(chain[i+1].Arn) {
			t.Errorf("build %d nextAutoRetry %s", i, aws.ToString(arc.NextAutoRetry))
		}
	}
	time.Sleep(300 * time.Millisecond)
	if l, _ := c.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String("flaky")}); len(l.Ids) != 3 {
		t.Errorf("%d builds after the limit, want 3", len(l.Ids))
	}
}

func TestCacheAndReports(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	project(t, c, "cached", `version: 0.2
phases:
  build:
    commands:
      - |
        if [ -f deps/lib.txt ]; then echo "cache hit: $(cat deps/lib.txt)"; else echo "cache miss"; mkdir -p deps && echo built-once > deps/lib.txt; fi
      - echo '<testsuite name="t"/>' > report.xml
cache:
  paths:
    - 'deps/**/*'
reports:
  junit:
    files: [report.xml]
`, func(in *codebuild.CreateProjectInput) {
		in.Cache = &types.ProjectCache{Type: types.CacheTypeLocal, Modes: []types.CacheMode{types.CacheModeLocalCustomCache}}
	})
	first := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("cached")}).Id))
	second := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("cached")}).Id))
	if text := logText(t, s, aws.ToString(first.Id)); !strings.Contains(text, "cache miss") {
		t.Errorf("first build:\n%s", text)
	}
	if text := logText(t, s, aws.ToString(second.Id)); !strings.Contains(text, "cache hit: built-once") {
		t.Errorf("second build did not get the cache:\n%s", text)
	}
	// Another account's LOCAL cache works too: the cache bucket is
	// buildbatch's, not the first account's to save a cache.
	other := s.Client(t, "222222222222", "us-east-1")
	project(t, other, "cached", `version: 0.2
phases:
  build:
    commands:
      - |
        if [ -f deps/lib.txt ]; then echo "cache hit: $(cat deps/lib.txt)"; else echo "cache miss"; mkdir -p deps && echo theirs > deps/lib.txt; fi
cache:
  paths:
    - 'deps/**/*'
`, func(in *codebuild.CreateProjectInput) {
		in.Cache = &types.ProjectCache{Type: types.CacheTypeLocal, Modes: []types.CacheMode{types.CacheModeLocalCustomCache}}
	})
	for i, want := range []string{"cache miss", "cache hit: theirs"} {
		b := waitBuild(t, other, aws.ToString(start(t, other, &codebuild.StartBuildInput{ProjectName: aws.String("cached")}).Id))
		cmd := exec.Command(binary, "logs", "--endpoint-url", s.URL, aws.ToString(b.Id))
		cmd.Env = append(cleanEnv(), "AWS_ACCESS_KEY_ID=222222222222", "AWS_SECRET_ACCESS_KEY=x")
		if text := runLogs(t, cmd); !strings.Contains(text, want) || strings.Contains(text, "AccessDenied") {
			t.Errorf("the other account's build %d (want %q):\n%s", i+1, want, text)
		}
	}

	_, uuid, _ := strings.Cut(aws.ToString(second.Id), ":")
	want := "arn:aws:codebuild:us-east-1:000000000000:report/cached-junit:" + uuid
	if len(second.ReportArns) != 1 || second.ReportArns[0] != want {
		t.Errorf("reportArns = %v, want [%s]", second.ReportArns, want)
	}
	rep, err := c.BatchGetReports(ctx, &codebuild.BatchGetReportsInput{ReportArns: []string{want}})
	if err != nil || len(rep.Reports) != 1 || rep.Reports[0].Status != types.ReportStatusTypeSucceeded {
		t.Errorf("BatchGetReports: %+v %v", rep, err)
	}
}
