// Package store defines how buildbatch keeps its resources: a Store runs
// transactions (Update for writes, View for reads) over a Tx that offers one
// method per resource operation. The embedded default lives in ./sqlite,
// PostgreSQL in ./postgres, and ./storetest is the conformance suite every
// implementation passes. Update's fn runs exactly once, with one writer at
// a time.
//
// Resources are kept as their API documents (codebuild.Project, ...), so
// every member a client sets is stored and returned; a few columns are
// indexed beside the document for lookups and listing.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/codebuild"
)

// Sentinel errors; wrap them with %w.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
	// ErrStale is returned by a revision-checked write (BuildPut,
	// BatchPut) when the stored revision is not the one the writer read:
	// someone else wrote it since (or claimed the build).
	ErrStale = errors.New("changed since it was read")
)

// Scope is the namespace of a resource: accounts and regions never see each
// other's resources.
type Scope struct {
	Account string
	Region  string
}

// Store is a transactional resource store.
type Store interface {
	// Update runs fn in a read-write transaction, committed if fn returns
	// nil and rolled back otherwise.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	Close() error
}

// ProjectSort is the ordering of a project listing.
type ProjectSort int

const (
	ProjectsByName ProjectSort = iota
	ProjectsByCreated
	ProjectsByModified
)

// Cursor marks where a listing stopped: the sort key and the id of the last
// item returned. The zero Cursor starts at the beginning.
type Cursor struct {
	Key int64  `json:"k,omitempty"`
	Str string `json:"s,omitempty"`
	ID  string `json:"i,omitempty"`
}

// Page asks for one page of a listing.
type Page struct {
	After      *Cursor // nil: from the start
	Limit      int
	Descending bool
}

// BuildMeta is what buildbatch keeps of a build beside its API document.
type BuildMeta struct {
	// BatchID is the id of the batch the build belongs to ("" if none) and
	// BatchIdentifier its group (CODEBUILD_BATCH_BUILD_IDENTIFIER).
	BatchID         string `json:"batchId,omitempty"`
	BatchIdentifier string `json:"batchIdentifier,omitempty"`
	// Shard and Shards place a build-fanout build among its siblings.
	Shard  int `json:"shard,omitempty"`
	Shards int `json:"shards,omitempty"`
	// Request is the StartBuild input the build was created from (RetryBuild
	// starts a new build from it).
	Request json.RawMessage `json:"request,omitempty"`
	// IdempotencyToken and RequestHash let StartBuild return the same build
	// for a repeated request.
	IdempotencyToken string `json:"idempotencyToken,omitempty"`
	// Internal marks builds not subject to the queue bound (batch members).
	Internal bool `json:"internal,omitempty"`
	// Artifacts and SecondaryArtifacts are the effective artifact
	// configurations (the document only holds what was uploaded).
	Artifacts          *codebuild.ProjectArtifacts  `json:"artifacts,omitempty"`
	SecondaryArtifacts []codebuild.ProjectArtifacts `json:"secondaryArtifacts,omitempty"`
	// User is who started the build (CODEBUILD_INITIATOR is the document's
	// initiator).
	User string `json:"user,omitempty"`
	// PublicURL is where a build of a PUBLIC_READ project is shown without
	// credentials, less the build's uuid (CODEBUILD_PUBLIC_BUILD_URL).
	PublicURL string `json:"publicUrl,omitempty"`
	// ExtraEnv holds variables only the build's shell sees (batch task
	// variables are in the document's environment instead).
	ExtraEnv []codebuild.EnvironmentVariable `json:"extraEnv,omitempty"`
}

// Build is a stored build: its document and meta data.
type Build struct {
	Scope Scope
	Doc   *codebuild.Build
	Meta  BuildMeta
	// Seq orders builds by creation; the store assigns it on insert.
	Seq int64
	// Rev is the build's revision: 1 on insert, incremented by every
	// BuildPut and claim. BuildPut writes only if the stored revision is
	// still Rev (else ErrStale), and then increments Rev.
	Rev int64
	// Node holds the build's lease until LeaseUntil: the node running it
	// (or ending it). "" for a build never claimed. Set by the store.
	Node       string
	LeaseUntil time.Time
	// StopRequested is set by BuildRequestStop (StopBuild on any node):
	// the node holding the build stops it. Set by the store.
	StopRequested bool
}

