// Package sandbox holds the rules of CodeBuild sandbox and command
// execution documents: a new sandbox from a project, its session's phase
// bookkeeping, a new command execution and its end. It is pure: times and
// new ids come in as arguments. The operations are in internal/api
// (sandbox.go); the node that runs a sandbox is internal/sandbox/sandboxrun.
//
// A sandbox is stored as a store.Resource of kind store.KindSandbox named
// by its id "<project>:<uuid>", with the project as parent; its Doc is a
// Record (the API document plus what AWS does not show: the node holding
// it, its lease, a stop request, the connection token). A command
// execution is a store.KindCommand resource named "<sandbox id>/<uuid>",
// with the sandbox id as parent; its Doc is a Command.
//
// # Phases and statuses
//
// A sandbox's session goes SUBMITTED → QUEUED → PROVISIONING →
// DOWNLOAD_SOURCE → RUN_SANDBOX → COMPLETED. RUN_SANDBOX stays open (no
// phaseStatus) while the sandbox runs. The sandbox's status is QUEUED
// (StartSandbox), IN_PROGRESS (a node provisions or runs it), STOPPING
// (StopSandbox), then STOPPED (stopped, timed out or shut down) or FAILED
// (its environment or sources could not be had). The session's status is a
// build status: IN_PROGRESS, then STOPPED when stopped (RUN_SANDBOX, the
// sandbox's normal life, ends SUCCEEDED; an earlier phase ends STOPPED),
// TIMED_OUT when timed out (its open phase ends TIMED_OUT with context
// BUILD_TIMED_OUT), FAILED or FAULT.
//
// A command execution goes SUBMITTED → IN_PROGRESS → SUCCEEDED (exit
// status 0) or FAILED (any other, or the sandbox ended before or while it
// ran).
//
// # Connections
//
// StartSandboxConnection answers an ssmSession whose streamUrl is
// <server>/sandbox-sessions/<sessionId> on buildbatch's own port (not an
// SSM WebSocket). POST a shell command as the request body, with the
// session's tokenValue in the X-Buildbatch-Sandbox-Token header: the
// command runs in the sandbox's shell session (after the commands queued
// before it; cd and exports carry over, as for StartCommandExecution) and
// the answer is JSON {"exitCode": "0", "stdout": "...", "stderr": "..."}
// (each output its last 64 KiB), with the exit code also in the
// X-Buildbatch-Exit-Code header. A new connection replaces the previous
// one (its URL and token stop working). These commands are not listed as
// command executions.
//
//	curl -s -H "X-Buildbatch-Sandbox-Token: $TOKEN" --data-binary 'ls -la' "$STREAM_URL"
package sandbox

import (
	"strconv"
	"strings"
	"time"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
	"github.com/buildbatch/buildbatch/internal/ident"
)

// Sandbox statuses.
const (
	StatusQueued     = "QUEUED"
	StatusInProgress = "IN_PROGRESS"
	StatusStopping   = "STOPPING"
	StatusStopped    = "STOPPED"
	StatusFailed     = "FAILED"
)

// Session phase types.
const (
	PhaseSubmitted      = "SUBMITTED"
	PhaseQueued         = "QUEUED"
	PhaseProvisioning   = "PROVISIONING"
	PhaseDownloadSource = "DOWNLOAD_SOURCE"
	PhaseRunSandbox     = "RUN_SANDBOX"
	PhaseCompleted      = "COMPLETED"
)

// Command execution statuses.
const (
	CommandSubmitted  = "SUBMITTED"
	CommandInProgress = "IN_PROGRESS"
	CommandSucceeded  = "SUCCEEDED"
	CommandFailed     = "FAILED"
)

// CommandTypeShell is the one command type.
const CommandTypeShell = "SHELL"

// The connection endpoint (see the package documentation).
const (
	SessionPath        = "/sandbox-sessions/"
	SessionTokenHeader = "X-Buildbatch-Sandbox-Token"
	ExitCodeHeader     = "X-Buildbatch-Exit-Code"
)

// MaxOutput bounds a command's standardOutputContent and
// standardErrContent: the last MaxOutput bytes are kept.
const MaxOutput = 64 << 10

