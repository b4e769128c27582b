package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/buildbatch/buildbatch/internal/batchrun"
	"strings"

	"github.com/buildbatch/buildbatch/internal/awsjson"
	"github.com/buildbatch/buildbatch/internal/batch"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/store"
)

// Coordinator is what the API needs of the batch coordinator.
type Coordinator interface {
	Submit(ctx context.Context, tx store.Tx, b *store.Batch, fx *batchrun.Effects) error
	Apply(ctx context.Context, tx store.Tx, scope store.Scope, id string, e batch.Event, fx *batchrun.Effects) (batch.Step, error)
	StopBuild(ctx context.Context, tx store.Tx, scope store.Scope, id string, fx *batchrun.Effects) error
}

func batchNotFound(id string) string { return "Build batch not found for id: " + id }

func batchID(ctx context.Context, s string) string { return scopedName(ctx, s, "build-batch") }

func batchOverrides(in *cb.StartBuildBatchInput) document.Overrides {
	return document.Overrides{
		SourceVersion: in.SourceVersion, SecondarySources: in.SecondarySourcesOverride, SecondarySourcesVersions: in.SecondarySourcesVersionOverride,
		Artifacts: in.ArtifactsOverride, SecondaryArtifacts: in.SecondaryArtifactsOverride, EnvironmentVariables: in.EnvironmentVariablesOverride,
		SourceType: in.SourceTypeOverride, SourceLocation: in.SourceLocationOverride, SourceAuth: in.SourceAuthOverride,
		GitCloneDepth: in.GitCloneDepthOverride, GitSubmodulesConfig: in.GitSubmodulesConfigOverride, Buildspec: in.BuildspecOverride,
		InsecureSsl: in.InsecureSslOverride, ReportBuildStatus: in.ReportBuildBatchStatusOverride,
		EnvironmentType: in.EnvironmentTypeOverride, Image: in.ImageOverride, ComputeType: in.ComputeTypeOverride, Certificate: in.CertificateOverride,
		Cache: in.CacheOverride, ServiceRole: in.ServiceRoleOverride, PrivilegedMode: in.PrivilegedModeOverride, Timeout: in.BuildTimeoutInMinutesOverride,
		QueuedTimeout: in.QueuedTimeoutInMinutesOverride, EncryptionKey: in.EncryptionKeyOverride, LogsConfig: in.LogsConfigOverride,
		RegistryCredential: in.RegistryCredentialOverride, ImagePullCredentialsType: in.ImagePullCredentialsTypeOverride,
	}
}

// mergeBatchConfig merges an override over the project's batch
// configuration, member by member.
func mergeBatchConfig(p, o *cb.ProjectBuildBatchConfig) *cb.ProjectBuildBatchConfig {
	if p == nil && o == nil {
		return nil
	}
	out := clone(p)
	if out == nil {
		out = &cb.ProjectBuildBatchConfig{}
	}
	if o == nil {
		return out
	}
	set(&out.ServiceRole, o.ServiceRole)
	set(&out.CombineArtifacts, o.CombineArtifacts)
	set(&out.TimeoutInMins, o.TimeoutInMins)
	set(&out.BatchReportMode, o.BatchReportMode)
	if o.Restrictions != nil {
		r := clone(out.Restrictions)
		if r == nil {
			r = &cb.BatchRestrictions{}
		}
		set(&r.MaximumBuildsAllowed, o.Restrictions.MaximumBuildsAllowed)
		setList(&r.ComputeTypesAllowed, o.Restrictions.ComputeTypesAllowed)
		setList(&r.FleetsAllowed, o.Restrictions.FleetsAllowed)
		out.Restrictions = r
	}
	return out
}

