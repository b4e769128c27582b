// Package config holds every setting of the server, each documented and
// defaulted, and checks them.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Config is the server's configuration.
type Config struct {
	// Listen is the TCP address to serve on.
	Listen string
	// DataDir holds the database, build logs, workspaces and artifacts.
	DataDir string
	// CredentialsFile, when set, switches authentication to strict mode:
	// only the keys in this AWS shared-credentials file are accepted and
	// every signature is verified. Required for a non-loopback Listen.
	CredentialsFile string
	// DefaultAccount is the account of access keys that are not 12 digits
	// (local mode), and of strict-mode keys without aws_account_id.
	DefaultAccount string
	// MaxConcurrentBuilds is the server-wide number of builds that run at
	// once; the account-level limit that a project's concurrentBuildLimit
	// may not exceed.
	MaxConcurrentBuilds int
	// MaxQueuedBuilds bounds the builds waiting in QUEUED; past it
	// StartBuild fails with AccountLimitExceededException.
	MaxQueuedBuilds int
	// SecretsFile holds the values of Parameter Store parameters and
	// Secrets Manager secrets that builds refer to (JSON; see package
	// secrets).
	SecretsFile string
	// Minute is the length of one minute of timeoutInMinutes and
	// queuedTimeoutInMinutes. Always time.Minute, except in tests that need
	// a 5-minute timeout to pass in seconds.
	Minute time.Duration
	// KeepWorkspaces leaves each build's workspace on disk when it ends.
	KeepWorkspaces bool
	// PprofListen, when set, serves net/http/pprof on this (loopback)
	// address, for profiling.
	PprofListen string
	// Store is where resources live: "" for the embedded SQLite database
	// in DataDir, or a postgres:// URL.
	Store string
	// Blob is where artifacts, S3 sources and caches live: "" for files
	// under DataDir/artifacts, or an S3 bucket as
	// s3://BUCKET[/PREFIX]?endpoint=URL[&path-style=true][&region=REGION]
	// (objects under PREFIX/<bucket>/<key>; endpoint omitted for AWS;
	// credentials from the usual AWS sources). See package blob/s3.
	Blob string
	// Executor is where builds run: "local" (a process group on this
	// machine) or "docker" (one container per build, through the Docker
	// Engine at DOCKER_HOST or the default socket).
	Executor string
	// ImageMap holds NAME=LOCALNAME entries: builds naming image NAME run
	// in the local image LOCALNAME (docker executor).
	ImageMap []string
	// DockerHelpers is a statically linked buildbatch binary that the
	// docker executor copies into containers for codebuild-tests-run and
	// codebuild-glob-search ("" = this binary, if statically linked).
	DockerHelpers string
	// ShutdownGrace is how long in-flight requests may take to finish on
	// SIGINT/SIGTERM.
	ShutdownGrace time.Duration
	// NodeID names this node in the store's build leases, logs and phase
	// contexts ("" = hostname:port). Nodes sharing a store need distinct
	// ids.
	NodeID string
	// Lease is how long a node's claim on a running build lasts without
	// renewal (renewed every third of it): a node that dies loses its
	// builds to the others this long after its last renewal.
	Lease time.Duration
	// ReadTimeout bounds the reading of a whole request, body included:
	// a client that trickles its request is cut off after it. Headers
	// must arrive within the smaller of it and 10 seconds.
	ReadTimeout time.Duration
	// IdleTimeout is how long a kept-alive connection may wait for its
	// next request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's header section.
	MaxHeaderBytes int
	// MaxLogBytes bounds a build's log: past it, the build's output is
	// dropped (with a marker line) and the build goes on.
	MaxLogBytes int64
	// MaxArtifactBytes bounds what one build uploads as artifacts (each
	// of its artifacts): past it, UPLOAD_ARTIFACTS fails.
	MaxArtifactBytes int64
	// MinFreeDisk is the free space the data directory's file system must
	// keep: below it, new builds are refused.
	MinFreeDisk int64
	// BuildUser, when set, is the user the local executor runs builds as
	// (the server must be able to switch to it, i.e. run as root).
	BuildUser string
}

// DefaultListen is the default listen address.
const DefaultListen = "127.0.0.1:4599"

