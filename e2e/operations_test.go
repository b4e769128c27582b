package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codebuild/types"
)

// gitServer serves bare repositories over HTTP with git http-backend; with
// a user and password it asks for them (basic auth), as GitHub does for
// private repositories.
type gitServer struct {
	URL, root string
	user, pw  string
	srv       *http.Server
	// authSeen counts requests that carried an Authorization header.
	authSeen atomic.Int64
}

func startGitServer(t *testing.T, user, pw string) *gitServer {
	t.Helper()
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	g := &gitServer{root: t.TempDir(), user: user, pw: pw}
	backend := &cgi.Handler{Path: filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"),
		Env: []string{"GIT_PROJECT_ROOT=" + g.root, "GIT_HTTP_EXPORT_ALL=1"}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.URL = "http://" + ln.Addr().String()
	g.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			g.authSeen.Add(1)
		}
		if g.user != "" {
			if u, p, ok := r.BasicAuth(); !ok || u != g.user || p != g.pw {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		backend.ServeHTTP(w, r)
	})}
	go g.srv.Serve(ln)
	t.Cleanup(func() { g.srv.Close() })
	return g
}

// repo makes a bare repository owner/name.git with one commit on main
// holding files; it returns the clone URL and the commit.
func (g *gitServer) repo(t *testing.T, name string, files map[string]string, submodules ...string) (string, string) {
	t.Helper()
	work := t.TempDir()
	run := func(dir string, args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run(work, "init", "-q", "-b", "main")
	for p, content := range files {
		if err := os.WriteFile(filepath.Join(work, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, sub := range submodules {
		run(work, "-c", "protocol.file.allow=always", "submodule", "add", "-q", sub, "sub")
	}
	run(work, "add", ".")
	run(work, "commit", "-q", "-m", "first")
	bare := filepath.Join(g.root, name+".git")
	run(work, "clone", "-q", "--bare", work, bare)
	return g.URL + "/" + name + ".git", run(work, "rev-parse", "HEAD")
}

const echoBuildspec = `version: 0.2
phases:
  build:
    commands:
      - echo "cloned $(cat hello.txt)"
      - echo "event=$CODEBUILD_WEBHOOK_EVENT trigger=$CODEBUILD_WEBHOOK_TRIGGER head=$CODEBUILD_WEBHOOK_HEAD_REF actor=$CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID"
batch:
  build-list:
    - identifier: only
`

// TestSourceCredentials: an imported token is what a build clones a
// private HTTPS repository with; it is never listed nor logged.
func TestSourceCredentials(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "AKIDEXAMPLE", "us-east-1")
	const token = "ghp_s3cretT0kenForTheTest"
	g := startGitServer(t, "x-access-token", token)
	// The private repository has a submodule on another server, which must
	// never see the token.
	other := startGitServer(t, "", "")
	subLoc, _ := other.repo(t, "someone/sub", map[string]string{"sub.txt": "from-the-submodule"})
	loc, commit := g.repo(t, "owner/private", map[string]string{"buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo \"cloned $(cat hello.txt)\"\n      - cat sub/sub.txt\n", "hello.txt": "private-content"}, subLoc)
	project(t, c, "private", "", func(in *codebuild.CreateProjectInput) {
		in.Source = &types.ProjectSource{Type: types.SourceTypeGithub, Location: aws.String(loc),
			GitSubmodulesConfig: &types.GitSubmodulesConfig{FetchSubmodules: aws.Bool(true)}}
	})
	// No credential: the clone is refused.
	b := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("private")}).Id))
	if b.BuildStatus != types.StatusTypeFailed || aws.ToString(b.CurrentPhase) != "COMPLETED" {
		t.Fatalf("build without credentials: %s", b.BuildStatus)
	}
	imp, err := c.ImportSourceCredentials(ctx, &codebuild.ImportSourceCredentialsInput{ServerType: types.ServerTypeGithub,
		AuthType: types.AuthTypePersonalAccessToken, Token: aws.String(token)})
	if err != nil || aws.ToString(imp.Arn) != "arn:aws:codebuild:us-east-1:000000000000:token/github" {
		t.Fatalf("ImportSourceCredentials: %+v %v", imp, err)
	}
	list, err := c.ListSourceCredentials(ctx, &codebuild.ListSourceCredentialsInput{})
	if err != nil || len(list.SourceCredentialsInfos) != 1 || list.SourceCredentialsInfos[0].AuthType != types.AuthTypePersonalAccessToken ||
		list.SourceCredentialsInfos[0].ServerType != types.ServerTypeGithub || aws.ToString(list.SourceCredentialsInfos[0].Arn) != aws.ToString(imp.Arn) {
		t.Fatalf("ListSourceCredentials: %+v %v", list, err)
	}
	_, err = c.ImportSourceCredentials(ctx, &codebuild.ImportSourceCredentialsInput{ServerType: types.ServerTypeGithub,
		AuthType: types.AuthTypePersonalAccessToken, Token: aws.String("other"), ShouldOverwrite: aws.Bool(false)})
	wantCode(t, err, "ResourceAlreadyExistsException", "shouldOverwrite")
	_, err = c.ImportSourceCredentials(ctx, &codebuild.ImportSourceCredentialsInput{ServerType: types.ServerTypeBitbucket,
		AuthType: types.AuthTypeBasicAuth, Token: aws.String("pw")})
	wantCode(t, err, "InvalidInputException", "username")

	b = waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("private")}).Id))
	text := logText(t, s, aws.ToString(b.Id))
	if b.BuildStatus != types.StatusTypeSucceeded || aws.ToString(b.ResolvedSourceVersion) != commit || !strings.Contains(text, "cloned private-content") {
		t.Fatalf("build with credentials: %s %s\n%s", b.BuildStatus, aws.ToString(b.ResolvedSourceVersion), text)
	}
	if strings.Contains(text, token) || strings.Contains(s.Stderr(), token) {
		t.Error("the token is in a log")
	}
	if !strings.Contains(text, "from-the-submodule") || other.authSeen.Load() != 0 || g.authSeen.Load() == 0 {
		t.Errorf("the submodule's server saw %d authorized requests (want 0), the repository's %d:\n%s", other.authSeen.Load(), g.authSeen.Load(), text)
	}
	raw, _ := json.Marshal(list)
	if strings.Contains(string(raw), token) {
		t.Error("the token is listed")
	}
	if _, err := c.DeleteSourceCredentials(ctx, &codebuild.DeleteSourceCredentialsInput{Arn: imp.Arn}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteSourceCredentials(ctx, &codebuild.DeleteSourceCredentialsInput{Arn: imp.Arn})
	wantCode(t, err, "ResourceNotFoundException", "token/github")
	if list, _ := c.ListSourceCredentials(ctx, &codebuild.ListSourceCredentialsInput{}); len(list.SourceCredentialsInfos) != 0 {
		t.Errorf("after delete: %+v", list.SourceCredentialsInfos)
	}
}

