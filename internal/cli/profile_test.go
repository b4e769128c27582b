package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseINI(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]map[string]string
	}{
		{"empty", "", map[string]map[string]string{}},
		{"default", "[default]\nregion = eu-west-1\n", map[string]map[string]string{"default": {"region": "eu-west-1"}}},
		{"profile", "[profile local]\nregion=us-east-1\nendpoint_url = http://x:1/\n",
			map[string]map[string]string{"profile local": {"region": "us-east-1", "endpoint_url": "http://x:1/"}}},
		{"comments and blanks", "# c\n; c\n\n[a]\n# k = v\nk = v\n", map[string]map[string]string{"a": {"k": "v"}}},
		{"before any section", "k = v\n[a]\n", map[string]map[string]string{"a": {}}},
		{"crlf", "[a]\r\nk = v\r\n", map[string]map[string]string{"a": {"k": "v"}}},
		{"spaces in header", "[  profile   p ]\nk=v", map[string]map[string]string{"profile p": {"k": "v"}}},
		{"nested skipped", "[a]\ns3 =\n  max = 10\nk = v\n", map[string]map[string]string{"a": {"s3": "", "k": "v"}}},
		{"merge and later wins", "[a]\nk = 1\nx = y\n[b]\n[a]\nk = 2\n", map[string]map[string]string{"a": {"k": "2", "x": "y"}, "b": {}}},
		{"value with =", "[a]\nk = a=b\n", map[string]map[string]string{"a": {"k": "a=b"}}},
		{"key case", "[a]\nAWS_Access_Key_ID = K\n", map[string]map[string]string{"a": {"aws_access_key_id": "K"}}},
		{"no equals", "[a]\njunk\n", map[string]map[string]string{"a": {}}},
		{"unclosed header", "[a\nk = v\n", map[string]map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseINI(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseINI(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParseINI(f *testing.F) {
	for _, s := range []string{"", "[default]\nregion = x\n", "[profile a]\n  k = v\nk=\n", "[\n]\n=\n", "\r\n[a]\r\nk=v"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for name, sec := range parseINI(s) {
			if strings.ContainsAny(name, "\n") {
				t.Errorf("section name %q", name)
			}
			for k, v := range sec {
				if k == "" || strings.ContainsAny(k+v, "\n") || strings.TrimSpace(k) != k || strings.TrimSpace(v) != v {
					t.Errorf("key %q value %q", k, v)
				}
			}
		}
	})
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestResolveSettings(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "config", `[default]
region = eu-west-1
[profile local]
region = us-west-2
endpoint_url = http://127.0.0.1:9999/
aws_access_key_id = CFGKEY
aws_secret_access_key = cfgsecret
[profile cfgonly]
aws_access_key_id = ONLYKEY
aws_secret_access_key = onlysecret
aws_session_token = onlytoken
`)
	creds := writeFile(t, dir, "credentials", `[default]
aws_access_key_id = DEFKEY
aws_secret_access_key = defsecret
[local]
aws_access_key_id = LOCALKEY
aws_secret_access_key = localsecret
aws_session_token = localtoken
`)
	base := map[string]string{"AWS_CONFIG_FILE": cfg, "AWS_SHARED_CREDENTIALS_FILE": creds}
	tests := []struct {
		name             string
		env              map[string]string
		endpoint, region string
		want             settings
		wantErr          bool
	}{
		{name: "default profile", want: settings{endpoint: "http://127.0.0.1:4599", region: "eu-west-1", key: "DEFKEY", secret: "defsecret"}},
		{name: "named profile", env: map[string]string{"AWS_PROFILE": "local"},
			want: settings{endpoint: "http://127.0.0.1:9999", region: "us-west-2", key: "LOCALKEY", secret: "localsecret", token: "localtoken"}},
		{name: "credentials from the config file", env: map[string]string{"AWS_PROFILE": "cfgonly"},
			want: settings{endpoint: "http://127.0.0.1:4599", region: "us-east-1", key: "ONLYKEY", secret: "onlysecret", token: "onlytoken"}},
		{name: "flags win", env: map[string]string{"AWS_PROFILE": "local", "AWS_REGION": "r-env", "AWS_ENDPOINT_URL": "http://env"},
			endpoint: "http://flag/", region: "r-flag",
			want: settings{endpoint: "http://flag", region: "r-flag", key: "LOCALKEY", secret: "localsecret", token: "localtoken"}},
		{name: "environment wins over the profile", env: map[string]string{"AWS_PROFILE": "local", "AWS_DEFAULT_REGION": "r-env",
			"AWS_ENDPOINT_URL_CODEBUILD": "http://cb", "AWS_ENDPOINT_URL": "http://env", "AWS_ACCESS_KEY_ID": "EK", "AWS_SECRET_ACCESS_KEY": "es"},
			want: settings{endpoint: "http://cb", region: "r-env", key: "EK", secret: "es"}},
		{name: "AWS_REGION before AWS_DEFAULT_REGION", env: map[string]string{"AWS_REGION": "a", "AWS_DEFAULT_REGION": "b"},
			want: settings{endpoint: "http://127.0.0.1:4599", region: "a", key: "DEFKEY", secret: "defsecret"}},
		{name: "unknown profile", env: map[string]string{"AWS_PROFILE": "nope"}, wantErr: true},
		{name: "no files", env: map[string]string{"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/x"},
			want: settings{endpoint: "http://127.0.0.1:4599", region: "us-east-1", key: "test", secret: "test"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			got, err := resolveSettings(tt.endpoint, tt.region, func(k string) string { return env[k] })
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error: %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestResolveSettingsHome reads ~/.aws through $HOME, with os.Getenv.
func TestResolveSettingsHome(t *testing.T) {
	home := t.TempDir()
	if err := os.Mkdir(filepath.Join(home, ".aws"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, home, ".aws/config", "[profile p]\nregion = ap-south-1\n")
	writeFile(t, home, ".aws/credentials", "[p]\naws_access_key_id = HK\naws_secret_access_key = hs\n")
	for _, k := range []string{"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CODEBUILD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		t.Setenv(k, "")
	}
	t.Setenv("HOME", home)
	t.Setenv("AWS_PROFILE", "p")
	got, err := resolveSettings("", "", os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if got.region != "ap-south-1" || got.key != "HK" || got.secret != "hs" {
		t.Errorf("got %+v", got)
	}
}
