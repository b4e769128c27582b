package batchrun

import (
	"time"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
)

// Batch phase types.
const (
	Submitted         = "SUBMITTED"
	DownloadBatchspec = "DOWNLOAD_BATCHSPEC"
	InProgress        = "IN_PROGRESS"
	CombineArtifacts  = "COMBINE_ARTIFACTS"
	// Terminal markers: like a build's COMPLETED they carry only a start.
	Succeeded = "SUCCEEDED"
	Failed    = "FAILED"
	Stopped   = "STOPPED"
)

// DownloadSource is the identifier of a batch's first group, the build that
// fetches the source and reads the batch section.
const DownloadSource = "DOWNLOAD_SOURCE"

// Pending is the status AWS shows for groups still waiting (outside the
// model's enum, which clients do not check).
const Pending = "PENDING"

func startPhase(doc *cb.BuildBatch, typ string, now time.Time) {
	start := cb.At(now)
	if n := len(doc.Phases); n > 0 && doc.Phases[n-1].EndTime != nil {
		start = doc.Phases[n-1].EndTime
	}
	doc.Phases = append(doc.Phases, cb.BuildBatchPhase{PhaseType: cb.String(typ), StartTime: start})
	doc.CurrentPhase = cb.String(typ)
}

func endPhase(doc *cb.BuildBatch, status string, ctxs []cb.PhaseContext, now time.Time) {
	n := len(doc.Phases)
	if n == 0 || doc.Phases[n-1].EndTime != nil || isMarker(cb.Deref(doc.Phases[n-1].PhaseType)) {
		return
	}
	p := &doc.Phases[n-1]
	end := cb.At(now)
	if end.Before(p.StartTime.Time) {
		end = p.StartTime
	}
	p.EndTime = end
	p.PhaseStatus = cb.String(status)
	p.DurationInSeconds = cb.Int64(int64(end.Sub(p.StartTime.Time) / time.Second))
	p.Contexts = ctxs
}

func isMarker(typ string) bool { return typ == Succeeded || typ == Failed || typ == Stopped }

// openPhase is the type of the phase still running, or "".
func openPhase(doc *cb.BuildBatch) string {
	n := len(doc.Phases)
	if n == 0 || doc.Phases[n-1].EndTime != nil || isMarker(cb.Deref(doc.Phases[n-1].PhaseType)) {
		return ""
	}
	return cb.Deref(doc.Phases[n-1].PhaseType)
}
