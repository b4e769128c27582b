// Package cwlogs serves the read side of CloudWatch Logs for build logs,
// on the CodeBuild port: DescribeLogGroups, DescribeLogStreams,
// GetLogEvents and FilterLogEvents, so that `aws logs get-log-events`,
// `aws logs filter-log-events`, `aws logs tail` and the SDKs' paginators
// read what builds print. A project's builds log to the group
// `/aws/codebuild/<project>` (or its logsConfig's groupName), one stream
// per build named as the build's logs.streamName (its uuid, behind the
// configured prefix), as on AWS. Events are the log's lines, each with
// the time it arrived; positions in a stream are byte offsets of its log,
// so a token names the same place on every call (the clients' stop test:
// the token they sent comes back at the end).
package cwlogs

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/buildbatch/buildbatch/internal/awsjson"
	"github.com/buildbatch/buildbatch/internal/buildlog"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/store"
)

// TargetPrefix is CloudWatch Logs' X-Amz-Target prefix (API 2014-03-28).
const TargetPrefix = "Logs_20140328"

// Service is CloudWatch Logs' SigV4 service name.
const Service = "logs"

// Error types of CloudWatch Logs.
const (
	InvalidParameter = "InvalidParameterException"
	ResourceNotFound = "ResourceNotFoundException"
)

// Options configures the API.
type Options struct {
	Store store.Store
	Logs  buildlog.Logs
}

// API answers the CloudWatch Logs operations.
type API struct {
	o Options

	// recent keeps each scope's log groups for groupsFresh: a client
	// paging through a log asks for its group at every page, and finding
	// the groups reads every project of the account.
	mu     sync.Mutex
	recent map[store.Scope]recentGroups
}

type recentGroups struct {
	at     time.Time
	groups map[string]*group
}

// groupsFresh is how long a scope's groups are reused when they hold the
// group asked for (one they lack is looked for anew at once): a project
// deleted or moved to another group leaves its old group after it at most
// (DescribeLogGroups always reads them anew).
const groupsFresh = time.Second

// New returns the API.
func New(o Options) *API { return &API{o: o, recent: map[store.Scope]recentGroups{}} }

var operations = []string{"DescribeLogGroups", "DescribeLogStreams", "GetLogEvents", "FilterLogEvents"}

// Register adds the operations to s (a server for TargetPrefix).
func (a *API) Register(s *awsjson.Server) {
	awsjson.HandleExtension(s, TargetPrefix+".DescribeLogGroups", a.DescribeLogGroups)
	awsjson.HandleExtension(s, TargetPrefix+".DescribeLogStreams", a.DescribeLogStreams)
	awsjson.HandleExtension(s, TargetPrefix+".GetLogEvents", a.GetLogEvents)
	awsjson.HandleExtension(s, TargetPrefix+".FilterLogEvents", a.FilterLogEvents)
	s.OnUnknown(func(op string) *awsjson.Error {
		if op == "StartLiveTail" {
			return awsjson.Errorf("InvalidOperationException", "StartLiveTail is not supported by buildbatch; use aws logs tail --follow, which reads with FilterLogEvents")
		}
		return awsjson.Errorf(awsjson.UnknownOperation, "CloudWatch Logs operation %s is not served by buildbatch: it serves build logs to read, with %s (builds write their logs themselves)",
			op, strings.Join(operations, ", "))
	})
}

func scopeOf(ctx context.Context) store.Scope {
	c := awsjson.CallerFrom(ctx)
	return store.Scope{Account: c.Account, Region: c.Region}
}

func invalid(format string, args ...any) error {
	return awsjson.Errorf(InvalidParameter, format, args...)
}

var (
	errNoGroup  = awsjson.Errorf(ResourceNotFound, "The specified log group does not exist.")
	errNoStream = awsjson.Errorf(ResourceNotFound, "The specified log stream does not exist.")
)

// ms is a time in CloudWatch Logs' unit, milliseconds since the epoch.
func ms(t time.Time) int64 { return t.UnixMilli() }

// group is a log group: the projects whose builds log to it.
type group struct {
	name     string
	created  time.Time
	projects []string
}

// groupOf is the log group a project's builds log to ("" when its
// CloudWatch logs are disabled).
func groupOf(p *cb.Project) string {
	if l := p.LogsConfig; l != nil && l.CloudWatchLogs != nil {
		if cb.Deref(l.CloudWatchLogs.Status) == cb.LogsConfigStatusTypeDisabled {
			return ""
		}
		if g := cb.Deref(l.CloudWatchLogs.GroupName); g != "" {
			return g
		}
	}
	return "/aws/codebuild/" + cb.Deref(p.Name)
}

// groups returns the scope's log groups by name.
func (a *API) groups(ctx context.Context, scope store.Scope) (map[string]*group, error) {
	out := map[string]*group{}
	err := a.o.Store.View(ctx, func(tx store.Tx) error {
		var after *store.Cursor
		for {
			names, next, err := tx.ProjectList(ctx, scope, store.ProjectsByName, store.Page{After: after, Limit: 1000})
			if err != nil {
				return err
			}
			for _, n := range names {
				p, err := tx.ProjectGet(ctx, scope, n)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				name := groupOf(p)
				if name == "" {
					continue
				}
				g := out[name]
				if g == nil {
					g = &group{name: name, created: cb.Deref(p.Created).Time}
					out[name] = g
				}
				if c := cb.Deref(p.Created).Time; c.Before(g.created) {
					g.created = c
				}
				g.projects = append(g.projects, n)
			}
			if next == nil {
				return nil
			}
			after = next
		}
	})
	return out, err
}

