package console

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/api"
	"github.com/buildbatch/buildbatch/internal/awsjson"
	"github.com/buildbatch/buildbatch/internal/blob"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
	"github.com/buildbatch/buildbatch/internal/tenancy"
)

// pageSize is how many builds or batches a list page shows.
const pageSize = 25

// serveAPI routes /console/api/<name>.
func (c *Console) serveAPI(w http.ResponseWriter, r *http.Request, name string) {
	get := map[string]func(http.ResponseWriter, *http.Request, *session){
		"projects": c.apiProjects,
		"builds":   c.apiBuilds,
		"batches":  c.apiBatches,
		"build":    c.apiBuild,
		"batch":    c.apiBatch,
		"log":      c.apiLog,
		"artifact": c.apiArtifact,
	}
	post := map[string]func(http.ResponseWriter, *http.Request, *session){
		"start": c.apiStart,
		"stop":  c.apiStop,
		"retry": c.apiRetry,
	}
	if h, ok := get[name]; ok {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			c.error(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "Use GET.")
			return
		}
		c.withSession(w, r, h)
		return
	}
	if h, ok := post[name]; ok {
		if r.Method != http.MethodPost {
			c.error(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "Use POST.")
			return
		}
		c.withSession(w, r, h)
		return
	}
	c.error(w, http.StatusNotFound, "NotFound", "No such console operation.")
}

// ms is a time in Unix milliseconds (0: none).
func ms(t *cb.Time) int64 {
	if t == nil || t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// buildRow is a build as lists show it.
type buildRow struct {
	ID            string `json:"id"`
	Project       string `json:"project"`
	Number        int64  `json:"number"`
	Status        string `json:"status"`
	Phase         string `json:"phase"`
	Complete      bool   `json:"complete"`
	Start         int64  `json:"start"`
	End           int64  `json:"end"`
	Initiator     string `json:"initiator,omitempty"`
	Batch         string `json:"batch,omitempty"`
	SourceVersion string `json:"sourceVersion,omitempty"`
}

func rowOf(b *cb.Build) buildRow {
	return buildRow{ID: cb.Deref(b.Id), Project: cb.Deref(b.ProjectName), Number: cb.Deref(b.BuildNumber), Status: cb.Deref(b.BuildStatus),
		Phase: cb.Deref(b.CurrentPhase), Complete: cb.Deref(b.BuildComplete), Start: ms(b.StartTime), End: ms(b.EndTime),
		Initiator: cb.Deref(b.Initiator), Batch: idOfARN(cb.Deref(b.BuildBatchArn), "build-batch/"), SourceVersion: cb.Deref(b.SourceVersion)}
}

// idOfARN is the id in an ARN ending in <kind>/<id> ("" if it is not).
func idOfARN(arn, kind string) string {
	if i := strings.Index(arn, ":"+kind); i >= 0 {
		return arn[i+len(kind)+1:]
	}
	return ""
}

// getBuilds reads builds through BatchGetBuilds, in the order asked.
func (c *Console) getBuilds(ctx context.Context, ids []string) ([]*cb.Build, error) {
	var out []*cb.Build
	for len(ids) > 0 {
		n := min(len(ids), 100)
		raw, err := c.opts.API.BatchGetBuilds(ctx, &cb.BatchGetBuildsInput{Ids: ids[:n]})
		if err != nil {
			return nil, err
		}
		var got struct{ Builds []*cb.Build }
		if err := json.Unmarshal(raw, &got); err != nil {
			return nil, err
		}
		out = append(out, got.Builds...)
		ids = ids[n:]
	}
	return out, nil
}

func (c *Console) getBatches(ctx context.Context, ids []string) ([]*cb.BuildBatch, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	raw, err := c.opts.API.BatchGetBuildBatches(ctx, &cb.BatchGetBuildBatchesInput{Ids: ids})
	if err != nil {
		return nil, err
	}
	var got struct{ BuildBatches []*cb.BuildBatch }
	return got.BuildBatches, json.Unmarshal(raw, &got)
}

type projectRow struct {
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Source      string     `json:"source,omitempty"`
	Batch       bool       `json:"batch"` // batch builds are configured
	Modified    int64      `json:"modified"`
	LastBuilds  []buildRow `json:"lastBuilds"`
}

// apiProjects: GET ?next= → {projects, next}: one page of projects by
// name, each with its last 5 builds.
func (c *Console) apiProjects(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := s.ctx(r.Context())
	in := &cb.ListProjectsInput{SortBy: cb.String(cb.ProjectSortByTypeName), SortOrder: cb.String(cb.SortOrderTypeAscending)}
	if t := r.URL.Query().Get("next"); t != "" {
		in.NextToken = &t
	}
	list, err := c.opts.API.ListProjects(ctx, in)
	if err != nil {
		c.apiError(w, err)
		return
	}
	rows := []projectRow{}
	if len(list.Projects) > 0 {
		raw, err := c.opts.API.BatchGetProjects(ctx, &cb.BatchGetProjectsInput{Names: list.Projects})
		if err != nil {
			c.apiError(w, err)
			return
		}
		var got struct{ Projects []*cb.Project }
		if err := json.Unmarshal(raw, &got); err != nil {
			c.apiError(w, err)
			return
		}
		var ids []string
		last := map[string][]string{}
		for _, p := range got.Projects {
			name := cb.Deref(p.Name)
			l, err := c.opts.API.ListBuildsForProject(ctx, &cb.ListBuildsForProjectInput{ProjectName: p.Name})
			if err != nil {
				c.apiError(w, err)
				return
			}
			last[name] = l.Ids[:min(5, len(l.Ids))]
			ids = append(ids, last[name]...)
		}
		builds, err := c.getBuilds(ctx, ids)
		if err != nil {
			c.apiError(w, err)
			return
		}
		byID := map[string]*cb.Build{}
		for _, b := range builds {
			byID[cb.Deref(b.Id)] = b
		}
		for _, p := range got.Projects {
			row := projectRow{Name: cb.Deref(p.Name), Description: cb.Deref(p.Description), Batch: p.BuildBatchConfig != nil,
				Modified: ms(p.LastModified), LastBuilds: []buildRow{}}
			if p.Source != nil {
				row.Source = cb.Deref(p.Source.Type)
			}
			for _, id := range last[row.Name] {
				if b := byID[id]; b != nil {
					row.LastBuilds = append(row.LastBuilds, rowOf(b))
				}
			}
			rows = append(rows, row)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"projects": rows, "next": cb.Deref(list.NextToken)})
}

// listCursor is where a filtered build listing goes on: the API's page
// token and how many ids of that page were already looked at.
type listCursor struct {
	Token  string `json:"t,omitempty"`
	Offset int    `json:"o,omitempty"`
}

func decodeCursor(s string) listCursor {
	var lc listCursor
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		json.Unmarshal(b, &lc)
	}
	return lc
}

