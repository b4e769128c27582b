package webhook

import (
	"strings"
	"testing"

	"github.com/buildbatch/buildbatch/internal/codebuild"
)

func f(typ, pattern string) codebuild.WebhookFilter {
	return codebuild.WebhookFilter{Type: codebuild.String(typ), Pattern: codebuild.String(pattern)}
}

func fx(typ, pattern string) codebuild.WebhookFilter {
	w := f(typ, pattern)
	w.ExcludeMatchedPattern = codebuild.Bool(true)
	return w
}

type groups = [][]codebuild.WebhookFilter

func TestValidateFilterGroups(t *testing.T) {
	tests := []struct {
		name   string
		groups groups
		want   string // "" = valid
	}{
		{"none", nil, ""},
		{"single event", groups{{f("EVENT", "PUSH")}}, ""},
		{"event list with spaces", groups{{f("EVENT", "PUSH, PULL_REQUEST_CREATED ,PULL_REQUEST_UPDATED")}}, ""},
		{"all types", groups{{
			f("EVENT", "PUSH"), f("BASE_REF", "^refs/heads/main$"), f("HEAD_REF", "^refs/heads/"),
			f("ACTOR_ACCOUNT_ID", "^123$"), f("FILE_PATH", `\.go$`), fx("COMMIT_MESSAGE", `\[skip ci\]`),
			f("TAG_NAME", "v.*"), f("RELEASE_NAME", ".*"), f("REPOSITORY_NAME", "repo"),
			f("ORGANIZATION_NAME", "org"), f("WORKFLOW_NAME", "ci"),
		}}, ""},
		{"every known event", groups{{f("EVENT", strings.Join(EventNames, ","))}}, ""},
		{"missing event", groups{{f("HEAD_REF", "main")}}, "Invalid filter group: filterGroups[0]: each filter group must contain exactly one EVENT filter"},
		{"two events", groups{{f("EVENT", "PUSH"), f("EVENT", "PULL_REQUEST_CREATED")}}, "exactly one EVENT filter (found 2)"},
		{"empty group", groups{{f("EVENT", "PUSH")}, {}}, "filterGroups[1]: each filter group must contain exactly one EVENT filter"},
		{"unknown event", groups{{f("EVENT", "PUSH, PULL_REQUEST_OPENED")}}, `Invalid EVENT filter pattern: filterGroups[0][0]: "PULL_REQUEST_OPENED" is not a valid event`},
		{"lowercase event", groups{{f("EVENT", "push")}}, `"push" is not a valid event`},
		{"empty event item", groups{{f("EVENT", "PUSH,")}}, `"" is not a valid event`},
		{"empty event pattern", groups{{f("EVENT", "")}}, `"" is not a valid event`},
		{"unknown type", groups{{f("EVENT", "PUSH"), f("BRANCH", "main")}}, `Invalid filter type: filterGroups[0][1]: "BRANCH" is not a valid filter type`},
		{"bad regexp", groups{{f("EVENT", "PUSH"), f("HEAD_REF", "refs/heads/(main")}}, `Invalid filter pattern: filterGroups[0][1]: HEAD_REF pattern "refs/heads/(main" is not a valid regular expression`},
		{"nil type", groups{{{Pattern: codebuild.String("PUSH")}}}, "type is required"},
		{"nil pattern", groups{{{Type: codebuild.String("EVENT")}}}, "pattern is required"},
		{"second group invalid", groups{{f("EVENT", "PUSH")}, {f("EVENT", "RELEASED"), f("TAG_NAME", "*")}}, "filterGroups[1][1]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateFilterGroups(tc.groups)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want containing %q", err, tc.want)
			}
		})
	}
	if err := ValidateBranchFilter("^(main|release/.*)$"); err != nil {
		t.Error(err)
	}
	if err := ValidateBranchFilter("("); err == nil || !strings.HasPrefix(err.Error(), "Invalid branch filter") {
		t.Errorf("ValidateBranchFilter(\"(\") = %v", err)
	}
}

