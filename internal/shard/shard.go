// Package shard splits test files across the builds of a build-fanout batch,
// as CodeBuild's codebuild-tests-run does: equal-distribution (sorted
// files in contiguous chunks whose sizes differ by at most one) or
// stability (rendezvous hashing, so a file mostly stays on its shard when
// files come and go).
package shard

import (
	"fmt"
	"hash/fnv"
	"sort"
)

// Strategies.
const (
	EqualDistribution = "equal-distribution"
	Stability         = "stability"
)

// Select returns the files of shard index (0-based) of count.
func Select(files []string, index, count int, strategy string) ([]string, error) {
	if count < 1 || index < 0 || index >= count {
		return nil, fmt.Errorf("shard %d of %d does not exist", index, count)
	}
	uniq := map[string]bool{}
	var sorted []string
	for _, f := range files {
		if f != "" && !uniq[f] {
			uniq[f] = true
			sorted = append(sorted, f)
		}
	}
	sort.Strings(sorted)
	switch strategy {
	case "", EqualDistribution:
		n := len(sorted)
		base, extra := n/count, n%count
		start := index*base + min(index, extra)
		size := base
		if index < extra {
			size++
		}
		return sorted[start : start+size], nil
	case Stability:
		var out []string
		for _, f := range sorted {
			best, bestScore := 0, uint64(0)
			for s := 0; s < count; s++ {
				h := fnv.New64a()
				fmt.Fprintf(h, "%d\x00%s", s, f)
				if score := h.Sum64(); s == 0 || score > bestScore {
					best, bestScore = s, score
				}
			}
			if best == index {
				out = append(out, f)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown sharding strategy %q (use %s or %s)", strategy, EqualDistribution, Stability)
}
