package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codebuild/types"
	"github.com/chromedp/chromedp"
)

// chromium finds Debian's chromium (or $BUILDBATCH_CHROMIUM). Without one
// the console tests are skipped, except in CI (CI=true), where they fail.
func chromium(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("BUILDBATCH_CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "headless-shell"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "no chromium found (apt-get install chromium, or set BUILDBATCH_CHROMIUM): the console's browser tests cannot run"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browser is a headless chromium tab for one test. On failure it writes a
// screenshot to $BUILDBATCH_E2E_ARTIFACTS (or the test's temporary
// directory) and logs the page's console.
type browser struct {
	t   *testing.T
	ctx context.Context
	mu  sync.Mutex
	log []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1400, 1000), chromedp.DisableGPU)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &browser{t: t, ctx: ctx}
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // start it
		t.Fatalf("starting %s: %v", path, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.log = append(b.log, m.String())
			b.mu.Unlock()
		}
	}()
	t.Cleanup(b.onFailure) // runs before the browser is closed
	return b
}

func (b *browser) onFailure() {
	if !b.t.Failed() {
		return
	}
	b.mu.Lock()
	if len(b.log) > 0 {
		b.t.Logf("the page's console:\n%s", strings.Join(b.log, "\n"))
	}
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`)); err == nil {
		b.t.Logf("the page when the test failed: %s", text)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // PNG
	if err != nil {
		b.t.Logf("no screenshot: %v", err)
		return
	}
	dir := os.Getenv("BUILDBATCH_E2E_ARTIFACTS")
	if dir == "" {
		dir = b.t.TempDir()
	}
	os.MkdirAll(dir, 0o755)
	name := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(b.t.Name())+".png")
	if err := os.WriteFile(name, shot, 0o644); err != nil {
		b.t.Logf("no screenshot: %v", err)
		return
	}
	b.t.Logf("screenshot of the page: %s", name)
}

// do runs actions, failing the test with what it was doing.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// wait waits until the JavaScript expression is truthy.
func (b *browser) wait(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(25*time.Millisecond), chromedp.WithPollingTimeout(0)))
		if err == nil {
			return
		}
		// A poll that began as the page changed lost its JavaScript
		// context: poll again in the new one.
		if ctx.Err() != nil || !strings.Contains(err.Error(), "context") {
			b.t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eval evaluates a JavaScript expression.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// node is the graph node of a group.
func node(group string) string { return fmt.Sprintf(`svg.graph .node[data-group=%q]`, group) }

// status is a JavaScript expression: the status a graph node shows.
func status(group string) string {
	return fmt.Sprintf(`(document.querySelector(%q) || {dataset: {}}).dataset.status`, node(group))
}

// TestConsoleBatchGraph drives the console in a real browser: a build-graph
// batch of 4 groups, one of which fails, watched live on the batch page,
// a build page with its phases and log, and a stop from the page.
func TestConsoleBatchGraph(t *testing.T) {
	if e2eExecutor == "docker" {
		t.Skip("the console test holds builds back with a file of the host: it runs on the local executor")
	}
	chromium(t)
	s := Start(t)
	b := newBrowser(t) // after Start: its cleanup (a screenshot on failure) runs before the server stops
	c := s.Client(t, "test", "us-east-1")
	gate := filepath.Join(t.TempDir(), "gate")
	batchProject(t, c, "console", fmt.Sprintf(`version: 0.2
batch:
  build-graph:
    - identifier: compile
    - identifier: unit
      depend-on: [compile]
    - identifier: lint
      depend-on: [compile]
    - identifier: package
      depend-on: [unit, lint]
phases:
  build:
    commands:
      - 'echo "group $CODEBUILD_BATCH_BUILD_IDENTIFIER starts"'
      - 'if [ "$CODEBUILD_BATCH_BUILD_IDENTIFIER" = compile ]; then while [ ! -e %s ]; do sleep 0.02; done; fi'
      - 'if [ "$CODEBUILD_BATCH_BUILD_IDENTIFIER" = unit ]; then echo "unit tests failed: 3 of 10"; exit 3; fi'
      - 'if [ "$CODEBUILD_BATCH_BUILD_IDENTIFIER" = lint ]; then echo "lint is still linting"; sleep 60; fi'
      - 'echo "group $CODEBUILD_BATCH_BUILD_IDENTIFIER done"'
`, gate))
	started := startBatch(t, c, &codebuild.StartBuildBatchInput{ProjectName: aws.String("console")})
	id := aws.ToString(started.Id)

	// The batch page: 4 groups (and the DOWNLOAD_SOURCE build before them)
	// with the graph's 4 edges, compile running.
	b.do("opening the batch page", chromedp.Navigate(s.URL+"/#/batches/"+url.PathEscape(id)))
	b.wait("the graph's 4 groups, compile running",
		`document.querySelectorAll('svg.graph .node.group').length === 4 && `+status("compile")+` === 'IN_PROGRESS'`)
	edges := eval[[]string](b, `[...document.querySelectorAll('svg.graph path.edge:not(.source)')].map(e => e.dataset.from + '>' + e.dataset.to).sort()`)
	if strings.Join(edges, " ") != "compile>lint compile>unit lint>package unit>package" {
		t.Errorf("edges: %v", edges)
	}
	if n := eval[int](b, `document.querySelectorAll('svg.graph .node.source').length`); n != 1 {
		t.Errorf("%d DOWNLOAD_SOURCE nodes", n)
	}
	fill := func(group string) string {
		return eval[string](b, fmt.Sprintf(`getComputedStyle(document.querySelector('%s .bar')).fill`, node(group)))
	}
	running := fill("compile")
	eval[bool](b, `window.notReloaded = true`)

	// Let compile end: the page follows without a reload.
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	b.wait("compile to succeed, unit to fail, lint to run",
		status("compile")+` === 'SUCCEEDED' && `+status("unit")+` === 'FAILED' && `+status("lint")+` === 'IN_PROGRESS'`)
	if !eval[bool](b, `window.notReloaded === true`) {
		t.Errorf("the page was reloaded")
	}
	succeeded, failed := fill("compile"), fill("unit")
	if succeeded == running || failed == running || failed == succeeded || fill("lint") != running {
		t.Errorf("colours: running %s, succeeded %s, failed %s, lint %s", running, succeeded, failed, fill("lint"))
	}
	if text := eval[string](b, `document.querySelector('`+node("unit")+`').textContent`); !strings.Contains(text, "failed") {
		t.Errorf("the failing node says %q", text)
	}

	// Its build page: phases, the failure's context, the log.
	b.do("clicking the failing node", chromedp.Click(chromedp.CSS(node("unit")+" .box")))
	b.wait("the failed build's page, complete", `location.hash.startsWith('#/builds/') && document.querySelector('h1 .badge')?.dataset.status === 'FAILED' && document.querySelector('#log')?.dataset.complete === 'true'`)
	phases := eval[[]string](b, `[...document.querySelectorAll('[data-phase]')].map(e => e.dataset.phase)`)
	if all := strings.Join(phases, " "); !strings.HasPrefix(all, "SUBMITTED QUEUED PROVISIONING") || !strings.Contains(all, " BUILD ") || !strings.HasSuffix(all, " COMPLETED") {
		t.Errorf("phases: %v", phases)
	}
	if ctx := eval[string](b, `document.querySelector('[data-context="BUILD"]')?.textContent || ''`); !strings.Contains(ctx, "COMMAND_EXECUTION_ERROR") {
		t.Errorf("the BUILD phase's context: %q", ctx)
	}
	if log := eval[string](b, `document.querySelector('#log').textContent`); !strings.Contains(log, "group unit starts") || !strings.Contains(log, "unit tests failed: 3 of 10") {
		t.Errorf("the log:\n%s", log)
	}

	// The running build's page follows its log.
	eval[bool](b, `history.back(), true`) // a same-document navigation: no load event
	b.wait("the batch page again", `document.querySelectorAll('svg.graph .node.group').length === 4`)
	b.do("clicking the running node", chromedp.Click(chromedp.CSS(node("lint")+" .box")))
	b.wait("the running build's log", `document.querySelector('h1 .badge')?.dataset.status === 'IN_PROGRESS' && (document.querySelector('#log')?.textContent || '').includes('lint is still linting')`)

	// Stop from the batch page.
	eval[bool](b, `history.back(), true`) // a same-document navigation: no load event
	b.wait("the batch page's stop button", `[...document.querySelectorAll('button')].some(b => b.textContent === 'Stop batch')`)
	eval[bool](b, `[...document.querySelectorAll('button')].find(b => b.textContent === 'Stop batch').click() || true`)
	b.wait("the batch to stop", status("lint")+` === 'STOPPED' && document.querySelector('h1 .badge')?.dataset.status === 'STOPPED'`)
	if !eval[bool](b, `window.notReloaded === true`) {
		t.Errorf("the page was reloaded")
	}
	if got := getBatch(t, c, id); got.BuildBatchStatus != types.StatusTypeStopped {
		t.Errorf("the batch is %s: %s", got.BuildBatchStatus, groups(got))
	}

	// A build's logs.deepLink is its page in the console.
	unit := buildOfGroup(t, c, getBatch(t, c, id), "unit")
	link := aws.ToString(unit.Logs.DeepLink)
	if link != s.URL+"/#/builds/"+url.PathEscape(aws.ToString(unit.Id)) {
		t.Errorf("deepLink %s", link)
	}
	b.do("opening the deep link", chromedp.Navigate("about:blank"), chromedp.Navigate(link))
	b.wait("the deep link's page", `document.querySelector('h1')?.textContent.startsWith('Build console:') && (document.querySelector('#log')?.textContent || '').includes('unit tests failed')`)
}

// TestConsoleStrictLogin: in strict mode the console asks for a key of the
// credentials file; a wrong secret is refused; the user sees only their
// account's projects; logging out ends the session.
func TestConsoleStrictLogin(t *testing.T) {
	if e2eExecutor == "docker" || e2eShared {
		t.Skip("the login is the same whatever runs builds and keeps state: run once, in the local pass")
	}
	chromium(t)
	credFile := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(credFile, []byte("[alice]\naws_access_key_id = AKIAALICE\naws_secret_access_key = alice-secret\naws_account_id = 111111111111\n\n"+
		"[bob]\naws_access_key_id = AKIABOB\naws_secret_access_key = bob-secret\naws_account_id = 222222222222\n"), 0o600)
	s := Start(t, "--credentials", credFile)
	b := newBrowser(t)
	alice := s.ClientWithSecret(t, "AKIAALICE", "alice-secret", "us-east-1")
	bob := s.ClientWithSecret(t, "AKIABOB", "bob-secret", "us-east-1")
	for c, name := range map[*codebuild.Client]string{alice: "alices-project", bob: "bobs-project"} {
		if _, err := c.CreateProject(ctx, createInput(name)); err != nil {
			t.Fatal(err)
		}
	}
	login := func(key, secret string) {
		b.t.Helper()
		b.wait("the login form", `!!document.querySelector('form.login input[name=accessKeyId]')`)
		b.do("logging in as "+key,
			chromedp.SetValue(`form.login input[name=accessKeyId]`, key),
			chromedp.SetValue(`form.login input[name=secretAccessKey]`, secret),
			chromedp.Click(`form.login button[type=submit]`))
	}
	b.do("opening the console", chromedp.Navigate(s.URL+"/"))
	login("AKIAALICE", "not-her-secret")
	b.wait("the refusal", `!!document.querySelector('form.login .flash')`)
	login("AKIAALICE", "alice-secret")
	b.wait("alice's projects", `!!document.querySelector('tr[data-project="alices-project"]')`)
	if n := eval[int](b, `document.querySelectorAll('tr[data-project="bobs-project"]').length`); n != 0 {
		t.Error("alice sees bob's project")
	}
	if who := eval[string](b, `document.getElementById('who').innerText`); !strings.Contains(who, "111111111111") {
		t.Errorf("the session shown: %q", who)
	}
	// Log out: the login form again, and the session cookie no longer works.
	b.do("logging out", chromedp.Click(`#who button`))
	b.wait("the login form after logging out", `!!document.querySelector('form.login')`)
	if status := eval[int](b, `(() => { const x = new XMLHttpRequest(); x.open('GET', '/console/api/projects', false); x.send(); return x.status })()`); status != 401 {
		t.Errorf("the API after logging out answered %d, want 401", status)
	}
}

