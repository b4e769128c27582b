package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codebuild/types"

	"github.com/buildbatch/buildbatch/internal/executor/docker"
	"github.com/buildbatch/buildbatch/internal/executor/docker/dockertest"
)

func getSandbox(t *testing.T, c *codebuild.Client, id string) types.Sandbox {
	t.Helper()
	out, err := c.BatchGetSandboxes(ctx, &codebuild.BatchGetSandboxesInput{Ids: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Sandboxes) != 1 {
		t.Fatalf("sandbox %s not found: %+v", id, out.SandboxesNotFound)
	}
	return out.Sandboxes[0]
}

// waitSandbox waits until ok says the sandbox is as wanted.
func waitSandbox(t *testing.T, c *codebuild.Client, id string, what string, ok func(types.Sandbox) bool) types.Sandbox {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var sb types.Sandbox
	for time.Now().Before(deadline) {
		if sb = getSandbox(t, c, id); ok(sb) {
			return sb
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := json.Marshal(sb)
	t.Fatalf("sandbox %s never %s: %s", id, what, b)
	return sb
}

func sandboxPhase(sb types.Sandbox) string {
	if sb.CurrentSession == nil {
		return ""
	}
	return aws.ToString(sb.CurrentSession.CurrentPhase)
}

// waitCommand waits until a command execution has ended.
func waitCommand(t *testing.T, c *codebuild.Client, sandboxID, id string) types.CommandExecution {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out, err := c.BatchGetCommandExecutions(ctx, &codebuild.BatchGetCommandExecutionsInput{SandboxId: aws.String(sandboxID), CommandExecutionIds: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.CommandExecutions) != 1 {
			t.Fatalf("command %s not found", id)
		}
		if ce := out.CommandExecutions[0]; aws.ToString(ce.Status) == "SUCCEEDED" || aws.ToString(ce.Status) == "FAILED" {
			return ce
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("command %s did not end", id)
	return types.CommandExecution{}
}

func runCommand(t *testing.T, c *codebuild.Client, sandboxID, command string) types.CommandExecution {
	t.Helper()
	out, err := c.StartCommandExecution(ctx, &codebuild.StartCommandExecutionInput{SandboxId: aws.String(sandboxID), Command: aws.String(command), Type: types.CommandTypeShell})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.CommandExecution.Status); got != "SUBMITTED" {
		t.Errorf("StartCommandExecution: status %s, want SUBMITTED", got)
	}
	return waitCommand(t, c, sandboxID, aws.ToString(out.CommandExecution.Id))
}

// processesOf lists the processes whose environment names the sandbox.
func processesOf(id string) []string {
	var pids []string
	envs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, e := range envs {
		b, err := os.ReadFile(e)
		if err == nil && bytes.Contains(b, []byte("CODEBUILD_BUILD_ID="+id+"\x00")) {
			pids = append(pids, filepath.Base(filepath.Dir(e)))
		}
	}
	return pids
}

func TestSandbox(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	project(t, c, "sbx", "version: 0.2\nphases:\n  build:\n    commands:\n      - echo never run\n", func(in *codebuild.CreateProjectInput) {
		in.Environment.EnvironmentVariables = []types.EnvironmentVariable{{Name: aws.String("GREETING"), Value: aws.String("hello")}}
	})

	started, err := c.StartSandbox(ctx, &codebuild.StartSandboxInput{ProjectName: aws.String("sbx"), IdempotencyToken: aws.String("tok-1")})
	if err != nil {
		t.Fatal(err)
	}
	sb := *started.Sandbox
	id := aws.ToString(sb.Id)
	if aws.ToString(sb.Status) != "QUEUED" || !strings.HasPrefix(id, "sbx:") ||
		aws.ToString(sb.Arn) != "arn:aws:codebuild:us-east-1:000000000000:sandbox/"+id || aws.ToString(sb.ProjectName) != "sbx" {
		t.Fatalf("StartSandbox: %+v", sb)
	}
	again, err := c.StartSandbox(ctx, &codebuild.StartSandboxInput{ProjectName: aws.String("sbx"), IdempotencyToken: aws.String("tok-1")})
	if err != nil || aws.ToString(again.Sandbox.Id) != id {
		t.Fatalf("StartSandbox with the same idempotency token: %v %v", err, again)
	}
	sb = waitSandbox(t, c, aws.ToString(sb.Arn), "ran", func(sb types.Sandbox) bool {
		return aws.ToString(sb.Status) != "QUEUED" && sandboxPhase(sb) != "QUEUED" && sandboxPhase(sb) != "PROVISIONING" && sandboxPhase(sb) != "DOWNLOAD_SOURCE"
	})
	if aws.ToString(sb.Status) != "IN_PROGRESS" || sandboxPhase(sb) != "RUN_SANDBOX" || sb.StartTime == nil {
		b, _ := json.Marshal(sb)
		t.Fatalf("sandbox not running: %s\n%s", b, s.Stderr())
	}
	var phases []string
	for _, p := range sb.CurrentSession.Phases {
		phases = append(phases, aws.ToString(p.PhaseType)+"/"+string(p.PhaseStatus))
	}
	if got := strings.Join(phases, " "); got != "SUBMITTED/SUCCEEDED QUEUED/SUCCEEDED PROVISIONING/SUCCEEDED DOWNLOAD_SOURCE/SUCCEEDED RUN_SANDBOX/" {
		t.Errorf("phases: %s", got)
	}
	if l := sb.CurrentSession.Logs; l == nil || aws.ToString(l.StreamName) != aws.ToString(sb.CurrentSession.Id) {
		t.Errorf("session logs: %+v", l)
	}

	// Two commands in one shell session: a file and the working directory
	// carry over.
	first := runCommand(t, c, id, "echo hi > f; cd /tmp; echo to-stderr >&2")
	if aws.ToString(first.Status) != "SUCCEEDED" || aws.ToString(first.ExitCode) != "0" || first.StandardOutputContent != nil ||
		aws.ToString(first.StandardErrContent) != "to-stderr\n" || aws.ToString(first.SandboxArn) != aws.ToString(sb.Arn) ||
		first.StartTime == nil || first.EndTime == nil || first.Type != types.CommandTypeShell {
		b, _ := json.Marshal(first)
		t.Errorf("first command: %s", b)
	}
	second := runCommand(t, c, id, "cat $CODEBUILD_SRC_DIR/f; pwd; echo $GREETING")
	if aws.ToString(second.Status) != "SUCCEEDED" || aws.ToString(second.ExitCode) != "0" ||
		aws.ToString(second.StandardOutputContent) != "hi\n/tmp\nhello\n" || second.StandardErrContent != nil {
		b, _ := json.Marshal(second)
		t.Errorf("second command: %s", b)
	}
	failing := runCommand(t, c, id, "echo partial; exit 3")
	if aws.ToString(failing.Status) != "FAILED" || aws.ToString(failing.ExitCode) != "3" || aws.ToString(failing.StandardOutputContent) != "partial\n" {
		b, _ := json.Marshal(failing)
		t.Errorf("failing command: %s", b)
	}
	// The shell the exit ended is replaced; the directory carries on.
	if after := runCommand(t, c, id, "pwd"); aws.ToString(after.StandardOutputContent) != "/tmp\n" {
		t.Errorf("after exit: %+v", aws.ToString(after.StandardOutputContent))
	}
	if nf := runCommand(t, c, id, "no-such-command-xyz"); aws.ToString(nf.ExitCode) != "127" || !strings.Contains(aws.ToString(nf.StandardErrContent), "not found") {
		t.Errorf("unknown command: exit %s, stderr %q", aws.ToString(nf.ExitCode), aws.ToString(nf.StandardErrContent))
	}

	got, err := c.BatchGetCommandExecutions(ctx, &codebuild.BatchGetCommandExecutionsInput{SandboxId: aws.String(aws.ToString(sb.Arn)),
		CommandExecutionIds: []string{aws.ToString(first.Id), "no-such-command", aws.ToString(second.Id)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.CommandExecutions) != 2 || aws.ToString(got.CommandExecutions[0].Id) != aws.ToString(first.Id) ||
		len(got.CommandExecutionsNotFound) != 1 || got.CommandExecutionsNotFound[0] != "no-such-command" {
		t.Errorf("BatchGetCommandExecutions: %+v", got)
	}
	list, err := c.ListCommandExecutionsForSandbox(ctx, &codebuild.ListCommandExecutionsForSandboxInput{SandboxId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.CommandExecutions) != 5 || aws.ToString(list.CommandExecutions[0].Command) != "no-such-command-xyz" ||
		aws.ToString(list.CommandExecutions[4].Id) != aws.ToString(first.Id) {
		t.Errorf("ListCommandExecutionsForSandbox (newest first): %d", len(list.CommandExecutions))
	}
	page, err := c.ListCommandExecutionsForSandbox(ctx, &codebuild.ListCommandExecutionsForSandboxInput{SandboxId: aws.String(id), SortOrder: types.SortOrderTypeAscending, MaxResults: aws.Int32(2)})
	if err != nil || len(page.CommandExecutions) != 2 || page.NextToken == nil || aws.ToString(page.CommandExecutions[0].Id) != aws.ToString(first.Id) {
		t.Fatalf("first page: %v %+v", err, page)
	}
	page2, err := c.ListCommandExecutionsForSandbox(ctx, &codebuild.ListCommandExecutionsForSandboxInput{SandboxId: aws.String(id), SortOrder: types.SortOrderTypeAscending, MaxResults: aws.Int32(2), NextToken: page.NextToken})
	if err != nil || len(page2.CommandExecutions) != 2 || aws.ToString(page2.CommandExecutions[0].Command) != "echo partial; exit 3" {
		t.Errorf("second page: %v %+v", err, page2)
	}

	// A connection: the streamUrl runs commands in the same session.
	conn, err := c.StartSandboxConnection(ctx, &codebuild.StartSandboxConnectionInput{SandboxId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	ss := conn.SsmSession
	if ss == nil || aws.ToString(ss.SessionId) == "" || aws.ToString(ss.TokenValue) == "" || !strings.HasPrefix(aws.ToString(ss.StreamUrl), s.URL+"/sandbox-sessions/") {
		t.Fatalf("StartSandboxConnection: %+v", ss)
	}
	post := func(token, command string) (int, map[string]string) {
		req, _ := http.NewRequest(http.MethodPost, aws.ToString(ss.StreamUrl), strings.NewReader(command))
		req.Header.Set("X-Buildbatch-Sandbox-Token", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var out map[string]string
		json.Unmarshal(body, &out)
		return resp.StatusCode, out
	}
	if code, out := post(aws.ToString(ss.TokenValue), "pwd; cat f 2>&1; exit 4"); code != 200 || out["exitCode"] != "4" || out["stdout"] != "/tmp\ncat: can't open 'f': No such file or directory\n" && out["stdout"] != "/tmp\ncat: f: No such file or directory\n" {
		t.Errorf("connection command: %d %+v", code, out)
	}
	if code, _ := post("wrong", "true"); code != http.StatusForbidden {
		t.Errorf("wrong token: %d", code)
	}
	if l, _ := c.ListCommandExecutionsForSandbox(ctx, &codebuild.ListCommandExecutionsForSandboxInput{SandboxId: aws.String(id)}); l == nil || len(l.CommandExecutions) != 5 {
		t.Errorf("connection commands are listed")
	}

	// Listings.
	other, err := c.StartSandbox(ctx, &codebuild.StartSandboxInput{ProjectName: aws.String("sbx")})
	if err != nil {
		t.Fatal(err)
	}
	otherID := aws.ToString(other.Sandbox.Id)
	ids, err := c.ListSandboxes(ctx, &codebuild.ListSandboxesInput{})
	if err != nil || len(ids.Ids) != 2 || ids.Ids[0] != otherID || ids.Ids[1] != id {
		t.Errorf("ListSandboxes: %v %+v", err, ids)
	}
	forProject, err := c.ListSandboxesForProject(ctx, &codebuild.ListSandboxesForProjectInput{ProjectName: aws.String("sbx"), SortOrder: types.SortOrderTypeAscending})
	if err != nil || len(forProject.Ids) != 2 || forProject.Ids[0] != id {
		t.Errorf("ListSandboxesForProject: %v %+v", err, forProject)
	}
	both, err := c.BatchGetSandboxes(ctx, &codebuild.BatchGetSandboxesInput{Ids: []string{id, "sbx:no-such", otherID}})
	if err != nil || len(both.Sandboxes) != 2 || len(both.SandboxesNotFound) != 1 || both.SandboxesNotFound[0] != "sbx:no-such" {
		t.Errorf("BatchGetSandboxes: %v %+v", err, both)
	}

	// Errors.
	_, err = c.StartSandbox(ctx, &codebuild.StartSandboxInput{ProjectName: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException", "nope")
	_, err = c.ListSandboxesForProject(ctx, &codebuild.ListSandboxesForProjectInput{ProjectName: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException", "nope")
	_, err = c.StopSandbox(ctx, &codebuild.StopSandboxInput{Id: aws.String("sbx:no-such")})
	wantCode(t, err, "ResourceNotFoundException", "sbx:no-such")
	_, err = c.StartCommandExecution(ctx, &codebuild.StartCommandExecutionInput{SandboxId: aws.String("sbx:no-such"), Command: aws.String("true")})
	wantCode(t, err, "ResourceNotFoundException", "sbx:no-such")
	_, err = c.StartSandboxConnection(ctx, &codebuild.StartSandboxConnectionInput{SandboxId: aws.String("sbx:no-such")})
	wantCode(t, err, "ResourceNotFoundException", "sbx:no-such")
	_, err = c.ListCommandExecutionsForSandbox(ctx, &codebuild.ListCommandExecutionsForSandboxInput{SandboxId: aws.String("sbx:no-such")})
	wantCode(t, err, "ResourceNotFoundException", "sbx:no-such")
	// Another region's caller does not see the sandbox.
	_, err = s.Client(t, "test", "eu-west-1").StopSandbox(ctx, &codebuild.StopSandboxInput{Id: aws.String(aws.ToString(sb.Arn))})
	wantCode(t, err, "ResourceNotFoundException", "")

	// A command left running is killed with the sandbox.
	long, err := c.StartCommandExecution(ctx, &codebuild.StartCommandExecutionInput{SandboxId: aws.String(id), Command: aws.String("sleep 300")})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(processesOf(id)) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if len(processesOf(id)) == 0 && !s.docker && e2eExecutor != "docker" {
		t.Errorf("no process of the sandbox found")
	}
	stopped, err := c.StopSandbox(ctx, &codebuild.StopSandboxInput{Id: aws.String(id)})
	if err != nil || aws.ToString(stopped.Sandbox.Status) != "STOPPING" {
		t.Fatalf("StopSandbox: %v %+v", err, stopped)
	}
	sb = waitSandbox(t, c, id, "stopped", func(sb types.Sandbox) bool { return aws.ToString(sb.Status) == "STOPPED" })
	if sandboxPhase(sb) != "COMPLETED" || sb.EndTime == nil || aws.ToString(sb.CurrentSession.Status) != "STOPPED" {
		b, _ := json.Marshal(sb)
		t.Errorf("stopped sandbox: %s", b)
	}
	if ce := waitCommand(t, c, id, aws.ToString(long.CommandExecution.Id)); aws.ToString(ce.Status) != "FAILED" {
		t.Errorf("the command killed with its sandbox: %s", aws.ToString(ce.Status))
	}
	if left := processesOf(id); len(left) > 0 {
		t.Errorf("processes of the stopped sandbox: %v", left)
	}
	if s.docker || e2eExecutor == "docker" {
		left, err := dockertest.Containers(ctx, dockerClient(t), docker.LabelBuild+"="+id)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) > 0 {
			t.Errorf("containers left after StopSandbox: %v", left)
		}
	}
	if _, err := os.Stat(filepath.Join(s.DataDir, "builds", strings.TrimPrefix(id, "sbx:"))); !os.IsNotExist(err) {
		t.Errorf("the sandbox's workspace is still there: %v", err)
	}
	_, err = c.StartCommandExecution(ctx, &codebuild.StartCommandExecutionInput{SandboxId: aws.String(id), Command: aws.String("true")})
	wantCode(t, err, "InvalidInputException", "STOPPED")

	// The server's shutdown stops the other sandbox.
	waitSandbox(t, c, otherID, "ran", func(sb types.Sandbox) bool { return sandboxPhase(sb) == "RUN_SANDBOX" })
	s.Restart()
	if sb := getSandbox(t, c, otherID); aws.ToString(sb.Status) != "STOPPED" || sandboxPhase(sb) != "COMPLETED" {
		t.Errorf("after a restart: %s %s", aws.ToString(sb.Status), sandboxPhase(sb))
	}
	if left := processesOf(otherID); len(left) > 0 {
		t.Errorf("processes of the sandbox after shutdown: %v", left)
	}
}

// TestSandboxTimeout: a sandbox ends after its project's timeout.
func TestSandboxTimeout(t *testing.T) {
	// One sandbox at a time on this node: the second waits QUEUED, past
	// its queued timeout.
	s := Start(t, "--timeout-minute", "1s", "--max-concurrent-builds", "1")
	c := s.Client(t, "test", "us-east-1")
	project(t, c, "sbt", "version: 0.2\nphases:\n  build:\n    commands:\n      - echo\n", func(in *codebuild.CreateProjectInput) {
		in.TimeoutInMinutes = aws.Int32(8) // outlives the other's queued timeout
	})
	project(t, c, "sbq", "version: 0.2\nphases:\n  build:\n    commands:\n      - echo\n", func(in *codebuild.CreateProjectInput) {
		in.QueuedTimeoutInMinutes = aws.Int32(5)
	})
	out, err := c.StartSandbox(ctx, &codebuild.StartSandboxInput{ProjectName: aws.String("sbt")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.Sandbox.Id)
	waitSandbox(t, c, id, "running", func(sb types.Sandbox) bool { return sandboxPhase(sb) == "RUN_SANDBOX" })
	second, err := c.StartSandbox(ctx, &codebuild.StartSandboxInput{ProjectName: aws.String("sbq")})
	if err != nil {
		t.Fatal(err)
	}
	waiting := waitSandbox(t, c, aws.ToString(second.Sandbox.Id), "ended", func(sb types.Sandbox) bool { return aws.ToString(sb.Status) == "STOPPED" })
	if ph := waiting.CurrentSession.Phases; len(ph) < 2 || aws.ToString(ph[len(ph)-2].PhaseType) != "QUEUED" || ph[len(ph)-2].PhaseStatus != types.StatusTypeTimedOut ||
		aws.ToString(waiting.CurrentSession.Status) != "TIMED_OUT" {
		b, _ := json.Marshal(waiting)
		t.Errorf("the sandbox that waited past its queued timeout: %s", b)
	}
	sb := waitSandbox(t, c, id, "ended", func(sb types.Sandbox) bool {
		return aws.ToString(sb.Status) == "STOPPED" || aws.ToString(sb.Status) == "FAILED"
	})
	ph := sb.CurrentSession.Phases
	last := ph[len(ph)-2]
	if aws.ToString(sb.Status) != "STOPPED" || aws.ToString(last.PhaseType) != "RUN_SANDBOX" || last.PhaseStatus != types.StatusTypeTimedOut ||
		len(last.Contexts) != 1 || aws.ToString(last.Contexts[0].StatusCode) != "BUILD_TIMED_OUT" || aws.ToString(sb.CurrentSession.Status) != "TIMED_OUT" {
		b, _ := json.Marshal(sb)
		t.Errorf("timed out sandbox: %s", b)
	}
	if left := processesOf(id); len(left) > 0 {
		t.Errorf("processes of the timed out sandbox: %v", left)
	}
}
