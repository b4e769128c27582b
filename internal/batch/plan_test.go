package batch

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/buildbatch/buildbatch/internal/buildspec"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func parse(t testing.TB, src string) *buildspec.Batch {
	t.Helper()
	s, err := buildspec.Parse([]byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return s.Batch
}

// TestGolden plans every testdata/*.yml and compares with its .golden.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yml")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, f := range files {
		src, _ := os.ReadFile(f)
		p, err := Make(parse(t, string(src)), Restrictions{DefaultComputeType: "BUILD_GENERAL1_SMALL"})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		got, _ := json.MarshalIndent(p, "", "  ")
		golden := strings.TrimSuffix(f, ".yml") + ".golden"
		if *update {
			os.WriteFile(golden, append(got, '\n'), 0o644)
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%s: %v (run go test -update)", golden, err)
		}
		if strings.TrimSpace(string(got)) != strings.TrimSpace(string(want)) {
			t.Errorf("Make(%s) =\n%s\nwant\n%s", f, got, want)
		}
	}
}

func ids(p *Plan) string {
	var out []string
	for _, g := range p.Groups {
		out = append(out, g.Identifier)
	}
	return strings.Join(out, " ")
}

func TestMatrixExpansionOrder(t *testing.T) {
	src, _ := os.ReadFile("testdata/matrix.yml")
	p, err := Make(parse(t, string(src)), Restrictions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range p.Groups {
		got = append(got, g.Buildspec+"/"+g.Env.Variables[0].Value)
	}
	want := []string{"matrix1.yml/VALUE1", "matrix1.yml/VALUE2", "matrix1.yml/VALUE3", "matrix2.yml/VALUE1", "matrix2.yml/VALUE2", "matrix2.yml/VALUE3"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("matrix order %v, want %v (the docs' example)", got, want)
	}
	if ids(p) != "build1 build2 build3 build4 build5 build6" || !*p.Groups[0].Env.PrivilegedMode || p.Groups[0].Env.Type != "LINUX_CONTAINER" {
		t.Errorf("matrix groups: %s %+v", ids(p), p.Groups[0])
	}
	// Several dimensions: compute-type × image × two variables = 2*1*2*3 builds.
	p, _ = Make(parse(t, `version: 0.2
batch:
  build-matrix:
    dynamic:
      env:
        compute-type: [BUILD_GENERAL1_SMALL, BUILD_GENERAL1_LARGE]
        image: [img]
        variables:
          A: [a1, a2]
          B: [b1, b2, b3]
`), Restrictions{})
	if len(p.Groups) != 12 || p.Groups[1].Env.Variables[1].Value != "b2" || p.Groups[3].Env.Variables[0].Value != "a2" || p.Groups[6].Env.ComputeType != "BUILD_GENERAL1_LARGE" {
		t.Errorf("12-build matrix: %+v", p.Groups)
	}
	// Groups do not share variable slices.
	p.Groups[0].Env.Variables[0].Value = "changed"
	if p.Groups[1].Env.Variables[0].Value == "changed" {
		t.Error("matrix groups share their variables")
	}
}

func TestPlanErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		r    Restrictions
		line int
		msg  string
	}{
		{"cycle", "version: 0.2\nbatch:\n  build-graph:\n    - identifier: a\n      depend-on: [c]\n    - identifier: b\n      depend-on: [a]\n    - identifier: c\n      depend-on: [b]\n",
			Restrictions{}, 4, "cycle: a -> c -> b -> a"},
		{"unknown dependency", "version: 0.2\nbatch:\n  build-graph:\n    - identifier: a\n      depend-on: [nope]\n", Restrictions{}, 5, "depends on nope, which is not a build of this batch"},
		{"self dependency", "version: 0.2\nbatch:\n  build-graph:\n    - identifier: a\n      depend-on: [a]\n", Restrictions{}, 5, "depends on itself"},
		{"too many builds", "version: 0.2\nbatch:\n  build-fanout:\n    parallelism: 5\n", Restrictions{MaximumBuildsAllowed: 4}, 2, "5 builds, more than the 4"},
		{"compute type", "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n    - identifier: b\n      env:\n        compute-type: BUILD_GENERAL1_LARGE\n",
			Restrictions{ComputeTypesAllowed: []string{"BUILD_GENERAL1_SMALL"}, DefaultComputeType: "BUILD_GENERAL1_SMALL"}, 5, "build b uses compute type BUILD_GENERAL1_LARGE"},
		{"default compute type", "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n",
			Restrictions{ComputeTypesAllowed: []string{"BUILD_GENERAL1_SMALL"}, DefaultComputeType: "BUILD_GENERAL1_2XLARGE"}, 4, "BUILD_GENERAL1_2XLARGE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Make(parse(t, tt.src), tt.r)
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(e.Msg, tt.msg) || e.Line != tt.line {
				t.Errorf("Make = %v, want line %d containing %q", err, tt.line, tt.msg)
			}
		})
	}
	if _, err := Make(nil, Restrictions{}); err == nil {
		t.Error("Make(nil) succeeded")
	}
}

func TestDependents(t *testing.T) {
	src, _ := os.ReadFile("testdata/graph.yml")
	p, _ := Make(parse(t, string(src)), Restrictions{})
	if got := strings.Join(p.Dependents("build1"), " "); got != "build2 build4 build3" {
		t.Errorf("Dependents(build1) = %s", got)
	}
	if got := p.Dependents("build4"); len(got) != 0 {
		t.Errorf("Dependents(build4) = %v", got)
	}
}

// graphSource is a build-graph of n builds: chains of 10 joined by diamonds.
func graphSource(n int) string {
	var b strings.Builder
	b.WriteString("version: 0.2\nbatch:\n  build-graph:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "    - identifier: b%d\n", i)
		switch {
		case i == 0:
		case i%10 == 0: // a diamond joins the two previous chains' ends
			fmt.Fprintf(&b, "      depend-on: [b%d, b%d]\n", i-1, max(0, i-11))
		default:
			fmt.Fprintf(&b, "      depend-on: [b%d]\n", i-1)
		}
	}
	return b.String()
}

func TestLargeGraph(t *testing.T) {
	p, err := Make(parse(t, graphSource(1000)), Restrictions{MaximumBuildsAllowed: 1000})
	if err != nil || len(p.Groups) != 1000 {
		t.Fatalf("1000-build graph: %v", err)
	}
}

// BenchmarkPlanGraph1000 measures parsing and planning a 1,000-build graph.
func BenchmarkPlanGraph1000(b *testing.B) {
	src := []byte(graphSource(1000))
	b.ReportAllocs()
	for b.Loop() {
		s, err := buildspec.Parse(src)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Make(s.Batch, Restrictions{}); err != nil {
			b.Fatal(err)
		}
	}
}