// deliver posts a GitHub-style delivery to a webhook's payload URL.
func deliver(t *testing.T, url, event, delivery, secret string, payload any) (int, map[string]string) {
	t.Helper()
	body, _ := json.Marshal(payload)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("User-Agent", "GitHub-Hookshot/5a1b2c3")
	if secret != "" {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	data, _ := io.ReadAll(resp.Body)
	json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

func pushPayload(loc, ref, after string) map[string]any {
	return map[string]any{"ref": ref, "before": "0000000000000000000000000000000000000000", "after": after,
		"repository": map[string]any{"full_name": "owner/app", "clone_url": loc},
		"sender":     map[string]any{"id": 4242, "login": "octocat"}, "head_commit": map[string]any{"id": after, "message": "change"}}
}

// TestWebhook: a signed push that passes a filter group starts a build
// with the webhook's variables; one that does not starts nothing; a bad
// signature is refused; a redelivery starts nothing new.
func TestWebhook(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "AKIDEXAMPLE", "us-east-1")
	g := startGitServer(t, "", "")
	loc, commit := g.repo(t, "owner/app", map[string]string{"buildspec.yml": echoBuildspec, "hello.txt": "from-the-push"})
	project(t, c, "hooked", "", func(in *codebuild.CreateProjectInput) {
		in.Source = &types.ProjectSource{Type: types.SourceTypeGithub, Location: aws.String(loc)}
		in.BuildBatchConfig = &types.ProjectBuildBatchConfig{ServiceRole: aws.String("arn:aws:iam::000000000000:role/batch")}
	})
	_, err := c.CreateWebhook(ctx, &codebuild.CreateWebhookInput{ProjectName: aws.String("hooked"),
		FilterGroups: [][]types.WebhookFilter{{{Type: types.WebhookFilterTypeHeadRef, Pattern: aws.String("^refs/heads/main$")}}}})
	wantCode(t, err, "InvalidInputException", "EVENT")
	hook, err := c.CreateWebhook(ctx, &codebuild.CreateWebhookInput{ProjectName: aws.String("hooked"),
		FilterGroups: [][]types.WebhookFilter{{
			{Type: types.WebhookFilterTypeEvent, Pattern: aws.String("PUSH, PULL_REQUEST_CREATED")},
			{Type: types.WebhookFilterTypeHeadRef, Pattern: aws.String("^refs/heads/main$")},
		}}})
	if err != nil {
		t.Fatal(err)
	}
	w := hook.Webhook
	if aws.ToString(w.Secret) == "" || !strings.HasPrefix(aws.ToString(w.PayloadUrl), s.URL+"/webhooks?t=") || w.Status != types.WebhookStatusActive ||
		w.BuildType != types.WebhookBuildTypeBuild {
		t.Fatalf("CreateWebhook: %+v", w)
	}
	_, err = c.CreateWebhook(ctx, &codebuild.CreateWebhookInput{ProjectName: aws.String("hooked")})
	wantCode(t, err, "ResourceAlreadyExistsException", "hooked")
	p, err := c.BatchGetProjects(ctx, &codebuild.BatchGetProjectsInput{Names: []string{"hooked"}})
	if err != nil || p.Projects[0].Webhook == nil || aws.ToString(p.Projects[0].Webhook.PayloadUrl) != aws.ToString(w.PayloadUrl) || p.Projects[0].Webhook.Secret != nil {
		t.Fatalf("the project's webhook: %+v %v", p.Projects[0].Webhook, err)
	}
	url, secret := aws.ToString(w.PayloadUrl), aws.ToString(w.Secret)

	if code, out := deliver(t, url, "push", "d-1", "wrong-secret", pushPayload(loc, "refs/heads/main", commit)); code != http.StatusUnauthorized {
		t.Errorf("badly signed delivery: %d %v", code, out)
	}
	if code, out := deliver(t, url, "push", "d-2", secret, pushPayload(loc, "refs/heads/feature", commit)); code != 200 || out["buildId"] != "" {
		t.Errorf("push to another branch: %d %v", code, out)
	}
	if code, out := deliver(t, url, "ping", "d-3", secret, map[string]any{"zen": "Keep it logically awesome."}); code != 200 || out["buildId"] != "" {
		t.Errorf("ping: %d %v", code, out)
	}
	code, out := deliver(t, url, "push", "d-4", secret, pushPayload(loc, "refs/heads/main", commit))
	if code != 200 || out["buildId"] == "" {
		t.Fatalf("push to main: %d %v", code, out)
	}
	b := waitBuild(t, c, out["buildId"])
	text := logText(t, s, out["buildId"])
	if b.BuildStatus != types.StatusTypeSucceeded || aws.ToString(b.SourceVersion) != commit || !strings.HasPrefix(aws.ToString(b.Initiator), "GitHub-Hookshot/") ||
		!strings.Contains(text, "event=PUSH trigger=branch/main head=refs/heads/main actor=4242") || !strings.Contains(text, "cloned from-the-push") {
		t.Fatalf("webhook build: %s %s %s\n%s", b.BuildStatus, aws.ToString(b.SourceVersion), aws.ToString(b.Initiator), text)
	}
	if code, again := deliver(t, url, "push", "d-4", secret, pushPayload(loc, "refs/heads/main", commit)); code != 200 || again["buildId"] != out["buildId"] {
		t.Errorf("redelivery: %d %v, want build %s", code, again, out["buildId"])
	}
	ids, _ := c.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String("hooked")})
	if len(ids.Ids) != 1 {
		t.Errorf("builds of the project: %v, want 1", ids.Ids)
	}

	rot, err := c.UpdateWebhook(ctx, &codebuild.UpdateWebhookInput{ProjectName: aws.String("hooked"), RotateSecret: true})
	if err != nil || aws.ToString(rot.Webhook.Secret) == "" || aws.ToString(rot.Webhook.Secret) == secret {
		t.Fatalf("UpdateWebhook rotateSecret: %+v %v", rot, err)
	}
	if code, _ := deliver(t, url, "push", "d-5", secret, pushPayload(loc, "refs/heads/main", commit)); code != http.StatusUnauthorized {
		t.Errorf("the old secret after rotation: %d", code)
	}
	// BUILD_BATCH: a delivery starts a batch, whose builds get the variables.
	if _, err := c.UpdateWebhook(ctx, &codebuild.UpdateWebhookInput{ProjectName: aws.String("hooked"), BuildType: types.WebhookBuildTypeBuildBatch}); err != nil {
		t.Fatal(err)
	}
	code, out = deliver(t, url, "push", "d-7", aws.ToString(rot.Webhook.Secret), pushPayload(loc, "refs/heads/main", commit))
	if code != 200 || out["buildBatchId"] == "" {
		t.Fatalf("push with BUILD_BATCH: %d %v", code, out)
	}
	batch := waitBatch(t, c, out["buildBatchId"])
	if batch.BuildBatchStatus != types.StatusTypeSucceeded || !strings.HasPrefix(aws.ToString(batch.Initiator), "GitHub-Hookshot/") {
		t.Fatalf("webhook batch: %s %s", batch.BuildBatchStatus, aws.ToString(batch.Initiator))
	}
	for _, g := range batch.BuildGroups {
		if aws.ToString(g.Identifier) == "only" {
			if text := logText(t, s, aws.ToString(g.CurrentBuildSummary.Arn)); !strings.Contains(text, "event=PUSH trigger=branch/main") {
				t.Errorf("the batch's build:\n%s", text)
			}
		}
	}
	if _, err := c.DeleteWebhook(ctx, &codebuild.DeleteWebhookInput{ProjectName: aws.String("hooked")}); err != nil {
		t.Fatal(err)
	}
	if code, _ := deliver(t, url, "push", "d-6", aws.ToString(rot.Webhook.Secret), pushPayload(loc, "refs/heads/main", commit)); code != http.StatusNotFound {
		t.Errorf("delivery after DeleteWebhook: %d", code)
	}
	_, err = c.DeleteWebhook(ctx, &codebuild.DeleteWebhookInput{ProjectName: aws.String("hooked")})
	wantCode(t, err, "ResourceNotFoundException", "hooked")
}

