package source

import (
	"fmt"
	"strings"
)

// Credential is an imported source credential (ImportSourceCredentials):
// one per account, region and server type. Token is the secret itself for
// PERSONAL_ACCESS_TOKEN and BASIC_AUTH, a secret's ARN or name for
// SECRETS_MANAGER, a connection ARN for CODECONNECTIONS.
type Credential struct {
	ServerType string `json:"serverType"`
	AuthType   string `json:"authType"`
	Username   string `json:"username,omitempty"`
	Token      string `json:"token"`
}

// ServerType is the credential server type a git source type uses
// (CODECOMMIT: none, it authenticates with the service role).
func ServerType(sourceType string) string {
	switch sourceType {
	case "GITHUB", "GITHUB_ENTERPRISE", "GITLAB", "GITLAB_SELF_MANAGED", "BITBUCKET":
		return sourceType
	}
	return ""
}

// gitUser is the user name each server expects beside a token.
var gitUser = map[string]string{
	"GITHUB": "x-access-token", "GITHUB_ENTERPRISE": "x-access-token",
	"GITLAB": "oauth2", "GITLAB_SELF_MANAGED": "oauth2",
	"BITBUCKET": "x-token-auth",
}

// Auth turns the credential into what git sends; secret resolves a
// SECRETS_MANAGER reference.
func (c Credential) Auth(secret func(ref string) (string, error)) (*Auth, error) {
	user := c.Username
	if user == "" {
		user = gitUser[c.ServerType]
	}
	switch c.AuthType {
	case "PERSONAL_ACCESS_TOKEN", "BASIC_AUTH", "OAUTH":
		return &Auth{Username: user, Secret: c.Token}, nil
	case "SECRETS_MANAGER":
		v, err := secret(c.Token)
		if err != nil {
			return nil, errorf("the %s source credential's secret %s: %v", c.ServerType, c.Token, err)
		}
		// A secret may hold the token alone or "user:token".
		if u, tok, ok := strings.Cut(v, ":"); ok && !strings.Contains(u, "/") && c.Username == "" {
			return &Auth{Username: u, Secret: tok}, nil
		}
		return &Auth{Username: user, Secret: v}, nil
	case "CODECONNECTIONS":
		return nil, errorf("the %s source credential is an AWS CodeConnections connection (%s), which buildbatch cannot use: import a personal access token instead (aws codebuild import-source-credentials --auth-type PERSONAL_ACCESS_TOKEN)", c.ServerType, c.Token)
	}
	return nil, fmt.Errorf("unknown auth type %s", c.AuthType)
}