func (lc listCursor) String() string {
	b, _ := json.Marshal(lc)
	return base64.RawURLEncoding.EncodeToString(b)
}

// apiBuilds: GET ?project=&status=&next= → {builds, next}: newest first.
// The API lists ids without a status filter, so a filtered page reads on
// through the listing (up to 500 builds per request) until it is full.
func (c *Console) apiBuilds(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := s.ctx(r.Context())
	q := r.URL.Query()
	project, status := q.Get("project"), q.Get("status")
	cur := decodeCursor(q.Get("next"))
	rows := []buildRow{}
	scanned := 0
	next := ""
	for {
		var ids []string
		var token *string
		var err error
		var at *string
		if cur.Token != "" {
			at = &cur.Token
		}
		if project != "" {
			var out *cb.ListBuildsForProjectOutput
			out, err = c.opts.API.ListBuildsForProject(ctx, &cb.ListBuildsForProjectInput{ProjectName: &project, NextToken: at})
			if out != nil {
				ids, token = out.Ids, out.NextToken
			}
		} else {
			var out *cb.ListBuildsOutput
			out, err = c.opts.API.ListBuilds(ctx, &cb.ListBuildsInput{NextToken: at})
			if out != nil {
				ids, token = out.Ids, out.NextToken
			}
		}
		if err != nil {
			c.apiError(w, err)
			return
		}
		if cur.Offset > len(ids) {
			cur.Offset = len(ids)
		}
		ids = ids[cur.Offset:]
		// Read only as many as may fill the page.
		want := len(ids)
		if status == "" {
			want = min(want, pageSize-len(rows))
		}
		builds, err := c.getBuilds(ctx, ids[:want])
		if err != nil {
			c.apiError(w, err)
			return
		}
		used := 0
		for _, b := range builds {
			used++
			if status == "" || cb.Deref(b.BuildStatus) == status {
				rows = append(rows, rowOf(b))
				if len(rows) == pageSize {
					break
				}
			}
		}
		scanned += used
		if used < len(ids) { // the page is full within this API page
			next = listCursor{Token: cur.Token, Offset: cur.Offset + used}.String()
			break
		}
		if token == nil {
			break
		}
		cur = listCursor{Token: *token}
		if len(rows) == pageSize || scanned >= 500 {
			next = cur.String()
			break
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"builds": rows, "next": next})
}

