package docker

import (
	"reflect"
	"testing"
)

func TestComputeLimits(t *testing.T) {
	const gib = int64(1) << 30
	cases := []struct {
		env, compute string
		cpus         int
		mem          int64
		want         Limits
	}{
		{"LINUX_CONTAINER", "BUILD_GENERAL1_SMALL", 64, 256 * gib, Limits{CPUs: 2, MemoryMB: 3 * 1024}},
		{"LINUX_CONTAINER", "BUILD_GENERAL1_MEDIUM", 64, 256 * gib, Limits{CPUs: 4, MemoryMB: 7 * 1024}},
		{"LINUX_CONTAINER", "BUILD_GENERAL1_LARGE", 2, 24 * gib, Limits{CPUs: 2, MemoryMB: 15 * 1024, Capped: true}},
		{"LINUX_CONTAINER", "BUILD_GENERAL1_2XLARGE", 2, 24 * gib, Limits{CPUs: 2, MemoryMB: 24 * 1024, Capped: true}},
		{"ARM_CONTAINER", "BUILD_GENERAL1_XLARGE", 64, 256 * gib, Limits{CPUs: 32, MemoryMB: 64 * 1024}},
		{"LINUX_GPU_CONTAINER", "BUILD_GENERAL1_SMALL", 64, 256 * gib, Limits{CPUs: 4, MemoryMB: 16 * 1024}},
		{"LINUX_LAMBDA_CONTAINER", "BUILD_LAMBDA_2GB", 64, 256 * gib, Limits{MemoryMB: 2 * 1024}},
		{"LINUX_CONTAINER", "ATTRIBUTE_BASED_COMPUTE", 64, 256 * gib, Limits{}},
	}
	for _, c := range cases {
		if got := ComputeLimits(c.env, c.compute, c.cpus, c.mem); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %s: %+v, want %+v", c.env, c.compute, got, c.want)
		}
	}
}

func TestAttributeLimits(t *testing.T) {
	const gib = int64(1) << 30
	cases := []struct {
		vcpus, memGB int64
		cpus         int
		mem          int64
		want         Limits
	}{
		{4, 8, 64, 256 * gib, Limits{CPUs: 4, MemoryMB: 8 * 1024}},
		{4, 0, 64, 256 * gib, Limits{CPUs: 4}},
		{0, 8, 64, 256 * gib, Limits{MemoryMB: 8 * 1024}},
		{16, 64, 2, 24 * gib, Limits{CPUs: 2, MemoryMB: 24 * 1024, Capped: true}},
		{-1, -5, 2, 24 * gib, Limits{}},
		{1 << 62, 1 << 62, 2, 24 * gib, Limits{CPUs: 2, MemoryMB: 24 * 1024, Capped: true}},
	}
	for _, c := range cases {
		if got := AttributeLimits(c.vcpus, c.memGB, c.cpus, c.mem); got != c.want {
			t.Errorf("%d vCPU %d GiB: %+v, want %+v", c.vcpus, c.memGB, got, c.want)
		}
	}
}

func TestResolve(t *testing.T) {
	m := map[string]string{"aws/codebuild/standard:7.0": "my/standard:7"}
	cases := []struct {
		name       string
		candidates []string
		pull       string
	}{
		{"aws/codebuild/standard:7.0", []string{"my/standard:7"}, "my/standard:7"},
		{"aws/codebuild/standard:8.0", []string{"aws/codebuild/standard:8.0"}, ""},
		{"aws/codebuild/amazonlinux2-x86_64-standard:5.0", []string{"aws/codebuild/amazonlinux2-x86_64-standard:5.0", "public.ecr.aws/codebuild/amazonlinux2-x86_64-standard:5.0"}, "public.ecr.aws/codebuild/amazonlinux2-x86_64-standard:5.0"},
		{"aws/codebuild/amazonlinux-aarch64-standard:3.0", []string{"aws/codebuild/amazonlinux-aarch64-standard:3.0", "public.ecr.aws/codebuild/amazonlinux-aarch64-standard:3.0"}, "public.ecr.aws/codebuild/amazonlinux-aarch64-standard:3.0"},
		{"python:3.12", []string{"python:3.12"}, "python:3.12"},
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1", []string{"123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1"}, "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1"},
	}
	for _, c := range cases {
		r := Resolve(c.name, m)
		if !reflect.DeepEqual(r.Candidates, c.candidates) || r.Pull != c.pull || r.Hint == "" {
			t.Errorf("Resolve(%s) = %+v", c.name, r)
		}
	}
	if _, err := ParseImageMap([]string{"a=b", "bad"}); err == nil {
		t.Error("ParseImageMap accepted an entry without =")
	}
}
