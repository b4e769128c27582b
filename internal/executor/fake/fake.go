// Package fake is an executor for tests: a local shell session whose
// directories live in a private tree of their own, apart from the runner's
// host directory, as a remote executor's would. Everything the runner
// needs must therefore go through CopyIn and CopyOut, which it counts.
package fake

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/buildbatch/buildbatch/internal/executor"
	"github.com/buildbatch/buildbatch/internal/executor/local"
)

// Executor is the fake executor.
type Executor struct {
	// Root holds one directory per build.
	Root string

	ex        *local.Executor
	CopiesIn  atomic.Int64
	CopiesOut atomic.Int64
}

var _ executor.Executor = (*Executor)(nil)

// New returns a fake executor keeping builds under root, whose sessions
// start from base (see local.BaseEnv).
func New(root string, base []string) *Executor {
	return &Executor{Root: root, ex: &local.Executor{Base: base}}
}

// Name implements executor.Executor.
func (x *Executor) Name() string { return "fake" }

func (x *Executor) dir(buildID string) string {
	return filepath.Join(x.Root, strings.NewReplacer(":", "_", "/", "_").Replace(buildID))
}

// Layout implements executor.Executor.
func (x *Executor) Layout(buildID, hostDir string, secondary []string) executor.Layout {
	return x.ex.Layout(buildID, x.dir(buildID), secondary)
}

// Open implements executor.Executor.
func (x *Executor) Open(ctx context.Context, spec executor.Spec) (executor.Env, error) {
	if strings.HasPrefix(spec.Image, "missing/") {
		return nil, executor.ImageError("Unable to pull customer's container image. %s is not on this machine", spec.Image)
	}
	e, err := x.ex.Open(ctx, spec)
	if err != nil {
		return nil, err
	}
	return &env{Env: e, x: x, dir: x.dir(spec.BuildID)}, nil
}

// Reap implements executor.Executor.
func (x *Executor) Reap(ctx context.Context, buildID string) error {
	err := x.ex.Reap(ctx, buildID)
	os.RemoveAll(x.dir(buildID))
	return err
}

type env struct {
	executor.Env
	x   *Executor
	dir string
}

func (e *env) CopyIn(ctx context.Context, hostDir, dir string) error {
	e.x.CopiesIn.Add(1)
	return e.Env.CopyIn(ctx, hostDir, dir)
}

func (e *env) CopyOut(ctx context.Context, path, hostPath string) error {
	e.x.CopiesOut.Add(1)
	return e.Env.CopyOut(ctx, path, hostPath)
}

func (e *env) Close() error {
	err := e.Env.Close()
	os.RemoveAll(e.dir)
	return err
}
