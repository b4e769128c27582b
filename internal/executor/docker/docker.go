// Package docker runs each build in its own container through the Docker
// Engine API: the container is created from the build's image (resolved
// with Resolve, pulled when missing), with CPU and memory limits from the
// compute type, privileged only when the build asks for it, and no host
// path at all: sources go in and artifacts come out through the Engine's
// archive API. The container's entrypoint is replaced (as CodeBuild does)
// by a shell that waits on its standard input; the build's shell session
// runs as one `docker exec` at a time (see package session). Containers
// carry labels with the build id and the server instance, so that what a
// crashed server left is found and removed.
package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"

	"github.com/buildbatch/buildbatch/internal/executor"
	"github.com/buildbatch/buildbatch/internal/executor/archive"
	"github.com/buildbatch/buildbatch/internal/executor/session"
)

// Labels on every build container.
const (
	LabelBuild    = "buildbatch.build-id"
	LabelInstance = "buildbatch.instance"
	LabelCompute  = "buildbatch.compute"
)

// Options configure the executor.
type Options struct {
	// Host is the Engine's address ("" = DOCKER_HOST, else the default
	// socket).
	Host string
	// ImageMap maps image names to local images (--image-map).
	ImageMap map[string]string
	// Instance labels this server's containers.
	Instance string
	// Helpers is a statically linked buildbatch binary for Linux: when
	// set, the test-splitting commands of CodeBuild's images
	// (codebuild-tests-run, codebuild-glob-search) are copied into a
	// build's container the first time a command names them.
	Helpers string
}

// HelperDir is where the test-splitting commands go in a container; it is
// first on the PATH of builds.
const HelperDir = "/codebuild/bootstrap/bin"

// Static tells whether the file is a statically linked ELF executable (one
// that runs in any Linux container).
func Static(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return f.Type == elf.ET_EXEC || f.Type == elf.ET_DYN
}

// Executor is the Docker executor.
type Executor struct {
	o        Options
	cli      *client.Client
	host     string
	hostCPUs int
	hostMem  int64
	version  string
}

var _ executor.Executor = (*Executor)(nil)

// New connects to the Docker Engine; it fails with a clear message when the
// Engine cannot be reached.
func New(ctx context.Context, o Options) (*Executor, error) {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if o.Host != "" {
		opts = append(opts, client.WithHost(o.Host))
	}
	cli, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker executor: %w", err)
	}
	host := cli.DaemonHost()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker executor: cannot reach the Docker Engine at %s (is it running? set DOCKER_HOST to use another): %v", host, err)
	}
	info, err := cli.Info(pctx, client.InfoOptions{})
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker executor: the Docker Engine at %s did not answer: %v", host, err)
	}
	return &Executor{o: o, cli: cli, host: host, hostCPUs: info.Info.NCPU, hostMem: info.Info.MemTotal, version: info.Info.ServerVersion}, nil
}

// Close releases the client.
func (x *Executor) Close() error { return x.cli.Close() }

// Describe says which Engine the executor uses.
func (x *Executor) Describe() string {
	return fmt.Sprintf("docker (Docker Engine %s at %s, API %s, %d CPUs, %d MiB)", x.version, x.host, x.cli.ClientVersion(), x.hostCPUs, x.hostMem>>20)
}

// Client is the Engine client (for tests and tools).
func (x *Executor) Client() *client.Client { return x.cli }

// Name implements executor.Executor.
func (x *Executor) Name() string { return "docker" }

// Layout implements executor.Executor: CodeBuild's directories,
// /codebuild/output/src<digits>/src for each source.
func (x *Executor) Layout(buildID, hostDir string, secondary []string) executor.Layout {
	l := executor.Layout{Src: srcDir(buildID, ""), Tmp: "/codebuild/output/tmp", Secondary: map[string]string{}}
	for _, id := range secondary {
		l.Secondary[id] = srcDir(buildID, id)
	}
	return l
}

