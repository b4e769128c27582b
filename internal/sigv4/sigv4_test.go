package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var now = time.Date(2026, 11, 27, 1, 6, 49, 0, time.UTC)

type staticKeys map[string]Secret

func (k staticKeys) Lookup(id string) (Secret, bool) { s, ok := k[id]; return s, ok }

// signed returns a request signed by aws-sdk-go-v2's signer, the reference.
func signed(t *testing.T, path, akid, secret, token, region string, at time.Time, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequest("POST", "http://127.0.0.1:4599"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "CodeBuild_20161006.ListBuilds")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret, SessionToken: token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), "codebuild", region, at); err != nil {
		t.Fatal(err)
	}
	return r
}

func strict() *Verifier {
	return &Verifier{Service: "codebuild", DefaultAccount: "000000000000", Now: func() time.Time { return now },
		Keys: staticKeys{
			"AKIDEXAMPLE": {SecretAccessKey: "secret", Account: "111122223333"},
			"ASIATOKEN":   {SecretAccessKey: "secret2", SessionToken: "tok", Account: "444455556666"},
		}}
}

func TestVerifyStrict(t *testing.T) {
	body := `{"sortOrder":"ASCENDING"}`
	tests := []struct {
		name     string
		req      func() *http.Request
		body     string
		wantCode string
		account  string
		region   string
	}{
		{"valid", func() *http.Request { return signed(t, "/", "AKIDEXAMPLE", "secret", "", "us-east-1", now, body) }, body, "", "111122223333", "us-east-1"},
		{"valid with path prefix", func() *http.Request {
			return signed(t, "/some/prefix", "AKIDEXAMPLE", "secret", "", "eu-west-1", now, body)
		}, body, "", "111122223333", "eu-west-1"},
		{"valid session token", func() *http.Request { return signed(t, "/", "ASIATOKEN", "secret2", "tok", "us-west-2", now, body) }, body, "", "444455556666", "us-west-2"},
		{"wrong session token", func() *http.Request { return signed(t, "/", "ASIATOKEN", "secret2", "other", "us-west-2", now, body) }, body, CodeUnrecognized, "", ""},
		{"missing session token", func() *http.Request { return signed(t, "/", "ASIATOKEN", "secret2", "", "us-west-2", now, body) }, body, CodeUnrecognized, "", ""},
		{"wrong secret", func() *http.Request { return signed(t, "/", "AKIDEXAMPLE", "nope", "", "us-east-1", now, body) }, body, CodeInvalidSignature, "", ""},
		{"tampered body", func() *http.Request { return signed(t, "/", "AKIDEXAMPLE", "secret", "", "us-east-1", now, body) }, `{"sortOrder":"DESCENDING"}`, CodeInvalidSignature, "", ""},
		{"unknown key", func() *http.Request { return signed(t, "/", "AKIDUNKNOWN", "secret", "", "us-east-1", now, body) }, body, CodeUnrecognized, "", ""},
		{"skew past", func() *http.Request {
			return signed(t, "/", "AKIDEXAMPLE", "secret", "", "us-east-1", now.Add(-16*time.Minute), body)
		}, body, CodeInvalidSignature, "", ""},
		{"skew future", func() *http.Request {
			return signed(t, "/", "AKIDEXAMPLE", "secret", "", "us-east-1", now.Add(16*time.Minute), body)
		}, body, CodeInvalidSignature, "", ""},
		{"skew within 15 minutes", func() *http.Request {
			return signed(t, "/", "AKIDEXAMPLE", "secret", "", "us-east-1", now.Add(-14*time.Minute), body)
		}, body, "", "111122223333", "us-east-1"},
		{"region in scope differs from signed region", func() *http.Request {
			r := signed(t, "/", "AKIDEXAMPLE", "secret", "", "us-east-1", now, body)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/us-east-1/", "/eu-west-1/", 1))
			return r
		}, body, CodeInvalidSignature, "", ""},
		{"missing header", func() *http.Request {
			r := signed(t, "/", "AKIDEXAMPLE", "secret", "", "us-east-1", now, body)
			r.Header.Del("Authorization")
			return r
		}, body, CodeMissingToken, "", ""},
		{"missing x-amz-date", func() *http.Request {
			r := signed(t, "/", "AKIDEXAMPLE", "secret", "", "us-east-1", now, body)
			r.Header.Del("X-Amz-Date")
			return r
		}, body, CodeIncomplete, "", ""},
		{"signed header changed", func() *http.Request {
			r := signed(t, "/", "AKIDEXAMPLE", "secret", "", "us-east-1", now, body)
			r.Header.Set("X-Amz-Target", "CodeBuild_20161006.DeleteProject")
			return r
		}, body, CodeInvalidSignature, "", ""},
		{"unsigned header changed is fine", func() *http.Request {
			r := signed(t, "/", "AKIDEXAMPLE", "secret", "", "us-east-1", now, body)
			r.Header.Set("User-Agent", "something else")
			return r
		}, body, "", "111122223333", "us-east-1"},
		{"wrong service", func() *http.Request {
			r := signed(t, "/", "AKIDEXAMPLE", "secret", "", "us-east-1", now, body)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/codebuild/", "/s3/", 1))
			return r
		}, body, CodeInvalidSignature, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := strict().Verify(tt.req(), []byte(tt.body))
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Verify = %v, want success", err)
				}
				if id.Account != tt.account || id.Region != tt.region {
					t.Errorf("Verify = %+v, want account %s region %s", id, tt.account, tt.region)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.wantCode {
				t.Fatalf("Verify = %v, want code %s", err, tt.wantCode)
			}
		})
	}
}

