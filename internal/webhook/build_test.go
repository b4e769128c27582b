package webhook

import (
	"reflect"
	"testing"

	"github.com/buildbatch/buildbatch/internal/codebuild"
)

func envMap(t *testing.T, vars []codebuild.EnvironmentVariable) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, v := range vars {
		if codebuild.Deref(v.Type) != codebuild.EnvironmentVariableTypePlaintext {
			t.Errorf("%s has type %q", codebuild.Deref(v.Name), codebuild.Deref(v.Type))
		}
		m[codebuild.Deref(v.Name)] = codebuild.Deref(v.Value)
	}
	return m
}

func TestSourceVersionAndEnv(t *testing.T) {
	tests := []struct {
		name    string
		ev      Event
		version string
		env     map[string]string
	}{
		{
			name: "push",
			ev: Event{Name: EventPush, HeadRef: "refs/heads/main", Commit: "abc", PrevCommit: "def", ActorAccountID: "42",
				Files: []string{"a"}},
			version: "abc",
			env: map[string]string{
				"CODEBUILD_WEBHOOK_EVENT":            "PUSH",
				"CODEBUILD_WEBHOOK_TRIGGER":          "branch/main",
				"CODEBUILD_WEBHOOK_HEAD_REF":         "refs/heads/main",
				"CODEBUILD_WEBHOOK_PREV_COMMIT":      "def",
				"CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID": "42",
			},
		},
		{
			name:    "branch with slash",
			ev:      Event{Name: EventPush, HeadRef: "refs/heads/feature/x", Commit: "abc"},
			version: "abc",
			env: map[string]string{
				"CODEBUILD_WEBHOOK_EVENT":    "PUSH",
				"CODEBUILD_WEBHOOK_TRIGGER":  "branch/feature/x",
				"CODEBUILD_WEBHOOK_HEAD_REF": "refs/heads/feature/x",
			},
		},
		{
			name:    "tag push",
			ev:      Event{Name: EventPush, HeadRef: "refs/tags/v1.0.0", Commit: "abc", PrevCommit: zeroSHA},
			version: "abc",
			env: map[string]string{
				"CODEBUILD_WEBHOOK_EVENT":       "PUSH",
				"CODEBUILD_WEBHOOK_TRIGGER":     "tag/v1.0.0",
				"CODEBUILD_WEBHOOK_HEAD_REF":    "refs/tags/v1.0.0",
				"CODEBUILD_WEBHOOK_PREV_COMMIT": zeroSHA,
			},
		},
		{
			name: "merged pull request",
			ev: Event{Name: EventPullRequestMerged, PRNumber: 12, HeadRef: "refs/heads/f", BaseRef: "refs/heads/main",
				Commit: "abc", MergeCommit: "mmm", ActorAccountID: "7"},
			version: "pr/12",
			env: map[string]string{
				"CODEBUILD_WEBHOOK_EVENT":            "PULL_REQUEST_MERGED",
				"CODEBUILD_WEBHOOK_TRIGGER":          "pr/12",
				"CODEBUILD_WEBHOOK_HEAD_REF":         "refs/heads/f",
				"CODEBUILD_WEBHOOK_BASE_REF":         "refs/heads/main",
				"CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID": "7",
				"CODEBUILD_WEBHOOK_MERGE_COMMIT":     "mmm",
			},
		},
		{
			name:    "release without commit builds the tag",
			ev:      Event{Name: EventReleased, HeadRef: "refs/tags/0.0.1", TagName: "0.0.1"},
			version: "refs/tags/0.0.1",
			env: map[string]string{
				"CODEBUILD_WEBHOOK_EVENT":    "RELEASED",
				"CODEBUILD_WEBHOOK_TRIGGER":  "tag/0.0.1",
				"CODEBUILD_WEBHOOK_HEAD_REF": "refs/tags/0.0.1",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SourceVersion(&tc.ev); got != tc.version {
				t.Errorf("SourceVersion = %q, want %q", got, tc.version)
			}
			if got := envMap(t, Env(&tc.ev)); !reflect.DeepEqual(got, tc.env) {
				t.Errorf("Env = %v\nwant %v", got, tc.env)
			}
		})
	}
	if SourceVersion(nil) != "" || Env(nil) != nil {
		t.Error("nil event should give empty results")
	}
}

