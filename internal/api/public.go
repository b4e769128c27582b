package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"strings"

	"github.com/buildbatch/buildbatch/internal/buildlog"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
)

// The requests that need no credentials, as on AWS: build badges
// (GET /badges?uuid=...), public projects' builds and logs
// (GET /public/<alias>/...), and webhook deliveries (POST /webhooks?t=...).

// IsPublic reports whether r is one of them: it carries no AWS signature
// and asks for one of those paths (an S3 request for a bucket of the same
// name is signed, or is an anonymous S3 request for another path shape).
func IsPublic(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" || r.URL.Query().Get("X-Amz-Credential") != "" || r.Header.Get("X-Amz-Target") != "" {
		return false
	}
	q := r.URL.Query()
	switch {
	case r.URL.Path == "/badges" && q.Get("uuid") != "":
		return r.Method == http.MethodGet || r.Method == http.MethodHead
	case strings.HasPrefix(r.URL.Path, "/public/"):
		return r.Method == http.MethodGet || r.Method == http.MethodHead
	case r.URL.Path == "/webhooks" && q.Get("t") != "":
		return r.Method == http.MethodPost
	}
	return false
}

// ServePublic answers a request IsPublic accepted.
func (a *API) ServePublic(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/badges":
		a.serveBadge(w, r)
	case r.URL.Path == "/webhooks":
		a.serveWebhook(w, r)
	default:
		a.servePublicProject(w, r)
	}
}

func badgeToken(account, region, project string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(account + "/" + region + "/" + project))
}

// Badge statuses and their colours.
const (
	badgePassing    = "PASSING"
	badgeFailing    = "FAILING"
	badgeInProgress = "IN_PROGRESS"
	badgeUnknown    = "UNKNOWN"
)

// BadgeSVG draws a build badge for a status.
func BadgeSVG(status string) string {
	look, ok := map[string]struct{ text, colour string }{
		badgePassing: {"passing", "#4c1"}, badgeFailing: {"failing", "#e05d44"}, badgeInProgress: {"in progress", "#dfb317"},
	}[status]
	if !ok {
		look.text, look.colour = "unknown", "#9f9f9f"
	}
	text, colour := look.text, look.colour
	lw, rw := 37, 7*len(text)+10
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="20" role="img" aria-label="build: %s" data-status="%s">`+
		`<title>build: %s</title><rect width="%d" height="20" fill="#555"/><rect x="%d" width="%d" height="20" fill="%s"/>`+
		`<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">`+
		`<text x="%d" y="14">build</text><text x="%d" y="14">%s</text></g></svg>`,
		lw+rw, text, status, text, lw, lw, rw, colour, lw/2, lw+rw/2, html.EscapeString(text))
}

// badgeStatus is a build's badge status.
func badgeStatus(b *cb.Build) string {
	switch cb.Deref(b.BuildStatus) {
	case cb.StatusTypeSucceeded:
		return badgePassing
	case cb.StatusTypeInProgress:
		return badgeInProgress
	case "":
		return badgeUnknown
	}
	return badgeFailing
}

// onRef reports whether a build built the branch or tag a badge asks for:
// its source version names it, or (for the default branch) names nothing.
func onRef(b *cb.Build, branch, tag string) bool {
	v := cb.Deref(b.SourceVersion)
	if tag != "" {
		return v == tag || v == "refs/tags/"+tag
	}
	if v == "" {
		return branch == "" || branch == "main" || branch == "master"
	}
	return branch == "" || v == branch || v == "refs/heads/"+branch
}

