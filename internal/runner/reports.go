package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/buildbatch/buildbatch/internal/artifact"
	"github.com/buildbatch/buildbatch/internal/buildspec"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/report"
	"github.com/buildbatch/buildbatch/internal/source"
	"github.com/buildbatch/buildbatch/internal/store"
)

// uploadReports makes one report per entry of the buildspec's reports
// section: it finds or creates the report group (<project>-<name>, or the
// group an ARN names), parses the files in their format into test cases or
// file coverages, stores the report and exports the raw files when the
// group says so. A report's problems (no files, a malformed file, a group
// of the other type) are the report's status and the build log's, never
// the build's.
func (x *run) uploadReports(ctx context.Context) {
	for i := range x.spec.Reports {
		if arn := x.makeReport(ctx, &x.spec.Reports[i]); arn != "" {
			x.doc.ReportArns = append(x.doc.ReportArns, arn)
		}
	}
}

func (x *run) makeReport(ctx context.Context, rep *buildspec.Report) string {
	scope := x.b.Scope
	format, ok := report.Canonical(rep.FileFormat)
	if !ok {
		format = report.DefaultFormat
	}
	typ, _ := report.ReportType(format)
	project := cb.Deref(x.doc.ProjectName)
	name := project + "-" + rep.Name
	byARN := strings.HasPrefix(rep.Name, "arn:")
	if byARN {
		p, ok := ident.Parse(rep.Name)
		if !ok || p.Account != scope.Account || p.Region != scope.Region {
			x.log.Printf("Report %s: the report group must belong to this build's account and region", rep.Name)
			return ""
		}
		name = ident.ResourceName(rep.Name, "report-group")
	}
	if x.b.Meta.Shards > 0 {
		// A fanout shard reports into its own group; the batch merges the
		// shards' reports into the named one when it ends.
		name, byARN = report.ShardGroup(name, x.b.Meta.Shard), false
	}
	files, err := x.selectFiles(ctx, artifact.Selection{Files: rep.Files, BaseDirectory: rep.BaseDirectory, DiscardPaths: rep.DiscardPaths})
	if err != nil {
		x.log.Printf("Report %s: %v", rep.Name, err)
		files = nil
	}
	now := x.r.now()
	doc := report.NewReport(scope.Region, scope.Account, name, x.uuid, typ, cb.Deref(x.doc.Arn), now)
	arn, expired := cb.Deref(doc.Arn), doc.Expired
	r := &store.Report{Scope: scope, Doc: doc, Group: name}

	// Parse: test files as streams into a bounded gathering of cases.
	var problems []string
	tests := report.NewTests(report.MaxTestCases)
	for _, f := range files {
		if typ == cb.ReportTypeTest {
			if err := readTests(format, f, tests); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", f.Name, err))
			}
			continue
		}
		data, err := os.ReadFile(f.Src)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", f.Name, err))
			continue
		}
		cov, err := report.ParseCoverage(format, data)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", f.Name, err))
			continue
		}
		r.Coverages = append(r.Coverages, cov...)
	}
	status := cb.ReportStatusTypeSucceeded
	switch {
	case len(files) == 0:
		status = cb.ReportStatusTypeIncomplete
		x.log.Printf("Report %s: no files matched %v", rep.Name, rep.Files)
	case len(problems) > 0:
		status = cb.ReportStatusTypeFailed
		for _, p := range problems {
			x.log.Printf("Report %s: %s", rep.Name, p)
		}
	}
	if typ == cb.ReportTypeTest {
		sum := tests.Summary()
		doc.TestSummary = &sum
		kept, truncated := tests.Kept()
		r.TestCases = kept
		doc.Truncated = cb.Bool(truncated)
		if status == cb.ReportStatusTypeSucceeded {
			status = report.TestReportStatus(sum)
		}
		for i := range r.TestCases {
			r.TestCases[i].ReportArn, r.TestCases[i].Expired = cb.String(arn), expired
		}
	} else {
		sum := report.SummarizeCoverage(r.Coverages)
		doc.CodeCoverageSummary = &sum
		doc.Truncated = cb.Bool(false)
		for i := range r.Coverages {
			r.Coverages[i].Id, r.Coverages[i].ReportARN, r.Coverages[i].Expired = cb.String(ident.UUID()), cb.String(arn), expired
		}
	}
	doc.Status = cb.String(status)

	// Store, creating the group if need be.
	var group *store.ReportGroup
	err = x.r.cfg.Store.Update(context.WithoutCancel(ctx), func(tx store.Tx) error {
		g, err := tx.ReportGroupGet(ctx, scope, name)
		switch {
		case errors.Is(err, store.ErrNotFound) && !byARN:
			g = &store.ReportGroup{Scope: scope, Doc: report.NewGroup(scope.Region, scope.Account, name, typ, now)}
			if err := tx.ReportGroupInsert(ctx, g); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		if cb.Deref(g.Doc.Type) != typ {
			return fmt.Errorf("report group %s is of type %s, and %s files make %s reports", name, cb.Deref(g.Doc.Type), format, typ)
		}
		group = g
		doc.ExportConfig = g.Doc.ExportConfig
		return tx.ReportInsert(ctx, r)
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = fmt.Errorf("report group %s does not exist", rep.Name)
		}
		x.log.Printf("Report %s: %v", rep.Name, err)
		return ""
	}
	x.log.Printf("Report %s: %s report %s with %d files: %s", rep.Name, typ, arn, len(files), status)
	x.exportReport(ctx, group, name, files)
	return arn
}

// exportReport writes a report's raw files where its group's exportConfig
// says: <bucket>/<path>/<group>/<report uuid>/ (or .zip).
func (x *run) exportReport(ctx context.Context, g *store.ReportGroup, name string, files []artifact.File) {
	e := g.Doc.ExportConfig
	if e == nil || cb.Deref(e.ExportConfigType) != cb.ReportExportConfigTypeS3 || e.S3Destination == nil || len(files) == 0 {
		return
	}
	d := e.S3Destination
	bucket, prefix, err := source.SplitS3(cb.Deref(d.Bucket) + "/" + cb.Deref(d.Path))
	if err != nil {
		bucket, prefix = cb.Deref(d.Bucket), cb.Deref(d.Path)
	}
	key := path.Join(prefix, name, x.uuid)
	zip := cb.Deref(d.Packaging) == cb.ReportPackagingTypeZip
	if zip {
		key += ".zip"
	}
	if _, err := artifact.Upload(ctx, x.blob, files, artifact.Target{Bucket: bucket, Key: key, Zip: zip, Max: x.r.cfg.MaxArtifactBytes}, x.tmp); err != nil {
		x.log.Printf("Report %s: exporting the raw files to s3://%s/%s: %v", name, bucket, key, err)
		return
	}
	x.log.Printf("Report %s: raw files exported to s3://%s/%s", name, bucket, key)
}

// readTests reads a test report file's cases into tests (those before a
// malformed part of the file included).
func readTests(format string, f artifact.File, tests *report.Tests) error {
	file, err := os.Open(f.Src)
	if err != nil {
		return err
	}
	defer file.Close()
	return report.ReadTests(format, file, f.Name, tests.Add)
}
