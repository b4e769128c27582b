package docker

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/buildbatch/buildbatch/internal/executor"
	"github.com/buildbatch/buildbatch/internal/executor/docker/dockertest"
	"github.com/buildbatch/buildbatch/internal/executor/executortest"
)

// engine connects to the Docker Engine; the machines that run the tests
// have one, so its absence fails the test unless BUILDBATCH_NO_DOCKER=1.
func engine(t *testing.T) *Executor {
	t.Helper()
	if os.Getenv("BUILDBATCH_NO_DOCKER") == "1" {
		t.Skip("BUILDBATCH_NO_DOCKER=1")
	}
	x, err := New(context.Background(), Options{Instance: "test-" + t.Name(), ImageMap: map[string]string{"aws/codebuild/standard:7.0": dockertest.ImageA}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	if err := dockertest.Standard(context.Background(), x.Client()); err != nil {
		t.Fatal(err)
	}
	return x
}

func TestConformance(t *testing.T) {
	x := engine(t)
	executortest.Run(t, executortest.Setup{Executor: x, Image: dockertest.ImageA,
		Leftovers: func(t *testing.T, id string) []string {
			return executortest.Eventually(func() []string {
				left, err := dockertest.Containers(context.Background(), x.Client(), LabelBuild+"="+id)
				if err != nil {
					return []string{err.Error()}
				}
				return left
			})
		}})
}

func TestImages(t *testing.T) {
	x := engine(t)
	ctx := context.Background()
	cases := []struct {
		image, want, code, msg string
	}{
		{dockertest.ImageB, "image B", "", ""},
		{"aws/codebuild/standard:7.0", "image A", "", ""}, // mapped
		{"aws/codebuild/standard:6.0", "", executor.CodeImagePull, "docker build -t aws/codebuild/standard:6.0"},
		{"aws/codebuild/amazonlinux2-x86_64-standard:5.0", "", executor.CodeImagePull, "public.ecr.aws/codebuild/amazonlinux2-x86_64-standard:5.0"},
		{"buildbatch-test/no-such-image:1", "", executor.CodeImagePull, "--image-map buildbatch-test/no-such-image:1=IMAGE"},
	}
	for _, c := range cases {
		t.Run(c.image, func(t *testing.T) {
			id := "images:" + strings.NewReplacer("/", "-", ":", "-").Replace(c.image)
			l := x.Layout(id, "", nil)
			env, err := x.Open(ctx, executor.Spec{BuildID: id, Layout: l, Image: c.image, EnvironmentType: "LINUX_CONTAINER", ComputeType: "BUILD_GENERAL1_MEDIUM"})
			if c.code != "" {
				pe, ok := err.(*executor.ProvisionError)
				if !ok || pe.Code != c.code || !strings.Contains(pe.Msg, c.msg) {
					t.Fatalf("Open = %v, want %s mentioning %q", err, c.code, c.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer env.Close()
			var out executortest.Buffer
			if err := env.Start(ctx, executor.Shell{Output: &out}); err != nil {
				t.Fatal(err)
			}
			if rc, err := env.Exec(ctx, "cat /etc/buildbatch-image", ""); rc != 0 || err != nil {
				t.Fatal(rc, err)
			}
			if !strings.Contains(out.String(), c.want) {
				t.Errorf("ran in %q, want %q", out.String(), c.want)
			}
		})
	}
}

func TestComputeLimitsOnTheContainer(t *testing.T) {
	x := engine(t)
	ctx := context.Background()
	id := "compute:medium"
	env, err := x.Open(ctx, executor.Spec{BuildID: id, Layout: x.Layout(id, "", nil), Image: dockertest.ImageA,
		EnvironmentType: "LINUX_CONTAINER", ComputeType: "BUILD_GENERAL1_MEDIUM"})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	res, err := x.Client().ContainerInspect(ctx, env.(*dockerEnv).id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hc := res.Container.HostConfig
	want := ComputeLimits("LINUX_CONTAINER", "BUILD_GENERAL1_MEDIUM", x.hostCPUs, x.hostMem)
	if hc.Memory != want.MemoryMB<<20 || hc.NanoCPUs != int64(want.CPUs*1e9) || hc.Privileged {
		t.Errorf("memory %d, cpus %d, privileged %v; want %v", hc.Memory, hc.NanoCPUs, hc.Privileged, want)
	}
	if len(hc.Binds) > 0 || len(res.Container.Mounts) > 0 || len(hc.Mounts) > 0 {
		t.Errorf("host paths in the container: %v %v", hc.Binds, res.Container.Mounts)
	}
	if res.Container.Config.Labels[LabelBuild] != id {
		t.Errorf("labels %v", res.Container.Config.Labels)
	}
}

func TestContainerConfig(t *testing.T) {
	for _, priv := range []bool{false, true} {
		spec := executor.Spec{BuildID: "p:1", Layout: executor.Layout{Src: "/codebuild/output/src1/src", Tmp: "/codebuild/output/tmp"}, Privileged: priv}
		cfg, hc := containerConfig(spec, "img", "inst", "tok", Limits{CPUs: 2, MemoryMB: 3072})
		if hc.Privileged != priv || len(hc.Binds) > 0 || len(hc.Tmpfs) != 1 || len(hc.Mounts) > 0 || hc.Memory != 3072<<20 || hc.NanoCPUs != 2e9 {
			t.Errorf("privileged %v: host config %+v", priv, hc)
		}
		if cfg.User != "0" || cfg.WorkingDir != spec.Layout.Src || cfg.Labels[LabelInstance] != "inst" || cfg.Entrypoint[0] != "/bin/sh" {
			t.Errorf("config %+v", cfg)
		}
	}
}

func TestUnsupportedEnvironmentTypes(t *testing.T) {
	x := engine(t)
	for _, typ := range []string{"WINDOWS_SERVER_2019_CONTAINER", "MAC_ARM", "LINUX_EC2"} {
		_, err := x.Open(context.Background(), executor.Spec{BuildID: "types:" + typ, Layout: x.Layout("types:"+typ, "", nil), Image: dockertest.ImageA, EnvironmentType: typ})
		pe, ok := err.(*executor.ProvisionError)
		if !ok || !strings.Contains(pe.Msg, typ) {
			t.Errorf("%s: Open = %v, want a ProvisionError naming the type", typ, err)
		}
	}
}

// The buildspec's run-as runs the whole session as that user of the image.
func TestSessionUser(t *testing.T) {
	x := engine(t)
	ctx := context.Background()
	for _, shell := range []string{"sh", "bash"} {
		id := "user:session-" + shell
		env, err := x.Open(ctx, executor.Spec{BuildID: id, Layout: x.Layout(id, "", nil), Image: dockertest.ImageA, EnvironmentType: "LINUX_CONTAINER"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { env.Close() })
		var out executortest.Buffer
		if err := env.Start(ctx, executor.Shell{Shell: shell, User: "codebuild-user", Output: &out, Env: []string{"A=1"}}); err != nil {
			t.Fatal(err)
		}
		for _, cmd := range []string{"export B=2; cd /tmp", `echo "uid=$(id -u) A=$A B=$B pwd=$(pwd)"`} {
			if rc, err := env.Exec(ctx, cmd, ""); rc != 0 || err != nil {
				t.Fatalf("%s: %q: %d %v: %s", shell, cmd, rc, err, out.String())
			}
		}
		env.Close()
		if !strings.Contains(out.String(), "uid=1000 A=1 B=2 pwd=/tmp") {
			t.Errorf("%s: %s", shell, out.String())
		}
	}
}