func srcDir(buildID, source string) string {
	h := fnv.New32a()
	h.Write([]byte(buildID + "\x00" + source))
	return fmt.Sprintf("/codebuild/output/src%09d/src", h.Sum32()%1_000_000_000)
}

// Reap implements executor.Executor: it removes the build's containers
// (and their anonymous volumes).
func (x *Executor) Reap(ctx context.Context, buildID string) error {
	res, err := x.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", LabelBuild+"="+buildID)})
	if err != nil {
		return err
	}
	for _, c := range res.Items {
		if _, err := x.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// Sweep removes every container of this instance (at start-up: none of them
// can belong to a live build).
func (x *Executor) Sweep(ctx context.Context) (int, error) {
	if x.o.Instance == "" {
		return 0, nil
	}
	res, err := x.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", LabelInstance+"="+x.o.Instance)})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range res.Items {
		if _, err := x.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err == nil {
			n++
		}
	}
	return n, nil
}

// unsupported environment types: no container of theirs runs on a Linux
// Docker Engine.
func unsupported(envType string) bool {
	return strings.HasPrefix(envType, "WINDOWS") || envType == "MAC_ARM" || strings.HasSuffix(envType, "_EC2")
}

// Open implements executor.Executor.
func (x *Executor) Open(ctx context.Context, spec executor.Spec) (executor.Env, error) {
	logf := spec.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if unsupported(spec.EnvironmentType) {
		return nil, &executor.ProvisionError{Code: "CLIENT_ERROR", Msg: fmt.Sprintf("environment type %s cannot run on the docker executor (it runs Linux containers)", spec.EnvironmentType)}
	}
	ref, id, imageEnv, err := x.image(ctx, spec.Image, spec.RegistryAuth, logf)
	if err != nil {
		return nil, err
	}
	lim := ComputeLimits(spec.EnvironmentType, spec.ComputeType, x.hostCPUs, x.hostMem)
	cfg, hc := containerConfig(spec, ref, x.o.Instance, lim)
	// The Engine goes on creating a container when the request is given
	// up, so creation is not cancelled: a stop during PROVISIONING removes
	// the container once it exists.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	res, err := x.cli.ContainerCreate(cctx, client.ContainerCreateOptions{Config: cfg, HostConfig: hc, Name: containerName(spec.BuildID)})
	if err != nil {
		x.Reap(cctx, spec.BuildID)
		return nil, fmt.Errorf("creating the build container: %w", err)
	}
	e := &dockerEnv{x: x, spec: spec, id: res.ID, imagePath: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	for _, kv := range imageEnv {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			e.imagePath = p
		}
	}
	if err := e.mkdirs(cctx); err != nil {
		e.Close()
		return nil, err
	}
	if _, err := x.cli.ContainerStart(cctx, res.ID, client.ContainerStartOptions{}); err != nil {
		e.Close()
		msg := fmt.Sprintf("Build container found dead before completing the build: it could not start from image %s: %v", spec.Image, oneLine(err))
		if spec.Privileged {
			msg += " (privileged mode: the Docker Engine must be allowed to run privileged containers)"
		}
		return nil, &executor.ProvisionError{Code: "BUILD_CONTAINER_UNABLE_TO_START", Msg: msg}
	}
	if err := ctx.Err(); err != nil {
		e.Close()
		return nil, err
	}
	shown := spec.Image
	if ref != spec.Image {
		shown += " (" + ref + ")"
	}
	logf("Running on buildbatch (docker executor) in container %.12s of image %s, %s", res.ID, shown, id)
	logf("Compute %s: %s", spec.ComputeType, lim)
	if spec.Privileged {
		logf("Privileged mode: on")
	}
	return e, nil
}

// containerConfig is the build container's configuration: the image with
// its entrypoint replaced by a shell that waits on its standard input (as
// CodeBuild replaces it with its agent), root, the compute type's limits,
// privileged only if asked, and no mounts of any host path.
func containerConfig(spec executor.Spec, ref, instance string, lim Limits) (*container.Config, *container.HostConfig) {
	cfg := &container.Config{
		Image:      ref,
		Entrypoint: []string{"/bin/sh", "-c", "read _; exit 0"},
		OpenStdin:  true,
		WorkingDir: spec.Layout.Src,
		User:       "0",
		Labels: map[string]string{
			LabelBuild: spec.BuildID, LabelInstance: instance,
			LabelCompute: spec.ComputeType + " " + lim.String(),
		},
	}
	hc := &container.HostConfig{Privileged: spec.Privileged}
	hc.Resources.Memory = lim.MemoryMB << 20
	hc.Resources.NanoCPUs = int64(lim.CPUs * 1e9)
	return cfg, hc
}

func containerName(buildID string) string {
	_, uuid, _ := strings.Cut(buildID, ":")
	if uuid == "" {
		uuid = buildID
	}
	return "buildbatch-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '-'
	}, uuid)
}

