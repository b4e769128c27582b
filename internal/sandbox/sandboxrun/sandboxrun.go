// Package sandboxrun runs CodeBuild sandboxes on a node: a Manager polls
// the store for QUEUED sandboxes, takes them with a lease it renews,
// provisions each one's environment and fetches its sources through the
// runner (runner.Prepare), keeps its shell session open in RUN_SANDBOX and
// runs the SUBMITTED command executions of its sandboxes, in order, in that
// one session. State lives in the store (see package sandbox), so any node
// answers the API; only the holder runs commands. A stop request
// (StopSandbox on any node), the project's timeout or the end of Run's
// context ends a sandbox: its shell and everything it started are killed,
// its workspace removed, and it is stored STOPPED.
package sandboxrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"sync"
	"time"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/executor"
	"github.com/buildbatch/buildbatch/internal/runner"
	"github.com/buildbatch/buildbatch/internal/sandbox"
	"github.com/buildbatch/buildbatch/internal/store"
)

// Options configures a Manager.
type Options struct {
	Store  store.Store
	Runner *runner.Runner
	// Node is this node's id; Lease how long its hold on a sandbox lasts
	// unrenewed (renewed every third of it).
	Node  string
	Lease time.Duration
	// Exclusive: this node is alone on its store, so at start every
	// sandbox another run left is an orphan.
	Exclusive bool
	// Minute is the length of a timeout minute.
	Minute time.Duration
	// Poll is how often the store is read for new sandboxes, commands and
	// stop requests (default 100ms).
	Poll time.Duration
	// TempDir is a directory of this machine for the commands' scripts and
	// outputs.
	TempDir string
	// Max bounds the sandboxes this node runs at once (0: no bound); more
	// wait QUEUED for a node with room.
	Max int
	// Reap removes what a sandbox whose node went away left behind.
	Reap func(id string) error
	Log  *slog.Logger
	Now  func() time.Time
}

// Manager runs this node's sandboxes.
type Manager struct {
	o Options

	mu      sync.Mutex
	running map[string]*live // by sandbox id
	wg      sync.WaitGroup
}

// live is a sandbox this node runs.
type live struct {
	scope  store.Scope
	id     string
	cancel context.CancelCauseFunc
	cmds   chan string // command names, in submission order
	close  func()      // ends the environment
	queued map[string]bool
	ready  bool // in RUN_SANDBOX
}

// Causes of a sandbox's end.
var (
	errStopped  = errors.New("the sandbox was stopped")
	errTimedOut = errors.New("the sandbox timed out")
	errShutdown = errors.New("buildbatch was shut down")
	errLost     = errors.New("another node took the sandbox over")
)