func TestMatch(t *testing.T) {
	push := &Event{Name: EventPush, HeadRef: "refs/heads/main", Commit: "abc", ActorAccountID: "123",
		CommitMessage: "fix: thing", Files: []string{"src/app.go", "README.md"},
		RepositoryName: "octo-org/octo-repo", OrganizationName: "octo-org"}
	tagPush := &Event{Name: EventPush, HeadRef: "refs/tags/v1.2.0", Commit: "abc"}
	pr := &Event{Name: EventPullRequestCreated, PRNumber: 5, HeadRef: "refs/heads/feature/x",
		BaseRef: "refs/heads/main", Commit: "def", ActorAccountID: "456"}
	release := &Event{Name: EventReleased, HeadRef: "refs/tags/v2", TagName: "v2", ReleaseName: "Version 2"}
	job := &Event{Name: EventWorkflowJobQueued, WorkflowName: "CI build"}
	deleted := &Event{Name: EventPush, HeadRef: "refs/heads/old", Deleted: true}
	ping := &Event{Kind: "ping"}

	tests := []struct {
		name   string
		groups groups
		branch string
		ev     *Event
		want   bool
	}{
		// Defaults.
		{"default push", nil, "", push, true},
		{"default pr", nil, "", pr, true},
		{"default release does not build", nil, "", release, false},
		{"default workflow job does not build", nil, "", job, false},
		{"deleted never builds", nil, "", deleted, false},
		{"deleted never builds with filters", groups{{f("EVENT", "PUSH")}}, "", deleted, false},
		{"ping never builds", nil, "", ping, false},
		{"nil event", nil, "", nil, false},

		// Legacy branch filter.
		{"branch filter match", nil, "^main$", push, true},
		{"branch filter miss", nil, "^develop$", push, false},
		{"branch filter on pr head", nil, "^feature/", pr, true},
		{"branch filter does not see tags as branches", nil, "^v1", tagPush, false},
		{"invalid branch filter", nil, "(", push, false},
		{"branch filter ignored with groups", groups{{f("EVENT", "PUSH")}}, "^develop$", push, true},

		// EVENT.
		{"event list", groups{{f("EVENT", "PULL_REQUEST_UPDATED, PUSH")}}, "", push, true},
		{"event exact, no substring", groups{{f("EVENT", "PULL_REQUEST_CREATED_X")}}, "", pr, false},
		{"event miss", groups{{f("EVENT", "PULL_REQUEST_CREATED")}}, "", push, false},
		{"released via filter", groups{{f("EVENT", "RELEASED")}}, "", release, true},
		{"workflow job via filter", groups{{f("EVENT", "WORKFLOW_JOB_QUEUED"), f("WORKFLOW_NAME", "^CI")}}, "", job, true},

		// AND within a group, OR across groups.
		{"and: all pass", groups{{f("EVENT", "PUSH"), f("HEAD_REF", "^refs/heads/main$"), f("ACTOR_ACCOUNT_ID", "^123$")}}, "", push, true},
		{"and: one fails", groups{{f("EVENT", "PUSH"), f("HEAD_REF", "^refs/heads/main$"), f("ACTOR_ACCOUNT_ID", "^999$")}}, "", push, false},
		{"or: second group passes", groups{{f("EVENT", "PUSH"), f("HEAD_REF", "develop")}, {f("EVENT", "PUSH"), f("HEAD_REF", "main")}}, "", push, true},
		{"or: none passes", groups{{f("EVENT", "PUSH"), f("HEAD_REF", "develop")}, {f("EVENT", "PULL_REQUEST_CREATED")}}, "", push, false},
		{"empty group never passes", groups{{}}, "", push, false},

		// Regex find semantics.
		{"unanchored", groups{{f("EVENT", "PUSH"), f("HEAD_REF", "main")}}, "", push, true},
		{"anchored miss", groups{{f("EVENT", "PUSH"), f("HEAD_REF", "^main$")}}, "", push, false},
		{"tag ref", groups{{f("EVENT", "PUSH"), f("HEAD_REF", `^refs/tags/v1\.`)}}, "", tagPush, true},

		// Exclusion.
		{"exclude matching", groups{{f("EVENT", "PUSH"), fx("HEAD_REF", "main")}}, "", push, false},
		{"exclude non-matching", groups{{f("EVENT", "PUSH"), fx("HEAD_REF", "develop")}}, "", push, true},
		{"exclude event", groups{{fx("EVENT", "PULL_REQUEST_CREATED")}}, "", push, true},
		{"skip ci commit message", groups{{f("EVENT", "PUSH"), fx("COMMIT_MESSAGE", `\[skip ci\]`)}}, "", push, true},

		// Absent values.
		{"base ref absent on push", groups{{f("EVENT", "PUSH"), f("BASE_REF", ".*")}}, "", push, false},
		{"excluded base ref absent on push passes", groups{{f("EVENT", "PUSH"), fx("BASE_REF", "main")}}, "", push, true},
		{"base ref on pr", groups{{f("EVENT", "PULL_REQUEST_CREATED"), f("BASE_REF", "^refs/heads/main$")}}, "", pr, true},
		{"file path absent on pr", groups{{f("EVENT", "PULL_REQUEST_CREATED"), f("FILE_PATH", ".*")}}, "", pr, false},
		{"excluded file path absent on pr", groups{{f("EVENT", "PULL_REQUEST_CREATED"), fx("FILE_PATH", "docs/")}}, "", pr, true},
		{"commit message absent on pr", groups{{f("EVENT", "PULL_REQUEST_CREATED"), f("COMMIT_MESSAGE", ".")}}, "", pr, false},

		// FILE_PATH.
		{"file path any", groups{{f("EVENT", "PUSH"), f("FILE_PATH", `\.go$`)}}, "", push, true},
		{"file path none", groups{{f("EVENT", "PUSH"), f("FILE_PATH", `^docs/`)}}, "", push, false},
		{"excluded file path, one matches", groups{{f("EVENT", "PUSH"), fx("FILE_PATH", `README`)}}, "", push, false},
		{"excluded file path, none matches", groups{{f("EVENT", "PUSH"), fx("FILE_PATH", `^docs/`)}}, "", push, true},

		// Release / repository / organization.
		{"tag name", groups{{f("EVENT", "RELEASED, PRERELEASED"), f("TAG_NAME", "^v2$")}}, "", release, true},
		{"release name", groups{{f("EVENT", "RELEASED"), f("RELEASE_NAME", "^Version")}}, "", release, true},
		{"tag name absent on push", groups{{f("EVENT", "PUSH"), f("TAG_NAME", ".*")}}, "", push, false},
		{"repository full name", groups{{f("EVENT", "PUSH"), f("REPOSITORY_NAME", "^octo-org/octo-repo$")}}, "", push, true},
		{"repository bare name", groups{{f("EVENT", "PUSH"), f("REPOSITORY_NAME", "^octo-repo$")}}, "", push, true},
		{"excluded repository bare name", groups{{f("EVENT", "PUSH"), fx("REPOSITORY_NAME", "^octo-repo$")}}, "", push, false},
		{"organization", groups{{f("EVENT", "PUSH"), f("ORGANIZATION_NAME", "^octo-org$")}}, "", push, true},

		// Malformed filters never pass.
		{"invalid regexp", groups{{f("EVENT", "PUSH"), f("HEAD_REF", "(")}}, "", push, false},
		{"unknown type", groups{{f("EVENT", "PUSH"), f("BRANCH", "main")}}, "", push, false},
		{"nil pattern", groups{{f("EVENT", "PUSH"), {Type: codebuild.String("HEAD_REF")}}}, "", push, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Match(tc.groups, tc.branch, tc.ev); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestMatchFixtures runs typical project configurations against real payloads.
func TestMatchFixtures(t *testing.T) {
	mainOnly := groups{{f("EVENT", "PUSH"), f("HEAD_REF", "^refs/heads/master$")}}
	prToMaster := groups{{f("EVENT", "PULL_REQUEST_CREATED, PULL_REQUEST_UPDATED, PULL_REQUEST_REOPENED"), f("BASE_REF", "^refs/heads/master$")}}
	tests := []struct {
		fixture string
		header  []string
		groups  groups
		want    bool
	}{
		{"github_push.json", []string{"X-GitHub-Event", "push"}, mainOnly, true},
		{"github_push.json", []string{"X-GitHub-Event", "push"}, prToMaster, false},
		{"github_push_tag_deleted.json", []string{"X-GitHub-Event", "push"}, nil, false},
		{"github_pull_request_opened.json", []string{"X-GitHub-Event", "pull_request"}, prToMaster, true},
		{"github_pull_request_closed.json", []string{"X-GitHub-Event", "pull_request"}, prToMaster, false},
		{"github_ping.json", []string{"X-GitHub-Event", "ping"}, nil, false},
		{"gitlab_push.json", []string{"X-Gitlab-Event", "Push Hook"}, mainOnly, true},
		{"gitlab_merge_request.json", []string{"X-Gitlab-Event", "Merge Request Hook"}, prToMaster, true},
		{"bitbucket_repo_push.json", []string{"X-Event-Key", "repo:push"}, mainOnly, false},
		{"bitbucket_pullrequest.json", []string{"X-Event-Key", "pullrequest:created"}, prToMaster, true},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			_, ev, err := Parse(hdr(tc.header...), readFixture(t, tc.fixture))
			if err != nil {
				t.Fatal(err)
			}
			if got := Match(tc.groups, "", ev); got != tc.want {
				t.Errorf("Match = %v, want %v (event %+v)", got, tc.want, ev)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	policy := func(requires string, roles ...string) *codebuild.PullRequestBuildPolicy {
		return &codebuild.PullRequestBuildPolicy{RequiresCommentApproval: codebuild.String(requires), ApproverRoles: roles}
	}
	pr := func(role string, fork bool) *Event {
		return &Event{Name: EventPullRequestCreated, PRNumber: 3, AuthorRole: role, Fork: fork}
	}
	approval := func(role string) *Event { return &Event{ApprovedCommit: "abc1234", PRNumber: 3, AuthorRole: role} }
	writers := []string{"GITHUB_ADMIN", "GITHUB_MAINTAIN", "GITHUB_WRITE"}
	for _, c := range []struct {
		name   string
		policy *codebuild.PullRequestBuildPolicy
		ev     *Event
		want   Approval
	}{
		{"no policy", nil, pr("GITHUB_READ", true), Build},
		{"disabled", policy("DISABLED"), pr("GITHUB_READ", true), Build},
		{"all, untrusted", policy("ALL_PULL_REQUESTS", writers...), pr("GITHUB_READ", false), Hold},
		{"all, unknown role", policy("ALL_PULL_REQUESTS", writers...), pr("", false), Hold},
		{"all, trusted", policy("ALL_PULL_REQUESTS", writers...), pr("GITHUB_WRITE", false), Build},
		{"forks, not a fork", policy("FORK_PULL_REQUESTS", writers...), pr("GITHUB_READ", false), Build},
		{"forks, a fork", policy("FORK_PULL_REQUESTS", writers...), pr("GITHUB_READ", true), Hold},
		{"a push is never held", policy("ALL_PULL_REQUESTS"), &Event{Name: EventPush}, Build},
		{"a merge is not held", policy("ALL_PULL_REQUESTS"), &Event{Name: EventPullRequestMerged, PRNumber: 3}, Build},
		{"approval by a trusted user", policy("ALL_PULL_REQUESTS", writers...), approval("GITHUB_MAINTAIN"), Approved},
		{"approval by an untrusted user", policy("ALL_PULL_REQUESTS", writers...), approval("GITHUB_READ"), Ignore},
		{"approval without a policy", nil, approval("GITHUB_ADMIN"), Ignore},
	} {
		if got := Decide(c.policy, c.ev); got != c.want {
			t.Errorf("%s: Decide = %v, want %v", c.name, got, c.want)
		}
	}
}
