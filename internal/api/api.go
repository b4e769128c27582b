// Package api implements the CodeBuild operations, one file per resource:
// it validates what the model cannot express, applies AWS's defaults, and
// reads and writes the store. It never runs builds itself: it hands them to
// a Scheduler.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"syscall"
	"time"

	"github.com/buildbatch/buildbatch/internal/awsjson"
	"github.com/buildbatch/buildbatch/internal/blob"
	"github.com/buildbatch/buildbatch/internal/buildlog"
	"github.com/buildbatch/buildbatch/internal/bytesize"
	"github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/store"
)

// Options configures the API.
type Options struct {
	Store store.Store
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AccountConcurrentBuilds is the account-level concurrent build limit
	// that a project's concurrentBuildLimit may not exceed.
	AccountConcurrentBuilds int
	// BaseURL is the server's own URL, used in badge URLs.
	BaseURL string
	// Scheduler runs the builds.
	Scheduler Scheduler
	// Coordinator runs the batches.
	Coordinator Coordinator
	// Logs holds the build logs.
	Logs buildlog.Logs
	// Blob is the blob store (InvalidateProjectCache deletes caches there).
	Blob blob.Store
	Log  *slog.Logger
	// DataDir is where builds keep their workspaces: new builds are
	// refused while its file system has less than MinFreeDisk bytes free
	// (0: never).
	DataDir     string
	MinFreeDisk int64
}

// API holds the operations.
type API struct {
	opts Options
	st   store.Store
	now  func() time.Time
}

// New returns the API.
func New(opts Options) *API {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &API{opts: opts, st: opts.Store, now: now}
}

// Register adds every implemented operation to s.
func (a *API) Register(s *awsjson.Server) {
	awsjson.Handle(s, "CreateProject", a.CreateProject)
	awsjson.Handle(s, "UpdateProject", a.UpdateProject)
	awsjson.Handle(s, "DeleteProject", a.DeleteProject)
	awsjson.HandleRaw(s, "BatchGetProjects", a.BatchGetProjects)
	awsjson.Handle(s, "ListProjects", a.ListProjects)
	awsjson.Handle(s, "StartBuild", a.StartBuild)
	awsjson.HandleRaw(s, "BatchGetBuilds", a.BatchGetBuilds)
	awsjson.Precheck(s, "BatchGetBuilds", func(req map[string]any) *awsjson.Error {
		if ids, ok := req["ids"].([]any); ok && len(ids) == 0 {
			return &awsjson.Error{Type: awsjson.InvalidInput, Message: "The input build ID list cannot be empty.", Status: 400}
		}
		return nil
	})
	awsjson.Handle(s, "ListBuilds", a.ListBuilds)
	awsjson.Handle(s, "ListBuildsForProject", a.ListBuildsForProject)
	awsjson.Handle(s, "StopBuild", a.StopBuild)
	awsjson.Handle(s, "RetryBuild", a.RetryBuild)
	awsjson.Handle(s, "BatchDeleteBuilds", a.BatchDeleteBuilds)
	awsjson.Handle(s, "StartBuildBatch", a.StartBuildBatch)
	awsjson.HandleRaw(s, "BatchGetBuildBatches", a.BatchGetBuildBatches)
	awsjson.Handle(s, "ListBuildBatches", a.ListBuildBatches)
	awsjson.Handle(s, "ListBuildBatchesForProject", a.ListBuildBatchesForProject)
	awsjson.Handle(s, "StopBuildBatch", a.StopBuildBatch)
	awsjson.Handle(s, "RetryBuildBatch", a.RetryBuildBatch)
	awsjson.Handle(s, "DeleteBuildBatch", a.DeleteBuildBatch)
	awsjson.Handle(s, "CreateReportGroup", a.CreateReportGroup)
	awsjson.Handle(s, "UpdateReportGroup", a.UpdateReportGroup)
	awsjson.Handle(s, "DeleteReportGroup", a.DeleteReportGroup)
	awsjson.Handle(s, "BatchGetReportGroups", a.BatchGetReportGroups)
	awsjson.Handle(s, "ListReportGroups", a.ListReportGroups)
	awsjson.Handle(s, "BatchGetReports", a.BatchGetReports)
	awsjson.Handle(s, "ListReports", a.ListReports)
	awsjson.Handle(s, "ListReportsForReportGroup", a.ListReportsForReportGroup)
	awsjson.Handle(s, "DeleteReport", a.DeleteReport)
	awsjson.Handle(s, "DescribeTestCases", a.DescribeTestCases)
	awsjson.Handle(s, "DescribeCodeCoverages", a.DescribeCodeCoverages)
	awsjson.Handle(s, "GetReportGroupTrend", a.GetReportGroupTrend)
	awsjson.HandleExtension(s, GetBuildLogTarget, a.GetBuildLog)
	a.RegisterSandboxes(s)
	awsjson.Handle(s, "ImportSourceCredentials", a.ImportSourceCredentials)
	awsjson.Handle(s, "ListSourceCredentials", a.ListSourceCredentials)
	awsjson.Handle(s, "DeleteSourceCredentials", a.DeleteSourceCredentials)
	awsjson.Handle(s, "PutResourcePolicy", a.PutResourcePolicy)
	awsjson.Handle(s, "GetResourcePolicy", a.GetResourcePolicy)
	awsjson.Handle(s, "DeleteResourcePolicy", a.DeleteResourcePolicy)
	awsjson.Handle(s, "ListSharedProjects", a.ListSharedProjects)
	awsjson.Handle(s, "ListSharedReportGroups", a.ListSharedReportGroups)
	awsjson.Handle(s, "ListCuratedEnvironmentImages", a.ListCuratedEnvironmentImages)
	awsjson.Handle(s, "InvalidateProjectCache", a.InvalidateProjectCache)
	awsjson.Handle(s, "UpdateProjectVisibility", a.UpdateProjectVisibility)
	awsjson.Handle(s, "CreateWebhook", a.CreateWebhook)
	awsjson.Handle(s, "UpdateWebhook", a.UpdateWebhook)
	awsjson.Handle(s, "DeleteWebhook", a.DeleteWebhook)
	awsjson.Handle(s, "CreateFleet", a.CreateFleet)
	awsjson.Handle(s, "UpdateFleet", a.UpdateFleet)
	awsjson.Handle(s, "DeleteFleet", a.DeleteFleet)
	awsjson.Handle(s, "BatchGetFleets", a.BatchGetFleets)
	awsjson.Handle(s, "ListFleets", a.ListFleets)
}

