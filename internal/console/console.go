// Package console is buildbatch's web console: a small single-page
// application, served by `buildbatch serve` at / on the API's port, for
// watching builds and batch builds run and for starting, stopping and
// retrying them.
//
// What is served:
//
//   - / (index.html) and /console/assets/ (app.js, app.css): embedded with
//     go:embed; plain HTML, CSS and one hand-written ES module, no build
//     step. The script routes by the URL's fragment (#/builds/<id>, the
//     target of a build's logs.deepLink).
//   - /console/api/: a small JSON API for the script. It calls the API's Go
//     methods (package api) with the session's caller in the context, so
//     the console does exactly what the AWS operations do, with the same
//     checks and the same account isolation. Reads the API has no
//     operation for (a batch's member builds, for the graph's durations)
//     go to the store in the session's scope.
//   - /console/events: server-sent events from the change feed.
//
// Requests: Owns takes unsigned browser requests only (no Authorization
// header, no X-Amz-* header or query parameter): GET / and everything
// under /console/. Signed API and S3 requests never reach the console (an
// anonymous S3 request for a bucket named "console" gets the console's 404).
// A build's logs.deepLink is <base URL>/#/builds/<id> (set by the runner).
//
// Access: in local mode (no Keys) the console is open, but only to
// loopback clients; it gives them a session of the default account (the
// page may switch to another 12-digit account). In strict mode the page
// asks for an access key id and secret of the credentials file. Either
// way the session is an HMAC-signed cookie (Options.Key: the server keeps
// one in the store, so sessions outlive restarts and every node sharing
// the store accepts them) carrying account, region, user and expiry
// (12 h), HttpOnly and SameSite=Strict; failed logins are throttled per
// client address; every POST must carry the CSRF
// token derived from the session in the X-CSRF-Token header, be JSON, and
// come from the same origin when the browser says where it comes from.
//
// The change feed: ONE feed per server process, not one per client. While
// at least one client listens on /console/events, a goroutine (Run) reads
// the incomplete builds and batches of every scope from the store every
// Interval (300 ms) and compares their revisions (store.Build.Rev,
// store.Batch.Rev) with the previous read; a new revision, a new document
// or one that stopped being incomplete (it finished, or was deleted)
// becomes a small event ("build X of batch Y changed"), fanned out to the
// clients of that account and region only. The page then refetches what it
// shows; a client that falls behind gets a "resync" event instead. An
// action taken through the console wakes the feed at once. A build or
// batch created and ended between two reads, never seen incomplete, is
// found by its Seq (store.BuildListAfter: those made since the newest the
// last read saw) and announced with its final status. A build's log is not part of the feed: the build page follows it
// with long polls of GetBuildLog (which waits on the log, not the store).
package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/api"
	"github.com/buildbatch/buildbatch/internal/awsjson"
	"github.com/buildbatch/buildbatch/internal/blob"
	"github.com/buildbatch/buildbatch/internal/sigv4"
	"github.com/buildbatch/buildbatch/internal/store"
)

//go:embed assets
var assets embed.FS

