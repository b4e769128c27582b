// Package secrets resolves the Parameter Store parameters and Secrets
// Manager secrets that buildspecs and projects refer to, from a local JSON
// file instead of AWS:
//
//	{
//	  "parameters": {"/my/param": "value"},
//	  "secrets":    {"my-secret": "a string", "db-creds": {"password": "p4ss"}}
//	}
package secrets

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Store holds the parameters and secrets.
type Store struct {
	Parameters map[string]string          `json:"parameters"`
	Secrets    map[string]json.RawMessage `json:"secrets"`
	path       string
}

// Load reads a secrets file; path "" gives an empty store.
func Load(path string) (*Store, error) {
	s := &Store{path: path}
	if path == "" {
		return s, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func (s *Store) where() string {
	if s.path == "" {
		return "no secrets file is configured (start the server with --secrets-file FILE)"
	}
	return "it is not in " + s.path
}

// Parameter returns a Parameter Store value.
func (s *Store) Parameter(name string) (string, error) {
	if v, ok := s.Parameters[name]; ok {
		return v, nil
	}
	return "", fmt.Errorf("Parameter Store parameter %s cannot be resolved: %s", name, s.where())
}

// Secret resolves a Secrets Manager reference
// "secret-id[:json-key[:version-stage[:version-id]]]"; secret-id may be an
// ARN.
func (s *Store) Secret(ref string) (string, error) {
	id, rest := ref, ""
	if strings.HasPrefix(ref, "arn:") {
		parts := strings.SplitN(ref, ":", 8)
		if len(parts) >= 7 {
			id = strings.Join(parts[:7], ":")
			if len(parts) == 8 {
				rest = parts[7]
			}
		}
	} else {
		id, rest, _ = strings.Cut(ref, ":")
	}
	jsonKey, _, _ := strings.Cut(rest, ":")
	raw, ok := s.Secrets[id]
	if !ok && strings.HasPrefix(id, "arn:") {
		// arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 chars>
		name := id[strings.LastIndex(id, ":")+1:]
		if i := strings.LastIndex(name, "-"); i > 0 && len(name)-i == 7 {
			raw, ok = s.Secrets[name[:i]]
		}
		if !ok {
			raw, ok = s.Secrets[name]
		}
	}
	if !ok {
		return "", fmt.Errorf("Secrets Manager secret %s cannot be resolved: %s", id, s.where())
	}
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		if jsonKey == "" {
			return str, nil
		}
		raw = json.RawMessage(str) // a JSON document stored as a string
	}
	if jsonKey == "" {
		return string(raw), nil
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", fmt.Errorf("Secrets Manager secret %s is not a JSON object, so it has no key %s", id, jsonKey)
	}
	v, ok := obj[jsonKey]
	if !ok {
		return "", fmt.Errorf("Secrets Manager secret %s has no key %s", id, jsonKey)
	}
	if sv, ok := v.(string); ok {
		return sv, nil
	}
	b, _ := json.Marshal(v)
	return string(b), nil
}
