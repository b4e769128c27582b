package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/buildbatch/buildbatch/internal/api"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/config"
	"github.com/buildbatch/buildbatch/internal/document"
	"github.com/buildbatch/buildbatch/internal/sigv4"
)

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// client calls the server with SigV4 (see resolveSettings).
type client struct {
	url, region        string
	key, secret, token string
	http               *http.Client
}

func newClient(s settings) *client {
	return &client{url: s.endpoint, region: s.region, key: s.key, secret: s.secret, token: s.token,
		http: &http.Client{Timeout: 60 * time.Second}}
}

func (c *client) call(ctx context.Context, target string, in, out any) error {
	body, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	sigv4.Sign(req, body, c.key, c.secret, c.token, c.region, "codebuild", time.Now())
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &e) == nil && e.Type != "" {
			return fmt.Errorf("%s: %s", e.Type, e.Message)
		}
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, data)
	}
	return json.Unmarshal(data, out)
}

// connectHint explains a refused connection.
func connectHint(stderr io.Writer, err error) {
	if errors.Is(err, syscall.ECONNREFUSED) {
		fmt.Fprintln(stderr, "is the server running? start it with: buildbatch serve")
	}
}

// failer is how a client command (logs, watch) ends on an error: 130
// after Ctrl-C, else the error (with the hint above) and 1.
func failer(ctx context.Context, stderr io.Writer, command string) func(error) int {
	return func(err error) int {
		if ctx.Err() != nil {
			return 130
		}
		fmt.Fprintf(stderr, "buildbatch %s: %v\n", command, err)
		connectHint(stderr, err)
		return 1
	}
}

// commandFlags are the flags logs and watch share.
type commandFlags struct {
	endpointURL, region *string
}

func addCommandFlags(fs *flag.FlagSet) commandFlags {
	return commandFlags{
		endpointURL: fs.String("endpoint-url", "", "server URL (default: $AWS_ENDPOINT_URL_CODEBUILD, $AWS_ENDPOINT_URL, the profile's endpoint_url, http://"+config.DefaultListen+")"),
		region:      fs.String("region", "", "region (default: $AWS_REGION, $AWS_DEFAULT_REGION, the profile's region, us-east-1)"),
	}
}

func (f commandFlags) client() (*client, error) {
	s, err := resolveSettings(*f.endpointURL, *f.region, os.Getenv)
	if err != nil {
		return nil, err
	}
	return newClient(s), nil
}

const (
	batchGetBuildsTarget       = "CodeBuild_20161006.BatchGetBuilds"
	batchGetBuildBatchesTarget = "CodeBuild_20161006.BatchGetBuildBatches"
)

// getBuild returns the build, or nil if there is none.
func (c *client) getBuild(ctx context.Context, id string) (*cb.Build, error) {
	var out cb.BatchGetBuildsOutput
	if err := c.call(ctx, batchGetBuildsTarget, cb.BatchGetBuildsInput{Ids: []string{id}}, &out); err != nil {
		return nil, err
	}
	if len(out.Builds) == 0 {
		return nil, nil
	}
	return &out.Builds[0], nil
}

// getBatch returns the build batch, or nil if there is none.
func (c *client) getBatch(ctx context.Context, id string) (*cb.BuildBatch, error) {
	var out cb.BatchGetBuildBatchesOutput
	if err := c.call(ctx, batchGetBuildBatchesTarget, cb.BatchGetBuildBatchesInput{Ids: []string{id}}, &out); err != nil {
		return nil, err
	}
	if len(out.BuildBatches) == 0 {
		return nil, nil
	}
	return &out.BuildBatches[0], nil
}

const (
	kindBuild = "build"
	kindBatch = "batch"
)

// arnKind tells a build ARN from a build batch ARN by its resource type;
// ok is false if s is not a CodeBuild build or batch ARN.
func arnKind(s string) (kind string, ok bool) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "codebuild" {
		return "", false
	}
	switch {
	case strings.HasPrefix(parts[5], "build/"):
		return kindBuild, true
	case strings.HasPrefix(parts[5], "build-batch/"):
		return kindBatch, true
	}
	return "", false
}

// idOfARN is the id (project:uuid) in a build or batch ARN, else s.
func idOfARN(s string) string {
	if _, ok := arnKind(s); ok {
		_, res, _ := strings.Cut(strings.SplitN(s, ":", 6)[5], "/")
		return res
	}
	return s
}

// classify tells whether id names a build or a batch: an ARN by its
// resource type, an id (both look like project:uuid) by asking the server.
func classify(ctx context.Context, c *client, id string) (string, error) {
	if kind, ok := arnKind(id); ok {
		return kind, nil
	}
	b, err := c.getBuild(ctx, id)
	if err != nil {
		return "", err
	}
	if b != nil {
		return kindBuild, nil
	}
	bb, err := c.getBatch(ctx, id)
	if err != nil {
		return "", err
	}
	if bb != nil {
		return kindBatch, nil
	}
	return "", fmt.Errorf("no build or build batch %s", id)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// prefixWriter starts each line with a prefix.
type prefixWriter struct {
	w      io.Writer
	prefix string
	mid    bool // the last write did not end its line
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		if !p.mid {
			if _, err := io.WriteString(p.w, p.prefix); err != nil {
				return 0, err
			}
			p.mid = true
		}
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line = b[:i+1]
			p.mid = false
		}
		if _, err := p.w.Write(line); err != nil {
			return 0, err
		}
		b = b[len(line):]
	}
	return n, nil
}

