// Package executor defines where a build's commands run. An Executor opens
// an Env for one build; all of the build's commands run in that Env's single
// shell session, so that cd, exported variables and shell state carry from
// one command and one phase to the next, as in buildspec 0.2.
//
// The default implementation, ./local, runs the session as a process group
// on this machine. Container and Kubernetes executors can come later behind
// the same interfaces.
package executor

import (
	"context"
	"io"
)

// Spec describes the environment of one build.
type Spec struct {
	// BuildID is the build's id; processes carry it as CODEBUILD_BUILD_ID so
	// that leftovers can be found after a crash.
	BuildID string
	// WorkDir is the initial working directory (CODEBUILD_SRC_DIR).
	WorkDir string
	// TmpDir is private to the executor (scripts, state); it exists.
	TmpDir string
	// Env is the session's environment, KEY=VALUE.
	Env []string
	// Shell is "sh" (the default) or "bash".
	Shell string
	// User runs the whole session as this user ("" = the server's user).
	User string
	// Output receives everything the commands print (stdout and stderr
	// interleaved, in order). Writes are whole lines or line fragments.
	Output io.Writer
}

// Executor opens build environments.
type Executor interface {
	// Open starts a build's shell session.
	Open(ctx context.Context, spec Spec) (Env, error)
	// Reap kills every process left over from the build (after a crash of
	// the server, say). It is not an error if there are none.
	Reap(buildID string) error
}

// Env is one build's shell session.
//
// Exec returns the command's exit status; a non-zero status is data, not an
// error. err is reserved for failures of the machinery itself, and for ctx
// ending (the command is then killed, with its whole process group, and
// err is ctx's error).
type Env interface {
	// Exec runs one command. If user is set and differs from the session's,
	// the command runs as that user in a child shell (its cd and exports do
	// not carry over).
	Exec(ctx context.Context, command, user string) (exitCode int, err error)
	// Vars reads the current values of shell variables (unset ones are
	// missing from the map).
	Vars(ctx context.Context, names []string) (map[string]string, error)
	// Close ends the session and kills every process it started. It is
	// idempotent and safe after a failed Open.
	Close() error
}
