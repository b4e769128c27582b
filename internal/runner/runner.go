// Package runner runs one build from QUEUED to COMPLETED: provisioning a
// workspace, fetching the sources, running the buildspec's phases in one
// shell session, uploading artifacts and reports, saving the cache, and
// recording every phase (times, statuses, contexts) in the store as it goes.
// A failed build is data: Run records FAILED, STOPPED, TIMED_OUT or FAULT
// and returns; only the store's own failures are logged as errors.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/batch"
	"github.com/buildbatch/buildbatch/internal/blob"
	"github.com/buildbatch/buildbatch/internal/buildlog"
	"github.com/buildbatch/buildbatch/internal/buildspec"
	"github.com/buildbatch/buildbatch/internal/bytesize"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
	"github.com/buildbatch/buildbatch/internal/executor"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/secrets"
	"github.com/buildbatch/buildbatch/internal/store"
	"github.com/buildbatch/buildbatch/internal/tenancy"
	"github.com/buildbatch/buildbatch/internal/workspace"
)

// Causes of a build's context ending early.
var (
	ErrStopped  = errors.New("the build was stopped")
	ErrShutdown = errors.New("buildbatch was shut down while the build was running")
	ErrTimedOut = errors.New("the build timed out")
	// ErrLost: another node took the build over.
	ErrLost = errors.New("another node took the build over")
)

// Config wires a Runner.
type Config struct {
	Store    store.Store
	Executor executor.Executor
	Logs     buildlog.Logs
	Blob     blob.Store
	Secrets  *secrets.Store
	// WorkDir holds one workspace per running build.
	WorkDir string
	// Minute is the length of a timeout minute (time.Minute; shorter in
	// tests).
	Minute time.Duration
	Now    func() time.Time
	Log    *slog.Logger
	// KeepWorkspaces leaves workspaces on disk after builds (debugging).
	KeepWorkspaces bool
	// IdleWorkspaces bounds the finished builds' workspaces kept, emptied,
	// for the next builds (default 16; see package workspace).
	IdleWorkspaces int
	// MaxLogBytes bounds a build's log (0: no limit): output past it is
	// dropped, and the phase it happened in says so in a context.
	MaxLogBytes int64
	// MaxArtifactBytes bounds each artifact a build uploads (0: no
	// limit): past it, UPLOAD_ARTIFACTS fails.
	MaxArtifactBytes int64
	// ConsoleURL is the web console's base URL (http://host:port): a
	// build's logs.deepLink points at its page there ("": at AWS's
	// CloudWatch console, as on AWS).
	ConsoleURL string
}

// Runner runs builds.
type Runner struct {
	cfg Config
	ws  *workspace.Pool
}

// New returns a Runner.
func New(cfg Config) *Runner {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Minute == 0 {
		cfg.Minute = time.Minute
	}
	// A workspace keeps its source directory and, when the executor's
	// scratch directory lies in it (the local executor's), that one too.
	wc := workspace.Config{Root: cfg.WorkDir, Empty: []string{"src"}, MaxIdle: cfg.IdleWorkspaces}
	if cfg.Executor != nil {
		const probe = "/workspace"
		if rel, err := filepath.Rel(probe, cfg.Executor.Layout("", probe, nil).Tmp); err == nil && filepath.IsLocal(rel) {
			wc.Scratch = []string{rel}
		}
	}
	return &Runner{cfg: cfg, ws: workspace.New(wc)}
}

// Close removes the idle workspaces; call it once no build runs.
func (r *Runner) Close() { r.ws.Close() }

// Minute is the configured length of a timeout minute.
func (r *Runner) Minute() time.Duration { return r.cfg.Minute }

