package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
)

func reportGroup(s store.Scope, name string, created, modified time.Time) *store.ReportGroup {
	return &store.ReportGroup{Scope: s, Doc: &cb.ReportGroup{Name: cb.String(name),
		Arn:  cb.String(fmt.Sprintf("arn:aws:codebuild:%s:%s:report-group/%s", s.Region, s.Account, name)),
		Type: cb.String(cb.ReportTypeTest), Created: cb.At(created), LastModified: cb.At(modified), Status: cb.String(cb.ReportGroupStatusTypeActive),
		ExportConfig: &cb.ReportExportConfig{ExportConfigType: cb.String("NO_EXPORT")},
		Tags:         []cb.Tag{{Key: cb.String("k"), Value: cb.String("v")}}}}
}

func reportARN(s store.Scope, group string, n int) string {
	return fmt.Sprintf("arn:aws:codebuild:%s:%s:report/%s:%04d", s.Region, s.Account, group, n)
}

func report(s store.Scope, group string, n int, status string) *store.Report {
	return &store.Report{Scope: s, Group: group, Doc: &cb.Report{Arn: cb.String(reportARN(s, group, n)), Type: cb.String(cb.ReportTypeTest),
		Name: cb.String(fmt.Sprintf("%s-%d", group, n)), Status: cb.String(status), Created: cb.At(t0),
		ReportGroupArn: cb.String(fmt.Sprintf("arn:aws:codebuild:%s:%s:report-group/%s", s.Region, s.Account, group)),
		ExecutionId:    cb.String("arn:aws:codebuild:us-east-1:111122223333:build/p:1")}}
}

func testCases(arn string, n int) []cb.TestCase {
	out := make([]cb.TestCase, n)
	statuses := []string{"SUCCEEDED", "FAILED", "SKIPPED", "ERROR", "UNKNOWN"}
	for i := range out {
		out[i] = cb.TestCase{ReportArn: cb.String(arn), TestRawDataPath: cb.String(fmt.Sprintf("reports/junit-%d.xml", i/100)),
			Prefix: cb.String("pkg.Suite"), Name: cb.String(fmt.Sprintf("Test%05d", i)), Status: cb.String(statuses[i%len(statuses)]),
			DurationInNanoSeconds: cb.Int64(int64(i) * 1000), TestSuiteName: cb.String(fmt.Sprintf("suite%d", i%7)),
			Expired: cb.At(t0.Add(30 * 24 * time.Hour))}
		if i%5 == 1 {
			out[i].Message = cb.String(fmt.Sprintf("expected 1, got %d\n\tat x.go:%d \"quoted\" <tag> é\x00\x01 \u2028", i, i))
		}
	}
	return out
}

func coverages(arn string, n int) []cb.CodeCoverage {
	f := func(v float64) *float64 { return &v }
	out := make([]cb.CodeCoverage, n)
	for i := range out {
		out[i] = cb.CodeCoverage{Id: cb.String(fmt.Sprintf("cov-%d", i)), ReportARN: cb.String(arn), FilePath: cb.String(fmt.Sprintf("src/f%d.go", i)),
			LineCoveragePercentage: f(100 * float64(i) / 3), LinesCovered: cb.Int32(int32(i)), LinesMissed: cb.Int32(int32(2 * i)),
			BranchCoveragePercentage: f(0.1 + float64(i)), BranchesCovered: cb.Int32(1), BranchesMissed: cb.Int32(0)}
	}
	return out
}

// sameJSON reports whether a and b encode alike (time.Time's location
// aside, what a round trip through a store must keep).
func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

