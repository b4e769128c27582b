package report

import (
	"testing"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
)

func TestShardGroup(t *testing.T) {
	for _, tc := range []struct {
		name  string
		group string
		shard int
		ok    bool
	}{
		{"proj-unitBuildFanoutShard1", "proj-unit", 0, true},
		{"proj-unitBuildFanoutShard12", "proj-unit", 11, true},
		{"aBuildFanoutShardBuildFanoutShard3", "aBuildFanoutShard", 2, true},
		{"proj-unit", "", 0, false},
		{"BuildFanoutShard1", "", 0, false},
		{"proj-unitBuildFanoutShard0", "", 0, false},
		{"proj-unitBuildFanoutShard01", "", 0, false},
		{"proj-unitBuildFanoutShard", "", 0, false},
		{"proj-unitBuildFanoutShard-1", "", 0, false},
	} {
		g, s, ok := SplitShardGroup(tc.name)
		if g != tc.group || s != tc.shard || ok != tc.ok {
			t.Errorf("SplitShardGroup(%q) = %q, %d, %v; want %q, %d, %v", tc.name, g, s, ok, tc.group, tc.shard, tc.ok)
		}
		if tc.ok && ShardGroup(g, s) != tc.name {
			t.Errorf("ShardGroup(%q, %d) = %q", g, s, ShardGroup(g, s))
		}
	}
}

func testPart(status string, truncated bool, durations int64, cases ...string) Part {
	var tcs []cb.TestCase
	for i, s := range cases {
		tcs = append(tcs, cb.TestCase{Name: cb.String(status + string(rune('a'+i))), Status: cb.String(s), DurationInNanoSeconds: cb.Int64(durations)})
	}
	sum := SummarizeTests(tcs)
	return Part{Doc: &cb.Report{Status: cb.String(status), Truncated: cb.Bool(truncated), TestSummary: &sum}, TestCases: tcs}
}

func TestMergeTests(t *testing.T) {
	for _, tc := range []struct {
		name      string
		parts     []Part
		missing   int
		status    string
		total     int32
		failed    int32
		duration  int64
		truncated bool
	}{
		{"all succeeded", []Part{testPart("SUCCEEDED", false, 5, "SUCCEEDED", "SUCCEEDED"), testPart("SUCCEEDED", false, 7, "SKIPPED")},
			0, "SUCCEEDED", 3, 0, 10, false}, // the longest shard: 2×5 ns
		{"one failed", []Part{testPart("SUCCEEDED", false, 5, "SUCCEEDED"), testPart("FAILED", false, 1, "FAILED", "SUCCEEDED")},
			0, "FAILED", 3, 1, 5, false},
		{"one missing", []Part{testPart("SUCCEEDED", false, 5, "SUCCEEDED")},
			1, "INCOMPLETE", 1, 0, 5, false},
		{"one incomplete", []Part{testPart("SUCCEEDED", false, 5, "SUCCEEDED"), testPart("INCOMPLETE", false, 0)},
			0, "INCOMPLETE", 1, 0, 5, false},
		{"failed wins over missing", []Part{testPart("FAILED", false, 5, "ERROR")},
			2, "FAILED", 1, 0, 5, false},
		{"a truncated shard", []Part{testPart("SUCCEEDED", true, 5, "SUCCEEDED")},
			0, "SUCCEEDED", 1, 0, 5, true},
		{"nothing", nil, 3, "INCOMPLETE", 0, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := Merge(cb.ReportTypeTest, tc.parts, tc.missing)
			s := m.TestSummary
			if m.Status != tc.status || cb.Deref(s.Total) != tc.total || s.StatusCounts[StatusFailed] != tc.failed ||
				cb.Deref(s.DurationInNanoSeconds) != tc.duration || m.Truncated != tc.truncated || len(s.StatusCounts) != len(statuses) {
				t.Errorf("got %s total %d failed %d duration %d truncated %v counts %v", m.Status, cb.Deref(s.Total), s.StatusCounts[StatusFailed],
					cb.Deref(s.DurationInNanoSeconds), m.Truncated, s.StatusCounts)
			}
			if len(m.TestCases) != int(tc.total) {
				t.Errorf("%d cases kept, want %d", len(m.TestCases), tc.total)
			}
		})
	}
}

func TestMergeKeepsFailedCasesFirst(t *testing.T) {
	var parts []Part
	for range 3 {
		cases := make([]string, 400)
		for i := range cases {
			cases[i] = StatusSucceeded
		}
		cases[399] = StatusFailed
		parts = append(parts, testPart("FAILED", false, 1, cases...))
	}
	m := Merge(cb.ReportTypeTest, parts, 0)
	failed := 0
	for _, c := range m.TestCases {
		if cb.Deref(c.Status) == StatusFailed {
			failed++
		}
	}
	if len(m.TestCases) != MaxTestCases || failed != 3 || !m.Truncated || cb.Deref(m.TestSummary.Total) != 1200 {
		t.Errorf("kept %d cases, %d failed, truncated %v, total %d", len(m.TestCases), failed, m.Truncated, cb.Deref(m.TestSummary.Total))
	}
}

func TestMergeCoverage(t *testing.T) {
	file := func(path string, lc, lm, bc, bm int64) cb.CodeCoverage {
		return fileCoverage{path: path, linesCovered: lc, linesMissed: lm, branchesCovered: bc, branchesMissed: bm}.model()
	}
	part := func(status string, files ...cb.CodeCoverage) Part {
		sum := SummarizeCoverage(files)
		return Part{Doc: &cb.Report{Status: cb.String(status), CodeCoverageSummary: &sum}, Coverages: files}
	}
	m := Merge(cb.ReportTypeCodeCoverage, []Part{
		part("SUCCEEDED", file("a.py", 3, 1, 1, 1), file("b.py", 1, 1, 0, 0)),
		part("SUCCEEDED", file("a.py", 2, 2, 2, 0), file("c.py", 4, 0, 0, 0)),
	}, 0)
	s := m.Coverage
	// The summary sums the shards' summaries, as AWS documents.
	if m.Status != StatusSucceeded || cb.Deref(s.LinesCovered) != 10 || cb.Deref(s.LinesMissed) != 4 ||
		cb.Deref(s.BranchesCovered) != 3 || cb.Deref(s.BranchesMissed) != 1 || cb.Deref(s.LineCoveragePercentage) != 71.42 {
		t.Errorf("summary %+v status %s", s, m.Status)
	}
	// A file in several shards is one entry: the most any shard covered.
	if len(m.Coverages) != 3 || cb.Deref(m.Coverages[0].FilePath) != "a.py" || cb.Deref(m.Coverages[0].LinesCovered) != 3 ||
		cb.Deref(m.Coverages[0].LinesMissed) != 1 || cb.Deref(m.Coverages[0].BranchesCovered) != 2 || cb.Deref(m.Coverages[0].BranchesMissed) != 0 ||
		cb.Deref(m.Coverages[0].LineCoveragePercentage) != 75 {
		t.Errorf("files %+v", m.Coverages)
	}
	if m := Merge(cb.ReportTypeCodeCoverage, []Part{part("SUCCEEDED")}, 1); m.Status != "INCOMPLETE" || m.TestSummary != nil {
		t.Errorf("a missing shard: %s", m.Status)
	}
}
