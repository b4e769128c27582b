package api

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/buildbatch/buildbatch/internal/awsjson"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/policy"
	"github.com/buildbatch/buildbatch/internal/store"
)

// Sharing: the owner of a project or report group attaches an IAM resource
// policy to it (PutResourcePolicy); another account that the policy names
// may then read it, and only read it, by its ARN: BatchGetProjects,
// BatchGetBuilds and ListBuildsForProject for projects; BatchGetReportGroups
// (and the other report reads) for report groups. Its own listings show
// what is shared with it (ListSharedProjects, ListSharedReportGroups).

// policyDoc is a stored policy: the document as the owner wrote it.
type policyDoc struct {
	Policy string `json:"policy"`
}

// shareable returns the kind ("project" or "report-group") and name of a
// CodeBuild ARN of the caller's, or why it cannot carry a policy.
func shareable(ctx context.Context, arn string) (kind, name string, err error) {
	c, _ := scopeOf(ctx)
	p, ok := ident.Parse(arn)
	if !ok || p.Service != "codebuild" {
		return "", "", invalid("Invalid input: %s is not the ARN of a CodeBuild project or report group", arn)
	}
	kind, name, _ = strings.Cut(p.Resource, "/")
	if (kind != "project" && kind != "report-group") || name == "" {
		return "", "", invalid("Invalid input: resource policies can only be attached to projects and report groups, not %s", arn)
	}
	if p.Account != c.Account || p.Region != c.Region {
		return "", "", awsjson.Errorf(awsjson.ResourceNotFound, "Resource %s does not exist", arn)
	}
	return kind, name, nil
}

func resourceExists(ctx context.Context, tx store.Tx, scope store.Scope, kind, name string) error {
	var err error
	if kind == "project" {
		_, err = tx.ProjectGet(ctx, scope, name)
	} else {
		_, err = tx.ReportGroupGet(ctx, scope, name)
	}
	return err
}

// PutResourcePolicy attaches (or replaces) a resource policy.
func (a *API) PutResourcePolicy(ctx context.Context, in *cb.PutResourcePolicyInput) (*cb.PutResourcePolicyOutput, error) {
	_, scope := scopeOf(ctx)
	arn := cb.Deref(in.ResourceArn)
	kind, name, err := shareable(ctx, arn)
	if err != nil {
		return nil, err
	}
	if _, err := policy.Parse(cb.Deref(in.Policy)); err != nil {
		return nil, invalid("Invalid input: %v", err)
	}
	doc, err := json.Marshal(policyDoc{Policy: cb.Deref(in.Policy)})
	if err != nil {
		return nil, err
	}
	now := a.now()
	err = a.st.Update(ctx, func(tx store.Tx) error {
		if err := resourceExists(ctx, tx, scope, kind, name); err != nil {
			return err
		}
		r, err := tx.ResourceGet(ctx, scope, store.KindPolicy, arn)
		if err == nil {
			r.Doc, r.Modified = doc, now
			return tx.ResourcePut(ctx, r)
		}
		return tx.ResourceInsert(ctx, &store.Resource{Scope: scope, Kind: store.KindPolicy, Name: arn, Parent: kind, Created: now, Modified: now, Doc: doc})
	})
	if err != nil {
		return nil, translate(err, fmt.Sprintf("Resource %s does not exist", arn))
	}
	return &cb.PutResourcePolicyOutput{ResourceArn: cb.String(arn)}, nil
}

// GetResourcePolicy returns a resource's policy as it was put.
func (a *API) GetResourcePolicy(ctx context.Context, in *cb.GetResourcePolicyInput) (*cb.GetResourcePolicyOutput, error) {
	_, scope := scopeOf(ctx)
	arn := cb.Deref(in.ResourceArn)
	if _, _, err := shareable(ctx, arn); err != nil {
		return nil, err
	}
	var r *store.Resource
	err := a.st.View(ctx, func(tx store.Tx) error {
		var err error
		r, err = tx.ResourceGet(ctx, scope, store.KindPolicy, arn)
		return err
	})
	if err != nil {
		return nil, translate(err, fmt.Sprintf("Resource policy for %s does not exist", arn))
	}
	var d policyDoc
	if err := json.Unmarshal(r.Doc, &d); err != nil {
		return nil, err
	}
	return &cb.GetResourcePolicyOutput{Policy: cb.String(d.Policy)}, nil
}