func testReportGroups(t *testing.T, s store.Store) {
	defer s.Close()
	g := reportGroup(scope, "unit", t0, t0)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.ReportGroupInsert(ctx, g) })
	err := s.Update(ctx, func(tx store.Tx) error { return tx.ReportGroupInsert(ctx, reportGroup(scope, "unit", t0, t0)) })
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("second ReportGroupInsert = %v, want ErrConflict", err)
	}
	get := func(sc store.Scope, name string) (*store.ReportGroup, error) {
		var got *store.ReportGroup
		err := s.View(ctx, func(tx store.Tx) (err error) { got, err = tx.ReportGroupGet(ctx, sc, name); return err })
		return got, err
	}
	got, err := get(scope, "unit")
	if err != nil || got.Scope != scope || !sameJSON(got.Doc, g.Doc) || !got.Doc.Created.Equal(t0) || len(got.Doc.Tags) != 1 {
		t.Fatalf("ReportGroupGet = %+v, %v", got, err)
	}
	if _, err := get(scope, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReportGroupGet(nope) = %v, want ErrNotFound", err)
	}
	// A project of the same name is another resource.
	if _, err := get(scope, "unit\x00"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReportGroupGet(unit NUL) = %v, want ErrNotFound", err)
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.ProjectInsert(ctx, scope, project("proj", t0, t0)) })
	if _, err := get(scope, "proj"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReportGroupGet of a project's name = %v, want ErrNotFound", err)
	}

	got.Doc.ExportConfig = &cb.ReportExportConfig{ExportConfigType: cb.String("S3"),
		S3Destination: &cb.S3ReportExportConfig{Bucket: cb.String("b"), Path: cb.String("p")}}
	got.Doc.LastModified = cb.At(t0.Add(time.Minute))
	mustUpdate(t, s, func(tx store.Tx) error { return tx.ReportGroupPut(ctx, got) })
	again, err := get(scope, "unit")
	if err != nil || !sameJSON(again.Doc, got.Doc) || cb.Deref(again.Doc.ExportConfig.S3Destination.Bucket) != "b" {
		t.Errorf("after ReportGroupPut: %+v, %v", again, err)
	}
	err = s.Update(ctx, func(tx store.Tx) error { return tx.ReportGroupPut(ctx, reportGroup(scope, "ghost", t0, t0)) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReportGroupPut(ghost) = %v, want ErrNotFound", err)
	}

	// A conflict does not spoil the transaction: the caller may go on.
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.ReportGroupInsert(ctx, reportGroup(scope, "unit", t0, t0)); !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("ReportGroupInsert in a transaction = %v, want ErrConflict", err)
		}
		return tx.ReportGroupInsert(ctx, reportGroup(scope, "integ", t0, t0))
	})
	if _, err := get(scope, "integ"); err != nil {
		t.Errorf("ReportGroupGet(integ) after a conflict in its transaction = %v", err)
	}

	// A rolled-back insert is not seen.
	boom := errors.New("boom")
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.ReportGroupInsert(ctx, reportGroup(scope, "rolled", t0, t0)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	if _, err := get(scope, "rolled"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rolled-back ReportGroupInsert is visible: %v", err)
	}

	mustUpdate(t, s, func(tx store.Tx) error { return tx.ReportGroupDelete(ctx, scope, "unit") })
	if _, err := get(scope, "unit"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReportGroupGet after delete = %v, want ErrNotFound", err)
	}
	err = s.Update(ctx, func(tx store.Tx) error { return tx.ReportGroupDelete(ctx, scope, "unit") })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second ReportGroupDelete = %v, want ErrNotFound", err)
	}
	// The name may be used again.
	mustUpdate(t, s, func(tx store.Tx) error { return tx.ReportGroupInsert(ctx, reportGroup(scope, "unit", t0, t0)) })

	// Scopes: another account or region sees none of them, and may use
	// the same names.
	for _, o := range []store.Scope{{Account: scope.Account, Region: "eu-west-1"}, {Account: "999999999999", Region: scope.Region}} {
		if _, err := get(o, "unit"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ReportGroupGet from %+v = %v, want ErrNotFound", o, err)
		}
		err := s.Update(ctx, func(tx store.Tx) error { return tx.ReportGroupPut(ctx, reportGroup(o, "unit", t0, t0)) })
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ReportGroupPut from %+v = %v, want ErrNotFound", o, err)
		}
		err = s.Update(ctx, func(tx store.Tx) error { return tx.ReportGroupDelete(ctx, o, "unit") })
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ReportGroupDelete from %+v = %v, want ErrNotFound", o, err)
		}
		var names []string
		s.View(ctx, func(tx store.Tx) error {
			names, _, err = tx.ReportGroupList(ctx, o, store.ProjectsByName, store.Page{Limit: 10})
			return err
		})
		if err != nil || len(names) != 0 {
			t.Errorf("ReportGroupList from %+v = %v, %v, want none", o, names, err)
		}
		mustUpdate(t, s, func(tx store.Tx) error { return tx.ReportGroupInsert(ctx, reportGroup(o, "unit", t0, t0)) })
		if g, err := get(o, "unit"); err != nil || g.Scope != o || !strings.Contains(cb.Deref(g.Doc.Arn), o.Account) {
			t.Errorf("ReportGroupGet from %+v = %+v, %v", o, g, err)
		}
	}
	if _, err := get(scope, "unit"); err != nil {
		t.Errorf("ReportGroupGet(unit) after other scopes' inserts = %v", err)
	}
}

