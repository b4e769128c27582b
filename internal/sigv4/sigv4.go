// Package sigv4 verifies AWS Signature Version 4 on incoming requests, as
// the aws cli, boto3 and aws-sdk-go-v2 sign them, and tells who the caller is
// (access key, account, region from the credential scope).
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	algorithm  = "AWS4-HMAC-SHA256"
	timeFormat = "20060102T150405Z"
	dateFormat = "20060102"
)

// Error is an authentication failure, carrying the AWS error code that the
// client should see (all of them are HTTP 400 on AWS JSON services).
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// The AWS error codes.
const (
	CodeMissingToken     = "MissingAuthenticationTokenException"
	CodeIncomplete       = "IncompleteSignatureException"
	CodeUnrecognized     = "UnrecognizedClientException"
	CodeInvalidSignature = "InvalidSignatureException"
)

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Identity is the verified caller.
type Identity struct {
	AccessKey string
	Account   string
	Region    string
	User      string // strict mode: the credentials section; local mode: the access key
}

// Secret is what a credentials source knows about one access key.
type Secret struct {
	Name            string // who the key belongs to (the section name)
	SecretAccessKey string
	SessionToken    string // empty: no session token expected
	Account         string
}

// Keys looks up an access key; ok is false for an unknown key.
type Keys interface {
	Lookup(accessKeyID string) (s Secret, ok bool)
}

// Verifier checks requests. With Keys nil it runs in local mode: any key and
// secret are accepted (the header must still be well formed) and the account
// follows the LocalStack convention: a 12-digit access key is the account id,
// any other key belongs to DefaultAccount. With Keys set it runs in strict
// mode: the signature is recomputed and compared in constant time.
type Verifier struct {
	Service        string        // signing name, "codebuild"
	Keys           Keys          // nil: local mode
	DefaultAccount string        // local mode
	MaxSkew        time.Duration // strict mode; 0 means 15 minutes
	Now            func() time.Time
	// S3 signs as S3 does: the path as sent (no normalisation, no second
	// encoding) and the payload hash from X-Amz-Content-Sha256, which S3
	// clients always send (the body is not read before Verify).
	S3 bool
}