// image finds the build's image locally or pulls it; it returns the local
// reference, the image id and the image's environment.
func (x *Executor) image(ctx context.Context, name string, auth *executor.RegistryAuth, logf func(string, ...any)) (string, string, []string, error) {
	r := Resolve(name, x.o.ImageMap)
	for _, c := range r.Candidates {
		if res, err := x.cli.ImageInspect(ctx, c); err == nil {
			return c, res.ID, imageEnv(res), nil
		}
	}
	if r.Pull == "" {
		return "", "", nil, executor.ImageError("Unable to pull customer's container image. %s is not on this machine: %s", name, r.Hint)
	}
	logf("Pulling image %s", r.Pull)
	opts := client.ImagePullOptions{}
	if auth != nil {
		buf, _ := json.Marshal(registry.AuthConfig{Username: auth.Username, Password: auth.Password, ServerAddress: auth.Server})
		opts.RegistryAuth = base64.URLEncoding.EncodeToString(buf)
	}
	resp, err := x.cli.ImagePull(ctx, r.Pull, opts)
	if err == nil {
		err = resp.Wait(ctx)
		resp.Close()
	}
	if err != nil {
		if ctx.Err() != nil {
			return "", "", nil, ctx.Err()
		}
		return "", "", nil, executor.ImageError("Unable to pull customer's container image. CannotPullContainerError: %v. %s is not on this machine: %s", oneLine(err), name, r.Hint)
	}
	res, err := x.cli.ImageInspect(ctx, r.Pull)
	if err != nil {
		return "", "", nil, executor.ImageError("Unable to pull customer's container image %s: %v", r.Pull, oneLine(err))
	}
	return r.Pull, res.ID, imageEnv(res), nil
}

func imageEnv(res client.ImageInspectResult) []string {
	if res.Config == nil {
		return nil
	}
	return res.Config.Env
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// env is one build's container.
type dockerEnv struct {
	x         *Executor
	spec      executor.Spec
	id        string
	imagePath string // the image's PATH

	helpersOnce sync.Once
	helpersErr  error

	mu     sync.Mutex
	sess   *session.Session
	closed bool
}

// mkdirs creates the layout's directories in the (created) container.
func (e *dockerEnv) mkdirs(ctx context.Context) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	seen := map[string]bool{}
	dirs := []string{e.spec.Layout.Src, e.spec.Layout.Tmp}
	for _, d := range e.spec.Layout.Secondary {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		parts := strings.Split(strings.Trim(d, "/"), "/")
		for i := range parts {
			p := strings.Join(parts[:i+1], "/")
			if !seen[p] {
				seen[p] = true
				tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: p + "/", Mode: 0o755, ModTime: time.Now()})
			}
		}
	}
	tw.Close()
	_, err := e.x.cli.CopyToContainer(ctx, e.id, client.CopyToContainerOptions{DestinationPath: "/", Content: &buf})
	return err
}

// CopyIn implements executor.Env.
func (e *dockerEnv) CopyIn(ctx context.Context, hostDir, dir string) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.Pack(pw, hostDir, strings.TrimPrefix(path.Clean(dir), "/"))) }()
	_, err := e.x.cli.CopyToContainer(ctx, e.id, client.CopyToContainerOptions{DestinationPath: "/", Content: pr, AllowOverwriteDirWithFile: true})
	pr.CloseWithError(errors.New("copy ended"))
	return err
}

