// Package server is the composition root: from a Config it builds the store,
// the API, the scheduler and the HTTP server, and runs them until stopped.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/api"
	"github.com/buildbatch/buildbatch/internal/awsjson"
	"github.com/buildbatch/buildbatch/internal/batchrun"
	"github.com/buildbatch/buildbatch/internal/blob/blobopen"
	"github.com/buildbatch/buildbatch/internal/buildlog"
	"github.com/buildbatch/buildbatch/internal/buildlog/bloblog"
	"github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/config"
	"github.com/buildbatch/buildbatch/internal/console"
	"github.com/buildbatch/buildbatch/internal/cwlogs"
	"github.com/buildbatch/buildbatch/internal/executor"
	"github.com/buildbatch/buildbatch/internal/executor/docker"
	"github.com/buildbatch/buildbatch/internal/executor/local"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/runner"
	"github.com/buildbatch/buildbatch/internal/s3api"
	"github.com/buildbatch/buildbatch/internal/sandbox"
	"github.com/buildbatch/buildbatch/internal/sandbox/sandboxrun"
	"github.com/buildbatch/buildbatch/internal/scheduler"
	"github.com/buildbatch/buildbatch/internal/secrets"
	"github.com/buildbatch/buildbatch/internal/sigv4"
	"github.com/buildbatch/buildbatch/internal/store"
	"github.com/buildbatch/buildbatch/internal/store/postgres"
	"github.com/buildbatch/buildbatch/internal/store/sqlite"
)

// Server is a running buildbatch.
type Server struct {
	cfg   config.Config
	node  string
	log   *slog.Logger
	ln    net.Listener
	http  *http.Server
	store store.Store
	sched *scheduler.Scheduler
	coord *batchrun.Coordinator
	run   *runner.Runner
	mode  string
	// sandboxes runs this node's CodeBuild sandboxes.
	sandboxes *sandboxrun.Manager

	execInfo  string
	storeInfo string
	blobInfo  string
	closeExec func()

	pprofLn net.Listener // with pprof: --pprof-listen
	pprof   *http.Server

	console *console.Console // the web console at /
}