// StartBuildBatch starts a batch build.
func (a *API) StartBuildBatch(ctx context.Context, in *cb.StartBuildBatchInput) (*cb.StartBuildBatchOutput, error) {
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
		b, err := a.idempotentBatch(ctx, scope, "StartBuildBatch", token, hash)
		if err != nil {
			return nil, err
		}
		if b != nil {
			return &cb.StartBuildBatchOutput{BuildBatch: startView(b.Doc)}, nil
		}
	}
	if err := checkBatchConfig(in.BuildBatchConfigOverride, "buildBatchConfigOverride"); err != nil {
		return nil, err
	}
	var b *store.Batch
	var view *cb.BuildBatch
	var fx batchrun.Effects
	err := a.st.Update(ctx, func(tx store.Tx) error {
		fx = batchrun.Effects{}
		p, err := tx.ProjectGet(ctx, scope, name)
		if err != nil {
			return err
		}
		cfg := mergeBatchConfig(p.BuildBatchConfig, in.BuildBatchConfigOverride)
		if cfg == nil || cb.Deref(cfg.ServiceRole) == "" {
			return invalid("Invalid input: batch builds are not enabled for project %s: set buildBatchConfig with a serviceRole on the project, or pass buildBatchConfigOverride", name)
		}
		eff, err := apply(p, batchOverrides(in))
		if err != nil {
			return err
		}
		if err := checkBuildFleet(ctx, tx, scope, eff.Environment); err != nil {
			return err
		}
		number, err := tx.CounterNext(ctx, scope, name, "batch")
		if err != nil {
			return err
		}
		settings, _ := json.Marshal(eff)
		b = &store.Batch{Scope: scope, Doc: a.batchDoc(scope, name, number, eff, cfg, in, caller(c)),
			Meta: store.BatchMeta{Settings: settings, IdempotencyToken: token, User: caller(c), ExtraEnv: extraEnv(ctx)}}
		if err := tx.BatchInsert(ctx, b); err != nil {
			return err
		}
		view = startView(b.Doc)
		if err := a.opts.Coordinator.Submit(ctx, tx, b, &fx); err != nil {
			return err
		}
		if token != "" {
			return tx.IdempotencyPut(ctx, scope, "StartBuildBatch", token, hash, cb.Deref(b.Doc.Id), a.now().Add(idempotencyWindow))
		}
		return nil
	})
	if err != nil {
		return nil, translate(err, projectNotFound(c.Region, c.Account, name))
	}
	a.opts.Scheduler.Handle(fx)
	return &cb.StartBuildBatchOutput{BuildBatch: view}, nil
}

// startView is the batch as StartBuildBatch returns it: no phases, no
// groups yet.
func startView(doc *cb.BuildBatch) *cb.BuildBatch {
	v := clone(doc)
	v.Phases, v.BuildGroups = nil, nil
	v.CurrentPhase = cb.String("SUBMITTED")
	return v
}

func (a *API) batchDoc(scope store.Scope, project string, number int64, e *document.Settings, cfg *cb.ProjectBuildBatchConfig,
	in *cb.StartBuildBatchInput, initiator string) *cb.BuildBatch {
	uuid := ident.UUID()
	id := project + ":" + uuid
	now := ts(a.now())
	art := document.ArtifactLocation(scope.Region, e.Artifacts, uuid)
	if !cb.Deref(cfg.CombineArtifacts) {
		art = &cb.BuildArtifacts{Location: cb.String("")}
	}
	secondary := []cb.BuildArtifacts{}
	doc := &cb.BuildBatch{
		Id:                      cb.String(id),
		Arn:                     cb.String(ident.BatchARN(scope.Region, scope.Account, id)),
		StartTime:               now,
		CurrentPhase:            cb.String("SUBMITTED"),
		BuildBatchStatus:        cb.String(cb.StatusTypeInProgress),
		SourceVersion:           e.SourceVersion,
		ProjectName:             cb.String(project),
		Phases:                  []cb.BuildBatchPhase{{PhaseType: cb.String("SUBMITTED"), StartTime: now}},
		Source:                  e.Source,
		SecondarySources:        nonNil(e.SecondarySources),
		SecondarySourceVersions: nonNil(e.SecondarySourceVersions),
		Artifacts:               art,
		SecondaryArtifacts:      secondary,
		Cache:                   e.Cache,
		Environment:             e.Environment,
		ServiceRole:             e.ServiceRole,
		LogConfig:               e.LogsConfig,
		BuildTimeoutInMinutes:   e.Timeout,
		QueuedTimeoutInMinutes:  e.QueuedTimeout,
		Complete:                cb.Bool(false),
		Initiator:               cb.String(initiator),
		VpcConfig:               e.VpcConfig,
		EncryptionKey:           e.EncryptionKey,
		BuildBatchNumber:        cb.Int64(number),
		FileSystemLocations:     e.FileSystemLocations,
		BuildBatchConfig:        cfg,
		DebugSessionEnabled:     cb.Bool(cb.Deref(in.DebugSessionEnabled)),
	}
	return doc
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (a *API) idempotentBatch(ctx context.Context, scope store.Scope, op, token, hash string) (*store.Batch, error) {
	return idempotent(ctx, a, scope, op, token, hash, func(tx store.Tx, id string) (*store.Batch, error) { return tx.BatchGet(ctx, scope, id) })
}

// BatchGetBuildBatches returns batches in the order asked; unknown ids are
// listed in buildBatchesNotFound.
func (a *API) BatchGetBuildBatches(ctx context.Context, in *cb.BatchGetBuildBatchesInput) (awsjson.Raw, error) {
	_, scope := scopeOf(ctx)
	return a.batchGet(ctx, in.Ids, func(s string) string { return batchID(ctx, s) }, "buildBatches", "buildBatchesNotFound", func(tx store.Tx, ids []string) ([][]byte, error) {
		return tx.BatchDocs(ctx, scope, ids)
	})
}

func (a *API) listBatches(ctx context.Context, project string, filter *cb.BuildBatchFilter, maxResults *int32, order, token *string) ([]string, *string, error) {
	c, scope := scopeOf(ctx)
	desc := cb.Deref(order) != cb.SortOrderTypeAscending
	status := ""
	if filter != nil {
		status = cb.Deref(filter.Status)
	}
	limit := int(cb.Deref(maxResults))
	if limit <= 0 {
		limit = listPageSize
	}
	list := fmt.Sprintf("batches/%s/%s/%v", project, status, desc)
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
		ids, next, err = tx.BatchList(ctx, scope, project, status, store.Page{After: after, Limit: limit, Descending: desc})
		return err
	})
	if err != nil {
		return nil, nil, translate(err, projectNotFound(c.Region, c.Account, project))
	}
	return ids, encodeToken(list, next), nil
}

