package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// sample is a report file in testdata: <format-lowercase>_<name>.<ext>.
type sample struct {
	path, format string
}

func samples(t testing.TB) []sample {
	t.Helper()
	paths, err := filepath.Glob("testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	var out []sample
	for _, p := range paths {
		base := filepath.Base(p)
		if strings.HasSuffix(base, ".golden") {
			continue
		}
		// Folders (fuzz corpora, generate/ and its sample projects) hold no samples.
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			continue
		}
		prefix, _, ok := strings.Cut(base, "_")
		if !ok {
			t.Fatalf("%s: name is not <format>_<name>", p)
		}
		f, known := Canonical(prefix)
		if !known {
			t.Fatalf("%s: unknown format %q", p, prefix)
		}
		out = append(out, sample{p, f})
	}
	if len(out) == 0 {
		t.Fatal("no samples in testdata")
	}
	return out
}

type testGolden struct {
	TestCases   []cb.TestCase        `json:"testCases"`
	TestSummary cb.TestReportSummary `json:"testSummary"`
	Status      string               `json:"status"`
}

type coverageGolden struct {
	CodeCoverages       []cb.CodeCoverage            `json:"codeCoverages"`
	CodeCoverageSummary cb.CodeCoverageReportSummary `json:"codeCoverageSummary"`
}

func TestGolden(t *testing.T) {
	formats := map[string]bool{}
	for _, s := range samples(t) {
		formats[s.format] = true
		t.Run(filepath.Base(s.path), func(t *testing.T) {
			data, err := os.ReadFile(s.path)
			if err != nil {
				t.Fatal(err)
			}
			var got any
			if IsCoverage(s.format) {
				files, err := ParseCoverage(s.format, data)
				if err != nil {
					t.Fatalf("ParseCoverage: %v", err)
				}
				got = coverageGolden{files, SummarizeCoverage(files)}
			} else {
				cases, err := ParseTests(s.format, data, filepath.Base(s.path))
				if err != nil {
					t.Fatalf("ParseTests: %v", err)
				}
				sum := SummarizeTests(cases)
				got = testGolden{cases, sum, TestReportStatus(sum)}
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(got); err != nil {
				t.Fatal(err)
			}
			out := buf.Bytes()
			golden := s.path + ".golden"
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/report -update)", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("output differs from %s (run with -update and review the diff):\n%s", golden, out)
			}
		})
	}
	for _, f := range Formats() {
		if !formats[f] {
			t.Errorf("no sample file for %s in testdata", f)
		}
	}
}
