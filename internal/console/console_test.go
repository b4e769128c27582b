package console

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/buildbatch/buildbatch/internal/api"
	"github.com/buildbatch/buildbatch/internal/awsjson"
	"github.com/buildbatch/buildbatch/internal/batchrun"
	"github.com/buildbatch/buildbatch/internal/blob/fs"
	"github.com/buildbatch/buildbatch/internal/buildlog"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/sigv4"
	"github.com/buildbatch/buildbatch/internal/store"
	"github.com/buildbatch/buildbatch/internal/store/sqlite"
	"github.com/buildbatch/buildbatch/internal/tenancy"
)

// scheduler admits every build and runs none: builds stay QUEUED.
type scheduler struct{}

func (scheduler) Admit(context.Context, store.Tx) error               { return nil }
func (scheduler) Handle(batchrun.Effects)                             {}
func (scheduler) Claims() api.Claimer                                 { return claimer{} }
func (scheduler) StopLocal(context.Context, store.Scope, string) bool { return false }

type claimer struct{}

func (claimer) In(context.Context, store.Tx) error { return nil }
func (claimer) Done(bool)                          {}

const credentials = `[alice]
aws_access_key_id = AKIDALICE
aws_secret_access_key = alice-secret
aws_account_id = 111111111111
[bob]
aws_access_key_id = AKIDBOB
aws_secret_access_key = bob-secret
aws_account_id = 222222222222
`

type fixture struct {
	t     *testing.T
	c     *Console
	api   *api.API
	st    store.Store
	clock time.Time
}

