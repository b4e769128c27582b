package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codebuild/types"
	"github.com/moby/moby/client"

	"github.com/buildbatch/buildbatch/internal/executor/docker"
	"github.com/buildbatch/buildbatch/internal/executor/docker/dockertest"
)

// startDocker starts a server on the docker executor whose own environment
// carries a canary no build may see.
func startDocker(t *testing.T, args ...string) (*Server, *client.Client) {
	t.Helper()
	cli := dockerClient(t)
	t.Setenv("BUILDBATCH_CANARY", "canary-from-the-server")
	s := Start(t, append(dockerArgs(), args...)...)
	s.docker = true
	return s, cli
}

// buildContainer waits for the build's container and returns its id.
func buildContainer(t *testing.T, cli *client.Client, buildID string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ids, err := dockertest.Containers(context.Background(), cli, docker.LabelBuild+"="+buildID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) > 0 {
			return strings.Fields(ids[0])[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no container for build %s", buildID)
	return ""
}

func noContainer(t *testing.T, cli *client.Client, buildID string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ids, err := dockertest.Containers(context.Background(), cli, docker.LabelBuild+"="+buildID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("build %s left containers %v", buildID, ids)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDockerBuildIsIsolated(t *testing.T) {
	s, cli := startDocker(t)
	c := s.Client(t, "test", "us-east-1")
	secrets := s.DataDir + "/../secrets.json"
	project(t, c, "iso", `version: 0.2
env:
  variables:
    FROM_BUILDSPEC: buildspec
phases:
  build:
    commands:
      - cat /etc/buildbatch-image
      - echo "src=$CODEBUILD_SRC_DIR pwd=$(pwd) image=$CODEBUILD_BUILD_IMAGE"
      - env | sort
      - if [ -e "`+s.DataDir+`" ]; then echo "DATA DIR VISIBLE"; exit 1; fi
      - if [ -e "`+secrets+`" ]; then echo "SECRETS VISIBLE"; exit 1; fi
      - if [ -e /var/run/docker.sock ]; then echo "DOCKER SOCKET VISIBLE"; exit 1; fi
      - echo built > result.txt
artifacts:
  files: [result.txt]
`, func(in *codebuild.CreateProjectInput) {
		in.Environment.EnvironmentVariables = []types.EnvironmentVariable{{Name: aws.String("FROM_PROJECT"), Value: aws.String("project")}}
		in.Artifacts = &types.ProjectArtifacts{Type: types.ArtifactsTypeS3, Location: aws.String("out-bucket"), Name: aws.String("iso"), Packaging: types.ArtifactPackagingNone}
	})
	b := start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("iso")})
	id := aws.ToString(b.Id)
	done := waitBuild(t, c, id)
	text := logText(t, s, id)
	if done.BuildStatus != types.StatusTypeSucceeded || phaseTable(done) != okPhases {
		t.Fatalf("build %s %s:\n%s", done.BuildStatus, phaseTable(done), text)
	}
	for _, want := range []string{"image A", "src=/codebuild/output/src", "image=aws/codebuild/standard:7.0",
		"FROM_BUILDSPEC=buildspec", "FROM_PROJECT=project", "CODEBUILD_BUILD_ID=" + id, "HOME=/root",
		"Running on buildbatch (docker executor)", "Compute BUILD_GENERAL1_SMALL"} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "canary-from-the-server") || strings.Contains(text, "BUILDBATCH_CANARY") {
		t.Errorf("the server's environment leaked into the container:\n%s", text)
	}
	if data, err := s.Object(t, "out-bucket", "iso/result.txt"); err != nil || string(data) != "built\n" {
		t.Errorf("artifact copied out of the container: %q %v", data, err)
	}
	noContainer(t, cli, id)
}

func TestDockerComputeStopAndTimeout(t *testing.T) {
	s, cli := startDocker(t, "--timeout-minute", "300ms")
	c := s.Client(t, "test", "us-east-1")
	project(t, c, "sleepy", "version: 0.2\nphases:\n  build:\n    commands:\n      - echo sleeping\n      - sleep 600\n")

	// computeType is the container's limits (capped by this host).
	b := start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("sleepy"), ComputeTypeOverride: types.ComputeTypeBuildGeneral1Medium})
	id := aws.ToString(b.Id)
	waitPhase(t, c, id, "BUILD")
	cid := buildContainer(t, cli, id)
	res, err := cli.ContainerInspect(context.Background(), cid, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cli.Info(context.Background(), client.InfoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := docker.ComputeLimits("LINUX_CONTAINER", "BUILD_GENERAL1_MEDIUM", info.Info.NCPU, info.Info.MemTotal)
	hc := res.Container.HostConfig
	if hc.Memory != want.MemoryMB<<20 || hc.NanoCPUs != int64(want.CPUs*1e9) || want.MemoryMB == 0 {
		t.Errorf("container limits memory %d nanocpus %d, want %v", hc.Memory, hc.NanoCPUs, want)
	}
	if hc.Privileged || len(hc.Binds) > 0 || len(res.Container.Mounts) > 0 {
		t.Errorf("privileged %v binds %v mounts %v", hc.Privileged, hc.Binds, res.Container.Mounts)
	}

	// Attribute-based compute: computeConfiguration's vCpu and memory are
	// the limits.
	project(t, c, "attributes", "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 600\n", func(in *codebuild.CreateProjectInput) {
		in.Environment.ComputeType = types.ComputeTypeAttributeBasedCompute
		in.Environment.ComputeConfiguration = &types.ComputeConfiguration{VCpu: aws.Int64(1), Memory: aws.Int64(1)}
	})
	ab := start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("attributes")})
	waitPhase(t, c, aws.ToString(ab.Id), "BUILD")
	ares, err := cli.ContainerInspect(context.Background(), buildContainer(t, cli, aws.ToString(ab.Id)), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if hc := ares.Container.HostConfig; hc.NanoCPUs != 1e9 || hc.Memory != 1<<30 {
		t.Errorf("attribute-based compute: memory %d nanocpus %d, want 1 GiB and 1 vCPU", hc.Memory, hc.NanoCPUs)
	}
	if _, err := c.StopBuild(ctx, &codebuild.StopBuildInput{Id: ab.Id}); err != nil {
		t.Fatal(err)
	}

	// StopBuild removes the container.
	out, err := c.StopBuild(ctx, &codebuild.StopBuildInput{Id: b.Id})
	if err != nil || out.Build.BuildStatus != types.StatusTypeStopped {
		t.Fatalf("StopBuild: %v %v", out, err)
	}
	noContainer(t, cli, id)

	// A timeout removes it too.
	b = start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("sleepy"), TimeoutInMinutesOverride: aws.Int32(5)})
	tb := waitBuild(t, c, aws.ToString(b.Id))
	if tb.BuildStatus != types.StatusTypeTimedOut {
		t.Errorf("timed-out build: %s %s", tb.BuildStatus, phaseTable(tb))
	}
	noContainer(t, cli, aws.ToString(b.Id))
}

