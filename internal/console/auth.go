package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/awsjson"
	"github.com/buildbatch/buildbatch/internal/sigv4"
	"github.com/buildbatch/buildbatch/internal/store"
)

const (
	cookieName = "bbconsole"
	csrfHeader = "X-CSRF-Token"
	localUser  = "console"
)

var (
	twelveDigits = regexp.MustCompile(`^[0-9]{12}$`)
	regionRE     = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$`)
)

// session is what the signed cookie carries.
type session struct {
	Account   string `json:"a"`
	Region    string `json:"r"`
	User      string `json:"u"`
	AccessKey string `json:"k,omitempty"`
	// Secret is a MAC of the key's secret (strict mode): a session ends
	// when its key leaves the credentials file or its secret changes.
	Secret  string `json:"s,omitempty"`
	Expires int64  `json:"e"` // Unix seconds
	Nonce   string `json:"n"`
}

func (s *session) scope() store.Scope { return store.Scope{Account: s.Account, Region: s.Region} }

// ctx is a request context carrying the session as the API's caller.
func (s *session) ctx(parent context.Context) context.Context {
	return awsjson.WithCaller(parent, awsjson.Caller{Account: s.Account, Region: s.Region, AccessKey: s.AccessKey, User: s.User, RequestID: "console-" + randomToken(8)})
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func randomToken(n int) string { return base64.RawURLEncoding.EncodeToString(randomBytes(n)) }

func (c *Console) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, c.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// encode signs a session into a cookie value: payload "." signature.
func (c *Console) encode(s *session) string {
	b, _ := json.Marshal(s)
	p := base64.RawURLEncoding.EncodeToString(b)
	return p + "." + base64.RawURLEncoding.EncodeToString(c.mac("session", p))
}

// decode checks a cookie value's signature and expiry.
func (c *Console) decode(v string) (*session, bool) {
	p, sig, ok := strings.Cut(v, ".")
	if !ok {
		return nil, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, c.mac("session", p)) {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return nil, false
	}
	var s session
	if json.Unmarshal(b, &s) != nil || s.Account == "" || s.Region == "" {
		return nil, false
	}
	if c.now().Unix() >= s.Expires {
		return nil, false
	}
	if c.opts.Keys != nil {
		// Strict mode: the key must still be in the credentials file,
		// with the same secret and account.
		secret, ok := c.opts.Keys.Lookup(s.AccessKey)
		if s.AccessKey == "" || !ok || !hmac.Equal([]byte(s.Secret), []byte(c.secretMAC(secret.SecretAccessKey))) ||
			s.Account != c.accountOf(secret) {
			return nil, false
		}
	}
	return &s, true
}

// csrf is the CSRF token of a session.
func (c *Console) csrf(s *session) string {
	return base64.RawURLEncoding.EncodeToString(c.mac("csrf", s.Nonce))
}

func (c *Console) newSession(account, region, user, key string) *session {
	s := &session{Account: account, Region: region, User: user, AccessKey: key,
		Expires: c.now().Add(c.opts.SessionTTL).Unix(), Nonce: randomToken(16)}
	if c.opts.Keys != nil {
		if secret, ok := c.opts.Keys.Lookup(key); ok {
			s.Secret = c.secretMAC(secret.SecretAccessKey)
		}
	}
	return s
}

// secretMAC stands for a key's secret in a session (never the secret).
func (c *Console) secretMAC(secret string) string {
	return base64.RawURLEncoding.EncodeToString(c.mac("secret", secret)[:12])
}

// accountOf is the account of a key of the credentials file.
func (c *Console) accountOf(s sigv4.Secret) string {
	if s.Account != "" {
		return s.Account
	}
	return c.opts.DefaultAccount
}

func (c *Console) setCookie(w http.ResponseWriter, s *session) {
	ck := &http.Cookie{Name: cookieName, Value: c.encode(s), Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: strings.HasPrefix(c.opts.BaseURL, "https://"), Expires: time.Unix(s.Expires, 0)}
	if s.Expires == 0 {
		ck.Value, ck.MaxAge, ck.Expires = "", -1, time.Time{}
	}
	http.SetCookie(w, ck)
}

// current is the request's session, if it has a valid one.
func (c *Console) current(r *http.Request) (*session, bool) {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return nil, false
	}
	return c.decode(ck.Value)
}

// loopback reports whether r comes from this machine and names it as
// this machine: a page of another site that a DNS rebinding points at
// 127.0.0.1 comes from loopback too, but under its own host name.
func loopback(r *http.Request) bool {
	return loopbackHost(r.RemoteAddr) && (loopbackHost(r.Host) || hostName(r.Host) == "localhost")
}

func hostName(hostport string) string {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	return strings.Trim(strings.ToLower(host), "[]")
}

func loopbackHost(hostport string) bool {
	ip := net.ParseIP(hostName(hostport))
	return ip != nil && ip.IsLoopback()
}

// checkPost refuses a state-changing request that is not a same-origin
// JSON POST (a cross-site form cannot send JSON without the browser's
// preflight, which the console never grants).
func (c *Console) checkPost(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		c.error(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "Use POST.")
		return false
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		c.error(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "Send application/json.")
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			c.error(w, http.StatusForbidden, "Forbidden", "Cross-origin requests are refused.")
			return false
		}
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		c.error(w, http.StatusForbidden, "Forbidden", "Cross-site requests are refused.")
		return false
	}
	return true
}

// withSession runs h with the request's session, or answers 401. A POST
// must also carry the session's CSRF token.
func (c *Console) withSession(w http.ResponseWriter, r *http.Request, h func(http.ResponseWriter, *http.Request, *session)) {
	s, ok := c.current(r)
	if !ok {
		c.error(w, http.StatusUnauthorized, "Unauthorized", "Log in first.")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if !c.checkPost(w, r) {
			return
		}
		got := r.Header.Get(csrfHeader)
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(c.csrf(s))) != 1 {
			c.error(w, http.StatusForbidden, "InvalidCSRFToken", "The request's CSRF token is missing or wrong; reload the page.")
			return
		}
	}
	h(w, r, s)
}

type sessionView struct {
	Mode    string `json:"mode"` // local | strict
	Account string `json:"account"`
	Region  string `json:"region"`
	User    string `json:"user"`
	CSRF    string `json:"csrf"`
	Expires int64  `json:"expires"`
}

func (c *Console) mode() string {
	if c.opts.Keys == nil {
		return "local"
	}
	return "strict"
}

func (c *Console) view(s *session) sessionView {
	return sessionView{Mode: c.mode(), Account: s.Account, Region: s.Region, User: s.User, CSRF: c.csrf(s), Expires: s.Expires}
}

// serveSession answers GET (the session, creating one for a loopback
// client in local mode), or POST {"logout": true} / {"account", "region"}
// (local mode: switch account).
func (c *Console) serveSession(w http.ResponseWriter, r *http.Request) {
	s, ok := c.current(r)
	if r.Method == http.MethodGet {
		if !ok && c.opts.Keys == nil {
			s = c.newSession(c.opts.DefaultAccount, c.opts.Region, localUser, "")
			c.setCookie(w, s)
			ok = true
		}
		if !ok {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Unauthorized", "message": "Log in with an access key of the server's credentials file.", "mode": c.mode()})
			return
		}
		writeJSON(w, http.StatusOK, c.view(s))
		return
	}
	c.withSession(w, r, func(w http.ResponseWriter, r *http.Request, s *session) {
		var in struct {
			Logout  bool   `json:"logout"`
			Account string `json:"account"`
			Region  string `json:"region"`
		}
		if !readJSON(w, r, &in) {
			return
		}
		if in.Logout {
			c.setCookie(w, &session{})
			writeJSON(w, http.StatusOK, map[string]string{"mode": c.mode()})
			return
		}
		if c.opts.Keys != nil {
			c.error(w, http.StatusForbidden, "Forbidden", "In strict mode the account is the access key's; log in with another key.")
			return
		}
		account, region := s.Account, s.Region
		if in.Account != "" {
			account = in.Account
		}
		if in.Region != "" {
			region = in.Region
		}
		if !twelveDigits.MatchString(account) || !regionRE.MatchString(region) {
			c.error(w, http.StatusBadRequest, awsjson.InvalidInput, "An account is 12 digits, a region looks like us-east-1.")
			return
		}
		ns := c.newSession(account, region, localUser, "")
		c.setCookie(w, ns)
		writeJSON(w, http.StatusOK, c.view(ns))
	})
}

// serveLogin checks an access key and its secret (strict mode) and starts
// a session.
func (c *Console) serveLogin(w http.ResponseWriter, r *http.Request) {
	if !c.checkPost(w, r) {
		return
	}
	var in struct {
		AccessKeyID     string `json:"accessKeyId"`
		SecretAccessKey string `json:"secretAccessKey"`
		Region          string `json:"region"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	region := c.opts.Region
	if in.Region != "" {
		if !regionRE.MatchString(in.Region) {
			c.error(w, http.StatusBadRequest, awsjson.InvalidInput, "A region looks like us-east-1.")
			return
		}
		region = in.Region
	}
	if c.opts.Keys == nil {
		s := c.newSession(c.opts.DefaultAccount, region, localUser, "")
		c.setCookie(w, s)
		writeJSON(w, http.StatusOK, c.view(s))
		return
	}
	addr := clientAddr(r.RemoteAddr)
	attempt, wait := c.logins.begin(addr, c.now())
	if wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		c.log.Warn("console: login throttled", "remote", r.RemoteAddr, "retry_after_s", secs)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		c.error(w, http.StatusTooManyRequests, "TooManyRequests", fmt.Sprintf("Too many failed logins from this address; try again in %d s.", secs))
		return
	}
	secret, known := c.opts.Keys.Lookup(in.AccessKeyID)
	want := secret.SecretAccessKey
	if !known {
		want = "\x00not a key\x00" // compare anyway: the same time for unknown keys
	}
	match := subtle.ConstantTimeCompare([]byte(in.SecretAccessKey), []byte(want)) == 1
	if !known || !match || in.SecretAccessKey == "" {
		c.log.Info("console: login refused", "access_key", in.AccessKeyID, "remote", r.RemoteAddr)
		c.error(w, http.StatusUnauthorized, "Unauthorized", "Unknown access key or wrong secret.")
		return
	}
	c.logins.succeeded(addr, attempt)
	s := c.newSession(c.accountOf(secret), region, secret.Name, in.AccessKeyID)
	c.setCookie(w, s)
	writeJSON(w, http.StatusOK, c.view(s))
}

// readJSON decodes a small JSON body into v, or answers 400.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": awsjson.InvalidInput, "message": "The body is not the JSON expected: " + err.Error()})
		return false
	}
	return true
}
