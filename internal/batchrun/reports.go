package batchrun

import (
	"context"
	"errors"
	"fmt"

	"github.com/buildbatch/buildbatch/internal/batch"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/report"
	"github.com/buildbatch/buildbatch/internal/store"
)

// mergeReports makes, in tx, the batch-level reports of a build-fanout
// batch that just ended: the shards report into
// <group>BuildFanoutShard<n> groups, and each group's reports are merged
// (report.Merge) into one report of <group>, listed in the batch's
// reportArns. A shard whose current build made no report of a group
// makes that group's merged report INCOMPLETE. Only stored reports are
// read (at most MaxTestCases cases each), so this stays a short step of
// the transaction that ends the batch.
func (c *Coordinator) mergeReports(ctx context.Context, tx store.Tx, b *store.Batch, plan *batch.Plan) error {
	if plan == nil {
		return nil
	}
	shards := 0
	for _, g := range plan.Groups {
		shards = max(shards, g.Shards)
	}
	if shards == 0 {
		return nil // not a fanout
	}
	type merge struct {
		typ   string
		parts []report.Part
		seen  map[int]bool
	}
	merges := map[string]*merge{}
	var order []string
	for _, g := range b.Doc.BuildGroups {
		s := g.CurrentBuildSummary
		if s == nil || cb.Deref(s.Arn) == "" {
			continue
		}
		m, err := tx.BuildGet(ctx, b.Scope, ident.ResourceName(cb.Deref(s.Arn), "build"))
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if m.Meta.Shards == 0 {
			continue // the bootstrap build
		}
		for _, arn := range m.Doc.ReportArns {
			r, err := tx.ReportGet(ctx, b.Scope, arn)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted since
			}
			if err != nil {
				return err
			}
			group, shard, ok := report.SplitShardGroup(r.Group)
			if !ok || shard != m.Meta.Shard {
				continue
			}
			mg := merges[group]
			if mg == nil {
				mg = &merge{typ: cb.Deref(r.Doc.Type), seen: map[int]bool{}}
				merges[group] = mg
				order = append(order, group)
			}
			if cb.Deref(r.Doc.Type) != mg.typ || mg.seen[shard] {
				continue
			}
			mg.seen[shard] = true
			mg.parts = append(mg.parts, report.Part{Doc: r.Doc, TestCases: r.TestCases, Coverages: r.Coverages})
		}
	}
	now := c.o.Now()
	var arns []string
	for _, name := range order {
		mg := merges[name]
		g, err := tx.ReportGroupGet(ctx, b.Scope, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			g = &store.ReportGroup{Scope: b.Scope, Doc: report.NewGroup(b.Scope.Region, b.Scope.Account, name, mg.typ, now)}
			if err := tx.ReportGroupInsert(ctx, g); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		if cb.Deref(g.Doc.Type) != mg.typ {
			return fmt.Errorf("merging the shards' reports: report group %s is of type %s, the shards' reports of type %s", name, cb.Deref(g.Doc.Type), mg.typ)
		}
		merged := report.Merge(mg.typ, mg.parts, shards-len(mg.parts))
		doc := report.NewReport(b.Scope.Region, b.Scope.Account, name, c.o.UUID(), mg.typ, cb.Deref(b.Doc.Arn), now)
		doc.Status, doc.Truncated, doc.ExportConfig = cb.String(merged.Status), cb.Bool(merged.Truncated), g.Doc.ExportConfig
		doc.TestSummary, doc.CodeCoverageSummary = merged.TestSummary, merged.Coverage
		for i := range merged.TestCases {
			merged.TestCases[i].ReportArn, merged.TestCases[i].Expired = doc.Arn, doc.Expired
		}
		for i := range merged.Coverages {
			merged.Coverages[i].Id, merged.Coverages[i].ReportARN, merged.Coverages[i].Expired = cb.String(c.o.UUID()), doc.Arn, doc.Expired
		}
		if err := tx.ReportInsert(ctx, &store.Report{Scope: b.Scope, Doc: doc, Group: name, TestCases: merged.TestCases, Coverages: merged.Coverages}); err != nil {
			return err
		}
		arns = append(arns, cb.Deref(doc.Arn))
	}
	b.Doc.ReportArns = arns
	return nil
}