// Options configures the console.
type Options struct {
	API   *api.API
	Store store.Store
	// Blob is the blob store artifacts are downloaded from (through the
	// account's bucket ownership); nil: no downloads.
	Blob blob.Store
	// Keys are the credentials of strict mode; nil: local mode.
	Keys sigv4.Keys
	// DefaultAccount is local mode's account, and strict mode's for keys
	// whose section names none.
	DefaultAccount string
	// Region is the sessions' region; default us-east-1.
	Region string
	// BaseURL is the server's own URL (http://host:port).
	BaseURL string
	Log     *slog.Logger
	// Interval is how often the change feed reads the store while clients
	// listen; default 300 ms.
	Interval time.Duration
	// SessionTTL is how long a session lasts; default 12 h.
	SessionTTL time.Duration
	// Key signs sessions and CSRF tokens (at least 32 bytes). Nodes that
	// share it accept each other's sessions, which outlive a restart;
	// nil: a random key, for this process only.
	Key []byte
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Console serves the web console.
type Console struct {
	opts   Options
	log    *slog.Logger
	now    func() time.Time
	key    []byte // signs sessions and CSRF tokens (Options.Key)
	feed   *feed
	logins *throttle // failed logins per client address
	static http.Handler
	index  []byte
}

// New returns the console.
func New(opts Options) *Console {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.DefaultAccount == "" {
		opts.DefaultAccount = "000000000000"
	}
	if opts.Interval <= 0 {
		opts.Interval = 300 * time.Millisecond
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	key := opts.Key
	if len(key) < 32 {
		key = randomBytes(32)
	}
	// Sessions of one mode are worth nothing in the other: a node in
	// local mode that shares the store with strict ones signs with
	// another key.
	mode := "local"
	if opts.Keys != nil {
		mode = "strict"
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("console sessions, " + mode + " mode"))
	key = m.Sum(nil)
	sub, _ := fs.Sub(assets, "assets")
	index, _ := fs.ReadFile(sub, "index.html")
	return &Console{
		opts:   opts,
		log:    opts.Log,
		now:    now,
		key:    key,
		feed:   newFeed(),
		logins: newThrottle(),
		static: http.StripPrefix("/console/assets/", http.FileServer(http.FS(sub))),
		index:  index,
	}
}

// Owns reports whether r is the console's: an unsigned browser request for
// / or under /console/. Requests with an Authorization header or any
// X-Amz-* header or query parameter (signed or presigned API and S3
// requests) are never the console's.
func (c *Console) Owns(r *http.Request) bool {
	if r.URL.Path != "/" && !strings.HasPrefix(r.URL.Path, "/console/") {
		return false
	}
	if r.URL.Path == "/" && r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if r.Header.Get("Authorization") != "" {
		return false
	}
	for k := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-") {
			return false
		}
	}
	for k := range r.URL.Query() {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-") {
			return false
		}
	}
	return true
}

// ServeHTTP answers a request Owns accepted.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "same-origin")
	if c.opts.Keys == nil && !loopback(r) {
		c.error(w, http.StatusForbidden, "Forbidden", "In local mode the console only answers clients on this machine (loopback); start the server with --credentials to use it from elsewhere.")
		return
	}
	p := r.URL.Path
	switch {
	case p == "/" || p == "/console/" || p == "/console/index.html":
		c.serveIndex(w, r)
	case strings.HasPrefix(p, "/console/assets/"):
		w.Header().Set("Cache-Control", "no-cache")
		c.static.ServeHTTP(w, r)
	case p == "/console/events":
		c.withSession(w, r, c.serveEvents)
	case p == "/console/api/session":
		c.serveSession(w, r)
	case p == "/console/api/login":
		c.serveLogin(w, r)
	case strings.HasPrefix(p, "/console/api/"):
		c.serveAPI(w, r, strings.TrimPrefix(p, "/console/api/"))
	default:
		c.error(w, http.StatusNotFound, "NotFound", "No such page.")
	}
}

func (c *Console) serveIndex(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		c.error(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "Use GET.")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	w.Write(c.index)
}

// Run runs the change feed until ctx is done, then ends the clients'
// event streams. The server runs it once.
func (c *Console) Run(ctx context.Context) {
	c.feed.run(ctx, c.opts.Store, c.opts.Interval, c.log)
}

// error writes a JSON error: {"error": type, "message": text}.
func (c *Console) error(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, map[string]string{"error": typ, "message": msg})
}

// apiError answers an error of an API operation as the API would: its AWS
// type, message and status.
func (c *Console) apiError(w http.ResponseWriter, err error) {
	var ae *awsjson.Error
	if errors.As(err, &ae) {
		status := ae.Status
		if status == 0 {
			status = http.StatusBadRequest
		}
		c.error(w, status, ae.Type, ae.Message)
		return
	}
	if errors.Is(err, store.ErrNotFound) {
		c.error(w, http.StatusNotFound, awsjson.ResourceNotFound, "Not found.")
		return
	}
	c.log.Warn("console: operation failed", "err", err)
	c.error(w, http.StatusInternalServerError, awsjson.InternalFailure, "The operation failed; see the server's log.")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}
