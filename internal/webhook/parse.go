package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// Delivery headers.
const (
	HeaderGitHubEvent    = "X-GitHub-Event"
	HeaderGitHubDelivery = "X-GitHub-Delivery"
	HeaderGitLabEvent    = "X-Gitlab-Event"
	HeaderBitbucketEvent = "X-Event-Key"
)

// Parse recognises the provider family of a delivery from its headers
// (X-GitHub-Event → GITHUB, also for GitHub Enterprise; X-Gitlab-Event →
// GITLAB; X-Event-Key → BITBUCKET) and decodes the payload.
//
// Deliveries of a known provider whose event builds nothing (GitHub ping,
// pull_request labeled, GitLab Note Hook, …) yield an Event with Name "" and
// no error. An error means the delivery is unusable (unknown provider, empty
// or malformed JSON); its message is meant for an HTTP 400 body.
func Parse(h Header, body []byte) (Provider, *Event, error) {
	var (
		fam  Provider
		kind string
	)
	switch {
	case h.Get(HeaderGitHubEvent) != "":
		fam, kind = GitHub, h.Get(HeaderGitHubEvent)
	case h.Get(HeaderGitLabEvent) != "":
		fam, kind = GitLab, h.Get(HeaderGitLabEvent)
	case h.Get(HeaderBitbucketEvent) != "":
		fam, kind = Bitbucket, h.Get(HeaderBitbucketEvent)
	default:
		return "", nil, errors.New("unrecognized webhook delivery: expected an X-GitHub-Event, X-Gitlab-Event or X-Event-Key header")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return fam, nil, fmt.Errorf("invalid %s webhook payload: empty body", fam.displayName())
	}
	if !json.Valid(body) {
		return fam, nil, fmt.Errorf("invalid %s webhook payload: body is not valid JSON", fam.displayName())
	}
	ev := &Event{Provider: fam, Kind: kind}
	var err error
	switch fam {
	case GitHub:
		ev.Delivery = h.Get(HeaderGitHubDelivery)
		err = parseGitHub(ev, body)
	case GitLab:
		ev.Delivery = firstNonEmpty(h.Get("X-Gitlab-Event-UUID"), h.Get("X-Gitlab-Webhook-UUID"))
		err = parseGitLab(ev, body)
	case Bitbucket:
		ev.Delivery = firstNonEmpty(h.Get("X-Request-UUID"), h.Get("X-Request-Id"))
		err = parseBitbucket(ev, body)
	}
	if err != nil {
		return fam, nil, fmt.Errorf("invalid %s %q webhook payload: %w", fam.displayName(), kind, err)
	}
	ev.Initiator = initiator(h.Get("User-Agent"), fam)
	ev.Files = dedupe(ev.Files)
	return fam, ev, nil
}

// initiator keeps the first product token of the User-Agent (at most 64
// printable, non-space characters) or falls back to the provider name.
func initiator(ua string, fam Provider) string {
	ua = strings.TrimSpace(ua)
	if i := strings.IndexFunc(ua, unicode.IsSpace); i >= 0 {
		ua = ua[:i]
	}
	if len(ua) > 64 {
		ua = ua[:64]
	}
	for _, r := range ua {
		if r < 0x21 || r > 0x7e {
			ua = ""
			break
		}
	}
	if ua == "" {
		return fam.displayName()
	}
	return ua
}

// id accepts a JSON number or string (providers disagree on id types).
type id string

func (v *id) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*v = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = id(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("id: %w", err)
		}
		*v = id(n.String())
	}
	return nil
}

// ---- GitHub -------------------------------------------------------------

type ghUser struct {
	Login string `json:"login"`
	ID    id     `json:"id"`
	Type  string `json:"type"`
}

type ghRepo struct {
	FullName string  `json:"full_name"`
	CloneURL string  `json:"clone_url"`
	SSHURL   string  `json:"ssh_url"`
	Owner    *ghUser `json:"owner"`
}

type ghCommit struct {
	ID       string   `json:"id"`
	Message  string   `json:"message"`
	Added    []string `json:"added"`
	Modified []string `json:"modified"`
	Removed  []string `json:"removed"`
}

