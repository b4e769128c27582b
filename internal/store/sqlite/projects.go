package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
)

func projectTimes(p *codebuild.Project) (created, modified int64) {
	if p.Created != nil {
		created = p.Created.UnixNano()
	}
	if p.LastModified != nil {
		modified = p.LastModified.UnixNano()
	}
	return
}

func (t *txn) ProjectInsert(ctx context.Context, s store.Scope, p *codebuild.Project) error {
	doc, err := encode(p)
	if err != nil {
		return err
	}
	created, modified := projectTimes(p)
	name := codebuild.Deref(p.Name)
	_, err = t.exec(ctx, `INSERT INTO projects (account, region, name, created, last_modified, doc) VALUES (?, ?, ?, ?, ?, ?)`,
		s.Account, s.Region, name, created, modified, doc)
	if err != nil && isConstraint(err) {
		return fmt.Errorf("project %s: %w", name, store.ErrConflict)
	}
	if err == nil {
		t.cached("p", s, name, doc)
	}
	return err
}

func (t *txn) ProjectGet(ctx context.Context, s store.Scope, name string) (*codebuild.Project, error) {
	if t.readOnly { // the cache knows only what is committed
		if doc := t.cache.get(cacheKey("p", s, name)); doc != nil {
			return decode[codebuild.Project](doc)
		}
	}
	var doc []byte
	err := t.queryRow(ctx, `SELECT doc FROM projects WHERE account = ? AND region = ? AND name = ?`,
		s.Account, s.Region, name).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("project %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return decode[codebuild.Project](doc)
}

func (t *txn) ProjectPut(ctx context.Context, s store.Scope, p *codebuild.Project) error {
	doc, err := encode(p)
	if err != nil {
		return err
	}
	created, modified := projectTimes(p)
	name := codebuild.Deref(p.Name)
	res, err := t.exec(ctx, `UPDATE projects SET created = ?, last_modified = ?, doc = ? WHERE account = ? AND region = ? AND name = ?`,
		created, modified, doc, s.Account, s.Region, name)
	if err != nil {
		return err
	}
	t.cached("p", s, name, doc)
	return mustAffect(res, "project "+name)
}

func (t *txn) ProjectDelete(ctx context.Context, s store.Scope, name string) error {
	res, err := t.exec(ctx, `DELETE FROM projects WHERE account = ? AND region = ? AND name = ?`, s.Account, s.Region, name)
	if err != nil {
		return err
	}
	t.cached("p", s, name, nil)
	return mustAffect(res, "project "+name)
}

func (t *txn) ProjectList(ctx context.Context, s store.Scope, by store.ProjectSort, p store.Page) ([]string, *store.Cursor, error) {
	return t.listNames(ctx, "projects", s, by, p)
}

// listNames lists the names of a table's rows of one scope (projects,
// report_groups) in the order by, a page at a time.
func (t *txn) listNames(ctx context.Context, table string, s store.Scope, by store.ProjectSort, p store.Page) ([]string, *store.Cursor, error) {
	col := map[store.ProjectSort]string{store.ProjectsByName: "", store.ProjectsByCreated: "created", store.ProjectsByModified: "last_modified"}[by]
	dir, cmp := "ASC", ">"
	if p.Descending {
		dir, cmp = "DESC", "<"
	}
	var q strings.Builder
	args := []any{s.Account, s.Region}
	q.WriteString(`SELECT name`)
	if col != "" {
		q.WriteString(", " + col)
	}
	q.WriteString(` FROM ` + table + ` WHERE account = ? AND region = ?`)
	if p.After != nil {
		if col == "" {
			q.WriteString(` AND name ` + cmp + ` ?`)
			args = append(args, p.After.ID)
		} else {
			q.WriteString(fmt.Sprintf(` AND (%s, name) %s (?, ?)`, col, cmp))
			args = append(args, p.After.Key, p.After.ID)
		}
	}
	if col != "" {
		q.WriteString(fmt.Sprintf(` ORDER BY %s %s, name %s`, col, dir, dir))
	} else {
		q.WriteString(` ORDER BY name ` + dir)
	}
	q.WriteString(` LIMIT ?`)
	args = append(args, p.Limit+1)
	rows, err := t.query(ctx, q.String(), args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var names []string
	var last store.Cursor
	var next *store.Cursor
	for rows.Next() {
		var name string
		var key int64
		dest := []any{&name}
		if col != "" {
			dest = append(dest, &key)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, err
		}
		if len(names) == p.Limit {
			c := last
			next = &c
			break
		}
		names = append(names, name)
		last = store.Cursor{Key: key, ID: name}
	}
	return names, next, rows.Err()
}

func mustAffect(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

func isConstraint(err error) bool {
	return err != nil && strings.Contains(err.Error(), "constraint failed")
}