// batchRow is a batch as lists show it.
type batchRow struct {
	ID       string         `json:"id"`
	Project  string         `json:"project"`
	Number   int64          `json:"number"`
	Status   string         `json:"status"`
	Phase    string         `json:"phase"`
	Complete bool           `json:"complete"`
	Start    int64          `json:"start"`
	End      int64          `json:"end"`
	Groups   int            `json:"groups"`
	Counts   map[string]int `json:"counts"` // group builds by status
}

func batchRowOf(b *cb.BuildBatch) batchRow {
	row := batchRow{ID: cb.Deref(b.Id), Project: cb.Deref(b.ProjectName), Number: cb.Deref(b.BuildBatchNumber), Status: cb.Deref(b.BuildBatchStatus),
		Phase: cb.Deref(b.CurrentPhase), Complete: cb.Deref(b.Complete), Start: ms(b.StartTime), End: ms(b.EndTime), Counts: map[string]int{}}
	for _, g := range b.BuildGroups {
		row.Groups++
		st := "PENDING"
		if g.CurrentBuildSummary != nil && g.CurrentBuildSummary.BuildStatus != nil {
			st = *g.CurrentBuildSummary.BuildStatus
		}
		row.Counts[st]++
	}
	return row
}

// apiBatches: GET ?project=&status=&next= → {batches, next}: newest first.
func (c *Console) apiBatches(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := s.ctx(r.Context())
	q := r.URL.Query()
	project, status := q.Get("project"), q.Get("status")
	var filter *cb.BuildBatchFilter
	if status != "" {
		filter = &cb.BuildBatchFilter{Status: &status}
	}
	var at *string
	if t := q.Get("next"); t != "" {
		at = &t
	}
	limit := int32(pageSize)
	var ids []string
	var token *string
	if project != "" {
		out, err := c.opts.API.ListBuildBatchesForProject(ctx, &cb.ListBuildBatchesForProjectInput{ProjectName: &project, Filter: filter, MaxResults: &limit, NextToken: at})
		if err != nil {
			c.apiError(w, err)
			return
		}
		ids, token = out.Ids, out.NextToken
	} else {
		out, err := c.opts.API.ListBuildBatches(ctx, &cb.ListBuildBatchesInput{Filter: filter, MaxResults: &limit, NextToken: at})
		if err != nil {
			c.apiError(w, err)
			return
		}
		ids, token = out.Ids, out.NextToken
	}
	batches, err := c.getBatches(ctx, ids)
	if err != nil {
		c.apiError(w, err)
		return
	}
	rows := []batchRow{}
	for _, b := range batches {
		rows = append(rows, batchRowOf(b))
	}
	writeJSON(w, http.StatusOK, map[string]any{"batches": rows, "next": cb.Deref(token)})
}

// artifactView is one of a build's artifacts with its files.
type artifactView struct {
	Name     string     `json:"name"`
	Location string     `json:"location"`
	SHA256   string     `json:"sha256,omitempty"`
	Files    []fileView `json:"files"`
	More     bool       `json:"more,omitempty"` // more files than listed
	Error    string     `json:"error,omitempty"`
}

type fileView struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	URL  string `json:"url"`
}

// artifactsOf lists the build's artifacts (primary first).
func artifactsOf(b *cb.Build) []cb.BuildArtifacts {
	var list []cb.BuildArtifacts
	if b.Artifacts != nil && cb.Deref(b.Artifacts.Location) != "" {
		list = append(list, *b.Artifacts)
	}
	for _, a := range b.SecondaryArtifacts {
		if cb.Deref(a.Location) != "" {
			list = append(list, a)
		}
	}
	return list
}

