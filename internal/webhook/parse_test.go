package webhook

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestParseFixtures(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		header  http.Header
		fam     Provider
		want    Event
	}{
		{
			name:    "github push",
			fixture: "github_push.json",
			header:  hdr("X-GitHub-Event", "push", "X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958", "User-Agent", "GitHub-Hookshot/044aadd"),
			fam:     GitHub,
			want: Event{
				Provider: GitHub, Kind: "push", Name: EventPush,
				Delivery:       "72d3162e-cc78-11e3-81ab-4c9367dc0958",
				Initiator:      "GitHub-Hookshot/044aadd",
				ActorAccountID: "13351472",
				HeadRef:        "refs/heads/master",
				Commit:         "fd489864e7642b48eaad6e3f155c10e46810ec72",
				PrevCommit:     "737d38c599c1b2991664dfc6155d6bf516fcce36",
				CommitMessage:  "test a push event",
				Files:          []string{".razorops.yaml", "app/controllers/application_controller.rb"},
				RepositoryName: "binkkatal/sample_app",
				CloneURLs:      []string{"https://github.com/binkkatal/sample_app.git", "git@github.com:binkkatal/sample_app.git"},
			},
		},
		{
			name:    "github tag deletion",
			fixture: "github_push_tag_deleted.json",
			header:  hdr("X-GitHub-Event", "push"),
			fam:     GitHub,
			want: Event{
				Provider: GitHub, Kind: "push", Name: EventPush, Initiator: "GitHub",
				ActorAccountID:   "21031067",
				HeadRef:          "refs/tags/simple-tag",
				PrevCommit:       "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
				RepositoryName:   "Codertocat/Hello-World",
				OrganizationName: "Octocoders",
				CloneURLs:        []string{"https://github.com/Codertocat/Hello-World.git", "git@github.com:Codertocat/Hello-World.git"},
				Deleted:          true,
			},
		},
		{
			name:    "github pull request opened",
			fixture: "github_pull_request_opened.json",
			header:  hdr("X-GitHub-Event", "pull_request"),
			fam:     GitHub,
			want: Event{
				Provider: GitHub, Kind: "pull_request", Action: "opened", Name: EventPullRequestCreated, Initiator: "GitHub",
				ActorAccountID: "21031067",
				AuthorRole:     "GITHUB_ADMIN", // author_association OWNER
				HeadRef:        "refs/heads/changes",
				BaseRef:        "refs/heads/master",
				Commit:         "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
				RepositoryName: "Codertocat/Hello-World",
				PRNumber:       2,
				CloneURLs:      []string{"https://github.com/Codertocat/Hello-World.git", "git@github.com:Codertocat/Hello-World.git"},
			},
		},
		{
			name:    "github pull request closed without merge",
			fixture: "github_pull_request_closed.json",
			header:  hdr("X-GitHub-Event", "pull_request"),
			fam:     GitHub,
			want: Event{
				Provider: GitHub, Kind: "pull_request", Action: "closed", Name: EventPullRequestClosed, Initiator: "GitHub",
				ActorAccountID: "21031067",
				AuthorRole:     "GITHUB_ADMIN", // author_association OWNER
				HeadRef:        "refs/heads/changes",
				BaseRef:        "refs/heads/master",
				Commit:         "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
				RepositoryName: "Codertocat/Hello-World",
				PRNumber:       2,
				CloneURLs:      []string{"https://github.com/Codertocat/Hello-World.git", "git@github.com:Codertocat/Hello-World.git"},
			},
		},
		{
			name:    "github release released",
			fixture: "github_release_released.json",
			header:  hdr("X-GitHub-Event", "release"),
			fam:     GitHub,
			want: Event{
				Provider: GitHub, Kind: "release", Action: "released", Name: EventReleased, Initiator: "GitHub",
				ActorAccountID: "21031067",
				HeadRef:        "refs/tags/0.0.1",
				TagName:        "0.0.1",
				RepositoryName: "Codertocat/Hello-World",
				CloneURLs:      []string{"https://github.com/Codertocat/Hello-World.git", "git@github.com:Codertocat/Hello-World.git"},
			},
		},
		{
			name:    "github workflow job queued",
			fixture: "github_workflow_job_queued.json",
			header:  hdr("X-GitHub-Event", "workflow_job"),
			fam:     GitHub,
			want: Event{
				Provider: GitHub, Kind: "workflow_job", Action: "queued", Name: EventWorkflowJobQueued, Initiator: "GitHub",
				ActorAccountID:   "21031067",
				Commit:           "3484a3fb816e0859fd6e1cea078d76385ff50625",
				RepositoryName:   "Codertocat/Hello-World",
				OrganizationName: "Octocoders",
				CloneURLs:        []string{"https://github.com/Codertocat/Hello-World.git", "git@github.com:Codertocat/Hello-World.git"},
			},
		},
		{
			name:    "github ping builds nothing",
			fixture: "github_ping.json",
			header:  hdr("X-GitHub-Event", "ping"),
			fam:     GitHub,
			want: Event{
				Provider: GitHub, Kind: "ping", Initiator: "GitHub",
				ActorAccountID:   "21031067",
				RepositoryName:   "Octocoders/Hello-World",
				OrganizationName: "Octocoders",
				CloneURLs:        []string{"https://github.com/Octocoders/Hello-World.git", "git@github.com:Octocoders/Hello-World.git"},
			},
		},
		{
			name:    "gitlab push",
			fixture: "gitlab_push.json",
			header:  hdr("X-Gitlab-Event", "Push Hook", "X-Gitlab-Event-UUID", "13792a34-cac6-4fda-95a8-c58e00a3954e", "User-Agent", "GitLab/15.5.0-pre"),
			fam:     GitLab,
			want: Event{
				Provider: GitLab, Kind: "Push Hook", Name: EventPush,
				Delivery:         "13792a34-cac6-4fda-95a8-c58e00a3954e",
				Initiator:        "GitLab/15.5.0-pre",
				ActorAccountID:   "4",
				HeadRef:          "refs/heads/master",
				Commit:           "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
				PrevCommit:       "95790bf891e76fee5e1747ab589903a6a1f80f22",
				CommitMessage:    "fixed readme\n",
				Files:            []string{"CHANGELOG", "app/controller/application.rb"},
				RepositoryName:   "mike/diaspora",
				OrganizationName: "mike",
				CloneURLs:        []string{"http://example.com/mike/diaspora.git", "git@example.com:mike/diaspora.git"},
			},
		},
		{
			name:    "gitlab tag push",
			fixture: "gitlab_tag_push.json",
			header:  hdr("X-Gitlab-Event", "Tag Push Hook"),
			fam:     GitLab,
			want: Event{
				Provider: GitLab, Kind: "Tag Push Hook", Name: EventPush, Initiator: "GitLab",
				ActorAccountID:   "1",
				HeadRef:          "refs/tags/v1.0.0",
				Commit:           "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7",
				PrevCommit:       zeroSHA,
				CommitMessage:    "Merge branch 'some-feature' into 'master'\n\nRelease v1.0.0\n\nSee merge request jsmith/example!1",
				Files:            []string{"CHANGELOG", "UPGRADE.md"},
				RepositoryName:   "jsmith/example",
				OrganizationName: "jsmith",
				CloneURLs:        []string{"http://example.com/jsmith/example.git", "git@example.com:jsmith/example.git"},
			},
		},
		{
			name:    "gitlab merge request opened",
			fixture: "gitlab_merge_request.json",
			header:  hdr("X-Gitlab-Event", "Merge Request Hook"),
			fam:     GitLab,
			want: Event{
				Provider: GitLab, Kind: "Merge Request Hook", Action: "open", Name: EventPullRequestCreated, Initiator: "GitLab",
				ActorAccountID:   "42",
				HeadRef:          "refs/heads/ms-viewport",
				BaseRef:          "refs/heads/master",
				Commit:           "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
				CommitMessage:    "fixed readme",
				PRNumber:         1,
				RepositoryName:   "gitlabhq/gitlab-test",
				OrganizationName: "gitlabhq",
				CloneURLs:        []string{"http://example.com/gitlabhq/gitlab-test.git", "git@example.com:gitlabhq/gitlab-test.git"},
			},
		},
		{
			name:    "gitlab release",
			fixture: "gitlab_release.json",
			header:  hdr("X-Gitlab-Event", "Release Hook"),
			fam:     GitLab,
			want: Event{
				Provider: GitLab, Kind: "Release Hook", Action: "create", Name: EventReleased, Initiator: "GitLab",
				HeadRef:          "refs/tags/1.0.0",
				Commit:           "2626dbdb936782b5c54816b1c6d45b1279303c6d",
				CommitMessage:    "Merge branch 'example-branch' into 'master'\n\nCheck in this test",
				TagName:          "1.0.0",
				ReleaseName:      "1.0.0",
				RepositoryName:   "exm-namespace/example-project",
				OrganizationName: "exm-namespace",
				CloneURLs:        []string{"http://example.com/exm-namespace/example-project.git", "git@gitlab.com:exm-namespace/example-project.git"},
			},
		},
		{
			name:    "gitlab job hook (finished job builds nothing)",
			fixture: "gitlab_job.json",
			header:  hdr("X-Gitlab-Event", "Job Hook"),
			fam:     GitLab,
			want: Event{
				Provider: GitLab, Kind: "Job Hook", Action: "success", Initiator: "GitLab",
				ActorAccountID:   "2967854",
				HeadRef:          "refs/heads/main",
				Commit:           "95d49d1efbd941908580e79d65e4b5ecaf4a8305",
				CommitMessage:    "Remove test jobs and add back other jobs",
				WorkflowName:     "auto_deploy:start",
				RepositoryName:   "jsmithy2/release-tools-fake",
				OrganizationName: "jsmithy2",
				CloneURLs:        []string{"https://gitlab.com/jsmithy2/release-tools-fake.git", "git@gitlab.com:jsmithy2/release-tools-fake.git"},
			},
		},
		{
			name:    "bitbucket push",
			fixture: "bitbucket_repo_push.json",
			header:  hdr("X-Event-Key", "repo:push", "X-Request-UUID", "afe1b9b2-0e3c-4a5f-8f53-12b3b1c7d5e0", "User-Agent", "Bitbucket-Webhooks/2.0"),
			fam:     Bitbucket,
			want: Event{
				Provider: Bitbucket, Kind: "repo:push", Name: EventPush,
				Delivery:         "afe1b9b2-0e3c-4a5f-8f53-12b3b1c7d5e0",
				Initiator:        "Bitbucket-Webhooks/2.0",
				ActorAccountID:   "{a54f16da-24e9-4d7f-a3a7-b1ba2cd98aa3}",
				HeadRef:          "refs/heads/name-of-branch",
				Commit:           "709d658dc5b6d6afcd46049c2f332ee3f515a67d",
				PrevCommit:       "1e65c05c1d5171631d92438a13901ca7dae9618c",
				CommitMessage:    "new commit message\n",
				RepositoryName:   "team_name/repo_name",
				OrganizationName: "team_name",
			},
		},
		{
			name:    "bitbucket pull request fulfilled",
			fixture: "bitbucket_pullrequest.json",
			header:  hdr("X-Event-Key", "pullrequest:fulfilled"),
			fam:     Bitbucket,
			want: Event{
				Provider: Bitbucket, Kind: "pullrequest:fulfilled", Action: "fulfilled", Name: EventPullRequestMerged, Initiator: "Bitbucket",
				ActorAccountID:   "udfy9suggmzpswxc7n200y3c",
				HeadRef:          "refs/heads/branch2",
				BaseRef:          "refs/heads/master",
				Commit:           "d3022fc0ca3d",
				MergeCommit:      "764413d85e29",
				PRNumber:         1,
				RepositoryName:   "team_name/repo_name",
				OrganizationName: "team_name",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fam, ev, err := Parse(tc.header, readFixture(t, tc.fixture))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if fam != tc.fam {
				t.Errorf("family = %q, want %q", fam, tc.fam)
			}
			if !reflect.DeepEqual(*ev, tc.want) {
				t.Errorf("event mismatch\n got: %+v\nwant: %+v", *ev, tc.want)
			}
		})
	}
}

