package secrets

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.json")
	os.WriteFile(p, []byte(`{"parameters":{"/a/b":"pv"},"secrets":{"plain":"sv","obj":{"user":"u","port":5432},"strjson":"{\"k\":\"v\"}"}}`), 0o600)
	s, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ ref, want, err string }{
		{"plain", "sv", ""},
		{"obj:user", "u", ""},
		{"obj:port", "5432", ""},
		{"obj::AWSCURRENT", `{"user":"u","port":5432}`, ""},
		{"strjson:k", "v", ""},
		{"arn:aws:secretsmanager:us-east-1:000000000000:secret:obj-AbCdEf:user", "u", ""},
		{"missing", "", "cannot be resolved"},
		{"obj:nokey", "", "has no key"},
		{"plain:k", "", "not a JSON object"},
	}
	for _, tt := range tests {
		got, err := s.Secret(tt.ref)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Secret(%q) = %q, %v; want error %q", tt.ref, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Secret(%q) = %q, %v; want %q", tt.ref, got, err, tt.want)
		}
	}
	if v, err := s.Parameter("/a/b"); v != "pv" || err != nil {
		t.Errorf("Parameter = %q, %v", v, err)
	}
	empty, _ := Load("")
	if _, err := empty.Parameter("/a/b"); err == nil || !strings.Contains(err.Error(), "--secrets-file") {
		t.Errorf("Parameter without file: %v", err)
	}
}

func FuzzSecret(f *testing.F) {
	f.Add("obj:user")
	f.Add("arn:aws:secretsmanager:us-east-1:000000000000:secret:obj-AbCdEf:user:AWSCURRENT")
	f.Add("strjson:k::")
	s := &Store{Parameters: map[string]string{}, Secrets: map[string]json.RawMessage{
		"obj": json.RawMessage(`{"user":"u"}`), "strjson": json.RawMessage(`"{\"k\":1}"`), "plain": json.RawMessage(`"p"`)}}
	f.Fuzz(func(t *testing.T, ref string) {
		s.Secret(ref)
	})
}