// run is one build being run.
type run struct {
	r      *Runner
	b      *store.Build
	doc    *cb.Build
	uuid   string
	dir    string // the build's directory on this machine
	src    string // where the primary source is fetched, and copied back to
	tmp    string // scratch space on this machine (uploads, cache)
	layout executor.Layout
	copied bool // the environment's source has been copied back to src
	log    *buildlog.Writer
	out    io.Writer        // command output (masked)
	masker *executor.Masker // the build's secret values, when it has any
	blob   blob.Store       // the blob store as the build's account sees it
	spec   *buildspec.Spec
	env    executor.Env
	vars   []string // the session's environment
	failed bool     // a phase failed: CODEBUILD_BUILD_SUCCEEDING=0
	plan   *batch.Plan
	lost   bool // another node took the build over
	// logLimitSaid: a phase's context told that the log reached its limit
	logLimitSaid bool
	cancel       context.CancelCauseFunc
}

func (r *Runner) now() time.Time { return r.cfg.Now() }

// persist writes the build's current document to the store, unless it is
// complete (the caller stores the end with what follows). If another node
// took the build over, the run is cancelled with ErrLost.
func (x *run) persist() {
	if x.lost || cb.Deref(x.doc.BuildComplete) {
		return
	}
	var err error
	for wait := 100 * time.Millisecond; ; wait *= 3 {
		err = x.r.cfg.Store.Update(context.Background(), func(tx store.Tx) error { return tx.BuildPut(context.Background(), x.b) })
		if err == nil || errors.Is(err, store.ErrStale) || wait > time.Second {
			break
		}
		time.Sleep(wait) // a passing failure of the store (0.1s, then 0.3s, 0.9s)
	}
	if errors.Is(err, store.ErrStale) {
		x.lost = true
		x.r.cfg.Log.Warn("build taken over by another node; stopping it here", "build", cb.Deref(x.doc.Id))
		x.cancel(ErrLost)
		return
	}
	if err != nil {
		// The build ends FAULT: its end is stored (by the scheduler, which
		// tries until the store takes it) with this cause.
		x.r.cfg.Log.Error("saving build", "build", cb.Deref(x.doc.Id), "err", err)
		if document.Open(x.doc) != "" {
			x.cancel(fmt.Errorf("the build's progress could not be saved, so the build was ended: %v", err))
		}
	}
}

// Run runs the build b (claimed, in QUEUED) to completion. ctx ends the
// build early: its cause (ErrStopped, ErrShutdown, ErrTimedOut) decides the
// status. Run stores the build's progress but not its end: see Result.
func (r *Runner) Run(ctx context.Context, b *store.Build) Result {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	id := cb.Deref(b.Doc.Id)
	_, uuid, _ := strings.Cut(id, ":")
	x := &run{r: r, b: b, doc: b.Doc, uuid: uuid, dir: r.ws.Path(uuid), cancel: cancel,
		blob: tenancy.New(r.cfg.Blob, r.cfg.Store, b.Scope)}
	x.run(ctx, id)
	return Result{Build: b, Plan: x.plan, Lost: x.lost}
}

// Result is how a build ended.
type Result struct {
	// Build is the build, complete (its final document not yet stored: the
	// caller stores it with what follows from it, in one transaction).
	Build *store.Build
	// Plan is what a batch's DOWNLOAD_SOURCE build planned from the batch
	// section of its buildspec (nil for other builds, or if it failed).
	Plan *batch.Plan
	// Lost: another node took the build over (this node's lease on it
	// expired); nothing of this run was stored after that.
	Lost bool
}