func TestDockerMissingImage(t *testing.T) {
	s, _ := startDocker(t)
	c := s.Client(t, "test", "us-east-1")
	project(t, c, "noimage", "version: 0.2\nphases:\n  build:\n    commands:\n      - echo never\n")
	for _, img := range []string{"aws/codebuild/standard:6.0", "buildbatch-test/not-there:1", "aws/codebuild/amazonlinux2-x86_64-standard:5.0"} {
		b := start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("noimage"), ImageOverride: aws.String(img)})
		done := waitBuild(t, c, aws.ToString(b.Id))
		p := phase(done, types.BuildPhaseTypeProvisioning)
		if done.BuildStatus != types.StatusTypeFailed || p == nil || p.PhaseStatus != types.StatusTypeFailed || len(p.Contexts) != 1 {
			t.Fatalf("%s: build %s %s", img, done.BuildStatus, phaseTable(done))
		}
		msg := aws.ToString(p.Contexts[0].Message)
		if aws.ToString(p.Contexts[0].StatusCode) != "BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE" || !strings.Contains(msg, img) || !strings.Contains(msg, "--image-map "+img+"=IMAGE") {
			t.Errorf("%s: context %s: %s", img, aws.ToString(p.Contexts[0].StatusCode), msg)
		}
		if !strings.HasSuffix(phaseTable(done), "PROVISIONING:FAILED FINALIZING:SUCCEEDED COMPLETED") {
			t.Errorf("%s: phases %s", img, phaseTable(done))
		}
	}
}

func TestDockerBatchWithTwoImages(t *testing.T) {
	s, _ := startDocker(t)
	c := s.Client(t, "test", "us-east-1")
	batchProject(t, c, "two-images", `version: 0.2
batch:
  build-list:
    - identifier: on_a
      env:
        image: `+dockertest.ImageA+`
    - identifier: on_b
      env:
        image: `+dockertest.ImageB+`
phases:
  build:
    commands:
      - echo "$CODEBUILD_BATCH_BUILD_IDENTIFIER runs on $(cat /etc/buildbatch-image)"
`)
	bb := startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("two-images")})
	done := waitBatch(t, c, aws.ToString(bb.Id))
	if done.BuildBatchStatus != types.StatusTypeSucceeded {
		t.Fatalf("batch %s: %s", done.BuildBatchStatus, groups(done))
	}
	for id, want := range map[string]string{"on_a": "on_a runs on image A", "on_b": "on_b runs on image B"} {
		b := buildOfGroup(t, c, done, id)
		if text := logText(t, s, aws.ToString(b.Id)); !strings.Contains(text, want) {
			t.Errorf("%s: log lacks %q:\n%s", id, want, text)
		}
		if aws.ToString(b.Environment.Image) == "" {
			t.Errorf("%s: no image recorded", id)
		}
	}
}

