package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

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

// Inserts use ON CONFLICT DO NOTHING rather than failing on the unique
// constraint: a failed statement would abort the whole PostgreSQL
// transaction, while a caller may well go on after ErrConflict (SQLite
// lets it).

func (t *txn) ProjectInsert(ctx context.Context, s store.Scope, p *codebuild.Project) error {
	doc, err := encode(p)
	if err != nil {
		return err
	}
	created, modified := projectTimes(p)
	name := codebuild.Deref(p.Name)
	tag, err := t.exec(ctx, `INSERT INTO projects (account, region, name, created, last_modified, doc) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT DO NOTHING`,
		s.Account, s.Region, name, created, modified, doc)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("project %s: %w", name, store.ErrConflict)
	}
	return nil
}

func (t *txn) ProjectGet(ctx context.Context, s store.Scope, name string) (*codebuild.Project, error) {
	var doc []byte
	err := t.scanRow(ctx, `SELECT doc FROM projects WHERE account = $1 AND region = $2 AND name = $3`,
		[]any{s.Account, s.Region, name}, &doc)
	if errors.Is(err, pgx.ErrNoRows) {
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
	tag, err := t.exec(ctx, `UPDATE projects SET created = $1, last_modified = $2, doc = $3 WHERE account = $4 AND region = $5 AND name = $6`,
		created, modified, doc, s.Account, s.Region, name)
	if err != nil {
		return err
	}
	return mustAffect(tag, "project "+name)
}

func (t *txn) ProjectDelete(ctx context.Context, s store.Scope, name string) error {
	tag, err := t.exec(ctx, `DELETE FROM projects WHERE account = $1 AND region = $2 AND name = $3`, s.Account, s.Region, name)
	if err != nil {
		return err
	}
	return mustAffect(tag, "project "+name)
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
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	q.WriteString(`SELECT name`)
	if col != "" {
		q.WriteString(", " + col)
	}
	q.WriteString(` FROM ` + table + ` WHERE account = $1 AND region = $2`)
	if p.After != nil {
		if col == "" {
			q.WriteString(` AND name ` + cmp + ` ` + arg(p.After.ID))
		} else {
			k := arg(p.After.Key)
			q.WriteString(fmt.Sprintf(` AND (%s, name) %s (%s::bigint, %s::text)`, col, cmp, k, arg(p.After.ID)))
		}
	}
	if col != "" {
		q.WriteString(fmt.Sprintf(` ORDER BY %s %s, name %s`, col, dir, dir))
	} else {
		q.WriteString(` ORDER BY name ` + dir)
	}
	q.WriteString(` LIMIT ` + arg(limit(p)) + `::bigint`)
	var names []string
	var last store.Cursor
	var next *store.Cursor
	err := t.query(ctx, q.String(), args, func(rows pgx.Rows) error {
		if next != nil {
			return nil
		}
		var name string
		var key int64
		dest := []any{&name}
		if col != "" {
			dest = append(dest, &key)
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if len(names) == p.Limit {
			c := last
			next = &c
			return nil
		}
		name = unescape(name)
		names = append(names, name)
		last = store.Cursor{Key: key, ID: name}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return names, next, nil
}