func testReportGroupList(t *testing.T, s store.Store) {
	defer s.Close()
	// Names ascending; created descending relative to names; modified
	// mixed, with a tie (a and c) that the name breaks.
	names := []string{"a", "b", "c", "d", "e"}
	mod := []int{3, 1, 3, 0, 2}
	mustUpdate(t, s, func(tx store.Tx) error {
		for i, n := range names {
			g := reportGroup(scope, n, t0.Add(time.Duration(len(names)-i)*time.Second), t0.Add(time.Duration(mod[i])*time.Second))
			if err := tx.ReportGroupInsert(ctx, g); err != nil {
				return err
			}
		}
		// Neither projects nor other scopes' groups are listed.
		if err := tx.ProjectInsert(ctx, scope, project("c2", t0, t0)); err != nil {
			return err
		}
		return tx.ReportGroupInsert(ctx, reportGroup(store.Scope{Account: "999999999999", Region: scope.Region}, "b2", t0, t0))
	})
	tests := []struct {
		by   store.ProjectSort
		desc bool
		want string
	}{
		{store.ProjectsByName, false, "[a b c d e]"},
		{store.ProjectsByName, true, "[e d c b a]"},
		{store.ProjectsByCreated, false, "[e d c b a]"},
		{store.ProjectsByCreated, true, "[a b c d e]"},
		{store.ProjectsByModified, false, "[d b e a c]"},
		{store.ProjectsByModified, true, "[c a e b d]"},
	}
	for _, tt := range tests {
		for _, limit := range []int{1, 2, 5, 100} {
			var all []string
			var after *store.Cursor
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatal("pagination does not end")
				}
				var page []string
				var next *store.Cursor
				err := s.View(ctx, func(tx store.Tx) error {
					var err error
					page, next, err = tx.ReportGroupList(ctx, scope, tt.by, store.Page{After: after, Limit: limit, Descending: tt.desc})
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > limit {
					t.Fatalf("page of %d > limit %d", len(page), limit)
				}
				all = append(all, page...)
				if next == nil {
					break
				}
				after = next
			}
			if got := fmt.Sprint(all); got != tt.want {
				t.Errorf("ReportGroupList(by %d, desc %v, limit %d) = %s, want %s", tt.by, tt.desc, limit, got, tt.want)
			}
		}
	}
	// A put moves a group in the modification order.
	mustUpdate(t, s, func(tx store.Tx) error {
		g, err := tx.ReportGroupGet(ctx, scope, "d")
		if err != nil {
			return err
		}
		g.Doc.LastModified = cb.At(t0.Add(time.Hour))
		return tx.ReportGroupPut(ctx, g)
	})
	var page []string
	err := s.View(ctx, func(tx store.Tx) (err error) {
		page, _, err = tx.ReportGroupList(ctx, scope, store.ProjectsByModified, store.Page{Limit: 10})
		return err
	})
	if got := fmt.Sprint(page); err != nil || got != "[b e a c d]" {
		t.Errorf("ReportGroupList(by modified) after a put = %s, %v", got, err)
	}
}