// TestParseActions covers action → event-name mappings on top of the real
// fixtures by rewriting the action/event key only.
func TestParseActions(t *testing.T) {
	ghPR := string(readFixture(t, "github_pull_request_opened.json"))
	ghRel := string(readFixture(t, "github_release_released.json"))
	glMR := string(readFixture(t, "gitlab_merge_request.json"))
	glJob := string(readFixture(t, "gitlab_job.json"))
	glRel := string(readFixture(t, "gitlab_release.json"))
	bbPR := string(readFixture(t, "bitbucket_pullrequest.json"))
	ghWJ := string(readFixture(t, "github_workflow_job_queued.json"))

	tests := []struct {
		name   string
		header http.Header
		body   string
		want   string
	}{
		{"gh synchronize", hdr("X-GitHub-Event", "pull_request"), strings.Replace(ghPR, `"action": "opened"`, `"action": "synchronize"`, 1), EventPullRequestUpdated},
		{"gh reopened", hdr("X-GitHub-Event", "pull_request"), strings.Replace(ghPR, `"action": "opened"`, `"action": "reopened"`, 1), EventPullRequestReopened},
		{"gh labeled", hdr("X-GitHub-Event", "pull_request"), strings.Replace(ghPR, `"action": "opened"`, `"action": "labeled"`, 1), ""},
		{"gh edited", hdr("X-GitHub-Event", "pull_request"), strings.Replace(ghPR, `"action": "opened"`, `"action": "edited"`, 1), ""},
		{"gh prereleased", hdr("X-GitHub-Event", "release"), strings.Replace(ghRel, `"action": "released"`, `"action": "prereleased"`, 1), EventPrereleased},
		{"gh published", hdr("X-GitHub-Event", "release"), strings.Replace(ghRel, `"action": "released"`, `"action": "published"`, 1), ""},
		{"gh workflow job completed", hdr("X-GitHub-Event", "workflow_job"), strings.Replace(ghWJ, `"action": "queued"`, `"action": "completed"`, 1), ""},
		{"gh unknown event", hdr("X-GitHub-Event", "issues"), `{"action":"opened"}`, ""},
		{"gl update", hdr("X-Gitlab-Event", "Merge Request Hook"), strings.Replace(glMR, `"action": "open"`, `"action": "update"`, 1), EventPullRequestUpdated},
		{"gl merge", hdr("X-Gitlab-Event", "Merge Request Hook"), strings.Replace(glMR, `"action": "open"`, `"action": "merge"`, 1), EventPullRequestMerged},
		{"gl reopen", hdr("X-Gitlab-Event", "Merge Request Hook"), strings.Replace(glMR, `"action": "open"`, `"action": "reopen"`, 1), EventPullRequestReopened},
		{"gl close", hdr("X-Gitlab-Event", "Merge Request Hook"), strings.Replace(glMR, `"action": "open"`, `"action": "close"`, 1), EventPullRequestClosed},
		{"gl approved", hdr("X-Gitlab-Event", "Merge Request Hook"), strings.Replace(glMR, `"action": "open"`, `"action": "approved"`, 1), ""},
		{"gl job pending", hdr("X-Gitlab-Event", "Job Hook"), strings.Replace(glJob, `"build_status": "success"`, `"build_status": "pending"`, 1), EventWorkflowJobQueued},
		{"gl release update", hdr("X-Gitlab-Event", "Release Hook"), strings.Replace(glRel, `"action": "create"`, `"action": "update"`, 1), EventReleased},
		{"gl release delete", hdr("X-Gitlab-Event", "Release Hook"), strings.Replace(glRel, `"action": "create"`, `"action": "delete"`, 1), ""},
		{"gl note", hdr("X-Gitlab-Event", "Note Hook"), `{"object_kind":"note"}`, ""},
		{"bb created", hdr("X-Event-Key", "pullrequest:created"), bbPR, EventPullRequestCreated},
		{"bb updated", hdr("X-Event-Key", "pullrequest:updated"), bbPR, EventPullRequestUpdated},
		{"bb rejected", hdr("X-Event-Key", "pullrequest:rejected"), bbPR, EventPullRequestClosed},
		{"bb approved", hdr("X-Event-Key", "pullrequest:approved"), bbPR, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ev, err := Parse(tc.header, []byte(tc.body))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if ev.Name != tc.want {
				t.Errorf("Name = %q, want %q", ev.Name, tc.want)
			}
		})
	}
}