func TestDockerServerKilledMidBuild(t *testing.T) {
	s, cli := startDocker(t)
	c := s.Client(t, "test", "us-east-1")
	project(t, c, "killed", "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 600\n")
	b := start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("killed")})
	id := aws.ToString(b.Id)
	waitPhase(t, c, id, "BUILD")
	buildContainer(t, cli, id)
	s.RestartAfterKill()
	c = s.Client(t, "test", "us-east-1")
	done := waitBuild(t, c, id)
	if done.BuildStatus != types.StatusTypeFault {
		t.Errorf("build after the crash: %s", done.BuildStatus)
	}
	noContainer(t, cli, id)
	// Nor its workspace.
	ents, _ := os.ReadDir(filepath.Join(s.DataDir, "builds"))
	for _, e := range ents {
		if e.Name() != ".bin" {
			t.Errorf("workspace left after the crash: %s", e.Name())
		}
	}
}

func TestDockerBoto3AndAWSCLI(t *testing.T) {
	s, _ := startDocker(t)
	s.Python(t, "test_builds")
	_, err := s.AWS(t, "test", "codebuild", "create-project", "--name", "cli-docker",
		"--source", `{"type":"NO_SOURCE","buildspec":"version: 0.2\nphases:\n  build:\n    commands:\n      - cat /etc/buildbatch-image\n"}`,
		"--artifacts", "type=NO_ARTIFACTS",
		"--environment", "type=LINUX_CONTAINER,image="+dockertest.ImageB+",computeType=BUILD_GENERAL1_SMALL",
		"--service-role", "r")
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.AWS(t, "test", "codebuild", "start-build", "--project-name", "cli-docker", "--query", "build.id", "--output", "text")
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(string(out))
	waitBuild(t, s.Client(t, "test", "us-east-1"), id)
	out, err = s.AWS(t, "test", "codebuild", "batch-get-builds", "--ids", id, "--query", "builds[0].[buildStatus,environment.image]", "--output", "text")
	if err != nil || !strings.Contains(string(out), "SUCCEEDED") || !strings.Contains(string(out), dockertest.ImageB) {
		t.Errorf("batch-get-builds: %s %v", out, err)
	}
	if text := logText(t, s, id); !strings.Contains(text, "image B") {
		t.Errorf("log: %s", text)
	}
	// A missing image, as the aws cli sees it.
	out, err = s.AWS(t, "test", "codebuild", "start-build", "--project-name", "cli-docker", "--image-override", "aws/codebuild/standard:5.0", "--query", "build.id", "--output", "text")
	if err != nil {
		t.Fatal(err)
	}
	id = strings.TrimSpace(string(out))
	waitBuild(t, s.Client(t, "test", "us-east-1"), id)
	out, err = s.AWS(t, "test", "codebuild", "batch-get-builds", "--ids", id, "--query", "builds[0].phases[?phaseType=='PROVISIONING'].contexts[0].statusCode", "--output", "text")
	if err != nil || strings.TrimSpace(string(out)) != "BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE" {
		t.Errorf("provisioning context: %s %v", out, err)
	}
}

func TestDockerEngineUnreachable(t *testing.T) {
	cmd := exec.Command(binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--executor", "docker")
	cmd.Env = append(cleanEnv(), "DOCKER_HOST=unix:///nonexistent/docker.sock")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "cannot reach the Docker Engine at unix:///nonexistent/docker.sock") {
		t.Errorf("serve with no engine: %v: %s", err, out)
	}
}

func TestLocalBuildEnvironmentIsClean(t *testing.T) {
	t.Setenv("BUILDBATCH_CANARY", "canary-from-the-server")
	t.Setenv("PIP_INDEX_URL", "http://pip.invalid/simple")
	s := Start(t, "--executor", "local")
	c := s.Client(t, "test", "us-east-1")
	project(t, c, "clean", "version: 0.2\nphases:\n  build:\n    commands:\n      - env | sort\n")
	id := aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("clean")}).Id)
	if b := waitBuild(t, c, id); b.BuildStatus != types.StatusTypeSucceeded {
		t.Fatalf("build %s", b.BuildStatus)
	}
	text := logText(t, s, id)
	if strings.Contains(text, "canary-from-the-server") || strings.Contains(text, "PIP_INDEX_URL") {
		t.Errorf("the server's environment leaked into a local build:\n%s", text)
	}
	for _, want := range []string{"\nPATH=", "\nHOME=", "\nCODEBUILD_BUILD_ID=" + id} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %q:\n%s", want, text)
		}
	}
}