type ghBranch struct {
	Ref  string  `json:"ref"`
	SHA  string  `json:"sha"`
	Repo *ghRepo `json:"repo"`
}

type ghPayload struct {
	Action       string     `json:"action"`
	Ref          string     `json:"ref"`
	Before       string     `json:"before"`
	After        string     `json:"after"`
	Deleted      bool       `json:"deleted"`
	Commits      []ghCommit `json:"commits"`
	HeadCommit   *ghCommit  `json:"head_commit"`
	Repository   *ghRepo    `json:"repository"`
	Organization *ghUser    `json:"organization"`
	Sender       *ghUser    `json:"sender"`
	Number       int        `json:"number"`
	PullRequest  *struct {
		Number            int      `json:"number"`
		Merged            bool     `json:"merged"`
		MergeCommitSHA    string   `json:"merge_commit_sha"`
		Head              ghBranch `json:"head"`
		Base              ghBranch `json:"base"`
		AuthorAssociation string   `json:"author_association"`
	} `json:"pull_request"`
	Issue *struct {
		Number      int             `json:"number"`
		PullRequest json.RawMessage `json:"pull_request"`
	} `json:"issue"`
	Comment *struct {
		Body              string `json:"body"`
		AuthorAssociation string `json:"author_association"`
	} `json:"comment"`
	Release *struct {
		TagName string `json:"tag_name"`
		Name    string `json:"name"`
	} `json:"release"`
	WorkflowJob *struct {
		HeadSHA      string `json:"head_sha"`
		HeadBranch   string `json:"head_branch"`
		WorkflowName string `json:"workflow_name"`
	} `json:"workflow_job"`
}

func parseGitHub(ev *Event, body []byte) error {
	var p ghPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return err
	}
	ev.Action = p.Action
	if p.Sender != nil {
		ev.ActorAccountID = string(p.Sender.ID)
	}
	if r := p.Repository; r != nil {
		ev.RepositoryName = r.FullName
		ev.CloneURLs = nonEmpty(r.CloneURL, r.SSHURL)
		if r.Owner != nil && r.Owner.Type == "Organization" {
			ev.OrganizationName = r.Owner.Login
		}
	}
	if p.Organization != nil && p.Organization.Login != "" {
		ev.OrganizationName = p.Organization.Login
	}

	switch ev.Kind {
	case "push":
		ev.Name = EventPush
		ev.HeadRef = p.Ref
		ev.PrevCommit = p.Before
		ev.Deleted = p.Deleted || isZeroSHA(p.After)
		if !ev.Deleted {
			ev.Commit = p.After
		}
		for _, c := range p.Commits {
			ev.Files = append(ev.Files, c.Added...)
			ev.Files = append(ev.Files, c.Modified...)
			ev.Files = append(ev.Files, c.Removed...)
		}
		if p.HeadCommit != nil {
			ev.CommitMessage = p.HeadCommit.Message
		} else if n := len(p.Commits); n > 0 {
			ev.CommitMessage = p.Commits[n-1].Message
		}
	case "pull_request":
		pr := p.PullRequest
		if pr == nil {
			return errors.New("missing pull_request object")
		}
		switch p.Action {
		case "opened":
			ev.Name = EventPullRequestCreated
		case "synchronize":
			ev.Name = EventPullRequestUpdated
			ev.PrevCommit = p.Before
		case "reopened":
			ev.Name = EventPullRequestReopened
		case "closed":
			if pr.Merged {
				ev.Name = EventPullRequestMerged
				ev.MergeCommit = pr.MergeCommitSHA
			} else {
				ev.Name = EventPullRequestClosed
			}
		}
		ev.PRNumber = pr.Number
		if ev.PRNumber == 0 {
			ev.PRNumber = p.Number
		}
		ev.HeadRef = branchRef(pr.Head.Ref)
		ev.BaseRef = branchRef(pr.Base.Ref)
		ev.Commit = pr.Head.SHA
		ev.AuthorRole = githubRole(pr.AuthorAssociation)
		if h, b := pr.Head.Repo, pr.Base.Repo; h != nil && b != nil && h.FullName != "" && !strings.EqualFold(h.FullName, b.FullName) {
			ev.Fork = true
		}
	case "issue_comment":
		// A comment on a pull request that approves its build:
		// /codebuild_run(<sha>) by a user with an approver role.
		if p.Action != "created" || p.Issue == nil || len(p.Issue.PullRequest) == 0 || p.Comment == nil {
			break
		}
		if m := approvalComment.FindStringSubmatch(p.Comment.Body); m != nil {
			ev.ApprovedCommit = strings.ToLower(m[1])
			ev.PRNumber = p.Issue.Number
			ev.AuthorRole = githubRole(p.Comment.AuthorAssociation)
		}
	case "release":
		if p.Release == nil {
			return errors.New("missing release object")
		}
		switch p.Action {
		case "released":
			ev.Name = EventReleased
		case "prereleased":
			ev.Name = EventPrereleased
		}
		ev.TagName = p.Release.TagName
		ev.ReleaseName = p.Release.Name
		ev.HeadRef = tagRef(p.Release.TagName)
	case "workflow_job":
		j := p.WorkflowJob
		if j == nil {
			return errors.New("missing workflow_job object")
		}
		if p.Action == "queued" {
			ev.Name = EventWorkflowJobQueued
		}
		ev.Commit = j.HeadSHA
		ev.HeadRef = branchRef(j.HeadBranch)
		ev.WorkflowName = j.WorkflowName
	}
	return nil
}

