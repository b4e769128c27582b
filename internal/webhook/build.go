package webhook

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/buildbatch/buildbatch/internal/codebuild"
)

// SourceVersion is the sourceVersion of the build ev starts: "pr/<n>" for
// pull request events, otherwise the commit SHA, otherwise the head ref
// (e.g. "refs/tags/v1" for a release without a commit in its payload).
func SourceVersion(ev *Event) string {
	if ev == nil {
		return ""
	}
	if (ev.IsPullRequest() || ev.ApprovedCommit != "") && ev.PRNumber > 0 {
		return "pr/" + strconv.Itoa(ev.PRNumber)
	}
	return firstNonEmpty(ev.Commit, ev.HeadRef)
}

// Trigger is the CODEBUILD_WEBHOOK_TRIGGER value: "pr/<n>", "branch/<name>"
// or "tag/<name>"; "" when unknown.
func Trigger(ev *Event) string {
	if ev == nil {
		return ""
	}
	if ev.IsPullRequest() && ev.PRNumber > 0 {
		return "pr/" + strconv.Itoa(ev.PRNumber)
	}
	if b, ok := strings.CutPrefix(ev.HeadRef, "refs/heads/"); ok && b != "" {
		return "branch/" + b
	}
	if t, ok := strings.CutPrefix(ev.HeadRef, "refs/tags/"); ok && t != "" {
		return "tag/" + t
	}
	if ev.TagName != "" {
		return "tag/" + ev.TagName
	}
	return ""
}

// Env returns the CODEBUILD_WEBHOOK_* variables of the build ev starts, in a
// fixed order and only those with a value, all of type PLAINTEXT:
// CODEBUILD_WEBHOOK_EVENT, _TRIGGER, _HEAD_REF, _BASE_REF, _PREV_COMMIT,
// _ACTOR_ACCOUNT_ID, _MERGE_COMMIT.
func Env(ev *Event) []codebuild.EnvironmentVariable {
	if ev == nil {
		return nil
	}
	pairs := [...][2]string{
		{"CODEBUILD_WEBHOOK_EVENT", ev.Name},
		{"CODEBUILD_WEBHOOK_TRIGGER", Trigger(ev)},
		{"CODEBUILD_WEBHOOK_HEAD_REF", ev.HeadRef},
		{"CODEBUILD_WEBHOOK_BASE_REF", ev.BaseRef},
		{"CODEBUILD_WEBHOOK_PREV_COMMIT", ev.PrevCommit},
		{"CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID", ev.ActorAccountID},
		{"CODEBUILD_WEBHOOK_MERGE_COMMIT", ev.MergeCommit},
	}
	var out []codebuild.EnvironmentVariable
	for _, p := range pairs {
		if p[1] == "" {
			continue
		}
		out = append(out, codebuild.EnvironmentVariable{
			Name:  codebuild.String(p[0]),
			Value: codebuild.String(p[1]),
			Type:  codebuild.String(codebuild.EnvironmentVariableTypePlaintext),
		})
	}
	return out
}

// RepoMatches reports whether the delivery's repository is the project's
// source location. Locations and clone URLs are compared as (host, path)
// after normalisation (https, http, ssh://, git://, scp-like git@host:path;
// user info, port and a trailing ".git" or "/" dropped; case-insensitive).
// The payload's RepositoryName (owner/repo) is compared with the location's
// path alone, so a provider known under another host name (GitLab
// external_url vs. internal URL) still matches. A payload without any
// repository information matches; an unparsable location matches nothing
// else.
func RepoMatches(ev *Event, sourceLocation string) bool {
	if ev == nil || (ev.RepositoryName == "" && len(ev.CloneURLs) == 0) {
		return true
	}
	host, path, ok := normalizeRepoURL(sourceLocation)
	if !ok {
		return false
	}
	for _, u := range ev.CloneURLs {
		if h, p, ok := normalizeRepoURL(u); ok && h == host && p == path {
			return true
		}
	}
	name := strings.ToLower(strings.TrimSuffix(strings.Trim(ev.RepositoryName, "/"), ".git"))
	return name != "" && name == path
}

// normalizeRepoURL splits a repository URL into lower-cased host and path
// (without leading/trailing slashes and ".git").
func normalizeRepoURL(raw string) (host, path string, ok bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", "", false
	}
	switch {
	case strings.HasPrefix(raw, "/"):
		// A repository on this machine (a local git source, a post-receive
		// hook's payload): its path is its identity.
		host, path = "/", raw // no host name is "/"
	case strings.HasPrefix(strings.ToLower(raw), "file://"):
		u, err := url.Parse(raw)
		if err != nil {
			return "", "", false
		}
		host, path = "/", u.Path
	case strings.Contains(raw, "://"):
		u, err := url.Parse(raw)
		if err != nil {
			return "", "", false
		}
		host, path = u.Hostname(), u.Path
	default:
		// scp-like: [user@]host:path
		at := strings.LastIndex(raw, "@")
		rest := raw[at+1:]
		h, p, found := strings.Cut(rest, ":")
		if !found || h == "" || strings.Contains(h, "/") {
			return "", "", false
		}
		host, path = h, p
	}
	path = strings.Trim(path, "/")
	path = strings.TrimSuffix(path, ".git")
	path = strings.Trim(path, "/")
	if host == "" || path == "" {
		return "", "", false
	}
	return strings.ToLower(host), strings.ToLower(path), true
}