func (x *run) run(ctx context.Context, id string) {
	r, b := x.r, x.b
	x.src = filepath.Join(x.dir, "src")
	x.tmp = x.dir // the uploads' files sit beside src
	var secondary []string
	for _, s := range b.Doc.SecondarySources {
		secondary = append(secondary, cb.Deref(s.SourceIdentifier))
	}
	x.layout = r.cfg.Executor.Layout(id, x.dir, secondary)
	defer x.cleanup()

	now := r.now()
	document.End(x.doc, cb.StatusTypeSucceeded, nil, now)
	document.Start(x.doc, document.Provisioning, now)
	x.setLogs()
	x.persist()

	if err := x.provision(ctx); err != nil {
		var pe *executor.ProvisionError
		if errors.As(err, &pe) && !x.interrupted(ctx) {
			x.endPhase(document.Provisioning, cb.StatusTypeFailed, document.Context(pe.Code, pe.Msg))
			x.finish(ctx, cb.StatusTypeFailed)
			return
		}
		if x.interrupted(ctx) {
			return
		}
		x.fault(document.Provisioning, err)
		return
	}
	x.log.Printf("Waiting for agent ping")
	x.log.Printf("Waiting for DOWNLOAD_SOURCE")
	if !x.next(ctx, document.Provisioning, document.DownloadSource) {
		return
	}
	if failed, ctxs := x.downloadSource(ctx); failed {
		if x.interrupted(ctx) {
			return
		}
		x.endPhase(document.DownloadSource, cb.StatusTypeFailed, ctxs)
		x.finish(ctx, cb.StatusTypeFailed)
		return
	}
	if x.b.Meta.BatchIdentifier == batchBootstrap {
		// A batch's DOWNLOAD_SOURCE build ends once the batch is planned.
		x.endPhase(document.DownloadSource, cb.StatusTypeSucceeded, nil)
		x.finish(ctx, cb.StatusTypeSucceeded)
		return
	}
	x.endPhase(document.DownloadSource, cb.StatusTypeSucceeded, nil)

	// The phases. Table: a failed INSTALL or PRE_BUILD goes to FINALIZING; a
	// failed BUILD still runs POST_BUILD; UPLOAD_ARTIFACTS is attempted
	// unless the build was aborted before BUILD.
	order := []string{document.Install, document.PreBuild, document.Build, document.PostBuild}
	status := cb.StatusTypeSucceeded
	skipToFinalize := false
	postBuildRan := false
	for i, typ := range order {
		if skipToFinalize {
			break
		}
		x.startPhase(typ, x.spec.Phases[i] != nil)
		failed, ctxs := x.runPhase(ctx, i)
		if x.interrupted(ctx) {
			return
		}
		if i == buildspec.PhasePostBuild {
			postBuildRan = true
		}
		if !failed {
			x.endPhase(typ, cb.StatusTypeSucceeded, nil)
			continue
		}
		status = cb.StatusTypeFailed
		x.markFailing(ctx)
		x.endPhase(typ, cb.StatusTypeFailed, ctxs)
		onFailure := ""
		if p := x.spec.Phases[i]; p != nil {
			onFailure = p.OnFailure.Action
		}
		switch {
		case onFailure == "CONTINUE":
		case onFailure == "ABORT":
			skipToFinalize = true
		case i == buildspec.PhaseInstall || i == buildspec.PhasePreBuild:
			skipToFinalize = true
		}
	}
	if postBuildRan {
		x.exportVariables(ctx)
	}
	if !skipToFinalize {
		x.startPhase(document.UploadArtifacts, x.hasUploads())
		failed, ctxs := x.uploadArtifacts(ctx)
		if x.interrupted(ctx) {
			return
		}
		if failed {
			status = cb.StatusTypeFailed
			x.endPhase(document.UploadArtifacts, cb.StatusTypeFailed, ctxs)
		} else {
			x.endPhase(document.UploadArtifacts, cb.StatusTypeSucceeded, nil)
		}
	}
	x.finish(ctx, status)
}

// markFailing flips CODEBUILD_BUILD_SUCCEEDING to 0 in the session.
func (x *run) markFailing(ctx context.Context) {
	if x.failed {
		return
	}
	x.failed = true
	if x.env != nil {
		x.env.Exec(context.WithoutCancel(ctx), "export CODEBUILD_BUILD_SUCCEEDING=0", "")
	}
}