// approvalComment is the comment that approves a pull request's build
// (AWS's pull request comment approval).
var approvalComment = regexp.MustCompile(`(?m)^\s*/codebuild_run\(([0-9a-fA-F]{7,40})\)\s*$`)

// githubRole is the repository role a GitHub author_association tells
// (the payload carries no permission level; GitHub's API would): OWNER
// administers, MEMBER (of the owning organization) maintains, COLLABORATOR
// writes, anyone else reads.
func githubRole(association string) string {
	switch association {
	case "OWNER":
		return "GITHUB_ADMIN"
	case "MEMBER":
		return "GITHUB_MAINTAIN"
	case "COLLABORATOR":
		return "GITHUB_WRITE"
	case "":
		return ""
	}
	return "GITHUB_READ"
}

// ---- GitLab -------------------------------------------------------------

type glProject struct {
	PathWithNamespace string `json:"path_with_namespace"`
	GitHTTPURL        string `json:"git_http_url"`
	GitSSHURL         string `json:"git_ssh_url"`
}

type glRepository struct {
	Homepage   string `json:"homepage"`
	GitHTTPURL string `json:"git_http_url"`
	GitSSHURL  string `json:"git_ssh_url"`
}

type glCommit struct {
	ID       string   `json:"id"`
	Message  string   `json:"message"`
	Added    []string `json:"added"`
	Modified []string `json:"modified"`
	Removed  []string `json:"removed"`
}

type glPayload struct {
	ObjectKind  string           `json:"object_kind"`
	Ref         string           `json:"ref"`
	Before      string           `json:"before"`
	After       string           `json:"after"`
	CheckoutSHA string           `json:"checkout_sha"`
	UserID      id               `json:"user_id"`
	User        *struct{ ID id } `json:"user"`
	Project     *glProject       `json:"project"`
	Repository  *glRepository    `json:"repository"`
	Commits     []glCommit       `json:"commits"`

	ObjectAttributes *struct {
		Action         string    `json:"action"`
		IID            int       `json:"iid"`
		SourceBranch   string    `json:"source_branch"`
		TargetBranch   string    `json:"target_branch"`
		OldRev         string    `json:"oldrev"`
		MergeCommitSHA string    `json:"merge_commit_sha"`
		LastCommit     *glCommit `json:"last_commit"`
	} `json:"object_attributes"`

	// Release Hook
	Action string `json:"action"`
	Name   string `json:"name"`
	Tag    any    `json:"tag"` // string for releases, bool for job hooks
	Commit *struct {
		ID      any    `json:"id"` // sha (release) or pipeline id (job)
		SHA     string `json:"sha"`
		Message string `json:"message"`
	} `json:"commit"`

	// Job Hook
	SHA         string `json:"sha"`
	BuildName   string `json:"build_name"`
	BuildStatus string `json:"build_status"`
}

