package api

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/buildlog"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
)

// GetBuildLogTarget is the X-Amz-Target of the log-reading extension: AWS
// keeps build logs in CloudWatch Logs; buildbatch serves them itself.
const GetBuildLogTarget = "BuildBatch_20261101.GetBuildLog"

// GetBuildLogInput asks for a build's log from a byte offset.
type GetBuildLogInput struct {
	ID string `json:"id"`
	// Offset is where to start (0, or the NextOffset of the last answer).
	Offset int64 `json:"offset"`
	// MaxBytes bounds the answer (default and maximum 1 MiB).
	MaxBytes int `json:"maxBytes"`
	// WaitSeconds, if no new lines are there yet, waits up to this long for
	// some (follow); at most 20.
	WaitSeconds int `json:"waitSeconds"`
	// Timestamps keeps each line's "<RFC 3339 time> " prefix.
	Timestamps bool `json:"timestamps"`
}

// GetBuildLogOutput is a piece of a build's log.
type GetBuildLogOutput struct {
	Text       string `json:"text"`
	NextOffset int64  `json:"nextOffset"`
	// Complete: the build is finished and Text reaches the end of its log.
	Complete bool `json:"complete"`
}

// GetBuildLog reads a build's log (the `buildbatch logs` command uses it).
func (a *API) GetBuildLog(ctx context.Context, in *GetBuildLogInput) (*GetBuildLogOutput, error) {
	_, scope := scopeOf(ctx)
	id := buildID(ctx, in.ID)
	b, err := a.getBuild(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	_, uuid, _ := strings.Cut(id, ":")
	limit := in.MaxBytes
	if limit <= 0 || limit > 1<<20 {
		limit = 1 << 20
	}
	wait := time.Duration(min(max(in.WaitSeconds, 0), 20)) * time.Second
	c, err := a.opts.Logs.Read(ctx, uuid, in.Offset, limit, wait, in.Timestamps)
	if errors.Is(err, buildlog.ErrNoLog) {
		// Queued builds have no log yet.
		return &GetBuildLogOutput{NextOffset: in.Offset, Complete: b.Doc.BuildComplete != nil && *b.Doc.BuildComplete}, nil
	}
	if err != nil && ctx.Err() == nil {
		return nil, err
	}
	complete := c.Complete
	if complete && len(c.Data) == 0 && !cb.Deref(b.Doc.BuildComplete) {
		// The log ended; the build's end is stored just after it.
		b, err = a.waitBuild(ctx, scope, id, max(wait, 100*time.Millisecond))
		if err != nil {
			return nil, err
		}
	}
	complete = complete && cb.Deref(b.Doc.BuildComplete)
	if !c.Complete && len(c.Data) == 0 && cb.Deref(b.Doc.BuildComplete) {
		// A log is closed before its build's end is stored: a complete
		// build whose log has nothing more has it all (its node may have
		// died before marking the log complete).
		complete = true
	}
	return &GetBuildLogOutput{Text: string(c.Data), NextOffset: c.NextOffset, Complete: complete}, nil
}