// ListBuildBatches lists batch ids, newest first unless sortOrder is
// ASCENDING, optionally only those with filter.status.
func (a *API) ListBuildBatches(ctx context.Context, in *cb.ListBuildBatchesInput) (*cb.ListBuildBatchesOutput, error) {
	ids, next, err := a.listBatches(ctx, "", in.Filter, in.MaxResults, in.SortOrder, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &cb.ListBuildBatchesOutput{Ids: ids, NextToken: next}, nil
}

// ListBuildBatchesForProject lists a project's batch ids.
func (a *API) ListBuildBatchesForProject(ctx context.Context, in *cb.ListBuildBatchesForProjectInput) (*cb.ListBuildBatchesForProjectOutput, error) {
	name := scopedName(ctx, cb.Deref(in.ProjectName), "project")
	if name == "" {
		return nil, invalid("Invalid input: projectName is required")
	}
	ids, next, err := a.listBatches(ctx, name, in.Filter, in.MaxResults, in.SortOrder, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &cb.ListBuildBatchesForProjectOutput{Ids: ids, NextToken: next}, nil
}

func (a *API) getBatch(ctx context.Context, scope store.Scope, id string) (*store.Batch, error) {
	var b *store.Batch
	err := a.st.View(ctx, func(tx store.Tx) error {
		var err error
		b, err = tx.BatchGet(ctx, scope, id)
		return err
	})
	return b, translate(err, batchNotFound(id))
}

// StopBuildBatch stops every running build of a batch and returns the
// batch once it is STOPPED; stopping a finished batch returns it as it is.
func (a *API) StopBuildBatch(ctx context.Context, in *cb.StopBuildBatchInput) (*cb.StopBuildBatchOutput, error) {
	_, scope := scopeOf(ctx)
	id := batchID(ctx, cb.Deref(in.Id))
	b, err := a.getBatch(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	if cb.Deref(b.Doc.Complete) {
		return &cb.StopBuildBatchOutput{BuildBatch: b.Doc}, nil
	}
	var fx batchrun.Effects
	err = a.st.Update(ctx, func(tx store.Tx) error {
		fx = batchrun.Effects{}
		_, err := a.opts.Coordinator.Apply(ctx, tx, scope, id, batch.Event{Kind: batch.Stop}, &fx)
		return err
	})
	if err != nil {
		return nil, translate(err, batchNotFound(id))
	}
	a.opts.Scheduler.Handle(fx)
	if b, err = a.waitBatch(ctx, scope, id); err != nil {
		return nil, err
	}
	return &cb.StopBuildBatchOutput{BuildBatch: b.Doc}, nil
}

// waitBatch returns the batch once it is complete (or after stopWait, as
// it is then).
func (a *API) waitBatch(ctx context.Context, scope store.Scope, id string) (*store.Batch, error) {
	return waitFor(ctx, stopWait, func(ctx context.Context) (*store.Batch, bool, error) {
		b, err := a.getBatch(ctx, scope, id)
		return b, err == nil && cb.Deref(b.Doc.Complete), err
	})
}

// RetryBuildBatch reruns a failed batch's builds (RETRY_ALL_BUILDS, the
// default, or RETRY_FAILED_BUILDS).
func (a *API) RetryBuildBatch(ctx context.Context, in *cb.RetryBuildBatchInput) (*cb.RetryBuildBatchOutput, error) {
	if err := a.checkDisk(); err != nil {
		return nil, err
	}
	_, scope := scopeOf(ctx)
	if cb.Deref(in.Id) == "" {
		return nil, invalid("Invalid input: id is required")
	}
	id := batchID(ctx, *in.Id)
	retryType := cb.Deref(in.RetryType)
	if retryType == "" {
		retryType = cb.RetryBuildBatchTypeRetryAllBuilds
	}
	token := cb.Deref(in.IdempotencyToken)
	hash := requestHash([]string{id, retryType})
	if token != "" {
		b, err := a.idempotentBatch(ctx, scope, "RetryBuildBatch", token, hash)
		if err != nil {
			return nil, err
		}
		if b != nil {
			return &cb.RetryBuildBatchOutput{BuildBatch: b.Doc}, nil
		}
	}
	if _, err := a.getBatch(ctx, scope, id); err != nil {
		return nil, err
	}
	var fx batchrun.Effects
	var doc *cb.BuildBatch
	err := a.st.Update(ctx, func(tx store.Tx) error {
		fx = batchrun.Effects{}
		step, err := a.opts.Coordinator.Apply(ctx, tx, scope, id, batch.Event{Kind: batch.Retry, RetryType: retryType}, &fx)
		if err == nil && step.Err != nil {
			return step.Err
		}
		doc = step.RetryView
		return err
	})
	if err == nil {
		a.opts.Scheduler.Handle(fx)
	}
	if errors.Is(err, batch.ErrNotRetryable) {
		return nil, invalid("Invalid input: batch %s cannot be retried: only batch builds that have failed can be retried", id)
	}
	if err != nil {
		return nil, translate(err, batchNotFound(id))
	}
	if token != "" {
		err := a.st.Update(ctx, func(tx store.Tx) error {
			return tx.IdempotencyPut(ctx, scope, "RetryBuildBatch", token, hash, id, a.now().Add(idempotencyWindow))
		})
		if err != nil {
			return nil, translate(err, "")
		}
	}
	return &cb.RetryBuildBatchOutput{BuildBatch: doc}, nil
}

// DeleteBuildBatch deletes a finished batch and its builds.
func (a *API) DeleteBuildBatch(ctx context.Context, in *cb.DeleteBuildBatchInput) (*cb.DeleteBuildBatchOutput, error) {
	_, scope := scopeOf(ctx)
	id := batchID(ctx, cb.Deref(in.Id))
	out := &cb.DeleteBuildBatchOutput{BuildsDeleted: []string{}, BuildsNotDeleted: []cb.BuildNotDeleted{}}
	var logs []string
	err := a.st.Update(ctx, func(tx store.Tx) error {
		b, err := tx.BatchGet(ctx, scope, id)
		if err != nil {
			return err
		}
		if !cb.Deref(b.Doc.Complete) {
			return invalid("Invalid input: batch %s is still in progress; stop it with StopBuildBatch before deleting it", id)
		}
		builds, err := tx.BuildListByBatch(ctx, scope, id)
		if err != nil {
			return err
		}
		for _, m := range builds {
			if !cb.Deref(m.Doc.BuildComplete) {
				out.BuildsNotDeleted = append(out.BuildsNotDeleted, cb.BuildNotDeleted{Id: m.Doc.Arn, StatusCode: cb.String("BUILD_IN_PROGRESS")})
				continue
			}
			if err := tx.BuildDelete(ctx, scope, cb.Deref(m.Doc.Id)); err != nil {
				return err
			}
			out.BuildsDeleted = append(out.BuildsDeleted, cb.Deref(m.Doc.Arn))
			_, uuid, _ := strings.Cut(cb.Deref(m.Doc.Id), ":")
			logs = append(logs, uuid)
		}
		out.StatusCode = cb.String("BATCH_DELETED")
		return tx.BatchDelete(ctx, scope, id)
	})
	if err != nil {
		var ae *awsjson.Error
		if errors.As(err, &ae) {
			return nil, ae
		}
		if isNotFound(err) {
			// AWS models no ResourceNotFoundException for DeleteBuildBatch.
			return nil, invalid("Invalid input: %s", batchNotFound(id))
		}
		return nil, translate(err, "")
	}
	for _, l := range logs {
		a.opts.Logs.Delete(l)
	}
	return out, nil
}