// TimedOutCode and TimedOutMessage are the context of a phase that ran out
// of time, as on AWS.
const (
	TimedOutCode    = "BUILD_TIMED_OUT"
	TimedOutMessage = "Build has timed out. "
)

// Record is what the store keeps of a sandbox.
type Record struct {
	Sandbox *cb.Sandbox `json:"sandbox"`
	// Node holds the sandbox until LeaseUntil ("" for one no node took).
	Node       string    `json:"node,omitempty"`
	LeaseUntil time.Time `json:"leaseUntil,omitzero"`
	// StopRequested: StopSandbox was called; the holder stops it.
	StopRequested bool `json:"stopRequested,omitempty"`
	// Connection is the latest StartSandboxConnection's session id (also
	// the resource's Key) and TokenHash the SHA-256 of its token.
	Connection string `json:"connection,omitempty"`
	TokenHash  string `json:"tokenHash,omitempty"`
	// IdempotencyToken is StartSandbox's.
	IdempotencyToken string `json:"idempotencyToken,omitempty"`
}

// Command is what the store keeps of a command execution.
type Command struct {
	Exec *cb.CommandExecution `json:"commandExecution"`
	// Sandbox is the full id of the sandbox ("<project>:<uuid>").
	Sandbox string `json:"sandbox"`
	// Connection: sent through a connection (not listed).
	Connection bool `json:"connection,omitempty"`
}

// ID is a sandbox's id.
func ID(project, uuid string) string { return project + ":" + uuid }

// ARN is a sandbox's ARN.
func ARN(region, account, id string) string {
	return ident.ARN("codebuild", region, account, "sandbox/"+id)
}

// CommandName is the store name of a command execution.
func CommandName(sandboxID, uuid string) string { return sandboxID + "/" + uuid }

// UUIDOf is the uuid part of a sandbox id.
func UUIDOf(id string) string {
	if i := strings.LastIndex(id, ":"); i >= 0 {
		return id[i+1:]
	}
	return id
}

// New is a new sandbox of project p (in QUEUED; its session in
// SUBMITTED, then QUEUED) in region and account.
func New(p *cb.Project, region, account, uuid, sessionID string, now time.Time) *Record {
	name := cb.Deref(p.Name)
	id := ID(name, uuid)
	t := cb.At(now)
	s := &cb.Sandbox{
		Id: cb.String(id), Arn: cb.String(ARN(region, account, id)), ProjectName: cb.String(name),
		RequestTime: t, Status: cb.String(StatusQueued),
		Source: p.Source, SourceVersion: p.SourceVersion, SecondarySources: p.SecondarySources,
		SecondarySourceVersions: p.SecondarySourceVersions, Environment: p.Environment,
		FileSystemLocations: p.FileSystemLocations, TimeoutInMinutes: p.TimeoutInMinutes,
		QueuedTimeoutInMinutes: p.QueuedTimeoutInMinutes, VpcConfig: p.VpcConfig, LogConfig: p.LogsConfig,
		EncryptionKey: p.EncryptionKey, ServiceRole: p.ServiceRole,
		CurrentSession: &cb.SandboxSession{
			Id: cb.String(sessionID), Status: cb.String(cb.StatusTypeInProgress), StartTime: t,
			CurrentPhase: cb.String(PhaseSubmitted),
			Phases:       []cb.SandboxSessionPhase{{PhaseType: cb.String(PhaseSubmitted), StartTime: t}},
		},
	}
	if s.TimeoutInMinutes == nil {
		s.TimeoutInMinutes = cb.Int32(60)
	}
	Next(s, PhaseQueued, now)
	return &Record{Sandbox: s}
}

// Final tells whether a sandbox has ended (STOPPED or FAILED).
func Final(s *cb.Sandbox) bool {
	st := cb.Deref(s.Status)
	return st == StatusStopped || st == StatusFailed
}

// Open is the type of the session's open phase, or "".
func Open(s *cb.Sandbox) string {
	ss := s.CurrentSession
	if ss == nil {
		return ""
	}
	if n := len(ss.Phases); n > 0 && ss.Phases[n-1].EndTime == nil && cb.Deref(ss.Phases[n-1].PhaseType) != PhaseCompleted {
		return cb.Deref(ss.Phases[n-1].PhaseType)
	}
	return ""
}

