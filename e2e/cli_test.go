package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codebuild/types"
)

// runCLI runs the buildbatch binary with a clean environment plus env and
// returns its stdout, stderr and exit code.
func runCLI(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(cleanEnv(), env...)
	return runCmd(t, cmd)
}

// runCmd runs a command of the buildbatch binary (for at most 90 s) and
// returns its stdout, stderr and exit code.
func runCmd(t *testing.T, cmd *exec.Cmd) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s did not end:\n%s\n%s", strings.Join(cmd.Args, " "), stdout.String(), stderr.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// inOrder checks that text has each of wants, one after the other.
func inOrder(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	rest := text
	for _, w := range wants {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("%s: no %q in order in:\n%s", what, w, text)
			return
		}
		rest = rest[i+len(w):]
	}
}

func TestLogsCLI(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	batchProject(t, c, "pair", `version: 0.2
batch:
  build-graph:
    - identifier: a
    - identifier: b
      depend-on: [a]
phases:
  build:
    commands:
      - echo "from-$CODEBUILD_BATCH_BUILD_IDENTIFIER"
`)
	project(t, c, "failing", "version: 0.2\nphases:\n  build:\n    commands:\n      - echo about-to-fail\n      - exit 3\n")
	endpoint := []string{"--endpoint-url", s.URL}

	t.Run("batch after it completed", func(t *testing.T) {
		started := startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("pair")})
		b := waitBatch(t, c, aws.ToString(started.Id))
		if b.BuildBatchStatus != types.StatusTypeSucceeded {
			t.Fatalf("batch %s: %s", b.BuildBatchStatus, groups(b))
		}
		for _, id := range []string{aws.ToString(b.Id), aws.ToString(b.Arn)} {
			out, errOut, code := runCLI(t, nil, append([]string{"logs"}, append(endpoint, id)...)...)
			if code != 0 || errOut != "" {
				t.Errorf("logs %s: exit %d, stderr %s", id, code, errOut)
			}
			inOrder(t, "batch log", out, "\na | from-a\n", "\nb | from-b\n")
			for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				if !strings.HasPrefix(line, "a | ") && !strings.HasPrefix(line, "b | ") && !strings.HasPrefix(line, "DOWNLOAD_SOURCE | ") {
					t.Errorf("line without a member prefix: %q", line)
				}
			}
		}

		out, errOut, code := runCLI(t, nil, append([]string{"watch"}, append(endpoint, aws.ToString(b.Id))...)...)
		if code != 0 || errOut != "" || !strings.Contains(out, "SUCCEEDED") || !strings.Contains(out, "\na ") || !strings.Contains(out, "\nb ") {
			t.Errorf("watch: exit %d, stderr %s, stdout:\n%s", code, errOut, out)
		}
	})

	t.Run("failing build", func(t *testing.T) {
		b := start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("failing")})
		out, errOut, code := runCLI(t, nil, append([]string{"logs", "-f"}, append(endpoint, aws.ToString(b.Id))...)...)
		if code != 1 || !strings.Contains(out, "\nabout-to-fail\n") || strings.Contains(out, "buildbatch logs:") ||
			strings.TrimSpace(errOut) != "buildbatch logs: build "+aws.ToString(b.Id)+" FAILED" {
			t.Errorf("logs -f: exit %d, stderr %q, stdout:\n%s", code, errOut, out)
		}
		// Without --follow, once complete, also 1.
		if _, _, code := runCLI(t, nil, append([]string{"logs"}, append(endpoint, aws.ToString(b.Id))...)...); code != 1 {
			t.Errorf("logs of a failed build: exit %d", code)
		}
	})

	t.Run("follow a batch just started", func(t *testing.T) {
		started := startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("pair")})
		out, errOut, code := runCLI(t, nil, append([]string{"logs", "--follow"}, append(endpoint, aws.ToString(started.Id))...)...)
		if code != 0 || errOut != "" {
			t.Errorf("logs --follow: exit %d, stderr %s", code, errOut)
		}
		t.Logf("logs --follow:\n%s", out)
		inOrder(t, "followed batch log", out, "\na | from-a\n", "\nb | from-b\n")
		if b := getBatch(t, c, aws.ToString(started.Id)); !b.Complete {
			t.Errorf("logs --follow ended before the batch: %s", b.BuildBatchStatus)
		}
	})

	t.Run("watch a batch just started", func(t *testing.T) {
		started := startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("pair")})
		out, errOut, code := runCLI(t, nil, append([]string{"watch"}, append(endpoint, aws.ToString(started.Id))...)...)
		if code != 0 || errOut != "" || !strings.Contains(out, "SUCCEEDED") || !strings.Contains(out, "\na ") || !strings.Contains(out, "\nb ") {
			t.Errorf("watch: exit %d, stderr %s, stdout:\n%s", code, errOut, out)
		}
		t.Logf("watch:\n%s", out)
		if strings.Contains(out, "\x1b[") {
			t.Errorf("watch to a pipe used terminal escapes:\n%q", out)
		}
	})

	t.Run("AWS_PROFILE", func(t *testing.T) {
		b := start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("pair")})
		waitBuild(t, c, aws.ToString(b.Id))
		dir := t.TempDir()
		cfg := filepath.Join(dir, "config")
		creds := filepath.Join(dir, "credentials")
		if err := os.WriteFile(cfg, []byte("[default]\nregion = eu-west-1\n\n[profile local]\nregion = us-east-1\nendpoint_url = "+s.URL+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(creds, []byte("[local]\naws_access_key_id = test\naws_secret_access_key = test\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		env := []string{"AWS_PROFILE=local", "AWS_CONFIG_FILE=" + cfg, "AWS_SHARED_CREDENTIALS_FILE=" + creds}
		out, errOut, code := runCLI(t, env, "logs", aws.ToString(b.Id))
		if code != 0 || errOut != "" || !strings.Contains(out, "\nfrom-\n") {
			t.Errorf("logs with AWS_PROFILE: exit %d, stderr %q, stdout:\n%s", code, errOut, out)
		}
	})

	t.Run("no server", func(t *testing.T) {
		out, errOut, code := runCLI(t, nil, "logs", "--endpoint-url", "http://127.0.0.1:1", "x")
		if code == 0 || out != "" || !strings.Contains(errOut, "is the server running? start it with: buildbatch serve") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
}