func scopeOf(ctx context.Context) (awsjson.Caller, store.Scope) {
	c := awsjson.CallerFrom(ctx)
	return c, store.Scope{Account: c.Account, Region: c.Region}
}

func invalid(format string, args ...any) error {
	return awsjson.Errorf(awsjson.InvalidInput, format, args...)
}

// translate maps store sentinels to AWS errors; it is the one place where
// that happens. Errors already in AWS shape pass through.
func translate(err error, notFound string) error {
	if err == nil {
		return nil
	}
	var ae *awsjson.Error
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, store.ErrNotFound):
		return awsjson.Errorf(awsjson.ResourceNotFound, "%s", notFound)
	case errors.Is(err, store.ErrConflict):
		return awsjson.Errorf(awsjson.ResourceAlreadyExists, "%s", err.Error())
	}
	return err
}

func ts(t time.Time) *codebuild.Time { return codebuild.At(t) }

// checkDisk refuses a new build while the data directory's file system
// has less room than MinFreeDisk: builds would fill it.
func (a *API) checkDisk() error {
	if a.opts.MinFreeDisk <= 0 || a.opts.DataDir == "" {
		return nil
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(a.opts.DataDir, &fs); err != nil {
		return nil // nothing to say: the build fails on its own if it must
	}
	free := int64(fs.Bavail) * int64(fs.Bsize)
	if free >= a.opts.MinFreeDisk {
		return nil
	}
	return &awsjson.Error{Type: awsjson.ServiceUnavailable, Status: http.StatusServiceUnavailable,
		Message: fmt.Sprintf("buildbatch refuses new builds for now: the file system of its data directory has %s free, less than --min-free-disk (%s)", bytesize.Format(free), bytesize.Format(a.opts.MinFreeDisk))}
}

// scopedName is the name (or id) a caller means by s, an ARN or a name: an
// ARN of another account or region names nothing of the caller's.
func scopedName(ctx context.Context, s, kind string) string {
	_, scope := scopeOf(ctx)
	return ident.ScopedName(s, kind, scope.Account, scope.Region)
}
