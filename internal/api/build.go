package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/buildbatch/buildbatch/internal/batchrun"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/awsjson"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
	"github.com/buildbatch/buildbatch/internal/store"
)

// Scheduler is what the API needs of the scheduler.
type Scheduler interface {
	// Admit says, in the transaction that would insert a build, whether
	// the queue has room for it.
	Admit(ctx context.Context, tx store.Tx) error
	// Handle carries out what a committed transaction decided (new builds
	// queued, builds to stop, combines).
	Handle(fx batchrun.Effects)
	// Claims begins a claim to be made in the transaction that inserts a
	// build, so that it starts at once if this node has room.
	Claims() Claimer
	// StopLocal stops a build if it runs on this node, and waits (until
	// ctx ends) for its end to be stored; it reports whether it ran here.
	StopLocal(ctx context.Context, sc store.Scope, id string) bool
}

// Claimer is a claim in a transaction: In inside it, Done after it.
type Claimer = interface {
	In(ctx context.Context, tx store.Tx) error
	Done(committed bool)
}

const idempotencyWindow = 5 * time.Minute

func buildNotFound(id string) string { return "Build not found for id: " + id }

// requestHash identifies a request's parameters, without its token.
func requestHash(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// buildID normalises a build id or ARN to `<project>:<uuid>`.
func buildID(ctx context.Context, s string) string { return scopedName(ctx, s, "build") }

func startOverrides(in *cb.StartBuildInput) document.Overrides {
	return document.Overrides{
		SourceVersion: in.SourceVersion, SecondarySources: in.SecondarySourcesOverride, SecondarySourcesVersions: in.SecondarySourcesVersionOverride,
		Artifacts: in.ArtifactsOverride, SecondaryArtifacts: in.SecondaryArtifactsOverride, EnvironmentVariables: in.EnvironmentVariablesOverride,
		SourceType: in.SourceTypeOverride, SourceLocation: in.SourceLocationOverride, SourceAuth: in.SourceAuthOverride,
		GitCloneDepth: in.GitCloneDepthOverride, GitSubmodulesConfig: in.GitSubmodulesConfigOverride, Buildspec: in.BuildspecOverride,
		InsecureSsl: in.InsecureSslOverride, ReportBuildStatus: in.ReportBuildStatusOverride, BuildStatusConfig: in.BuildStatusConfigOverride,
		EnvironmentType: in.EnvironmentTypeOverride, Image: in.ImageOverride, ComputeType: in.ComputeTypeOverride, Certificate: in.CertificateOverride,
		Cache: in.CacheOverride, ServiceRole: in.ServiceRoleOverride, PrivilegedMode: in.PrivilegedModeOverride, Timeout: in.TimeoutInMinutesOverride,
		QueuedTimeout: in.QueuedTimeoutInMinutesOverride, EncryptionKey: in.EncryptionKeyOverride, LogsConfig: in.LogsConfigOverride,
		RegistryCredential: in.RegistryCredentialOverride, ImagePullCredentialsType: in.ImagePullCredentialsTypeOverride, Fleet: in.FleetOverride,
	}
}

// admit refuses a build the queue has no room for.
func (a *API) admit(ctx context.Context, tx store.Tx) error {
	if err := a.opts.Scheduler.Admit(ctx, tx); err != nil {
		var full interface{ QueueFull() bool }
		if errors.As(err, &full) && full.QueueFull() {
			return awsjson.Errorf(awsjson.AccountLimitExceeded, "%s", err.Error())
		}
		return err
	}
	return nil
}

// insertBuild numbers and stores a new build; limit enforces the project's
// concurrentBuildLimit.
func (a *API) insertBuild(ctx context.Context, tx store.Tx, spec document.Spec, meta store.BuildMeta, limit *int32) (*store.Build, error) {
	if err := a.admit(ctx, tx); err != nil {
		return nil, err
	}
	if limit != nil && *limit > 0 {
		n, err := tx.BuildCountIncomplete(ctx, spec.Scope, spec.Project)
		if err != nil {
			return nil, err
		}
		if n >= int(*limit) {
			return nil, awsjson.Errorf(awsjson.AccountLimitExceeded,
				"Build could not be started: project %s has reached its concurrent build limit of %d", spec.Project, *limit)
		}
	}
	return document.Insert(ctx, tx, spec, meta, a.now())
}

func caller(c awsjson.Caller) string {
	if c.User != "" {
		return c.User
	}
	return c.AccessKey
}

// StartBuild starts a build with the project's settings and the request's
// overrides.
func (a *API) StartBuild(ctx context.Context, in *cb.StartBuildInput) (*cb.StartBuildOutput, error) {
	if err := a.checkDisk(); err != nil {
		return nil, err
	}
	c, scope := scopeOf(ctx)
	name := scopedName(ctx, cb.Deref(in.ProjectName), "project")
	token := cb.Deref(in.IdempotencyToken)
	hashIn := *in
	hashIn.IdempotencyToken = nil
	hash := requestHash(hashIn)
	if token != "" {
		if b, err := a.idempotentBuild(ctx, scope, "StartBuild", token, hash); err != nil || b != nil {
			if err != nil {
				return nil, err
			}
			return &cb.StartBuildOutput{Build: b.Doc}, nil
		}
	}
	if err := a.checkReportStatus(in.ReportBuildStatusOverride, in.SourceTypeOverride); err != nil {
		return nil, err
	}
	// An unknown project or a full queue fails here, before the claim
	// below queues behind the node's other claims (the transaction checks
	// both again).
	if err := a.st.View(ctx, func(tx store.Tx) error {
		if _, err := tx.ProjectGet(ctx, scope, name); err != nil {
			return err
		}
		return a.admit(ctx, tx)
	}); err != nil {
		return nil, translate(err, projectNotFound(c.Region, c.Account, name))
	}
	request, _ := json.Marshal(in)
	var b *store.Build
	claims := a.opts.Scheduler.Claims()
	err := a.st.Update(ctx, func(tx store.Tx) error {
		if err := func() error {
			p, err := tx.ProjectGet(ctx, scope, name)
			if err != nil {
				return err
			}
			eff, err := apply(p, startOverrides(in))
			if err != nil {
				return err
			}
			if err := checkBuildFleet(ctx, tx, scope, eff.Environment); err != nil {
				return err
			}
			autoRetry := p.AutoRetryLimit
			set(&autoRetry, in.AutoRetryLimitOverride)
			spec := document.Spec{Scope: scope, Project: name, Settings: eff, Initiator: caller(c), Debug: in.DebugSessionEnabled, AutoRetry: autoRetry}
			b, err = a.insertBuild(ctx, tx, spec, store.BuildMeta{Request: request, IdempotencyToken: token, User: caller(c), ExtraEnv: extraEnv(ctx),
				PublicURL: a.publicBuildURL(p)}, p.ConcurrentBuildLimit)
			if err != nil {
				return err
			}
			if token != "" {
				return tx.IdempotencyPut(ctx, scope, "StartBuild", token, hash, cb.Deref(b.Doc.Id), a.now().Add(idempotencyWindow))
			}
			return nil
		}(); err != nil {
			return err
		}
		return claims.In(ctx, tx) // start it at once if this node has room
	})
	claims.Done(err == nil)
	if err != nil {
		return nil, translate(err, projectNotFound(c.Region, c.Account, name))
	}
	doc := b.Doc
	a.opts.Scheduler.Handle(batchrun.Effects{Queued: 1})
	return &cb.StartBuildOutput{Build: doc}, nil
}

func (a *API) checkReportStatus(report *bool, typ *string) error {
	if cb.Deref(report) && typ != nil && !reportsStatus(*typ) {
		return invalid("Invalid input: reportBuildStatus is only supported for GITHUB, GITHUB_ENTERPRISE, GITLAB, GITLAB_SELF_MANAGED and BITBUCKET sources")
	}
	return nil
}

// idempotent returns what an earlier request with the same token created
// (found by get), nil if there was none, or an error if the token came with
// other parameters.
func idempotent[T any](ctx context.Context, a *API, scope store.Scope, op, token, hash string,
	get func(tx store.Tx, id string) (*T, error)) (*T, error) {
	var res *T
	err := a.st.View(ctx, func(tx store.Tx) error {
		h, id, err := tx.IdempotencyGet(ctx, scope, op, token, a.now())
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if h != hash {
			return invalid("Invalid input: idempotencyToken %s was already used with different parameters", token)
		}
		res, err = get(tx, id)
		if isNotFound(err) {
			return nil
		}
		return err
	})
	return res, translate(err, "")
}

// idempotentBuild is idempotent for operations that create builds.
func (a *API) idempotentBuild(ctx context.Context, scope store.Scope, op, token, hash string) (*store.Build, error) {
	return idempotent(ctx, a, scope, op, token, hash, func(tx store.Tx, id string) (*store.Build, error) { return tx.BuildGet(ctx, scope, id) })
}

// BatchGetBuilds returns builds in the order asked; unknown ids are listed
// in buildsNotFound. It answers with the stored documents as they are.
func (a *API) BatchGetBuilds(ctx context.Context, in *cb.BatchGetBuildsInput) (awsjson.Raw, error) {
	_, scope := scopeOf(ctx)
	for _, id := range in.Ids {
		if strings.TrimSpace(id) == "" {
			return nil, invalid("Invalid input: build ids must not be empty")
		}
	}
	return a.batchGet(ctx, in.Ids, func(s string) string { return buildID(ctx, s) }, "builds", "buildsNotFound", func(tx store.Tx, ids []string) ([][]byte, error) {
		docs, err := tx.BuildDocs(ctx, scope, ids)
		if err != nil {
			return nil, err
		}
		return docs, a.sharedDocs(ctx, tx, ids, docs, "build", "codebuild:BatchGetBuilds", tx.BuildDocs)
	})
}

// batchGet answers a BatchGet operation: {"<list>":[docs],"<missing>":[asked]},
// in the order asked, each resource once.
func (a *API) batchGet(ctx context.Context, asked []string, norm func(string) string, list, missing string,
	get func(tx store.Tx, ids []string) ([][]byte, error)) (awsjson.Raw, error) {
	var ids, raws []string
	seen := map[string]bool{}
	for _, r := range asked {
		id := norm(r)
		if seen[id] {
			continue
		}
		seen[id] = true
		ids = append(ids, id)
		raws = append(raws, r)
	}
	var docs [][]byte
	err := a.st.View(ctx, func(tx store.Tx) error {
		var err error
		docs, err = get(tx, ids)
		return err
	})
	if err != nil {
		return nil, translate(err, "")
	}
	size := 64
	for _, d := range docs {
		size += len(d) + 1
	}
	out := awsjson.Buffer(size)
	out = append(out, `{"`+list+`":[`...)
	n := 0
	for _, d := range docs {
		if d == nil {
			continue
		}
		if n > 0 {
			out = append(out, ',')
		}
		out = append(out, d...)
		n++
	}
	out = append(out, `],"`+missing+`":[`...)
	n = 0
	for i, d := range docs {
		if d != nil {
			continue
		}
		if n > 0 {
			out = append(out, ',')
		}
		q, _ := json.Marshal(raws[i])
		out = append(out, q...)
		n++
	}
	return append(out, "]}"...), nil
}

func (a *API) listBuilds(ctx context.Context, project string, order *string, token *string) ([]string, *string, error) {
	_, scope := scopeOf(ctx)
	return a.listBuildsIn(ctx, scope, project, order, token)
}

// listBuildsIn lists the builds of a project of scope (the caller's, or
// the owner's of a project shared with the caller).
func (a *API) listBuildsIn(ctx context.Context, scope store.Scope, project string, order *string, token *string) ([]string, *string, error) {
	desc := cb.Deref(order) != cb.SortOrderTypeAscending
	list := fmt.Sprintf("builds/%s/%v", project, desc)
	after, err := decodeToken(list, token)
	if err != nil {
		return nil, nil, err
	}
	var ids []string
	var next *store.Cursor
	err = a.st.View(ctx, func(tx store.Tx) error {
		if project != "" {
			if _, err := tx.ProjectGet(ctx, scope, project); err != nil {
				return err
			}
		}
		var err error
		ids, next, err = tx.BuildList(ctx, scope, project, store.Page{After: after, Limit: listPageSize, Descending: desc})
		return err
	})
	if err != nil {
		return nil, nil, translate(err, projectNotFound(scope.Region, scope.Account, project))
	}
	return ids, encodeToken(list, next), nil
}

// ListBuilds lists build ids, newest first unless sortOrder is ASCENDING.
func (a *API) ListBuilds(ctx context.Context, in *cb.ListBuildsInput) (*cb.ListBuildsOutput, error) {
	ids, next, err := a.listBuilds(ctx, "", in.SortOrder, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &cb.ListBuildsOutput{Ids: ids, NextToken: next}, nil
}

// ListBuildsForProject lists a project's build ids by build number, newest
// first unless sortOrder is ASCENDING.
func (a *API) ListBuildsForProject(ctx context.Context, in *cb.ListBuildsForProjectInput) (*cb.ListBuildsForProjectOutput, error) {
	_, scope := scopeOf(ctx)
	name := scopedName(ctx, cb.Deref(in.ProjectName), "project")
	if owner, shared, ok := a.shared(ctx, name, "project", "codebuild:ListBuildsForProject"); ok {
		scope, name = owner, shared
	}
	ids, next, err := a.listBuildsIn(ctx, scope, name, in.SortOrder, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &cb.ListBuildsForProjectOutput{Ids: ids, NextToken: next}, nil
}

func (a *API) getBuild(ctx context.Context, scope store.Scope, id string) (*store.Build, error) {
	var b *store.Build
	err := a.st.View(ctx, func(tx store.Tx) error {
		var err error
		b, err = tx.BuildGet(ctx, scope, id)
		return err
	})
	return b, translate(err, buildNotFound(id))
}

// StopBuild stops a queued or running build; stopping a finished build is
// not an error and returns it as it is.
func (a *API) StopBuild(ctx context.Context, in *cb.StopBuildInput) (*cb.StopBuildOutput, error) {
	_, scope := scopeOf(ctx)
	id := buildID(ctx, cb.Deref(in.Id))
	b, err := a.getBuild(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	if !cb.Deref(b.Doc.BuildComplete) {
		var fx batchrun.Effects
		err := a.st.Update(ctx, func(tx store.Tx) error {
			fx = batchrun.Effects{}
			return a.opts.Coordinator.StopBuild(ctx, tx, scope, id, &fx)
		})
		var full *store.FullError
		if errors.As(err, &full) {
			// The store takes no writes (a full disk): the build still
			// ends if it runs here; its end is stored once there is room.
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if a.opts.Scheduler.StopLocal(sctx, scope, id) {
				a.opts.Log.Warn("build stopped, though the store cannot record it yet", "build", id, "err", err)
				return &cb.StopBuildOutput{Build: b.Doc}, nil
			}
		}
		if err != nil {
			return nil, translate(err, buildNotFound(id))
		}
		a.opts.Scheduler.Handle(fx)
		if b, err = a.waitBuild(ctx, scope, id, stopWait); err != nil {
			return nil, err
		}
	}
	return &cb.StopBuildOutput{Build: b.Doc}, nil
}

// stopWait bounds how long StopBuild and StopBuildBatch wait for the end
// (a build held by a node that died ends when its lease expires).
const stopWait = 20 * time.Second

// waitBuild returns the build once it is complete (or after limit, as it
// is then).
func (a *API) waitBuild(ctx context.Context, scope store.Scope, id string, limit time.Duration) (*store.Build, error) {
	return waitFor(ctx, limit, func(ctx context.Context) (*store.Build, bool, error) {
		b, err := a.getBuild(ctx, scope, id)
		return b, err == nil && cb.Deref(b.Doc.BuildComplete), err
	})
}

// waitFor calls get until it says done or fails, for up to limit, and
// returns what it got last.
func waitFor[T any](ctx context.Context, limit time.Duration, get func(context.Context) (T, bool, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		v, done, err := get(context.WithoutCancel(ctx))
		if err != nil || done {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, nil
		case <-time.After(wait):
		}
	}
}

// RetryBuild starts a new build with the settings of a finished one.
func (a *API) RetryBuild(ctx context.Context, in *cb.RetryBuildInput) (*cb.RetryBuildOutput, error) {
	if err := a.checkDisk(); err != nil {
		return nil, err
	}
	c, scope := scopeOf(ctx)
	if in.Id == nil || *in.Id == "" {
		return nil, invalid("Invalid input: id is required")
	}
	id := buildID(ctx, *in.Id)
	token := cb.Deref(in.IdempotencyToken)
	hash := requestHash(id)
	if token != "" {
		if b, err := a.idempotentBuild(ctx, scope, "RetryBuild", token, hash); err != nil || b != nil {
			if err != nil {
				return nil, err
			}
			return &cb.RetryBuildOutput{Build: b.Doc}, nil
		}
	}
	var b *store.Build
	claims := a.opts.Scheduler.Claims()
	err := a.st.Update(ctx, func(tx store.Tx) error {
		if err := func() error {
			old, err := tx.BuildGet(ctx, scope, id)
			if err != nil {
				return err
			}
			if !cb.Deref(old.Doc.BuildComplete) {
				return invalid("Invalid input: build %s is still in progress; only finished builds can be retried", id)
			}
			if old.Meta.BatchID != "" {
				return invalid("Invalid input: build %s belongs to batch %s; retry it with RetryBuildBatch", id, old.Meta.BatchID)
			}
			var limit *int32
			if p, err := tx.ProjectGet(ctx, scope, cb.Deref(old.Doc.ProjectName)); err == nil {
				limit = p.ConcurrentBuildLimit
			}
			spec := document.RetrySpec(old, caller(c))
			meta := old.Meta
			meta.IdempotencyToken, meta.User = token, caller(c)
			b, err = a.insertBuild(ctx, tx, spec, meta, limit)
			if err != nil {
				return err
			}
			if token != "" {
				return tx.IdempotencyPut(ctx, scope, "RetryBuild", token, hash, cb.Deref(b.Doc.Id), a.now().Add(idempotencyWindow))
			}
			return nil
		}(); err != nil {
			return err
		}
		return claims.In(ctx, tx) // start it at once if this node has room
	})
	claims.Done(err == nil)
	if err != nil {
		return nil, translate(err, buildNotFound(id))
	}
	doc := b.Doc
	a.opts.Scheduler.Handle(batchrun.Effects{Queued: 1})
	return &cb.RetryBuildOutput{Build: doc}, nil
}

// retrySpec is a new build with the settings of an old one.
// BatchDeleteBuilds deletes finished builds (and their logs); builds still
// running are listed in buildsNotDeleted with BUILD_IN_PROGRESS.
func (a *API) BatchDeleteBuilds(ctx context.Context, in *cb.BatchDeleteBuildsInput) (*cb.BatchDeleteBuildsOutput, error) {
	_, scope := scopeOf(ctx)
	out := &cb.BatchDeleteBuildsOutput{BuildsDeleted: []string{}, BuildsNotDeleted: []cb.BuildNotDeleted{}}
	var logs []string
	err := a.st.Update(ctx, func(tx store.Tx) error {
		for _, raw := range in.Ids {
			id := buildID(ctx, raw)
			b, err := tx.BuildGet(ctx, scope, id)
			if isNotFound(err) {
				out.BuildsNotDeleted = append(out.BuildsNotDeleted, cb.BuildNotDeleted{Id: cb.String(raw), StatusCode: cb.String("BUILD_NOT_FOUND")})
				continue
			}
			if err != nil {
				return err
			}
			if !cb.Deref(b.Doc.BuildComplete) {
				out.BuildsNotDeleted = append(out.BuildsNotDeleted, cb.BuildNotDeleted{Id: b.Doc.Arn, StatusCode: cb.String("BUILD_IN_PROGRESS")})
				continue
			}
			if err := tx.BuildDelete(ctx, scope, id); err != nil {
				return err
			}
			out.BuildsDeleted = append(out.BuildsDeleted, cb.Deref(b.Doc.Arn))
			_, uuid, _ := strings.Cut(id, ":")
			logs = append(logs, uuid)
		}
		return nil
	})
	if err != nil {
		return nil, translate(err, "")
	}
	for _, l := range logs {
		if err := a.opts.Logs.Delete(l); err != nil && !errors.Is(err, context.Canceled) {
			a.opts.Log.Warn("deleting a build log", "log", l, "err", err)
		}
	}
	return out, nil
}
