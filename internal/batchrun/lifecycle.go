package batchrun

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/batch"
	"github.com/buildbatch/buildbatch/internal/buildspec"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/store"
)

func (c *Coordinator) now() time.Time { return c.o.Now() }

func batchUUID(doc *cb.BuildBatch) string {
	_, uuid, _ := strings.Cut(cb.Deref(doc.Id), ":")
	return uuid
}

// initiator is the batch role's session, as member builds of a batch show
// it: <role name>/AWSCodeBuild-<batch uuid>.
func initiator(doc *cb.BuildBatch) string {
	role := "codebuild-batch"
	if cfg := doc.BuildBatchConfig; cfg != nil && cfg.ServiceRole != nil {
		r := *cfg.ServiceRole
		role = r[strings.LastIndex(r, "/")+1:]
	}
	return role + "/AWSCodeBuild-" + batchUUID(doc)
}

// newMember stores a build of the batch for a group.
func (c *Coordinator) newMember(tx store.Tx, st *state, g *batch.Group, identifier, uuid string) (*store.Build, error) {
	doc := st.b.Doc
	s := document.Clone(st.settings)
	meta := store.BuildMeta{BatchID: cb.Deref(doc.Id), BatchIdentifier: identifier, Internal: true, User: st.b.Meta.User}
	debug := doc.DebugSessionEnabled
	if g != nil {
		if v := cb.Deref(doc.ResolvedSourceVersion); v != "" {
			s.SourceVersion = cb.String(v)
		}
		if g.Buildspec != "" {
			s.Source.Buildspec = cb.String(g.Buildspec)
		}
		env := s.Environment
		if env == nil {
			env = &cb.ProjectEnvironment{}
			s.Environment = env
		}
		if g.Env.ComputeType != "" {
			env.ComputeType = cb.String(g.Env.ComputeType)
		}
		if g.Env.Image != "" {
			env.Image = cb.String(g.Env.Image)
		}
		if g.Env.Type != "" {
			env.Type = cb.String(g.Env.Type)
		}
		if g.Env.PrivilegedMode != nil {
			env.PrivilegedMode = g.Env.PrivilegedMode
		}
		if g.Env.Fleet != "" {
			env.Fleet = &cb.ProjectFleet{FleetArn: cb.String(g.Env.Fleet)}
		}
		for _, kv := range g.Env.Variables {
			env.EnvironmentVariables = document.SetVar(env.EnvironmentVariables, kv.Name, kv.Value)
		}
		if g.DebugSession != nil {
			debug = g.DebugSession
		}
		meta.Shard, meta.Shards = g.Shard, g.Shards
	}
	s.Timeout = doc.BuildTimeoutInMinutes
	s.QueuedTimeout = doc.QueuedTimeoutInMinutes
	spec := document.Spec{Scope: st.b.Scope, Project: cb.Deref(doc.ProjectName), Settings: s, Initiator: initiator(doc), Debug: debug,
		BatchArn: cb.Deref(doc.Arn), UUID: uuid}
	b, err := document.Insert(context.Background(), tx, spec, meta, c.now())
	if err != nil {
		return nil, err
	}
	st.start = append(st.start, b)
	return b, nil
}

func group(doc *cb.BuildBatch, id string) *cb.BuildGroup {
	for i := range doc.BuildGroups {
		if cb.Deref(doc.BuildGroups[i].Identifier) == id {
			return &doc.BuildGroups[i]
		}
	}
	return nil
}

func status(g *cb.BuildGroup) string {
	if g.CurrentBuildSummary == nil {
		return document.Pending
	}
	return cb.Deref(g.CurrentBuildSummary.BuildStatus)
}

func terminal(s string) bool { return s != document.Pending && s != cb.StatusTypeInProgress }

// submit starts DOWNLOAD_BATCHSPEC with the batch's DOWNLOAD_SOURCE build.
func (c *Coordinator) submit(tx store.Tx, st *state) error {
	doc := st.b.Doc
	now := c.now()
	document.BatchEnd(doc, cb.StatusTypeSucceeded, nil, now)
	document.BatchStart(doc, document.DownloadBatchspec, now)
	if t := timeoutMins(doc); t > 0 && st.b.Meta.Deadline == 0 {
		st.b.Meta.Deadline = cb.Deref(doc.StartTime).Add(time.Duration(t) * c.o.Minute).UnixNano()
	}
	return c.startBootstrap(tx, st)
}