// TestFleet: a fleet of one runs its builds one at a time.
func TestFleet(t *testing.T) {
	s := Start(t, "--max-concurrent-builds", "1")
	c := s.Client(t, "AKIDEXAMPLE", "us-east-1")
	_, err := c.CreateFleet(ctx, &codebuild.CreateFleetInput{Name: aws.String("tiny"), BaseCapacity: aws.Int32(0),
		EnvironmentType: types.EnvironmentTypeLinuxContainer, ComputeType: types.ComputeTypeBuildGeneral1Small})
	wantCode(t, err, "InvalidInputException", "baseCapacity")
	cr, err := c.CreateFleet(ctx, &codebuild.CreateFleetInput{Name: aws.String("tiny"), BaseCapacity: aws.Int32(1),
		EnvironmentType: types.EnvironmentTypeLinuxContainer, ComputeType: types.ComputeTypeBuildGeneral1Small})
	if err != nil || cr.Fleet.Status.StatusCode != types.FleetStatusCodeCreating || cr.Fleet.OverflowBehavior != types.FleetOverflowBehaviorQueue {
		t.Fatalf("CreateFleet: %+v %v", cr, err)
	}
	arn := aws.ToString(cr.Fleet.Arn)
	got, err := c.BatchGetFleets(ctx, &codebuild.BatchGetFleetsInput{Names: []string{arn, "tiny", "nope"}})
	if err != nil || len(got.Fleets) != 2 || got.Fleets[0].Status.StatusCode != types.FleetStatusCodeActive || !slices.Equal(got.FleetsNotFound, []string{"nope"}) {
		t.Fatalf("BatchGetFleets: %+v %v", got, err)
	}
	if l, err := c.ListFleets(ctx, &codebuild.ListFleetsInput{}); err != nil || !slices.Equal(l.Fleets, []string{arn}) {
		t.Fatalf("ListFleets: %+v %v", l, err)
	}
	project(t, c, "onfleet", "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 1\n", func(in *codebuild.CreateProjectInput) {
		in.Environment.Fleet = &types.ProjectFleet{FleetArn: aws.String(arn)}
	})
	_, err = c.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("onfleet"), FleetOverride: &types.ProjectFleet{FleetArn: aws.String("missing")}})
	wantCode(t, err, "InvalidInputException", "missing")
	var ids []string
	for range 3 {
		ids = append(ids, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("onfleet")}).Id))
	}
	spans := buildSpans(t, c, ids)
	slices.SortFunc(spans, func(a, b span) int { return a.from.Compare(b.from) })
	for i := 1; i < len(spans); i++ {
		if spans[i].from.Before(spans[i-1].to) {
			t.Errorf("builds on a fleet of 1 overlap: %v", spans)
		}
	}
	// ON_DEMAND: past its one reserved slot, the fleet's builds take the
	// node's on-demand slot (--max-concurrent-builds 1): two at once, never
	// more.
	if _, err := c.UpdateFleet(ctx, &codebuild.UpdateFleetInput{Arn: aws.String(arn), OverflowBehavior: types.FleetOverflowBehaviorOnDemand}); err != nil {
		t.Fatal(err)
	}
	ids = nil
	for range 4 {
		ids = append(ids, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("onfleet")}).Id))
	}
	if most := mostAtOnce(buildSpans(t, c, ids)); most != 2 {
		t.Errorf("with ON_DEMAND overflow %d builds ran at once, want 2 (1 reserved + 1 on-demand slot)", most)
	}
	// Target tracking: a fleet of base 1 that may scale to 3 runs 3 of
	// its 4 waiting builds at once on its own capacity (QUEUE: none on
	// the node's on-demand slot), and says so in desiredCapacity.
	sr, err := c.CreateFleet(ctx, &codebuild.CreateFleetInput{Name: aws.String("scaling"), BaseCapacity: aws.Int32(1),
		EnvironmentType: types.EnvironmentTypeLinuxContainer, ComputeType: types.ComputeTypeBuildGeneral1Small,
		ScalingConfiguration: &types.ScalingConfigurationInput{ScalingType: types.FleetScalingTypeTargetTrackingScaling, MaxCapacity: aws.Int32(3),
			TargetTrackingScalingConfigs: []types.TargetTrackingScalingConfiguration{{MetricType: types.FleetScalingMetricTypeFleetUtilizationRate, TargetValue: aws.Float64(100)}}}})
	if err != nil {
		t.Fatal(err)
	}
	scalingArn := aws.ToString(sr.Fleet.Arn)
	ids = nil
	for range 4 {
		ids = append(ids, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("onfleet"),
			FleetOverride: &types.ProjectFleet{FleetArn: aws.String(scalingArn)}}).Id))
	}
	if got, err := c.BatchGetFleets(ctx, &codebuild.BatchGetFleetsInput{Names: []string{"scaling"}}); err != nil || len(got.Fleets) != 1 ||
		aws.ToInt32(got.Fleets[0].ScalingConfiguration.DesiredCapacity) != 3 {
		t.Errorf("desiredCapacity with 4 builds: %+v %v", got, err)
	}
	if most := mostAtOnce(buildSpans(t, c, ids)); most != 3 {
		t.Errorf("a fleet scaling to 3 ran %d builds at once, want 3", most)
	}
	if got, err := c.BatchGetFleets(ctx, &codebuild.BatchGetFleetsInput{Names: []string{"scaling"}}); err != nil || len(got.Fleets) != 1 ||
		aws.ToInt32(got.Fleets[0].ScalingConfiguration.DesiredCapacity) != 1 {
		t.Errorf("desiredCapacity once idle: %+v %v", got, err)
	}
	up, err := c.UpdateFleet(ctx, &codebuild.UpdateFleetInput{Arn: aws.String(arn), BaseCapacity: aws.Int32(2), OverflowBehavior: types.FleetOverflowBehaviorOnDemand})
	if err != nil || up.Fleet.Status.StatusCode != types.FleetStatusCodeUpdating || aws.ToInt32(up.Fleet.BaseCapacity) != 2 {
		t.Fatalf("UpdateFleet: %+v %v", up, err)
	}
	if _, err := c.DeleteFleet(ctx, &codebuild.DeleteFleetInput{Arn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.BatchGetFleets(ctx, &codebuild.BatchGetFleetsInput{Names: []string{arn}}); len(got.Fleets) != 0 {
		t.Errorf("after DeleteFleet: %+v", got.Fleets)
	}
}

type span struct{ from, to time.Time }

// buildSpans waits for builds and returns when each ran (PROVISIONING to
// COMPLETED).
func buildSpans(t *testing.T, c *codebuild.Client, ids []string) []span {
	t.Helper()
	var spans []span
	for _, id := range ids {
		b := waitBuild(t, c, id)
		if b.BuildStatus != types.StatusTypeSucceeded {
			t.Fatalf("%s: %s", id, b.BuildStatus)
		}
		var sp span
		for _, p := range b.Phases {
			switch aws.ToString((*string)(&p.PhaseType)) {
			case "PROVISIONING":
				sp.from = aws.ToTime(p.StartTime)
			case "COMPLETED":
				sp.to = aws.ToTime(p.StartTime)
			}
		}
		spans = append(spans, sp)
	}
	return spans
}

// mostAtOnce is the most spans that overlap at one time.
func mostAtOnce(spans []span) int {
	most := 0
	for _, a := range spans {
		n := 0
		for _, b := range spans {
			if !b.from.After(a.from) && b.to.After(a.from) {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// TestSharing: a project and a report group shared with one account by a
// resource policy are readable by it, and not by a third account.
func TestSharing(t *testing.T) {
	s := Start(t)
	owner := s.Client(t, "111111111111", "us-east-1")
	friend := s.Client(t, "222222222222", "us-east-1")
	stranger := s.Client(t, "333333333333", "us-east-1")
	g, err := owner.CreateReportGroup(ctx, &codebuild.CreateReportGroupInput{Name: aws.String("suite"), Type: types.ReportTypeTest,
		ExportConfig: &types.ReportExportConfig{ExportConfigType: types.ReportExportConfigTypeNoExport}})
	if err != nil {
		t.Fatal(err)
	}
	garn := aws.ToString(g.ReportGroup.Arn)
	project(t, owner, "shared", `version: 0.2
phases:
  build:
    commands:
      - echo shared
      - echo '<testsuite name="s"><testcase classname="c" name="t"/></testsuite>' > r.xml
reports:
  `+garn+`:
    files: [r.xml]
`)
	arn := "arn:aws:codebuild:us-east-1:111111111111:project/shared"
	build := waitBuild(t, owner, aws.ToString(start(t, owner, &codebuild.StartBuildInput{ProjectName: aws.String("shared")}).Id))
	if len(build.ReportArns) != 1 {
		t.Fatalf("the build's reports: %v", build.ReportArns)
	}
	report := build.ReportArns[0]
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},
		"Action":["codebuild:BatchGetProjects","codebuild:BatchGetBuilds","codebuild:ListBuildsForProject"],"Resource":"%s"}]}`, arn)
	_, err = owner.PutResourcePolicy(ctx, &codebuild.PutResourcePolicyInput{ResourceArn: aws.String(arn), Policy: aws.String(`{"Statement":[]}`)})
	wantCode(t, err, "InvalidInputException", "Statement")
	if _, err := owner.PutResourcePolicy(ctx, &codebuild.PutResourcePolicyInput{ResourceArn: aws.String(arn), Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	if got, err := owner.GetResourcePolicy(ctx, &codebuild.GetResourcePolicyInput{ResourceArn: aws.String(arn)}); err != nil || aws.ToString(got.Policy) != policy {
		t.Fatalf("GetResourcePolicy: %v %v", got, err)
	}
	_, err = friend.PutResourcePolicy(ctx, &codebuild.PutResourcePolicyInput{ResourceArn: aws.String(arn), Policy: aws.String(policy)})
	wantCode(t, err, "ResourceNotFoundException", arn)

	seen := func(c *codebuild.Client) (projects, builds, listed int, shared []string) {
		p, err := c.BatchGetProjects(ctx, &codebuild.BatchGetProjectsInput{Names: []string{arn}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{aws.ToString(build.Arn)}})
		if err != nil {
			t.Fatal(err)
		}
		if l, err := c.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String(arn)}); err == nil {
			listed = len(l.Ids)
		}
		sp, err := c.ListSharedProjects(ctx, &codebuild.ListSharedProjectsInput{})
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Projects), len(b.Builds), listed, sp.Projects
	}
	if p, b, l, sh := seen(friend); p != 1 || b != 1 || l != 1 || !slices.Equal(sh, []string{arn}) {
		t.Errorf("the account shared with sees %d projects, %d builds, %d listed, shared %v", p, b, l, sh)
	}
	if p, b, l, sh := seen(stranger); p != 0 || b != 0 || l != 0 || len(sh) != 0 {
		t.Errorf("a third account sees %d projects, %d builds, %d listed, shared %v", p, b, l, sh)
	}
	_, err = friend.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String(arn)})
	if err == nil {
		t.Error("the account shared with started a build")
	}

	// Report groups: the group, its reports and their test cases.
	if _, err := owner.PutResourcePolicy(ctx, &codebuild.PutResourcePolicyInput{ResourceArn: aws.String(garn), Policy: aws.String(
		`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":["codebuild:BatchGetReportGroups","codebuild:BatchGetReports",
		"codebuild:ListReportsForReportGroup","codebuild:DescribeTestCases"]}]}`)}); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*codebuild.Client{"the account shared with": friend, "a third account": stranger} {
		want := 0
		if c == friend {
			want = 1
		}
		reps, err := c.BatchGetReports(ctx, &codebuild.BatchGetReportsInput{ReportArns: []string{report}})
		if err != nil || len(reps.Reports) != want {
			t.Errorf("%s: BatchGetReports: %+v %v", name, reps, err)
		}
		listed, err := c.ListReportsForReportGroup(ctx, &codebuild.ListReportsForReportGroupInput{ReportGroupArn: aws.String(garn)})
		if got := 0; err == nil {
			got = len(listed.Reports)
			if got != want {
				t.Errorf("%s: ListReportsForReportGroup: %v", name, listed.Reports)
			}
		} else if want == 1 {
			t.Errorf("%s: ListReportsForReportGroup: %v", name, err)
		}
		cases, err := c.DescribeTestCases(ctx, &codebuild.DescribeTestCasesInput{ReportArn: aws.String(report)})
		if (want == 1) != (err == nil && len(cases.TestCases) == 1) {
			t.Errorf("%s: DescribeTestCases: %+v %v", name, cases, err)
		}
	}
	if rg, err := friend.BatchGetReportGroups(ctx, &codebuild.BatchGetReportGroupsInput{ReportGroupArns: []string{garn}}); err != nil || len(rg.ReportGroups) != 1 {
		t.Errorf("shared report group: %+v %v", rg, err)
	}
	if l, err := friend.ListSharedReportGroups(ctx, &codebuild.ListSharedReportGroupsInput{}); err != nil || !slices.Equal(l.ReportGroups, []string{garn}) {
		t.Errorf("ListSharedReportGroups: %+v %v", l, err)
	}
	if rg, _ := stranger.BatchGetReportGroups(ctx, &codebuild.BatchGetReportGroupsInput{ReportGroupArns: []string{garn}}); len(rg.ReportGroups) != 0 {
		t.Errorf("a third account sees the report group")
	}

	// As on AWS, a shared project with builds cannot be deleted.
	_, err = owner.DeleteProject(ctx, &codebuild.DeleteProjectInput{Name: aws.String("shared")})
	wantCode(t, err, "InvalidInputException", "resource policy")

	// Unsharing.
	if _, err := owner.DeleteResourcePolicy(ctx, &codebuild.DeleteResourcePolicyInput{ResourceArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	if p, b, l, sh := seen(friend); p != 0 || b != 0 || l != 0 || len(sh) != 0 {
		t.Errorf("after DeleteResourcePolicy the account sees %d projects, %d builds, %d listed, shared %v", p, b, l, sh)
	}
	_, err = owner.GetResourcePolicy(ctx, &codebuild.GetResourcePolicyInput{ResourceArn: aws.String(arn)})
	wantCode(t, err, "ResourceNotFoundException", arn)
	// Unshared, it can be (its builds stay).
	if _, err := owner.DeleteProject(ctx, &codebuild.DeleteProjectInput{Name: aws.String("shared")}); err != nil {
		t.Errorf("DeleteProject after DeleteResourcePolicy: %v", err)
	}
	if b, err := owner.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{aws.ToString(build.Id)}}); err != nil || len(b.Builds) != 1 {
		t.Errorf("the deleted project's build: %+v %v", b, err)
	}
}

func badgeStatusOf(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("badge: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	_, rest, _ := strings.Cut(string(body), `data-status="`)
	st, _, _ := strings.Cut(rest, `"`)
	return st
}

