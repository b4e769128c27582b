package document

import (
	"time"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
)

// Build phase types, in order.
const (
	Submitted       = "SUBMITTED"
	Queued          = "QUEUED"
	Provisioning    = "PROVISIONING"
	DownloadSource  = "DOWNLOAD_SOURCE"
	Install         = "INSTALL"
	PreBuild        = "PRE_BUILD"
	Build           = "BUILD"
	PostBuild       = "POST_BUILD"
	UploadArtifacts = "UPLOAD_ARTIFACTS"
	Finalizing      = "FINALIZING"
	Completed       = "COMPLETED"
)

// Context status codes.
const (
	CommandExecutionError = "COMMAND_EXECUTION_ERROR"
	YAMLFileError         = "YAML_FILE_ERROR"
	ClientError           = "CLIENT_ERROR"
	InternalError         = "INTERNAL_ERROR"
	BuildTimedOut         = "BUILD_TIMED_OUT"
	// LogLimitExceeded (buildbatch's own) marks the phase in which the
	// build's log reached --max-log-bytes.
	LogLimitExceeded = "LOG_LIMIT_EXCEEDED"
	// ArtifactTooLarge (buildbatch's own) fails UPLOAD_ARTIFACTS when an
	// artifact passes --max-artifact-bytes.
	ArtifactTooLarge = "ARTIFACT_TOO_LARGE"
)

// OKContexts is what a successful phase from PROVISIONING on carries.
func OKContexts() []cb.PhaseContext {
	return []cb.PhaseContext{{StatusCode: cb.String(""), Message: cb.String("")}}
}

// StartPhase appends an open phase to a build document and makes it the
// current phase. The open phase starts when the previous one ended.
func Start(doc *cb.Build, typ string, now time.Time) {
	start := cb.At(now)
	if n := len(doc.Phases); n > 0 && doc.Phases[n-1].EndTime != nil {
		start = doc.Phases[n-1].EndTime
	}
	doc.Phases = append(doc.Phases, cb.BuildPhase{PhaseType: cb.String(typ), StartTime: start})
	doc.CurrentPhase = cb.String(typ)
	if typ == Completed {
		doc.EndTime = start
		doc.BuildComplete = cb.Bool(true)
	}
}

// EndPhase closes the open phase with a status; contexts nil means the
// default for the phase (none for SUBMITTED and QUEUED, an empty context
// from PROVISIONING on).
func End(doc *cb.Build, status string, contexts []cb.PhaseContext, now time.Time) {
	n := len(doc.Phases)
	if n == 0 {
		return
	}
	p := &doc.Phases[n-1]
	if p.EndTime != nil {
		return
	}
	p.EndTime, p.DurationInSeconds = PhaseEnd(p.StartTime, now)
	p.PhaseStatus = cb.String(status)
	typ := cb.Deref(p.PhaseType)
	if contexts == nil && typ != Submitted && typ != Queued && status != cb.StatusTypeStopped {
		contexts = OKContexts()
	}
	p.Contexts = contexts
}

// Complete closes the open phase (if any) and appends COMPLETED with the
// final status.
func Complete(doc *cb.Build, status string, now time.Time) {
	doc.BuildStatus = cb.String(status)
	Start(doc, Completed, now)
}

// OpenPhase returns the type of the open phase, or "".
func Open(doc *cb.Build) string {
	if n := len(doc.Phases); n > 0 && doc.Phases[n-1].EndTime == nil && cb.Deref(doc.Phases[n-1].PhaseType) != Completed {
		return cb.Deref(doc.Phases[n-1].PhaseType)
	}
	return ""
}

// Context returns a one-element phase context list.
func Context(code, msg string) []cb.PhaseContext {
	return []cb.PhaseContext{{StatusCode: cb.String(code), Message: cb.String(msg)}}
}

// Batch phase types. A batch starts in SUBMITTED (as a build does),
// fetches its buildspec in DOWNLOAD_BATCHSPEC, runs its groups in
// IN_PROGRESS, combines artifacts in COMBINE_ARTIFACTS and ends with a
// terminal marker that, like a build's COMPLETED, carries only a start.
const (
	DownloadBatchspec = "DOWNLOAD_BATCHSPEC"
	InProgress        = "IN_PROGRESS"
	CombineArtifacts  = "COMBINE_ARTIFACTS"
	Succeeded         = "SUCCEEDED"
	Failed            = "FAILED"
	Stopped           = "STOPPED"
)

// Pending is the status AWS shows for a batch's groups still waiting
// (outside the model's enum, which clients do not check). A batch's first
// group is DownloadSource: the build that fetches the source and reads the
// batch section.
const Pending = "PENDING"

// BatchStart appends an open phase to a batch document, starting when the
// previous phase ended.
func BatchStart(doc *cb.BuildBatch, typ string, now time.Time) {
	start := cb.At(now)
	if n := len(doc.Phases); n > 0 && doc.Phases[n-1].EndTime != nil {
		start = doc.Phases[n-1].EndTime
	}
	doc.Phases = append(doc.Phases, cb.BuildBatchPhase{PhaseType: cb.String(typ), StartTime: start})
	doc.CurrentPhase = cb.String(typ)
}

// BatchEnd closes a batch's open phase with a status and contexts.
func BatchEnd(doc *cb.BuildBatch, status string, ctxs []cb.PhaseContext, now time.Time) {
	n := len(doc.Phases)
	if n == 0 || doc.Phases[n-1].EndTime != nil || isMarker(cb.Deref(doc.Phases[n-1].PhaseType)) {
		return
	}
	p := &doc.Phases[n-1]
	p.EndTime, p.DurationInSeconds = PhaseEnd(p.StartTime, now)
	p.PhaseStatus = cb.String(status)
	p.Contexts = ctxs
}

func isMarker(typ string) bool { return typ == Succeeded || typ == Failed || typ == Stopped }

// BatchOpen is the type of a batch's phase still running, or "".
func BatchOpen(doc *cb.BuildBatch) string {
	n := len(doc.Phases)
	if n == 0 || doc.Phases[n-1].EndTime != nil || isMarker(cb.Deref(doc.Phases[n-1].PhaseType)) {
		return ""
	}
	return cb.Deref(doc.Phases[n-1].PhaseType)
}

// PhaseEnd is the end time and duration (whole seconds) of a phase of any
// document (build, batch, sandbox session) that started at start and ends
// now: never before its start.
func PhaseEnd(start *cb.Time, now time.Time) (*cb.Time, *int64) {
	end := cb.At(now)
	if start == nil {
		return end, cb.Int64(0)
	}
	if end.Before(start.Time) {
		end = start
	}
	return end, cb.Int64(int64(end.Sub(start.Time) / time.Second))
}