func TestEnvOrder(t *testing.T) {
	ev := Event{Name: EventPullRequestCreated, PRNumber: 1, HeadRef: "refs/heads/a", BaseRef: "refs/heads/b",
		PrevCommit: "p", ActorAccountID: "x", MergeCommit: "m"}
	var names []string
	for _, v := range Env(&ev) {
		names = append(names, *v.Name)
	}
	want := []string{"CODEBUILD_WEBHOOK_EVENT", "CODEBUILD_WEBHOOK_TRIGGER", "CODEBUILD_WEBHOOK_HEAD_REF",
		"CODEBUILD_WEBHOOK_BASE_REF", "CODEBUILD_WEBHOOK_PREV_COMMIT", "CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID",
		"CODEBUILD_WEBHOOK_MERGE_COMMIT"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("order = %v", names)
	}
}

func TestRepoMatches(t *testing.T) {
	gh := &Event{RepositoryName: "Codertocat/Hello-World",
		CloneURLs: []string{"https://github.com/Codertocat/Hello-World.git", "git@github.com:Codertocat/Hello-World.git"}}
	gl := &Event{RepositoryName: "group/sub/project",
		CloneURLs: []string{"http://gitlab.internal:8080/group/sub/project.git"}}
	bb := &Event{RepositoryName: "team_name/repo_name"}
	tests := []struct {
		name     string
		ev       *Event
		location string
		want     bool
	}{
		{"https with .git", gh, "https://github.com/Codertocat/Hello-World.git", true},
		{"https without .git", gh, "https://github.com/codertocat/hello-world", true},
		{"trailing slash", gh, "https://github.com/Codertocat/Hello-World/", true},
		{"host case", gh, "https://GitHub.com/Codertocat/Hello-World", true},
		{"scp ssh", gh, "git@github.com:Codertocat/Hello-World.git", true},
		{"ssh url with port", gh, "ssh://git@github.com:22/Codertocat/Hello-World.git", true},
		{"git protocol", gh, "git://github.com/Codertocat/Hello-World.git", true},
		{"userinfo", gh, "https://user:token@github.com/Codertocat/Hello-World.git", true},
		{"other repo", gh, "https://github.com/Codertocat/Other", false},
		{"other owner", gh, "https://github.com/Someone/Hello-World", false},
		{"repo name only is not enough", gh, "https://github.com/Hello-World", false},
		{"gitlab subgroup on another host name", gl, "https://gitlab.example.com/group/sub/project.git", true},
		{"gitlab other subgroup", gl, "https://gitlab.example.com/group/project.git", false},
		{"bitbucket by full name", bb, "https://bitbucket.org/team_name/repo_name.git", true},
		{"bitbucket with user", bb, "https://someone@bitbucket.org/team_name/repo_name.git", true},
		{"bitbucket other", bb, "https://bitbucket.org/team_name/other.git", false},
		{"no repository info", &Event{Name: EventPush}, "https://github.com/a/b", true},
		{"nil event", nil, "https://github.com/a/b", true},
		{"unparsable location", gh, "not a url", false},
		{"local path", &Event{CloneURLs: []string{"/srv/git/app.git"}}, "/srv/git/app.git", true},
		{"local path as a file URL", &Event{CloneURLs: []string{"file:///srv/git/app.git"}}, "/srv/git/app", true},
		{"another local path", &Event{CloneURLs: []string{"/srv/git/other.git"}}, "/srv/git/app.git", false},
		{"a local path is not a host's", &Event{CloneURLs: []string{"https://file/srv/git/app.git"}}, "/srv/git/app.git", false},
		{"empty location", gh, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := RepoMatches(tc.ev, tc.location); got != tc.want {
				t.Errorf("RepoMatches(%q) = %v, want %v", tc.location, got, tc.want)
			}
		})
	}
}

func TestProviderFamily(t *testing.T) {
	for p, want := range map[Provider]Provider{
		GitHub: GitHub, GitHubEnterprise: GitHub, GitLab: GitLab, GitLabSelfManaged: GitLab,
		Bitbucket: Bitbucket, "CODECOMMIT": "", "": "",
	} {
		if got := p.Family(); got != want {
			t.Errorf("%q.Family() = %q, want %q", p, got, want)
		}
		if p.Valid() != (want != "") {
			t.Errorf("%q.Valid() = %v", p, p.Valid())
		}
	}
	// Source types and providers share spelling.
	if Provider(codebuild.SourceTypeGithubEnterprise) != GitHubEnterprise || Provider(codebuild.SourceTypeGitlabSelfManaged) != GitLabSelfManaged {
		t.Error("provider constants diverge from codebuild source types")
	}
}