func timeoutMins(doc *cb.BuildBatch) int32 {
	if cfg := doc.BuildBatchConfig; cfg != nil && cfg.TimeoutInMins != nil {
		return *cfg.TimeoutInMins
	}
	return 0
}

func (c *Coordinator) startBootstrap(tx store.Tx, st *state) error {
	doc := st.b.Doc
	b, err := c.newMember(tx, st, nil, document.DownloadSource, "")
	if err != nil {
		return err
	}
	summary := &cb.BuildSummary{Arn: b.Doc.Arn, RequestedOn: b.Doc.StartTime, BuildStatus: cb.String(cb.StatusTypeInProgress)}
	if g := group(doc, document.DownloadSource); g != nil {
		g.PriorBuildSummaryList = append(g.PriorBuildSummaryList, *g.CurrentBuildSummary)
		g.CurrentBuildSummary = summary
	} else {
		doc.BuildGroups = append([]cb.BuildGroup{{Identifier: cb.String(document.DownloadSource), IgnoreFailure: cb.Bool(false), CurrentBuildSummary: summary}}, doc.BuildGroups...)
	}
	return nil
}

// plan reads the batch section; its error fails the DOWNLOAD_SOURCE build
// (and so DOWNLOAD_BATCHSPEC) with that message.
func (c *Coordinator) plan(st *state, e event) error {
	doc := st.b.Doc
	spec, err := buildspec.Parse(e.spec)
	if err != nil {
		return err
	}
	if spec.Batch == nil {
		return errors.New("the buildspec has no batch section; a batch build needs one (build-list, build-graph, build-matrix or build-fanout)")
	}
	r := batch.Restrictions{}
	if env := doc.Environment; env != nil {
		r.DefaultComputeType = cb.Deref(env.ComputeType)
	}
	if cfg := doc.BuildBatchConfig; cfg != nil && cfg.Restrictions != nil {
		r.MaximumBuildsAllowed = int(cb.Deref(cfg.Restrictions.MaximumBuildsAllowed))
		r.ComputeTypesAllowed = cfg.Restrictions.ComputeTypesAllowed
		r.FleetsAllowed = cfg.Restrictions.FleetsAllowed
	}
	p, err := batch.Make(spec.Batch, r)
	if err != nil {
		return err
	}
	for _, g := range p.Groups {
		if g.Buildspec == "" || strings.Contains(g.Buildspec, "\n") {
			continue
		}
		path := g.Buildspec
		if !filepath.IsAbs(path) {
			path = filepath.Join(e.srcDir, path)
		}
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("build %s: buildspec %s not found in the source", g.Identifier, g.Buildspec)
		}
	}
	st.plan = p
	st.planDirty = true
	st.b.Meta.GroupUUIDs = map[string]string{}
	for _, g := range p.Groups {
		st.b.Meta.GroupUUIDs[g.Identifier] = ident.UUID()
	}
	return nil
}

// buildDone records a completed build in its group and moves the batch on.
func (c *Coordinator) buildDone(tx store.Tx, st *state, b *store.Build) error {
	doc := st.b.Doc
	g := group(doc, b.Meta.BatchIdentifier)
	if g == nil || g.CurrentBuildSummary == nil || cb.Deref(g.CurrentBuildSummary.Arn) != cb.Deref(b.Doc.Arn) {
		return nil // a build a retry replaced
	}
	c.summarize(g, b)
	if b.Meta.BatchIdentifier == document.DownloadSource {
		return c.bootstrapDone(tx, st, b)
	}
	c.groupDone(st, g)
	return c.advance(tx, st)
}

// summarize copies a finished build's outcome into its group's summary.
func (c *Coordinator) summarize(g *cb.BuildGroup, b *store.Build) {
	s := g.CurrentBuildSummary
	s.BuildStatus = b.Doc.BuildStatus
	typ := cb.ArtifactsTypeNoArtifacts
	if a := b.Meta.Artifacts; a != nil && a.Type != nil {
		typ = *a.Type
	}
	loc := ""
	if b.Doc.Artifacts != nil {
		loc = cb.Deref(b.Doc.Artifacts.Location)
	}
	s.PrimaryArtifact = &cb.ResolvedArtifact{Type: cb.String(typ), Location: cb.String(loc), Identifier: g.Identifier}
	s.SecondaryArtifacts = []cb.ResolvedArtifact{}
	for _, sa := range b.Doc.SecondaryArtifacts {
		s.SecondaryArtifacts = append(s.SecondaryArtifacts, cb.ResolvedArtifact{Type: cb.String(cb.ArtifactsTypeS3), Location: sa.Location, Identifier: sa.ArtifactIdentifier})
	}
}

