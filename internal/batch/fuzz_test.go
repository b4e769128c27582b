package batch

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/buildbatch/buildbatch/internal/buildspec"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
)

// FuzzPlan plans the batch section of arbitrary buildspecs, as the
// DOWNLOAD_SOURCE build of a batch does (FromBuildspec), under
// restrictions: maxBuilds is maximumBuildsAllowed (0: none), restrict's
// bit 0 allows only two compute types, bit 1 only one fleet. Planning
// never panics and stays bounded (at most MaxBuilds builds); a plan names
// each build once, depends only on builds of the plan and has no cycle,
// honours the restrictions, and survives the JSON it is stored as.
//
// Seeds: testdata/*.yml, the batch buildspecs of the end-to-end tests
// (testdata/fuzz/FuzzPlan) and the examples of the tests here.
func FuzzPlan(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yml")
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src), uint16(0), uint8(0))
		f.Add(string(src), uint16(2), uint8(1))
	}
	for _, src := range []string{listSpec, graphFastFail} {
		f.Add(src, uint16(0), uint8(0))
	}
	f.Add("version: 0.2\nbatch:\n  build-fanout:\n    parallelism: 3\n    ignore-failure: true\n", uint16(3), uint8(0))
	f.Add("version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n      env:\n        fleet: fleet-a\n    - identifier: b\n      env:\n        compute-type: BUILD_GENERAL1_LARGE\n", uint16(0), uint8(3))
	f.Fuzz(func(t *testing.T, src string, maxBuilds uint16, restrict uint8) {
		doc := &cb.BuildBatch{Environment: &cb.ProjectEnvironment{ComputeType: cb.String("BUILD_GENERAL1_SMALL")},
			BuildBatchConfig: &cb.ProjectBuildBatchConfig{Restrictions: &cb.BatchRestrictions{}}}
		r := doc.BuildBatchConfig.Restrictions
		if maxBuilds > 0 {
			r.MaximumBuildsAllowed = cb.Int32(int32(maxBuilds))
		}
		if restrict&1 != 0 {
			r.ComputeTypesAllowed = []string{"BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM"}
		}
		if restrict&2 != 0 {
			r.FleetsAllowed = []string{"fleet-a"}
		}
		p, err := FromBuildspec([]byte(src), doc)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("an error without a message: %#v", err)
			}
			return
		}
		checkPlan(t, p, r)
	})
}

func checkPlan(t *testing.T, p *Plan, r *cb.BatchRestrictions) {
	t.Helper()
	n := len(p.Groups)
	if n == 0 || n > MaxBuilds {
		t.Fatalf("%s plan of %d builds", p.Kind, n)
	}
	if m := cb.Deref(r.MaximumBuildsAllowed); m > 0 && n > int(m) {
		t.Fatalf("%d builds, but maximumBuildsAllowed is %d", n, m)
	}
	index := map[string]int{}
	for i, g := range p.Groups {
		if g.Identifier == "" {
			t.Fatalf("build %d has no identifier", i)
		}
		if _, dup := index[g.Identifier]; dup {
			t.Fatalf("identifier %q twice", g.Identifier)
		}
		index[g.Identifier] = i
		if len(r.ComputeTypesAllowed) > 0 && g.Env.Fleet == "" && g.Env.ComputeType != "" && !slices.Contains(r.ComputeTypesAllowed, g.Env.ComputeType) {
			t.Fatalf("build %s runs on %s, not allowed", g.Identifier, g.Env.ComputeType)
		}
		if len(r.FleetsAllowed) > 0 && g.Env.Fleet != "" && !slices.Contains(r.FleetsAllowed, g.Env.Fleet) {
			t.Fatalf("build %s runs on fleet %s, not allowed", g.Identifier, g.Env.Fleet)
		}
		if p.Kind == buildspec.BuildFanout && (g.Shard != i || g.Shards != n) {
			t.Fatalf("fanout build %d is shard %d of %d", i, g.Shard, g.Shards)
		}
	}
	for _, g := range p.Groups {
		for _, d := range g.DependsOn {
			if _, ok := index[d]; !ok || d == g.Identifier {
				t.Fatalf("build %s depends on %q", g.Identifier, d)
			}
		}
	}
	if c := findCycle(p.Groups); c != nil {
		t.Fatalf("cycle %v", c)
	}
	// Dependents is what fast-fail and ignore-failure walk: never the
	// build itself (no cycle).
	if n <= 200 {
		for _, g := range p.Groups {
			if slices.Contains(p.Dependents(g.Identifier), g.Identifier) {
				t.Fatalf("%s depends on itself", g.Identifier)
			}
		}
	}
	// The plan is stored as JSON, and a retry reads it back.
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Plan
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("stored plan does not read back: %v", err)
	}
	want := *p
	want.Groups = slices.Clone(p.Groups)
	for i := range want.Groups {
		want.Groups[i].Env.Lines = buildspec.TaskEnvLines{} // for messages; not stored
	}
	if !reflect.DeepEqual(&want, &back) {
		t.Fatalf("plan changes when stored:\n%+v\n%+v", want, back)
	}
}

// TestMaxBuilds: a fanout or matrix of any size is refused before it is
// expanded (FuzzPlan found that a large parallelism or matrix exhausted the
// memory; testdata/fuzz/FuzzPlan keeps those inputs).
func TestMaxBuilds(t *testing.T) {
	var list strings.Builder
	list.WriteString("version: 0.2\nbatch:\n  build-list:\n")
	for i := range MaxBuilds + 1 {
		fmt.Fprintf(&list, "    - identifier: b%d\n", i)
	}
	for _, tt := range []struct{ src, msg string }{
		{"version: 0.2\nbatch:\n  build-fanout:\n    parallelism: 1000000000000\n", "batch.build-fanout.parallelism is 1000000000000, but a batch may have at most 1000 builds at line 3"},
		{"version: 0.2\nbatch:\n  build-matrix:\n    dynamic:\n      env:\n        image: [a, b, c, d, e, f, g, h, i, j]\n        variables:\n" +
			"          A: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n          B: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n          C: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n" +
			"          D: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n          E: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n          F: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n" +
			"          G: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n          H: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n          I: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n" +
			"          J: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n          K: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n          L: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n" +
			"          M: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n          N: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n          O: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n" +
			"          P: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n          Q: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n          R: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n" +
			"          S: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n          T: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n",
			"batch.build-matrix has more than 1000 builds, but a batch may have at most 1000 at line 3"},
		{list.String(), "batch.build-list has 1001 builds, but a batch may have at most 1000 at line 2"},
	} {
		_, err := FromBuildspec([]byte(tt.src), &cb.BuildBatch{})
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("FromBuildspec(%.80q) = %v, want %q", tt.src, err, tt.msg)
		}
	}
	p, err := FromBuildspec([]byte("version: 0.2\nbatch:\n  build-fanout:\n    parallelism: 1000\n"), &cb.BuildBatch{})
	if err != nil || len(p.Groups) != MaxBuilds {
		t.Errorf("a fanout of MaxBuilds: %v", err)
	}
}