// Queued reports whether a build document's open phase is QUEUED: its
// last phase is QUEUED and has not ended. The stores keep it beside the
// document, for BuildClaim.
func Queued(doc *codebuild.Build) bool {
	if doc == nil || len(doc.Phases) == 0 {
		return false
	}
	p := doc.Phases[len(doc.Phases)-1]
	return codebuild.Deref(p.PhaseType) == codebuild.BuildPhaseTypeQueued && p.EndTime == nil
}

// FleetOf is the name of the compute fleet a build runs on ("" for
// on-demand capacity): its environment's fleet, by ARN
// (arn:...:fleet/<name>:<uuid>) or by name. The stores keep it beside the
// document, for BuildClaim and BuildFleetLoad.
func FleetOf(doc *codebuild.Build) string {
	if doc == nil || doc.Environment == nil || doc.Environment.Fleet == nil {
		return ""
	}
	ref := codebuild.Deref(doc.Environment.Fleet.FleetArn)
	if i := strings.Index(ref, ":fleet/"); i >= 0 {
		ref = ref[i+len(":fleet/"):]
		if j := strings.IndexByte(ref, ':'); j >= 0 {
			ref = ref[:j]
		}
	}
	return ref
}

// FleetClaim asks for up to Limit of the QUEUED builds of one fleet.
type FleetClaim struct {
	Scope Scope
	Fleet string
	Limit int
}

// FleetRef names a fleet of a scope.
type FleetRef struct {
	Scope Scope
	Fleet string
}

// Key is the fleet's "<account>/<region>/<fleet>".
func (f FleetRef) Key() string { return f.Scope.Account + "/" + f.Scope.Region + "/" + f.Fleet }

// FleetLoad is how many incomplete builds of a fleet wait unclaimed
// (Queued) and are held by a node (Running).
type FleetLoad struct {
	Scope           Scope
	Fleet           string
	Queued, Running int
}

// Claim asks for builds to run: see Tx.BuildClaim.
type Claim struct {
	Node string
	// Now decides which leases have expired; Until is the new leases' end.
	Now, Until time.Time
	// Limit bounds the QUEUED builds claimed that run on no fleet
	// (orphans are not bounded).
	Limit int
	// Fleets asks for QUEUED builds of fleets, each up to its Limit
	// (their reserved capacity); they are claimed first.
	Fleets []FleetClaim
	// OnDemand names fleets whose QUEUED builds also compete for the
	// Limit slots, with the builds on no fleet, in creation order (fleets
	// that overflow ON_DEMAND, and fleets that no longer exist).
	OnDemand []FleetRef
	// Own also claims the incomplete builds Node already holds, whatever
	// their lease: a node that restarted takes back what it held before.
	Own bool
}

// Lease is one build a node holds, as BuildRenew reports it.
type Lease struct {
	Scope         Scope
	ID            string
	StopRequested bool
}

// BatchMeta is what buildbatch keeps of a batch beside its document.
type BatchMeta struct {
	// Settings are the effective settings member builds start from
	// (document.Settings, as JSON).
	Settings json.RawMessage `json:"settings,omitempty"`
	// Plan is the planned batch (batch.Plan, as JSON); empty until the
	// DOWNLOAD_SOURCE build has read the batch section.
	Plan json.RawMessage `json:"plan,omitempty"`
	// GroupUUIDs are the uuids of the groups' current builds, assigned at
	// planning so that waiting groups already show their build's ARN.
	GroupUUIDs map[string]string `json:"groupUuids,omitempty"`
	// Failed records that a required group failed (the batch will fail).
	Failed bool `json:"failed,omitempty"`
	// Ending is set when the batch is being stopped ("STOPPED") or timed
	// out ("TIMED_OUT").
	Ending string `json:"ending,omitempty"`
	// Deadline is when the batch times out (Unix nanoseconds; 0 for none).
	Deadline int64 `json:"deadline,omitempty"`
	// IdempotencyToken of the StartBuildBatch request.
	IdempotencyToken string `json:"idempotencyToken,omitempty"`
	// User started the batch.
	User string `json:"user,omitempty"`
	// ExtraEnv goes to every member's BuildMeta.ExtraEnv (a webhook's
	// CODEBUILD_WEBHOOK_* variables).
	ExtraEnv []codebuild.EnvironmentVariable `json:"extraEnv,omitempty"`
	// Combiner is the node combining the batch's artifacts (in
	// COMBINE_ARTIFACTS) until CombineUntil (Unix nanoseconds); after that
	// another node may take over.
	Combiner     string `json:"combiner,omitempty"`
	CombineUntil int64  `json:"combineUntil,omitempty"`
}

