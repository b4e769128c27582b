package report

import (
	"strconv"
	"strings"
	"time"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/ident"
)

// ShardSuffix joins a report group's name and a fanout shard's number
// (1-based, as the batch's identifiers build1, build2…): the member
// builds of a build-fanout batch report into <group>BuildFanoutShard<n>,
// and the batch's merged report goes into <group> itself.
const ShardSuffix = "BuildFanoutShard"

// ShardGroup names the report group a fanout shard (0-based index)
// reports into.
func ShardGroup(group string, shard int) string {
	return group + ShardSuffix + strconv.Itoa(shard+1)
}

// SplitShardGroup undoes ShardGroup: the merged report's group and the
// 0-based shard index, or ok false for a group that is not a shard's.
func SplitShardGroup(name string) (group string, shard int, ok bool) {
	i := strings.LastIndex(name, ShardSuffix)
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(name[i+len(ShardSuffix):])
	if err != nil || n < 1 || strconv.Itoa(n) != name[i+len(ShardSuffix):] {
		return "", 0, false
	}
	return name[:i], n - 1, true
}

// Part is one shard's report of a merged report, with what it found.
type Part struct {
	Doc       *cb.Report
	TestCases []cb.TestCase
	Coverages []cb.CodeCoverage
}

// Merged is a fanout batch's report made from its shards' reports.
type Merged struct {
	Status      string
	TestSummary *cb.TestReportSummary
	Coverage    *cb.CodeCoverageReportSummary
	TestCases   []cb.TestCase
	Coverages   []cb.CodeCoverage
	Truncated   bool
}

// Merge merges the reports of the shards of a fanout batch into the
// batch's report of type typ, as AWS documents ("Automatically merge
// individual build reports"): the status is FAILED when any shard's
// report failed, else INCOMPLETE when any is missing (missing counts the
// shards that made none) or incomplete, else SUCCEEDED; a test summary
// sums totals and status counts and takes the longest duration; a
// coverage summary sums the counts and computes the percentages from the
// sums. The test cases kept are at most MaxTestCases, chosen as
// LimitTests chooses. A file's coverage in several shards is merged into
// one entry with the most lines and branches any shard covered (a shard
// reports the whole file, so the union covers at least that much; AWS
// does not say).
func Merge(typ string, parts []Part, missing int) Merged {
	m := Merged{Status: StatusSucceeded}
	failed, incomplete := false, missing > 0
	for _, p := range parts {
		switch cb.Deref(p.Doc.Status) {
		case StatusSucceeded:
		case StatusFailed:
			failed = true
		default:
			incomplete = true
		}
		m.Truncated = m.Truncated || cb.Deref(p.Doc.Truncated)
	}
	switch {
	case failed:
		m.Status = StatusFailed
	case incomplete:
		m.Status = cb.ReportStatusTypeIncomplete
	}
	if typ == cb.ReportTypeCodeCoverage {
		m.Coverage, m.Coverages = mergeCoverage(parts)
		return m
	}
	sum := cb.TestReportSummary{Total: cb.Int32(0), StatusCounts: map[string]int32{}, DurationInNanoSeconds: cb.Int64(0)}
	for _, s := range statuses {
		sum.StatusCounts[s] = 0
	}
	var all []cb.TestCase
	for _, p := range parts {
		if s := p.Doc.TestSummary; s != nil {
			sum.Total = cb.Int32(addInt32(*sum.Total, cb.Deref(s.Total)))
			for k, v := range s.StatusCounts {
				sum.StatusCounts[k] = addInt32(sum.StatusCounts[k], v)
			}
			sum.DurationInNanoSeconds = cb.Int64(max(*sum.DurationInNanoSeconds, cb.Deref(s.DurationInNanoSeconds)))
		}
		all = append(all, p.TestCases...)
	}
	kept, cut := LimitTests(all, MaxTestCases)
	m.TestSummary, m.TestCases, m.Truncated = &sum, kept, m.Truncated || cut
	return m
}

func mergeCoverage(parts []Part) (*cb.CodeCoverageReportSummary, []cb.CodeCoverage) {
	var lc, lm, bc, bm int64
	var files []cb.CodeCoverage
	index := map[string]int{}
	for _, p := range parts {
		if s := p.Doc.CodeCoverageSummary; s != nil {
			lc += int64(max(cb.Deref(s.LinesCovered), 0))
			lm += int64(max(cb.Deref(s.LinesMissed), 0))
			bc += int64(max(cb.Deref(s.BranchesCovered), 0))
			bm += int64(max(cb.Deref(s.BranchesMissed), 0))
		}
		for _, f := range p.Coverages {
			path := cb.Deref(f.FilePath)
			i, seen := index[path]
			if !seen {
				index[path] = len(files)
				files = append(files, f)
				continue
			}
			g := &files[i]
			lines := max(cb.Deref(g.LinesCovered)+cb.Deref(g.LinesMissed), cb.Deref(f.LinesCovered)+cb.Deref(f.LinesMissed))
			branches := max(cb.Deref(g.BranchesCovered)+cb.Deref(g.BranchesMissed), cb.Deref(f.BranchesCovered)+cb.Deref(f.BranchesMissed))
			merged := fileCoverage{path: path,
				linesCovered: int64(max(cb.Deref(g.LinesCovered), cb.Deref(f.LinesCovered))), branchesCovered: int64(max(cb.Deref(g.BranchesCovered), cb.Deref(f.BranchesCovered)))}
			merged.linesMissed = int64(lines) - merged.linesCovered
			merged.branchesMissed = int64(branches) - merged.branchesCovered
			c := merged.model()
			c.Id, c.ReportARN, c.Expired = g.Id, g.ReportARN, g.Expired
			*g = c
		}
	}
	lc, lm, bc, bm = clamp32(lc), clamp32(lm), clamp32(bc), clamp32(bm)
	return &cb.CodeCoverageReportSummary{
		LineCoveragePercentage: float64p(Percentage(lc, lm)), LinesCovered: cb.Int32(int32(lc)), LinesMissed: cb.Int32(int32(lm)),
		BranchCoveragePercentage: float64p(Percentage(bc, bm)), BranchesCovered: cb.Int32(int32(bc)), BranchesMissed: cb.Int32(int32(bm)),
	}, files
}

// Expiry is how long a report can be seen, as on AWS.
const Expiry = 30 * 24 * time.Hour

// NewReport is the document of a report made now in group of typ (its
// ARN is report/<group>:<uuid>) by execution (a build's or a batch's
// ARN); expired is 30 days on, in whole seconds.
func NewReport(region, account, group, uuid, typ, execution string, now time.Time) *cb.Report {
	return &cb.Report{Arn: cb.String(ident.ReportARN(region, account, group, uuid)), Type: cb.String(typ), Name: cb.String(group),
		ReportGroupArn: cb.String(ident.ReportGroupARN(region, account, group)),
		ExecutionId:    cb.String(execution), Created: cb.At(now), Expired: cb.At(now.Add(Expiry).Truncate(time.Second))}
}

// NewGroup is the document of a report group a report creates when it
// names one that does not exist: ACTIVE, not exported.
func NewGroup(region, account, name, typ string, now time.Time) *cb.ReportGroup {
	return &cb.ReportGroup{Arn: cb.String(ident.ReportGroupARN(region, account, name)), Name: cb.String(name), Type: cb.String(typ),
		ExportConfig: &cb.ReportExportConfig{ExportConfigType: cb.String(cb.ReportExportConfigTypeNoExport)},
		Created:      cb.At(now), LastModified: cb.At(now), Status: cb.String(cb.ReportGroupStatusTypeActive)}
}
