package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/moby/client"

	"github.com/buildbatch/buildbatch/internal/executor/docker"
	"github.com/buildbatch/buildbatch/internal/executor/docker/dockertest"
	"github.com/buildbatch/buildbatch/internal/ident"
)

// e2eExecutor is the executor every server of the suite runs builds on:
// BUILDBATCH_E2E_EXECUTOR=docker runs the whole suite in containers (the
// image every test names, aws/codebuild/standard:7.0, mapped to a busybox
// test image). The Docker-specific tests run whatever it is.
var e2eExecutor = os.Getenv("BUILDBATCH_E2E_EXECUTOR")

// executorArgs are the serve flags of the suite's executor.
func executorArgs() []string {
	if e2eExecutor == "docker" {
		return dockerArgs()
	}
	return nil
}

func dockerArgs() []string {
	return []string{"--executor", "docker", "--image-map", "aws/codebuild/standard:7.0=" + dockertest.ImageA,
		"--image-map", "img=" + dockertest.ImageA, "--image-map", "i=" + dockertest.ImageA, "--docker-helpers", staticBinary}
}

// dockerClient connects to the Engine and builds the test images; the
// machines that run the suite have an Engine, so its absence fails the
// test unless BUILDBATCH_NO_DOCKER=1.
func dockerClient(t *testing.T) *client.Client {
	t.Helper()
	if os.Getenv("BUILDBATCH_NO_DOCKER") == "1" {
		t.Skip("BUILDBATCH_NO_DOCKER=1")
	}
	cli, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	if err := dockertest.Standard(context.Background(), cli); err != nil {
		t.Fatal(err)
	}
	return cli
}

// containersOf lists the containers of the server's instance.
func (s *Server) containersOf(t *testing.T, cli *client.Client) []string {
	t.Helper()
	abs, _ := filepath.Abs(s.DataDir)
	left, err := dockertest.Containers(context.Background(), cli, docker.LabelInstance+"="+ident.Hash(abs))
	if err != nil {
		t.Fatal(err)
	}
	return left
}

// checkNoContainers fails the test if the server left a container (run
// after it stopped).
func (s *Server) checkNoContainers() {
	if e2eExecutor != "docker" && !s.docker {
		return
	}
	cli, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		s.t.Error(err)
		return
	}
	defer cli.Close()
	if left := s.containersOf(s.t, cli); len(left) > 0 {
		s.t.Errorf("containers left behind: %v", left)
		abs, _ := filepath.Abs(s.DataDir)
		dockertest.RemoveAll(context.Background(), cli, docker.LabelInstance+"="+ident.Hash(abs))
	}
}

// privilegedMatrix is the matrix test's privileged-mode: the Docker Engine
// of the project's machines (itself in a container) refuses privileged
// containers, so on the docker executor the matrix runs unprivileged.
var privilegedMatrix = map[bool]string{true: "false", false: "true"}[e2eExecutor == "docker"]
