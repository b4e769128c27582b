// Package policy reads the IAM resource policies of shared projects and
// report groups (PutResourcePolicy) and decides whether one lets another
// account's caller do an action on a resource: a Deny that matches wins,
// else an Allow that matches, else no. Conditions are not evaluated: a
// statement with a Condition never matches (an Allow with a condition
// grants nothing, a Deny with one is refused by Parse, as it could not be
// honoured).
package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Policy is a parsed resource policy.
type Policy struct {
	Statements []Statement
}

// Statement is one statement, its lists normalised.
type Statement struct {
	Allow      bool
	Principals []string // "*" or account ids / ARNs as written
	Actions    []string // lower-cased
	Resources  []string // empty: the resource the policy is attached to
	Condition  bool
}

type rawStatement struct {
	Sid          string          `json:"Sid"`
	Effect       string          `json:"Effect"`
	Principal    json.RawMessage `json:"Principal"`
	Action       json.RawMessage `json:"Action"`
	Resource     json.RawMessage `json:"Resource"`
	Condition    json.RawMessage `json:"Condition"`
	NotAction    json.RawMessage `json:"NotAction"`
	NotResource  json.RawMessage `json:"NotResource"`
	NotPrincipal json.RawMessage `json:"NotPrincipal"`
}

// Parse reads a policy document; the error says what is wrong with it.
func Parse(doc string) (*Policy, error) {
	var raw struct {
		Version   string          `json:"Version"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(doc), &raw); err != nil {
		return nil, fmt.Errorf("the policy is not valid JSON: %v", err)
	}
	if len(raw.Statement) == 0 {
		return nil, errors.New("the policy has no Statement")
	}
	var stmts []rawStatement
	if raw.Statement[0] == '{' {
		var one rawStatement
		if err := json.Unmarshal(raw.Statement, &one); err != nil {
			return nil, fmt.Errorf("the policy's Statement: %v", err)
		}
		stmts = []rawStatement{one}
	} else if err := json.Unmarshal(raw.Statement, &stmts); err != nil {
		return nil, fmt.Errorf("the policy's Statement: %v", err)
	}
	if len(stmts) == 0 {
		return nil, errors.New("the policy has no Statement")
	}
	p := &Policy{}
	for i, r := range stmts {
		var s Statement
		switch r.Effect {
		case "Allow":
			s.Allow = true
		case "Deny":
		default:
			return nil, fmt.Errorf("statement %d: Effect must be Allow or Deny, not %q", i+1, r.Effect)
		}
		for name, v := range map[string]json.RawMessage{"NotAction": r.NotAction, "NotResource": r.NotResource, "NotPrincipal": r.NotPrincipal} {
			if len(v) > 0 {
				return nil, fmt.Errorf("statement %d: %s is not supported in resource policies here", i+1, name)
			}
		}
		var err error
		if s.Principals, err = principals(r.Principal); err != nil {
			return nil, fmt.Errorf("statement %d: %v", i+1, err)
		}
		if s.Actions, err = strings1(r.Action, "Action", true); err != nil {
			return nil, fmt.Errorf("statement %d: %v", i+1, err)
		}
		for j, a := range s.Actions {
			s.Actions[j] = strings.ToLower(a)
		}
		if s.Resources, err = strings1(r.Resource, "Resource", false); err != nil {
			return nil, fmt.Errorf("statement %d: %v", i+1, err)
		}
		if len(r.Condition) > 0 && string(r.Condition) != "null" && string(r.Condition) != "{}" {
			if !s.Allow {
				return nil, fmt.Errorf("statement %d: a Deny with a Condition cannot be honoured here", i+1)
			}
			s.Condition = true
		}
		p.Statements = append(p.Statements, s)
	}
	return p, nil
}

// strings1 reads a string or a list of strings.
func strings1(raw json.RawMessage, what string, required bool) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		if required {
			return nil, fmt.Errorf("%s is missing", what)
		}
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("%s must be a string or a list of strings", what)
	}
	if required && len(list) == 0 {
		return nil, fmt.Errorf("%s is empty", what)
	}
	return list, nil
}

func principals(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errors.New("Principal is missing (a resource policy names who it shares with)")
	}
	var star string
	if err := json.Unmarshal(raw, &star); err == nil {
		if star != "*" {
			return nil, fmt.Errorf("Principal %q: use \"*\" or {\"AWS\": ...}", star)
		}
		return []string{"*"}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errors.New("Principal must be \"*\" or an object such as {\"AWS\": \"arn:aws:iam::123456789012:root\"}")
	}
	aws, ok := m["AWS"]
	if !ok {
		return nil, errors.New("Principal names no AWS principal")
	}
	list, err := strings1(aws, "Principal.AWS", true)
	if err != nil {
		return nil, err
	}
	for _, p := range list {
		if Account(p) == "" {
			return nil, fmt.Errorf("Principal %q: share with a whole account (\"123456789012\" or \"arn:aws:iam::123456789012:root\"): buildbatch does not tell an account's roles and users apart", p)
		}
	}
	return list, nil
}

// Account is the account a principal names: "*", a 12-digit account id
// or an account's root (arn:aws:iam::<account>:root); "" for anything else
// (a role or a user: buildbatch shares with whole accounts only).
func Account(principal string) string {
	if principal == "*" {
		return "*"
	}
	if rest, ok := strings.CutPrefix(principal, "arn:"); ok {
		parts := strings.SplitN(rest, ":", 5)
		if len(parts) == 5 && parts[1] == "iam" && parts[4] == "root" && accountID.MatchString(parts[3]) {
			return parts[3]
		}
		return ""
	}
	if accountID.MatchString(principal) {
		return principal
	}
	return ""
}

var accountID = regexp.MustCompile(`^[0-9]{12}$`)

func matchAny(patterns []string, v string, fold bool) bool {
	if fold {
		v = strings.ToLower(v)
	}
	for _, p := range patterns {
		if p == "*" || p == v {
			return true
		}
		// IAM wildcards: * and ? (path.Match also knows [...]; policies
		// rarely hold brackets, and a malformed one simply does not match).
		if ok, _ := path.Match(strings.ReplaceAll(p, "/", "\x00"), strings.ReplaceAll(v, "/", "\x00")); ok {
			return true
		}
	}
	return false
}

// Allows reports whether the policy, attached to attached (the ARN it
// was put on), lets account do action (e.g. "codebuild:BatchGetProjects")
// on resource.
func (p *Policy) Allows(account, action, attached, resource string) bool {
	allowed := false
	for _, s := range p.Statements {
		if !s.matches(account, action, attached, resource) {
			continue
		}
		if !s.Allow {
			return false
		}
		if !s.Condition {
			allowed = true
		}
	}
	return allowed
}

func (s Statement) matches(account, action, attached, resource string) bool {
	who := false
	for _, pr := range s.Principals {
		if a := Account(pr); a == "*" || a == account {
			who = true
		}
	}
	if !who || !matchAny(s.Actions, action, true) {
		return false
	}
	if len(s.Resources) == 0 {
		return resource == attached || strings.HasPrefix(resource, attached+"/")
	}
	return matchAny(s.Resources, resource, false)
}