func parseGitLab(ev *Event, body []byte) error {
	var p glPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return err
	}
	ev.Action = firstNonEmpty(p.Action, p.BuildStatus)
	ev.ActorAccountID = string(p.UserID)
	if ev.ActorAccountID == "" && p.User != nil {
		ev.ActorAccountID = string(p.User.ID)
	}
	if pr := p.Project; pr != nil {
		ev.RepositoryName = pr.PathWithNamespace
		ev.CloneURLs = nonEmpty(pr.GitHTTPURL, pr.GitSSHURL)
	}
	if r := p.Repository; r != nil {
		if len(ev.CloneURLs) == 0 {
			ev.CloneURLs = nonEmpty(r.GitHTTPURL, r.GitSSHURL)
		}
		if ev.RepositoryName == "" {
			for _, u := range append(ev.CloneURLs, r.Homepage) {
				if _, path, ok := normalizeRepoURL(u); ok {
					ev.RepositoryName = path
					break
				}
			}
		}
	}
	if i := strings.LastIndex(ev.RepositoryName, "/"); i > 0 {
		ev.OrganizationName = ev.RepositoryName[:i]
	}

	switch ev.Kind {
	case "Push Hook", "Tag Push Hook", "System Hook":
		if p.ObjectKind != "push" && p.ObjectKind != "tag_push" {
			return nil
		}
		ev.Name = EventPush
		ev.HeadRef = p.Ref
		ev.PrevCommit = p.Before
		ev.Commit = firstNonEmpty(p.CheckoutSHA, p.After)
		if isZeroSHA(p.After) {
			ev.Deleted = true
			ev.Commit = ""
		}
		var head *glCommit
		for i := range p.Commits {
			c := &p.Commits[i]
			ev.Files = append(ev.Files, c.Added...)
			ev.Files = append(ev.Files, c.Modified...)
			ev.Files = append(ev.Files, c.Removed...)
			if c.ID == p.After || (head == nil && i == len(p.Commits)-1) {
				head = c
			}
		}
		if head != nil {
			ev.CommitMessage = head.Message
		}
	case "Merge Request Hook":
		a := p.ObjectAttributes
		if a == nil {
			return errors.New("missing object_attributes object")
		}
		ev.Action = a.Action
		switch a.Action {
		case "open":
			ev.Name = EventPullRequestCreated
		case "update":
			ev.Name = EventPullRequestUpdated
			ev.PrevCommit = a.OldRev
		case "reopen":
			ev.Name = EventPullRequestReopened
		case "merge":
			ev.Name = EventPullRequestMerged
			ev.MergeCommit = a.MergeCommitSHA
		case "close":
			ev.Name = EventPullRequestClosed
		}
		ev.PRNumber = a.IID
		ev.HeadRef = branchRef(a.SourceBranch)
		ev.BaseRef = branchRef(a.TargetBranch)
		if a.LastCommit != nil {
			ev.Commit = a.LastCommit.ID
			ev.CommitMessage = a.LastCommit.Message
		}
	case "Release Hook":
		switch p.Action {
		case "create", "update":
			ev.Name = EventReleased
		}
		tag, _ := p.Tag.(string)
		ev.TagName = tag
		ev.ReleaseName = p.Name
		ev.HeadRef = tagRef(tag)
		if p.Commit != nil {
			sha, _ := p.Commit.ID.(string)
			ev.Commit = sha
			ev.CommitMessage = p.Commit.Message
		}
	case "Job Hook":
		// Every job status change is delivered; only the queued
		// ("pending") state starts a runner build.
		if p.BuildStatus == "pending" {
			ev.Name = EventWorkflowJobQueued
		}
		ev.Commit = p.SHA
		if isTag, _ := p.Tag.(bool); isTag {
			ev.HeadRef = tagRef(p.Ref)
		} else {
			ev.HeadRef = branchRef(p.Ref)
		}
		ev.WorkflowName = p.BuildName
		if p.Commit != nil {
			ev.CommitMessage = p.Commit.Message
		}
	}
	return nil
}

// ---- Bitbucket Cloud ----------------------------------------------------

type bbActor struct {
	AccountID string `json:"account_id"`
	UUID      string `json:"uuid"`
}

