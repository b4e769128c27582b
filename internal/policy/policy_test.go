package policy

import (
	"strings"
	"testing"
)

const project = "arn:aws:codebuild:us-east-1:111122223333:project/shared"

// From AWS's project-sharing guide (the policy RAM attaches), trimmed.
const guide = `{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
    "Action": ["codebuild:BatchGetProjects", "codebuild:BatchGetBuilds", "codebuild:ListBuildsForProject"],
    "Resource": "arn:aws:codebuild:us-east-1:111122223333:project/shared"
  }]
}`

func TestAllows(t *testing.T) {
	cases := []struct {
		name, doc, account, action, resource string
		want                                 bool
	}{
		{"granted", guide, "444455556666", "codebuild:BatchGetProjects", project, true},
		{"action case-insensitive", guide, "444455556666", "CodeBuild:batchgetbuilds", project, true},
		{"another account", guide, "777788889999", "codebuild:BatchGetProjects", project, false},
		{"action not granted", guide, "444455556666", "codebuild:StartBuild", project, false},
		{"another resource", guide, "444455556666", "codebuild:BatchGetProjects", project + "2", false},
		{"wildcard action and account id principal", `{"Statement":{"Effect":"Allow","Principal":{"AWS":["444455556666"]},"Action":"codebuild:BatchGet*"}}`,
			"444455556666", "codebuild:BatchGetBuilds", project, true},
		{"star principal", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"codebuild:*","Resource":"arn:aws:codebuild:us-east-1:111122223333:project/*"}]}`,
			"777788889999", "codebuild:BatchGetProjects", project, true},
		{"deny wins", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"codebuild:*"},{"Effect":"Deny","Principal":{"AWS":"777788889999"},"Action":"codebuild:BatchGetProjects"}]}`,
			"777788889999", "codebuild:BatchGetProjects", project, false},
		{"condition grants nothing", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"codebuild:*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}}]}`,
			"777788889999", "codebuild:BatchGetProjects", project, false},
	}
	for _, c := range cases {
		p, err := Parse(c.doc)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := p.Allows(c.account, c.action, project, c.resource); got != c.want {
			t.Errorf("%s: Allows = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{`not json`, "not valid JSON"},
		{`{}`, "no Statement"},
		{`{"Statement":[]}`, "no Statement"},
		{`{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"x"}]}`, "Effect must be"},
		{`{"Statement":[{"Effect":"Allow","Action":"x"}]}`, "Principal is missing"},
		{`{"Statement":[{"Effect":"Allow","Principal":"*"}]}`, "Action is missing"},
		{`{"Statement":[{"Effect":"Allow","Principal":{"Service":"x"},"Action":"a"}]}`, "no AWS principal"},
		{`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"a","Condition":{"Bool":{"x":"y"}}}]}`, "cannot be honoured"},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"a","NotResource":"x"}]}`, "NotResource is not supported"},
		{`{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"1"},"Principal":"*","Action":"a"}]}`, "NotPrincipal is not supported"},
		{`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:role/ci"},"Action":"a"}]}`, "whole account"},
		{`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"4444"},"Action":"a"}]}`, "whole account"},
	} {
		if _, err := Parse(c.doc); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%s) = %v, want %q", c.doc, err, c.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(guide)
	f.Add(`{"Statement":{"Effect":"Allow","Principal":"*","Action":"codebuild:*","Resource":["a*","b?"]}}`)
	f.Fuzz(func(t *testing.T, doc string) {
		p, err := Parse(doc)
		if err != nil {
			return
		}
		p.Allows("444455556666", "codebuild:BatchGetProjects", project, project)
	})
}