// s3Location splits arn:aws:s3:::bucket/key.
func s3Location(loc string) (bucket, key string, ok bool) {
	i := strings.Index(loc, ":s3:::")
	if i < 0 {
		return "", "", false
	}
	bucket, key, _ = strings.Cut(loc[i+len(":s3:::"):], "/")
	return bucket, key, bucket != ""
}

const maxListedFiles = 200

func (c *Console) artifactViews(ctx context.Context, s *session, b *cb.Build) []artifactView {
	views := []artifactView{}
	if c.opts.Blob == nil {
		return views
	}
	guard := tenancy.New(c.opts.Blob, c.opts.Store, s.scope())
	for i, a := range artifactsOf(b) {
		name := cb.Deref(a.ArtifactIdentifier)
		if name == "" {
			name = "primary"
		}
		v := artifactView{Name: name, Location: cb.Deref(a.Location), SHA256: cb.Deref(a.Sha256sum), Files: []fileView{}}
		bucket, key, ok := s3Location(v.Location)
		if !ok {
			views = append(views, v)
			continue
		}
		base := "/console/api/artifact?build=" + urlQuery(cb.Deref(b.Id)) + "&n=" + strconv.Itoa(i)
		if info, err := guard.Stat(ctx, bucket, key); err == nil {
			v.Files = append(v.Files, fileView{Path: path.Base(key), Size: info.Size, URL: base})
		} else if keys, err := guard.List(ctx, bucket, key); err != nil {
			v.Error = err.Error()
		} else {
			for _, k := range keys {
				if len(v.Files) == maxListedFiles {
					v.More = true
					break
				}
				rel := strings.TrimPrefix(strings.TrimPrefix(k, strings.Trim(key, "/")), "/")
				info, _ := guard.Stat(ctx, bucket, k)
				v.Files = append(v.Files, fileView{Path: rel, Size: info.Size, URL: base + "&file=" + urlQuery(rel)})
			}
		}
		views = append(views, v)
	}
	return views
}

func urlQuery(s string) string { return url.QueryEscape(s) }

// apiBuild: GET ?id= → {build: the BatchGetBuilds document, artifacts,
// batch}.
func (c *Console) apiBuild(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := s.ctx(r.Context())
	id := r.URL.Query().Get("id")
	if id == "" {
		c.error(w, http.StatusBadRequest, awsjson.InvalidInput, "id is required.")
		return
	}
	raw, err := c.opts.API.BatchGetBuilds(ctx, &cb.BatchGetBuildsInput{Ids: []string{id}})
	if err != nil {
		c.apiError(w, err)
		return
	}
	var got struct{ Builds []json.RawMessage }
	if err := json.Unmarshal(raw, &got); err != nil {
		c.apiError(w, err)
		return
	}
	if len(got.Builds) == 0 {
		c.error(w, http.StatusNotFound, awsjson.ResourceNotFound, "Build not found for id: "+id)
		return
	}
	var b cb.Build
	if err := json.Unmarshal(got.Builds[0], &b); err != nil {
		c.apiError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"build":     got.Builds[0],
		"batch":     idOfARN(cb.Deref(b.BuildBatchArn), "build-batch/"),
		"artifacts": c.artifactViews(ctx, s, &b),
	})
}