// Running tells whether commands run in the sandbox now: it is in
// RUN_SANDBOX and not stopping.
func Running(s *cb.Sandbox) bool {
	return cb.Deref(s.Status) == StatusInProgress && Open(s) == PhaseRunSandbox
}

// endPhase closes the open phase with status and contexts (nil: the
// default, none for SUBMITTED, QUEUED and stopped phases, else an empty
// one, as for builds).
func endPhase(s *cb.Sandbox, status string, contexts []cb.PhaseContext, now time.Time) {
	ss := s.CurrentSession
	n := len(ss.Phases)
	if n == 0 || ss.Phases[n-1].EndTime != nil {
		return
	}
	p := &ss.Phases[n-1]
	p.EndTime, p.DurationInSeconds = document.PhaseEnd(p.StartTime, now)
	p.PhaseStatus = cb.String(status)
	typ := cb.Deref(p.PhaseType)
	if contexts == nil && typ != PhaseSubmitted && typ != PhaseQueued && status != cb.StatusTypeStopped {
		contexts = []cb.PhaseContext{{StatusCode: cb.String(""), Message: cb.String("")}}
	}
	p.Contexts = contexts
}

// Next ends the open phase successfully and opens typ (which starts when
// the previous phase ended). Leaving QUEUED makes the sandbox IN_PROGRESS
// and sets its startTime.
func Next(s *cb.Sandbox, typ string, now time.Time) {
	ss := s.CurrentSession
	if Open(s) == PhaseQueued {
		s.StartTime = cb.At(now)
		if cb.Deref(s.Status) == StatusQueued {
			s.Status = cb.String(StatusInProgress)
		}
	}
	endPhase(s, cb.StatusTypeSucceeded, nil, now)
	start := cb.At(now)
	if n := len(ss.Phases); n > 0 && ss.Phases[n-1].EndTime != nil {
		start = ss.Phases[n-1].EndTime
	}
	ss.Phases = append(ss.Phases, cb.SandboxSessionPhase{PhaseType: cb.String(typ), StartTime: start})
	ss.CurrentPhase = cb.String(typ)
}

// Stop marks a sandbox STOPPING (StopSandbox); it returns false if it has
// already ended.
func Stop(r *Record) bool {
	if Final(r.Sandbox) {
		return false
	}
	r.StopRequested = true
	r.Sandbox.Status = cb.String(StatusStopping)
	return true
}

// End ends a sandbox: its open phase ends with phaseStatus and contexts,
// COMPLETED is appended, the session gets sessionStatus and the sandbox
// status (STOPPED or FAILED). Ending an ended sandbox changes nothing.
func End(s *cb.Sandbox, status, phaseStatus, sessionStatus string, contexts []cb.PhaseContext, now time.Time) {
	if Final(s) {
		return
	}
	ss := s.CurrentSession
	endPhase(s, phaseStatus, contexts, now)
	end := cb.At(now)
	if n := len(ss.Phases); n > 0 && ss.Phases[n-1].EndTime != nil {
		end = ss.Phases[n-1].EndTime
	}
	ss.Phases = append(ss.Phases, cb.SandboxSessionPhase{PhaseType: cb.String(PhaseCompleted), StartTime: end})
	ss.CurrentPhase = cb.String(PhaseCompleted)
	ss.Status = cb.String(sessionStatus)
	ss.EndTime = end
	s.EndTime = end
	if s.StartTime == nil {
		s.StartTime = end
	}
	s.Status = cb.String(status)
}

// Stopped ends a sandbox that was stopped (StopSandbox, or the server
// shutting down): its open phase ends STOPPED, RUN_SANDBOX — the
// sandbox's normal life — SUCCEEDED.
func Stopped(s *cb.Sandbox, now time.Time) {
	status := cb.StatusTypeStopped
	if Open(s) == PhaseRunSandbox {
		status = cb.StatusTypeSucceeded
	}
	End(s, StatusStopped, status, cb.StatusTypeStopped, nil, now)
}