// CopyOut implements executor.Env.
func (e *dockerEnv) CopyOut(ctx context.Context, p, hostPath string) error {
	res, err := e.x.cli.CopyFromContainer(ctx, e.id, client.CopyFromContainerOptions{SourcePath: p})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return fmt.Errorf("%s: %w", p, fs.ErrNotExist)
		}
		return err
	}
	defer res.Content.Close()
	if res.Stat.Mode.IsDir() {
		return archive.Unpack(res.Content, hostPath, 1)
	}
	// A file: the archive holds it under its base name.
	dir, base := path.Split(hostPath)
	tmp := dir + ".bb-copy-" + base
	if err := archive.Unpack(res.Content, tmp, 0); err != nil {
		return err
	}
	defer removeAll(tmp)
	return rename(path.Join(tmp, res.Stat.Name), hostPath)
}

// Start implements executor.Env.
func (e *dockerEnv) Start(ctx context.Context, sh executor.Shell) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return session.ErrClosed
	}
	shell := "sh"
	if sh.Shell == "bash" || sh.Shell == "/bin/bash" {
		shell = "bash"
	}
	vars := withPath(sh.Env, HelperDir, e.imagePath)
	s, err := session.New(session.Config{
		TmpDir: e.spec.Layout.Tmp, WorkDir: e.spec.Layout.Src, Output: sh.Output,
		Start: func(script string) (session.Proc, error) {
			return e.startProc([]string{shell, "-c", script}, vars, sh.User)
		},
		ReadFile: e.readFile,
		AsUser: func(command, u string) string {
			if u == sh.User {
				return command
			}
			return "su " + session.Quote(u) + " -s /bin/sh -c " + session.Quote(command)
		},
	})
	if err != nil {
		return err
	}
	e.sess = s
	return nil
}

func (e *dockerEnv) readFile(ctx context.Context, p string) ([]byte, error) {
	res, err := e.x.cli.CopyFromContainer(ctx, e.id, client.CopyFromContainerOptions{SourcePath: p})
	if err != nil {
		return nil, err
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	if _, err := tr.Next(); err != nil {
		return nil, err
	}
	return io.ReadAll(tr)
}

// proc is one `docker exec` of a shell, attached.
type proc struct {
	e      *dockerEnv
	execID string
	hj     client.HijackedResponse
	out    *io.PipeReader
	stdin  stdin
}

type stdin struct{ hj *client.HijackedResponse }

func (s stdin) Write(p []byte) (int, error) { return s.hj.Conn.Write(p) }
func (s stdin) Close() error                { return s.hj.CloseWrite() }

func (e *dockerEnv) startProc(cmd, vars []string, user string) (*proc, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ex, err := e.x.cli.ExecCreate(ctx, e.id, client.ExecCreateOptions{
		Cmd: cmd, Env: vars, User: user, WorkingDir: e.spec.Layout.Src,
		AttachStdin: true, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the build's shell in its container: %w", err)
	}
	att, err := e.x.cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return nil, fmt.Errorf("attaching to the build's shell: %w", err)
	}
	pr, pw := io.Pipe()
	p := &proc{e: e, execID: ex.ID, hj: att.HijackedResponse, out: pr}
	p.stdin = stdin{hj: &p.hj}
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, p.hj.Reader)
		pw.CloseWithError(err)
	}()
	return p, nil
}

func (p *proc) Stdin() io.WriteCloser { return p.stdin }
func (p *proc) Stdout() io.Reader     { return p.out }