// apiBatch: GET ?id= → {batch, graph}.
func (c *Console) apiBatch(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := s.ctx(r.Context())
	id := r.URL.Query().Get("id")
	if id == "" {
		c.error(w, http.StatusBadRequest, awsjson.InvalidInput, "id is required.")
		return
	}
	batches, err := c.getBatches(ctx, []string{id})
	if err != nil {
		c.apiError(w, err)
		return
	}
	if len(batches) == 0 {
		c.error(w, http.StatusNotFound, awsjson.ResourceNotFound, "Build batch not found for id: "+id)
		return
	}
	b := batches[0]
	bid := cb.Deref(b.Id)
	// The plan's kind and the members' times are not in the document.
	kind := ""
	members := map[string]*cb.Build{}
	err = c.opts.Store.View(ctx, func(tx store.Tx) error {
		sb, err := tx.BatchGet(ctx, s.scope(), bid)
		if err != nil {
			return err
		}
		var plan struct{ Kind string }
		if len(sb.Meta.Plan) > 0 && json.Unmarshal(sb.Meta.Plan, &plan) == nil {
			kind = plan.Kind
		}
		builds, err := tx.BuildListByBatch(ctx, s.scope(), bid)
		for _, m := range builds {
			members[cb.Deref(m.Doc.Id)] = m.Doc
		}
		return err
	})
	if err != nil {
		c.apiError(w, err)
		return
	}
	var phases []map[string]any
	for _, p := range b.Phases {
		ph := map[string]any{"type": cb.Deref(p.PhaseType), "status": cb.Deref(p.PhaseStatus), "start": ms(p.StartTime), "end": ms(p.EndTime)}
		var ctxs []string
		for _, pc := range p.Contexts {
			if m := strings.TrimSpace(cb.Deref(pc.StatusCode) + " " + cb.Deref(pc.Message)); m != "" {
				ctxs = append(ctxs, m)
			}
		}
		ph["contexts"] = ctxs
		phases = append(phases, ph)
	}
	row := batchRowOf(b)
	writeJSON(w, http.StatusOK, map[string]any{
		"batch": map[string]any{
			"id": row.ID, "arn": cb.Deref(b.Arn), "project": row.Project, "number": row.Number, "status": row.Status, "phase": row.Phase,
			"complete": row.Complete, "start": row.Start, "end": row.End, "counts": row.Counts, "groups": row.Groups,
			"initiator": cb.Deref(b.Initiator), "sourceVersion": cb.Deref(b.SourceVersion), "resolvedSourceVersion": cb.Deref(b.ResolvedSourceVersion),
			"phases": phases, "kind": kind,
		},
		"graph": buildGraph(b, kind, members),
	})
}

// apiLog: GET ?id=&offset=&wait= → GetBuildLog's answer ({text,
// nextOffset, complete}); wait (seconds, at most 10) follows the log.
func (c *Console) apiLog(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	offset, _ := strconv.ParseInt(q.Get("offset"), 10, 64)
	wait, _ := strconv.Atoi(q.Get("wait"))
	wait = min(max(wait, 0), 10)
	if wait > 0 {
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(time.Duration(wait+30) * time.Second))
	}
	out, err := c.opts.API.GetBuildLog(s.ctx(r.Context()), &api.GetBuildLogInput{ID: q.Get("id"), Offset: max(offset, 0), MaxBytes: 256 << 10, WaitSeconds: wait})
	if err != nil {
		if r.Context().Err() != nil {
			return
		}
		c.apiError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// apiArtifact: GET ?build=&n=&file= downloads a file of the build's n-th
// artifact (its zip, or a file of a folder artifact), through the
// account's bucket ownership.
func (c *Console) apiArtifact(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := s.ctx(r.Context())
	q := r.URL.Query()
	if c.opts.Blob == nil {
		c.error(w, http.StatusNotFound, "NotFound", "This server keeps no artifacts.")
		return
	}
	builds, err := c.getBuilds(ctx, []string{q.Get("build")})
	if err != nil {
		c.apiError(w, err)
		return
	}
	if len(builds) == 0 {
		c.error(w, http.StatusNotFound, awsjson.ResourceNotFound, "Build not found.")
		return
	}
	list := artifactsOf(builds[0])
	n, err := strconv.Atoi(q.Get("n"))
	if err != nil || n < 0 || n >= len(list) {
		c.error(w, http.StatusNotFound, "NotFound", "The build has no such artifact.")
		return
	}
	bucket, key, ok := s3Location(cb.Deref(list[n].Location))
	if !ok {
		c.error(w, http.StatusNotFound, "NotFound", "The artifact is not in the artifact store.")
		return
	}
	if f := q.Get("file"); f != "" {
		// Clean keeps the name under the artifact's location; a name
		// that tries to climb out is refused all the same.
		clean := path.Clean("/" + f)
		if clean == "/" || slices.Contains(strings.Split(f, "/"), "..") {
			c.error(w, http.StatusBadRequest, awsjson.InvalidInput, "Bad file name.")
			return
		}
		key = strings.TrimSuffix(key, "/") + clean
	}
	guard := tenancy.New(c.opts.Blob, c.opts.Store, s.scope())
	rc, err := guard.Open(ctx, bucket, key)
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			c.error(w, http.StatusNotFound, "NotFound", "No such file.")
			return
		}
		var denied *tenancy.DeniedError
		if errors.As(err, &denied) {
			c.error(w, http.StatusForbidden, "AccessDenied", denied.Error())
			return
		}
		c.apiError(w, err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(key)}))
	io.Copy(w, rc)
}

