package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/buildbatch/buildbatch/internal/awsjson"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
	"github.com/buildbatch/buildbatch/internal/webhook"
)

// Webhooks: a project's webhook is stored with its secret (the resource's
// Key is the token of its payload URL, which is how a delivery finds it);
// the project's document shows it without the secret. buildbatch never
// creates the hook at the provider: the user gives the provider (GitHub,
// GitLab, Gitea, Bitbucket, or a git post-receive hook) the payload URL and
// the secret that CreateWebhook returns, as with AWS's manual webhooks.

// maxPayload bounds a delivery's body (GitHub caps payloads at 25 MB).
const maxPayload = 25 << 20

func newSecret() string {
	b := make([]byte, 20)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func webhookSourceType(p *cb.Project) webhook.Provider {
	if p.Source == nil {
		return ""
	}
	return webhook.Provider(cb.Deref(p.Source.Type))
}

func checkWebhookInput(groups [][]cb.WebhookFilter, branchFilter *string, buildType *string) error {
	if err := webhook.ValidateFilterGroups(groups); err != nil {
		return invalid("%v", err)
	}
	if branchFilter != nil {
		if err := webhook.ValidateBranchFilter(*branchFilter); err != nil {
			return invalid("%v", err)
		}
	}
	if t := cb.Deref(buildType); t != "" && t != cb.WebhookBuildTypeBuild && t != cb.WebhookBuildTypeBuildBatch {
		return invalid("Invalid input: buildType %s is not supported here (BUILD or BUILD_BATCH)", t)
	}
	return nil
}

// public is the webhook as the API shows it after creation: no secret.
func publicWebhook(w *cb.Webhook) *cb.Webhook {
	c := *w
	c.Secret = nil
	return &c
}

func (a *API) payloadURL(token string) string {
	return strings.TrimRight(a.opts.BaseURL, "/") + "/webhooks?t=" + token + "&v=1"
}

// CreateWebhook gives a project a webhook.
func (a *API) CreateWebhook(ctx context.Context, in *cb.CreateWebhookInput) (*cb.CreateWebhookOutput, error) {
	c, scope := scopeOf(ctx)
	name := scopedName(ctx, cb.Deref(in.ProjectName), "project")
	if err := checkWebhookInput(in.FilterGroups, in.BranchFilter, in.BuildType); err != nil {
		return nil, err
	}
	token := newSecret()
	now := a.now()
	w := &cb.Webhook{Url: cb.String(a.payloadURL(token)), PayloadUrl: cb.String(a.payloadURL(token)), Secret: cb.String(newSecret()),
		BranchFilter: in.BranchFilter, FilterGroups: in.FilterGroups, BuildType: in.BuildType, ManualCreation: cb.Bool(cb.Deref(in.ManualCreation)),
		LastModifiedSecret: ts(now), ScopeConfiguration: in.ScopeConfiguration, Status: cb.String(cb.WebhookStatusActive),
		PullRequestBuildPolicy: in.PullRequestBuildPolicy}
	if w.BuildType == nil {
		w.BuildType = cb.String(cb.WebhookBuildTypeBuild)
	}
	if w.FilterGroups == nil {
		w.FilterGroups = [][]cb.WebhookFilter{}
	}
	err := a.st.Update(ctx, func(tx store.Tx) error {
		p, err := tx.ProjectGet(ctx, scope, name)
		if err != nil {
			return err
		}
		if !webhookSourceType(p).Valid() {
			return invalid("Invalid input: webhooks are only supported for GITHUB, GITHUB_ENTERPRISE, GITLAB, GITLAB_SELF_MANAGED and BITBUCKET sources; project %s has a %s source", name, webhookSourceType(p))
		}
		doc, err := json.Marshal(w)
		if err != nil {
			return err
		}
		if err := tx.ResourceInsert(ctx, &store.Resource{Scope: scope, Kind: store.KindWebhook, Name: name, Key: token, Created: now, Modified: now, Doc: doc}); err != nil {
			if isConflict(err) {
				return awsjson.Errorf(awsjson.ResourceAlreadyExists, "Webhook for project %s already exists", name)
			}
			return err
		}
		p.Webhook = publicWebhook(w)
		return tx.ProjectPut(ctx, scope, p)
	})
	if err != nil {
		return nil, translate(err, projectNotFound(c.Region, c.Account, name))
	}
	return &cb.CreateWebhookOutput{Webhook: w}, nil
}

func (a *API) getWebhook(ctx context.Context, tx store.Tx, scope store.Scope, name string) (*store.Resource, *cb.Webhook, error) {
	r, err := tx.ResourceGet(ctx, scope, store.KindWebhook, name)
	if err != nil {
		if isNotFound(err) {
			return nil, nil, awsjson.Errorf(awsjson.ResourceNotFound, "Webhook for project %s does not exist", name)
		}
		return nil, nil, err
	}
	var w cb.Webhook
	if err := json.Unmarshal(r.Doc, &w); err != nil {
		return nil, nil, err
	}
	return r, &w, nil
}

// UpdateWebhook replaces a webhook's filters, build type and pull request
// policy, and rotates its secret on request.
func (a *API) UpdateWebhook(ctx context.Context, in *cb.UpdateWebhookInput) (*cb.UpdateWebhookOutput, error) {
	c, scope := scopeOf(ctx)
	name := scopedName(ctx, cb.Deref(in.ProjectName), "project")
	if err := checkWebhookInput(in.FilterGroups, in.BranchFilter, in.BuildType); err != nil {
		return nil, err
	}
	var out *cb.Webhook
	err := a.st.Update(ctx, func(tx store.Tx) error {
		p, err := tx.ProjectGet(ctx, scope, name)
		if err != nil {
			return err
		}
		r, w, err := a.getWebhook(ctx, tx, scope, name)
		if err != nil {
			return err
		}
		set(&w.BranchFilter, in.BranchFilter)
		set(&w.BuildType, in.BuildType)
		set(&w.PullRequestBuildPolicy, in.PullRequestBuildPolicy)
		if in.FilterGroups != nil {
			w.FilterGroups = in.FilterGroups
		}
		rotated := cb.Deref(in.RotateSecret)
		if rotated {
			w.Secret, w.LastModifiedSecret = cb.String(newSecret()), ts(a.now())
		}
		if r.Doc, err = json.Marshal(w); err != nil {
			return err
		}
		r.Modified = a.now()
		if err := tx.ResourcePut(ctx, r); err != nil {
			return err
		}
		out = publicWebhook(w)
		if rotated {
			out.Secret = w.Secret // the one time the new secret is shown
		}
		p.Webhook = publicWebhook(w)
		return tx.ProjectPut(ctx, scope, p)
	})
	if err != nil {
		return nil, translate(err, projectNotFound(c.Region, c.Account, name))
	}
	return &cb.UpdateWebhookOutput{Webhook: out}, nil
}

// DeleteWebhook removes a project's webhook: its payload URL stops
// working.
func (a *API) DeleteWebhook(ctx context.Context, in *cb.DeleteWebhookInput) (*cb.DeleteWebhookOutput, error) {
	c, scope := scopeOf(ctx)
	name := scopedName(ctx, cb.Deref(in.ProjectName), "project")
	err := a.st.Update(ctx, func(tx store.Tx) error {
		p, err := tx.ProjectGet(ctx, scope, name)
		if err != nil {
			return err
		}
		if _, _, err := a.getWebhook(ctx, tx, scope, name); err != nil {
			return err
		}
		if err := tx.ResourceDelete(ctx, scope, store.KindWebhook, name); err != nil {
			return err
		}
		p.Webhook = nil
		return tx.ProjectPut(ctx, scope, p)
	})
	if err != nil {
		return nil, translate(err, projectNotFound(c.Region, c.Account, name))
	}
	return &cb.DeleteWebhookOutput{}, nil
}

// extraEnvKey carries variables that a build started by a webhook gets
// beside its environment (CODEBUILD_WEBHOOK_*).
type extraEnvKey struct{}

func withExtraEnv(ctx context.Context, env []cb.EnvironmentVariable) context.Context {
	return context.WithValue(ctx, extraEnvKey{}, env)
}

func extraEnv(ctx context.Context) []cb.EnvironmentVariable {
	env, _ := ctx.Value(extraEnvKey{}).([]cb.EnvironmentVariable)
	return env
}

// WebhookResult is what a delivery did, as its response body says it.
type WebhookResult struct {
	Message string `json:"message"`
	// BuildID or BuildBatchID is what it started.
	BuildID      string `json:"buildId,omitempty"`
	BuildBatchID string `json:"buildBatchId,omitempty"`
}

func writeWebhook(w http.ResponseWriter, status int, res WebhookResult) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(res)
}

