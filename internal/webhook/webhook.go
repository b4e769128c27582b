// Package webhook implements the receiver-side rules of CodeBuild webhooks:
// recognising a provider delivery (GitHub, GitHub Enterprise, GitLab,
// Bitbucket), authenticating it, turning its payload into an [Event],
// deciding whether a project's filter groups let it build, and deriving the
// source version and CODEBUILD_WEBHOOK_* variables of the resulting build.
//
// The package is pure: no I/O, no store, no HTTP server. Errors are plain Go
// errors whose messages are fit for an HTTP 400 (parse, filter validation) or
// 401/403 (signature) body.
package webhook

import (
	"strings"
)

// Provider is a CodeBuild source type that can deliver webhooks.
type Provider string

// Providers, spelled as the CodeBuild source types.
const (
	GitHub            Provider = "GITHUB"
	GitHubEnterprise  Provider = "GITHUB_ENTERPRISE"
	GitLab            Provider = "GITLAB"
	GitLabSelfManaged Provider = "GITLAB_SELF_MANAGED"
	Bitbucket         Provider = "BITBUCKET"
)

// Family maps a provider to the family that shares its delivery format:
// GITHUB_ENTERPRISE → GITHUB, GITLAB_SELF_MANAGED → GITLAB. Other values are
// returned unchanged; an unknown provider has family "".
func (p Provider) Family() Provider {
	switch p {
	case GitHub, GitHubEnterprise:
		return GitHub
	case GitLab, GitLabSelfManaged:
		return GitLab
	case Bitbucket:
		return Bitbucket
	}
	return ""
}

// Valid reports whether p is one of the webhook-capable source types.
func (p Provider) Valid() bool { return p.Family() != "" }

// displayName is the human name used as a fallback initiator.
func (p Provider) displayName() string {
	switch p.Family() {
	case GitHub:
		return "GitHub"
	case GitLab:
		return "GitLab"
	case Bitbucket:
		return "Bitbucket"
	}
	return string(p)
}

// Webhook event names (the values of EVENT filters and CODEBUILD_WEBHOOK_EVENT).
const (
	EventPush                = "PUSH"
	EventPullRequestCreated  = "PULL_REQUEST_CREATED"
	EventPullRequestUpdated  = "PULL_REQUEST_UPDATED"
	EventPullRequestReopened = "PULL_REQUEST_REOPENED"
	EventPullRequestMerged   = "PULL_REQUEST_MERGED"
	EventPullRequestClosed   = "PULL_REQUEST_CLOSED"
	EventReleased            = "RELEASED"
	EventPrereleased         = "PRERELEASED"
	EventWorkflowJobQueued   = "WORKFLOW_JOB_QUEUED"
)

// EventNames lists every known event name, in documentation order.
var EventNames = []string{
	EventPush,
	EventPullRequestCreated,
	EventPullRequestUpdated,
	EventPullRequestReopened,
	EventPullRequestMerged,
	EventPullRequestClosed,
	EventReleased,
	EventPrereleased,
	EventWorkflowJobQueued,
}

func knownEvent(name string) bool {
	for _, n := range EventNames {
		if n == name {
			return true
		}
	}
	return false
}

// Event is what a build needs to know about one webhook delivery.
//
// Fields the payload does not carry are left empty. In particular pull
// request payloads carry neither the changed files nor the head commit
// message; a caller that can ask the provider's API may fill Files and
// CommitMessage before calling [Match].
type Event struct {
	// Provider is the delivery's family: GITHUB, GITLAB or BITBUCKET.
	Provider Provider
	// Kind is the provider's own event type (X-GitHub-Event, X-Gitlab-Event,
	// X-Event-Key), Action the payload's action when it has one.
	Kind, Action string
	// Name is the CodeBuild event name (EventPush, …), or "" when the
	// delivery builds nothing (ping, labeled, unknown events).
	Name string
	// Delivery is the provider's delivery id (X-GitHub-Delivery,
	// X-Gitlab-Event-UUID, X-Request-UUID); use it for de-duplication.
	Delivery string
	// Initiator is the build's initiator: the provider's User-Agent product
	// token (e.g. "GitHub-Hookshot/044aadd") or else the provider name.
	Initiator string

	ActorAccountID string
	HeadRef        string // refs/heads/<branch> or refs/tags/<tag>
	BaseRef        string // pull request target, refs/heads/<branch>
	Commit         string // commit to build
	PrevCommit     string // previous head of the ref (push) or PR head before the update
	MergeCommit    string // merge commit of a merged pull request
	CommitMessage  string // head commit message
	Files          []string
	TagName        string // release tag
	ReleaseName    string
	// RepositoryName is the full path of the repository (owner/repo,
	// group/subgroup/repo).
	RepositoryName   string
	OrganizationName string
	WorkflowName     string
	PRNumber         int
	// CloneURLs holds the repository's http(s) and ssh clone URLs as present.
	CloneURLs []string
	// Deleted is set for pushes that delete a branch or tag: nothing builds.
	Deleted bool
	// AuthorRole is the repository role (an approverRoles value such as
	// GITHUB_WRITE) of a pull request's author, or of an approval
	// comment's author; "" when the payload does not tell (GitLab and
	// Bitbucket payloads carry no roles).
	AuthorRole string
	// Fork is set for a pull request from another repository.
	Fork bool
	// ApprovedCommit is the commit an approval comment
	// (/codebuild_run(<sha>)) approves, for pull request PRNumber.
	ApprovedCommit string
}

// IsPullRequest reports whether ev is one of the PULL_REQUEST_* events.
func (ev *Event) IsPullRequest() bool {
	return ev != nil && strings.HasPrefix(ev.Name, "PULL_REQUEST_")
}

// Builds reports whether the delivery can start a build at all (before
// filters): it has an event name and does not delete a ref.
func (ev *Event) Builds() bool {
	return ev != nil && ev.Name != "" && !ev.Deleted
}

const zeroSHA = "0000000000000000000000000000000000000000"

func isZeroSHA(s string) bool {
	return s != "" && strings.Trim(s, "0") == ""
}

func branchRef(name string) string {
	if name == "" || strings.HasPrefix(name, "refs/") {
		return name
	}
	return "refs/heads/" + name
}

func tagRef(name string) string {
	if name == "" || strings.HasPrefix(name, "refs/") {
		return name
	}
	return "refs/tags/" + name
}

// Header is a delivery's headers (an http.Header, whose Get is
// case-insensitive).
type Header interface {
	Get(key string) string
}
