package api

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/buildbatch/buildbatch/internal/awsjson"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/store"
)

func reportGroupNotFound(arn string) string {
	return fmt.Sprintf("Report group %s does not exist", arn)
}

// reportGroupName is the name in a report group ARN (or the name given).
func reportGroupName(ctx context.Context, arnOrName string) string {
	return scopedName(ctx, arnOrName, "report-group")
}

func checkExportConfig(e *cb.ReportExportConfig) error {
	if e == nil {
		return nil
	}
	switch cb.Deref(e.ExportConfigType) {
	case cb.ReportExportConfigTypeS3:
		if e.S3Destination == nil || cb.Deref(e.S3Destination.Bucket) == "" {
			return invalid("Invalid input: exportConfig.s3Destination.bucket is required when exportConfigType is S3")
		}
	case cb.ReportExportConfigTypeNoExport, "":
	}
	return nil
}

// CreateReportGroup creates a report group.
func (a *API) CreateReportGroup(ctx context.Context, in *cb.CreateReportGroupInput) (*cb.CreateReportGroupOutput, error) {
	c, scope := scopeOf(ctx)
	if err := checkExportConfig(in.ExportConfig); err != nil {
		return nil, err
	}
	name := cb.Deref(in.Name)
	now := ts(a.now())
	g := &cb.ReportGroup{Arn: cb.String(ident.ReportGroupARN(c.Region, c.Account, name)), Name: in.Name, Type: in.Type,
		ExportConfig: in.ExportConfig, Created: now, LastModified: now, Tags: in.Tags, Status: cb.String(cb.ReportGroupStatusTypeActive)}
	err := a.st.Update(ctx, func(tx store.Tx) error {
		return tx.ReportGroupInsert(ctx, &store.ReportGroup{Scope: scope, Doc: g})
	})
	if isConflict(err) {
		return nil, awsjson.Errorf(awsjson.ResourceAlreadyExists, "Report group %s already exists", cb.Deref(g.Arn))
	}
	if err != nil {
		return nil, translate(err, "")
	}
	return &cb.CreateReportGroupOutput{ReportGroup: g}, nil
}

// UpdateReportGroup replaces a report group's export settings and tags.
func (a *API) UpdateReportGroup(ctx context.Context, in *cb.UpdateReportGroupInput) (*cb.UpdateReportGroupOutput, error) {
	_, scope := scopeOf(ctx)
	if err := checkExportConfig(in.ExportConfig); err != nil {
		return nil, err
	}
	var g *store.ReportGroup
	err := a.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if g, err = tx.ReportGroupGet(ctx, scope, reportGroupName(ctx, cb.Deref(in.Arn))); err != nil {
			return err
		}
		if in.ExportConfig != nil {
			g.Doc.ExportConfig = in.ExportConfig
		}
		if in.Tags != nil {
			g.Doc.Tags = in.Tags
		}
		g.Doc.LastModified = ts(a.now())
		return tx.ReportGroupPut(ctx, g)
	})
	if err != nil {
		return nil, translate(err, reportGroupNotFound(cb.Deref(in.Arn)))
	}
	if g.Doc.Tags == nil {
		g.Doc.Tags = []cb.Tag{}
	}
	return &cb.UpdateReportGroupOutput{ReportGroup: g.Doc}, nil
}

// DeleteReportGroup deletes a report group; one with reports only with
// deleteReports, which deletes them too.
func (a *API) DeleteReportGroup(ctx context.Context, in *cb.DeleteReportGroupInput) (*cb.DeleteReportGroupOutput, error) {
	_, scope := scopeOf(ctx)
	name := reportGroupName(ctx, cb.Deref(in.Arn))
	err := a.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.ReportGroupGet(ctx, scope, name); err != nil {
			return err
		}
		for {
			arns, _, err := tx.ReportList(ctx, scope, name, "", store.Page{Limit: 100})
			if err != nil {
				return err
			}
			if len(arns) == 0 {
				break
			}
			if !cb.Deref(in.DeleteReports) {
				return invalid("Cannot delete report group %s: it has reports. Delete them first, or set deleteReports to true", cb.Deref(in.Arn))
			}
			for _, arn := range arns {
				if err := tx.ReportDelete(ctx, scope, arn); err != nil {
					return err
				}
			}
		}
		if err := tx.ReportGroupDelete(ctx, scope, name); err != nil {
			return err
		}
		return deletePolicy(ctx, tx, scope, ident.ReportGroupARN(scope.Region, scope.Account, name))
	})
	if err != nil {
		return nil, translate(err, reportGroupNotFound(cb.Deref(in.Arn)))
	}
	return &cb.DeleteReportGroupOutput{}, nil
}