// TestConsoleSessionAcrossRestart: a console session outlives a restart of
// the server (its key is kept in the store, which every node sharing it
// uses too), and failed logins from one address are throttled.
func TestConsoleSessionAcrossRestart(t *testing.T) {
	credFile := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(credFile, []byte("[alice]\naws_access_key_id = AKIAALICE\naws_secret_access_key = alice-secret\naws_account_id = 111111111111\n"), 0o600)
	s := Start(t, "--credentials", credFile)
	login := func(secret string) *http.Response {
		t.Helper()
		body := fmt.Sprintf(`{"accessKeyId":"AKIAALICE","secretAccessKey":%q}`, secret)
		resp, err := http.Post(s.URL+"/console/api/login", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	resp := login("alice-secret")
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "bbconsole" {
			cookie = c
		}
	}
	if resp.StatusCode != 200 || cookie == nil {
		t.Fatalf("login: %d, cookie %v", resp.StatusCode, cookie)
	}
	session := func() (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/console/api/session", nil)
		req.AddCookie(cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := session(); code != 200 || !strings.Contains(body, "111111111111") {
		t.Fatalf("session: %d %s", code, body)
	}
	s.Restart()
	if code, body := session(); code != 200 || !strings.Contains(body, "111111111111") {
		t.Errorf("the session after a restart: %d %s", code, body)
	}
	for i := range 10 {
		if resp := login(fmt.Sprintf("guess-%d", i)); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, resp.StatusCode)
		}
	}
	if resp := login("alice-secret"); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("the 11th login: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