// startPhase opens a phase; save stores the build at once (phases that
// have nothing to do are stored with their end, by the next save).
func (x *run) startPhase(typ string, save bool) {
	document.Start(x.doc, typ, x.r.now())
	if save {
		x.persist()
	}
	x.log.Printf("Entering phase %s", typ)
}

// endPhase closes a phase; the next startPhase (or COMPLETED) saves it.
func (x *run) endPhase(typ, status string, ctxs []cb.PhaseContext) {
	if x.log != nil && !x.logLimitSaid && x.log.Dropped() {
		// The phase in which the log reached its limit says so.
		x.logLimitSaid = true
		c := document.Context(document.LogLimitExceeded, fmt.Sprintf("The build's log reached its limit of %s (--max-log-bytes): output after that was dropped; the build went on", bytesize.Format(x.r.cfg.MaxLogBytes)))
		if len(ctxs) == 0 || (len(ctxs) == 1 && cb.Deref(ctxs[0].StatusCode) == "" && cb.Deref(ctxs[0].Message) == "") {
			ctxs = c
		} else {
			ctxs = append(ctxs, c...)
		}
	}
	document.End(x.doc, status, ctxs, x.r.now())
	code, msg := "", ""
	if len(ctxs) > 0 {
		code, msg = cb.Deref(ctxs[0].StatusCode), cb.Deref(ctxs[0].Message)
	}
	x.log.Printf("Phase complete: %s State: %s", typ, status)
	x.log.Printf("Phase context status code: %s Message: %s", code, msg)
}

// next ends phase cur successfully and starts nxt, unless ctx ended.
func (x *run) next(ctx context.Context, cur, nxt string) bool {
	if x.interrupted(ctx) {
		return false
	}
	x.endPhase(cur, cb.StatusTypeSucceeded, nil)
	x.startPhase(nxt, true)
	return true
}

// interrupted finishes the build if ctx ended (stop, timeout, shutdown).
func (x *run) interrupted(ctx context.Context) bool {
	if ctx.Err() == nil {
		return false
	}
	cause := context.Cause(ctx)
	now := x.r.now()
	switch {
	case errors.Is(cause, ErrLost):
		x.lost = true
		if x.log != nil {
			x.log.Printf("%s", ErrLost.Error())
		}
		x.closeEnv()
		return true
	case errors.Is(cause, ErrStopped):
		x.log.Printf("Build was stopped")
		document.End(x.doc, cb.StatusTypeStopped, nil, now)
		x.closeEnv()
		document.Complete(x.doc, cb.StatusTypeStopped, now)
	case errors.Is(cause, ErrTimedOut):
		x.log.Printf("Build timed out after %d minutes", cb.Deref(x.doc.TimeoutInMinutes))
		document.End(x.doc, cb.StatusTypeTimedOut, document.Context(document.BuildTimedOut, "Build has timed out. "), now)
		x.closeEnv()
		document.Start(x.doc, document.Finalizing, now)
		document.End(x.doc, cb.StatusTypeSucceeded, nil, x.r.now())
		document.Complete(x.doc, cb.StatusTypeTimedOut, x.r.now())
	default:
		msg := ErrShutdown.Error()
		if !errors.Is(cause, ErrShutdown) {
			msg = cause.Error()
		}
		x.log.Printf("%s", msg)
		document.End(x.doc, cb.StatusTypeFault, document.Context(document.InternalError, msg), now)
		x.closeEnv()
		document.Complete(x.doc, cb.StatusTypeFault, now)
	}
	x.persist()
	return true
}

// fault ends the build with FAULT after an infrastructure failure.
func (x *run) fault(typ string, err error) {
	x.r.cfg.Log.Error("build fault", "build", cb.Deref(x.doc.Id), "phase", typ, "err", err)
	if x.log != nil {
		x.log.Printf("Phase complete: %s State: FAULT", typ)
	}
	now := x.r.now()
	document.End(x.doc, cb.StatusTypeFault, document.Context(document.InternalError, err.Error()), now)
	x.closeEnv()
	document.Complete(x.doc, cb.StatusTypeFault, now)
	x.persist()
}