// New prepares a server: it checks the data directory, opens the store,
// recovers the builds a previous run left, and binds the listen address, so
// that every reason it cannot start is reported before it says it listens.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	verifier := &sigv4.Verifier{Service: "codebuild", DefaultAccount: cfg.DefaultAccount}
	mode := "local (any access key accepted; 12-digit keys are account ids, others belong to " + cfg.DefaultAccount + ")"
	if cfg.CredentialsFile != "" {
		keys, err := sigv4.LoadFile(cfg.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("--credentials: %w", err)
		}
		verifier.Keys = keys
		mode = fmt.Sprintf("strict (%d access keys from %s)", keys.Len(), cfg.CredentialsFile)
	}
	sec, err := secrets.Load(cfg.SecretsFile)
	if err != nil {
		return nil, fmt.Errorf("--secrets-file: %w", err)
	}
	if err := checkWritable(cfg.DataDir); err != nil {
		return nil, fmt.Errorf("data directory %s is not usable: %w", cfg.DataDir, err)
	}
	if !cfg.KeepWorkspaces {
		// No build runs yet: what is in builds/ was left by a server that
		// died (its builds end FAULT in recovery).
		removeWorkspaces(filepath.Join(cfg.DataDir, "builds"))
	}
	blobs, blobInfo, err := blobopen.Open(ctx, cfg.Blob, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	// Logs go where artifacts go: with an S3 store every node reads every
	// build's log, while it runs too.
	var logs buildlog.Logs
	if cfg.Blob != "" {
		logs = bloblog.New(blobs, bloblog.Options{})
		blobInfo += "; build logs there too (bucket " + bloblog.DefaultBucket + ")"
	} else if logs, err = buildlog.NewStore(filepath.Join(cfg.DataDir, "logs")); err != nil {
		return nil, err
	}
	st, storeInfo, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.BuildUser != "" {
		// Builds run as another user, who must reach builds/ but nothing
		// else of the server's: the database, logs and artifacts.
		if err := restrictDataDir(cfg.DataDir); err != nil {
			st.Close()
			return nil, fmt.Errorf("data directory %s: %w", cfg.DataDir, err)
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("cannot listen on %s: %w", cfg.Listen, err)
	}
	exec, execInfo, err := newExecutor(ctx, cfg, log)
	if err != nil {
		ln.Close()
		st.Close()
		return nil, err
	}
	node := cfg.NodeID
	if node == "" {
		host, _ := os.Hostname()
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		node = host + ":" + port
	}
	if cfg.Store != "" {
		log = log.With("node", node) // several nodes may log to one place
	}
	tmp := filepath.Join(cfg.DataDir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, err
	}
	run := runner.New(runner.Config{
		Store: st, Executor: exec, Logs: logs, Blob: blobs, Secrets: sec,
		WorkDir: filepath.Join(cfg.DataDir, "builds"), Minute: cfg.Minute, Log: log,
		KeepWorkspaces: cfg.KeepWorkspaces, IdleWorkspaces: cfg.MaxConcurrentBuilds, MaxLogBytes: cfg.MaxLogBytes, MaxArtifactBytes: cfg.MaxArtifactBytes,
		ConsoleURL: "http://" + ln.Addr().String(),
	})
	shared := cfg.Store != ""
	coord := batchrun.New(batchrun.Options{Store: st, Blob: blobs, Node: node, Lease: cfg.Lease, Minute: cfg.Minute, Log: log, TempDir: tmp, Exclusive: !shared})
	opts := scheduler.Options{
		Store: st, Runner: run, Coord: coord, Node: node, MaxConcurrent: cfg.MaxConcurrentBuilds, MaxQueued: cfg.MaxQueuedBuilds,
		Lease: cfg.Lease, Minute: cfg.Minute, Exclusive: !shared,
		Log: log, Reap: func(id string) error { return exec.Reap(context.Background(), id) },
	}
	if shared {
		opts.Poll = 250 * time.Millisecond // builds other nodes queued, stops asked on other nodes
	}
	sched := scheduler.New(opts)
	sandboxes := sandboxrun.New(sandboxrun.Options{Store: st, Runner: run, Node: node, Lease: cfg.Lease, Exclusive: !shared,
		Minute: cfg.Minute, TempDir: tmp, Log: log, Max: cfg.MaxConcurrentBuilds, Reap: func(id string) error { return exec.Reap(context.Background(), id) }})
	baseURL := "http://" + ln.Addr().String()
	a := api.New(api.Options{Store: st, AccountConcurrentBuilds: cfg.MaxConcurrentBuilds, BaseURL: baseURL,
		Scheduler: sched, Coordinator: coord, Logs: logs, Blob: blobs, Log: log, DataDir: cfg.DataDir, MinFreeDisk: cfg.MinFreeDisk})
	consoleKey, err := sharedSecret(ctx, st, "console-sessions")
	if err != nil {
		coord.Shutdown()
		ln.Close()
		st.Close()
		return nil, fmt.Errorf("the console's session key: %w", err)
	}
	if err := sched.Start(ctx); err != nil {
		coord.Shutdown()
		ln.Close()
		st.Close()
		return nil, fmt.Errorf("recovering builds: %w", err)
	}
	aws := awsjson.NewServer(codebuild.TargetPrefix, verifier, log)
	a.Register(aws)
	// CloudWatch Logs (reading build logs) on the same port.
	logsVerifier := *verifier
	logsVerifier.Service = cwlogs.Service
	logsAPI := awsjson.NewServer(cwlogs.TargetPrefix, &logsVerifier, log)
	cwlogs.New(cwlogs.Options{Store: st, Logs: logs}).Register(logsAPI)
	router := awsjson.NewRouter(aws)
	router.Add(aws, "codebuild", "CodeBuild", codebuild.TargetPrefix, strings.Split(api.GetBuildLogTarget, ".")[0])
	router.Add(logsAPI, cwlogs.Service, "CloudWatch Logs", cwlogs.TargetPrefix)
	// S3 for the artifact store, on the same port.
	s3Verifier := *verifier
	s3Verifier.Service, s3Verifier.S3 = s3api.Service, true
	router.S3(s3api.New(s3api.Options{Store: st, Blob: blobs, Verifier: &s3Verifier, Log: log, MaxObjectBytes: cfg.MaxArtifactBytes,
		Reserved: []string{runner.CacheBucket, bloblog.DefaultBucket}}))

	// The web console: unsigned browser requests for / and /console/.
	cons := console.New(console.Options{API: a, Store: st, Blob: blobs, Keys: verifier.Keys, DefaultAccount: cfg.DefaultAccount,
		BaseURL: baseURL, Log: log, Key: consoleKey})

	sandboxSessions := a.SandboxSessions() // sandbox connections (StartSandboxConnection's streamUrl)
	// Not an http.ServeMux: it would clean paths (S3 keys hold "//") and
	// redirect.
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/_buildbatch/health" {
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintln(w, "ok")
			return
		}
		if strings.HasPrefix(r.URL.Path, sandbox.SessionPath) && r.Header.Get(sandbox.SessionTokenHeader) != "" {
			sandboxSessions.ServeHTTP(w, r)
			return
		}
		if api.IsPublic(r) { // badges, public builds, webhook deliveries: no credentials
			a.ServePublic(w, r)
			return
		}
		if cons.Owns(r) {
			cons.ServeHTTP(w, r)
			return
		}
		router.ServeHTTP(w, r)
	})
	var pprofLn net.Listener
	var pprofSrv *http.Server
	if cfg.PprofListen != "" {
		pm := http.NewServeMux()
		pm.HandleFunc("/debug/pprof/", pprof.Index)
		pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
		pm.HandleFunc("/debug/pprof/trace", pprof.Trace)
		pm.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		pln, err := net.Listen("tcp", cfg.PprofListen)
		if err != nil {
			sched.Shutdown()
			coord.Shutdown()
			ln.Close()
			st.Close()
			return nil, fmt.Errorf("cannot listen on --pprof-listen %s: %w", cfg.PprofListen, err)
		}
		pprofLn, pprofSrv = pln, &http.Server{Handler: pm, ReadHeaderTimeout: 30 * time.Second}
	}
	s := &Server{node: node, cfg: cfg, log: log, ln: ln, store: st, sched: sched, coord: coord, run: run, sandboxes: sandboxes, mode: mode, execInfo: execInfo, storeInfo: storeInfo, blobInfo: blobInfo, closeExec: closer(exec), pprofLn: pprofLn, pprof: pprofSrv, console: cons}
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: min(10*time.Second, cfg.ReadTimeout),
		ReadTimeout:       cfg.ReadTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	s.ln = awsjson.SanitizeHeaders(ln, cfg.MaxHeaderBytes+4096)
	return s, nil
}

