package api

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/buildbatch/buildbatch/internal/awsjson"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/source"
	"github.com/buildbatch/buildbatch/internal/store"
)

// Source credentials are kept one per account, region and server type
// (their ARN names only the server type); the token is never returned and
// never logged: builds use it to clone that server's HTTPS git sources.

func credentialARN(region, account, serverType string) string {
	return ident.ARN("codebuild", region, account, "token/"+strings.ToLower(serverType))
}

// ImportSourceCredentials stores (or replaces) the account's credential
// for a server type.
func (a *API) ImportSourceCredentials(ctx context.Context, in *cb.ImportSourceCredentialsInput) (*cb.ImportSourceCredentialsOutput, error) {
	c, scope := scopeOf(ctx)
	server, auth := cb.Deref(in.ServerType), cb.Deref(in.AuthType)
	switch auth {
	case cb.AuthTypeOauth:
		return nil, invalid("Invalid input: OAUTH credentials are created in the console's OAuth flow, not by ImportSourceCredentials; import a PERSONAL_ACCESS_TOKEN instead")
	case cb.AuthTypeBasicAuth:
		if cb.Deref(in.Username) == "" {
			return nil, invalid("Invalid input: username is required for BASIC_AUTH")
		}
	case cb.AuthTypeCodeconnections, cb.AuthTypeSecretsManager:
		if !strings.HasPrefix(cb.Deref(in.Token), "arn:") {
			return nil, invalid("Invalid input: the token of a %s credential must be an ARN", auth)
		}
	}
	if auth != cb.AuthTypeBasicAuth && cb.Deref(in.Username) != "" {
		return nil, invalid("Invalid input: username is only used with BASIC_AUTH")
	}
	doc, err := json.Marshal(source.Credential{ServerType: server, AuthType: auth, Username: cb.Deref(in.Username), Token: cb.Deref(in.Token)})
	if err != nil {
		return nil, err
	}
	arn := credentialARN(c.Region, c.Account, server)
	now := a.now()
	overwrite := in.ShouldOverwrite == nil || *in.ShouldOverwrite
	err = a.st.Update(ctx, func(tx store.Tx) error {
		r, err := tx.ResourceGet(ctx, scope, store.KindSourceCredential, server)
		if err == nil {
			if !overwrite {
				return awsjson.Errorf(awsjson.ResourceAlreadyExists, "Source credentials %s already exist and shouldOverwrite is false", arn)
			}
			r.Doc, r.Modified = doc, now
			return tx.ResourcePut(ctx, r)
		}
		return tx.ResourceInsert(ctx, &store.Resource{Scope: scope, Kind: store.KindSourceCredential, Name: server, Created: now, Modified: now, Doc: doc})
	})
	if err != nil {
		return nil, translate(err, "")
	}
	return &cb.ImportSourceCredentialsOutput{Arn: cb.String(arn)}, nil
}

// ListSourceCredentials lists the account's credentials, without tokens.
func (a *API) ListSourceCredentials(ctx context.Context, in *cb.ListSourceCredentialsInput) (*cb.ListSourceCredentialsOutput, error) {
	c, scope := scopeOf(ctx)
	var list []*store.Resource
	err := a.st.View(ctx, func(tx store.Tx) error {
		var err error
		list, err = tx.ResourceList(ctx, scope, store.KindSourceCredential, "")
		return err
	})
	if err != nil {
		return nil, translate(err, "")
	}
	out := &cb.ListSourceCredentialsOutput{SourceCredentialsInfos: []cb.SourceCredentialsInfo{}}
	for _, r := range list {
		var cr source.Credential
		if err := json.Unmarshal(r.Doc, &cr); err != nil {
			return nil, err
		}
		info := cb.SourceCredentialsInfo{Arn: cb.String(credentialARN(c.Region, c.Account, cr.ServerType)),
			ServerType: cb.String(cr.ServerType), AuthType: cb.String(cr.AuthType)}
		if cr.AuthType == cb.AuthTypeCodeconnections || cr.AuthType == cb.AuthTypeSecretsManager {
			info.Resource = cb.String(cr.Token) // an ARN, not a secret
		}
		out.SourceCredentialsInfos = append(out.SourceCredentialsInfos, info)
	}
	return out, nil
}

// DeleteSourceCredentials forgets a credential, found by its ARN.
func (a *API) DeleteSourceCredentials(ctx context.Context, in *cb.DeleteSourceCredentialsInput) (*cb.DeleteSourceCredentialsOutput, error) {
	c, scope := scopeOf(ctx)
	arn := cb.Deref(in.Arn)
	server := ""
	for _, t := range []string{cb.ServerTypeGithub, cb.ServerTypeGithubEnterprise, cb.ServerTypeGitlab, cb.ServerTypeGitlabSelfManaged, cb.ServerTypeBitbucket} {
		if credentialARN(c.Region, c.Account, t) == arn {
			server = t
		}
	}
	if server == "" {
		return nil, awsjson.Errorf(awsjson.ResourceNotFound, "Could not find source credentials %s", arn)
	}
	err := a.st.Update(ctx, func(tx store.Tx) error {
		return tx.ResourceDelete(ctx, scope, store.KindSourceCredential, server)
	})
	if err != nil {
		return nil, translate(err, "Could not find source credentials "+arn)
	}
	return &cb.DeleteSourceCredentialsOutput{Arn: cb.String(arn)}, nil
}