// DeleteResourcePolicy removes a resource's policy (none is no error).
func (a *API) DeleteResourcePolicy(ctx context.Context, in *cb.DeleteResourcePolicyInput) (*cb.DeleteResourcePolicyOutput, error) {
	_, scope := scopeOf(ctx)
	arn := cb.Deref(in.ResourceArn)
	if _, _, err := shareable(ctx, arn); err != nil {
		return nil, err
	}
	err := a.st.Update(ctx, func(tx store.Tx) error {
		err := tx.ResourceDelete(ctx, scope, store.KindPolicy, arn)
		if isNotFound(err) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, translate(err, "")
	}
	return &cb.DeleteResourcePolicyOutput{}, nil
}

// deletePolicy removes the policy of a deleted project or report group.
func deletePolicy(ctx context.Context, tx store.Tx, scope store.Scope, arn string) error {
	if err := tx.ResourceDelete(ctx, scope, store.KindPolicy, arn); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// sharedIn resolves an ARN of another account's project or report group
// (kind), or of a build of such a project (kind "build"), that the owner's
// policy lets the caller read with action: the owner's scope and the
// resource's name (a build's id). ok is false for anything else.
func (a *API) sharedIn(ctx context.Context, tx store.Tx, arn, kind, action string) (owner store.Scope, name string, ok bool) {
	c, _ := scopeOf(ctx)
	p, isARN := ident.Parse(arn)
	if !isARN || p.Service != "codebuild" || p.Account == c.Account || p.Region != c.Region {
		return store.Scope{}, "", false
	}
	rest, found := strings.CutPrefix(p.Resource, kind+"/")
	if !found || rest == "" {
		return store.Scope{}, "", false
	}
	owner = store.Scope{Account: p.Account, Region: p.Region}
	attached := arn
	switch kind {
	case "build":
		// A project's policy grants the reads of its builds.
		project, _, _ := strings.Cut(rest, ":")
		attached = ident.ProjectARN(p.Region, p.Account, project)
	case "report":
		// A report group's policy grants the reads of its reports, which
		// are found by their ARN.
		group, _, _ := strings.Cut(rest, ":")
		attached, rest = ident.ReportGroupARN(p.Region, p.Account, group), arn
	}
	r, err := tx.ResourceGet(ctx, owner, store.KindPolicy, attached)
	if err != nil {
		return store.Scope{}, "", false
	}
	var d policyDoc
	if json.Unmarshal(r.Doc, &d) != nil {
		return store.Scope{}, "", false
	}
	pol, err := policy.Parse(d.Policy)
	if err != nil || !pol.Allows(c.Account, action, attached, attached) {
		return store.Scope{}, "", false
	}
	return owner, rest, true
}

// shared is sharedIn in a transaction of its own.
func (a *API) shared(ctx context.Context, arn, kind, action string) (owner store.Scope, name string, ok bool) {
	a.st.View(ctx, func(tx store.Tx) error {
		owner, name, ok = a.sharedIn(ctx, tx, arn, kind, action)
		return nil
	})
	return
}

// sharedDocs fills the misses of a BatchGet (docs[i] == nil) whose ids
// are ARNs of resources shared with the caller.
func (a *API) sharedDocs(ctx context.Context, tx store.Tx, ids []string, docs [][]byte, kind, action string,
	get func(ctx context.Context, s store.Scope, ids []string) ([][]byte, error)) error {
	for i, d := range docs {
		if d != nil {
			continue
		}
		owner, name, ok := a.sharedIn(ctx, tx, ids[i], kind, action)
		if !ok {
			continue
		}
		got, err := get(ctx, owner, []string{name})
		if err != nil {
			return err
		}
		docs[i] = got[0]
	}
	return nil
}

// listShared lists the ARNs of kind that other accounts share with the
// caller, for ListSharedProjects and ListSharedReportGroups.
func (a *API) listShared(ctx context.Context, kind, action, sortBy, sortOrder string, maxResults *int32, token *string) ([]string, *string, error) {
	c, _ := scopeOf(ctx)
	list := fmt.Sprintf("shared/%s/%s/%s", kind, sortBy, sortOrder)
	if _, err := decodeToken(list, token); err != nil { // a bad token before any read
		return nil, nil, err
	}
	var all []*store.Resource
	err := a.st.View(ctx, func(tx store.Tx) error {
		var err error
		all, err = tx.ResourceList(ctx, store.Scope{}, store.KindPolicy, kind)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	var shared []*store.Resource
	for _, r := range all {
		if r.Scope.Account == c.Account || r.Scope.Region != c.Region {
			continue
		}
		var d policyDoc
		if json.Unmarshal(r.Doc, &d) != nil {
			continue
		}
		if pol, err := policy.Parse(d.Policy); err == nil && pol.Allows(c.Account, action, r.Name, r.Name) {
			shared = append(shared, r)
		}
	}
	slices.SortStableFunc(shared, func(x, y *store.Resource) int {
		if sortBy == "MODIFIED_TIME" {
			if n := x.Modified.Compare(y.Modified); n != 0 {
				return n
			}
		}
		return strings.Compare(x.Name, y.Name)
	})
	if sortOrder == cb.SortOrderTypeDescending {
		slices.Reverse(shared)
	}
	from, to, next, err := offsetPage(list, token, maxResults, len(shared))
	if err != nil {
		return nil, nil, err
	}
	arns := []string{}
	for _, r := range shared[from:to] {
		arns = append(arns, r.Name)
	}
	return arns, next, nil
}

// ListSharedProjects lists the ARNs of projects shared with the caller.
func (a *API) ListSharedProjects(ctx context.Context, in *cb.ListSharedProjectsInput) (*cb.ListSharedProjectsOutput, error) {
	arns, next, err := a.listShared(ctx, "project", "codebuild:BatchGetProjects", cb.Deref(in.SortBy), cb.Deref(in.SortOrder), in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &cb.ListSharedProjectsOutput{Projects: arns, NextToken: next}, nil
}

// ListSharedReportGroups lists the ARNs of report groups shared with the
// caller.
func (a *API) ListSharedReportGroups(ctx context.Context, in *cb.ListSharedReportGroupsInput) (*cb.ListSharedReportGroupsOutput, error) {
	arns, next, err := a.listShared(ctx, "report-group", "codebuild:BatchGetReportGroups", cb.Deref(in.SortBy), cb.Deref(in.SortOrder), in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &cb.ListSharedReportGroupsOutput{ReportGroups: arns, NextToken: next}, nil
}
