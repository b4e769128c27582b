package runner

import (
	"context"
	"path/filepath"
	"strings"
	"sync"

	"github.com/buildbatch/buildbatch/internal/buildlog"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/executor"
	"github.com/buildbatch/buildbatch/internal/store"
	"github.com/buildbatch/buildbatch/internal/tenancy"
)

// Prepared is a build environment made ready for commands of the caller's
// own rather than a buildspec's (CodeBuild sandboxes, package
// sandbox/sandboxrun): Prepare provisions it as a build's PROVISIONING
// does, DownloadSource fetches the sources into it and starts its shell as
// a build's DOWNLOAD_SOURCE does (with the build's environment variables;
// no buildspec is read). Close ends it. Nothing of it is stored: the
// caller keeps its own document.
type Prepared struct {
	x    *run
	once sync.Once
}

// sandboxBuildspec stands for the buildspec a sandbox does not run.
const sandboxBuildspec = "version: 0.2\nphases: {}\n"

// Prepare creates the workspace and the log logName of the environment of
// b (a build document made by the caller: its id, ARN, project, sources,
// environment, logs config, start time) and provisions it. A
// *executor.ProvisionError is a problem of b's settings. cancel is called
// if the log cannot be written. The caller must Close the result, even
// after an error.
func (r *Runner) Prepare(ctx context.Context, b *store.Build, logName string, cancel context.CancelCauseFunc) (*Prepared, error) {
	doc := *b.Doc
	// Not a stored build: persist must not write it.
	doc.BuildComplete = cb.Bool(true)
	doc.Cache = nil
	if doc.Source != nil {
		s := *doc.Source
		doc.Source = &s
	} else {
		doc.Source = &cb.ProjectSource{Type: cb.String(cb.SourceTypeNoSource)}
	}
	doc.Source.Buildspec = cb.String(sandboxBuildspec)
	if doc.StartTime == nil {
		doc.StartTime = cb.At(r.now())
	}
	bb := *b
	bb.Doc = &doc
	id := cb.Deref(doc.Id)
	_, uuid, _ := strings.Cut(id, ":")
	x := &run{r: r, b: &bb, doc: &doc, uuid: logName, dir: r.ws.Path(uuid), cancel: cancel,
		blob: tenancy.New(r.cfg.Blob, r.cfg.Store, b.Scope)}
	x.src = filepath.Join(x.dir, "src")
	x.tmp = x.dir
	var secondary []string
	for _, s := range doc.SecondarySources {
		secondary = append(secondary, cb.Deref(s.SourceIdentifier))
	}
	x.layout = r.cfg.Executor.Layout(id, x.dir, secondary)
	x.setLogs()
	return &Prepared{x: x}, x.provision(ctx)
}

// DownloadSource fetches the sources, copies them into the environment
// and starts its shell session; it returns the failed phase's contexts
// (nil if it succeeded).
func (p *Prepared) DownloadSource(ctx context.Context) []cb.PhaseContext {
	if failed, ctxs := p.x.downloadSource(ctx); failed {
		if ctxs == nil {
			ctxs = []cb.PhaseContext{}
		}
		return ctxs
	}
	return nil
}

// ResolvedSourceVersion is the primary source's resolved version, once
// fetched ("" if it has none).
func (p *Prepared) ResolvedSourceVersion() string { return cb.Deref(p.x.doc.ResolvedSourceVersion) }

// Logs is where the environment's log is, as a build's logs member.
func (p *Prepared) Logs() *cb.LogsLocation { return p.x.doc.Logs }

// Log is the environment's log (nil if provisioning failed before it was
// created).
func (p *Prepared) Log() *buildlog.Writer { return p.x.log }

// Env is the environment (nil before it is provisioned).
func (p *Prepared) Env() executor.Env { return p.x.env }

// Layout says where the environment's directories are.
func (p *Prepared) Layout() executor.Layout { return p.x.layout }

// Close ends the environment, kills everything it runs, closes its log and
// removes its workspace. It is idempotent.
func (p *Prepared) Close() { p.once.Do(p.x.cleanup) }
