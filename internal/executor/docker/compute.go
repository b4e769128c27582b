package docker

import (
	"fmt"
	"strings"
)

// Limits are a build container's CPU and memory limits.
type Limits struct {
	CPUs     float64 // 0: no limit
	MemoryMB int64   // 0: no limit
	// Capped tells that the host is smaller than the compute type.
	Capped bool
}

func (l Limits) String() string {
	s := "no limits"
	if l.CPUs > 0 || l.MemoryMB > 0 {
		s = fmt.Sprintf("%g vCPU, %d MiB memory", l.CPUs, l.MemoryMB)
	}
	if l.Capped {
		s += " (capped by the host)"
	}
	return s
}

type size struct {
	cpus  float64
	memGB int64
}

// sizes are the capacities AWS documents for each environment type and
// compute type (on-demand EC2 compute; Lambda sizes give memory only).
var sizes = map[string]map[string]size{
	"LINUX_CONTAINER": {
		"BUILD_GENERAL1_SMALL": {2, 3}, "BUILD_GENERAL1_MEDIUM": {4, 7}, "BUILD_GENERAL1_LARGE": {8, 15},
		"BUILD_GENERAL1_XLARGE": {36, 70}, "BUILD_GENERAL1_2XLARGE": {72, 145},
	},
	"ARM_CONTAINER": {
		"BUILD_GENERAL1_SMALL": {2, 4}, "BUILD_GENERAL1_MEDIUM": {4, 8}, "BUILD_GENERAL1_LARGE": {8, 16},
		"BUILD_GENERAL1_XLARGE": {32, 64}, "BUILD_GENERAL1_2XLARGE": {48, 96},
	},
	"LINUX_GPU_CONTAINER": {
		"BUILD_GENERAL1_SMALL": {4, 16}, "BUILD_GENERAL1_LARGE": {32, 255},
	},
}

// ComputeLimits gives the limits of a compute type on an environment type,
// capped by the host's CPUs and memory (0: unknown). Unknown combinations
// get the LINUX_CONTAINER size of the compute type, or no limits.
func ComputeLimits(envType, computeType string, hostCPUs int, hostMemBytes int64) Limits {
	var sz size
	if strings.HasPrefix(computeType, "BUILD_LAMBDA_") {
		var gb int64
		fmt.Sscanf(strings.TrimPrefix(computeType, "BUILD_LAMBDA_"), "%dGB", &gb)
		sz = size{memGB: gb}
	} else if t, ok := sizes[envType][computeType]; ok {
		sz = t
	} else if t, ok := sizes["LINUX_CONTAINER"][computeType]; ok {
		sz = t
	}
	return capped(sz, hostCPUs, hostMemBytes)
}

// AttributeLimits gives the limits of attribute-based compute
// (ATTRIBUTE_BASED_COMPUTE: computeConfiguration's vCpu and memory in
// GiB; 0: no limit), capped by the host. AWS runs such a build on the
// smallest machine with at least these; a container gets exactly them.
func AttributeLimits(vcpus, memGB int64, hostCPUs int, hostMemBytes int64) Limits {
	// Bounded before any arithmetic: 2^32 GiB is past every host.
	return capped(size{cpus: float64(min(max(vcpus, 0), 1<<20)), memGB: min(max(memGB, 0), 1<<32)}, hostCPUs, hostMemBytes)
}

func capped(sz size, hostCPUs int, hostMemBytes int64) Limits {
	l := Limits{CPUs: sz.cpus, MemoryMB: sz.memGB * 1024}
	if hostCPUs > 0 && l.CPUs > float64(hostCPUs) {
		l.CPUs, l.Capped = float64(hostCPUs), true
	}
	if hostMB := hostMemBytes >> 20; hostMB > 0 && l.MemoryMB > hostMB {
		l.MemoryMB, l.Capped = hostMB, true
	}
	return l
}