func (a *API) serveBadge(w http.ResponseWriter, r *http.Request) {
	status := badgeUnknown
	q := r.URL.Query()
	if raw, err := base64.RawURLEncoding.DecodeString(q.Get("uuid")); err == nil {
		if parts := strings.SplitN(string(raw), "/", 3); len(parts) == 3 {
			status = a.badge(r.Context(), store.Scope{Account: parts[0], Region: parts[1]}, parts[2], q.Get("branch"), q.Get("tag"))
		}
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
	if r.Method == http.MethodHead {
		return
	}
	fmt.Fprint(w, BadgeSVG(status))
}

// badge is the status of the latest build of a project on a branch or
// tag; UNKNOWN without one, or when the project's badge is off.
func (a *API) badge(ctx context.Context, scope store.Scope, project, branch, tag string) string {
	status := badgeUnknown
	a.st.View(ctx, func(tx store.Tx) error {
		p, err := tx.ProjectGet(ctx, scope, project)
		if err != nil || p.Badge == nil || !cb.Deref(p.Badge.BadgeEnabled) {
			return nil
		}
		var after *store.Cursor
		for range 2 { // the latest 200 builds: an anonymous request reads no more
			ids, next, err := tx.BuildList(ctx, scope, project, store.Page{After: after, Limit: 100, Descending: true})
			if err != nil {
				return err
			}
			for _, id := range ids {
				b, err := tx.BuildGet(ctx, scope, id)
				if err == nil && onRef(b.Doc, branch, tag) {
					status = badgeStatus(b.Doc)
					return nil
				}
			}
			if next == nil {
				return nil
			}
			after = next
		}
		return nil
	})
	return status
}

// publicProject finds the public project an alias names.
func (a *API) publicProject(ctx context.Context, alias string) (store.Scope, *cb.Project, error) {
	var scope store.Scope
	var p *cb.Project
	err := a.st.View(ctx, func(tx store.Tx) error {
		r, err := tx.ResourceByKey(ctx, publicAliases, alias)
		if err != nil {
			return err
		}
		scope = r.Scope
		p, err = tx.ProjectGet(ctx, r.Scope, r.Name)
		return err
	})
	if err == nil && cb.Deref(p.ProjectVisibility) != cb.ProjectVisibilityTypePublicRead {
		err = store.ErrNotFound
	}
	return scope, p, err
}

func publicError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// servePublicProject answers, for a PUBLIC_READ project:
//
//	GET /public/<alias>                    the project's name and latest builds
//	GET /public/<alias>/builds/<id>        a build (as BatchGetBuilds has it)
//	GET /public/<alias>/builds/<id>/log    its log, as text
func (a *API) servePublicProject(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/public/"), "/")
	scope, p, err := a.publicProject(ctx, parts[0])
	if err != nil {
		publicError(w, http.StatusNotFound, "No public project has this alias")
		return
	}
	name := cb.Deref(p.Name)
	switch {
	case len(parts) == 1 || (len(parts) == 2 && parts[1] == ""):
		type entry struct {
			ID          string   `json:"id"`
			BuildNumber *int64   `json:"buildNumber,omitempty"`
			BuildStatus string   `json:"buildStatus"`
			StartTime   *cb.Time `json:"startTime,omitempty"`
			EndTime     *cb.Time `json:"endTime,omitempty"`
			Source      *string  `json:"sourceVersion,omitempty"`
		}
		out := struct {
			ProjectName string  `json:"projectName"`
			Builds      []entry `json:"builds"`
		}{ProjectName: name, Builds: []entry{}}
		err := a.st.View(ctx, func(tx store.Tx) error {
			ids, _, err := tx.BuildList(ctx, scope, name, store.Page{Limit: 100, Descending: true})
			if err != nil {
				return err
			}
			for _, id := range ids {
				b, err := tx.BuildGet(ctx, scope, id)
				if err != nil {
					continue
				}
				out.Builds = append(out.Builds, entry{ID: id, BuildNumber: b.Doc.BuildNumber, BuildStatus: cb.Deref(b.Doc.BuildStatus),
					StartTime: b.Doc.StartTime, EndTime: b.Doc.EndTime, Source: b.Doc.SourceVersion})
			}
			return nil
		})
		if err != nil {
			publicError(w, http.StatusInternalServerError, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	case len(parts) >= 3 && parts[1] == "builds" && (len(parts) == 3 || (len(parts) == 4 && parts[3] == "log")):
		id := parts[2]
		if !strings.Contains(id, ":") {
			id = name + ":" + id
		}
		proj, uuid, _ := strings.Cut(id, ":")
		b, err := a.getBuild(ctx, scope, id)
		if err != nil || proj != name {
			publicError(w, http.StatusNotFound, "No such build of this project")
			return
		}
		if len(parts) == 3 {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(b.Doc)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for off := int64(0); ; {
			c, err := a.opts.Logs.Read(ctx, uuid, off, 1<<20, 0, false)
			if errors.Is(err, buildlog.ErrNoLog) {
				return
			}
			if err != nil || len(c.Data) == 0 {
				return
			}
			if _, err := w.Write(c.Data); err != nil {
				return
			}
			off = c.NextOffset
		}
	default:
		publicError(w, http.StatusNotFound, "Not found")
	}
}