func TestParseDetails(t *testing.T) {
	t.Run("github merged PR carries the merge commit", func(t *testing.T) {
		body := strings.Replace(string(readFixture(t, "github_pull_request_closed.json")), `"merged": false`, `"merged": true`, 1)
		_, ev, err := Parse(hdr("X-GitHub-Event", "pull_request"), []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if ev.Name != EventPullRequestMerged || ev.MergeCommit != "c4295bd74fb0f4fda03689c3df3f2803b658fd85" {
			t.Errorf("got %q merge commit %q", ev.Name, ev.MergeCommit)
		}
	})
	t.Run("github synchronize sets PrevCommit from before", func(t *testing.T) {
		body := `{"action":"synchronize","number":7,"before":"aaa","after":"bbb","pull_request":{"number":7,"head":{"ref":"f","sha":"bbb"},"base":{"ref":"main","sha":"ccc"}}}`
		_, ev, err := Parse(hdr("X-GitHub-Event", "pull_request"), []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if ev.PrevCommit != "aaa" || ev.Commit != "bbb" || ev.PRNumber != 7 {
			t.Errorf("got %+v", ev)
		}
	})
	t.Run("bitbucket branch deletion", func(t *testing.T) {
		body := `{"actor":{"account_id":"x"},"repository":{"full_name":"a/b"},"push":{"changes":[{"new":null,"old":{"type":"branch","name":"gone","target":{"hash":"abc"}}}]}}`
		_, ev, err := Parse(hdr("X-Event-Key", "repo:push"), []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if !ev.Deleted || ev.HeadRef != "refs/heads/gone" || ev.Builds() {
			t.Errorf("got %+v", ev)
		}
	})
	t.Run("bitbucket new tag", func(t *testing.T) {
		body := `{"repository":{"full_name":"a/b"},"push":{"changes":[{"new":{"type":"tag","name":"v2","target":{"hash":"abc"}},"old":null}]}}`
		_, ev, err := Parse(hdr("X-Event-Key", "repo:push"), []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if ev.HeadRef != "refs/tags/v2" || ev.PrevCommit != zeroSHA || ev.Commit != "abc" {
			t.Errorf("got %+v", ev)
		}
	})
	t.Run("gitlab branch deletion", func(t *testing.T) {
		body := `{"object_kind":"push","ref":"refs/heads/x","before":"abc","after":"0000000000000000000000000000000000000000","checkout_sha":null}`
		_, ev, err := Parse(hdr("X-Gitlab-Event", "Push Hook"), []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if !ev.Deleted || ev.Commit != "" {
			t.Errorf("got %+v", ev)
		}
	})
	t.Run("hostile user agent falls back to the provider name", func(t *testing.T) {
		_, ev, err := Parse(hdr("X-GitHub-Event", "ping", "User-Agent", "\x01evil"), []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if ev.Initiator != "GitHub" {
			t.Errorf("Initiator = %q", ev.Initiator)
		}
	})
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		body   string
		want   string
	}{
		{"no provider header", hdr("Content-Type", "application/json"), `{}`, "unrecognized webhook delivery"},
		{"empty body", hdr("X-GitHub-Event", "push"), ``, "empty body"},
		{"not json", hdr("X-Gitlab-Event", "Push Hook"), `payload=%7B%7D`, "not valid JSON"},
		{"wrong type", hdr("X-GitHub-Event", "push"), `{"ref": 5}`, "invalid GitHub \"push\" webhook payload"},
		{"pr without pull_request", hdr("X-GitHub-Event", "pull_request"), `{"action":"opened"}`, "missing pull_request"},
		{"mr without attributes", hdr("X-Gitlab-Event", "Merge Request Hook"), `{}`, "missing object_attributes"},
		{"bb push without changes", hdr("X-Event-Key", "repo:push"), `{"push":{"changes":[]}}`, "missing push.changes"},
		{"bb pr without pullrequest", hdr("X-Event-Key", "pullrequest:created"), `{}`, "missing pullrequest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ev, err := Parse(tc.header, []byte(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want containing %q", err, tc.want)
			}
			if ev != nil {
				t.Errorf("event = %+v, want nil", ev)
			}
		})
	}
}

func TestParseApprovalComment(t *testing.T) {
	body := func(comment, association string, onPR bool) []byte {
		issue := map[string]any{"number": 7}
		if onPR {
			issue["pull_request"] = map[string]any{"url": "https://api.github.com/repos/o/r/pulls/7"}
		}
		b, _ := json.Marshal(map[string]any{"action": "created", "issue": issue,
			"comment":    map[string]any{"body": comment, "author_association": association},
			"repository": map[string]any{"full_name": "o/r", "clone_url": "https://github.com/o/r.git"}, "sender": map[string]any{"id": 5}})
		return b
	}
	for _, c := range []struct {
		name, comment, association string
		onPR                       bool
		sha, role                  string
	}{
		{"approval", "/codebuild_run(046e8b67481d53bdc86c3f6affdd5d1afae6d369)", "MEMBER", true, "046e8b67481d53bdc86c3f6affdd5d1afae6d369", "GITHUB_MAINTAIN"},
		{"approval among other lines", "looks good\n/codebuild_run(ABCDEF1)\n", "COLLABORATOR", true, "abcdef1", "GITHUB_WRITE"},
		{"not on a pull request", "/codebuild_run(abcdef1)", "OWNER", false, "", ""},
		{"another comment", "please run /codebuild_run(abcdef1) later", "OWNER", true, "", ""},
	} {
		fam, ev, err := Parse(http.Header{"X-Github-Event": {"issue_comment"}}, body(c.comment, c.association, c.onPR))
		if err != nil || fam != GitHub {
			t.Fatalf("%s: %v %v", c.name, fam, err)
		}
		if ev.ApprovedCommit != c.sha || (c.sha != "" && (ev.AuthorRole != c.role || ev.PRNumber != 7)) || ev.Builds() {
			t.Errorf("%s: %+v", c.name, ev)
		}
	}
}