func (c *Coordinator) bootstrapDone(tx store.Tx, st *state, b *store.Build) error {
	doc := st.b.Doc
	now := c.now()
	if r := b.Doc.ResolvedSourceVersion; r != nil {
		doc.ResolvedSourceVersion = r
	}
	ok := cb.Deref(b.Doc.BuildStatus) == cb.StatusTypeSucceeded && st.plan != nil
	if !ok || st.b.Meta.Ending != "" {
		status := cb.Deref(b.Doc.BuildStatus)
		if status == cb.StatusTypeSucceeded {
			status = cb.StatusTypeStopped
		}
		document.BatchEnd(doc, status, failureContexts(b.Doc), now)
		return c.finish(st, now)
	}
	document.BatchEnd(doc, cb.StatusTypeSucceeded, nil, now)
	document.BatchStart(doc, document.InProgress, now)
	c.addGroups(st, now)
	return c.advance(tx, st)
}

// failureContexts are the contexts of a build's failed phase.
func failureContexts(b *cb.Build) []cb.PhaseContext {
	for i := len(b.Phases) - 1; i >= 0; i-- {
		p := b.Phases[i]
		if s := cb.Deref(p.PhaseStatus); s != "" && s != cb.StatusTypeSucceeded {
			if len(p.Contexts) > 0 && cb.Deref(p.Contexts[0].Message) != "" {
				return p.Contexts
			}
			return []cb.PhaseContext{{StatusCode: cb.String(s), Message: cb.String(fmt.Sprintf("the DOWNLOAD_SOURCE build ended %s in %s", s, cb.Deref(p.PhaseType)))}}
		}
	}
	return nil
}

// addGroups adds the planned groups, all PENDING, with their builds' ARNs.
func (c *Coordinator) addGroups(st *state, now time.Time) {
	doc := st.b.Doc
	for _, g := range st.plan.Groups {
		id := cb.Deref(doc.ProjectName) + ":" + st.b.Meta.GroupUUIDs[g.Identifier]
		doc.BuildGroups = append(doc.BuildGroups, cb.BuildGroup{
			Identifier:    cb.String(g.Identifier),
			DependsOn:     slices.Clone(g.DependsOn),
			IgnoreFailure: cb.Bool(g.IgnoreFailure),
			CurrentBuildSummary: &cb.BuildSummary{Arn: cb.String(ident.BuildARN(st.b.Scope.Region, st.b.Scope.Account, id)),
				RequestedOn: cb.At(now), BuildStatus: cb.String(document.Pending)},
			PriorBuildSummaryList: []cb.BuildSummary{},
		})
	}
}

func (st *state) planGroup(id string) *batch.Group {
	for i := range st.plan.Groups {
		if st.plan.Groups[i].Identifier == id {
			return &st.plan.Groups[i]
		}
	}
	return nil
}

// groupDone reacts to a member's outcome: a required group that did not
// succeed fails the batch, its dependents never start, and with fast-fail
// the rest is stopped.
func (c *Coordinator) groupDone(st *state, g *cb.BuildGroup) {
	if status(g) == cb.StatusTypeSucceeded || cb.Deref(g.IgnoreFailure) || st.b.Meta.Ending != "" {
		return
	}
	st.b.Meta.Failed = true
	for _, dep := range st.plan.Dependents(cb.Deref(g.Identifier)) {
		if d := group(st.b.Doc, dep); d != nil && status(d) == document.Pending {
			d.CurrentBuildSummary.BuildStatus = cb.String(cb.StatusTypeStopped)
		}
	}
	if st.plan.FastFail {
		c.stopAll(st)
	}
}