// serveWebhook receives a delivery: it finds the webhook by the payload
// URL's token, authenticates the delivery with the webhook's secret, and
// starts a build or a batch if the event passes the filter groups.
func (a *API) serveWebhook(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPayload))
	if err != nil {
		writeWebhook(w, http.StatusRequestEntityTooLarge, WebhookResult{Message: "the payload is too large or could not be read: " + err.Error()})
		return
	}
	var res *store.Resource
	var p *cb.Project
	var hook cb.Webhook
	err = a.st.View(ctx, func(tx store.Tx) error {
		var err error
		if res, err = tx.ResourceByKey(ctx, store.KindWebhook, r.URL.Query().Get("t")); err != nil {
			return err
		}
		if p, err = tx.ProjectGet(ctx, res.Scope, res.Name); err != nil {
			return err
		}
		return json.Unmarshal(res.Doc, &hook)
	})
	if err != nil {
		writeWebhook(w, http.StatusNotFound, WebhookResult{Message: "no webhook has this payload URL (it was deleted, or the URL is wrong)"})
		return
	}
	fam, ev, err := webhook.Parse(r.Header, body)
	if err == nil && fam != webhookSourceType(p).Family() {
		err = fmt.Errorf("a %s delivery cannot trigger project %s, whose source is %s", fam, res.Name, webhookSourceType(p))
	}
	if err != nil {
		writeWebhook(w, http.StatusBadRequest, WebhookResult{Message: err.Error()})
		return
	}
	if err := webhook.Verify(webhookSourceType(p), r.Header, body, cb.Deref(hook.Secret)); err != nil {
		writeWebhook(w, http.StatusUnauthorized, WebhookResult{Message: err.Error()})
		return
	}
	decision := webhook.Decide(hook.PullRequestBuildPolicy, ev)
	env := webhook.Env(ev)
	switch {
	case decision == webhook.Ignore:
		writeWebhook(w, http.StatusOK, WebhookResult{Message: "the comment approves no build: the webhook requires no approval, or its author holds none of the approver roles"})
		return
	case decision == webhook.Approved:
		// The approved pull request builds as its head is now, with the
		// variables the delivery can tell.
		env = []cb.EnvironmentVariable{{Name: cb.String("CODEBUILD_WEBHOOK_TRIGGER"), Value: cb.String(fmt.Sprintf("pr/%d", ev.PRNumber)), Type: cb.String("PLAINTEXT")}}
	case !ev.Builds():
		writeWebhook(w, http.StatusOK, WebhookResult{Message: fmt.Sprintf("%s %s: this event starts no build", ev.Kind, ev.Action)})
		return
	}
	switch {
	case !webhook.RepoMatches(ev, cb.Deref(p.Source.Location)):
		writeWebhook(w, http.StatusBadRequest, WebhookResult{Message: fmt.Sprintf("the delivery is for repository %s, not the project's source %s", ev.RepositoryName, cb.Deref(p.Source.Location))})
		return
	case decision == webhook.Build && !webhook.Match(hook.FilterGroups, cb.Deref(hook.BranchFilter), ev):
		writeWebhook(w, http.StatusOK, WebhookResult{Message: fmt.Sprintf("%s: no filter group of the webhook matches; nothing started", ev.Name)})
		return
	case decision == webhook.Hold:
		writeWebhook(w, http.StatusOK, WebhookResult{Message: fmt.Sprintf("Pull request approval required for starting a build: a user with one of the approver roles %v comments /codebuild_run(%s) on pull request %d",
			hook.PullRequestBuildPolicy.ApproverRoles, ev.Commit, ev.PRNumber)})
		return
	}
	// The build is the project owner's, started by the provider.
	cctx := awsjson.WithCaller(ctx, awsjson.Caller{Account: res.Scope.Account, Region: res.Scope.Region, User: ev.Initiator,
		RequestID: awsjson.CallerFrom(ctx).RequestID})
	cctx = withExtraEnv(cctx, env)
	var token *string
	if ev.Delivery != "" {
		token = cb.String("webhook-" + ev.Delivery) // a redelivery starts nothing new
	}
	version := cb.String(webhook.SourceVersion(ev))
	result := WebhookResult{Message: ev.Name + ": started"}
	if cb.Deref(hook.BuildType) == cb.WebhookBuildTypeBuildBatch {
		out, err := a.StartBuildBatch(cctx, &cb.StartBuildBatchInput{ProjectName: cb.String(res.Name), SourceVersion: version, IdempotencyToken: token})
		if err != nil {
			webhookStartError(w, err)
			return
		}
		result.BuildBatchID = cb.Deref(out.BuildBatch.Id)
	} else {
		out, err := a.StartBuild(cctx, &cb.StartBuildInput{ProjectName: cb.String(res.Name), SourceVersion: version, IdempotencyToken: token})
		if err != nil {
			webhookStartError(w, err)
			return
		}
		result.BuildID = cb.Deref(out.Build.Id)
	}
	writeWebhook(w, http.StatusOK, result)
}

func webhookStartError(w http.ResponseWriter, err error) {
	var ae *awsjson.Error
	if errors.As(err, &ae) {
		writeWebhook(w, ae.Status, WebhookResult{Message: ae.Type + ": " + ae.Message})
		return
	}
	writeWebhook(w, http.StatusInternalServerError, WebhookResult{Message: err.Error()})
}
