package batch

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/buildspec"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/store"
)

// Retry types of RetryBuildBatch.
const (
	RetryAll    = "RETRY_ALL_BUILDS"
	RetryFailed = "RETRY_FAILED_BUILDS"
)

// Endings of a batch that does not run to its end.
const (
	EndStopped  = "STOPPED"
	EndTimedOut = "TIMED_OUT"
)

// EventKind says what happened to a batch.
type EventKind int

const (
	// Submit starts a stored batch (in SUBMITTED).
	Submit EventKind = iota
	// BuildDone: one of the batch's builds completed (Event.Build; for the
	// DOWNLOAD_SOURCE build also Event.Plan, the plan its buildspec made).
	BuildDone
	// Stop: StopBuildBatch.
	Stop
	// Timeout: the batch's deadline passed.
	Timeout
	// Retry: RetryBuildBatch (Event.RetryType).
	Retry
	// Combined: the artifacts were combined (Event.CombineErr).
	Combined
	// Reconcile brings the batch up to date with its builds (Event.Builds)
	// after a node that worked on it went away.
	Reconcile
)

// Event is one thing that happened to a batch.
type Event struct {
	Kind       EventKind
	Build      *store.Build
	Plan       *Plan
	Builds     []*store.Build
	RetryType  string
	CombineErr error
}

// Env is what Progress takes from outside, so that it stays pure.
type Env struct {
	Now time.Time
	// Minute is the length of a timeout minute.
	Minute time.Duration
	// UUID returns a new build uuid.
	UUID func() string
}

// NewBuild is a member build Progress decided to create (in QUEUED).
type NewBuild struct {
	Spec document.Spec
	Meta store.BuildMeta
}

// Step is what Progress decided beside the new document.
type Step struct {
	// Start are the builds to create; Stop the ids of running builds to
	// stop.
	Start []NewBuild
	Stop  []string
	// Combine: the batch entered COMBINE_ARTIFACTS; combine its artifacts
	// and send Combined.
	Combine bool
	// Err answers a request that was refused (Retry: ErrNotRetryable).
	Err error
	// RetryView is the batch as RetryBuildBatch answers it.
	RetryView *cb.BuildBatch
}

// Progress applies an event to a batch: it changes b (document and meta
// data) and says which builds to start and stop. It is pure; an error means
// b's stored plan or settings are corrupt.
func Progress(b *store.Batch, e Event, env Env) (Step, error) {
	s, err := Load(b)
	if err != nil {
		return Step{}, err
	}
	step := s.Apply(e, env)
	return step, s.Save()
}

// State is a batch with its plan and settings decoded, for applying several
// events in a row (Progress does Load, Apply, Save).
type State struct {
	b         *store.Batch
	plan      *Plan
	settings  *document.Settings
	planDirty bool
}

// Load decodes a batch's plan and settings.
func Load(b *store.Batch) (*State, error) {
	s := &State{b: b}
	if len(b.Meta.Plan) > 0 {
		s.plan = new(Plan)
		if err := json.Unmarshal(b.Meta.Plan, s.plan); err != nil {
			return nil, fmt.Errorf("corrupt batch plan: %w", err)
		}
	}
	s.settings = new(document.Settings)
	if len(b.Meta.Settings) > 0 {
		if err := json.Unmarshal(b.Meta.Settings, s.settings); err != nil {
			return nil, fmt.Errorf("corrupt batch settings: %w", err)
		}
	}
	return s, nil
}

// LoadWithPlan is Load with the plan already decoded (from b.Meta.Plan);
// plan is only read.
func LoadWithPlan(b *store.Batch, plan *Plan) (*State, error) {
	s := &State{b: b, plan: plan, settings: new(document.Settings)}
	if len(b.Meta.Settings) > 0 {
		if err := json.Unmarshal(b.Meta.Settings, s.settings); err != nil {
			return nil, fmt.Errorf("corrupt batch settings: %w", err)
		}
	}
	return s, nil
}