// Batch is a stored build batch.
type Batch struct {
	Scope Scope
	Doc   *codebuild.BuildBatch
	Meta  BatchMeta
	Seq   int64
	// Rev is the batch's revision, checked and incremented by BatchPut as
	// a build's is by BuildPut.
	Rev int64
}

// ReportGroup is a stored report group, found by its name within its scope
// (its ARN ends in report-group/<name>).
type ReportGroup struct {
	Scope Scope
	Doc   *codebuild.ReportGroup
}

// Report is a stored report with what it found: its test cases (a test
// report) or its files' coverages (a code coverage report), in file order.
type Report struct {
	Scope Scope
	Doc   *codebuild.Report
	// Group is the name of the report group the report belongs to.
	Group     string
	TestCases []codebuild.TestCase     `json:"testCases,omitempty"`
	Coverages []codebuild.CodeCoverage `json:"coverages,omitempty"`
	// Seq orders reports by creation; the store assigns it on insert.
	Seq int64
}

// Resource is a resource kept as an opaque JSON document: webhooks, source
// credentials, fleets, sandboxes, command executions, resource policies.
// It is found by (Scope, Kind, Name); Parent groups resources for listing
// (the project of a sandbox, the sandbox of a command execution) and Key
// is a second lookup key, unique within its kind across every scope (a
// webhook's or badge's token): ResourceByKey finds it without a scope.
type Resource struct {
	Scope  Scope
	Kind   string
	Name   string
	Parent string
	Key    string
	// Created orders listings; Modified is the last write's time.
	Created, Modified time.Time
	Doc               []byte
	// Live marks a resource that still needs a node's attention (a
	// sandbox not ended, a command not run): ResourceListLive finds the
	// live ones without reading the others.
	Live bool
}

// Resource kinds.
const (
	KindWebhook          = "webhook"
	KindSourceCredential = "source-credential"
	KindFleet            = "fleet"
	KindSandbox          = "sandbox"
	KindCommand          = "command-execution"
	KindPolicy           = "resource-policy"
	// KindServerSecret: a random secret every node of a deployment
	// shares (in the empty scope), such as the key signing console
	// sessions.
	KindServerSecret = "server-secret"
)

// Bucket is a bucket of the blob store with its owner.
type Bucket struct {
	Name    string
	Owner   Scope
	Created time.Time
}

