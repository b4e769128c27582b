package webhook

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// Signature headers.
const (
	HeaderHubSignature256 = "X-Hub-Signature-256"
	HeaderHubSignature    = "X-Hub-Signature"
	HeaderGitLabToken     = "X-Gitlab-Token"
)

// Verification errors; [Verify] wraps them with detail, test with errors.Is.
var (
	// ErrMissingSignature: the delivery carries no signature/token although
	// one is required (answer 401).
	ErrMissingSignature = errors.New("missing webhook signature")
	// ErrBadSignature: the signature/token does not match the secret, or is
	// malformed (answer 401/403).
	ErrBadSignature = errors.New("webhook signature does not match")
	// ErrNoSecret: the project has no secret although its provider requires
	// one; the delivery cannot be authenticated (answer 403).
	ErrNoSecret = errors.New("no webhook secret configured")
)

// Verify authenticates a delivery over its raw body:
//
//   - GitHub / GitHub Enterprise: X-Hub-Signature-256 "sha256=<hex HMAC-SHA256>";
//     the legacy X-Hub-Signature "sha1=<hex HMAC-SHA1>" is accepted only when
//     no X-Hub-Signature-256 header is present.
//   - GitLab / GitLab Self Managed: X-Gitlab-Token equals the secret.
//   - Bitbucket: with an empty secret every delivery is accepted (CodeBuild's
//     Bitbucket hooks carry no secret); otherwise X-Hub-Signature
//     "sha256=<hex HMAC-SHA256>" is required.
//
// GitHub and GitLab deliveries are rejected with [ErrNoSecret] when secret is
// empty. All comparisons are constant-time.
func Verify(p Provider, h Header, body []byte, secret string) error {
	switch p.Family() {
	case GitHub:
		if secret == "" {
			return fmt.Errorf("%w for this GitHub webhook", ErrNoSecret)
		}
		if sig := h.Get(HeaderHubSignature256); sig != "" {
			return checkHMAC(HeaderHubSignature256, sig, "sha256=", sha256.New, secret, body)
		}
		if sig := h.Get(HeaderHubSignature); sig != "" {
			return checkHMAC(HeaderHubSignature, sig, "sha1=", sha1.New, secret, body)
		}
		return fmt.Errorf("%w: no %s header", ErrMissingSignature, HeaderHubSignature256)
	case GitLab:
		if secret == "" {
			return fmt.Errorf("%w for this GitLab webhook", ErrNoSecret)
		}
		tok := h.Get(HeaderGitLabToken)
		if tok == "" {
			return fmt.Errorf("%w: no %s header", ErrMissingSignature, HeaderGitLabToken)
		}
		// Compare digests so that the comparison time does not depend on
		// the token length either.
		a, b := sha256.Sum256([]byte(tok)), sha256.Sum256([]byte(secret))
		if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
			return fmt.Errorf("%w: %s is not the webhook secret", ErrBadSignature, HeaderGitLabToken)
		}
		return nil
	case Bitbucket:
		if secret == "" {
			return nil
		}
		sig := h.Get(HeaderHubSignature)
		if sig == "" {
			return fmt.Errorf("%w: no %s header", ErrMissingSignature, HeaderHubSignature)
		}
		return checkHMAC(HeaderHubSignature, sig, "sha256=", sha256.New, secret, body)
	}
	return fmt.Errorf("cannot verify webhook deliveries for source type %q", string(p))
}

func checkHMAC(header, sig, prefix string, h func() hash.Hash, secret string, body []byte) error {
	if len(sig) < len(prefix) || !strings.EqualFold(sig[:len(prefix)], prefix) {
		return fmt.Errorf("%w: %s must start with %q", ErrBadSignature, header, prefix)
	}
	got, err := hex.DecodeString(strings.TrimSpace(sig[len(prefix):]))
	if err != nil {
		return fmt.Errorf("%w: %s is not hexadecimal", ErrBadSignature, header)
	}
	if !hmac.Equal(got, mac(h, secret, body)) {
		return fmt.Errorf("%w: %s", ErrBadSignature, header)
	}
	return nil
}

// SignSHA256 returns the X-Hub-Signature-256 value of body for secret:
// "sha256=<hex HMAC-SHA256>". Tests and tools use it to sign deliveries.
func SignSHA256(secret string, body []byte) string {
	return "sha256=" + hex.EncodeToString(mac(sha256.New, secret, body))
}

func mac(h func() hash.Hash, secret string, body []byte) []byte {
	m := hmac.New(h, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}
