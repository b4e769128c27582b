package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/awsjson"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/sandbox"
	"github.com/buildbatch/buildbatch/internal/store"
)

// RegisterSandboxes adds the sandbox and command execution operations to
// s. The nodes run the sandboxes (package sandbox/sandboxrun); these
// operations only read and write the store. See package sandbox for the
// documents and SandboxSessions for the connection endpoint.
func (a *API) RegisterSandboxes(s *awsjson.Server) {
	awsjson.Handle(s, "StartSandbox", a.StartSandbox)
	awsjson.Handle(s, "StartSandboxConnection", a.StartSandboxConnection)
	awsjson.Handle(s, "StopSandbox", a.StopSandbox)
	awsjson.Handle(s, "BatchGetSandboxes", a.BatchGetSandboxes)
	awsjson.Handle(s, "ListSandboxes", a.ListSandboxes)
	awsjson.Handle(s, "ListSandboxesForProject", a.ListSandboxesForProject)
	awsjson.Handle(s, "StartCommandExecution", a.StartCommandExecution)
	awsjson.Handle(s, "BatchGetCommandExecutions", a.BatchGetCommandExecutions)
	awsjson.Handle(s, "ListCommandExecutionsForSandbox", a.ListCommandExecutionsForSandbox)
}

func sandboxNotFound(id string) string {
	return fmt.Sprintf("Sandbox %s not found", id)
}

// sandboxID is the id a caller means by s: an id, an ARN of the caller's
// scope, or the bare uuid of a sandbox (as command executions show it).
func (a *API) sandboxID(ctx context.Context, tx store.Tx, s string) (string, error) {
	id := scopedName(ctx, s, "sandbox")
	if strings.Contains(id, ":") || id == "" {
		return id, nil
	}
	_, scope := scopeOf(ctx)
	list, err := tx.ResourceList(ctx, scope, store.KindSandbox, "")
	if err != nil {
		return "", err
	}
	for _, r := range list {
		if sandbox.UUIDOf(r.Name) == id {
			return r.Name, nil
		}
	}
	return id, nil
}

// getSandbox reads a sandbox by id, ARN or uuid.
func (a *API) getSandbox(ctx context.Context, tx store.Tx, s string) (*store.Resource, *sandbox.Record, error) {
	_, scope := scopeOf(ctx)
	id, err := a.sandboxID(ctx, tx, s)
	if err != nil {
		return nil, nil, err
	}
	r, err := tx.ResourceGet(ctx, scope, store.KindSandbox, id)
	if err != nil {
		return nil, nil, err
	}
	var rec sandbox.Record
	if err := json.Unmarshal(r.Doc, &rec); err != nil || rec.Sandbox == nil {
		return nil, nil, fmt.Errorf("sandbox %s: bad document: %v", id, err)
	}
	return r, &rec, nil
}

func putRecord(ctx context.Context, tx store.Tx, r *store.Resource, rec *sandbox.Record, now time.Time) error {
	doc, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	r.Doc, r.Modified, r.Live = doc, now, !sandbox.Final(rec.Sandbox)
	return tx.ResourcePut(ctx, r)
}