// finish runs FINALIZING and appends COMPLETED.
func (x *run) finish(ctx context.Context, status string) {
	x.startPhase(document.Finalizing, false)
	x.saveCache(ctx, status)
	x.closeEnv()
	if x.interrupted(ctx) {
		return
	}
	x.endPhase(document.Finalizing, cb.StatusTypeSucceeded, nil)
	document.Complete(x.doc, status, x.r.now())
	x.persist()
	x.log.Printf("Build completed with status %s", status)
}

func (x *run) closeEnv() {
	if x.env != nil {
		x.env.Close()
		x.env = nil
	}
}

func (x *run) cleanup() {
	x.closeEnv()
	if x.log != nil {
		if err := x.log.Close(); err != nil {
			x.r.cfg.Log.Error("storing the build's log", "build", cb.Deref(x.doc.Id), "err", err)
		}
	}
	if !x.r.cfg.KeepWorkspaces {
		x.r.ws.Release(x.dir)
	}
}

// setLogs fills the build's logs member once the log stream exists.
func (x *run) setLogs() {
	project := cb.Deref(x.doc.ProjectName)
	region, account := x.b.Scope.Region, x.b.Scope.Account
	group, stream := "/aws/codebuild/"+project, x.uuid
	cw := &cb.CloudWatchLogsConfig{Status: cb.String(cb.LogsConfigStatusTypeEnabled)}
	s3 := &cb.S3LogsConfig{Status: cb.String(cb.LogsConfigStatusTypeDisabled)}
	if l := x.doc.Logs; l != nil {
		if l.CloudWatchLogs != nil {
			cw = l.CloudWatchLogs
		}
		if l.S3Logs != nil {
			s3 = l.S3Logs
		}
	}
	if g := cb.Deref(cw.GroupName); g != "" {
		group = g
	}
	if p := cb.Deref(cw.StreamName); p != "" {
		stream = p + "/" + x.uuid
	}
	logs := &cb.LogsLocation{CloudWatchLogs: cw, S3Logs: s3}
	if cb.Deref(cw.Status) != cb.LogsConfigStatusTypeDisabled {
		logs.GroupName = cb.String(group)
		logs.StreamName = cb.String(stream)
		logs.DeepLink = cb.String(fmt.Sprintf("https://console.aws.amazon.com/cloudwatch/home?region=%s#logEvent:group=%s;stream=%s", region, group, stream))
		logs.CloudWatchLogsArn = cb.String(ident.ARN("logs", region, account, "log-group:"+group+":log-stream:"+stream))
	}
	if base := x.r.cfg.ConsoleURL; base != "" {
		// The build's page in buildbatch's console, which shows its log.
		logs.DeepLink = cb.String(strings.TrimSuffix(base, "/") + "/#/builds/" + url.PathEscape(cb.Deref(x.doc.Id)))
	}
	if cb.Deref(s3.Status) == cb.LogsConfigStatusTypeEnabled {
		loc := strings.TrimSuffix(cb.Deref(s3.Location), "/") + "/" + x.uuid + ".gz"
		logs.S3LogsArn = cb.String("arn:" + ident.Partition(region) + ":s3:::" + loc)
		logs.S3DeepLink = cb.String("https://s3.console.aws.amazon.com/s3/object/" + loc)
	}
	x.doc.Logs = logs
}