// action is the body of start, stop and retry.
type action struct {
	Type       string `json:"type"` // build | batch
	ID         string `json:"id"`
	Project    string `json:"project"`
	FailedOnly bool   `json:"failedOnly"`
}

func (c *Console) done(w http.ResponseWriter, typ, id string) {
	c.feed.poke()
	writeJSON(w, http.StatusOK, map[string]string{"type": typ, "id": id})
}

// apiStart: POST {type, project} starts a build or a batch.
func (c *Console) apiStart(w http.ResponseWriter, r *http.Request, s *session) {
	var in action
	if !readJSON(w, r, &in) {
		return
	}
	ctx := s.ctx(r.Context())
	if in.Project == "" {
		c.error(w, http.StatusBadRequest, awsjson.InvalidInput, "project is required.")
		return
	}
	var id string
	var err error
	switch in.Type {
	case "build":
		var out *cb.StartBuildOutput
		if out, err = c.opts.API.StartBuild(ctx, &cb.StartBuildInput{ProjectName: &in.Project}); err == nil {
			id = cb.Deref(out.Build.Id)
		}
	case "batch":
		var out *cb.StartBuildBatchOutput
		if out, err = c.opts.API.StartBuildBatch(ctx, &cb.StartBuildBatchInput{ProjectName: &in.Project}); err == nil {
			id = cb.Deref(out.BuildBatch.Id)
		}
	default:
		c.error(w, http.StatusBadRequest, awsjson.InvalidInput, "type is build or batch.")
		return
	}
	if err != nil {
		c.apiError(w, err)
		return
	}
	c.done(w, in.Type, id)
}

// apiStop: POST {type, id} stops a build (StopBuild) or a batch
// (StopBuildBatch).
func (c *Console) apiStop(w http.ResponseWriter, r *http.Request, s *session) {
	var in action
	if !readJSON(w, r, &in) {
		return
	}
	ctx := s.ctx(r.Context())
	var err error
	switch in.Type {
	case "build":
		_, err = c.opts.API.StopBuild(ctx, &cb.StopBuildInput{Id: &in.ID})
	case "batch":
		c.feed.poke()
		_, err = c.opts.API.StopBuildBatch(ctx, &cb.StopBuildBatchInput{Id: &in.ID})
	default:
		err = awsjson.Errorf(awsjson.InvalidInput, "type is build or batch.")
	}
	if err != nil {
		c.apiError(w, err)
		return
	}
	c.done(w, in.Type, in.ID)
}

// apiRetry: POST {type, id, failedOnly} retries a build (RetryBuild) or a
// batch (RetryBuildBatch, all builds or only the failed ones).
func (c *Console) apiRetry(w http.ResponseWriter, r *http.Request, s *session) {
	var in action
	if !readJSON(w, r, &in) {
		return
	}
	ctx := s.ctx(r.Context())
	var id string
	var err error
	switch in.Type {
	case "build":
		var out *cb.RetryBuildOutput
		if out, err = c.opts.API.RetryBuild(ctx, &cb.RetryBuildInput{Id: &in.ID}); err == nil {
			id = cb.Deref(out.Build.Id)
		}
	case "batch":
		typ := cb.RetryBuildBatchTypeRetryAllBuilds
		if in.FailedOnly {
			typ = cb.RetryBuildBatchTypeRetryFailedBuilds
		}
		var out *cb.RetryBuildBatchOutput
		if out, err = c.opts.API.RetryBuildBatch(ctx, &cb.RetryBuildBatchInput{Id: &in.ID, RetryType: &typ}); err == nil {
			id = cb.Deref(out.BuildBatch.Id)
		}
	default:
		c.error(w, http.StatusBadRequest, awsjson.InvalidInput, "type is build or batch.")
		return
	}
	if err != nil {
		c.apiError(w, err)
		return
	}
	c.done(w, in.Type, id)
}