// StartSandbox creates a sandbox of a project, in QUEUED; a node takes it.
func (a *API) StartSandbox(ctx context.Context, in *cb.StartSandboxInput) (*cb.StartSandboxOutput, error) {
	c, scope := scopeOf(ctx)
	name := scopedName(ctx, cb.Deref(in.ProjectName), "project")
	if name == "" {
		return nil, invalid("Invalid input: projectName is required")
	}
	token := cb.Deref(in.IdempotencyToken)
	var rec *sandbox.Record
	err := a.st.Update(ctx, func(tx store.Tx) error {
		now := a.now()
		if token != "" {
			hash, id, err := tx.IdempotencyGet(ctx, scope, "StartSandbox", token, now)
			if err == nil && id != "" {
				if hash != name {
					return invalid("The idempotency token %s was used with another request", token)
				}
				_, rec, err = a.getSandbox(ctx, tx, id)
				return err
			}
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		p, err := tx.ProjectGet(ctx, scope, name)
		if err != nil {
			return err
		}
		rec = sandbox.New(p, c.Region, c.Account, ident.UUID(), ident.UUID(), now)
		rec.IdempotencyToken = token
		doc, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		id := cb.Deref(rec.Sandbox.Id)
		if err := tx.ResourceInsert(ctx, &store.Resource{Scope: scope, Kind: store.KindSandbox, Name: id, Parent: name,
			Created: now, Modified: now, Doc: doc, Live: true}); err != nil {
			return err
		}
		if token != "" {
			return tx.IdempotencyPut(ctx, scope, "StartSandbox", token, name, id, now.Add(idempotencyWindow))
		}
		return nil
	})
	if err != nil {
		return nil, translate(err, projectNotFound(c.Region, c.Account, name))
	}
	return &cb.StartSandboxOutput{Sandbox: rec.Sandbox}, nil
}

// StopSandbox stops a sandbox: one no node has taken yet ends at once;
// the node running one stops it (the answer says STOPPING).
func (a *API) StopSandbox(ctx context.Context, in *cb.StopSandboxInput) (*cb.StopSandboxOutput, error) {
	var rec *sandbox.Record
	err := a.st.Update(ctx, func(tx store.Tx) error {
		r, got, err := a.getSandbox(ctx, tx, cb.Deref(in.Id))
		if err != nil {
			return err
		}
		rec = got
		if !sandbox.Stop(rec) {
			return nil
		}
		if rec.Node == "" {
			sandbox.Stopped(rec.Sandbox, a.now())
		}
		return putRecord(ctx, tx, r, rec, a.now())
	})
	if err != nil {
		return nil, translate(err, sandboxNotFound(cb.Deref(in.Id)))
	}
	return &cb.StopSandboxOutput{Sandbox: rec.Sandbox}, nil
}

// BatchGetSandboxes returns sandboxes by id or ARN, in the order asked.
func (a *API) BatchGetSandboxes(ctx context.Context, in *cb.BatchGetSandboxesInput) (*cb.BatchGetSandboxesOutput, error) {
	if len(in.Ids) == 0 {
		return nil, invalid("Invalid input: ids must not be empty")
	}
	out := &cb.BatchGetSandboxesOutput{Sandboxes: []cb.Sandbox{}, SandboxesNotFound: []string{}}
	err := a.st.View(ctx, func(tx store.Tx) error {
		seen := map[string]bool{}
		for _, id := range in.Ids {
			if seen[id] {
				continue
			}
			seen[id] = true
			_, rec, err := a.getSandbox(ctx, tx, id)
			if errors.Is(err, store.ErrNotFound) {
				out.SandboxesNotFound = append(out.SandboxesNotFound, id)
				continue
			}
			if err != nil {
				return err
			}
			out.Sandboxes = append(out.Sandboxes, *rec.Sandbox)
		}
		return nil
	})
	return out, translate(err, "")
}

// listPage sorts resources by creation (then name) in the asked order and
// returns one page of them and the next page's token.
func listPage(list []*store.Resource, listName string, sortOrder, nextToken *string, maxResults *int32) ([]*store.Resource, *string, error) {
	desc := cb.Deref(sortOrder) != cb.SortOrderTypeAscending
	listName = fmt.Sprintf("%s/%v", listName, desc)
	after, err := decodeToken(listName, nextToken)
	if err != nil {
		return nil, nil, err
	}
	less := func(x, y *store.Resource) int {
		if c := x.Created.Compare(y.Created); c != 0 {
			return c
		}
		return strings.Compare(x.Name, y.Name)
	}
	slices.SortStableFunc(list, func(x, y *store.Resource) int {
		if desc {
			return less(y, x)
		}
		return less(x, y)
	})
	if after != nil {
		mark := &store.Resource{Created: time.Unix(0, after.Key), Name: after.ID}
		i := 0
		for i < len(list) {
			c := less(list[i], mark)
			if desc {
				c = -c
			}
			if c > 0 {
				break
			}
			i++
		}
		list = list[i:]
	}
	limit := pageLimit(maxResults)
	if len(list) <= limit {
		return list, nil, nil
	}
	list = list[:limit]
	last := list[limit-1]
	return list, encodeToken(listName, &store.Cursor{Key: last.Created.UnixNano(), ID: last.Name}), nil
}

func names(list []*store.Resource) []string {
	ids := make([]string, 0, len(list))
	for _, r := range list {
		ids = append(ids, r.Name)
	}
	return ids
}

// ListSandboxes lists the ids of the caller's sandboxes, newest first by
// default.
func (a *API) ListSandboxes(ctx context.Context, in *cb.ListSandboxesInput) (*cb.ListSandboxesOutput, error) {
	_, scope := scopeOf(ctx)
	var list []*store.Resource
	err := a.st.View(ctx, func(tx store.Tx) error {
		var err error
		list, err = tx.ResourceList(ctx, scope, store.KindSandbox, "")
		return err
	})
	if err != nil {
		return nil, translate(err, "")
	}
	page, next, err := listPage(list, "sandboxes", in.SortOrder, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	return &cb.ListSandboxesOutput{Ids: names(page), NextToken: next}, nil
}

// ListSandboxesForProject lists the ids of a project's sandboxes.
func (a *API) ListSandboxesForProject(ctx context.Context, in *cb.ListSandboxesForProjectInput) (*cb.ListSandboxesForProjectOutput, error) {
	c, scope := scopeOf(ctx)
	name := scopedName(ctx, cb.Deref(in.ProjectName), "project")
	var list []*store.Resource
	err := a.st.View(ctx, func(tx store.Tx) error {
		if _, err := tx.ProjectGet(ctx, scope, name); err != nil {
			return err
		}
		var err error
		list, err = tx.ResourceList(ctx, scope, store.KindSandbox, name)
		return err
	})
	if err != nil {
		return nil, translate(err, projectNotFound(c.Region, c.Account, name))
	}
	page, next, err := listPage(list, "sandboxes:"+name, in.SortOrder, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	return &cb.ListSandboxesForProjectOutput{Ids: names(page), NextToken: next}, nil
}

// StartCommandExecution queues a command in a sandbox; the node running
// the sandbox runs it once the sandbox is in RUN_SANDBOX.
func (a *API) StartCommandExecution(ctx context.Context, in *cb.StartCommandExecutionInput) (*cb.StartCommandExecutionOutput, error) {
	typ := cb.Deref(in.Type)
	if typ != "" && typ != sandbox.CommandTypeShell {
		return nil, invalid("Invalid input: type must be %s", sandbox.CommandTypeShell)
	}
	cmd, err := a.submitCommand(ctx, cb.Deref(in.SandboxId), cb.Deref(in.Command), typ, false)
	if err != nil {
		return nil, err
	}
	return &cb.StartCommandExecutionOutput{CommandExecution: cmd.Exec}, nil
}

// submitCommand stores a new command of a sandbox (not ended, not
// stopping), SUBMITTED.
func (a *API) submitCommand(ctx context.Context, sandboxID, command, typ string, connection bool) (*sandbox.Command, error) {
	_, scope := scopeOf(ctx)
	var cmd *sandbox.Command
	var name string
	err := a.st.Update(ctx, func(tx store.Tx) error {
		_, rec, err := a.getSandbox(ctx, tx, sandboxID)
		if err != nil {
			return err
		}
		if st := cb.Deref(rec.Sandbox.Status); st != sandbox.StatusQueued && st != sandbox.StatusInProgress {
			return invalid("Sandbox %s is %s: commands run only in a sandbox that is running", cb.Deref(rec.Sandbox.Id), st)
		}
		now := a.now()
		cmd = sandbox.NewCommand(rec.Sandbox, ident.UUID(), command, typ, now)
		cmd.Connection = connection
		doc, err := json.Marshal(cmd)
		if err != nil {
			return err
		}
		name = sandbox.CommandName(cmd.Sandbox, cb.Deref(cmd.Exec.Id))
		return tx.ResourceInsert(ctx, &store.Resource{Scope: scope, Kind: store.KindCommand, Name: name, Parent: cmd.Sandbox,
			Created: now, Modified: now, Doc: doc, Live: true})
	})
	if err != nil {
		return nil, translate(err, sandboxNotFound(sandboxID))
	}
	return cmd, nil
}

func decodeCommand(r *store.Resource) (*sandbox.Command, error) {
	var c sandbox.Command
	if err := json.Unmarshal(r.Doc, &c); err != nil || c.Exec == nil {
		return nil, fmt.Errorf("command execution %s: bad document: %v", r.Name, err)
	}
	return &c, nil
}

// BatchGetCommandExecutions returns a sandbox's command executions by id.
func (a *API) BatchGetCommandExecutions(ctx context.Context, in *cb.BatchGetCommandExecutionsInput) (*cb.BatchGetCommandExecutionsOutput, error) {
	_, scope := scopeOf(ctx)
	if len(in.CommandExecutionIds) == 0 {
		return nil, invalid("Invalid input: commandExecutionIds must not be empty")
	}
	out := &cb.BatchGetCommandExecutionsOutput{CommandExecutions: []cb.CommandExecution{}, CommandExecutionsNotFound: []string{}}
	err := a.st.View(ctx, func(tx store.Tx) error {
		id, err := a.sandboxID(ctx, tx, cb.Deref(in.SandboxId))
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, cid := range in.CommandExecutionIds {
			if seen[cid] {
				continue
			}
			seen[cid] = true
			r, err := tx.ResourceGet(ctx, scope, store.KindCommand, sandbox.CommandName(id, cid))
			if errors.Is(err, store.ErrNotFound) {
				out.CommandExecutionsNotFound = append(out.CommandExecutionsNotFound, cid)
				continue
			}
			if err != nil {
				return err
			}
			c, err := decodeCommand(r)
			if err != nil {
				return err
			}
			out.CommandExecutions = append(out.CommandExecutions, *c.Exec)
		}
		return nil
	})
	return out, translate(err, "")
}

// ListCommandExecutionsForSandbox lists a sandbox's command executions
// (whole documents), newest first by default.
func (a *API) ListCommandExecutionsForSandbox(ctx context.Context, in *cb.ListCommandExecutionsForSandboxInput) (*cb.ListCommandExecutionsForSandboxOutput, error) {
	_, scope := scopeOf(ctx)
	var list []*store.Resource
	var id string
	err := a.st.View(ctx, func(tx store.Tx) error {
		_, rec, err := a.getSandbox(ctx, tx, cb.Deref(in.SandboxId))
		if err != nil {
			return err
		}
		id = cb.Deref(rec.Sandbox.Id)
		all, err := tx.ResourceList(ctx, scope, store.KindCommand, id)
		for _, r := range all {
			if c, err := decodeCommand(r); err == nil && !c.Connection {
				list = append(list, r)
			}
		}
		return err
	})
	if err != nil {
		return nil, translate(err, sandboxNotFound(cb.Deref(in.SandboxId)))
	}
	page, next, err := listPage(list, "commands:"+id, in.SortOrder, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	out := &cb.ListCommandExecutionsForSandboxOutput{CommandExecutions: []cb.CommandExecution{}, NextToken: next}
	for _, r := range page {
		c, err := decodeCommand(r)
		if err != nil {
			return nil, err
		}
		out.CommandExecutions = append(out.CommandExecutions, *c.Exec)
	}
	return out, nil
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// StartSandboxConnection opens a connection to a running sandbox: a
// session id, a token and the URL of buildbatch's endpoint that runs
// commands in the sandbox (see SandboxSessions). It replaces the
// sandbox's previous connection.
func (a *API) StartSandboxConnection(ctx context.Context, in *cb.StartSandboxConnectionInput) (*cb.StartSandboxConnectionOutput, error) {
	session := ident.UUID()
	raw := make([]byte, 32)
	rand.Read(raw)
	token := hex.EncodeToString(raw)
	err := a.st.Update(ctx, func(tx store.Tx) error {
		r, rec, err := a.getSandbox(ctx, tx, cb.Deref(in.SandboxId))
		if err != nil {
			return err
		}
		if st := cb.Deref(rec.Sandbox.Status); st != sandbox.StatusQueued && st != sandbox.StatusInProgress {
			return invalid("Sandbox %s is %s: only a running sandbox takes connections", cb.Deref(rec.Sandbox.Id), st)
		}
		rec.Connection, rec.TokenHash = session, tokenHash(token)
		r.Key = session
		return putRecord(ctx, tx, r, rec, a.now())
	})
	if err != nil {
		return nil, translate(err, sandboxNotFound(cb.Deref(in.SandboxId)))
	}
	url := strings.TrimSuffix(a.opts.BaseURL, "/") + sandbox.SessionPath + session
	return &cb.StartSandboxConnectionOutput{SsmSession: &cb.SSMSession{SessionId: cb.String(session), TokenValue: cb.String(token), StreamUrl: cb.String(url)}}, nil
}

// maxSessionCommand bounds a command sent to the connection endpoint.
const maxSessionCommand = 1 << 20

// SandboxSessions is the connection endpoint (package sandbox documents
// it): it serves POST <SessionPath><session id>. Route the paths under
// sandbox.SessionPath to it.
func (a *API) SandboxSessions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail := func(status int, format string, args ...any) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(status)
			fmt.Fprintf(w, format+"\n", args...)
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			fail(http.StatusMethodNotAllowed, "POST a shell command")
			return
		}
		session := strings.TrimPrefix(r.URL.Path, sandbox.SessionPath)
		token := r.Header.Get(sandbox.SessionTokenHeader)
		if session == "" || token == "" {
			fail(http.StatusUnauthorized, "missing session id or %s", sandbox.SessionTokenHeader)
			return
		}
		var res *store.Resource
		var rec sandbox.Record
		err := a.st.View(r.Context(), func(tx store.Tx) error {
			var err error
			if res, err = tx.ResourceByKey(r.Context(), store.KindSandbox, session); err != nil {
				return err
			}
			return json.Unmarshal(res.Doc, &rec)
		})
		if err != nil || rec.Sandbox == nil || rec.Connection != session ||
			subtle.ConstantTimeCompare([]byte(rec.TokenHash), []byte(tokenHash(token))) != 1 {
			fail(http.StatusForbidden, "unknown session or wrong token")
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxSessionCommand+1))
		if err != nil || len(body) == 0 || len(body) > maxSessionCommand {
			fail(http.StatusBadRequest, "the body must be a shell command (at most %d bytes)", maxSessionCommand)
			return
		}
		// The command runs as the sandbox's owner's.
		ctx := awsjson.WithCaller(r.Context(), awsjson.Caller{Account: res.Scope.Account, Region: res.Scope.Region})
		cmd, err := a.submitCommand(ctx, res.Name, string(body), sandbox.CommandTypeShell, true)
		if err != nil {
			fail(http.StatusConflict, "%v", err)
			return
		}
		name := sandbox.CommandName(cmd.Sandbox, cb.Deref(cmd.Exec.Id))
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			var c *sandbox.Command
			err := a.st.View(ctx, func(tx store.Tx) error {
				r, err := tx.ResourceGet(ctx, res.Scope, store.KindCommand, name)
				if err == nil {
					c, err = decodeCommand(r)
				}
				return err
			})
			if err != nil {
				fail(http.StatusInternalServerError, "%v", err)
				return
			}
			if sandbox.CommandDone(c.Exec) {
				exit := cb.Deref(c.Exec.ExitCode)
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set(sandbox.ExitCodeHeader, exit)
				json.NewEncoder(w).Encode(map[string]string{"exitCode": exit,
					"stdout": cb.Deref(c.Exec.StandardOutputContent), "stderr": cb.Deref(c.Exec.StandardErrContent)})
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}