type bbRepo struct {
	FullName string `json:"full_name"`
	Links    struct {
		HTML  struct{ Href string } `json:"html"`
		Clone []struct {
			Href string `json:"href"`
		} `json:"clone"`
	} `json:"links"`
}

type bbRef struct {
	Type   string `json:"type"`
	Name   string `json:"name"`
	Target struct {
		Hash    string `json:"hash"`
		Message string `json:"message"`
	} `json:"target"`
}

type bbPayload struct {
	Actor      *bbActor `json:"actor"`
	Repository *bbRepo  `json:"repository"`
	Push       *struct {
		Changes []struct {
			New *bbRef `json:"new"`
			Old *bbRef `json:"old"`
		} `json:"changes"`
	} `json:"push"`
	PullRequest *struct {
		ID     int `json:"id"`
		Source struct {
			Branch struct{ Name string } `json:"branch"`
			Commit struct{ Hash string } `json:"commit"`
		} `json:"source"`
		Destination struct {
			Branch struct{ Name string } `json:"branch"`
		} `json:"destination"`
		MergeCommit *struct{ Hash string } `json:"merge_commit"`
	} `json:"pullrequest"`
}

func bbRefName(r *bbRef) string {
	switch r.Type {
	case "tag", "annotated_tag":
		return tagRef(r.Name)
	}
	return branchRef(r.Name)
}

func parseBitbucket(ev *Event, body []byte) error {
	var p bbPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return err
	}
	if a := p.Actor; a != nil {
		ev.ActorAccountID = firstNonEmpty(a.AccountID, a.UUID)
	}
	if r := p.Repository; r != nil {
		ev.RepositoryName = r.FullName
		for _, c := range r.Links.Clone {
			if c.Href != "" {
				ev.CloneURLs = append(ev.CloneURLs, c.Href)
			}
		}
		if i := strings.Index(r.FullName, "/"); i > 0 {
			ev.OrganizationName = r.FullName[:i]
		}
	}
	switch ev.Kind {
	case "repo:push":
		if p.Push == nil || len(p.Push.Changes) == 0 {
			return errors.New("missing push.changes")
		}
		// One delivery may carry several ref updates; the first one is built.
		ch := p.Push.Changes[0]
		ev.Name = EventPush
		switch {
		case ch.New != nil:
			ev.HeadRef = bbRefName(ch.New)
			ev.Commit = ch.New.Target.Hash
			ev.CommitMessage = ch.New.Target.Message
		case ch.Old != nil:
			ev.HeadRef = bbRefName(ch.Old)
			ev.Deleted = true
		default:
			return errors.New("push change has neither new nor old ref")
		}
		if ch.Old != nil {
			ev.PrevCommit = ch.Old.Target.Hash
		} else {
			ev.PrevCommit = zeroSHA
		}
	case "pullrequest:created", "pullrequest:updated", "pullrequest:fulfilled", "pullrequest:rejected":
		pr := p.PullRequest
		if pr == nil {
			return errors.New("missing pullrequest object")
		}
		ev.Action = strings.TrimPrefix(ev.Kind, "pullrequest:")
		switch ev.Action {
		case "created":
			ev.Name = EventPullRequestCreated
		case "updated":
			ev.Name = EventPullRequestUpdated
		case "fulfilled":
			ev.Name = EventPullRequestMerged
			if pr.MergeCommit != nil {
				ev.MergeCommit = pr.MergeCommit.Hash
			}
		case "rejected":
			ev.Name = EventPullRequestClosed
		}
		ev.PRNumber = pr.ID
		ev.HeadRef = branchRef(pr.Source.Branch.Name)
		ev.BaseRef = branchRef(pr.Destination.Branch.Name)
		ev.Commit = pr.Source.Commit.Hash
	}
	return nil
}

// ---- helpers -------------------------------------------------------------

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// dedupe removes empty and repeated paths, keeping first occurrences.
func dedupe(files []string) []string {
	if len(files) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(files))
	out := files[:0:0]
	for _, f := range files {
		if f == "" || seen[f] {
			continue
		}
		seen[f] = true
		out = append(out, f)
	}
	return out
}
