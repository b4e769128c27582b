// Package store defines how buildbatch keeps its resources: a Store runs
// transactions (Update for writes, View for reads) over a Tx that offers one
// method per resource operation. The embedded default lives in ./sqlite; a
// PostgreSQL implementation can come later behind the same interfaces, and
// ./storetest is the conformance suite every implementation passes.
//
// Resources are kept as their API documents (codebuild.Project, ...), so
// every member a client sets is stored and returned; a few columns are
// indexed beside the document for lookups and listing.
package store

import (
	"context"
	"errors"

	"github.com/buildbatch/buildbatch/internal/codebuild"
)

// Sentinel errors; wrap them with %w.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
)

// Scope is the namespace of a resource: accounts and regions never see each
// other's resources.
type Scope struct {
	Account string
	Region  string
}

// Store is a transactional resource store.
type Store interface {
	// Update runs fn in a read-write transaction, committed if fn returns
	// nil and rolled back otherwise.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	Close() error
}

// ProjectSort is the ordering of a project listing.
type ProjectSort int

const (
	ProjectsByName ProjectSort = iota
	ProjectsByCreated
	ProjectsByModified
)

// Cursor marks where a listing stopped: the sort key and the id of the last
// item returned. The zero Cursor starts at the beginning.
type Cursor struct {
	Key int64  `json:"k,omitempty"`
	Str string `json:"s,omitempty"`
	ID  string `json:"i,omitempty"`
}

// Page asks for one page of a listing.
type Page struct {
	After      *Cursor // nil: from the start
	Limit      int
	Descending bool
}

// Tx is one transaction. Methods are named ResourceVerb; a miss returns an
// error wrapping ErrNotFound, a duplicate one wrapping ErrConflict.
type Tx interface {
	ProjectInsert(ctx context.Context, s Scope, p *codebuild.Project) error
	ProjectGet(ctx context.Context, s Scope, name string) (*codebuild.Project, error)
	ProjectPut(ctx context.Context, s Scope, p *codebuild.Project) error
	ProjectDelete(ctx context.Context, s Scope, name string) error
	// ProjectList returns project names in the requested order and the
	// cursor of the next page (nil when this is the last one).
	ProjectList(ctx context.Context, s Scope, by ProjectSort, p Page) ([]string, *Cursor, error)
}