// TimedOut ends a sandbox whose timeoutInMinutes passed.
func TimedOut(s *cb.Sandbox, now time.Time) {
	End(s, StatusStopped, cb.StatusTypeTimedOut, cb.StatusTypeTimedOut,
		[]cb.PhaseContext{{StatusCode: cb.String(TimedOutCode), Message: cb.String(TimedOutMessage)}}, now)
}

// QueuedTooLong reports whether a sandbox still QUEUED (no node took it)
// has waited past its queuedTimeoutInMinutes (minute is the length of a
// minute; a zero or missing timeout never ends).
func QueuedTooLong(s *cb.Sandbox, minute time.Duration, now time.Time) bool {
	n := cb.Deref(s.QueuedTimeoutInMinutes)
	if n <= 0 || s.RequestTime == nil || cb.Deref(s.Status) != StatusQueued {
		return false
	}
	return !now.Before(s.RequestTime.Add(time.Duration(n) * minute))
}

// QueuedTimedOut ends a sandbox that waited in the queue past its
// queuedTimeoutInMinutes, as a build's queued timeout ends it.
func QueuedTimedOut(s *cb.Sandbox, now time.Time) {
	End(s, StatusStopped, cb.StatusTypeTimedOut, cb.StatusTypeTimedOut,
		[]cb.PhaseContext{{StatusCode: cb.String(TimedOutCode), Message: cb.String("Build has timed out in the queue. ")}}, now)
}

// Failed ends a sandbox whose open phase failed (code and msg are its
// context); status is the session's (FAILED or FAULT).
func Failed(s *cb.Sandbox, status, code, msg string, now time.Time) {
	End(s, StatusFailed, status, status,
		[]cb.PhaseContext{{StatusCode: cb.String(code), Message: cb.String(msg)}}, now)
}

// NewCommand is a new command execution (SUBMITTED) in sandbox s.
func NewCommand(s *cb.Sandbox, uuid, command, typ string, now time.Time) *Command {
	if typ == "" {
		typ = CommandTypeShell
	}
	id := cb.Deref(s.Id)
	c := &cb.CommandExecution{
		Id: cb.String(uuid), SandboxId: cb.String(UUIDOf(id)), SandboxArn: s.Arn,
		SubmitTime: cb.At(now), Status: cb.String(CommandSubmitted), Command: cb.String(command), Type: cb.String(typ),
	}
	if ss := s.CurrentSession; ss != nil && ss.Logs != nil {
		c.Logs = ss.Logs
	}
	return &Command{Exec: c, Sandbox: id}
}

// Begin marks a command execution IN_PROGRESS.
func Begin(c *cb.CommandExecution, now time.Time) {
	c.Status = cb.String(CommandInProgress)
	c.StartTime = cb.At(now)
}

// Finish records a command's end: its exit code, and its outputs (each
// omitted when empty, and cut to its last MaxOutput bytes).
func Finish(c *cb.CommandExecution, exitCode int, stdout, stderr []byte, now time.Time) {
	c.Status = cb.String(CommandSucceeded)
	if exitCode != 0 {
		c.Status = cb.String(CommandFailed)
	}
	c.ExitCode = cb.String(strconv.Itoa(exitCode))
	c.StandardOutputContent = content(stdout)
	c.StandardErrContent = content(stderr)
	if c.StartTime == nil {
		c.StartTime = cb.At(now)
	}
	c.EndTime = cb.At(now)
}

// Abort ends a command that could not run to its end (the sandbox ended
// before or while it ran): FAILED, with no exit code.
func Abort(c *cb.CommandExecution, now time.Time) {
	c.Status = cb.String(CommandFailed)
	if c.StartTime == nil {
		c.StartTime = cb.At(now)
	}
	c.EndTime = cb.At(now)
}

// CommandDone tells whether a command execution has ended.
func CommandDone(c *cb.CommandExecution) bool {
	st := cb.Deref(c.Status)
	return st == CommandSucceeded || st == CommandFailed
}

func content(b []byte) *string {
	if len(b) == 0 {
		return nil
	}
	if len(b) > MaxOutput {
		b = b[len(b)-MaxOutput:]
		// Do not start in the middle of a UTF-8 sequence.
		for i := 0; i < 3 && len(b) > 0 && b[0]&0xC0 == 0x80; i++ {
			b = b[1:]
		}
	}
	s := string(b)
	return &s
}