// openStore opens the configured store and says what it is.
// if the server loses its exclusive hold on a shared database.
func openStore(ctx context.Context, cfg config.Config) (store.Store, string, error) {
	if cfg.Store == "" {
		path := filepath.Join(cfg.DataDir, "buildbatch.db")
		st, err := sqlite.Open(ctx, path)
		return st, "sqlite (" + path + ")", err
	}
	st, err := postgres.Open(ctx, cfg.Store)
	if err != nil {
		return nil, "", fmt.Errorf("--store: %w", err)
	}
	return st, "postgres (" + st.Describe() + ")", nil
}

// BlobInfo says where artifacts, S3 sources and caches live.
func (s *Server) BlobInfo() string { return s.blobInfo }

// StoreInfo says where resources live.
func (s *Server) StoreInfo() string { return s.storeInfo }

// newExecutor opens the configured executor and says what it is.
func newExecutor(ctx context.Context, cfg config.Config, log *slog.Logger) (executor.Executor, string, error) {
	switch cfg.Executor {
	case "docker":
		m, err := docker.ParseImageMap(cfg.ImageMap)
		if err != nil {
			return nil, "", err
		}
		abs, _ := filepath.Abs(cfg.DataDir)
		helpers := cfg.DockerHelpers
		if helpers == "" {
			if self, err := os.Executable(); err == nil && docker.Static(self) {
				helpers = self
			}
		} else if !docker.Static(helpers) {
			return nil, "", fmt.Errorf("--docker-helpers %s is not a statically linked executable (build it with CGO_ENABLED=0)", helpers)
		}
		x, err := docker.New(ctx, docker.Options{ImageMap: m, Instance: ident.Hash(abs), Helpers: helpers})
		if err != nil {
			return nil, "", err
		}
		if n, err := x.Sweep(ctx); err != nil {
			log.Warn("removing leftover build containers", "err", err)
		} else if n > 0 {
			log.Info("removed leftover build containers", "count", n)
		}
		info := x.Describe()
		if helpers == "" {
			info += "; codebuild-tests-run is not available in containers (this binary is not statically linked: build it with CGO_ENABLED=0, or pass --docker-helpers)"
		}
		if len(m) > 0 {
			info += fmt.Sprintf("; %d image mappings", len(m))
		}
		return x, info, nil
	}
	if cfg.BuildUser != "" {
		if err := local.CheckUser(cfg.BuildUser); err != nil {
			return nil, "", fmt.Errorf("--build-user: %w", err)
		}
		if err := local.CheckReach(cfg.BuildUser, filepath.Join(cfg.DataDir, "builds")); err != nil {
			return nil, "", fmt.Errorf("--build-user: %w", err)
		}
		return &local.Executor{Base: local.BaseEnv(os.Environ()), HelperDir: filepath.Join(cfg.DataDir, "builds", ".bin"), User: cfg.BuildUser},
			"local (builds run as processes of user " + cfg.BuildUser + " on this machine; environment.image is recorded, not used)", nil
	}
	return &local.Executor{Base: local.BaseEnv(os.Environ()), HelperDir: filepath.Join(cfg.DataDir, "builds", ".bin")},
		"local (builds run as processes of this server's user, with its rights, on this machine; --build-user or --executor docker isolate them; environment.image is recorded, not used)", nil
}

