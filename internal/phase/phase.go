// Package phase keeps the phases of a build document: each phase starts when
// the previous one ended, ends with a status, a duration and contexts, and
// COMPLETED closes the build.
package phase

import (
	"time"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
)

// Phase types, in order.
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
	end := cb.At(now)
	if end.Before(p.StartTime.Time) {
		end = p.StartTime
	}
	p.EndTime = end
	p.PhaseStatus = cb.String(status)
	p.DurationInSeconds = cb.Int64(int64(end.Sub(p.StartTime.Time) / time.Second))
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
