// Package cli is the command line: serve | logs | watch | version. It parses flags
// and the environment and calls the server or the API; nothing else.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/buildbatch/buildbatch/internal/bytesize"
	"github.com/buildbatch/buildbatch/internal/config"
	"github.com/buildbatch/buildbatch/internal/server"
)

// Version is set at build time with -ldflags "-X ...cli.Version=...".
var Version = "dev"

const usage = `buildbatch — a self-hosted AWS CodeBuild-compatible build service

Usage:
  buildbatch serve [flags]             start the service
  buildbatch run [flags]               run buildspec.yml on this directory as it is, in an embedded server (--batch: its batch)
  buildbatch logs [flags] <id>         print a build's log, or a batch's members' logs (--follow to follow)
  buildbatch watch [flags] <batch-id>  show a live table of a build batch's groups until it ends
  buildbatch version                   print the version

Run 'buildbatch <command> -h' for a command's flags.
`

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "run":
		return runCommand(ctx, args[1:], stdout, stderr)
	case "logs":
		return logs(ctx, args[1:], stdout, stderr)
	case "watch":
		return watch(ctx, args[1:], stdout, stderr)
	case "codebuild-tests-run": // inside fanout builds (see internal/runner)
		return testsRun(ctx, args[1:], stdout, stderr)
	case "codebuild-glob-search":
		return globSearch(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "buildbatch", Version)
		return 0
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "buildbatch: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := config.Default()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "address to listen on; a non-loopback address needs --credentials")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "where the database, logs, workspaces and artifacts live")
	fs.StringVar(&cfg.CredentialsFile, "credentials", "", "AWS shared-credentials file (aws_access_key_id, aws_secret_access_key, aws_account_id per section): strict SigV4")
	fs.StringVar(&cfg.DefaultAccount, "default-account", cfg.DefaultAccount, "account id of access keys that are not 12 digits")
	fs.IntVar(&cfg.MaxConcurrentBuilds, "max-concurrent-builds", cfg.MaxConcurrentBuilds, "builds that run at once, server-wide")
	fs.IntVar(&cfg.MaxQueuedBuilds, "max-queued-builds", cfg.MaxQueuedBuilds, "builds that may wait in QUEUED before StartBuild is refused")
	fs.StringVar(&cfg.SecretsFile, "secrets-file", "", "JSON file with the Parameter Store and Secrets Manager values builds refer to")
	fs.BoolVar(&cfg.KeepWorkspaces, "keep-workspaces", false, "keep each build's workspace on disk after it ends")
	fs.DurationVar(&cfg.Minute, "timeout-minute", cfg.Minute, "length of a minute of build and queue timeouts (for tests; leave at 1m)")
	fs.StringVar(&cfg.PprofListen, "pprof-listen", "", "serve net/http/pprof on this loopback address (profiling)")
	fs.StringVar(&cfg.Store, "store", "", "a postgres:// URL to keep resources in PostgreSQL (default: SQLite in the data directory)")
	fs.StringVar(&cfg.Blob, "blob", "", "an s3://BUCKET[/PREFIX]?endpoint=URL[&path-style=true][&region=R] to keep artifacts, S3 sources, caches and build logs in (default: files under the data directory)")
	fs.StringVar(&cfg.Executor, "executor", cfg.Executor, "where builds run: local (a process group on this machine) or docker (a container per build, from environment.image)")
	fs.Func("image-map", "NAME=LOCALNAME: run builds naming image NAME in the local image LOCALNAME (docker executor; repeatable)", func(v string) error {
		cfg.ImageMap = append(cfg.ImageMap, v)
		return nil
	})
	fs.StringVar(&cfg.DockerHelpers, "docker-helpers", "", "a statically linked buildbatch binary for codebuild-tests-run in containers (default: this binary, if statically linked)")
	fs.StringVar(&cfg.NodeID, "node-id", "", "this node's name among the nodes sharing a --store (default: hostname:port)")
	fs.DurationVar(&cfg.Lease, "lease", cfg.Lease, "how long a node holds a running build without renewing; a dead node's builds end this long after it stopped")
	fs.DurationVar(&cfg.ReadTimeout, "read-timeout", cfg.ReadTimeout, "longest time to read a whole request, body included (a trickling client is cut off)")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", cfg.IdleTimeout, "how long a kept-alive connection may wait for its next request")
	fs.IntVar(&cfg.MaxHeaderBytes, "max-header-bytes", cfg.MaxHeaderBytes, "largest request header section, in bytes")
	size := func(name string, p *int64, usage string) {
		fs.Func(name, usage+" (bytes, or with a unit: KiB, MiB, GiB; default "+bytesize.Format(*p)+")", func(v string) error {
			n, err := bytesize.Parse(v)
			*p = n
			return err
		})
	}
	size("max-log-bytes", &cfg.MaxLogBytes, "largest build log: past it output is dropped with a marker line and the build goes on")
	size("max-artifact-bytes", &cfg.MaxArtifactBytes, "largest artifact a build uploads: past it UPLOAD_ARTIFACTS fails")
	size("min-free-disk", &cfg.MinFreeDisk, "free space the data directory must keep: below it new builds are refused")
	fs.StringVar(&cfg.BuildUser, "build-user", "", "run builds of the local executor as this user (the server must run as root); without it they have the server's rights")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "buildbatch serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "buildbatch serve: --log-level: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "buildbatch: cannot start: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "buildbatch %s listening on http://%s\n", Version, srv.Addr())
	fmt.Fprintf(stdout, "data directory: %s\n", cfg.DataDir)
	fmt.Fprintf(stdout, "authentication: %s\n", srv.AuthMode())
	fmt.Fprintf(stdout, "store: %s\n", srv.StoreInfo())
	fmt.Fprintf(stdout, "blob: %s\n", srv.BlobInfo())
	fmt.Fprintf(stdout, "executor: %s\n", srv.ExecutorInfo())
	fmt.Fprintf(stdout, "node: %s\n", srv.NodeID())
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "buildbatch: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "buildbatch stopped")
	return 0
}
