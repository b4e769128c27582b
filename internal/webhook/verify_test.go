package webhook

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"net/http"
	"testing"
)

// The test vector of GitHub's "Validating webhook deliveries" page.
const (
	vectorSecret = "It's a Secret to Everybody"
	vectorBody   = "Hello, World!"
	vectorSig    = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
)

func sha1Sig(secret, body string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(body))
	return "sha1=" + hex.EncodeToString(m.Sum(nil))
}

func TestSignSHA256Vector(t *testing.T) {
	if got := SignSHA256(vectorSecret, []byte(vectorBody)); got != vectorSig {
		t.Fatalf("SignSHA256 = %s, want %s", got, vectorSig)
	}
}

func TestVerify(t *testing.T) {
	body := []byte(vectorBody)
	tests := []struct {
		name    string
		p       Provider
		header  http.Header
		body    []byte
		secret  string
		wantErr error // nil = accepted
	}{
		{"github sha256 vector", GitHub, hdr("X-Hub-Signature-256", vectorSig), body, vectorSecret, nil},
		{"github enterprise uses the same check", GitHubEnterprise, hdr("X-Hub-Signature-256", vectorSig), body, vectorSecret, nil},
		{"github uppercase hex", GitHub, hdr("X-Hub-Signature-256", "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17"), body, vectorSecret, nil},
		{"github wrong secret", GitHub, hdr("X-Hub-Signature-256", vectorSig), body, "other", ErrBadSignature},
		{"github tampered body", GitHub, hdr("X-Hub-Signature-256", vectorSig), []byte("Hello, World?"), vectorSecret, ErrBadSignature},
		{"github missing prefix", GitHub, hdr("X-Hub-Signature-256", vectorSig[len("sha256="):]), body, vectorSecret, ErrBadSignature},
		{"github not hex", GitHub, hdr("X-Hub-Signature-256", "sha256=zz"), body, vectorSecret, ErrBadSignature},
		{"github truncated", GitHub, hdr("X-Hub-Signature-256", vectorSig[:20]), body, vectorSecret, ErrBadSignature},
		{"github missing", GitHub, hdr(), body, vectorSecret, ErrMissingSignature},
		{"github legacy sha1 alone", GitHub, hdr("X-Hub-Signature", sha1Sig(vectorSecret, vectorBody)), body, vectorSecret, nil},
		{"github bad legacy sha1", GitHub, hdr("X-Hub-Signature", sha1Sig("other", vectorBody)), body, vectorSecret, ErrBadSignature},
		{"github sha256 wins over sha1", GitHub, hdr("X-Hub-Signature-256", "sha256=00", "X-Hub-Signature", sha1Sig(vectorSecret, vectorBody)), body, vectorSecret, ErrBadSignature},
		{"github no secret", GitHub, hdr("X-Hub-Signature-256", vectorSig), body, "", ErrNoSecret},

		{"gitlab token", GitLab, hdr("X-Gitlab-Token", "s3cret"), body, "s3cret", nil},
		{"gitlab self managed token", GitLabSelfManaged, hdr("X-Gitlab-Token", "s3cret"), body, "s3cret", nil},
		{"gitlab wrong token", GitLab, hdr("X-Gitlab-Token", "s3cret!"), body, "s3cret", ErrBadSignature},
		{"gitlab missing token", GitLab, hdr(), body, "s3cret", ErrMissingSignature},
		{"gitlab no secret", GitLab, hdr("X-Gitlab-Token", "x"), body, "", ErrNoSecret},

		{"bitbucket unsigned without secret", Bitbucket, hdr(), body, "", nil},
		{"bitbucket signed", Bitbucket, hdr("X-Hub-Signature", vectorSig), body, vectorSecret, nil},
		{"bitbucket bad signature", Bitbucket, hdr("X-Hub-Signature", vectorSig), body, "other", ErrBadSignature},
		{"bitbucket missing signature", Bitbucket, hdr(), body, vectorSecret, ErrMissingSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.p, tc.header, tc.body, tc.secret)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify err = %v, want %v", err, tc.wantErr)
			}
		})
	}
	if err := Verify("CODECOMMIT", hdr(), body, "x"); err == nil {
		t.Error("Verify accepted a CODECOMMIT delivery")
	}
}