var (
	twelveDigits = regexp.MustCompile(`^[0-9]{12}$`)
	regionRE     = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$|^[a-z0-9]+(-[a-z0-9]+)*$`)
)

// header is a parsed Authorization header.
type header struct {
	accessKey     string
	date          string
	region        string
	service       string
	signedHeaders []string
	signature     string
}

func parseAuthorization(v string) (*header, error) {
	if !strings.HasPrefix(v, algorithm+" ") {
		if strings.HasPrefix(v, "AWS4-") || strings.HasPrefix(v, "AWS ") {
			return nil, errorf(CodeIncomplete, "Unsupported Authorization algorithm; only %s is supported.", algorithm)
		}
		return nil, errorf(CodeIncomplete, "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=%s", v)
	}
	params := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(v, algorithm+" "), ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, errorf(CodeIncomplete, "Authorization header parameter is malformed: %q", strings.TrimSpace(part))
		}
		params[k] = val
	}
	var missing []string
	for _, k := range []string{"Credential", "Signature", "SignedHeaders"} {
		if params[k] == "" {
			missing = append(missing, fmt.Sprintf("Authorization header requires '%s' parameter.", k))
		}
	}
	if len(missing) > 0 {
		return nil, errorf(CodeIncomplete, "%s", strings.Join(missing, " "))
	}
	cred := strings.Split(params["Credential"], "/")
	if len(cred) != 5 || cred[0] == "" {
		return nil, errorf(CodeIncomplete, "Credential should be of the form <access key>/<date>/<region>/<service>/aws4_request, got '%s'.", params["Credential"])
	}
	if cred[4] != "aws4_request" {
		return nil, errorf(CodeInvalidSignature, "Credential should be scoped with a valid terminator: 'aws4_request', not '%s'.", cred[4])
	}
	sig := params["Signature"]
	if len(sig) != 64 || strings.Trim(sig, "0123456789abcdef") != "" {
		return nil, errorf(CodeIncomplete, "Signature must be 64 lowercase hexadecimal characters.")
	}
	h := &header{accessKey: cred[0], date: cred[1], region: cred[2], service: cred[3], signature: sig,
		signedHeaders: strings.Split(params["SignedHeaders"], ";")}
	return h, nil
}

// Verify authenticates r, whose body has already been read into body.
func (v *Verifier) Verify(r *http.Request, body []byte) (Identity, error) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return Identity{}, errorf(CodeMissingToken, "Missing Authentication Token")
	}
	h, err := parseAuthorization(auth)
	if err != nil {
		return Identity{}, err
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		return Identity{}, errorf(CodeIncomplete, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=%s", auth)
	}
	reqTime, err := time.Parse(timeFormat, amzDate)
	if err != nil {
		return Identity{}, errorf(CodeIncomplete, "X-Amz-Date must be in the ISO8601 basic format YYYYMMDD'T'HHMMSS'Z', got '%s'.", amzDate)
	}
	if h.date != amzDate[:8] {
		return Identity{}, errorf(CodeInvalidSignature, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", h.date, amzDate[:8], amzDate)
	}
	if h.service != v.Service {
		return Identity{}, errorf(CodeInvalidSignature, "Credential should be scoped to correct service: '%s'.", v.Service)
	}
	if !regionRE.MatchString(h.region) {
		return Identity{}, errorf(CodeInvalidSignature, "Credential should be scoped to a valid region, not '%s'.", h.region)
	}
	if !slices.Contains(h.signedHeaders, "host") {
		return Identity{}, errorf(CodeInvalidSignature, "'Host' must be a signed header.")
	}
	id := Identity{AccessKey: h.accessKey, Region: h.region, User: h.accessKey}

	if v.Keys == nil {
		id.Account = v.DefaultAccount
		if twelveDigits.MatchString(h.accessKey) {
			id.Account = h.accessKey
		}
		return id, nil
	}

	secret, ok := v.Keys.Lookup(h.accessKey)
	if !ok {
		return Identity{}, errorf(CodeUnrecognized, "The security token included in the request is invalid.")
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew == 0 {
		skew = 15 * time.Minute
	}
	t := now().UTC()
	if reqTime.Before(t.Add(-skew)) {
		return Identity{}, errorf(CodeInvalidSignature, "Signature expired: %s is now earlier than %s (%s - %d min.)",
			amzDate, t.Add(-skew).Format(timeFormat), t.Format(timeFormat), int(skew.Minutes()))
	}
	if reqTime.After(t.Add(skew)) {
		return Identity{}, errorf(CodeInvalidSignature, "Signature not yet current: %s is still later than %s (%s + %d min.)",
			amzDate, t.Add(skew).Format(timeFormat), t.Format(timeFormat), int(skew.Minutes()))
	}
	if secret.SessionToken != "" {
		tok := r.Header.Get("X-Amz-Security-Token")
		if tok == "" || !slices.Contains(h.signedHeaders, "x-amz-security-token") ||
			!hmac.Equal([]byte(tok), []byte(secret.SessionToken)) {
			return Identity{}, errorf(CodeUnrecognized, "The security token included in the request is invalid.")
		}
	}
	canonical := CanonicalRequest(r, h.signedHeaders, body)
	if v.S3 {
		canonical = canonicalRequestS3(r, h.signedHeaders)
	}
	want := Signature(secret.SecretAccessKey, h.date, h.region, h.service, amzDate, canonical)
	if !hmac.Equal([]byte(want), []byte(h.signature)) {
		return Identity{}, errorf(CodeInvalidSignature, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	id.Account = secret.Account
	if secret.Name != "" {
		id.User = secret.Name
	}
	if id.Account == "" {
		id.Account = v.DefaultAccount
	}
	return id, nil
}

// CanonicalRequest builds the SigV4 canonical request of r for the given
// signed header names (lowercase, as listed by the client).
func CanonicalRequest(r *http.Request, signedHeaders []string, body []byte) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r.URL))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL))
	b.WriteByte('\n')
	for _, name := range signedHeaders {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(headerValue(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signedHeaders, ";"))
	b.WriteByte('\n')
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" {
		b.WriteString(h)
	} else {
		sum := sha256.Sum256(body)
		b.WriteString(hex.EncodeToString(sum[:]))
	}
	return b.String()
}

// canonicalRequestS3 is CanonicalRequest as S3 computes it: the URI is
// the path exactly as the client sent it.
func canonicalRequestS3(r *http.Request, signedHeaders []string) string {
	uri, _, _ := strings.Cut(r.RequestURI, "?")
	if uri == "" || !strings.HasPrefix(uri, "/") {
		uri = r.URL.EscapedPath() // an absolute-form request, or a test's
	}
	var b strings.Builder
	b.WriteString(r.Method + "\n" + uri + "\n" + canonicalQuery(r.URL) + "\n")
	for _, name := range signedHeaders {
		b.WriteString(name + ":" + headerValue(r, name) + "\n")
	}
	b.WriteString("\n" + strings.Join(signedHeaders, ";") + "\n" + r.Header.Get("X-Amz-Content-Sha256"))
	return b.String()
}

func headerValue(r *http.Request, name string) string {
	var values []string
	switch {
	case name == "host":
		values = []string{r.Host}
	case name == "content-length" && r.Header.Get("Content-Length") == "" && r.ContentLength >= 0:
		// net/http keeps the length in a field rather than the header.
		values = []string{strconv.FormatInt(r.ContentLength, 10)}
	default:
		values = slices.Clone(r.Header.Values(name))
	}
	for i, v := range values {
		values[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(values, ",")
}

func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	return escape(clean, false)
}

func canonicalQuery(u *url.URL) string {
	q := u.Query()
	if len(q) == 0 {
		return ""
	}
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, escape(k, true)+"="+escape(v, true))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// escape percent-encodes everything except the unreserved characters (and
// '/' unless encodeSlash).
func escape(s string, encodeSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') ||
			c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// Signature computes the hex SigV4 signature of a canonical request.
func Signature(secret, date, region, service, amzDate, canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	stringToSign := algorithm + "\n" + amzDate + "\n" + date + "/" + region + "/" + service + "/aws4_request\n" + hex.EncodeToString(sum[:])
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, "aws4_request")
	return hex.EncodeToString(hmacSHA256(k, stringToSign))
}
