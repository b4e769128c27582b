package webhook

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/buildbatch/buildbatch/internal/codebuild"
)

// FilterTypes lists the known webhook filter types.
var FilterTypes = []string{
	codebuild.WebhookFilterTypeEvent,
	codebuild.WebhookFilterTypeBaseRef,
	codebuild.WebhookFilterTypeHeadRef,
	codebuild.WebhookFilterTypeActorAccountId,
	codebuild.WebhookFilterTypeFilePath,
	codebuild.WebhookFilterTypeCommitMessage,
	codebuild.WebhookFilterTypeTagName,
	codebuild.WebhookFilterTypeReleaseName,
	codebuild.WebhookFilterTypeRepositoryName,
	codebuild.WebhookFilterTypeOrganizationName,
	codebuild.WebhookFilterTypeWorkflowName,
}

func knownFilterType(t string) bool {
	for _, k := range FilterTypes {
		if k == t {
			return true
		}
	}
	return false
}

// eventList splits an EVENT pattern ("PUSH, PULL_REQUEST_CREATED") into
// trimmed names; empty items are kept as "" so validation can reject them.
func eventList(pattern string) []string {
	parts := strings.Split(pattern, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// ValidateFilterGroups checks filter groups as CreateWebhook/UpdateWebhook
// must before storing them: every group holds exactly one EVENT filter whose
// pattern is a comma-separated list of known event names; every other
// filter has a known type and a pattern that compiles as a regular
// expression. The error message is meant for an InvalidInputException.
func ValidateFilterGroups(groups [][]codebuild.WebhookFilter) error {
	for gi, g := range groups {
		events := 0
		for fi, f := range g {
			where := fmt.Sprintf("filterGroups[%d][%d]", gi, fi)
			if f.Type == nil || *f.Type == "" {
				return fmt.Errorf("Invalid filter: %s: type is required", where)
			}
			if f.Pattern == nil {
				return fmt.Errorf("Invalid filter: %s: pattern is required", where)
			}
			t, pat := *f.Type, *f.Pattern
			if !knownFilterType(t) {
				return fmt.Errorf("Invalid filter type: %s: %q is not a valid filter type; valid types are %s",
					where, t, strings.Join(FilterTypes, ", "))
			}
			if t == codebuild.WebhookFilterTypeEvent {
				events++
				for _, name := range eventList(pat) {
					if !knownEvent(name) {
						return fmt.Errorf("Invalid EVENT filter pattern: %s: %q is not a valid event; valid events are %s",
							where, name, strings.Join(EventNames, ", "))
					}
				}
				continue
			}
			if _, err := compile(pat); err != nil {
				return fmt.Errorf("Invalid filter pattern: %s: %s pattern %q is not a valid regular expression: %v",
					where, t, pat, err)
			}
		}
		if events != 1 {
			return fmt.Errorf("Invalid filter group: filterGroups[%d]: each filter group must contain exactly one EVENT filter (found %d)", gi, events)
		}
	}
	return nil
}

// ValidateBranchFilter checks the legacy branchFilter (a regular expression).
func ValidateBranchFilter(branchFilter string) error {
	if _, err := compile(branchFilter); err != nil {
		return fmt.Errorf("Invalid branch filter: %q is not a valid regular expression: %v", branchFilter, err)
	}
	return nil
}

// Match decides whether ev starts a build for a webhook with the given
// filter groups and legacy branch filter.
//
//   - Deliveries that build nothing (ev.Name == "", ev.Deleted) never match.
//   - With filter groups (branchFilter is then ignored): at least one group
//     must pass, and a group passes when every filter in it passes.
//   - EVENT passes when ev.Name is one of the comma-separated names.
//   - Other filters are regular expressions matched unanchored ("find").
//     FILE_PATH passes when any changed file matches. REPOSITORY_NAME is
//     tried against the full name (owner/repo) and the bare repo name.
//   - A filter whose value is absent for this event (BASE_REF on a push,
//     FILE_PATH with no known files, …) counts as not matching.
//   - excludeMatchedPattern inverts the outcome, so an excluded filter with
//     an absent value passes; an excluded FILE_PATH passes when no file
//     matches.
//   - A filter with a nil type/pattern or an invalid regular expression
//     never passes (ValidateFilterGroups rejects such filters up front).
//   - Without filter groups: PUSH and PULL_REQUEST_* events build (not
//     RELEASED, PRERELEASED, WORKFLOW_JOB_QUEUED); a non-empty branchFilter
//     must in addition match the head branch name (HeadRef without
//     "refs/heads/"). An invalid branchFilter matches nothing.
func Match(groups [][]codebuild.WebhookFilter, branchFilter string, ev *Event) bool {
	if !ev.Builds() {
		return false
	}
	if len(groups) == 0 {
		if ev.Name != EventPush && !ev.IsPullRequest() {
			return false
		}
		if branchFilter == "" {
			return true
		}
		re, err := compile(branchFilter)
		if err != nil {
			return false
		}
		return re.MatchString(strings.TrimPrefix(ev.HeadRef, "refs/heads/"))
	}
	for _, g := range groups {
		if groupPasses(g, ev) {
			return true
		}
	}
	return false
}

func groupPasses(g []codebuild.WebhookFilter, ev *Event) bool {
	if len(g) == 0 {
		return false
	}
	for _, f := range g {
		if !filterPasses(f, ev) {
			return false
		}
	}
	return true
}

func filterPasses(f codebuild.WebhookFilter, ev *Event) bool {
	if f.Type == nil || f.Pattern == nil {
		return false
	}
	exclude := codebuild.Deref(f.ExcludeMatchedPattern)
	t, pat := *f.Type, *f.Pattern

	if t == codebuild.WebhookFilterTypeEvent {
		matched := false
		for _, name := range eventList(pat) {
			if name != "" && name == ev.Name {
				matched = true
				break
			}
		}
		return matched != exclude
	}

	var values []string
	switch t {
	case codebuild.WebhookFilterTypeHeadRef:
		values = nonEmpty(ev.HeadRef)
	case codebuild.WebhookFilterTypeBaseRef:
		values = nonEmpty(ev.BaseRef)
	case codebuild.WebhookFilterTypeActorAccountId:
		values = nonEmpty(ev.ActorAccountID)
	case codebuild.WebhookFilterTypeFilePath:
		values = ev.Files
	case codebuild.WebhookFilterTypeCommitMessage:
		values = nonEmpty(ev.CommitMessage)
	case codebuild.WebhookFilterTypeTagName:
		values = nonEmpty(ev.TagName)
	case codebuild.WebhookFilterTypeReleaseName:
		values = nonEmpty(ev.ReleaseName)
	case codebuild.WebhookFilterTypeRepositoryName:
		values = nonEmpty(ev.RepositoryName)
		if i := strings.LastIndex(ev.RepositoryName, "/"); i >= 0 {
			values = append(values, ev.RepositoryName[i+1:])
		}
	case codebuild.WebhookFilterTypeOrganizationName:
		values = nonEmpty(ev.OrganizationName)
	case codebuild.WebhookFilterTypeWorkflowName:
		values = nonEmpty(ev.WorkflowName)
	default:
		return false // unknown type
	}
	re, err := compile(pat)
	if err != nil {
		return false
	}
	matched := false
	for _, v := range values {
		if re.MatchString(v) {
			matched = true
			break
		}
	}
	return matched != exclude
}

// compiled caches patterns: a busy receiver evaluates the same few filters
// on every delivery. Bounded so hostile patterns cannot grow it forever.
var (
	compiledMu sync.Mutex
	compiled   = map[string]*regexp.Regexp{}
)

const maxCompiled = 1024

func compile(pattern string) (*regexp.Regexp, error) {
	compiledMu.Lock()
	re, ok := compiled[pattern]
	compiledMu.Unlock()
	if ok {
		return re, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	compiledMu.Lock()
	if len(compiled) >= maxCompiled {
		clear(compiled)
	}
	compiled[pattern] = re
	compiledMu.Unlock()
	return re, nil
}

// Approval is what a pull request build policy decides about a delivery.
type Approval int

const (
	// Build: the policy lets the event build (no policy, or not a pull
	// request event, or a trusted author).
	Build Approval = iota
	// Hold: a pull request whose build needs an approval comment.
	Hold
	// Approved: an approval comment by a trusted user; build the pull
	// request.
	Approved
	// Ignore: an approval comment that approves nothing (no policy, or
	// an untrusted commenter).
	Ignore
)

// Decide applies a webhook's pullRequestBuildPolicy to a delivery:
// with requiresCommentApproval ALL_PULL_REQUESTS (or FORK_PULL_REQUESTS
// and a pull request from a fork) a pull request builds only if its
// author holds one of approverRoles, or once a user who holds one
// comments /codebuild_run(<sha>).
func Decide(policy *codebuild.PullRequestBuildPolicy, ev *Event) Approval {
	requires := ""
	var roles []string
	if policy != nil {
		requires, roles = codebuild.Deref(policy.RequiresCommentApproval), policy.ApproverRoles
	}
	active := requires == "ALL_PULL_REQUESTS" || (requires == "FORK_PULL_REQUESTS" && ev.Fork)
	trusted := ev.AuthorRole != "" && slices.Contains(roles, ev.AuthorRole)
	switch {
	case ev.ApprovedCommit != "":
		if requires != "" && requires != "DISABLED" && trusted {
			return Approved
		}
		return Ignore
	case ev.IsPullRequest() && active && !trusted && ev.Name != EventPullRequestClosed && ev.Name != EventPullRequestMerged:
		return Hold
	}
	return Build
}