// Default returns the defaults.
func Default() Config {
	n := max(4, runtime.NumCPU()*4)
	return Config{
		Listen:              DefaultListen,
		DataDir:             DefaultDataDir(),
		DefaultAccount:      "000000000000",
		MaxConcurrentBuilds: n,
		MaxQueuedBuilds:     5 * n,
		Minute:              time.Minute,
		Executor:            "local",
		ShutdownGrace:       10 * time.Second,
		Lease:               30 * time.Second,
		ReadTimeout:         60 * time.Second,
		IdleTimeout:         120 * time.Second,
		MaxHeaderBytes:      64 << 10,
		MaxLogBytes:         1 << 30,
		MaxArtifactBytes:    5 << 30,
		MinFreeDisk:         1 << 30,
	}
}

// DefaultDataDir is $XDG_DATA_HOME/buildbatch, else ~/.local/share/buildbatch.
func DefaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "buildbatch")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "buildbatch")
	}
	return filepath.Join(os.TempDir(), "buildbatch")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", c.Listen, err)
	}
	if c.CredentialsFile == "" && !IsLoopback(host) {
		return fmt.Errorf("--listen %s is not a loopback address: serving beyond this machine needs --credentials FILE (strict SigV4)", c.Listen)
	}
	if c.DataDir == "" {
		return errors.New("--data-dir must not be empty")
	}
	if len(c.DefaultAccount) != 12 || !allDigits(c.DefaultAccount) {
		return fmt.Errorf("--default-account %q must be 12 digits", c.DefaultAccount)
	}
	if c.MaxConcurrentBuilds < 1 {
		return fmt.Errorf("--max-concurrent-builds must be at least 1, got %d", c.MaxConcurrentBuilds)
	}
	if c.PprofListen != "" {
		host, _, err := net.SplitHostPort(c.PprofListen)
		if err != nil || !IsLoopback(host) {
			return fmt.Errorf("--pprof-listen %q must be a loopback address", c.PprofListen)
		}
	}
	if c.Minute <= 0 {
		return fmt.Errorf("--timeout-minute must be positive")
	}
	if c.Store != "" && !strings.HasPrefix(c.Store, "postgres://") && !strings.HasPrefix(c.Store, "postgresql://") {
		return fmt.Errorf("--store %q: want a postgres:// URL (or nothing, for the embedded SQLite database)", c.Store)
	}
	if c.Blob != "" {
		// The syntax only: the whole URL is read (package blob/s3, which
		// config does not import) when the store is opened.
		if u, err := url.Parse(c.Blob); err != nil || u.Scheme != "s3" || u.Host == "" {
			return fmt.Errorf("--blob %q: want s3://BUCKET[/PREFIX]?endpoint=URL (or nothing, for files under the data directory)", c.Blob)
		}
	}
	if c.Executor != "local" && c.Executor != "docker" {
		return fmt.Errorf("--executor %q: want local or docker", c.Executor)
	}
	for _, e := range c.ImageMap {
		if from, to, ok := strings.Cut(e, "="); !ok || strings.TrimSpace(from) == "" || strings.TrimSpace(to) == "" {
			return fmt.Errorf("--image-map %q: want NAME=LOCALNAME", e)
		}
	}
	if c.Lease < 300*time.Millisecond {
		return fmt.Errorf("--lease %s is too short: at least 300ms", c.Lease)
	}
	if c.ReadTimeout < time.Second {
		return fmt.Errorf("--read-timeout %s is too short: at least 1s", c.ReadTimeout)
	}
	if c.IdleTimeout < time.Second {
		return fmt.Errorf("--idle-timeout %s is too short: at least 1s", c.IdleTimeout)
	}
	if c.MaxHeaderBytes < 4<<10 {
		return fmt.Errorf("--max-header-bytes %d is too small: at least 4KiB (SigV4 headers with a session token take 2 KiB)", c.MaxHeaderBytes)
	}
	if c.MaxLogBytes < 1<<20 {
		return fmt.Errorf("--max-log-bytes %d is too small: at least 1MiB", c.MaxLogBytes)
	}
	if c.MaxArtifactBytes < 1<<20 {
		return fmt.Errorf("--max-artifact-bytes %d is too small: at least 1MiB", c.MaxArtifactBytes)
	}
	if c.MinFreeDisk < 0 {
		return fmt.Errorf("--min-free-disk must not be negative")
	}
	if c.BuildUser != "" && c.Executor != "local" {
		return fmt.Errorf("--build-user applies to the local executor only: with --executor %s builds run as their image's user, in their container", c.Executor)
	}
	if c.MaxQueuedBuilds < 0 {
		return fmt.Errorf("--max-queued-builds must not be negative, got %d", c.MaxQueuedBuilds)
	}
	return nil
}

// IsLoopback reports whether host names only this machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