// groupName resolves logGroupName / logGroupIdentifier (a name or an ARN,
// exactly one of them).
func groupName(name, identifier *string) (string, error) {
	switch {
	case name != nil && identifier != nil:
		return "", invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	case name != nil:
		if *name == "" {
			return "", invalid("1 validation error detected: Value at 'logGroupName' failed to satisfy constraint: Member must have length greater than or equal to 1")
		}
		return *name, nil
	case identifier != nil:
		id := *identifier
		if rest, ok := strings.CutPrefix(id, "arn:"); ok {
			_, after, found := strings.Cut(rest, ":log-group:")
			if !found {
				return "", invalid("logGroupIdentifier %q is not a log group name or ARN", id)
			}
			return strings.TrimSuffix(after, ":*"), nil
		}
		return id, nil
	}
	return "", invalid("Should provide either name or ARN of the log group, not both or neither.")
}

// group finds a log group of the caller's.
func (a *API) group(ctx context.Context, name string) (*group, error) {
	scope, now := scopeOf(ctx), time.Now()
	a.mu.Lock()
	r, ok := a.recent[scope]
	a.mu.Unlock()
	all := r.groups
	// A group not among the kept ones may be new: read them anew.
	if !ok || now.Sub(r.at) > groupsFresh || all[name] == nil {
		var err error
		if all, err = a.groups(ctx, scope); err != nil {
			return nil, err
		}
		a.mu.Lock()
		for s, old := range a.recent { // forget stale scopes
			if now.Sub(old.at) > groupsFresh {
				delete(a.recent, s)
			}
		}
		a.recent[scope] = recentGroups{at: now, groups: all}
		a.mu.Unlock()
	}
	g := all[name]
	if g == nil {
		return nil, errNoGroup
	}
	return g, nil
}

// stream is a build's log seen as a log stream.
type stream struct {
	name  string
	build string // the build's id
	uuid  string // the build's log
	start time.Time
	end   time.Time // zero while the build runs
}

func (s *stream) lastEvent() time.Time {
	if s.end.IsZero() {
		return s.start
	}
	return s.end
}

func streamOf(b *store.Build, group string) (*stream, bool) {
	l := b.Doc.Logs
	if l == nil || cb.Deref(l.GroupName) != group || cb.Deref(l.StreamName) == "" {
		return nil, false
	}
	_, uuid, _ := strings.Cut(cb.Deref(b.Doc.Id), ":")
	s := &stream{name: cb.Deref(l.StreamName), build: cb.Deref(b.Doc.Id), uuid: uuid, start: cb.Deref(b.Doc.StartTime).Time}
	if cb.Deref(b.Doc.BuildComplete) {
		s.end = cb.Deref(b.Doc.EndTime).Time
	}
	return s, true
}

// streams lists a group's streams (builds that have started logging).
func (a *API) streams(ctx context.Context, g *group) ([]*stream, error) {
	scope := scopeOf(ctx)
	var out []*stream
	err := a.o.Store.View(ctx, func(tx store.Tx) error {
		for _, p := range g.projects {
			var after *store.Cursor
			for {
				ids, next, err := tx.BuildList(ctx, scope, p, store.Page{After: after, Limit: 1000})
				if err != nil {
					return err
				}
				for _, id := range ids {
					b, err := tx.BuildGet(ctx, scope, id)
					if errors.Is(err, store.ErrNotFound) {
						continue
					}
					if err != nil {
						return err
					}
					if s, ok := streamOf(b, g.name); ok {
						out = append(out, s)
					}
				}
				if next == nil {
					break
				}
				after = next
			}
		}
		return nil
	})
	slices.SortFunc(out, func(x, y *stream) int { return strings.Compare(x.name, y.name) })
	return out, err
}

// stream finds one stream of a group: the build whose uuid ends its name.
func (a *API) stream(ctx context.Context, g *group, name string) (*stream, error) {
	uuid := name[strings.LastIndexByte(name, '/')+1:]
	scope := scopeOf(ctx)
	var found *stream
	err := a.o.Store.View(ctx, func(tx store.Tx) error {
		for _, p := range g.projects {
			b, err := tx.BuildGet(ctx, scope, p+":"+uuid)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if s, ok := streamOf(b, g.name); ok && s.name == name {
				found = s
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, errNoStream
	}
	return found, nil
}

func groupARN(scope store.Scope, name string) string {
	return ident.ARN("logs", scope.Region, scope.Account, "log-group:"+name)
}

func limitOf(v *int32, def, most int, what string) (int, error) {
	if v == nil {
		return def, nil
	}
	if *v < 1 || int(*v) > most {
		return 0, invalid("1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value between 1 and %d", *v, what, most)
	}
	return int(*v), nil
}
