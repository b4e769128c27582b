package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
)

// Report groups and reports do not go through the document cache: every
// read goes to SQLite, so no cached copy can outlive a change.

func reportGroupTimes(g *codebuild.ReportGroup) (created, modified int64) {
	if g.Created != nil {
		created = g.Created.UnixNano()
	}
	if g.LastModified != nil {
		modified = g.LastModified.UnixNano()
	}
	return
}

func (t *txn) ReportGroupInsert(ctx context.Context, g *store.ReportGroup) error {
	doc, err := encode(g.Doc)
	if err != nil {
		return err
	}
	created, modified := reportGroupTimes(g.Doc)
	name := codebuild.Deref(g.Doc.Name)
	_, err = t.exec(ctx, `INSERT INTO report_groups (account, region, name, created, last_modified, doc) VALUES (?, ?, ?, ?, ?, ?)`,
		g.Scope.Account, g.Scope.Region, name, created, modified, doc)
	if isConstraint(err) {
		return fmt.Errorf("report group %s: %w", name, store.ErrConflict)
	}
	return err
}

func (t *txn) ReportGroupGet(ctx context.Context, s store.Scope, name string) (*store.ReportGroup, error) {
	var doc []byte
	err := t.queryRow(ctx, `SELECT doc FROM report_groups WHERE account = ? AND region = ? AND name = ?`,
		s.Account, s.Region, name).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("report group %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	d, err := decode[codebuild.ReportGroup](doc)
	if err != nil {
		return nil, err
	}
	return &store.ReportGroup{Scope: s, Doc: d}, nil
}

func (t *txn) ReportGroupPut(ctx context.Context, g *store.ReportGroup) error {
	doc, err := encode(g.Doc)
	if err != nil {
		return err
	}
	created, modified := reportGroupTimes(g.Doc)
	name := codebuild.Deref(g.Doc.Name)
	res, err := t.exec(ctx, `UPDATE report_groups SET created = ?, last_modified = ?, doc = ? WHERE account = ? AND region = ? AND name = ?`,
		created, modified, doc, g.Scope.Account, g.Scope.Region, name)
	if err != nil {
		return err
	}
	return mustAffect(res, "report group "+name)
}

func (t *txn) ReportGroupDelete(ctx context.Context, s store.Scope, name string) error {
	res, err := t.exec(ctx, `DELETE FROM report_groups WHERE account = ? AND region = ? AND name = ?`, s.Account, s.Region, name)
	if err != nil {
		return err
	}
	return mustAffect(res, "report group "+name)
}

func (t *txn) ReportGroupList(ctx context.Context, s store.Scope, by store.ProjectSort, p store.Page) ([]string, *store.Cursor, error) {
	return t.listNames(ctx, "report_groups", s, by, p)
}

// reportCols encodes a report's document, test cases and coverages; an
// empty list is stored as [] whether it is nil or not.
func reportCols(r *store.Report) (doc, cases, coverages []byte, err error) {
	if doc, err = encode(r.Doc); err != nil {
		return
	}
	if cases, err = encodeList(r.TestCases); err != nil {
		return
	}
	coverages, err = encodeList(r.Coverages)
	return
}

func encodeList[T any](l []T) ([]byte, error) {
	if len(l) == 0 {
		return []byte("[]"), nil
	}
	return json.Marshal(l)
}

// decodeList decodes a stored list; an empty one is nil.
func decodeList[T any](b []byte, what string) ([]T, error) {
	var l []T
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("corrupt stored %s: %w", what, err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

func (t *txn) ReportInsert(ctx context.Context, r *store.Report) error {
	doc, cases, coverages, err := reportCols(r)
	if err != nil {
		return err
	}
	arn := codebuild.Deref(r.Doc.Arn)
	res, err := t.exec(ctx, `INSERT INTO reports (account, region, arn, report_group, status, doc, test_cases, coverages)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Scope.Account, r.Scope.Region, arn, r.Group, codebuild.Deref(r.Doc.Status), doc, cases, coverages)
	if err != nil {
		if isConstraint(err) {
			return fmt.Errorf("report %s: %w", arn, store.ErrConflict)
		}
		return err
	}
	r.Seq, err = res.LastInsertId()
	return err
}

func (t *txn) ReportGet(ctx context.Context, s store.Scope, arn string) (*store.Report, error) {
	r := store.Report{Scope: s}
	var doc, cases, coverages []byte
	err := t.queryRow(ctx, `SELECT seq, report_group, doc, test_cases, coverages FROM reports WHERE account = ? AND region = ? AND arn = ?`,
		s.Account, s.Region, arn).Scan(&r.Seq, &r.Group, &doc, &cases, &coverages)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("report %s: %w", arn, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if r.Doc, err = decode[codebuild.Report](doc); err != nil {
		return nil, err
	}
	if r.TestCases, err = decodeList[codebuild.TestCase](cases, "test cases"); err != nil {
		return nil, err
	}
	if r.Coverages, err = decodeList[codebuild.CodeCoverage](coverages, "coverages"); err != nil {
		return nil, err
	}
	return &r, nil
}

func (t *txn) ReportPut(ctx context.Context, r *store.Report) error {
	doc, cases, coverages, err := reportCols(r)
	if err != nil {
		return err
	}
	arn := codebuild.Deref(r.Doc.Arn)
	// As for builds' projects, the report group column keeps its inserted
	// value.
	res, err := t.exec(ctx, `UPDATE reports SET status = ?, doc = ?, test_cases = ?, coverages = ? WHERE account = ? AND region = ? AND arn = ?`,
		codebuild.Deref(r.Doc.Status), doc, cases, coverages, r.Scope.Account, r.Scope.Region, arn)
	if err != nil {
		return err
	}
	return mustAffect(res, "report "+arn)
}

func (t *txn) ReportDelete(ctx context.Context, s store.Scope, arn string) error {
	res, err := t.exec(ctx, `DELETE FROM reports WHERE account = ? AND region = ? AND arn = ?`, s.Account, s.Region, arn)
	if err != nil {
		return err
	}
	return mustAffect(res, "report "+arn)
}

func (t *txn) ReportList(ctx context.Context, s store.Scope, group, status string, p store.Page) ([]string, *store.Cursor, error) {
	return t.listSeq(ctx, "reports", "arn", "report_group", s, group, status, p)
}