// stopAll stops every running member and marks waiting groups STOPPED.
func (c *Coordinator) stopAll(st *state) {
	for i := range st.b.Doc.BuildGroups {
		g := &st.b.Doc.BuildGroups[i]
		switch status(g) {
		case document.Pending:
			g.CurrentBuildSummary.BuildStatus = cb.String(cb.StatusTypeStopped)
		case cb.StatusTypeInProgress:
			st.stop = append(st.stop, ident.ResourceName(cb.Deref(g.CurrentBuildSummary.Arn), "build"))
		}
	}
}

// advance starts the groups whose dependencies are met and finishes the
// batch when no group is waiting or running.
func (c *Coordinator) advance(tx store.Tx, st *state) error {
	doc := st.b.Doc
	now := c.now()
	if st.plan != nil && st.b.Meta.Ending == "" && !(st.b.Meta.Failed && st.plan.FastFail) {
		for i := range doc.BuildGroups {
			g := &doc.BuildGroups[i]
			if cb.Deref(g.Identifier) == document.DownloadSource || status(g) != document.Pending {
				continue
			}
			ready, blocked := true, false
			for _, dep := range g.DependsOn {
				d := group(doc, dep)
				ds := status(d)
				switch {
				case !terminal(ds):
					ready = false
				case ds != cb.StatusTypeSucceeded && !cb.Deref(d.IgnoreFailure):
					blocked = true
				}
			}
			if blocked {
				g.CurrentBuildSummary.BuildStatus = cb.String(cb.StatusTypeStopped)
				continue
			}
			if !ready {
				continue
			}
			id := cb.Deref(g.Identifier)
			b, err := c.newMember(tx, st, st.planGroup(id), id, st.b.Meta.GroupUUIDs[id])
			if err != nil {
				return err
			}
			g.CurrentBuildSummary = &cb.BuildSummary{Arn: b.Doc.Arn, RequestedOn: b.Doc.StartTime, BuildStatus: cb.String(cb.StatusTypeInProgress)}
		}
	}
	for _, g := range doc.BuildGroups {
		if !terminal(status(&g)) {
			return nil
		}
	}
	return c.finish(st, now)
}

// end stops (StopBuildBatch) or times out a batch: waiting groups never
// start, running builds are stopped; the batch completes when they have.
func (c *Coordinator) end(tx store.Tx, st *state, ending string) error {
	st.b.Meta.Ending = ending
	c.stopAll(st)
	for _, g := range st.b.Doc.BuildGroups {
		if !terminal(status(&g)) {
			return nil // the stopped builds' completions finish the batch
		}
	}
	return c.finish(st, c.now())
}

// finish closes the open phase, combines artifacts on success and appends
// the terminal marker.
func (c *Coordinator) finish(st *state, now time.Time) error {
	doc := st.b.Doc
	m := st.b.Meta
	final := cb.StatusTypeSucceeded
	switch {
	case m.Ending == document.Stopped:
		final = cb.StatusTypeStopped
	case m.Ending == "TIMED_OUT":
		final = cb.StatusTypeTimedOut
	case m.Failed || st.plan == nil:
		final = cb.StatusTypeFailed
	}
	if open := document.BatchOpen(doc); open != "" {
		ps := final
		if open == document.DownloadBatchspec && final == cb.StatusTypeSucceeded {
			ps = cb.StatusTypeFailed
			final = cb.StatusTypeFailed
		}
		document.BatchEnd(doc, ps, nil, now)
	}
	if final == cb.StatusTypeSucceeded {
		document.BatchStart(doc, document.CombineArtifacts, now)
		if err := c.combine(st); err != nil {
			c.o.Log.Warn("combining artifacts", "batch", cb.Deref(doc.Id), "err", err)
			document.BatchEnd(doc, cb.StatusTypeFailed, []cb.PhaseContext{{StatusCode: cb.String("CLIENT_ERROR"), Message: cb.String(err.Error())}}, c.now())
			final = cb.StatusTypeFailed
		} else {
			document.BatchEnd(doc, cb.StatusTypeSucceeded, nil, c.now())
		}
	}
	marker := map[string]string{cb.StatusTypeSucceeded: document.Succeeded, cb.StatusTypeStopped: document.Stopped}[final]
	if marker == "" {
		marker = document.Failed
	}
	document.BatchStart(doc, marker, c.now())
	doc.BuildBatchStatus = cb.String(final)
	doc.Complete = cb.Bool(true)
	doc.EndTime = doc.Phases[len(doc.Phases)-1].StartTime
	return nil
}