// TestBadgeAndPublicBuilds: the badge follows the last build; a PUBLIC_READ
// project's builds and logs are readable without credentials.
func TestBadgeAndPublicBuilds(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "AKIDEXAMPLE", "us-east-1")
	project(t, c, "badged", "version: 0.2\nphases:\n  build:\n    commands:\n      - echo public-line\n      - test \"$FAIL\" != yes\n", func(in *codebuild.CreateProjectInput) {
		in.BadgeEnabled = aws.Bool(true)
	})
	p, err := c.BatchGetProjects(ctx, &codebuild.BatchGetProjectsInput{Names: []string{"badged"}})
	if err != nil || p.Projects[0].Badge == nil || !p.Projects[0].Badge.BadgeEnabled {
		t.Fatalf("badge: %+v %v", p, err)
	}
	badge := aws.ToString(p.Projects[0].Badge.BadgeRequestUrl)
	if st := badgeStatusOf(t, badge); st != "UNKNOWN" {
		t.Errorf("badge before any build: %s", st)
	}
	ok := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("badged")}).Id))
	if st := badgeStatusOf(t, badge); st != "PASSING" {
		t.Errorf("badge after a build that succeeded: %s", st)
	}
	waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("badged"),
		EnvironmentVariablesOverride: []types.EnvironmentVariable{{Name: aws.String("FAIL"), Value: aws.String("yes")}}}).Id))
	if st := badgeStatusOf(t, badge); st != "FAILING" {
		t.Errorf("badge after a failed build: %s", st)
	}

	arn := "arn:aws:codebuild:us-east-1:000000000000:project/badged"
	vis, err := c.UpdateProjectVisibility(ctx, &codebuild.UpdateProjectVisibilityInput{ProjectArn: aws.String(arn), ProjectVisibility: types.ProjectVisibilityTypePublicRead})
	if err != nil || aws.ToString(vis.PublicProjectAlias) == "" || vis.ProjectVisibility != types.ProjectVisibilityTypePublicRead {
		t.Fatalf("UpdateProjectVisibility: %+v %v", vis, err)
	}
	alias := aws.ToString(vis.PublicProjectAlias)
	get := func(path string) (int, string) {
		resp, err := http.Get(s.URL + "/public/" + alias + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(""); code != 200 || !strings.Contains(body, aws.ToString(ok.Id)) || !strings.Contains(body, `"projectName":"badged"`) {
		t.Errorf("public project page: %d %s", code, body)
	}
	if code, body := get("/builds/" + aws.ToString(ok.Id) + "/log"); code != 200 || !strings.Contains(body, "public-line") {
		t.Errorf("public build log: %d %s", code, body)
	}
	// A build of a public project knows its public page.
	pub := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("badged"),
		BuildspecOverride: aws.String("version: 0.2\nphases:\n  build:\n    commands:\n      - echo \"url=$CODEBUILD_PUBLIC_BUILD_URL\"\n")}).Id))
	_, uuid, _ := strings.Cut(aws.ToString(pub.Id), ":")
	if text := logText(t, s, aws.ToString(pub.Id)); !strings.Contains(text, "url="+s.URL+"/public/"+alias+"/builds/"+uuid) {
		t.Errorf("CODEBUILD_PUBLIC_BUILD_URL:\n%s", text)
	}
	if code, body := get("/builds/" + uuid); code != 200 || !strings.Contains(body, uuid) {
		t.Errorf("the public build page: %d %s", code, body)
	}
	vis, err = c.UpdateProjectVisibility(ctx, &codebuild.UpdateProjectVisibilityInput{ProjectArn: aws.String(arn), ProjectVisibility: types.ProjectVisibilityTypePrivate})
	if err != nil || aws.ToString(vis.PublicProjectAlias) != alias {
		t.Fatalf("back to PRIVATE: %+v %v", vis, err)
	}
	if code, _ := get("/builds/" + aws.ToString(ok.Id) + "/log"); code != 404 {
		t.Errorf("a private project's log: %d", code)
	}
}