// New returns a Manager; Run runs it.
func New(o Options) *Manager {
	if o.Poll <= 0 {
		o.Poll = 100 * time.Millisecond
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Minute <= 0 {
		o.Minute = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	return &Manager{o: o, running: map[string]*live{}}
}

// Run runs sandboxes until ctx ends, then stops every one it runs (they
// are stored STOPPED) and returns.
func (m *Manager) Run(ctx context.Context) {
	m.recover(ctx)
	t := time.NewTicker(m.o.Poll)
	defer t.Stop()
	lastRenew := m.o.Now()
	for ctx.Err() == nil {
		if now := m.o.Now(); now.Sub(lastRenew) >= m.o.Lease/3 {
			m.renew(ctx)
			lastRenew = now
		}
		if err := m.tick(ctx); err != nil && ctx.Err() == nil {
			m.o.Log.Warn("sandboxes: reading the store", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	m.mu.Lock()
	for _, l := range m.running {
		l.cancel(errShutdown)
	}
	m.mu.Unlock()
	m.wg.Wait()
}

func decode(r *store.Resource) (*sandbox.Record, error) {
	var rec sandbox.Record
	if err := json.Unmarshal(r.Doc, &rec); err != nil {
		return nil, err
	}
	if rec.Sandbox == nil || rec.Sandbox.CurrentSession == nil {
		return nil, fmt.Errorf("sandbox %s: no document", r.Name)
	}
	return &rec, nil
}

// update applies fn to the stored sandbox in one transaction; fn returns
// false to write nothing.
func (m *Manager) update(ctx context.Context, scope store.Scope, id string, fn func(*sandbox.Record) (bool, error)) (*sandbox.Record, error) {
	var rec *sandbox.Record
	err := m.o.Store.Update(ctx, func(tx store.Tx) error {
		r, err := tx.ResourceGet(ctx, scope, store.KindSandbox, id)
		if err != nil {
			return err
		}
		if rec, err = decode(r); err != nil {
			return err
		}
		ok, err := fn(rec)
		if err != nil || !ok {
			return err
		}
		if r.Doc, err = json.Marshal(rec); err != nil {
			return err
		}
		r.Modified, r.Live = m.o.Now(), !sandbox.Final(rec.Sandbox)
		return tx.ResourcePut(ctx, r)
	})
	return rec, err
}

// mine applies fn to a sandbox this node holds; errLost if it does not.
func (m *Manager) mine(scope store.Scope, id string, fn func(*sandbox.Record)) error {
	ctx := context.Background()
	var lost bool
	_, err := m.update(ctx, scope, id, func(r *sandbox.Record) (bool, error) {
		if r.Node != m.o.Node || sandbox.Final(r.Sandbox) {
			lost = true
			return false, nil
		}
		fn(r)
		return true, nil
	})
	if err == nil && lost {
		err = errLost
	}
	return err
}

// recover ends the sandboxes a previous run of this node (or, alone on
// the store, of any node) held: their environments died with it.
func (m *Manager) recover(ctx context.Context) {
	var orphans []*store.Resource
	m.o.Store.View(ctx, func(tx store.Tx) error {
		list, err := tx.ResourceListLive(ctx, store.KindSandbox)
		for _, r := range list {
			rec, err := decode(r)
			if err == nil && !sandbox.Final(rec.Sandbox) && rec.Node != "" && (rec.Node == m.o.Node || m.o.Exclusive) {
				orphans = append(orphans, r)
			}
		}
		return err
	})
	for _, r := range orphans {
		m.orphan(ctx, r.Scope, r.Name, "")
	}
}

// expire ends a sandbox that waited in the queue past its queued timeout.
func (m *Manager) expire(ctx context.Context, scope store.Scope, id string) {
	_, err := m.update(ctx, scope, id, func(r *sandbox.Record) (bool, error) {
		now := m.o.Now()
		if r.Node != "" || !sandbox.QueuedTooLong(r.Sandbox, m.o.Minute, now) {
			return false, nil // taken, or stopped, since it was read
		}
		sandbox.QueuedTimedOut(r.Sandbox, now)
		return true, nil
	})
	if err != nil {
		m.o.Log.Warn("sandboxes: ending a sandbox that waited too long", "sandbox", id, "err", err)
		return
	}
	m.abortCommands(ctx, scope, id)
}

// orphan ends a sandbox whose node went away (held by node, "" for any).
func (m *Manager) orphan(ctx context.Context, scope store.Scope, id, node string) {
	_, err := m.update(ctx, scope, id, func(r *sandbox.Record) (bool, error) {
		if sandbox.Final(r.Sandbox) || (node != "" && r.Node != node) {
			return false, nil
		}
		now := m.o.Now()
		if r.StopRequested {
			sandbox.Stopped(r.Sandbox, now)
		} else {
			sandbox.Failed(r.Sandbox, cb.StatusTypeFault, "SANDBOX_LOST", "The node running the sandbox ("+r.Node+") went away", now)
		}
		r.Node = ""
		return true, nil
	})
	if err != nil {
		m.o.Log.Warn("sandboxes: ending an orphan", "sandbox", id, "err", err)
		return
	}
	m.abortCommands(ctx, scope, id)
	if m.o.Reap != nil {
		if err := m.o.Reap(id); err != nil {
			m.o.Log.Warn("sandboxes: reaping", "sandbox", id, "err", err)
		}
	}
}

// renew extends the leases of this node's sandboxes.
func (m *Manager) renew(ctx context.Context) {
	m.mu.Lock()
	var ls []*live
	for _, l := range m.running {
		ls = append(ls, l)
	}
	m.mu.Unlock()
	for _, l := range ls {
		err := m.mine(l.scope, l.id, func(r *sandbox.Record) { r.LeaseUntil = m.o.Now().Add(m.o.Lease) })
		if errors.Is(err, errLost) {
			l.cancel(errLost)
		} else if err != nil && ctx.Err() == nil {
			m.o.Log.Warn("sandboxes: renewing a lease", "sandbox", l.id, "err", err)
		}
	}
}

// tick reads the sandboxes: it takes new ones, passes on stop requests,
// ends orphans of dead nodes and queues the new commands of the running
// ones.
func (m *Manager) tick(ctx context.Context) error {
	type found struct {
		scope store.Scope
		id    string
		rec   *sandbox.Record
	}
	var claim, orphans, expired []found
	newCmds := map[string][]string{}
	now := m.o.Now()
	err := m.o.Store.View(ctx, func(tx store.Tx) error {
		// Only live sandboxes and commands: the ended ones are never read.
		list, err := tx.ResourceListLive(ctx, store.KindSandbox)
		if err != nil {
			return err
		}
		live, err := tx.ResourceListLive(ctx, store.KindCommand)
		if err != nil {
			return err
		}
		pending := map[string][]*store.Resource{}
		for _, c := range live {
			k := c.Scope.Account + "/" + c.Scope.Region + "/" + c.Parent
			pending[k] = append(pending[k], c)
		}
		for _, r := range list {
			rec, err := decode(r)
			if err != nil || sandbox.Final(rec.Sandbox) {
				continue
			}
			f := found{r.Scope, r.Name, rec}
			m.mu.Lock()
			l := m.running[r.Name]
			ready := l != nil && l.ready
			m.mu.Unlock()
			switch {
			case l != nil:
				if rec.StopRequested {
					l.cancel(errStopped)
					continue
				}
				if rec.Node != m.o.Node {
					l.cancel(errLost)
					continue
				}
				if !ready {
					continue
				}
				for _, c := range pending[r.Scope.Account+"/"+r.Scope.Region+"/"+r.Name] {
					var cmd sandbox.Command
					if json.Unmarshal(c.Doc, &cmd) == nil && cmd.Exec != nil && cb.Deref(cmd.Exec.Status) == sandbox.CommandSubmitted && !l.queued[c.Name] {
						newCmds[r.Name] = append(newCmds[r.Name], c.Name)
					}
				}
			case rec.Node == "" && !rec.StopRequested && sandbox.QueuedTooLong(rec.Sandbox, m.o.Minute, now):
				expired = append(expired, f)
			case rec.Node == "" && !rec.StopRequested:
				claim = append(claim, f)
			case rec.Node != "" && now.After(rec.LeaseUntil):
				orphans = append(orphans, f)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for id, names := range newCmds {
		m.mu.Lock()
		l := m.running[id]
		m.mu.Unlock()
		if l == nil {
			continue
		}
		for _, n := range names {
			select {
			case l.cmds <- n:
				l.queued[n] = true
			default: // full: the next tick offers it again
			}
		}
	}
	for _, f := range orphans {
		m.orphan(ctx, f.scope, f.id, f.rec.Node)
	}
	for _, f := range expired {
		m.expire(ctx, f.scope, f.id)
	}
	for _, f := range claim {
		m.mu.Lock()
		full := m.o.Max > 0 && len(m.running) >= m.o.Max
		m.mu.Unlock()
		if full {
			break
		}
		m.claim(ctx, f.scope, f.id)
	}
	return nil
}

// claim takes a QUEUED sandbox and starts running it.
func (m *Manager) claim(ctx context.Context, scope store.Scope, id string) {
	var took bool
	rec, err := m.update(ctx, scope, id, func(r *sandbox.Record) (bool, error) {
		if r.Node != "" || sandbox.Final(r.Sandbox) || r.StopRequested {
			return false, nil
		}
		took = true
		r.Node, r.LeaseUntil = m.o.Node, m.o.Now().Add(m.o.Lease)
		sandbox.Next(r.Sandbox, sandbox.PhaseProvisioning, m.o.Now())
		return true, nil
	})
	if err != nil {
		if ctx.Err() == nil {
			m.o.Log.Warn("sandboxes: taking a sandbox", "sandbox", id, "err", err)
		}
		return
	}
	if !took {
		return
	}
	// The sandbox's life does not end with the tick's context but with
	// Run's: Run cancels it.
	sctx, cancel := context.WithCancelCause(context.Background())
	l := &live{scope: scope, id: id, cancel: cancel, cmds: make(chan string, 256), queued: map[string]bool{}}
	m.mu.Lock()
	m.running[id] = l
	m.mu.Unlock()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer func() {
			m.mu.Lock()
			delete(m.running, id)
			m.mu.Unlock()
		}()
		m.run(sctx, l, rec)
	}()
}

// run is one sandbox's life on this node.
func (m *Manager) run(ctx context.Context, l *live, rec *sandbox.Record) {
	defer l.cancel(nil)
	s := rec.Sandbox
	timeout := time.Duration(cb.Deref(s.TimeoutInMinutes)) * m.o.Minute
	if s.StartTime != nil && timeout > 0 {
		t := time.AfterFunc(time.Until(s.StartTime.Add(timeout)), func() { l.cancel(errTimedOut) })
		defer t.Stop()
	}
	b := &store.Build{Scope: l.scope, Doc: buildOf(s)}
	p, err := m.o.Runner.Prepare(ctx, b, cb.Deref(s.CurrentSession.Id), l.cancel)
	// The environment ends (its processes, container and workspace gone)
	// before the sandbox's end is stored.
	l.close = p.Close
	defer p.Close()
	logs := p.Logs()
	m.mine(l.scope, l.id, func(r *sandbox.Record) { r.Sandbox.CurrentSession.Logs = logs })
	if err != nil {
		if ctx.Err() != nil {
			m.end(l, context.Cause(ctx))
			return
		}
		code, msg := "CLIENT_ERROR", err.Error()
		var pe *executor.ProvisionError
		if errors.As(err, &pe) {
			code, msg = pe.Code, pe.Msg
		}
		m.fail(l, code, msg)
		return
	}
	if m.mine(l.scope, l.id, func(r *sandbox.Record) { sandbox.Next(r.Sandbox, sandbox.PhaseDownloadSource, m.o.Now()) }) != nil {
		return
	}
	if ctxs := p.DownloadSource(ctx); ctxs != nil {
		if ctx.Err() != nil {
			m.end(l, context.Cause(ctx))
			return
		}
		code, msg := "CLIENT_ERROR", ""
		if len(ctxs) > 0 {
			code, msg = cb.Deref(ctxs[0].StatusCode), cb.Deref(ctxs[0].Message)
		}
		m.fail(l, code, msg)
		return
	}
	resolved := p.ResolvedSourceVersion()
	err = m.mine(l.scope, l.id, func(r *sandbox.Record) {
		if resolved != "" {
			r.Sandbox.CurrentSession.ResolvedSourceVersion = cb.String(resolved)
		}
		sandbox.Next(r.Sandbox, sandbox.PhaseRunSandbox, m.o.Now())
	})
	if err != nil {
		return
	}
	if log := p.Log(); log != nil {
		log.Printf("Entering phase RUN_SANDBOX: the sandbox runs commands until it is stopped")
	}
	m.mu.Lock()
	l.ready = true
	m.mu.Unlock()
	x := &commandRunner{m: m, p: p, l: l, host: filepath.Join(m.o.TempDir, "sandbox-"+sandbox.UUIDOf(l.id))}
	defer os.RemoveAll(x.host)
	for {
		select {
		case <-ctx.Done():
			m.end(l, context.Cause(ctx))
			return
		case name := <-l.cmds:
			x.run(ctx, name)
		}
	}
}

// buildOf is the build document a sandbox's environment is made from.
func buildOf(s *cb.Sandbox) *cb.Build {
	b := &cb.Build{
		Id: s.Id, Arn: s.Arn, ProjectName: s.ProjectName, Source: s.Source, SourceVersion: s.SourceVersion,
		SecondarySources: s.SecondarySources, SecondarySourceVersions: s.SecondarySourceVersions,
		Environment: s.Environment, FileSystemLocations: s.FileSystemLocations, ServiceRole: s.ServiceRole,
		EncryptionKey: s.EncryptionKey, TimeoutInMinutes: s.TimeoutInMinutes, StartTime: s.StartTime,
		Initiator: cb.String("sandbox"), VpcConfig: s.VpcConfig,
	}
	if lc := s.LogConfig; lc != nil {
		b.Logs = &cb.LogsLocation{CloudWatchLogs: lc.CloudWatchLogs, S3Logs: lc.S3Logs}
	}
	return b
}

// fail ends a sandbox whose environment or sources could not be had.
func (m *Manager) fail(l *live, code, msg string) {
	if l.close != nil {
		l.close()
	}
	m.mine(l.scope, l.id, func(r *sandbox.Record) {
		sandbox.Failed(r.Sandbox, cb.StatusTypeFailed, code, msg, m.o.Now())
	})
	m.abortCommands(context.Background(), l.scope, l.id)
}

// end ends a sandbox for cause (a stop, its timeout, the shutdown).
func (m *Manager) end(l *live, cause error) {
	if l.close != nil {
		l.close()
	}
	if errors.Is(cause, errLost) {
		return
	}
	m.mine(l.scope, l.id, func(r *sandbox.Record) {
		now := m.o.Now()
		switch {
		case errors.Is(cause, errTimedOut) && !r.StopRequested:
			sandbox.TimedOut(r.Sandbox, now)
		case errors.Is(cause, errStopped), errors.Is(cause, errShutdown), errors.Is(cause, errTimedOut):
			sandbox.Stopped(r.Sandbox, now)
		default:
			msg := "the sandbox ended"
			if cause != nil {
				msg = cause.Error()
			}
			sandbox.Failed(r.Sandbox, cb.StatusTypeFault, "CLIENT_ERROR", msg, now)
		}
		r.Node = ""
	})
	m.abortCommands(context.Background(), l.scope, l.id)
}

// abortCommands ends the commands of an ended sandbox that did not run to
// their end.
func (m *Manager) abortCommands(ctx context.Context, scope store.Scope, id string) {
	err := m.o.Store.Update(ctx, func(tx store.Tx) error {
		list, err := tx.ResourceList(ctx, scope, store.KindCommand, id)
		if err != nil {
			return err
		}
		for _, r := range list {
			var c sandbox.Command
			if json.Unmarshal(r.Doc, &c) != nil || c.Exec == nil || sandbox.CommandDone(c.Exec) {
				continue
			}
			sandbox.Abort(c.Exec, m.o.Now())
			if r.Doc, err = json.Marshal(&c); err != nil {
				return err
			}
			r.Live = false
			if err := tx.ResourcePut(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		m.o.Log.Warn("sandboxes: ending commands", "sandbox", id, "err", err)
	}
}

// commandRunner runs a sandbox's commands.
type commandRunner struct {
	m    *Manager
	p    *runner.Prepared
	l    *live
	host string // this machine's directory for the scripts and outputs
}

// updateCommand applies fn to a stored command.
func (x *commandRunner) updateCommand(name string, fn func(*sandbox.Command) bool) error {
	ctx := context.Background()
	return x.m.o.Store.Update(ctx, func(tx store.Tx) error {
		r, err := tx.ResourceGet(ctx, x.l.scope, store.KindCommand, name)
		if err != nil {
			return err
		}
		var c sandbox.Command
		if err := json.Unmarshal(r.Doc, &c); err != nil {
			return err
		}
		if c.Exec == nil || !fn(&c) {
			return nil
		}
		if r.Doc, err = json.Marshal(&c); err != nil {
			return err
		}
		r.Modified, r.Live = x.m.o.Now(), !sandbox.CommandDone(c.Exec)
		return tx.ResourcePut(ctx, r)
	})
}

// run runs one command in the sandbox's shell: the command is copied in as
// a script and sourced with its standard output and error redirected to
// files (so cd and exports carry over to the next command), which are
// copied out afterwards.
func (x *commandRunner) run(ctx context.Context, name string) {
	var command string
	err := x.updateCommand(name, func(c *sandbox.Command) bool {
		if cb.Deref(c.Exec.Status) != sandbox.CommandSubmitted {
			return false
		}
		command = cb.Deref(c.Exec.Command)
		sandbox.Begin(c.Exec, x.m.o.Now())
		return true
	})
	if err != nil {
		x.m.o.Log.Warn("sandboxes: starting a command", "command", name, "err", err)
	}
	if command == "" {
		return
	}
	log := x.p.Log()
	log.Printf("Running command %s", command)
	exit, stdout, stderr, err := x.exec(ctx, command)
	if stdout != nil {
		log.Write(stdout)
	}
	if stderr != nil {
		log.Write(stderr)
	}
	if err == nil && exit != 0 {
		log.Printf("Command did not exit successfully %s exit status %d", command, exit)
	}
	err2 := x.updateCommand(name, func(c *sandbox.Command) bool {
		if err != nil {
			sandbox.Abort(c.Exec, x.m.o.Now())
		} else {
			sandbox.Finish(c.Exec, exit, stdout, stderr, x.m.o.Now())
		}
		return true
	})
	if err2 != nil {
		x.m.o.Log.Warn("sandboxes: storing a command's end", "command", name, "err", err2)
	}
}

func (x *commandRunner) exec(ctx context.Context, command string) (int, []byte, []byte, error) {
	env := x.p.Env()
	// Beside the source directory: Layout.Tmp may be a file system the
	// executor cannot copy into (the Docker executor's tmpfs).
	dir := path.Join(path.Dir(x.p.Layout().Src), "sandbox-command")
	in := filepath.Join(x.host, "in")
	if err := os.MkdirAll(in, 0o755); err != nil {
		return 0, nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(in, "script.sh"), []byte(command+"\n"), 0o644); err != nil {
		return 0, nil, nil, err
	}
	if err := env.CopyIn(ctx, in, dir); err != nil {
		return 0, nil, nil, err
	}
	script, outF, errF := path.Join(dir, "script.sh"), path.Join(dir, "stdout"), path.Join(dir, "stderr")
	// The outputs are emptied first: a command that ends the shell
	// (exit) leaves what it wrote.
	line := fmt.Sprintf(": >%s; : >%s; . %s >%s 2>%s", quote(outF), quote(errF), quote(script), quote(outF), quote(errF))
	exit, err := env.Exec(ctx, line, "")
	if err != nil {
		return 0, nil, nil, err
	}
	stdout := x.fetch(ctx, outF, "stdout")
	stderr := x.fetch(ctx, errF, "stderr")
	return exit, stdout, stderr, nil
}

// fetch copies an output file out and returns its last MaxOutput bytes.
func (x *commandRunner) fetch(ctx context.Context, file, name string) []byte {
	host := filepath.Join(x.host, name)
	os.Remove(host)
	if err := x.p.Env().CopyOut(ctx, file, host); err != nil {
		return nil
	}
	defer os.Remove(host)
	f, err := os.Open(host)
	if err != nil {
		return nil
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > sandbox.MaxOutput {
		f.Seek(st.Size()-sandbox.MaxOutput, io.SeekStart)
	}
	b, _ := io.ReadAll(io.LimitReader(f, sandbox.MaxOutput))
	return b
}

func quote(s string) string {
	out := "'"
	for _, r := range s {
		if r == '\'' {
			out += `'\''`
		} else {
			out += string(r)
		}
	}
	return out + "'"
}

// Running lists the ids of the sandboxes this node runs, sorted.
func (m *Manager) Running() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, 0, len(m.running))
	for id := range m.running {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