// BatchGetReportGroups returns report groups by ARN, in the order asked.
func (a *API) BatchGetReportGroups(ctx context.Context, in *cb.BatchGetReportGroupsInput) (*cb.BatchGetReportGroupsOutput, error) {
	_, scope := scopeOf(ctx)
	out := &cb.BatchGetReportGroupsOutput{ReportGroups: []cb.ReportGroup{}, ReportGroupsNotFound: []string{}}
	err := a.st.View(ctx, func(tx store.Tx) error {
		seen := map[string]bool{}
		for _, arn := range in.ReportGroupArns {
			if seen[arn] {
				continue
			}
			seen[arn] = true
			g, err := tx.ReportGroupGet(ctx, scope, reportGroupName(ctx, arn))
			if err != nil {
				if owner, name, ok := a.sharedIn(ctx, tx, arn, "report-group", "codebuild:BatchGetReportGroups"); ok {
					g, err = tx.ReportGroupGet(ctx, owner, name)
				}
			}
			if err != nil {
				out.ReportGroupsNotFound = append(out.ReportGroupsNotFound, arn)
				continue
			}
			if g.Doc.Tags == nil {
				g.Doc.Tags = []cb.Tag{}
			}
			out.ReportGroups = append(out.ReportGroups, *g.Doc)
		}
		return nil
	})
	return out, translate(err, "")
}

func pageLimit(maxResults *int32) int {
	if n := int(cb.Deref(maxResults)); n > 0 {
		return n
	}
	return listPageSize
}

// ListReportGroups lists report group ARNs; default order CREATED_TIME,
// DESCENDING.
func (a *API) ListReportGroups(ctx context.Context, in *cb.ListReportGroupsInput) (*cb.ListReportGroupsOutput, error) {
	c, scope := scopeOf(ctx)
	by := map[string]store.ProjectSort{"": store.ProjectsByCreated, cb.ReportGroupSortByTypeName: store.ProjectsByName,
		cb.ReportGroupSortByTypeCreatedTime: store.ProjectsByCreated, cb.ReportGroupSortByTypeLastModifiedTime: store.ProjectsByModified}[cb.Deref(in.SortBy)]
	desc := cb.Deref(in.SortOrder) != cb.SortOrderTypeAscending
	list := fmt.Sprintf("report-groups/%d/%v", by, desc)
	after, err := decodeToken(list, in.NextToken)
	if err != nil {
		return nil, err
	}
	var names []string
	var next *store.Cursor
	err = a.st.View(ctx, func(tx store.Tx) error {
		var err error
		names, next, err = tx.ReportGroupList(ctx, scope, by, store.Page{After: after, Limit: pageLimit(in.MaxResults), Descending: desc})
		return err
	})
	if err != nil {
		return nil, translate(err, "")
	}
	arns := make([]string, 0, len(names))
	for _, n := range names {
		arns = append(arns, ident.ReportGroupARN(c.Region, c.Account, n))
	}
	return &cb.ListReportGroupsOutput{ReportGroups: arns, NextToken: encodeToken(list, next)}, nil
}

// BatchGetReports returns reports by ARN, in the order asked.
func (a *API) BatchGetReports(ctx context.Context, in *cb.BatchGetReportsInput) (*cb.BatchGetReportsOutput, error) {
	_, scope := scopeOf(ctx)
	out := &cb.BatchGetReportsOutput{Reports: []cb.Report{}, ReportsNotFound: []string{}}
	err := a.st.View(ctx, func(tx store.Tx) error {
		seen := map[string]bool{}
		for _, arn := range in.ReportArns {
			if seen[arn] {
				continue
			}
			seen[arn] = true
			r, err := tx.ReportGet(ctx, scope, arn)
			if err != nil {
				if owner, _, ok := a.sharedIn(ctx, tx, arn, "report", "codebuild:BatchGetReports"); ok {
					r, err = tx.ReportGet(ctx, owner, arn)
				}
			}
			if err != nil {
				out.ReportsNotFound = append(out.ReportsNotFound, arn)
				continue
			}
			out.Reports = append(out.Reports, *r.Doc)
		}
		return nil
	})
	return out, translate(err, "")
}

func (a *API) listReports(ctx context.Context, group string, filter *cb.ReportFilter, order, token *string, maxResults *int32) ([]string, *string, error) {
	_, scope := scopeOf(ctx)
	return a.listReportsIn(ctx, scope, group, filter, order, token, maxResults)
}