// Wait reads the exec's exit code once its output has ended.
func (p *proc) Wait() int {
	defer p.hj.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		res, err := p.e.x.cli.ExecInspect(ctx, p.execID, client.ExecInspectOptions{})
		if err != nil {
			return -1
		}
		if !res.Running {
			return res.ExitCode
		}
		select {
		case <-ctx.Done():
			return -1
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Kill ends every process of the container but its keep-alive shell (the
// build may go on with a new shell), or the container itself if that fails.
func (p *proc) Kill() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := p.e.run(ctx, []string{"/bin/sh", "-c", "kill -KILL -1"}, "0")
	if err != nil {
		p.e.x.cli.ContainerKill(ctx, p.e.id, client.ContainerKillOptions{})
	}
	p.hj.Close()
}

// run runs a command in the container, detached, and waits for it.
func (e *dockerEnv) run(ctx context.Context, cmd []string, user string) error {
	ex, err := e.x.cli.ExecCreate(ctx, e.id, client.ExecCreateOptions{Cmd: cmd, User: user})
	if err != nil {
		return err
	}
	if _, err := e.x.cli.ExecStart(ctx, ex.ID, client.ExecStartOptions{Detach: true}); err != nil {
		return err
	}
	for {
		res, err := e.x.cli.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
		if err != nil {
			return err
		}
		if !res.Running {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (e *dockerEnv) session() (*session.Session, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, session.ErrClosed
	}
	if e.sess == nil {
		return nil, executor.ErrNotStarted
	}
	return e.sess, nil
}

// Exec implements executor.Env.
func (e *dockerEnv) Exec(ctx context.Context, command, user string) (int, error) {
	s, err := e.session()
	if err != nil {
		return -1, err
	}
	if e.x.o.Helpers != "" && (strings.Contains(command, "codebuild-tests-run") || strings.Contains(command, "codebuild-glob-search")) {
		e.helpersOnce.Do(func() { e.helpersErr = e.copyHelpers(ctx) })
		if e.helpersErr != nil {
			return -1, fmt.Errorf("copying codebuild-tests-run into the container: %w", e.helpersErr)
		}
	}
	return s.Exec(ctx, command, user)
}

// withPath puts dir first on the PATH of vars (the build's own PATH, else
// the image's).
func withPath(vars []string, dir, imagePath string) []string {
	out := append([]string(nil), vars...)
	for i, kv := range out {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			out[i] = "PATH=" + dir + ":" + p
			return out
		}
	}
	return append(out, "PATH="+dir+":"+imagePath)
}

// copyHelpers puts the buildbatch binary and the test-splitting commands
// in HelperDir.
func (e *dockerEnv) copyHelpers(ctx context.Context) error {
	f, err := os.Open(e.x.o.Helpers)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		dir := strings.TrimPrefix(HelperDir, "/")
		now := time.Now()
		err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: dir + "/buildbatch", Mode: 0o755, Size: info.Size(), ModTime: now})
		if err == nil {
			_, err = io.Copy(tw, f)
		}
		for _, name := range []string{"codebuild-tests-run", "codebuild-glob-search"} {
			script := "#!/bin/sh\nexec " + HelperDir + "/buildbatch " + name + " \"$@\"\n"
			if err == nil {
				err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: dir + "/" + name, Mode: 0o755, Size: int64(len(script)), ModTime: now})
			}
			if err == nil {
				_, err = tw.Write([]byte(script))
			}
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	_, err = e.x.cli.CopyToContainer(ctx, e.id, client.CopyToContainerOptions{DestinationPath: "/", Content: pr})
	pr.CloseWithError(errors.New("copy ended"))
	return err
}

// Vars implements executor.Env.
func (e *dockerEnv) Vars(ctx context.Context, names []string) (map[string]string, error) {
	s, err := e.session()
	if err != nil {
		return nil, err
	}
	return s.Vars(ctx, names)
}

// Close implements executor.Env: the container goes, with its anonymous
// volumes.
func (e *dockerEnv) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	s := e.sess
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Removing the container kills everything in it; the session's reader
	// then ends on its own.
	_, err := e.x.cli.ContainerRemove(ctx, e.id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if s != nil {
		s.Close()
	}
	if cerrdefs.IsNotFound(err) {
		err = nil
	}
	return err
}
