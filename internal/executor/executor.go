// Package executor defines where a build's commands run. An Executor
// provisions an Env for one build (a process group on this machine, a
// container, ...); the executor owns the build's files inside it: the runner
// fetches sources into a host directory and copies them in, and copies out
// what it uploads (artifacts, reports, caches), so an executor needs no
// shared paths with the server. All of the build's commands run in the
// Env's single shell session, so that cd, exported variables and shell
// state carry from one command and one phase to the next, as in buildspec
// 0.2.
//
// Implementations: ./local (a process group on this machine), ./docker (one
// container per build, through the Docker Engine API) and ./fake (a local
// shell in a private directory tree, so that tests see every copy). Every
// one passes the conformance suite in ./executortest.
package executor

import (
	"context"
	"fmt"
	"io"
)

// Layout says where a build's directories are inside its environment.
type Layout struct {
	// Src is the primary source directory (CODEBUILD_SRC_DIR).
	Src string
	// Secondary maps secondary source identifiers to their directories
	// (CODEBUILD_SRC_DIR_<id>).
	Secondary map[string]string
	// Tmp is private to the executor and the runner (driver state, vars).
	Tmp string
}

// RegistryAuth is a registry login for pulling the build image.
type RegistryAuth struct {
	Username, Password, Server string
}

// Spec describes the environment of one build.
type Spec struct {
	// BuildID is the build's id; what the environment runs carries it so
	// that leftovers can be found after a crash.
	BuildID string
	// Layout comes from Executor.Layout.
	Layout Layout
	// Image is the build image as configured (environment.image, an
	// override or a batch member's env.image); EnvironmentType,
	// ComputeType and Privileged are the environment's other settings.
	Image           string
	EnvironmentType string
	ComputeType     string
	Privileged      bool
	// VCPUs and MemoryGB are the computeConfiguration of attribute-based
	// compute (ATTRIBUTE_BASED_COMPUTE; 0: not given).
	VCPUs, MemoryGB int64
	// RegistryAuth logs in to pull the image (nil: anonymous).
	RegistryAuth *RegistryAuth
	// Log receives the executor's own lines for the build log ("[Container]").
	Log func(format string, args ...any)
}

// Shell describes the build's shell session, started once the sources and
// the buildspec are in.
type Shell struct {
	// Env is the session's environment, KEY=VALUE: exactly the build's
	// variables. Executors add only what the environment itself provides
	// (the image's own variables; PATH and HOME on the local executor).
	Env []string
	// Shell is "sh" (the default) or "bash".
	Shell string
	// User runs the whole session as this user ("" = the environment's).
	User string
	// Output receives everything the commands print (stdout and stderr
	// interleaved, in order), in whole lines or fragments of very long
	// lines, so that a writer can mask values line by line.
	Output io.Writer
}

// Executor provisions build environments.
type Executor interface {
	// Name is the executor's name ("local", "docker", ...).
	Name() string
	// Layout says where the build's directories will be inside its
	// environment; hostDir is the runner's private directory for the
	// build on this machine (executors that run here may use it).
	Layout(buildID, hostDir string, secondary []string) Layout
	// Open provisions the build's environment. A problem of the build's
	// own settings (an image that cannot be had, an environment type the
	// executor cannot run) is a *ProvisionError: the build fails in
	// PROVISIONING. Other errors are faults.
	Open(ctx context.Context, spec Spec) (Env, error)
	// Reap removes everything left over from the build (after a crash of
	// the server, say). It is not an error if there is nothing.
	Reap(ctx context.Context, buildID string) error
}

// Env is one build's environment.
//
// Exec returns the command's exit status; a non-zero status is data, not an
// error. err is reserved for failures of the machinery itself, and for ctx
// ending (the command is then killed, with everything it started, and err
// is ctx's error).
type Env interface {
	// CopyIn copies the contents of the host directory hostDir into the
	// environment's directory dir (created if missing; existing files are
	// replaced).
	CopyIn(ctx context.Context, hostDir, dir string) error
	// CopyOut copies the environment's file or directory path to hostPath
	// (a directory's contents into the directory hostPath). A missing path
	// is an error satisfying errors.Is(err, fs.ErrNotExist).
	CopyOut(ctx context.Context, path, hostPath string) error
	// Start starts the shell session.
	Start(ctx context.Context, sh Shell) error
	// Exec runs one command. If user is set, the command runs as that user
	// in a child shell (its cd and exports do not carry over).
	Exec(ctx context.Context, command, user string) (exitCode int, err error)
	// Vars reads the current values of shell variables (unset ones are
	// missing from the map).
	Vars(ctx context.Context, names []string) (map[string]string, error)
	// Close ends the session, kills every process it started and removes
	// the environment. It is idempotent and safe after a failed Start.
	Close() error
}

// ProvisionError says why a build's environment cannot be provisioned from
// its settings; the build fails in PROVISIONING with Code and Msg as the
// phase context.
type ProvisionError struct {
	Code string
	Msg  string
}

func (e *ProvisionError) Error() string { return e.Msg }

// CodeImagePull is the context status code of an image that cannot be
// pulled, as on AWS.
const CodeImagePull = "BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE"

// ImageError is a ProvisionError for an image that cannot be had.
func ImageError(format string, args ...any) *ProvisionError {
	return &ProvisionError{Code: CodeImagePull, Msg: fmt.Sprintf(format, args...)}
}