func closer(x executor.Executor) func() {
	if c, ok := x.(interface{ Close() error }); ok {
		return func() { c.Close() }
	}
	return func() {}
}

// NodeID is this node's name among the nodes sharing the store.
func (s *Server) NodeID() string { return s.node }

// ExecutorInfo says which executor runs builds.
func (s *Server) ExecutorInfo() string { return s.execInfo }

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// AuthMode describes the authentication mode.
func (s *Server) AuthMode() string { return s.mode }

// Run serves until ctx is done, then lets in-flight requests finish (up to
// the shutdown grace), ends the running builds and closes the store.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.ln) }()
	consoleCtx, stopConsole := context.WithCancel(ctx)
	defer stopConsole()
	go s.console.Run(consoleCtx) // the console's change feed; ends its event streams with ctx
	sandboxCtx, stopSandboxes := context.WithCancel(context.Background())
	sandboxesDone := make(chan struct{})
	go func() { s.sandboxes.Run(sandboxCtx); close(sandboxesDone) }()
	pprofDone := make(chan struct{})
	if s.pprof != nil {
		go func() { s.pprof.Serve(s.pprofLn); close(pprofDone) }()
	} else {
		close(pprofDone)
	}
	var serveErr error
	select {
	case err := <-errc:
		serveErr = err
	case <-ctx.Done():
	}
	if ctx.Err() != nil {
		s.log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
		if err := s.http.Shutdown(sctx); err != nil {
			s.log.Warn("shutdown: requests still in flight were cut", "err", err)
		}
		cancel()
		<-errc
	}
	if s.pprof != nil {
		s.pprof.Close()
	}
	<-pprofDone
	stopSandboxes() // they are stored STOPPED before the store closes
	<-sandboxesDone
	s.sched.Shutdown()
	s.coord.Shutdown()
	s.run.Close()
	s.closeExec()
	if err := s.store.Close(); err != nil {
		s.log.Error("closing the store", "err", err)
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// removeWorkspaces removes the build directories under dir (not the
// helper commands in .bin).
func removeWorkspaces(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != ".bin" {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// restrictDataDir makes the data directory searchable but not readable by
// others, and everything in it but builds/ the server's alone.
func restrictDataDir(dir string) error {
	if err := os.Chmod(dir, 0o711); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == "builds" || e.Type()&os.ModeSymlink != 0 {
			continue
		}
		mode := os.FileMode(0o600)
		if e.IsDir() {
			mode = 0o700
		}
		if err := os.Chmod(filepath.Join(dir, e.Name()), mode); err != nil {
			return err
		}
	}
	return nil
}

func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}