// endLine ends a last line that had no newline.
func (p *prefixWriter) endLine() {
	if p.mid {
		io.WriteString(p.w, "\n")
		p.mid = false
	}
}

// poll is how often logs and watch look again at what is not there yet.
var poll = 300 * time.Millisecond

type logReader struct {
	c          *client
	stdout     io.Writer
	follow     bool
	timestamps bool
}

// buildLog prints a build's log to w: what there is, or with follow until
// the build ends (waiting for a queued build to start writing). It
// returns the build as it is after.
func (r *logReader) buildLog(ctx context.Context, id string, w io.Writer) (*cb.Build, error) {
	in := api.GetBuildLogInput{ID: id, Timestamps: r.timestamps}
	if r.follow {
		in.WaitSeconds = 20
	}
	for {
		var out api.GetBuildLogOutput
		if err := r.c.call(ctx, api.GetBuildLogTarget, in, &out); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(w, out.Text); err != nil {
			return nil, err
		}
		in.Offset = out.NextOffset
		if out.Complete || (!r.follow && out.Text == "") {
			break
		}
		if out.Text == "" {
			// No log yet (the build is PENDING or QUEUED): the server
			// answers at once, so wait a little before asking again.
			if err := sleep(ctx, poll); err != nil {
				return nil, err
			}
		}
	}
	b, err := r.c.getBuild(ctx, id)
	if err == nil && b == nil {
		err = fmt.Errorf("no build %s", id)
	}
	return b, err
}

// batchLog prints each member build's log in the batch's group order,
// each line prefixed with the group's identifier, one member after the
// other. With follow it waits for members not started yet and for the
// batch to end. It returns the batch as it is after.
func (r *logReader) batchLog(ctx context.Context, id string) (*cb.BuildBatch, error) {
	done := map[string]bool{}
	for {
		bb, err := r.c.getBatch(ctx, id)
		if err != nil {
			return nil, err
		}
		if bb == nil {
			return nil, fmt.Errorf("no build batch %s", id)
		}
		complete := cb.Deref(bb.Complete)
		var next *cb.BuildGroup
		for i := range bb.BuildGroups {
			if !done[cb.Deref(bb.BuildGroups[i].Identifier)] {
				next = &bb.BuildGroups[i]
				break
			}
		}
		if next == nil {
			if complete || !r.follow {
				return bb, nil
			}
			if err := sleep(ctx, poll); err != nil {
				return nil, err
			}
			continue
		}
		name := cb.Deref(next.Identifier)
		s := next.CurrentBuildSummary
		if s == nil || cb.Deref(s.BuildStatus) == document.Pending || cb.Deref(s.Arn) == "" {
			// No build yet.
			if !r.follow || complete {
				done[name] = true
				continue
			}
			if err := sleep(ctx, poll); err != nil {
				return nil, err
			}
			continue
		}
		done[name] = true
		buildID := idOfARN(cb.Deref(s.Arn))
		b, err := r.c.getBuild(ctx, buildID)
		if err != nil {
			return nil, err
		}
		if b == nil {
			if r.follow && !complete && cb.Deref(s.BuildStatus) == cb.StatusTypeInProgress {
				// Started, but not readable yet: look again.
				delete(done, name)
				if err := sleep(ctx, poll); err != nil {
					return nil, err
				}
			}
			continue // else stopped before it started
		}
		pw := &prefixWriter{w: r.stdout, prefix: name + " | "}
		if _, err := r.buildLog(ctx, buildID, pw); err != nil {
			return nil, err
		}
		pw.endLine()
	}
}

func logs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := addCommandFlags(fs)
	follow := fs.Bool("follow", false, "keep printing as the build (or batch) writes, until it ends; wait for builds not started yet")
	fs.BoolVar(follow, "f", false, "short for --follow")
	stamps := fs.Bool("timestamps", false, "prefix each line with the time it was written")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: buildbatch logs [flags] <build-or-batch-id-or-arn>")
		fmt.Fprintln(stderr, "Prints a build's log, or each member build's log of a build batch (lines prefixed \"identifier | \").")
		fmt.Fprintln(stderr, "Exits 1 if the build or batch ended other than SUCCEEDED.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	fail := failer(ctx, stderr, "logs")
	c, err := cf.client()
	if err != nil {
		return fail(err)
	}
	id := fs.Arg(0)
	kind, err := classify(ctx, c, id)
	if err != nil {
		return fail(err)
	}
	r := &logReader{c: c, stdout: stdout, follow: *follow, timestamps: *stamps}
	var complete bool
	var status string
	if kind == kindBuild {
		b, err := r.buildLog(ctx, id, stdout)
		if err != nil {
			return fail(err)
		}
		complete, status = cb.Deref(b.BuildComplete), cb.Deref(b.BuildStatus)
	} else {
		bb, err := r.batchLog(ctx, id)
		if err != nil {
			return fail(err)
		}
		complete, status = cb.Deref(bb.Complete), cb.Deref(bb.BuildBatchStatus)
	}
	if complete && status != cb.StatusTypeSucceeded {
		what := "build"
		if kind == kindBatch {
			what = "batch"
		}
		fmt.Fprintf(stderr, "buildbatch logs: %s %s %s\n", what, idOfARN(id), status)
		return 1
	}
	return 0
}
