// Command bench measures buildbatch against references measured in the
// same run (these machines are noisy: ratios, not absolute times, are what
// to compare) and writes the table to bench/results.md.
//
//	go run ./bench            # everything, a few minutes
//	go run ./bench -quick     # shorter runs, smaller sizes
//
// Run it through scripts/bench.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

var (
	quick   = flag.Bool("quick", false, "shorter runs and smaller sizes (a smoke test of the bench itself)")
	out     = flag.String("out", "bench/results.md", "where to write the table")
	only    = flag.String("only", "", "comma-separated parts to run: api,start,matrix,plan,store,logs,memory (default all)")
	keepTmp = flag.Bool("keep", false, "keep the temporary directory")
)

// row is one line of the results table.
type row struct {
	Figure, Value, Reference, Ratio, Goal, Met string
}

type report struct {
	rows  []row
	notes []string
}

func (r *report) add(figure, value, reference, ratio, goal string, met bool) {
	m := "yes"
	if !met {
		m = "**no**"
	}
	r.rows = append(r.rows, row{figure, value, reference, ratio, goal, m})
	fmt.Printf("%-58s %-26s %-26s %-12s %s\n", figure, value, reference, ratio, m)
}

func (r *report) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "bare-server" {
		bareServer(os.Args[2:])
		return
	}
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	start := time.Now()
	tmp, err := os.MkdirTemp("", "buildbatch-bench-")
	if err != nil {
		fatal(err)
	}
	if !*keepTmp {
		defer os.RemoveAll(tmp)
	}
	env := &benchEnv{tmp: tmp}
	current = env
	env.build()
	defer env.cleanup()

	rep := &report{}
	fmt.Printf("%-58s %-26s %-26s %-12s %s\n", "figure", "buildbatch", "reference", "ratio", "goal met")
	parts := []struct {
		name string
		run  func(*benchEnv, *report)
	}{
		{"plan", benchPlan},
		{"start", benchStart},
		{"matrix", benchMatrix},
		{"logs", benchLogs},
		{"memory", benchMemory},
		{"store", benchStore},
		{"api", benchAPI},
	}
	for _, p := range parts {
		if *only != "" && !strings.Contains(","+*only+",", ","+p.name+",") {
			continue
		}
		t0 := time.Now()
		p.run(env, rep)
		log.Printf("%s took %v", p.name, time.Since(t0).Round(time.Millisecond))
	}
	rep.note("Whole run: %v.", time.Since(start).Round(time.Second))
	if err := writeResults(*out, rep); err != nil {
		fatal(err)
	}
	fmt.Printf("\nwritten to %s in %v\n", *out, time.Since(start).Round(time.Second))
}

// current is the environment fatal cleans up (servers, moto, the bare
// handler) before exiting.
var current *benchEnv

func fatalf(format string, args ...any) {
	if current != nil {
		current.cleanup()
		if !*keepTmp {
			os.RemoveAll(current.tmp)
		}
	}
	log.Fatalf(format, args...)
}

func fatal(args ...any) { fatalf("%s", fmt.Sprint(args...)) }

func writeResults(path string, rep *report) error {
	var b strings.Builder
	host, _ := os.Hostname()
	goVersion, _ := exec.Command("go", "version").Output()
	fmt.Fprintf(&b, "# buildbatch benchmark results\n\n")
	fmt.Fprintf(&b, "Run %s on %s (%d CPUs, %s/%s), %s", time.Now().UTC().Format("2006-01-02 15:04 MST"), host, runtime.NumCPU(),
		runtime.GOOS, runtime.GOARCH, strings.TrimSpace(string(goVersion)))
	if *quick {
		b.WriteString(", **-quick** (smaller sizes: not comparable with full runs)")
	}
	b.WriteString(".\nEach figure is set beside a reference measured in the same run; the ratio is what to compare over time.\n")
	b.WriteString("Regenerate with `scripts/bench`.\n\n")
	b.WriteString("| figure | buildbatch | reference (same run) | ratio | goal | met |\n|---|---|---|---|---|---|\n")
	for _, r := range rep.rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.Figure, r.Value, r.Reference, r.Ratio, r.Goal, r.Met)
	}
	if len(rep.notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range rep.notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
