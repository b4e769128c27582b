package secrets

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad loads arbitrary --secrets-file content and resolves a reference
// against it, as a buildspec's parameter-store / secrets-manager entries
// and a registryCredential do. Load either fails or gives a store in which
// every parameter resolves to its value and every secret named plainly
// resolves; Parameter and Secret never panic, and fail with a message.
//
// Seeds: the README's example file and the files of the tests (unit and
// end-to-end), each with references AWS's forms take.
func FuzzLoad(f *testing.F) {
	files := []string{
		`{"parameters":{"/my/param":"value"},"secrets":{"my-secret":"a string","db-creds":{"password":"p4ss"}}}`,
		`{"parameters":{"/app/token":"tok-123456"},"secrets":{"db":{"password":"hunter2-secret"}}}`,
		`{"parameters":{"/a/b":"pv"},"secrets":{"plain":"sv","obj":{"user":"u","port":5432},"strjson":"{\"k\":\"v\"}"}}`,
		`{"secrets":{"registry":{"username":"ci","password":"s3cr3t"}}}`,
		`{}`,
	}
	refs := []string{"db:password", "/app/token", "db-creds:password::", "obj::AWSCURRENT", "strjson:k",
		"arn:aws:secretsmanager:us-east-1:000000000000:secret:obj-AbCdEf:user:AWSCURRENT:v1", "arn:aws:ssm:us-east-1:000000000000:parameter/a/b"}
	for i, file := range files {
		f.Add([]byte(file), refs[i%len(refs)])
		f.Add([]byte(file), refs[(i+3)%len(refs)])
	}
	path := filepath.Join(f.TempDir(), "secrets.json")
	f.Fuzz(func(t *testing.T, data []byte, ref string) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Load(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("Load error without the file's name: %v", err)
			}
			return
		}
		if v, err := s.Parameter(ref); err != nil && err.Error() == "" || err == nil && v != s.Parameters[ref] {
			t.Fatalf("Parameter(%q) = %q, %v", ref, v, err)
		}
		if _, err := s.Secret(ref); err != nil && err.Error() == "" {
			t.Fatalf("Secret(%q): an error without a message", ref)
		}
		for name, v := range s.Parameters {
			if got, err := s.Parameter(name); err != nil || got != v {
				t.Fatalf("Parameter(%q) = %q, %v; want %q", name, got, err, v)
			}
		}
		for name, raw := range s.Secrets {
			if name == "" || strings.Contains(name, ":") {
				continue // not a reference by itself
			}
			got, err := s.Secret(name)
			if err != nil {
				t.Fatalf("Secret(%q) of %s: %v", name, raw, err)
			}
			var str string
			if json.Unmarshal(raw, &str) == nil && got != str {
				t.Fatalf("Secret(%q) = %q, want the string %q", name, got, str)
			}
		}
	})
}