// listReportsIn lists reports of scope: the caller's, or the owner's of a
// report group shared with the caller.
func (a *API) listReportsIn(ctx context.Context, scope store.Scope, group string, filter *cb.ReportFilter, order, token *string, maxResults *int32) ([]string, *string, error) {
	desc := cb.Deref(order) != cb.SortOrderTypeAscending
	status := ""
	if filter != nil {
		status = cb.Deref(filter.Status)
	}
	list := fmt.Sprintf("reports/%s/%s/%v", group, status, desc)
	after, err := decodeToken(list, token)
	if err != nil {
		return nil, nil, err
	}
	var arns []string
	var next *store.Cursor
	err = a.st.View(ctx, func(tx store.Tx) error {
		if group != "" {
			if _, err := tx.ReportGroupGet(ctx, scope, group); err != nil {
				return err
			}
		}
		var err error
		arns, next, err = tx.ReportList(ctx, scope, group, status, store.Page{After: after, Limit: pageLimit(maxResults), Descending: desc})
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if arns == nil {
		arns = []string{}
	}
	return arns, encodeToken(list, next), nil
}

// ListReports lists the account's report ARNs, newest first unless
// ASCENDING.
func (a *API) ListReports(ctx context.Context, in *cb.ListReportsInput) (*cb.ListReportsOutput, error) {
	arns, next, err := a.listReports(ctx, "", in.Filter, in.SortOrder, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, translate(err, "")
	}
	return &cb.ListReportsOutput{Reports: arns, NextToken: next}, nil
}

// ListReportsForReportGroup lists a report group's report ARNs.
func (a *API) ListReportsForReportGroup(ctx context.Context, in *cb.ListReportsForReportGroupInput) (*cb.ListReportsForReportGroupOutput, error) {
	_, scope := scopeOf(ctx)
	group := reportGroupName(ctx, cb.Deref(in.ReportGroupArn))
	if owner, name, ok := a.shared(ctx, group, "report-group", "codebuild:ListReportsForReportGroup"); ok {
		scope, group = owner, name
	}
	arns, next, err := a.listReportsIn(ctx, scope, group, in.Filter, in.SortOrder, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, translate(err, reportGroupNotFound(cb.Deref(in.ReportGroupArn)))
	}
	return &cb.ListReportsForReportGroupOutput{Reports: arns, NextToken: next}, nil
}

// DeleteReport deletes a report and its test cases or coverages (deleting
// one that does not exist is not an error).
func (a *API) DeleteReport(ctx context.Context, in *cb.DeleteReportInput) (*cb.DeleteReportOutput, error) {
	_, scope := scopeOf(ctx)
	err := a.st.Update(ctx, func(tx store.Tx) error { return tx.ReportDelete(ctx, scope, cb.Deref(in.Arn)) })
	if err != nil && !isNotFound(err) {
		return nil, translate(err, "")
	}
	return &cb.DeleteReportOutput{}, nil
}

// getReport finds a report of the caller's, or of a report group another
// account shares with the caller for action.
func (a *API) getReport(ctx context.Context, arn, action string) (*store.Report, error) {
	_, scope := scopeOf(ctx)
	var r *store.Report
	err := a.st.View(ctx, func(tx store.Tx) error {
		var err error
		r, err = tx.ReportGet(ctx, scope, arn)
		if isNotFound(err) {
			if owner, _, ok := a.sharedIn(ctx, tx, arn, "report", action); ok {
				r, err = tx.ReportGet(ctx, owner, arn)
			}
		}
		return err
	})
	return r, err
}

// offsetPage cuts items[offset:] to one page and gives the next token.
func offsetPage(list string, token *string, maxResults *int32, n int) (from, to int, next *string, err error) {
	after, err := decodeToken(list, token)
	if err != nil {
		return 0, 0, nil, err
	}
	if after != nil {
		from = int(min(max(after.Key, 0), int64(n)))
	}
	to = min(from+pageLimit(maxResults), n)
	if to < n {
		next = encodeToken(list, &store.Cursor{Key: int64(to)})
	}
	return from, to, next, nil
}

// DescribeTestCases returns a report's test cases, in file order, filtered
// by status and by a keyword found in the name or the prefix.
func (a *API) DescribeTestCases(ctx context.Context, in *cb.DescribeTestCasesInput) (*cb.DescribeTestCasesOutput, error) {
	arn := cb.Deref(in.ReportArn)
	r, err := a.getReport(ctx, arn, "codebuild:DescribeTestCases")
	if err != nil {
		return nil, translate(err, fmt.Sprintf("Report %s does not exist", arn))
	}
	status, keyword := "", ""
	if f := in.Filter; f != nil {
		status, keyword = cb.Deref(f.Status), cb.Deref(f.Keyword)
	}
	var cases []cb.TestCase
	for _, tc := range r.TestCases {
		if status != "" && cb.Deref(tc.Status) != status {
			continue
		}
		if keyword != "" && !strings.Contains(cb.Deref(tc.Name), keyword) && !strings.Contains(cb.Deref(tc.Prefix), keyword) {
			continue
		}
		cases = append(cases, tc)
	}
	from, to, next, err := offsetPage("testcases/"+arn+"/"+status+"/"+keyword, in.NextToken, in.MaxResults, len(cases))
	if err != nil {
		return nil, err
	}
	return &cb.DescribeTestCasesOutput{TestCases: append([]cb.TestCase{}, cases[from:to]...), NextToken: next}, nil
}

// DescribeCodeCoverages returns a report's file coverages, filtered by line
// coverage and sorted by file path (default) or line coverage.
func (a *API) DescribeCodeCoverages(ctx context.Context, in *cb.DescribeCodeCoveragesInput) (*cb.DescribeCodeCoveragesOutput, error) {
	arn := cb.Deref(in.ReportArn)
	r, err := a.getReport(ctx, arn, "codebuild:DescribeCodeCoverages")
	if err != nil {
		if isNotFound(err) {
			return nil, invalid("Report %s does not exist", arn)
		}
		return nil, translate(err, "")
	}
	lo, hi := 0.0, 100.0
	if in.MinLineCoveragePercentage != nil {
		lo = *in.MinLineCoveragePercentage
	}
	if in.MaxLineCoveragePercentage != nil {
		hi = *in.MaxLineCoveragePercentage
	}
	var files []cb.CodeCoverage
	for _, c := range r.Coverages {
		if p := cb.Deref(c.LineCoveragePercentage); p >= lo && p <= hi {
			files = append(files, c)
		}
	}
	byPct := cb.Deref(in.SortBy) == cb.ReportCodeCoverageSortByTypeLineCoveragePercentage
	desc := cb.Deref(in.SortOrder) == cb.SortOrderTypeDescending
	sort.SliceStable(files, func(i, j int) bool {
		a, b := files[i], files[j]
		if desc {
			a, b = b, a
		}
		if byPct && cb.Deref(a.LineCoveragePercentage) != cb.Deref(b.LineCoveragePercentage) {
			return cb.Deref(a.LineCoveragePercentage) < cb.Deref(b.LineCoveragePercentage)
		}
		return cb.Deref(a.FilePath) < cb.Deref(b.FilePath)
	})
	list := fmt.Sprintf("coverages/%s/%v/%v/%g/%g", arn, byPct, desc, lo, hi)
	from, to, next, err := offsetPage(list, in.NextToken, in.MaxResults, len(files))
	if err != nil {
		return nil, err
	}
	return &cb.DescribeCodeCoveragesOutput{CodeCoverages: append([]cb.CodeCoverage{}, files[from:to]...), NextToken: next}, nil
}

// trendFields maps a trend field to the report type it applies to and the
// value it reads from a report.
var trendFields = map[string]struct {
	typ   string
	value func(*cb.Report) (float64, bool)
}{
	cb.ReportGroupTrendFieldTypePassRate: {cb.ReportTypeTest, func(r *cb.Report) (float64, bool) {
		s := r.TestSummary
		if s == nil || cb.Deref(s.Total) == 0 {
			return 0, s != nil
		}
		return float64(s.StatusCounts["SUCCEEDED"]) / float64(cb.Deref(s.Total)) * 100, true
	}},
	cb.ReportGroupTrendFieldTypeDuration: {cb.ReportTypeTest, func(r *cb.Report) (float64, bool) {
		if r.TestSummary == nil {
			return 0, false
		}
		return float64(cb.Deref(r.TestSummary.DurationInNanoSeconds)), true
	}},
	cb.ReportGroupTrendFieldTypeTotal: {cb.ReportTypeTest, func(r *cb.Report) (float64, bool) {
		if r.TestSummary == nil {
			return 0, false
		}
		return float64(cb.Deref(r.TestSummary.Total)), true
	}},
	cb.ReportGroupTrendFieldTypeLineCoverage:    {cb.ReportTypeCodeCoverage, coverage(func(s *cb.CodeCoverageReportSummary) float64 { return cb.Deref(s.LineCoveragePercentage) })},
	cb.ReportGroupTrendFieldTypeLinesCovered:    {cb.ReportTypeCodeCoverage, coverage(func(s *cb.CodeCoverageReportSummary) float64 { return float64(cb.Deref(s.LinesCovered)) })},
	cb.ReportGroupTrendFieldTypeLinesMissed:     {cb.ReportTypeCodeCoverage, coverage(func(s *cb.CodeCoverageReportSummary) float64 { return float64(cb.Deref(s.LinesMissed)) })},
	cb.ReportGroupTrendFieldTypeBranchCoverage:  {cb.ReportTypeCodeCoverage, coverage(func(s *cb.CodeCoverageReportSummary) float64 { return cb.Deref(s.BranchCoveragePercentage) })},
	cb.ReportGroupTrendFieldTypeBranchesCovered: {cb.ReportTypeCodeCoverage, coverage(func(s *cb.CodeCoverageReportSummary) float64 { return float64(cb.Deref(s.BranchesCovered)) })},
	cb.ReportGroupTrendFieldTypeBranchesMissed:  {cb.ReportTypeCodeCoverage, coverage(func(s *cb.CodeCoverageReportSummary) float64 { return float64(cb.Deref(s.BranchesMissed)) })},
}

func coverage(f func(*cb.CodeCoverageReportSummary) float64) func(*cb.Report) (float64, bool) {
	return func(r *cb.Report) (float64, bool) {
		if r.CodeCoverageSummary == nil {
			return 0, false
		}
		return f(r.CodeCoverageSummary), true
	}
}

func trendNumber(v float64) string {
	v = math.Round(v*100) / 100
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// GetReportGroupTrend summarises a field over a group's most recent
// finished reports (newest first in rawData).
func (a *API) GetReportGroupTrend(ctx context.Context, in *cb.GetReportGroupTrendInput) (*cb.GetReportGroupTrendOutput, error) {
	_, scope := scopeOf(ctx)
	arn := cb.Deref(in.ReportGroupArn)
	field, ok := trendFields[cb.Deref(in.TrendField)]
	if !ok {
		return nil, invalid("Invalid input: unknown trendField %s", cb.Deref(in.TrendField))
	}
	n := int(cb.Deref(in.NumOfReports))
	if n <= 0 {
		n = 100
	}
	var reports []*store.Report
	err := a.st.View(ctx, func(tx store.Tx) error {
		g, err := tx.ReportGroupGet(ctx, scope, reportGroupName(ctx, arn))
		if err != nil {
			return err
		}
		if cb.Deref(g.Doc.Type) != field.typ {
			return invalid("Invalid input: trendField %s does not apply to a %s report group", cb.Deref(in.TrendField), cb.Deref(g.Doc.Type))
		}
		var after *store.Cursor
		for len(reports) < n {
			arns, next, err := tx.ReportList(ctx, scope, reportGroupName(ctx, arn), "", store.Page{After: after, Limit: 100, Descending: true})
			if err != nil {
				return err
			}
			for _, ra := range arns {
				r, err := tx.ReportGet(ctx, scope, ra)
				if err != nil {
					return err
				}
				if st := cb.Deref(r.Doc.Status); st == cb.ReportStatusTypeSucceeded || st == cb.ReportStatusTypeFailed {
					reports = append(reports, r)
				}
				if len(reports) == n {
					break
				}
			}
			if next == nil {
				break
			}
			after = next
		}
		return nil
	})
	if err != nil {
		return nil, translate(err, reportGroupNotFound(arn))
	}
	out := &cb.GetReportGroupTrendOutput{Stats: &cb.ReportGroupTrendStats{}, RawData: []cb.ReportWithRawData{}}
	var vals []float64
	for _, r := range reports {
		v, ok := field.value(r.Doc)
		if !ok {
			continue
		}
		vals = append(vals, v)
		out.RawData = append(out.RawData, cb.ReportWithRawData{ReportArn: r.Doc.Arn, Data: cb.String(trendNumber(v))})
	}
	if len(vals) > 0 {
		sum := 0.0
		for _, v := range vals {
			sum += v
		}
		out.Stats.Average = cb.String(trendNumber(sum / float64(len(vals))))
		out.Stats.Max = cb.String(trendNumber(slices.Max(vals)))
		out.Stats.Min = cb.String(trendNumber(slices.Min(vals)))
	}
	return out, nil
}
