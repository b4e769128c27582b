package webhook

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/buildbatch/buildbatch/internal/codebuild"
)

// fuzzHeaders are the delivery kinds FuzzParse chooses from.
var fuzzHeaders = [][2]string{
	{HeaderGitHubEvent, "push"},
	{HeaderGitHubEvent, "pull_request"},
	{HeaderGitHubEvent, "release"},
	{HeaderGitHubEvent, "workflow_job"},
	{HeaderGitHubEvent, "ping"},
	{HeaderGitLabEvent, "Push Hook"},
	{HeaderGitLabEvent, "Tag Push Hook"},
	{HeaderGitLabEvent, "Merge Request Hook"},
	{HeaderGitLabEvent, "Release Hook"},
	{HeaderGitLabEvent, "Job Hook"},
	{HeaderBitbucketEvent, "repo:push"},
	{HeaderBitbucketEvent, "pullrequest:created"},
	{HeaderBitbucketEvent, "pullrequest:fulfilled"},
	{"Content-Type", "application/json"}, // no provider header
}

var fuzzGroups = [][]codebuild.WebhookFilter{
	{f("EVENT", "PUSH, PULL_REQUEST_CREATED, PULL_REQUEST_UPDATED, PULL_REQUEST_MERGED"), fx("FILE_PATH", "^docs/"), f("HEAD_REF", "^refs/heads/")},
	{f("EVENT", "RELEASED, PRERELEASED, WORKFLOW_JOB_QUEUED"), f("TAG_NAME", "."), f("REPOSITORY_NAME", "repo")},
	{f("EVENT", "PULL_REQUEST_CLOSED, PULL_REQUEST_REOPENED"), f("BASE_REF", "main"), fx("ACTOR_ACCOUNT_ID", "^0$")},
}

// FuzzParse feeds arbitrary bodies to Parse under each delivery kind and
// runs everything downstream on the result; nothing may panic.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for i := range fuzzHeaders {
			f.Add(uint8(i), b)
		}
	}
	f.Add(uint8(0), []byte(`{"ref":null,"commits":[null],"head_commit":{}}`))
	f.Add(uint8(7), []byte(`{"object_attributes":{"action":"merge","last_commit":null}}`))
	f.Add(uint8(10), []byte(`{"push":{"changes":[{"new":null,"old":null}]}}`))
	f.Add(uint8(9), []byte(`{"tag":true,"ref":"v1","commit":{"id":1}}`))

	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		kv := fuzzHeaders[int(which)%len(fuzzHeaders)]
		h := http.Header{}
		h.Set(kv[0], kv[1])
		fam, ev, err := Parse(h, body)
		if err != nil {
			if ev != nil {
				t.Fatalf("Parse returned an event with error %v", err)
			}
			return
		}
		if ev == nil || fam == "" || ev.Provider != fam {
			t.Fatalf("Parse = %q, %+v without error", fam, ev)
		}
		_ = Match(fuzzGroups, "", ev)
		_ = Match(nil, "^ma", ev)
		_ = SourceVersion(ev)
		_ = Env(ev)
		_ = RepoMatches(ev, "https://github.com/Codertocat/Hello-World.git")
		_ = Verify(fam, h, body, "secret")
	})
}
