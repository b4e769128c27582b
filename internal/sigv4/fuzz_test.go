package sigv4

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// FuzzVerify verifies requests with arbitrary SigV4 headers (Authorization,
// X-Amz-Date, X-Amz-Security-Token), X-Amz-Target, path and body, in strict and in local
// mode. Verify never panics; it fails with one of the AWS error codes and
// a message; what strict mode accepts, local mode accepts as the same
// caller; a request it accepts is not accepted with another body.
//
// Seeds: requests signed by aws-sdk-go-v2's signer (the reference, as the
// aws cli, boto3 and the SDKs sign) and by Sign (the logs command), with
// and without a session token, plus malformed headers from the tests.
func FuzzVerify(f *testing.F) {
	body := `{"sortOrder":"ASCENDING"}`
	add := func(r *http.Request, path, body string) {
		f.Add(r.Header.Get("Authorization"), r.Header.Get("X-Amz-Date"), r.Header.Get("X-Amz-Security-Token"), r.Header.Get("X-Amz-Target"), path, []byte(body))
	}
	sdk := func(path, akid, secret, token, region, body string) {
		r, _ := http.NewRequest("POST", "http://127.0.0.1:4599"+path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		r.Header.Set("X-Amz-Target", "CodeBuild_20161006.ListBuilds")
		sum := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret, SessionToken: token}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), "codebuild", region, now); err != nil {
			f.Fatal(err)
		}
		add(r, path, body)
	}
	sdk("/", "AKIDEXAMPLE", "secret", "", "us-east-1", body)
	sdk("/some/prefix", "AKIDEXAMPLE", "secret", "", "eu-west-1", body)
	sdk("/", "ASIATOKEN", "secret2", "tok", "us-west-2", body)
	sdk("/", "123456789012", "test", "", "us-east-1", "{}")
	r, _ := http.NewRequest("POST", "http://127.0.0.1:4599/", strings.NewReader(`{"id":"demo:1"}`))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "BuildBatch_20261101.GetBuildLog")
	Sign(r, []byte(`{"id":"demo:1"}`), "AKIDEXAMPLE", "secret", "", "us-east-1", "codebuild", now)
	add(r, "/", `{"id":"demo:1"}`)
	f.Add("AWS4-HMAC-SHA256 Credential=test/20261127/us-east-1/codebuild/aws4_request, SignedHeaders=host;x-amz-date, Signature="+strings.Repeat("a", 64), "20261127T010649Z", "", "CodeBuild_20161006.ListBuilds", "/", []byte("{}"))
	f.Add("AWS4-HMAC-SHA256 Credential=,,,", "", "", "", "/", []byte(nil))
	f.Add("AWS AKID:sig", "20261127T010649Z", "", "CodeBuild_20161006.ListBuilds", "/", []byte(nil))

	codes := map[string]bool{CodeMissingToken: true, CodeIncomplete: true, CodeUnrecognized: true, CodeInvalidSignature: true}
	local := &Verifier{Service: "codebuild", DefaultAccount: "000000000000"}
	f.Fuzz(func(t *testing.T, auth, amzDate, token, target, path string, body []byte) {
		r, err := http.NewRequest("POST", "http://127.0.0.1:4599/", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.URL.Path = path // as the server sees it: any path, escaped or not
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		for k, v := range map[string]string{"Authorization": auth, "X-Amz-Date": amzDate, "X-Amz-Security-Token": token, "X-Amz-Target": target} {
			if v != "" {
				r.Header.Set(k, v)
			}
		}
		check := func(mode string, id Identity, err error) {
			if err == nil {
				if id.Account == "" || id.Region == "" || id.AccessKey == "" {
					t.Fatalf("%s: accepted as %+v", mode, id)
				}
				return
			}
			e, ok := err.(*Error)
			if !ok || !codes[e.Code] || e.Message == "" {
				t.Fatalf("%s: error %#v", mode, err)
			}
		}
		lid, lerr := local.Verify(r, body)
		check("local", lid, lerr)
		sid, serr := strict().Verify(r, body)
		check("strict", sid, serr)
		if serr == nil {
			if lerr != nil || lid.Region != sid.Region || lid.AccessKey != sid.AccessKey {
				t.Fatalf("strict accepts as %+v, local says %+v, %v", sid, lid, lerr)
			}
			if _, err := strict().Verify(r, append(body, ' ')); err == nil {
				t.Fatal("strict accepts the request with another body")
			}
		}
	})
}