// Plan is the batch's plan (nil before planning); it must not be changed.
func (s *State) Plan() *Plan { return s.plan }

// Save encodes what Apply changed of the plan into the batch's meta data.
func (s *State) Save() error {
	if !s.planDirty {
		return nil
	}
	enc, err := json.Marshal(s.plan)
	if err != nil {
		return err
	}
	s.b.Meta.Plan = enc
	s.planDirty = false
	return nil
}

// Apply applies one event (see Progress).
func (s *State) Apply(e Event, env Env) Step {
	p := &progress{b: s.b, env: env, plan: s.plan, settings: s.settings}
	p.run(e)
	if p.planDirty {
		s.plan, s.planDirty = p.plan, true
	}
	return p.step
}

func (p *progress) run(e Event) {
	b := p.b
	doc := b.Doc
	complete := cb.Deref(doc.Complete)
	switch e.Kind {
	case Submit:
		if document.BatchOpen(doc) == document.Submitted {
			p.submit()
		}
	case BuildDone:
		if !complete && e.Build != nil {
			p.buildDone(e.Build, e.Plan)
		}
	case Stop, Timeout:
		if !complete && b.Meta.Ending == "" && document.BatchOpen(doc) != document.CombineArtifacts {
			ending := EndStopped
			if e.Kind == Timeout {
				ending = EndTimedOut
			}
			p.end(ending)
		}
	case Retry:
		p.retry(e.RetryType)
	case Combined:
		if !complete && document.BatchOpen(doc) == document.CombineArtifacts {
			p.combined(e.CombineErr)
		}
	case Reconcile:
		if !complete {
			p.reconcile(e.Builds)
		}
	}
}

type progress struct {
	b         *store.Batch
	env       Env
	plan      *Plan
	settings  *document.Settings
	planDirty bool
	step      Step
}

// FromBuildspec plans a batch from its buildspec: the batch section,
// checked against the batch's restrictions. The error is what fails the
// batch's DOWNLOAD_SOURCE build.
func FromBuildspec(data []byte, doc *cb.BuildBatch) (*Plan, error) {
	spec, err := buildspec.Parse(data)
	if err != nil {
		return nil, err
	}
	if spec.Batch == nil {
		return nil, errors.New("the buildspec has no batch section; a batch build needs one (build-list, build-graph, build-matrix or build-fanout)")
	}
	r := Restrictions{}
	if env := doc.Environment; env != nil {
		r.DefaultComputeType = cb.Deref(env.ComputeType)
	}
	if cfg := doc.BuildBatchConfig; cfg != nil && cfg.Restrictions != nil {
		r.MaximumBuildsAllowed = int(cb.Deref(cfg.Restrictions.MaximumBuildsAllowed))
		r.ComputeTypesAllowed = cfg.Restrictions.ComputeTypesAllowed
		r.FleetsAllowed = cfg.Restrictions.FleetsAllowed
	}
	return Make(spec.Batch, r)
}

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

// buildARN is the ARN of the batch's build of that uuid.
func (p *progress) buildARN(uuid string) string {
	return ident.BuildARN(p.b.Scope.Region, p.b.Scope.Account, cb.Deref(p.b.Doc.ProjectName)+":"+uuid)
}