// Tx is one transaction. Methods are named ResourceVerb; a miss returns an
// error wrapping ErrNotFound, a duplicate one wrapping ErrConflict.
type Tx interface {
	ProjectInsert(ctx context.Context, s Scope, p *codebuild.Project) error
	ProjectGet(ctx context.Context, s Scope, name string) (*codebuild.Project, error)
	ProjectPut(ctx context.Context, s Scope, p *codebuild.Project) error
	ProjectDelete(ctx context.Context, s Scope, name string) error
	// ProjectList returns project names in the requested order and the
	// cursor of the next page (nil when this is the last one).
	ProjectList(ctx context.Context, s Scope, by ProjectSort, p Page) ([]string, *Cursor, error)

	// CounterNext increments and returns a per-project counter (kind
	// "build" or "batch"); the first value is 1.
	CounterNext(ctx context.Context, s Scope, project, kind string) (int64, error)

	BuildInsert(ctx context.Context, b *Build) error
	BuildGet(ctx context.Context, s Scope, id string) (*Build, error)
	// BuildPut replaces a build's document and meta data if its stored
	// revision is b.Rev (else ErrStale), and increments b.Rev. A complete
	// build's lease ends (LeaseUntil zero; Node is kept).
	BuildPut(ctx context.Context, b *Build) error
	// BuildClaim takes builds for node c.Node, leasing them until c.Until:
	// first every incomplete build whose lease expired before c.Now (an
	// orphan of a node that died; with c.Own also those c.Node holds),
	// then for each of c.Fleets up to its Limit of its scope's unclaimed
	// builds of that fleet whose open phase is QUEUED, then up to c.Limit
	// such builds that run on no fleet or on one of c.OnDemand, in
	// creation order. Each claimed build's Rev is incremented (so a former
	// holder's BuildPut fails with ErrStale) and its Node and LeaseUntil
	// set; they are returned in that order (orphans, each fleet's, the
	// on-demand ones), each part by creation.
	BuildClaim(ctx context.Context, c Claim) ([]*Build, error)
	// BuildRenew extends to until the leases of every incomplete build
	// node holds and returns them (a build the node runs that is not
	// returned was taken by another node).
	BuildRenew(ctx context.Context, node string, until time.Time) ([]Lease, error)
	// BuildCountQueued counts the builds, in every scope, whose open phase
	// is QUEUED and that no node claimed: all of them, and those not part
	// of a batch.
	BuildCountQueued(ctx context.Context) (all, standalone int, err error)
	// BuildFleetLoad reports, for every fleet with incomplete builds, how
	// many wait and how many run (in any scope, on any node).
	BuildFleetLoad(ctx context.Context) ([]FleetLoad, error)
	// BuildListQueued returns the builds BuildCountQueued counts, in
	// creation order.
	BuildListQueued(ctx context.Context) ([]*Build, error)
	// BuildRelease gives a claimed build back to the queue: no node holds
	// it any more (Node "", no lease) and its Rev is incremented, so any
	// node may claim it again. b.Rev must be the stored revision (else
	// ErrStale); on success b.Rev, b.Node and b.LeaseUntil are updated.
	BuildRelease(ctx context.Context, b *Build) error
	// BuildRequestStop marks a build to be stopped by whoever holds it
	// (it does not change the build's revision).
	BuildRequestStop(ctx context.Context, s Scope, id string) error
	BuildDelete(ctx context.Context, s Scope, id string) error
	// BuildList lists build ids, of one project or (project "") all, in
	// creation order (Page.Descending: newest first).
	BuildList(ctx context.Context, s Scope, project string, p Page) ([]string, *Cursor, error)
	// BuildListIncomplete returns every build, in any scope, that is not
	// complete, in creation order (for the scheduler after a restart).
	BuildListIncomplete(ctx context.Context) ([]*Build, error)
	// BuildListAfter returns up to limit builds, in any scope, whose Seq
	// is greater than seq, in Seq order; BuildLastSeq is the greatest Seq
	// of any build (0: none). (The console's change feed finds with them
	// the builds that began and ended between two of its reads.)
	BuildListAfter(ctx context.Context, seq int64, limit int) ([]*Build, error)
	BuildLastSeq(ctx context.Context) (int64, error)
	// BuildCountIncomplete counts a project's builds that are not complete.
	BuildCountIncomplete(ctx context.Context, s Scope, project string) (int, error)
	// BuildListByBatch returns a batch's builds in creation order.
	BuildListByBatch(ctx context.Context, s Scope, batchID string) ([]*Build, error)

	BatchInsert(ctx context.Context, b *Batch) error
	BatchGet(ctx context.Context, s Scope, id string) (*Batch, error)
	// BatchRev returns a batch's revision (ErrNotFound if missing): a
	// node that keeps a batch it wrote can tell whether it is still the
	// stored one without reading it.
	BatchRev(ctx context.Context, s Scope, id string) (int64, error)
	// BatchPut replaces a batch if its stored revision is b.Rev (else
	// ErrStale), and increments b.Rev.
	BatchPut(ctx context.Context, b *Batch) error
	BatchDelete(ctx context.Context, s Scope, id string) error
	// BatchList lists batch ids, of one project or (project "") all,
	// optionally only those whose buildBatchStatus is status, in creation
	// order (Page.Descending: newest first).
	BatchList(ctx context.Context, s Scope, project, status string, p Page) ([]string, *Cursor, error)
	// BatchListIncomplete returns every batch, in any scope, that is not
	// complete (for the coordinator after a restart).
	BatchListIncomplete(ctx context.Context) ([]*Batch, error)
	// BatchListAfter and BatchLastSeq are BuildListAfter and BuildLastSeq
	// for batches.
	BatchListAfter(ctx context.Context, seq int64, limit int) ([]*Batch, error)
	BatchLastSeq(ctx context.Context) (int64, error)

	// ProjectDocs, BuildDocs and BatchDocs return the stored JSON documents
	// of the given names or ids, in order, nil for a miss: the API answers
	// the BatchGet operations with them as they are.
	ProjectDocs(ctx context.Context, s Scope, names []string) ([][]byte, error)
	BuildDocs(ctx context.Context, s Scope, ids []string) ([][]byte, error)
	BatchDocs(ctx context.Context, s Scope, ids []string) ([][]byte, error)

	// ReportGroupInsert adds a report group (ErrConflict if its name is
	// taken in the scope); ReportGroupGet, ReportGroupPut and
	// ReportGroupDelete find it by name.
	ReportGroupInsert(ctx context.Context, g *ReportGroup) error
	ReportGroupGet(ctx context.Context, s Scope, name string) (*ReportGroup, error)
	ReportGroupPut(ctx context.Context, g *ReportGroup) error
	ReportGroupDelete(ctx context.Context, s Scope, name string) error
	// ReportGroupList lists report group names by name (ProjectsByName),
	// creation or last modification time, as ProjectList does.
	ReportGroupList(ctx context.Context, s Scope, by ProjectSort, p Page) ([]string, *Cursor, error)

	// ReportInsert adds a report (found by its ARN; ErrConflict if taken),
	// with its test cases or coverages.
	ReportInsert(ctx context.Context, r *Report) error
	ReportGet(ctx context.Context, s Scope, arn string) (*Report, error)
	// ReportPut replaces a report's document, test cases and coverages.
	ReportPut(ctx context.Context, r *Report) error
	ReportDelete(ctx context.Context, s Scope, arn string) error
	// ReportList lists report ARNs, of one report group or (group "") all,
	// optionally only those whose status is status, in creation order
	// (Page.Descending: newest first).
	ReportList(ctx context.Context, s Scope, group, status string, p Page) ([]string, *Cursor, error)

	// BucketOwner returns the scope (account and region) that owns a
	// bucket of the blob store; ok is false for a bucket no one owns yet
	// (one that was never written through buildbatch).
	BucketOwner(ctx context.Context, name string) (owner Scope, ok bool, err error)
	// BucketClaim makes s the owner of bucket name unless it has one
	// already, and returns the owner.
	BucketClaim(ctx context.Context, name string, s Scope, now time.Time) (Scope, error)
	// BucketList returns the buckets an account owns, in any region, by
	// name.
	BucketList(ctx context.Context, account string) ([]Bucket, error)
	// BucketRelease forgets a bucket's owner (its owner deleted it); an
	// unowned bucket is no error.
	BucketRelease(ctx context.Context, name string) error

	// ResourceInsert adds a resource (ErrConflict if its name, or its
	// non-empty Key, is taken); ResourcePut replaces one (ErrNotFound if
	// there is none) and ResourceDelete removes it.
	ResourceInsert(ctx context.Context, r *Resource) error
	ResourceGet(ctx context.Context, s Scope, kind, name string) (*Resource, error)
	ResourcePut(ctx context.Context, r *Resource) error
	ResourceDelete(ctx context.Context, s Scope, kind, name string) error
	// ResourceByKey finds a resource of a kind by its Key, in any scope.
	ResourceByKey(ctx context.Context, kind, key string) (*Resource, error)
	// ResourceList returns the resources of a kind in a scope, of one
	// parent (parent "" : all), by creation (then name). A zero Scope
	// lists every scope's.
	ResourceList(ctx context.Context, s Scope, kind, parent string) ([]*Resource, error)
	// ResourceListLive returns the live resources of a kind, in every
	// scope, by creation (then name).
	ResourceListLive(ctx context.Context, kind string) ([]*Resource, error)

	// IdempotencyGet returns what an earlier request with this token
	// created, if the token is younger than its expiry.
	IdempotencyGet(ctx context.Context, s Scope, op, token string, now time.Time) (requestHash, resourceID string, err error)
	IdempotencyPut(ctx context.Context, s Scope, op, token, requestHash, resourceID string, expires time.Time) error
}
