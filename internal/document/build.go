package document

import (
	"context"
	"fmt"
	"strings"
	"time"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/store"
)

// Spec is what a new build is made of.
type Spec struct {
	Scope     store.Scope
	Project   string
	Settings  *Settings
	Initiator string
	Debug     *bool
	BatchArn  string
	AutoRetry *int32
	// UUID is the build's uuid; "" picks a new one.
	UUID string
}

// NewBuild returns the document of a new build in QUEUED.
func NewBuild(spec Spec, number int64, now time.Time) *cb.Build {
	uuid := spec.UUID
	if uuid == "" {
		uuid = ident.UUID()
	}
	id := spec.Project + ":" + uuid
	e := spec.Settings
	region := spec.Scope.Region
	doc := &cb.Build{
		Id:                      cb.String(id),
		Arn:                     cb.String(ident.BuildARN(region, spec.Scope.Account, id)),
		BuildNumber:             cb.Int64(number),
		StartTime:               cb.At(now),
		BuildStatus:             cb.String(cb.StatusTypeInProgress),
		SourceVersion:           e.SourceVersion,
		ProjectName:             cb.String(spec.Project),
		Source:                  e.Source,
		SecondarySources:        nonNil(e.SecondarySources),
		SecondarySourceVersions: nonNil(e.SecondarySourceVersions),
		Artifacts:               ArtifactLocation(region, e.Artifacts, uuid),
		SecondaryArtifacts:      []cb.BuildArtifacts{},
		Cache:                   e.Cache,
		Environment:             e.Environment,
		ServiceRole:             e.ServiceRole,
		TimeoutInMinutes:        e.Timeout,
		QueuedTimeoutInMinutes:  e.QueuedTimeout,
		BuildComplete:           cb.Bool(false),
		Initiator:               cb.String(spec.Initiator),
		VpcConfig:               e.VpcConfig,
		EncryptionKey:           e.EncryptionKey,
		FileSystemLocations:     e.FileSystemLocations,
		DebugSession:            &cb.DebugSession{SessionEnabled: cb.Bool(cb.Deref(spec.Debug))},
		Logs: &cb.LogsLocation{
			DeepLink:          cb.String(fmt.Sprintf("https://console.aws.amazon.com/cloudwatch/home?region=%s#logEvent:group=null;stream=null", region)),
			CloudWatchLogsArn: cb.String(ident.ARN("logs", region, spec.Scope.Account, "log-group:null:log-stream:null")),
		},
	}
	if e.LogsConfig != nil {
		doc.Logs.CloudWatchLogs, doc.Logs.S3Logs = e.LogsConfig.CloudWatchLogs, e.LogsConfig.S3Logs
	}
	for _, sa := range e.SecondaryArtifacts {
		doc.SecondaryArtifacts = append(doc.SecondaryArtifacts, *ArtifactLocation(region, &sa, uuid))
	}
	if spec.BatchArn != "" {
		doc.BuildBatchArn = cb.String(spec.BatchArn)
	}
	if spec.AutoRetry != nil && *spec.AutoRetry > 0 {
		doc.AutoRetryConfig = &cb.AutoRetryConfig{AutoRetryLimit: spec.AutoRetry, AutoRetryNumber: cb.Int32(0)}
	}
	Start(doc, Submitted, now)
	End(doc, cb.StatusTypeSucceeded, nil, now)
	Start(doc, Queued, now)
	return doc
}

// Insert numbers and stores a new build.
func Insert(ctx context.Context, tx store.Tx, spec Spec, meta store.BuildMeta, now time.Time) (*store.Build, error) {
	number, err := tx.CounterNext(ctx, spec.Scope, spec.Project, "build")
	if err != nil {
		return nil, err
	}
	meta.Artifacts = spec.Settings.Artifacts
	meta.SecondaryArtifacts = spec.Settings.SecondaryArtifacts
	b := &store.Build{Scope: spec.Scope, Doc: NewBuild(spec, number, now), Meta: meta}
	if err := tx.BuildInsert(ctx, b); err != nil {
		return nil, err
	}
	return b, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// ArtifactLocation is where an artifact configuration will put its output,
// as the build reports it before the upload.
func ArtifactLocation(region string, a *cb.ProjectArtifacts, uuid string) *cb.BuildArtifacts {
	if a == nil || cb.Deref(a.Type) != cb.ArtifactsTypeS3 {
		ba := &cb.BuildArtifacts{Location: cb.String("")}
		if a != nil {
			ba.ArtifactIdentifier = a.ArtifactIdentifier
		}
		return ba
	}
	var parts []string
	idSeg := ""
	if cb.Deref(a.NamespaceType) == cb.ArtifactNamespaceBuildId {
		idSeg = uuid
	}
	for _, p := range []string{cb.Deref(a.Path), idSeg, cb.Deref(a.Name)} {
		if p = strings.Trim(p, "/"); p != "" {
			parts = append(parts, p)
		}
	}
	loc := "arn:" + ident.Partition(region) + ":s3:::" + cb.Deref(a.Location)
	if len(parts) > 0 {
		loc += "/" + strings.Join(parts, "/")
	}
	return &cb.BuildArtifacts{Location: cb.String(loc), OverrideArtifactName: a.OverrideArtifactName, EncryptionDisabled: a.EncryptionDisabled,
		ArtifactIdentifier: a.ArtifactIdentifier, BucketOwnerAccess: a.BucketOwnerAccess}
}

// RetrySpec is the spec of a new build that reruns old (RetryBuild, and
// automatic retries): its effective settings, as old ran with them.
func RetrySpec(old *store.Build, initiator string) Spec {
	d := old.Doc
	eff := &Settings{Source: d.Source, SourceVersion: d.SourceVersion, SecondarySources: d.SecondarySources, SecondarySourceVersions: d.SecondarySourceVersions,
		Artifacts: old.Meta.Artifacts, SecondaryArtifacts: old.Meta.SecondaryArtifacts, Environment: d.Environment, Cache: d.Cache, ServiceRole: d.ServiceRole,
		Timeout: d.TimeoutInMinutes, QueuedTimeout: d.QueuedTimeoutInMinutes, EncryptionKey: d.EncryptionKey, VpcConfig: d.VpcConfig,
		FileSystemLocations: d.FileSystemLocations}
	if d.Logs != nil {
		eff.LogsConfig = &cb.LogsConfig{CloudWatchLogs: d.Logs.CloudWatchLogs, S3Logs: d.Logs.S3Logs}
	}
	var debug *bool
	if d.DebugSession != nil {
		debug = d.DebugSession.SessionEnabled
	}
	return Spec{Scope: old.Scope, Project: cb.Deref(d.ProjectName), Settings: Clone(eff), Initiator: initiator, Debug: debug}
}