// retry reruns a finished, unsuccessful batch's groups (all, or those that
// did not succeed); their current builds move to priorBuildSummaryList.
func (c *Coordinator) retry(tx store.Tx, st *state, retryType string) error {
	doc := st.b.Doc
	if !cb.Deref(doc.Complete) || cb.Deref(doc.BuildBatchStatus) == cb.StatusTypeSucceeded {
		st.replyErr = batch.ErrNotRetryable
		return nil
	}
	now := c.now()
	// The terminal marker is closed with status RETRY and a new SUBMITTED
	// phase opens, as AWS shows it.
	if n := len(doc.Phases); n > 0 {
		p := &doc.Phases[n-1]
		p.PhaseStatus = cb.String("RETRY")
		p.EndTime = cb.At(now)
		p.DurationInSeconds = cb.Int64(int64(now.Sub(p.StartTime.Time) / time.Second))
	}
	document.BatchStart(doc, document.Submitted, now)
	doc.EndTime = nil
	doc.Complete = cb.Bool(false)
	doc.BuildBatchStatus = cb.String(cb.StatusTypeInProgress)
	st.b.Meta.Failed, st.b.Meta.Ending = false, ""
	st.b.Meta.Deadline = 0
	if t := timeoutMins(doc); t > 0 {
		st.b.Meta.Deadline = now.Add(time.Duration(t) * c.o.Minute).UnixNano()
	}
	st.retryView = document.Clone(doc)

	document.BatchEnd(doc, cb.StatusTypeSucceeded, nil, now)
	if st.plan == nil {
		// The batch never got past DOWNLOAD_BATCHSPEC: start there again.
		document.BatchStart(doc, document.DownloadBatchspec, now)
		return c.startBootstrap(tx, st)
	}
	document.BatchStart(doc, document.InProgress, now)
	for i := range doc.BuildGroups {
		g := &doc.BuildGroups[i]
		id := cb.Deref(g.Identifier)
		if id == document.DownloadSource {
			continue
		}
		if retryType == RetryFailed && status(g) == cb.StatusTypeSucceeded {
			continue
		}
		if g.CurrentBuildSummary != nil {
			g.PriorBuildSummaryList = append(g.PriorBuildSummaryList, *g.CurrentBuildSummary)
		}
		uuid := ident.UUID()
		st.b.Meta.GroupUUIDs[id] = uuid
		bid := cb.Deref(doc.ProjectName) + ":" + uuid
		g.CurrentBuildSummary = &cb.BuildSummary{Arn: cb.String(ident.BuildARN(st.b.Scope.Region, st.b.Scope.Account, bid)),
			RequestedOn: cb.At(now), BuildStatus: cb.String(document.Pending)}
	}
	return c.advance(tx, st)
}

// reconcile brings a batch left unfinished by a previous run up to date
// with its builds, then moves it on.
func (c *Coordinator) reconcile(tx store.Tx, st *state) error {
	doc := st.b.Doc
	if document.BatchOpen(doc) == document.Submitted {
		return c.submit(tx, st)
	}
	builds, err := tx.BuildListByBatch(context.Background(), st.b.Scope, cb.Deref(doc.Id))
	if err != nil {
		return err
	}
	byArn := map[string]*store.Build{}
	for _, b := range builds {
		byArn[cb.Deref(b.Doc.Arn)] = b
	}
	if g := group(doc, document.DownloadSource); g != nil && status(g) == cb.StatusTypeInProgress {
		if b := byArn[cb.Deref(g.CurrentBuildSummary.Arn)]; b != nil && cb.Deref(b.Doc.BuildComplete) {
			return c.buildDone(tx, st, b)
		}
		return nil
	}
	for i := range doc.BuildGroups {
		g := &doc.BuildGroups[i]
		if status(g) != cb.StatusTypeInProgress {
			continue
		}
		if b := byArn[cb.Deref(g.CurrentBuildSummary.Arn)]; b != nil && cb.Deref(b.Doc.BuildComplete) {
			c.summarize(g, b)
			c.groupDone(st, g)
		}
	}
	if st.plan == nil {
		return nil
	}
	return c.advance(tx, st)
}