// TestCacheInvalidationAndImages: InvalidateProjectCache empties the
// project's cache; the curated images are listed.
func TestCacheInvalidationAndImages(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "AKIDEXAMPLE", "us-east-1")
	imgs, err := c.ListCuratedEnvironmentImages(ctx, &codebuild.ListCuratedEnvironmentImagesInput{})
	found := false
	for _, p := range imgs.Platforms {
		for _, l := range p.Languages {
			for _, im := range l.Images {
				found = found || (p.Platform == types.PlatformTypeUbuntu && aws.ToString(im.Name) == "aws/codebuild/standard:7.0")
			}
		}
	}
	if err != nil || !found {
		t.Errorf("ListCuratedEnvironmentImages: standard:7.0 not under UBUNTU (%v)", err)
	}
	project(t, c, "cache-me", `version: 0.2
phases:
  build:
    commands:
      - |
        if [ -f deps/lib.txt ]; then echo "cache hit"; else echo "cache miss"; mkdir -p deps && echo x > deps/lib.txt; fi
cache:
  paths:
    - 'deps/**/*'
`, func(in *codebuild.CreateProjectInput) {
		in.Cache = &types.ProjectCache{Type: types.CacheTypeLocal, Modes: []types.CacheMode{types.CacheModeLocalCustomCache}}
	})
	for i, want := range []string{"cache miss", "cache hit", "invalidate", "cache miss"} {
		if want == "invalidate" {
			if _, err := c.InvalidateProjectCache(ctx, &codebuild.InvalidateProjectCacheInput{ProjectName: aws.String("cache-me")}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("cache-me")}).Id))
		if text := logText(t, s, aws.ToString(b.Id)); !strings.Contains(text, want) {
			t.Errorf("step %d, want %q:\n%s", i, want, text)
		}
	}
	_, err = c.InvalidateProjectCache(ctx, &codebuild.InvalidateProjectCacheInput{ProjectName: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException", "nope")
}

// TestOperationsBoto3: boto3 against webhooks, source credentials, fleets,
// sandboxes, sharing, badges and public builds (e2e/python/test_operations.py).
func TestOperationsBoto3(t *testing.T) {
	s := Start(t)
	s.Python(t, "test_operations")
}

// TestPostReceiveHook: the README's git post-receive hook
// (examples/post-receive) starts a build of the pushed commit.
func TestPostReceiveHook(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "AKIDEXAMPLE", "us-east-1")
	dir := t.TempDir()
	bare := filepath.Join(dir, "app.git")
	git := func(wd string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = wd
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=a@example.com", "GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=a@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	git(dir, "init", "-q", "--bare", "-b", "main", bare)
	project(t, c, "local-hooked", "", func(in *codebuild.CreateProjectInput) {
		in.Source = &types.ProjectSource{Type: types.SourceTypeGithub, Location: aws.String(bare)}
	})
	hook, err := c.CreateWebhook(ctx, &codebuild.CreateWebhookInput{ProjectName: aws.String("local-hooked"),
		FilterGroups: [][]types.WebhookFilter{{{Type: types.WebhookFilterTypeEvent, Pattern: aws.String("PUSH")},
			{Type: types.WebhookFilterTypeHeadRef, Pattern: aws.String("^refs/heads/main$")}}}})
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("../examples/post-receive")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bare, "hooks", "post-receive"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	git(bare, "config", "buildbatch.payloadurl", aws.ToString(hook.Webhook.PayloadUrl))
	git(bare, "config", "buildbatch.secret", aws.ToString(hook.Webhook.Secret))

	work := filepath.Join(dir, "work")
	git(dir, "clone", "-q", bare, work)
	os.WriteFile(filepath.Join(work, "buildspec.yml"), []byte(echoBuildspec), 0o644)
	os.WriteFile(filepath.Join(work, "hello.txt"), []byte("pushed \"quoted\" content"), 0o644)
	git(work, "add", ".")
	git(work, "commit", "-q", "-m", `first "commit"`)
	out := git(work, "push", "origin", "HEAD:main")
	_, rest, _ := strings.Cut(out, `"buildId":"`)
	id, _, _ := strings.Cut(rest, `"`)
	if id == "" {
		t.Fatalf("the hook started no build:\n%s", out)
	}
	b := waitBuild(t, c, id)
	text := logText(t, s, id)
	if b.BuildStatus != types.StatusTypeSucceeded || !strings.Contains(text, `cloned pushed "quoted" content`) || !strings.Contains(text, "event=PUSH trigger=branch/main") {
		t.Fatalf("build from the hook: %s\n%s", b.BuildStatus, text)
	}
	// A push to another branch passes no filter group.
	out = git(work, "push", "origin", "HEAD:feature")
	if strings.Contains(out, `"buildId"`) || !strings.Contains(out, "nothing started") {
		t.Errorf("push to feature:\n%s", out)
	}
}