// newMember decides to start a build of the batch for a group (g nil: the
// DOWNLOAD_SOURCE build) and returns its summary.
func (p *progress) newMember(g *Group, identifier, uuid string) *cb.BuildSummary {
	doc := p.b.Doc
	s := document.Clone(p.settings)
	meta := store.BuildMeta{BatchID: cb.Deref(doc.Id), BatchIdentifier: identifier, Internal: true, User: p.b.Meta.User, ExtraEnv: p.b.Meta.ExtraEnv}
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
	if uuid == "" {
		uuid = p.env.UUID()
	}
	spec := document.Spec{Scope: p.b.Scope, Project: cb.Deref(doc.ProjectName), Settings: s, Initiator: initiator(doc), Debug: debug,
		BatchArn: cb.Deref(doc.Arn), UUID: uuid}
	p.step.Start = append(p.step.Start, NewBuild{Spec: spec, Meta: meta})
	return &cb.BuildSummary{Arn: cb.String(p.buildARN(uuid)), RequestedOn: cb.At(p.env.Now), BuildStatus: cb.String(cb.StatusTypeInProgress)}
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

func timeoutMins(doc *cb.BuildBatch) int32 {
	if cfg := doc.BuildBatchConfig; cfg != nil && cfg.TimeoutInMins != nil {
		return *cfg.TimeoutInMins
	}
	return 0
}

// submit starts DOWNLOAD_BATCHSPEC with the batch's DOWNLOAD_SOURCE build.
func (p *progress) submit() {
	doc := p.b.Doc
	now := p.env.Now
	document.BatchEnd(doc, cb.StatusTypeSucceeded, nil, now)
	document.BatchStart(doc, document.DownloadBatchspec, now)
	if t := timeoutMins(doc); t > 0 && p.b.Meta.Deadline == 0 {
		p.b.Meta.Deadline = cb.Deref(doc.StartTime).Add(time.Duration(t) * p.env.Minute).UnixNano()
	}
	p.startBootstrap()
}

func (p *progress) startBootstrap() {
	doc := p.b.Doc
	summary := p.newMember(nil, document.DownloadSource, "")
	if g := group(doc, document.DownloadSource); g != nil {
		g.PriorBuildSummaryList = append(g.PriorBuildSummaryList, *g.CurrentBuildSummary)
		g.CurrentBuildSummary = summary
	} else {
		doc.BuildGroups = append([]cb.BuildGroup{{Identifier: cb.String(document.DownloadSource), IgnoreFailure: cb.Bool(false), CurrentBuildSummary: summary}}, doc.BuildGroups...)
	}
}

// buildDone records a completed build in its group and moves the batch on.
func (p *progress) buildDone(b *store.Build, plan *Plan) {
	doc := p.b.Doc
	g := group(doc, b.Meta.BatchIdentifier)
	if g == nil || g.CurrentBuildSummary == nil || cb.Deref(g.CurrentBuildSummary.Arn) != cb.Deref(b.Doc.Arn) || terminal(status(g)) {
		return // a build a retry replaced, or one already recorded
	}
	summarize(g, b)
	if b.Meta.BatchIdentifier == document.DownloadSource {
		p.bootstrapDone(b, plan)
		return
	}
	p.groupDone(g)
	p.advance()
}

// summarize copies a finished build's outcome into its group's summary.
func summarize(g *cb.BuildGroup, b *store.Build) {
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

func (p *progress) bootstrapDone(b *store.Build, plan *Plan) {
	doc := p.b.Doc
	now := p.env.Now
	if r := b.Doc.ResolvedSourceVersion; r != nil {
		doc.ResolvedSourceVersion = r
	}
	ok := cb.Deref(b.Doc.BuildStatus) == cb.StatusTypeSucceeded && (plan != nil || p.plan != nil)
	if !ok || p.b.Meta.Ending != "" {
		status := cb.Deref(b.Doc.BuildStatus)
		if status == cb.StatusTypeSucceeded {
			status = cb.StatusTypeStopped
		}
		document.BatchEnd(doc, status, failureContexts(b.Doc), now)
		p.finish()
		return
	}
	if plan != nil {
		p.plan = plan
		p.planDirty = true
		p.b.Meta.GroupUUIDs = map[string]string{}
		for _, g := range plan.Groups {
			p.b.Meta.GroupUUIDs[g.Identifier] = p.env.UUID()
		}
	}
	document.BatchEnd(doc, cb.StatusTypeSucceeded, nil, now)
	document.BatchStart(doc, document.InProgress, now)
	p.addGroups()
	p.advance()
}

// failureContexts are the contexts of a build's failed phase.
func failureContexts(b *cb.Build) []cb.PhaseContext {
	for i := len(b.Phases) - 1; i >= 0; i-- {
		ph := b.Phases[i]
		if s := cb.Deref(ph.PhaseStatus); s != "" && s != cb.StatusTypeSucceeded {
			if len(ph.Contexts) > 0 && cb.Deref(ph.Contexts[0].Message) != "" {
				return ph.Contexts
			}
			return []cb.PhaseContext{{StatusCode: cb.String(s), Message: cb.String(fmt.Sprintf("the DOWNLOAD_SOURCE build ended %s in %s", s, cb.Deref(ph.PhaseType)))}}
		}
	}
	return nil
}

// addGroups adds the planned groups, all PENDING, with their builds' ARNs.
func (p *progress) addGroups() {
	doc := p.b.Doc
	for _, g := range p.plan.Groups {
		doc.BuildGroups = append(doc.BuildGroups, cb.BuildGroup{
			Identifier:    cb.String(g.Identifier),
			DependsOn:     slices.Clone(g.DependsOn),
			IgnoreFailure: cb.Bool(g.IgnoreFailure),
			CurrentBuildSummary: &cb.BuildSummary{Arn: cb.String(p.buildARN(p.b.Meta.GroupUUIDs[g.Identifier])),
				RequestedOn: cb.At(p.env.Now), BuildStatus: cb.String(document.Pending)},
			PriorBuildSummaryList: []cb.BuildSummary{},
		})
	}
}

func (p *progress) planGroup(id string) *Group {
	for i := range p.plan.Groups {
		if p.plan.Groups[i].Identifier == id {
			return &p.plan.Groups[i]
		}
	}
	return nil
}

// groupDone reacts to a member's outcome: a required group that did not
// succeed fails the batch, its dependents never start, and with fast-fail
// the rest is stopped.
func (p *progress) groupDone(g *cb.BuildGroup) {
	if status(g) == cb.StatusTypeSucceeded || cb.Deref(g.IgnoreFailure) || p.b.Meta.Ending != "" {
		return
	}
	p.b.Meta.Failed = true
	for _, dep := range p.plan.Dependents(cb.Deref(g.Identifier)) {
		if d := group(p.b.Doc, dep); d != nil && status(d) == document.Pending {
			d.CurrentBuildSummary.BuildStatus = cb.String(cb.StatusTypeStopped)
		}
	}
	if p.plan.FastFail {
		p.stopAll()
	}
}

// stopAll stops every running member and marks waiting groups STOPPED.
func (p *progress) stopAll() {
	for i := range p.b.Doc.BuildGroups {
		g := &p.b.Doc.BuildGroups[i]
		switch status(g) {
		case document.Pending:
			g.CurrentBuildSummary.BuildStatus = cb.String(cb.StatusTypeStopped)
		case cb.StatusTypeInProgress:
			p.step.Stop = append(p.step.Stop, ident.ResourceName(cb.Deref(g.CurrentBuildSummary.Arn), "build"))
		}
	}
}

// advance starts the groups whose dependencies are met and finishes the
// batch when no group is waiting or running.
func (p *progress) advance() {
	doc := p.b.Doc
	if p.plan != nil && p.b.Meta.Ending == "" && !(p.b.Meta.Failed && p.plan.FastFail) {
		for i := range doc.BuildGroups {
			g := &doc.BuildGroups[i]
			if cb.Deref(g.Identifier) == document.DownloadSource || status(g) != document.Pending {
				continue
			}
			ready, blocked := true, false
			for _, dep := range g.DependsOn {
				ds := status(group(doc, dep))
				switch {
				case !terminal(ds):
					ready = false
				case ds != cb.StatusTypeSucceeded && !cb.Deref(group(doc, dep).IgnoreFailure):
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
			g.CurrentBuildSummary = p.newMember(p.planGroup(id), id, p.b.Meta.GroupUUIDs[id])
		}
	}
	for _, g := range doc.BuildGroups {
		if !terminal(status(&g)) {
			return
		}
	}
	p.finish()
}

// end stops (StopBuildBatch) or times out a batch: waiting groups never
// start, running builds are stopped; the batch completes when they have.
func (p *progress) end(ending string) {
	p.b.Meta.Ending = ending
	p.stopAll()
	for _, g := range p.b.Doc.BuildGroups {
		if !terminal(status(&g)) {
			return // the stopped builds' completions finish the batch
		}
	}
	p.finish()
}

// finish closes the open phase; a successful batch then combines its
// artifacts (COMBINE_ARTIFACTS, ended by Combined), any other gets its
// terminal marker.
func (p *progress) finish() {
	doc := p.b.Doc
	m := p.b.Meta
	final := cb.StatusTypeSucceeded
	switch {
	case m.Ending == EndStopped:
		final = cb.StatusTypeStopped
	case m.Ending == EndTimedOut:
		final = cb.StatusTypeTimedOut
	case m.Failed || p.plan == nil:
		final = cb.StatusTypeFailed
	}
	if open := document.BatchOpen(doc); open != "" {
		ps := final
		if open == document.DownloadBatchspec && final == cb.StatusTypeSucceeded {
			ps = cb.StatusTypeFailed
			final = cb.StatusTypeFailed
		}
		var ctxs []cb.PhaseContext
		if open == document.InProgress && ps == cb.StatusTypeFailed {
			ctxs = p.failedBuilds()
		}
		document.BatchEnd(doc, ps, ctxs, p.env.Now)
	}
	if final == cb.StatusTypeSucceeded {
		document.BatchStart(doc, document.CombineArtifacts, p.env.Now)
		p.step.Combine = true
		return
	}
	p.complete(final)
}

// failedBuilds is the context of a failed IN_PROGRESS phase: which
// builds failed it (those whose failure is not ignored), and which did
// not run because of them.
func (p *progress) failedBuilds() []cb.PhaseContext {
	var failed, notRun []string
	for _, g := range p.b.Doc.BuildGroups {
		id, s := cb.Deref(g.Identifier), status(&g)
		switch {
		case id == document.DownloadSource || s == cb.StatusTypeSucceeded || cb.Deref(g.IgnoreFailure):
		case s == cb.StatusTypeStopped:
			notRun = append(notRun, id)
		default:
			failed = append(failed, fmt.Sprintf("%s (%s)", id, s))
		}
	}
	if len(failed) == 0 {
		return nil
	}
	msg := fmt.Sprintf("%d build(s) did not succeed: %s", len(failed), strings.Join(failed, ", "))
	if len(notRun) > 0 {
		msg += fmt.Sprintf("; not run or stopped because of them: %s", strings.Join(notRun, ", "))
	}
	return []cb.PhaseContext{{StatusCode: cb.String(cb.StatusTypeFailed), Message: cb.String(msg)}}
}

// combined ends COMBINE_ARTIFACTS and the batch.
func (p *progress) combined(err error) {
	final := cb.StatusTypeSucceeded
	if err != nil {
		document.BatchEnd(p.b.Doc, cb.StatusTypeFailed, []cb.PhaseContext{{StatusCode: cb.String("CLIENT_ERROR"), Message: cb.String(err.Error())}}, p.env.Now)
		final = cb.StatusTypeFailed
	} else {
		document.BatchEnd(p.b.Doc, cb.StatusTypeSucceeded, nil, p.env.Now)
	}
	p.complete(final)
}

// complete appends the terminal marker.
func (p *progress) complete(final string) {
	doc := p.b.Doc
	marker := map[string]string{cb.StatusTypeSucceeded: document.Succeeded, cb.StatusTypeStopped: document.Stopped}[final]
	if marker == "" {
		marker = document.Failed
	}
	document.BatchStart(doc, marker, p.env.Now)
	doc.BuildBatchStatus = cb.String(final)
	doc.Complete = cb.Bool(true)
	doc.EndTime = doc.Phases[len(doc.Phases)-1].StartTime
}

// retry reruns a finished, unsuccessful batch's groups (all, or those that
// did not succeed); their current builds move to priorBuildSummaryList.
func (p *progress) retry(retryType string) {
	doc := p.b.Doc
	if !cb.Deref(doc.Complete) || cb.Deref(doc.BuildBatchStatus) == cb.StatusTypeSucceeded {
		p.step.Err = ErrNotRetryable
		return
	}
	now := p.env.Now
	// The terminal marker is closed with status RETRY and a new SUBMITTED
	// phase opens, as AWS shows it.
	if n := len(doc.Phases); n > 0 {
		ph := &doc.Phases[n-1]
		ph.PhaseStatus = cb.String("RETRY")
		ph.EndTime = cb.At(now)
		ph.DurationInSeconds = cb.Int64(int64(now.Sub(ph.StartTime.Time) / time.Second))
	}
	document.BatchStart(doc, document.Submitted, now)
	doc.EndTime = nil
	doc.Complete = cb.Bool(false)
	doc.BuildBatchStatus = cb.String(cb.StatusTypeInProgress)
	p.b.Meta.Failed, p.b.Meta.Ending = false, ""
	p.b.Meta.Deadline = 0
	if t := timeoutMins(doc); t > 0 {
		p.b.Meta.Deadline = now.Add(time.Duration(t) * p.env.Minute).UnixNano()
	}
	p.step.RetryView = document.Clone(doc)

	document.BatchEnd(doc, cb.StatusTypeSucceeded, nil, now)
	if p.plan == nil {
		// The batch never got past DOWNLOAD_BATCHSPEC: start there again.
		document.BatchStart(doc, document.DownloadBatchspec, now)
		p.startBootstrap()
		return
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
		uuid := p.env.UUID()
		p.b.Meta.GroupUUIDs[id] = uuid
		g.CurrentBuildSummary = &cb.BuildSummary{Arn: cb.String(p.buildARN(uuid)), RequestedOn: cb.At(now), BuildStatus: cb.String(document.Pending)}
	}
	p.advance()
}

// reconcile brings a batch up to date with its builds (some of which may
// have completed without the batch hearing of it), then moves it on.
func (p *progress) reconcile(builds []*store.Build) {
	doc := p.b.Doc
	switch document.BatchOpen(doc) {
	case document.Submitted:
		p.submit()
		return
	case document.CombineArtifacts:
		p.step.Combine = true // combine again
		return
	}
	byArn := map[string]*store.Build{}
	for _, b := range builds {
		byArn[cb.Deref(b.Doc.Arn)] = b
	}
	if g := group(doc, document.DownloadSource); g != nil && status(g) == cb.StatusTypeInProgress {
		if b := byArn[cb.Deref(g.CurrentBuildSummary.Arn)]; b != nil && cb.Deref(b.Doc.BuildComplete) {
			p.buildDone(b, nil)
		}
		return
	}
	for i := range doc.BuildGroups {
		g := &doc.BuildGroups[i]
		if status(g) != cb.StatusTypeInProgress {
			continue
		}
		if b := byArn[cb.Deref(g.CurrentBuildSummary.Arn)]; b != nil && cb.Deref(b.Doc.BuildComplete) {
			summarize(g, b)
			p.groupDone(g)
		}
	}
	if p.plan == nil {
		return
	}
	if p.b.Meta.Ending != "" {
		for _, g := range doc.BuildGroups {
			if !terminal(status(&g)) {
				return
			}
		}
		p.finish()
		return
	}
	p.advance()
}