// provision creates the build's directory and log, and (for builds that
// run commands) its environment: a *executor.ProvisionError fails the
// build in PROVISIONING.
func (x *run) provision(ctx context.Context) error {
	if _, err := x.r.ws.Acquire(filepath.Base(x.dir)); err != nil {
		return err
	}
	w, err := x.r.cfg.Logs.Create(x.uuid)
	if err != nil {
		return err
	}
	w.Limit(x.r.cfg.MaxLogBytes)
	x.log = w
	x.out = w
	// A log that cannot be written (a full disk) ends the build FAULT,
	// rather than let it run on unseen. The goroutine ends with the run.
	go func() {
		select {
		case <-w.Failed():
			x.cancel(fmt.Errorf("the build's log could not be written, so the build was ended: %v", w.Err()))
		case <-ctx.Done():
		}
	}()
	if x.b.Meta.BatchIdentifier == batchBootstrap {
		x.log.Printf("Running on buildbatch: fetching the source and reading the batch section")
		return nil
	}
	spec := executor.Spec{BuildID: cb.Deref(x.doc.Id), Layout: x.layout, Log: x.log.Printf}
	if e := x.doc.Environment; e != nil {
		spec.Image, spec.EnvironmentType, spec.ComputeType = cb.Deref(e.Image), cb.Deref(e.Type), cb.Deref(e.ComputeType)
		spec.Privileged = cb.Deref(e.PrivilegedMode)
		if cc := e.ComputeConfiguration; cc != nil {
			spec.VCPUs, spec.MemoryGB = cb.Deref(cc.VCpu), cb.Deref(cc.Memory)
		}
		auth, err := x.registryAuth(e)
		if err != nil {
			return err
		}
		spec.RegistryAuth = auth
	}
	env, err := x.r.cfg.Executor.Open(ctx, spec)
	if err != nil {
		return err
	}
	x.env = env
	return nil
}

// registryAuth reads the registry login of a private image from the
// secrets (registryCredential with imagePullCredentialsType SERVICE_ROLE).
func (x *run) registryAuth(e *cb.ProjectEnvironment) (*executor.RegistryAuth, error) {
	rc := e.RegistryCredential
	if rc == nil || cb.Deref(rc.Credential) == "" {
		return nil, nil
	}
	raw, err := x.r.cfg.Secrets.Secret(cb.Deref(rc.Credential))
	if err != nil {
		return nil, executor.ImageError("Unable to pull customer's container image. registryCredential %s: %v", cb.Deref(rc.Credential), err)
	}
	var login struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.Unmarshal([]byte(raw), &login); err != nil || login.Username == "" {
		return nil, executor.ImageError("Unable to pull customer's container image. registryCredential %s must be a secret with username and password keys", cb.Deref(rc.Credential))
	}
	server := ""
	if img := cb.Deref(e.Image); strings.Count(img, "/") > 0 {
		if first, _, _ := strings.Cut(img, "/"); strings.ContainsAny(first, ".:") {
			server = first
		}
	}
	return &executor.RegistryAuth{Username: login.Username, Password: login.Password, Server: server}, nil
}

var retryRE = regexp.MustCompile(`.*`)

// runPhase runs one buildspec phase's commands and finally block; it
// returns whether the phase failed and the failure context.
func (x *run) runPhase(ctx context.Context, idx int) (bool, []cb.PhaseContext) {
	p := x.spec.Phases[idx]
	if p == nil {
		return false, nil
	}
	if idx == buildspec.PhaseInstall && len(p.RuntimeVersions) > 0 {
		x.log.Printf("Skipping install of runtimes. Runtime version selection is not supported by this build image.")
	}
	user := p.RunAs
	attempts := 1
	re := retryRE
	if p.OnFailure.Action == "RETRY" {
		attempts += p.OnFailure.Retries
		if p.OnFailure.Pattern != "" {
			var err error
			if re, err = regexp.Compile(p.OnFailure.Pattern); err != nil {
				return true, document.Context(document.YAMLFileError, fmt.Sprintf("invalid on-failure retry pattern %q: %v", p.OnFailure.Pattern, err))
			}
		}
	}
	var msg string
	for attempt := 1; attempt <= attempts; attempt++ {
		msg = ""
		for _, c := range p.Commands {
			if m, stop := x.runCommand(ctx, c.Text, user); stop {
				msg = m
				break
			}
		}
		if ctx.Err() != nil {
			return true, nil
		}
		for _, c := range p.Finally {
			if m, stop := x.runCommand(ctx, c.Text, user); stop && msg == "" {
				msg = m
			}
			if ctx.Err() != nil {
				return true, nil
			}
		}
		if msg == "" {
			return false, nil
		}
		if attempt < attempts && re.MatchString(msg) {
			x.log.Printf("Phase failed; retrying (attempt %d of %d)", attempt+1, attempts)
			continue
		}
		break
	}
	return true, document.Context(document.CommandExecutionError, msg)
}