func TestVerifySkewMessage(t *testing.T) {
	r := signed(t, "/", "AKIDEXAMPLE", "secret", "", "us-east-1", now.Add(-20*time.Minute), "{}")
	_, err := strict().Verify(r, []byte("{}"))
	want := "Signature expired: 20261127T004649Z is now earlier than 20261127T005149Z (20261127T010649Z - 15 min.)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Verify = %v, want %q", err, want)
	}
}

func TestVerifyLocalMode(t *testing.T) {
	v := &Verifier{Service: "codebuild", DefaultAccount: "000000000000"}
	tests := []struct {
		akid, account string
	}{
		{"test", "000000000000"},
		{"AKIAIOSFODNN7EXAMPLE", "000000000000"},
		{"123456789012", "123456789012"},
		{"1234567890123", "000000000000"},
	}
	for _, tt := range tests {
		// Any secret works in local mode, and even old requests.
		r := signed(t, "/", tt.akid, "whatever", "", "ap-south-1", now.Add(-24*time.Hour), "{}")
		id, err := v.Verify(r, []byte("{}"))
		if err != nil || id.Account != tt.account || id.Region != "ap-south-1" {
			t.Errorf("local Verify(key %s) = %+v, %v; want account %s", tt.akid, id, err, tt.account)
		}
	}
	r, _ := http.NewRequest("POST", "http://x/", nil)
	if _, err := v.Verify(r, nil); err == nil || !strings.Contains(err.Error(), CodeMissingToken) {
		t.Errorf("local Verify without Authorization = %v, want %s", err, CodeMissingToken)
	}
	for _, bad := range []string{
		"Bearer abc",
		"AWS4-HMAC-SHA256 Credential=test/20261127/us-east-1/codebuild/aws4_request",
		"AWS4-HMAC-SHA256 Credential=test/20261127/us-east-1/codebuild/aws4_request, SignedHeaders=host;x-amz-date, Signature=zz",
		"AWS4-HMAC-SHA256 Credential=test/us-east-1/codebuild/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("a", 64),
	} {
		r, _ := http.NewRequest("POST", "http://x/", nil)
		r.Header.Set("Authorization", bad)
		r.Header.Set("X-Amz-Date", "20261127T010649Z")
		if _, err := v.Verify(r, nil); err == nil {
			t.Errorf("local Verify(%q) succeeded, want a malformed-header error", bad)
		}
	}
}

func TestParseCredentials(t *testing.T) {
	good := `
# comment
[default]
aws_access_key_id = AKID1
aws_secret_access_key = s1
aws_account_id = 111122223333

[ci]
aws_access_key_id=AKID2
aws_secret_access_key=s2
aws_session_token=tok
`
	f, err := ParseCredentials(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := f.Lookup("AKID1"); !ok || s.Account != "111122223333" || s.SecretAccessKey != "s1" {
		t.Errorf("Lookup(AKID1) = %+v, %v", s, ok)
	}
	if s, ok := f.Lookup("AKID2"); !ok || s.SessionToken != "tok" {
		t.Errorf("Lookup(AKID2) = %+v, %v", s, ok)
	}
	for _, bad := range []string{
		"",
		"aws_access_key_id = x",
		"[a]\naws_access_key_id = x",
		"[a]\naws_access_key_id = x\naws_secret_access_key = y\naws_account_id = 12",
		"[a]\naws_access_key_id = x\naws_secret_access_key = y\n[b]\naws_access_key_id = x\naws_secret_access_key = z",
		"[a\n",
		"[a]\njunk",
	} {
		if _, err := ParseCredentials(bytes.NewReader([]byte(bad))); err == nil {
			t.Errorf("ParseCredentials(%q) succeeded", bad)
		}
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=test/20261127/us-east-1/codebuild/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("a", 64))
	f.Add("AWS4-HMAC-SHA256 Credential=,,,")
	f.Fuzz(func(t *testing.T, s string) {
		parseAuthorization(s)
	})
}

func TestSignIsVerified(t *testing.T) {
	r, _ := http.NewRequest("POST", "http://127.0.0.1:4599/", strings.NewReader("{}"))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "CodeBuild_20161006.ListBuilds")
	Sign(r, []byte("{}"), "AKIDEXAMPLE", "secret", "", "us-east-1", "codebuild", now)
	if id, err := strict().Verify(r, []byte("{}")); err != nil || id.Account != "111122223333" {
		t.Errorf("Verify of Sign = %+v, %v", id, err)
	}
}

func FuzzParseCredentials(f *testing.F) {
	f.Add("[a]\naws_access_key_id = x\naws_secret_access_key = y\naws_account_id = 111122223333\n")
	f.Add("[a\n")
	f.Fuzz(func(t *testing.T, s string) {
		file, err := ParseCredentials(strings.NewReader(s))
		if err == nil && file.Len() == 0 {
			t.Fatal("no error and no keys")
		}
	})
}