func testReports(t *testing.T, s store.Store) {
	defer s.Close()
	get := func(sc store.Scope, arn string) (*store.Report, error) {
		var got *store.Report
		err := s.View(ctx, func(tx store.Tx) (err error) { got, err = tx.ReportGet(ctx, sc, arn); return err })
		return got, err
	}
	// A test report with thousands of test cases, a coverage report.
	tr := report(scope, "unit", 1, cb.ReportStatusTypeGenerating)
	tr.TestCases = testCases(reportARN(scope, "unit", 1), 5000)
	cr := report(scope, "cov", 1, cb.ReportStatusTypeSucceeded)
	cr.Doc.Type = cb.String(cb.ReportTypeCodeCoverage)
	cr.Coverages = coverages(reportARN(scope, "cov", 1), 300)
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.ReportInsert(ctx, tr); err != nil {
			return err
		}
		return tx.ReportInsert(ctx, cr)
	})
	if tr.Seq == 0 || cr.Seq <= tr.Seq {
		t.Errorf("Seq %d then %d, want increasing from 1", tr.Seq, cr.Seq)
	}
	got, err := get(scope, reportARN(scope, "unit", 1))
	if err != nil {
		t.Fatal(err)
	}
	if got.Scope != scope || got.Group != "unit" || got.Seq != tr.Seq || !sameJSON(got.Doc, tr.Doc) || got.Coverages != nil {
		t.Errorf("ReportGet = scope %+v group %q seq %d doc %+v coverages %v", got.Scope, got.Group, got.Seq, got.Doc, got.Coverages)
	}
	if len(got.TestCases) != 5000 || !sameJSON(got.TestCases, tr.TestCases) {
		t.Errorf("ReportGet: %d test cases, or not the ones inserted", len(got.TestCases))
	}
	if m := cb.Deref(got.TestCases[1].Message); m != cb.Deref(tr.TestCases[1].Message) {
		t.Errorf("test case message %q, want %q", m, cb.Deref(tr.TestCases[1].Message))
	}
	gotc, err := get(scope, reportARN(scope, "cov", 1))
	if err != nil || gotc.TestCases != nil || !reflect.DeepEqual(gotc.Coverages, cr.Coverages) || gotc.Group != "cov" {
		t.Errorf("ReportGet(coverage report) = %+v, %v", gotc, err)
	}

	// Conflicts, in their own transaction and in one that goes on.
	err = s.Update(ctx, func(tx store.Tx) error {
		return tx.ReportInsert(ctx, report(scope, "unit", 1, cb.ReportStatusTypeFailed))
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate ReportInsert = %v, want ErrConflict", err)
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.ReportInsert(ctx, report(scope, "other-group", 1, cb.ReportStatusTypeFailed)); err != nil {
			return err
		}
		dup := report(scope, "unit", 1, cb.ReportStatusTypeFailed)
		if err := tx.ReportInsert(ctx, dup); !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("ReportInsert in a transaction = %v, want ErrConflict", err)
		}
		r, err := tx.ReportGet(ctx, scope, reportARN(scope, "unit", 1))
		if err != nil {
			return err
		}
		if cb.Deref(r.Doc.Status) != cb.ReportStatusTypeGenerating {
			return fmt.Errorf("a conflicting insert changed the report: %s", cb.Deref(r.Doc.Status))
		}
		return nil
	})
	if _, err := get(scope, reportARN(scope, "other-group", 1)); err != nil {
		t.Errorf("ReportGet of a report inserted before a conflict in its transaction = %v", err)
	}

	// Put replaces the document, test cases and coverages.
	got.Doc.Status = cb.String(cb.ReportStatusTypeFailed)
	got.Doc.TestSummary = &cb.TestReportSummary{Total: cb.Int32(2), StatusCounts: map[string]int32{"FAILED": 1, "SUCCEEDED": 1}, DurationInNanoSeconds: cb.Int64(5)}
	got.TestCases = testCases(reportARN(scope, "unit", 1), 2)
	got.Coverages = coverages(reportARN(scope, "unit", 1), 1)
	seq := got.Seq
	mustUpdate(t, s, func(tx store.Tx) error { return tx.ReportPut(ctx, got) })
	again, err := get(scope, reportARN(scope, "unit", 1))
	if err != nil || !sameJSON(again.Doc, got.Doc) || !sameJSON(again.TestCases, got.TestCases) || !reflect.DeepEqual(again.Coverages, got.Coverages) ||
		again.Seq != seq || again.Group != "unit" {
		t.Errorf("after ReportPut: %+v, %v", again, err)
	}
	err = s.Update(ctx, func(tx store.Tx) error {
		return tx.ReportPut(ctx, report(scope, "unit", 404, cb.ReportStatusTypeFailed))
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReportPut(ghost) = %v, want ErrNotFound", err)
	}
	if _, err := get(scope, reportARN(scope, "unit", 404)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReportGet(ghost) = %v, want ErrNotFound", err)
	}

	// An empty list and nil are the same: both read back empty, alike.
	withNil := report(scope, "empty", 1, cb.ReportStatusTypeSucceeded)
	withEmpty := report(scope, "empty", 2, cb.ReportStatusTypeSucceeded)
	withEmpty.TestCases, withEmpty.Coverages = []cb.TestCase{}, []cb.CodeCoverage{}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.ReportInsert(ctx, withNil); err != nil {
			return err
		}
		return tx.ReportInsert(ctx, withEmpty)
	})
	rn, err1 := get(scope, reportARN(scope, "empty", 1))
	re, err2 := get(scope, reportARN(scope, "empty", 2))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if len(rn.TestCases) != 0 || len(rn.Coverages) != 0 || !reflect.DeepEqual(rn.TestCases, re.TestCases) || !reflect.DeepEqual(rn.Coverages, re.Coverages) {
		t.Errorf("nil lists read back as %#v %#v, empty ones as %#v %#v", rn.TestCases, rn.Coverages, re.TestCases, re.Coverages)
	}
	// ... and a put of empty lists empties a report's.
	again.TestCases, again.Coverages = []cb.TestCase{}, nil
	mustUpdate(t, s, func(tx store.Tx) error { return tx.ReportPut(ctx, again) })
	if r, err := get(scope, reportARN(scope, "unit", 1)); err != nil || len(r.TestCases) != 0 || len(r.Coverages) != 0 ||
		!reflect.DeepEqual(r.TestCases, rn.TestCases) || !reflect.DeepEqual(r.Coverages, rn.Coverages) {
		t.Errorf("after a put of empty lists: %+v, %v", r, err)
	}

	// Scopes: a report is found only in its own; the same ARN may be used
	// in another.
	other := store.Scope{Account: "999999999999", Region: scope.Region}
	arn := reportARN(scope, "cov", 1)
	if _, err := get(other, arn); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReportGet from another account = %v, want ErrNotFound", err)
	}
	if _, err := get(store.Scope{Account: scope.Account, Region: "eu-west-1"}, arn); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReportGet from another region = %v, want ErrNotFound", err)
	}
	foreign := report(other, "cov", 1, cb.ReportStatusTypeFailed)
	foreign.Doc.Arn = cb.String(arn)
	err = s.Update(ctx, func(tx store.Tx) error { return tx.ReportPut(ctx, foreign) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReportPut from another account = %v, want ErrNotFound", err)
	}
	err = s.Update(ctx, func(tx store.Tx) error { return tx.ReportDelete(ctx, other, arn) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReportDelete from another account = %v, want ErrNotFound", err)
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.ReportInsert(ctx, foreign) })
	if r, err := get(other, arn); err != nil || r.Scope != other || cb.Deref(r.Doc.Status) != cb.ReportStatusTypeFailed {
		t.Errorf("ReportGet of the other account's report = %+v, %v", r, err)
	}
	if r, err := get(scope, arn); err != nil || cb.Deref(r.Doc.Status) != cb.ReportStatusTypeSucceeded || len(r.Coverages) != 300 {
		t.Errorf("ReportGet after another account's insert of the ARN = %+v, %v", r, err)
	}

	// A rolled-back insert is not seen.
	boom := errors.New("boom")
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.ReportInsert(ctx, report(scope, "unit", 99, cb.ReportStatusTypeFailed)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	if _, err := get(scope, reportARN(scope, "unit", 99)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rolled-back ReportInsert is visible: %v", err)
	}

	mustUpdate(t, s, func(tx store.Tx) error { return tx.ReportDelete(ctx, scope, arn) })
	if _, err := get(scope, arn); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReportGet after delete = %v, want ErrNotFound", err)
	}
	err = s.Update(ctx, func(tx store.Tx) error { return tx.ReportDelete(ctx, scope, arn) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second ReportDelete = %v, want ErrNotFound", err)
	}
	if _, err := get(other, arn); err != nil {
		t.Errorf("the other account's report after the delete = %v", err)
	}
}

func testReportList(t *testing.T, s store.Store) {
	defer s.Close()
	// unit:1..5 and integ:1..2, interleaved, over several transactions.
	type item struct {
		group  string
		n      int
		status string
	}
	items := []item{
		{"unit", 1, cb.ReportStatusTypeSucceeded}, {"integ", 1, cb.ReportStatusTypeFailed}, {"unit", 2, cb.ReportStatusTypeFailed},
		{"unit", 3, cb.ReportStatusTypeGenerating}, {"integ", 2, cb.ReportStatusTypeSucceeded}, {"unit", 4, cb.ReportStatusTypeFailed},
		{"unit", 5, cb.ReportStatusTypeSucceeded},
	}
	other := store.Scope{Account: "999999999999", Region: scope.Region}
	var last int64
	for i := 0; i < len(items); i += 3 {
		mustUpdate(t, s, func(tx store.Tx) error {
			for _, it := range items[i:min(i+3, len(items))] {
				r := report(scope, it.group, it.n, it.status)
				r.TestCases = testCases(cb.Deref(r.Doc.Arn), 3)
				if err := tx.ReportInsert(ctx, r); err != nil {
					return err
				}
				if r.Seq <= last {
					return fmt.Errorf("Seq %d after %d", r.Seq, last)
				}
				last = r.Seq
			}
			return tx.ReportInsert(ctx, report(other, "unit", i, cb.ReportStatusTypeFailed))
		})
	}
	short := func(arns []string) string {
		var out []string
		for _, a := range arns {
			_, id, _ := strings.Cut(a, ":report/")
			out = append(out, id)
		}
		return fmt.Sprint(out)
	}
	list := func(sc store.Scope, group, status string, desc bool, limit int) string {
		var all []string
		var after *store.Cursor
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatal("pagination does not end")
			}
			var page []string
			var next *store.Cursor
			err := s.View(ctx, func(tx store.Tx) (err error) {
				page, next, err = tx.ReportList(ctx, sc, group, status, store.Page{After: after, Limit: limit, Descending: desc})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > limit {
				t.Fatalf("page of %d > limit %d", len(page), limit)
			}
			all = append(all, page...)
			if next == nil {
				return short(all)
			}
			after = next
		}
	}
	tests := []struct {
		group, status string
		desc          bool
		want          string
	}{
		{"", "", false, "[unit:0001 integ:0001 unit:0002 unit:0003 integ:0002 unit:0004 unit:0005]"},
		{"", "", true, "[unit:0005 unit:0004 integ:0002 unit:0003 unit:0002 integ:0001 unit:0001]"},
		{"unit", "", false, "[unit:0001 unit:0002 unit:0003 unit:0004 unit:0005]"},
		{"unit", "", true, "[unit:0005 unit:0004 unit:0003 unit:0002 unit:0001]"},
		{"integ", "", true, "[integ:0002 integ:0001]"},
		{"", cb.ReportStatusTypeFailed, false, "[integ:0001 unit:0002 unit:0004]"},
		{"", cb.ReportStatusTypeFailed, true, "[unit:0004 unit:0002 integ:0001]"},
		{"unit", cb.ReportStatusTypeSucceeded, false, "[unit:0001 unit:0005]"},
		{"unit", cb.ReportStatusTypeSucceeded, true, "[unit:0005 unit:0001]"},
		{"integ", cb.ReportStatusTypeGenerating, false, "[]"},
		{"none", "", false, "[]"},
		{"", cb.ReportStatusTypeDeleting, true, "[]"},
	}
	for _, tt := range tests {
		for _, limit := range []int{1, 2, 3, 100} {
			if got := list(scope, tt.group, tt.status, tt.desc, limit); got != tt.want {
				t.Errorf("ReportList(%q, %q, desc %v, limit %d) = %s, want %s", tt.group, tt.status, tt.desc, limit, got, tt.want)
			}
		}
	}
	if got := list(other, "", "", false, 2); got != "[unit:0000 unit:0003 unit:0006]" {
		t.Errorf("ReportList of the other account = %s", got)
	}
	if got := list(store.Scope{Account: scope.Account, Region: "eu-west-1"}, "", "", false, 2); got != "[]" {
		t.Errorf("ReportList of another region = %s", got)
	}

	// A page's cursor stays valid across changes: a report inserted after
	// it comes later in creation order, a deleted one is skipped, and a
	// status change moves a report in and out of a filtered listing.
	page := func(group, status string, after *store.Cursor, desc bool, limit int) ([]string, *store.Cursor) {
		var ids []string
		var next *store.Cursor
		err := s.View(ctx, func(tx store.Tx) (err error) {
			ids, next, err = tx.ReportList(ctx, scope, group, status, store.Page{After: after, Limit: limit, Descending: desc})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return ids, next
	}
	first, next := page("unit", "", nil, false, 2)
	if short(first) != "[unit:0001 unit:0002]" || next == nil {
		t.Fatalf("first page = %s, %v", short(first), next)
	}
	desc, dnext := page("unit", "", nil, true, 2)
	if short(desc) != "[unit:0005 unit:0004]" || dnext == nil {
		t.Fatalf("first page, newest first = %s, %v", short(desc), dnext)
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.ReportInsert(ctx, report(scope, "unit", 6, cb.ReportStatusTypeSucceeded)); err != nil {
			return err
		}
		if err := tx.ReportDelete(ctx, scope, reportARN(scope, "unit", 3)); err != nil {
			return err
		}
		r, err := tx.ReportGet(ctx, scope, reportARN(scope, "unit", 4))
		if err != nil {
			return err
		}
		r.Doc.Status = cb.String(cb.ReportStatusTypeSucceeded)
		return tx.ReportPut(ctx, r)
	})
	rest, _ := page("unit", "", next, false, 100)
	if got := short(rest); got != "[unit:0004 unit:0005 unit:0006]" {
		t.Errorf("rest of the listing after changes = %s", got)
	}
	rest, _ = page("unit", "", dnext, true, 100)
	if got := short(rest); got != "[unit:0002 unit:0001]" {
		t.Errorf("rest of the newest-first listing after changes = %s", got)
	}
	if got := list(scope, "unit", cb.ReportStatusTypeSucceeded, true, 1); got != "[unit:0006 unit:0005 unit:0004 unit:0001]" {
		t.Errorf("ReportList(unit, SUCCEEDED) after a put = %s", got)
	}
	if got := list(scope, "", cb.ReportStatusTypeFailed, false, 1); got != "[integ:0001 unit:0002]" {
		t.Errorf("ReportList(FAILED) after a put = %s", got)
	}
	// Deleting a report group leaves its reports (the caller deletes them).
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.ReportGroupInsert(ctx, reportGroup(scope, "integ", t0, t0))
	})
	mustUpdate(t, s, func(tx store.Tx) error { return tx.ReportGroupDelete(ctx, scope, "integ") })
	if got := list(scope, "integ", "", false, 10); got != "[integ:0001 integ:0002]" {
		t.Errorf("ReportList(integ) after its group's delete = %s", got)
	}
}