// runCommand runs one command; it returns the failure message and whether
// the phase must stop.
func (x *run) runCommand(ctx context.Context, cmd, user string) (string, bool) {
	x.log.Printf("Running command %s", cmd)
	rc, err := x.env.Exec(ctx, cmd, user)
	if err != nil {
		if ctx.Err() != nil {
			return "", true
		}
		msg := fmt.Sprintf("Error while executing command: %s. Reason: %v", cmd, err)
		x.log.Printf("%s", msg)
		return msg, true
	}
	if rc != 0 {
		x.log.Printf("Command did not exit successfully %s exit status %d", cmd, rc)
		return fmt.Sprintf("Error while executing command: %s. Reason: exit status %d", cmd, rc), true
	}
	return "", false
}

// exportVariables records env.exported-variables after POST_BUILD.
func (x *run) exportVariables(ctx context.Context) {
	names := x.spec.Env.ExportedVariables
	if len(names) == 0 || x.env == nil {
		return
	}
	vals, err := x.env.Vars(context.WithoutCancel(ctx), names)
	if err != nil {
		x.log.Printf("Could not read exported variables: %v", err)
		return
	}
	out := make([]cb.ExportedEnvironmentVariable, 0, len(names))
	for _, n := range names {
		v := vals[n]
		if x.masker != nil {
			// AWS's documentation says only that secret values are
			// masked in logs; an exported variable is an API response,
			// so it is masked too rather than leak a secret.
			v = x.masker.Mask(v)
		}
		out = append(out, cb.ExportedEnvironmentVariable{Name: cb.String(n), Value: cb.String(v)})
	}
	x.doc.ExportedEnvironmentVariables = out
	x.persist()
}

// batchBootstrap is the group identifier of a batch's source build.
const batchBootstrap = "DOWNLOAD_SOURCE"

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// LogOrphanEnd closes the log of a build that a node ended FAULT because
// the node running it went away (its document is complete): the lines a
// run ends its log with, so that a reader of the log sees why it stopped.
func (r *Runner) LogOrphanEnd(b *store.Build) {
	_, uuid, _ := strings.Cut(cb.Deref(b.Doc.Id), ":")
	var phase cb.BuildPhase
	for _, p := range b.Doc.Phases {
		if cb.Deref(p.PhaseStatus) == cb.StatusTypeFault {
			phase = p
		}
	}
	w, err := r.cfg.Logs.Create(uuid)
	if err != nil {
		r.cfg.Log.Warn("closing the log of a build that was ended", "build", cb.Deref(b.Doc.Id), "err", err)
		return
	}
	code, msg := "", ""
	if len(phase.Contexts) > 0 {
		code, msg = cb.Deref(phase.Contexts[0].StatusCode), cb.Deref(phase.Contexts[0].Message)
	}
	w.Printf("Phase complete: %s State: FAULT", cb.Deref(phase.PhaseType))
	w.Printf("Phase context status code: %s Message: %s", code, msg)
	w.Printf("Build completed with status %s", cb.Deref(b.Doc.BuildStatus))
	if err := w.Close(); err != nil {
		r.cfg.Log.Warn("closing the log of a build that was ended", "build", cb.Deref(b.Doc.Id), "err", err)
	}
}