// newFixture is a console over a real API and SQLite store whose builds
// never run; strict mode with the credentials above when strict.
func newFixture(t *testing.T, strict bool) *fixture {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "buildbatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := fs.New(filepath.Join(dir, "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	logs, err := buildlog.NewStore(filepath.Join(dir, "logs"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	coord := batchrun.New(batchrun.Options{Store: st, Blob: blobs, Node: "test", Log: log, TempDir: dir, Exclusive: true})
	a := api.New(api.Options{Store: st, AccountConcurrentBuilds: 8, BaseURL: "http://127.0.0.1:4599",
		Scheduler: scheduler{}, Coordinator: coord, Logs: logs, Blob: blobs, Log: log})
	t.Cleanup(func() { coord.Shutdown(); st.Close() })
	f := &fixture{t: t, api: a, st: st, clock: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	opts := Options{API: a, Store: st, Blob: blobs, DefaultAccount: "000000000000", BaseURL: "http://127.0.0.1:4599", Log: log,
		Interval: 10 * time.Millisecond, Now: func() time.Time { return f.clock }}
	if strict {
		keys, err := sigv4.ParseCredentials(strings.NewReader(credentials))
		if err != nil {
			t.Fatal(err)
		}
		opts.Keys = keys
	}
	f.c = New(opts)
	return f
}

// caller is an API context of an account.
func caller(account string) context.Context {
	return awsjson.WithCaller(context.Background(), awsjson.Caller{Account: account, Region: "us-east-1", User: "test", AccessKey: "test"})
}

// project creates a project with batch builds in an account.
func (f *fixture) project(account, name string) {
	f.t.Helper()
	_, err := f.api.CreateProject(caller(account), &cb.CreateProjectInput{Name: &name,
		Source:           &cb.ProjectSource{Type: cb.String("NO_SOURCE"), Buildspec: cb.String("version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n")},
		Artifacts:        &cb.ProjectArtifacts{Type: cb.String("NO_ARTIFACTS")},
		Environment:      &cb.ProjectEnvironment{Type: cb.String("LINUX_CONTAINER"), Image: cb.String("aws/codebuild/standard:7.0"), ComputeType: cb.String("BUILD_GENERAL1_SMALL")},
		ServiceRole:      cb.String("arn:aws:iam::" + account + ":role/codebuild"),
		BuildBatchConfig: &cb.ProjectBuildBatchConfig{ServiceRole: cb.String("arn:aws:iam::" + account + ":role/batch")},
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) build(account, project string) string {
	f.t.Helper()
	out, err := f.api.StartBuild(caller(account), &cb.StartBuildInput{ProjectName: &project})
	if err != nil {
		f.t.Fatal(err)
	}
	return cb.Deref(out.Build.Id)
}

// waitRead waits until the change feed has read the store once more.
func (f *fixture) waitRead() {
	f.t.Helper()
	reads := func() int {
		f.c.feed.mu.Lock()
		defer f.c.feed.mu.Unlock()
		return f.c.feed.reads
	}
	n := reads()
	for deadline := time.Now().Add(5 * time.Second); reads() <= n; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			f.t.Fatal("the change feed does not read the store")
		}
	}
}

// browser is a client with a cookie jar of one.
type browser struct {
	f      *fixture
	remote string
	cookie *http.Cookie
	csrf   string
}

func (f *fixture) browser() *browser { return &browser{f: f, remote: "127.0.0.1:50000"} }

type reply struct {
	status int
	body   map[string]any
	raw    string
	header http.Header
}

func (b *browser) do(method, path, body string, header ...string) reply {
	b.f.t.Helper()
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	r.RemoteAddr, r.Host = b.remote, "127.0.0.1:4599"
	if b.cookie != nil {
		r.AddCookie(b.cookie)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	if !b.f.c.Owns(r) {
		b.f.t.Fatalf("%s %s is not the console's", method, path)
	}
	w := httptest.NewRecorder()
	b.f.c.ServeHTTP(w, r)
	for _, ck := range w.Result().Cookies() {
		if ck.Name == cookieName {
			b.cookie = ck
			if ck.MaxAge < 0 {
				b.cookie = nil
			}
		}
	}
	rep := reply{status: w.Code, raw: w.Body.String(), header: w.Header()}
	json.Unmarshal(w.Body.Bytes(), &rep.body)
	if csrf, ok := rep.body["csrf"].(string); ok {
		b.csrf = csrf
	}
	return rep
}

// post sends a JSON POST with the session's CSRF token.
func (b *browser) post(path, body string) reply {
	return b.do("POST", path, body, csrfHeader, b.csrf)
}

func (b *browser) login(key, secret string) reply {
	return b.do("POST", "/console/api/login", fmt.Sprintf(`{"accessKeyId":%q,"secretAccessKey":%q}`, key, secret))
}

func TestOwns(t *testing.T) {
	c := New(Options{})
	for _, tc := range []struct {
		method, target string
		header         []string
		want           bool
	}{
		{"GET", "/", nil, true},
		{"HEAD", "/", nil, true},
		{"GET", "/console/assets/app.js", nil, true},
		{"POST", "/console/api/stop", nil, true},
		{"GET", "/console/events", nil, true},
		{"POST", "/", nil, false},                                            // an AWS JSON request without credentials
		{"GET", "/", []string{"Authorization", "AWS4-HMAC-SHA256 x"}, false}, // S3 ListBuckets
		{"GET", "/console/key", []string{"Authorization", "AWS4-HMAC-SHA256 x"}, false},
		{"GET", "/console/key?X-Amz-Credential=x&X-Amz-Signature=y", nil, false}, // presigned S3 GET
		{"PUT", "/console/key", []string{"X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"}, false},
		{"GET", "/bucket/key", nil, false},
		{"GET", "/badges?uuid=x", nil, false},
	} {
		r := httptest.NewRequest(tc.method, tc.target, nil)
		for i := 0; i+1 < len(tc.header); i += 2 {
			r.Header.Set(tc.header[i], tc.header[i+1])
		}
		if got := c.Owns(r); got != tc.want {
			t.Errorf("Owns(%s %s %v) = %v", tc.method, tc.target, tc.header, got)
		}
	}
}

func TestIndexAndAssets(t *testing.T) {
	f := newFixture(t, false)
	b := f.browser()
	r := b.do("GET", "/", "")
	if r.status != 200 || !strings.Contains(r.raw, `<script type="module" src="/console/assets/app.js">`) ||
		!strings.Contains(r.header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("GET /: %d %v\n%s", r.status, r.header, r.raw)
	}
	for _, p := range []string{"/console/assets/app.js", "/console/assets/app.css"} {
		if r := b.do("GET", p, ""); r.status != 200 || len(r.raw) < 1000 {
			t.Errorf("GET %s: %d, %d bytes", p, r.status, len(r.raw))
		}
	}
}

func TestLocalModeIsLoopbackOnly(t *testing.T) {
	f := newFixture(t, false)
	far := f.browser()
	far.remote = "192.0.2.7:41000"
	if r := far.do("GET", "/console/api/session", ""); r.status != http.StatusForbidden || far.cookie != nil {
		t.Errorf("a remote client: %d %s", r.status, r.raw)
	}
	if r := far.do("GET", "/", ""); r.status != http.StatusForbidden {
		t.Errorf("a remote client's page: %d", r.status)
	}
	near := f.browser()
	if r := near.do("GET", "/console/api/projects", ""); r.status != http.StatusUnauthorized {
		t.Errorf("no session yet: %d %s", r.status, r.raw)
	}
	r := near.do("GET", "/console/api/session", "")
	if r.status != 200 || r.body["mode"] != "local" || r.body["account"] != "000000000000" || near.cookie == nil || near.csrf == "" {
		t.Fatalf("session: %d %s", r.status, r.raw)
	}
	if !near.cookie.HttpOnly || near.cookie.SameSite != http.SameSiteStrictMode {
		t.Errorf("cookie %+v", near.cookie)
	}
	// Another account, picked in the page.
	if r := near.post("/console/api/session", `{"account":"12345"}`); r.status != http.StatusBadRequest {
		t.Errorf("a bad account: %d %s", r.status, r.raw)
	}
	if r := near.post("/console/api/session", `{"account":"333333333333"}`); r.status != 200 || r.body["account"] != "333333333333" {
		t.Errorf("switching: %d %s", r.status, r.raw)
	}
	f.project("333333333333", "mine")
	f.project("000000000000", "default")
	r = near.do("GET", "/console/api/projects", "")
	if r.status != 200 || !strings.Contains(r.raw, `"mine"`) || strings.Contains(r.raw, `"default"`) {
		t.Errorf("projects of 333333333333: %s", r.raw)
	}
}

func TestStrictLoginAndExpiry(t *testing.T) {
	f := newFixture(t, true)
	b := f.browser()
	b.remote = "192.0.2.7:41000" // strict mode answers anyone who logs in
	if r := b.do("GET", "/console/api/session", ""); r.status != http.StatusUnauthorized || b.cookie != nil || r.body["mode"] != "strict" {
		t.Errorf("no session: %d %s", r.status, r.raw)
	}
	if r := b.login("AKIDALICE", "wrong"); r.status != http.StatusUnauthorized || b.cookie != nil {
		t.Errorf("a wrong secret: %d %s", r.status, r.raw)
	}
	if r := b.login("AKIDNOBODY", "alice-secret"); r.status != http.StatusUnauthorized || b.cookie != nil {
		t.Errorf("an unknown key: %d %s", r.status, r.raw)
	}
	if r := b.do("POST", "/console/api/login", `{"accessKeyId":"AKIDALICE","secretAccessKey":"alice-secret"}`, "Origin", "http://evil.example"); r.status != http.StatusForbidden {
		t.Errorf("a cross-origin login: %d %s", r.status, r.raw)
	}
	r := b.login("AKIDALICE", "alice-secret")
	if r.status != 200 || r.body["account"] != "111111111111" || r.body["user"] != "alice" || b.cookie == nil {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	if r := b.do("GET", "/console/api/session", ""); r.status != 200 || r.body["account"] != "111111111111" {
		t.Errorf("session: %d %s", r.status, r.raw)
	}
	// In strict mode the account is the key's.
	if r := b.post("/console/api/session", `{"account":"222222222222"}`); r.status != http.StatusForbidden {
		t.Errorf("switching accounts: %d %s", r.status, r.raw)
	}
	// A forged cookie: another account in the payload, the old signature.
	payload, sig, _ := strings.Cut(b.cookie.Value, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	raw = []byte(strings.Replace(string(raw), "111111111111", "222222222222", 1))
	forged := *b.cookie
	forged.Value = base64.RawURLEncoding.EncodeToString(raw) + "." + sig
	evil := f.browser()
	evil.cookie = &forged
	if r := evil.do("GET", "/console/api/projects", ""); r.status != http.StatusUnauthorized {
		t.Errorf("a forged cookie: %d %s", r.status, r.raw)
	}
	// Sessions expire.
	f.clock = f.clock.Add(13 * time.Hour)
	if r := b.do("GET", "/console/api/projects", ""); r.status != http.StatusUnauthorized {
		t.Errorf("an expired session: %d %s", r.status, r.raw)
	}
	f.clock = f.clock.Add(-13 * time.Hour)
	if r := b.post("/console/api/session", `{"logout":true}`); r.status != 200 || b.cookie != nil {
		t.Errorf("logout: %d %s %v", r.status, r.raw, b.cookie)
	}
}

// TestLoginThrottled: past ten failed logins from one address in five
// minutes, that address is refused (even with the right secret) until the
// oldest failure is five minutes old; other addresses are not.
func TestLoginThrottled(t *testing.T) {
	f := newFixture(t, true)
	b := f.browser()
	b.remote = "192.0.2.7:41000"
	for i := range loginLimit {
		if r := b.login("AKIDALICE", fmt.Sprintf("guess-%d", i)); r.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d %s", i, r.status, r.raw)
		}
		f.clock = f.clock.Add(time.Second)
	}
	r := b.login("AKIDALICE", "alice-secret")
	if r.status != http.StatusTooManyRequests || r.body["error"] != "TooManyRequests" || b.cookie != nil {
		t.Fatalf("the 11th login: %d %s", r.status, r.raw)
	}
	if ra := r.header.Get("Retry-After"); ra != "290" {
		t.Errorf("Retry-After %q, want 290", ra)
	}
	other := f.browser()
	other.remote = "198.51.100.3:1234"
	if r := other.login("AKIDBOB", "bob-secret"); r.status != 200 {
		t.Errorf("another address: %d %s", r.status, r.raw)
	}
	f.clock = f.clock.Add(loginWindow)
	if r := b.login("AKIDALICE", "alice-secret"); r.status != 200 || b.cookie == nil {
		t.Errorf("after the window: %d %s", r.status, r.raw)
	}
}

// TestSessionKeyShared: a console with the same key (another node, or
// this one restarted) accepts the session; one with another key does not,
// nor one in local mode (the mode is part of what signs), nor one whose
// credentials no longer hold the key or hold another secret for it.
func TestSessionKeyShared(t *testing.T) {
	f := newFixture(t, true)
	b := f.browser()
	if r := b.login("AKIDALICE", "alice-secret"); r.status != 200 {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	opts := f.c.opts
	storeKey := []byte(strings.Repeat("s", 32))
	opts.Key = storeKey
	f.c = New(opts)
	if r := b.login("AKIDALICE", "alice-secret"); r.status != 200 {
		t.Fatalf("login with the store's key: %d %s", r.status, r.raw)
	}
	session := func(what string, o Options, want int) {
		t.Helper()
		f.c = New(o)
		cookie := b.cookie
		r := b.do("GET", "/console/api/session", "")
		if r.status != want || r.status == 200 && r.body["user"] != "alice" {
			t.Errorf("%s: %d %s", what, r.status, r.raw)
		}
		b.cookie = cookie // a local-mode console makes a session of its own
	}
	other := opts
	other.Key = []byte(strings.Repeat("k", 32))
	session("another key", other, http.StatusUnauthorized)
	local := opts
	local.Keys = nil
	f.c = New(local)
	saved := b.cookie
	if r := b.do("GET", "/console/api/session", ""); r.status != 200 || r.body["user"] == "alice" {
		t.Errorf("a local-mode console with the same key took alice's session: %d %s", r.status, r.raw)
	}
	b.cookie = saved
	rotated := opts
	keys, err := sigv4.ParseCredentials(strings.NewReader(strings.Replace(credentials, "alice-secret", "alice-new-secret", 1)))
	if err != nil {
		t.Fatal(err)
	}
	rotated.Keys = keys
	session("alice's secret changed", rotated, http.StatusUnauthorized)
	removed := opts
	if removed.Keys, err = sigv4.ParseCredentials(strings.NewReader(credentials[strings.Index(credentials, "[bob]"):])); err != nil {
		t.Fatal(err)
	}
	session("alice's key removed", removed, http.StatusUnauthorized)
	session("the same key and credentials", opts, 200)
	if r := b.post("/console/api/session", `{"logout":true}`); r.status != 200 {
		t.Errorf("a POST with the CSRF token of the other console: %d %s", r.status, r.raw)
	}

	// A local-mode session (any account a loopback user switched to) is
	// worth nothing on a strict node sharing the key.
	l := newFixture(t, false)
	lopts := l.c.opts
	lopts.Key = storeKey
	l.c = New(lopts)
	lb := l.browser()
	if r := lb.do("GET", "/console/api/session", ""); r.status != 200 || lb.cookie == nil {
		t.Fatalf("local session: %d %s", r.status, r.raw)
	}
	sopts := lopts
	if sopts.Keys, err = sigv4.ParseCredentials(strings.NewReader(credentials)); err != nil {
		t.Fatal(err)
	}
	l.c = New(sopts)
	lb.remote = "192.0.2.7:41000"
	if r := lb.do("GET", "/console/api/session", ""); r.status != http.StatusUnauthorized {
		t.Errorf("a local-mode session on a strict console: %d %s", r.status, r.raw)
	}
}

func TestCSRF(t *testing.T) {
	f := newFixture(t, false)
	f.project("000000000000", "p")
	b := f.browser()
	b.do("GET", "/console/api/session", "")
	start := `{"type":"build","project":"p"}`
	if r := b.do("POST", "/console/api/start", start); r.status != http.StatusForbidden || r.body["error"] != "InvalidCSRFToken" {
		t.Errorf("no token: %d %s", r.status, r.raw)
	}
	if r := b.do("POST", "/console/api/start", start, csrfHeader, b.csrf+"x"); r.status != http.StatusForbidden {
		t.Errorf("a wrong token: %d %s", r.status, r.raw)
	}
	other := f.browser()
	other.do("GET", "/console/api/session", "")
	if r := b.do("POST", "/console/api/start", start, csrfHeader, other.csrf); r.status != http.StatusForbidden {
		t.Errorf("another session's token: %d %s", r.status, r.raw)
	}
	if r := b.do("POST", "/console/api/start", start, csrfHeader, b.csrf, "Origin", "http://evil.example"); r.status != http.StatusForbidden {
		t.Errorf("another origin: %d %s", r.status, r.raw)
	}
	// A form post (no JSON) is refused whatever it carries.
	r := httptest.NewRequest("POST", "/console/api/start", strings.NewReader("type=build&project=p"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set(csrfHeader, b.csrf)
	r.AddCookie(b.cookie)
	r.RemoteAddr, r.Host = b.remote, "127.0.0.1:4599"
	w := httptest.NewRecorder()
	f.c.ServeHTTP(w, r)
	if w.Code != http.StatusUnsupportedMediaType {
		t.Errorf("a form post: %d %s", w.Code, w.Body)
	}
	if r := b.do("GET", "/console/api/start", ""); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET start: %d", r.status)
	}
	// Nothing was started so far; with the token it starts.
	if r := b.do("GET", "/console/api/builds", ""); len(r.body["builds"].([]any)) != 0 {
		t.Fatalf("builds started without a token: %s", r.raw)
	}
	if r := b.post("/console/api/start", start); r.status != 200 || r.body["type"] != "build" {
		t.Fatalf("start: %d %s", r.status, r.raw)
	}
	if r := b.do("GET", "/console/api/builds", ""); len(r.body["builds"].([]any)) != 1 {
		t.Errorf("builds: %s", r.raw)
	}
}

func TestAccountIsolation(t *testing.T) {
	f := newFixture(t, true)
	f.project("111111111111", "alices")
	f.project("222222222222", "bobs")
	aliceBuild := f.build("111111111111", "alices")
	bobBuild := f.build("222222222222", "bobs")
	bob := f.browser()
	bob.login("AKIDBOB", "bob-secret")
	r := bob.do("GET", "/console/api/builds", "")
	if r.status != 200 || !strings.Contains(r.raw, bobBuild) || strings.Contains(r.raw, aliceBuild) {
		t.Errorf("bob's builds: %s", r.raw)
	}
	if r := bob.do("GET", "/console/api/projects", ""); strings.Contains(r.raw, "alices") || !strings.Contains(r.raw, "bobs") {
		t.Errorf("bob's projects: %s", r.raw)
	}
	if r := bob.do("GET", "/console/api/build?id="+aliceBuild, ""); r.status != http.StatusNotFound {
		t.Errorf("alice's build for bob: %d %s", r.status, r.raw)
	}
	arn := "arn:aws:codebuild:us-east-1:111111111111:build/" + aliceBuild
	if r := bob.do("GET", "/console/api/build?id="+arn, ""); r.status != http.StatusNotFound {
		t.Errorf("alice's build by ARN for bob: %d %s", r.status, r.raw)
	}
	if r := bob.do("GET", "/console/api/builds?project=alices", ""); r.status != http.StatusBadRequest || r.body["error"] != "ResourceNotFoundException" {
		t.Errorf("alice's project's builds for bob: %d %s", r.status, r.raw)
	}
	if r := bob.post("/console/api/stop", fmt.Sprintf(`{"type":"build","id":%q}`, aliceBuild)); r.status == 200 {
		t.Errorf("bob stopped alice's build: %s", r.raw)
	}
	if r := bob.post("/console/api/start", `{"type":"build","project":"alices"}`); r.status == 200 {
		t.Errorf("bob started alice's project: %s", r.raw)
	}
	if r := bob.do("GET", "/console/api/log?id="+aliceBuild, ""); r.status == 200 {
		t.Errorf("bob read alice's log: %s", r.raw)
	}
	// Alice sees hers and stops it.
	alice := f.browser()
	alice.login("AKIDALICE", "alice-secret")
	r = alice.do("GET", "/console/api/build?id="+aliceBuild, "")
	if r.status != 200 || r.body["build"].(map[string]any)["buildStatus"] != "IN_PROGRESS" {
		t.Fatalf("alice's build: %d %s", r.status, r.raw)
	}
	if r := alice.post("/console/api/stop", fmt.Sprintf(`{"type":"build","id":%q}`, aliceBuild)); r.status != 200 {
		t.Errorf("alice's stop: %d %s", r.status, r.raw)
	}
	if r := alice.do("GET", "/console/api/builds?status=STOPPED", ""); !strings.Contains(r.raw, aliceBuild) {
		t.Errorf("alice's stopped builds: %s", r.raw)
	}
	if r := alice.do("GET", "/console/api/builds?status=SUCCEEDED", ""); strings.Contains(r.raw, aliceBuild) {
		t.Errorf("alice's succeeded builds: %s", r.raw)
	}
}

// TestFeed: one feed, events only to their scope's clients, revisions and
// ends noticed.
func TestFeed(t *testing.T) {
	f := newFixture(t, false)
	f.project("000000000000", "p")
	f.project("333333333333", "q")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	mine, _ := f.c.feed.subscribe(store.Scope{Account: "000000000000", Region: "us-east-1"})
	theirs, _ := f.c.feed.subscribe(store.Scope{Account: "333333333333", Region: "us-east-1"})
	f.waitRead() // the feed's first look, which tells nothing
	id := f.build("000000000000", "p")
	want := func(cl *client, what string, match func(event) bool) {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for {
			select {
			case e := <-cl.ch:
				if match(e) {
					return
				}
			case <-timeout:
				t.Fatalf("no event: %s", what)
			}
		}
	}
	want(mine, "the new build", func(e event) bool { return e.Type == "build" && e.ID == id && e.Project == "p" })
	if _, err := f.api.StopBuild(caller("000000000000"), &cb.StopBuildInput{Id: &id}); err != nil {
		t.Fatal(err)
	}
	want(mine, "the build's end", func(e event) bool { return e.Type == "build" && e.ID == id && e.Status == "" })
	select {
	case e := <-theirs.ch:
		t.Errorf("another account heard %+v", e)
	default:
	}
	// The feed ends the streams when it stops.
	cancel()
	<-done
	if _, ok := f.c.feed.subscribe(store.Scope{}); ok {
		t.Errorf("subscribed to a stopped feed")
	}
}

// TestFeedShortBuild: a build (and a batch) made and ended between two
// reads of the feed, never seen incomplete, is announced with its status.
func TestFeedShortBuild(t *testing.T) {
	f := newFixture(t, false)
	f.project("000000000000", "p")
	ctx := context.Background()
	old := f.build("000000000000", "p")
	if _, err := f.api.StopBuild(caller("000000000000"), &cb.StopBuildInput{Id: &old}); err != nil {
		t.Fatal(err)
	}
	if evs, err := f.c.feed.read(ctx, f.st); err != nil || len(evs) != 0 {
		t.Fatalf("the first read: %v, %v", evs, err)
	}
	id := f.build("000000000000", "p")
	if _, err := f.api.StopBuild(caller("000000000000"), &cb.StopBuildInput{Id: &id}); err != nil {
		t.Fatal(err)
	}
	out, err := f.api.StartBuildBatch(caller("000000000000"), &cb.StartBuildBatchInput{ProjectName: cb.String("p")})
	if err != nil {
		t.Fatal(err)
	}
	batch := cb.Deref(out.BuildBatch.Id)
	if _, err := f.api.StopBuildBatch(caller("000000000000"), &cb.StopBuildBatchInput{Id: &batch}); err != nil {
		t.Fatal(err)
	}
	evs, err := f.c.feed.read(ctx, f.st)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range evs {
		got[e.Type+" "+e.ID] = e.Status
	}
	if got["build "+id] != cb.StatusTypeStopped {
		t.Errorf("the short build: %v", evs)
	}
	if _, ok := got["build "+old]; ok {
		t.Errorf("a build ended before the first read was announced: %v", evs)
	}
	if st, ok := got["batch "+batch]; !ok || st == cb.StatusTypeInProgress {
		t.Errorf("the short batch: %v", evs)
	}
	if evs, err := f.c.feed.read(ctx, f.st); err != nil || len(evs) != 0 {
		t.Errorf("a third read: %v, %v", evs, err)
	}
}

func TestEventsStream(t *testing.T) {
	f := newFixture(t, false)
	f.project("000000000000", "p")
	srv := httptest.NewServer(f.c)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	b := f.browser()
	b.do("GET", "/console/api/session", "")
	req, _ := http.NewRequest("GET", srv.URL+"/console/events", nil)
	req.AddCookie(b.cookie)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header)
	}
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "retry: ") {
		t.Fatalf("stream starts with %q", buf[:n])
	}
	var id string
	got := ""
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !strings.Contains(got, `"type":"build"`); {
		if id == "" {
			f.waitRead() // the feed's first look, then a change
			id = f.build("000000000000", "p")
		}
		n, err := resp.Body.Read(buf)
		got += string(buf[:n])
		if err != nil {
			break
		}
	}
	if !strings.Contains(got, `"id":"`+id+`"`) {
		t.Errorf("stream: %q", got)
	}
}

func group(id string, status string, deps ...string) cb.BuildGroup {
	g := cb.BuildGroup{Identifier: &id, DependsOn: deps,
		CurrentBuildSummary: &cb.BuildSummary{Arn: cb.String("arn:aws:codebuild:us-east-1:000000000000:build/p:" + id), BuildStatus: &status}}
	if deps == nil && id != sourceGroup {
		g.DependsOn = []string{}
	}
	return g
}

func TestGraphLayout(t *testing.T) {
	b := &cb.BuildBatch{BuildGroups: []cb.BuildGroup{
		group(sourceGroup, "SUCCEEDED"),
		group("compile", "SUCCEEDED"),
		group("unit", "FAILED", "compile"),
		group("lint", "IN_PROGRESS", "compile"),
		group("package", "PENDING", "unit", "lint"),
	}}
	b.BuildGroups[0].DependsOn = nil
	g := buildGraph(b, "build-graph", map[string]*cb.Build{"p:lint": {StartTime: cb.At(time.Unix(100, 0))}})
	if len(g.Nodes) != 5 || len(g.Clusters) != 0 {
		t.Fatalf("%d nodes, %d clusters", len(g.Nodes), len(g.Clusters))
	}
	at := map[string]*graphNode{}
	for _, n := range g.Nodes {
		at[n.ID] = n
	}
	if !at[sourceGroup].Source || at["compile"].Source || at["lint"].Build != "p:lint" || at["lint"].Start != 100000 || at["unit"].Status != "FAILED" {
		t.Errorf("nodes: %+v %+v %+v", at[sourceGroup], at["compile"], at["lint"])
	}
	// Layers: source, compile, {unit, lint}, package.
	if !(at[sourceGroup].X < at["compile"].X && at["compile"].X < at["unit"].X && at["unit"].X == at["lint"].X && at["lint"].X < at["package"].X) {
		t.Errorf("columns: %d %d %d %d %d", at[sourceGroup].X, at["compile"].X, at["unit"].X, at["lint"].X, at["package"].X)
	}
	if at["unit"].Y == at["lint"].Y {
		t.Errorf("unit and lint overlap")
	}
	var edges []string
	for _, e := range g.Edges {
		s := e.From + ">" + e.To
		if e.Source {
			s = "source:" + s
		}
		edges = append(edges, s)
		if e.X1 >= e.X2 {
			t.Errorf("edge %s goes backwards", s)
		}
	}
	if strings.Join(edges, " ") != "source:DOWNLOAD_SOURCE>compile compile>unit compile>lint unit>package lint>package" {
		t.Errorf("edges: %v", edges)
	}
	for _, n := range g.Nodes {
		if n.X+n.W > g.Width || n.Y+n.H > g.Height {
			t.Errorf("node %s outside the graph", n.ID)
		}
	}
}

func TestGraphClustersMatrix(t *testing.T) {
	for _, tc := range []struct {
		kind    string
		members int
		compact bool
	}{{"build-matrix", 256, true}, {"build-fanout", 4, false}, {"", 12, true}} {
		b := &cb.BuildBatch{BuildGroups: []cb.BuildGroup{group(sourceGroup, "SUCCEEDED")}}
		b.BuildGroups[0].DependsOn = nil
		for i := 1; i <= tc.members; i++ {
			st := "SUCCEEDED"
			if i%3 == 0 {
				st = "IN_PROGRESS"
			}
			b.BuildGroups = append(b.BuildGroups, group(fmt.Sprintf("build%d", i), st))
		}
		g := buildGraph(b, tc.kind, nil)
		if len(g.Clusters) != 1 || g.Clusters[0].Members != tc.members || g.Clusters[0].Compact != tc.compact {
			t.Fatalf("%s of %d: clusters %+v", tc.kind, tc.members, g.Clusters)
		}
		if len(g.Edges) != 1 || g.Edges[0].To != "cluster:members" || !g.Edges[0].Source {
			t.Errorf("%s: edges %+v", tc.kind, g.Edges)
		}
		c := g.Clusters[0]
		if c.Counts["IN_PROGRESS"] != tc.members/3 {
			t.Errorf("%s: counts %v", tc.kind, c.Counts)
		}
		for _, n := range g.Nodes[1:] {
			if n.Cluster != clusterID || n.X < c.X || n.Y < c.Y || n.X+n.W > c.X+c.W || n.Y+n.H > c.Y+c.H {
				t.Fatalf("%s: member %+v outside its cluster %+v", tc.kind, n, c)
			}
		}
		if tc.members == 256 && (g.Width > 700 || g.Height > 450) {
			t.Errorf("a 256-member matrix is %dx%d", g.Width, g.Height)
		}
	}
	// A graph whose groups merely look like members is not clustered.
	b := &cb.BuildBatch{BuildGroups: []cb.BuildGroup{group("build1", "SUCCEEDED"), group("build2", "SUCCEEDED", "build1")}}
	if g := buildGraph(b, "", nil); len(g.Clusters) != 0 {
		t.Errorf("a graph was clustered")
	}
}

// TestArtifacts: a build's artifacts are listed and downloaded through
// the account's bucket ownership, and only under the artifact's location.
func TestArtifacts(t *testing.T) {
	f := newFixture(t, true)
	ctx := context.Background()
	alice := store.Scope{Account: "111111111111", Region: "us-east-1"}
	bob := store.Scope{Account: "222222222222", Region: "us-east-1"}
	guard := tenancy.New(f.c.opts.Blob, f.st, alice)
	for key, text := range map[string]string{"out/app/a.txt": "hello", "out/app/sub/b.txt": "world", "secret.txt": "no"} {
		if err := guard.Put(ctx, "alices-bucket", key, strings.NewReader(text)); err != nil {
			t.Fatal(err)
		}
	}
	insert := func(scope store.Scope, id string) {
		t.Helper()
		err := f.st.Update(ctx, func(tx store.Tx) error {
			return tx.BuildInsert(ctx, &store.Build{Scope: scope, Doc: &cb.Build{Id: cb.String(id), Arn: cb.String("arn:aws:codebuild:us-east-1:" + scope.Account + ":build/" + id),
				ProjectName: cb.String("p"), BuildNumber: cb.Int64(1), BuildStatus: cb.String("SUCCEEDED"), BuildComplete: cb.Bool(true),
				Artifacts: &cb.BuildArtifacts{Location: cb.String("arn:aws:s3:::alices-bucket/out/app")}}})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	insert(alice, "p:aaaaaaaa-0000-4000-8000-000000000001")
	insert(bob, "p:bbbbbbbb-0000-4000-8000-000000000002") // points at alice's bucket
	a := f.browser()
	a.login("AKIDALICE", "alice-secret")
	r := a.do("GET", "/console/api/build?id=p:aaaaaaaa-0000-4000-8000-000000000001", "")
	arts, _ := r.body["artifacts"].([]any)
	if r.status != 200 || len(arts) != 1 || !strings.Contains(r.raw, `"path":"a.txt"`) || !strings.Contains(r.raw, `"path":"sub/b.txt"`) || strings.Contains(r.raw, "secret") {
		t.Fatalf("artifacts: %d %s", r.status, r.raw)
	}
	base := "/console/api/artifact?build=p%3Aaaaaaaaa-0000-4000-8000-000000000001&n=0&file="
	if r := a.do("GET", base+"sub%2Fb.txt", ""); r.status != 200 || r.raw != "world" || !strings.Contains(r.header.Get("Content-Disposition"), "b.txt") {
		t.Errorf("download: %d %q %v", r.status, r.raw, r.header)
	}
	for _, bad := range []string{"..%2F..%2Fsecret.txt", "%2F..%2F..%2Fsecret.txt", "nothing.txt"} {
		if r := a.do("GET", base+bad, ""); r.status == 200 {
			t.Errorf("file %s: %d %q", bad, r.status, r.raw)
		}
	}
	if r := a.do("GET", "/console/api/artifact?build=p%3Aaaaaaaaa-0000-4000-8000-000000000001&n=1", ""); r.status != http.StatusNotFound {
		t.Errorf("a second artifact: %d", r.status)
	}
	b := f.browser()
	b.login("AKIDBOB", "bob-secret")
	if r := b.do("GET", "/console/api/artifact?build=p%3Abbbbbbbb-0000-4000-8000-000000000002&n=0&file=a.txt", ""); r.status != http.StatusForbidden {
		t.Errorf("bob reads alice's bucket: %d %q", r.status, r.raw)
	}
	if r := b.do("GET", base+"a.txt", ""); r.status != http.StatusNotFound {
		t.Errorf("bob reads alice's build's artifact: %d %q", r.status, r.raw)
	}
}

// TestActions: start, stop and retry call the API's operations.
func TestActions(t *testing.T) {
	f := newFixture(t, false)
	f.project("000000000000", "p")
	b := f.browser()
	b.do("GET", "/console/api/session", "")
	r := b.post("/console/api/start", `{"type":"build","project":"p"}`)
	id, _ := r.body["id"].(string)
	if r.status != 200 || id == "" {
		t.Fatalf("start: %d %s", r.status, r.raw)
	}
	if r := b.post("/console/api/retry", fmt.Sprintf(`{"type":"build","id":%q}`, id)); r.status == 200 {
		t.Errorf("retried a running build: %s", r.raw)
	}
	b.post("/console/api/stop", fmt.Sprintf(`{"type":"build","id":%q}`, id))
	r = b.post("/console/api/retry", fmt.Sprintf(`{"type":"build","id":%q}`, id))
	if r.status != 200 || r.body["id"] == id || r.body["id"] == "" {
		t.Errorf("retry: %d %s", r.status, r.raw)
	}
	r = b.post("/console/api/start", `{"type":"batch","project":"p"}`)
	batch, _ := r.body["id"].(string)
	if r.status != 200 || batch == "" {
		t.Fatalf("start batch: %d %s", r.status, r.raw)
	}
	if r := b.post("/console/api/stop", fmt.Sprintf(`{"type":"batch","id":%q}`, batch)); r.status != 200 {
		t.Errorf("stop batch: %d %s", r.status, r.raw)
	}
	if r := b.do("GET", "/console/api/batch?id="+batch, ""); r.body["batch"].(map[string]any)["status"] != "STOPPED" {
		t.Errorf("stopped batch: %s", r.raw)
	}
	if r := b.post("/console/api/retry", fmt.Sprintf(`{"type":"batch","id":%q,"failedOnly":true}`, batch)); r.status != 200 || r.body["id"] != batch {
		t.Errorf("retry failed builds: %d %s", r.status, r.raw)
	}
	if r := b.do("GET", "/console/api/batches?project=p", ""); !strings.Contains(r.raw, batch) {
		t.Errorf("batches: %s", r.raw)
	}
	if r := b.post("/console/api/start", `{"type":"nothing","project":"p"}`); r.status != http.StatusBadRequest {
		t.Errorf("a bad type: %d", r.status)
	}
}

func TestLoopback(t *testing.T) {
	for _, c := range []struct {
		remote, host string
		want         bool
	}{
		{"127.0.0.1:5000", "127.0.0.1:4599", true},
		{"127.0.0.1:5000", "localhost:4599", true},
		{"[::1]:5000", "[::1]:4599", true},
		{"127.0.0.1:5000", "attacker.example:4599", false}, // DNS rebinding
		{"10.0.0.5:5000", "127.0.0.1:4599", false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr, r.Host = c.remote, c.host
		if got := loopback(r); got != c.want {
			t.Errorf("loopback(%s, Host %s) = %v, want %v", c.remote, c.host, got, c.want)
		}
	}
}
