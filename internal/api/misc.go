package api

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"path"
	"strings"

	"github.com/buildbatch/buildbatch/internal/blob"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/curated"
	"github.com/buildbatch/buildbatch/internal/source"
	"github.com/buildbatch/buildbatch/internal/store"
	"github.com/buildbatch/buildbatch/internal/tenancy"
)

// ListCuratedEnvironmentImages lists the curated images (internal/curated:
// the same catalog the container executor resolves them with).
func (a *API) ListCuratedEnvironmentImages(ctx context.Context, in *cb.ListCuratedEnvironmentImagesInput) (*cb.ListCuratedEnvironmentImagesOutput, error) {
	return &cb.ListCuratedEnvironmentImagesOutput{Platforms: curated.Platforms()}, nil
}

// InvalidateProjectCache deletes the project's saved caches: its LOCAL
// caches, and what its S3 cache location holds for it.
func (a *API) InvalidateProjectCache(ctx context.Context, in *cb.InvalidateProjectCacheInput) (*cb.InvalidateProjectCacheOutput, error) {
	c, scope := scopeOf(ctx)
	name := scopedName(ctx, cb.Deref(in.ProjectName), "project")
	var p *cb.Project
	err := a.st.View(ctx, func(tx store.Tx) error {
		var err error
		p, err = tx.ProjectGet(ctx, scope, name)
		return err
	})
	if err != nil {
		return nil, translate(err, projectNotFound(c.Region, c.Account, name))
	}
	if a.opts.Blob == nil {
		return &cb.InvalidateProjectCacheOutput{}, nil
	}
	// LOCAL caches of every kind, whatever the project's cache is now
	// (it may have been LOCAL before).
	if err := a.opts.Blob.Delete(ctx, blob.CacheBucket, path.Join(scope.Account, scope.Region, name)+"/"); err != nil {
		return nil, err
	}
	if cache := p.Cache; cache != nil && cb.Deref(cache.Type) == cb.CacheTypeS3 {
		bucket, prefix, err := source.SplitS3(cb.Deref(cache.Location))
		if err == nil {
			guard := tenancy.New(a.opts.Blob, a.st, scope)
			err = guard.Delete(ctx, bucket, path.Join(prefix, cb.Deref(cache.CacheNamespace), name)+"/")
			var denied *tenancy.DeniedError
			if errors.As(err, &denied) {
				return nil, invalid("Invalid input: cache location %s: %s", cb.Deref(cache.Location), denied.Error())
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return &cb.InvalidateProjectCacheOutput{}, nil
}

// publicAliases is the kind of the resources that map a public project's
// alias (its Key) to the project (its Name).
const publicAliases = "public-project"

func newAlias() string {
	b := make([]byte, 15)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// UpdateProjectVisibility makes a project's builds and logs readable
// without credentials (PUBLIC_READ) at <server>/public/<alias>/, or
// private again. The alias stays the same across changes.
func (a *API) UpdateProjectVisibility(ctx context.Context, in *cb.UpdateProjectVisibilityInput) (*cb.UpdateProjectVisibilityOutput, error) {
	c, scope := scopeOf(ctx)
	arn := cb.Deref(in.ProjectArn)
	name := scopedName(ctx, arn, "project")
	vis := cb.Deref(in.ProjectVisibility)
	var out *cb.Project
	err := a.st.Update(ctx, func(tx store.Tx) error {
		p, err := tx.ProjectGet(ctx, scope, name)
		if err != nil {
			return err
		}
		if vis == cb.ProjectVisibilityTypePublicRead && cb.Deref(p.PublicProjectAlias) == "" {
			alias := newAlias()
			now := a.now()
			if err := tx.ResourceInsert(ctx, &store.Resource{Scope: scope, Kind: publicAliases, Name: name, Key: alias, Created: now, Modified: now, Doc: []byte("{}")}); err != nil {
				if !isConflict(err) {
					return err
				}
				r, err := tx.ResourceGet(ctx, scope, publicAliases, name)
				if err != nil {
					return err
				}
				alias = r.Key
			}
			p.PublicProjectAlias = cb.String(alias)
		}
		p.ProjectVisibility = cb.String(vis)
		if in.ResourceAccessRole != nil {
			p.ResourceAccessRole = in.ResourceAccessRole
		}
		p.LastModified = ts(a.now())
		out = p
		return tx.ProjectPut(ctx, scope, p)
	})
	if err != nil {
		return nil, translate(err, projectNotFound(c.Region, c.Account, arn))
	}
	return &cb.UpdateProjectVisibilityOutput{ProjectArn: out.Arn, PublicProjectAlias: out.PublicProjectAlias, ProjectVisibility: out.ProjectVisibility}, nil
}

// publicBuildURL is the prefix of the public pages of a PUBLIC_READ
// project's builds (their uuid completes it), "" for a private project.
func (a *API) publicBuildURL(p *cb.Project) string {
	if cb.Deref(p.ProjectVisibility) != cb.ProjectVisibilityTypePublicRead || cb.Deref(p.PublicProjectAlias) == "" {
		return ""
	}
	return strings.TrimRight(a.opts.BaseURL, "/") + "/public/" + cb.Deref(p.PublicProjectAlias) + "/builds/"
}
