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
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"

	"github.com/buildbatch/buildbatch/internal/executor"
	"github.com/buildbatch/buildbatch/internal/executor/archive"
	"github.com/buildbatch/buildbatch/internal/executor/session"
	"github.com/buildbatch/buildbatch/internal/ident"
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
	if spec.ComputeType == "ATTRIBUTE_BASED_COMPUTE" && (spec.VCPUs > 0 || spec.MemoryGB > 0) {
		lim = AttributeLimits(spec.VCPUs, spec.MemoryGB, x.hostCPUs, x.hostMem)
	}
	token := strings.ReplaceAll(ident.UUID(), "-", "")
	cfg, hc := containerConfig(spec, ref, x.o.Instance, token, lim)
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
	e := &dockerEnv{x: x, spec: spec, id: res.ID, token: token, imagePath: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	for _, kv := range imageEnv {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			e.imagePath = p
		}
	}
	// Attached before it starts, so that no output is missed.
	att, err := x.cli.ContainerAttach(cctx, res.ID, client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("attaching to the build container: %w", err)
	}
	e.att = att.HijackedResponse
	pr, pw := io.Pipe()
	e.out = pr
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, e.att.Reader)
		pw.CloseWithError(err)
	}()
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
// its entrypoint replaced (as CodeBuild replaces it with its agent) by the
// boot loop, root, the compute type's limits, privileged only if asked, and
// no mounts of any host path.
func containerConfig(spec executor.Spec, ref, instance, token string, lim Limits) (*container.Config, *container.HostConfig) {
	cfg := &container.Config{
		Image:       ref,
		Entrypoint:  []string{"/bin/sh", "-c", boot(spec.Layout.Tmp, token)},
		OpenStdin:   true,
		StdinOnce:   true,
		AttachStdin: true, AttachStdout: true, AttachStderr: true,
		// The Engine creates the working directory: the source directory.
		WorkingDir: spec.Layout.Src,
		User:       "0",
		Labels: map[string]string{
			LabelBuild: spec.BuildID, LabelInstance: instance,
			LabelCompute: spec.ComputeType + " " + lim.String(),
		},
	}
	// The private directory is a tmpfs: there from the start, with no copy.
	hc := &container.HostConfig{Privileged: spec.Privileged, Tmpfs: map[string]string{spec.Layout.Tmp: "rw,exec,mode=1777"}}
	hc.Resources.Memory = lim.MemoryMB << 20
	hc.Resources.NanoCPUs = int64(lim.CPUs * 1e9)
	return cfg, hc
}

// boot is the container's main process. It reads the session's settings
// (the shell, the user, the marker token and the build's variables) and its
// driver from its standard input into its private directory, each up to an
// end line carrying the container's token, then runs the driver in the
// build's shell, again whenever a command ends that shell (reporting the
// shell's exit status as the command's, in the session's marker), until
// the driver sees the end of its input. So a build costs one container
// start, no `docker exec` and, without sources, no copy.
func boot(tmp, token string) string {
	q := func(name string) string { return session.Quote(tmp + "/" + name) }
	return `__bb_r() { : > "$1"; while IFS= read -r __bb_l; do if [ "$__bb_l" = "$2" ]; then return 0; fi; printf '%s\n' "$__bb_l" >> "$1"; done; return 1; }
__bb_r ` + q("boot.sh") + ` ` + session.Quote(bootEnd(token)) + ` || exit 0
__bb_r ` + q("driver.sh") + ` ` + session.Quote(driverEnd(token)) + ` || exit 0
. ` + q("boot.sh") + `
__bb_sp=$(command -v "$__bb_shell"); case "$__bb_sp" in /*) ;; *) __bb_sp=/bin/$__bb_shell;; esac
while :; do
  if [ -n "$__bb_user" ]; then su "$__bb_user" -s "$__bb_sp" -c ". ` + q("boot.sh") + `; . ` + q("driver.sh") + `"; else "$__bb_shell" ` + q("driver.sh") + `; fi
  __bb_rc=$?
  if [ -f ` + q("eof") + ` ]; then exit 0; fi
  printf '\036%s:%d\036\n' "$__bb_tok" "$__bb_rc"
done
`
}

func bootEnd(token string) string   { return "boot-end-" + token }
func driverEnd(token string) string { return "driver-end-" + token }

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
	session.Slot
	x         *Executor
	spec      executor.Spec
	id        string
	imagePath string // the image's PATH

	token   string                  // ends the blocks the boot loop reads
	att     client.HijackedResponse // the main process's streams
	out     *io.PipeReader          // its output, demultiplexed
	started bool                    // the boot loop was told to go

	helpersOnce sync.Once
	helpersErr  error
	closing     atomic.Bool
}

// CopyIn implements executor.Env.
func (e *dockerEnv) CopyIn(ctx context.Context, hostDir, dir string) error {
	if path.Clean(dir) == path.Clean(e.spec.Layout.Src) {
		// The source directory is the container's working directory, which
		// the Engine made: an empty source needs no copy.
		if ents, err := os.ReadDir(hostDir); err == nil && len(ents) == 0 {
			return nil
		}
	}
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
	defer os.RemoveAll(tmp)
	return os.Rename(path.Join(tmp, res.Stat.Name), hostPath)
}

// Start implements executor.Env: it copies the session's files in and
// tells the boot loop to go.
func (e *dockerEnv) Start(ctx context.Context, sh executor.Shell) error {
	if e.Closed() {
		return session.ErrClosed
	}
	shell := "sh"
	if sh.Shell == "bash" || sh.Shell == "/bin/bash" {
		shell = "bash"
	}
	vars := withPath(sh.Env, HelperDir, e.imagePath)
	s, err := session.New(session.Config{
		TmpDir: e.spec.Layout.Tmp, WorkDir: e.spec.Layout.Src, Output: sh.Output,
		Start: func(script, token string) (session.Proc, error) {
			if e.started {
				return nil, errors.New("Build container found dead before completing the build")
			}
			if _, err := e.att.Conn.Write(e.bootInput(script, token, shell, sh.User, vars)); err != nil {
				return nil, fmt.Errorf("starting the build's shell: %w", err)
			}
			e.started = true
			return &proc{e: e}, nil
		},
		ReadFile: e.readFile,
		// Not in the private tmpfs, which the archive API cannot read.
		VarsFile: path.Dir(e.spec.Layout.Src) + "/.buildbatch-vars",
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
	return e.Set(s)
}

// bootInput is what the boot loop reads: its settings (the shell, the
// user, the marker token and the build's variables, exported) and the
// driver.
func (e *dockerEnv) bootInput(driver, token, shell, user string, vars []string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "__bb_shell=%s\n__bb_user=%s\n__bb_tok=%s\n", session.Quote(shell), session.Quote(user), session.Quote(token))
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		if session.ValidName(k) {
			fmt.Fprintf(&b, "export %s=%s\n", k, session.Quote(v))
		}
	}
	b.WriteString(bootEnd(e.token) + "\n")
	b.WriteString(strings.TrimSuffix(driver, "\n") + "\n")
	b.WriteString(driverEnd(e.token) + "\n")
	return []byte(b.String())
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

// proc is the container's boot loop, as the session sees it.
type proc struct{ e *dockerEnv }

type stdin struct{ hj *client.HijackedResponse }

func (s stdin) Write(p []byte) (int, error) { return s.hj.Conn.Write(p) }
func (s stdin) Close() error                { return s.hj.CloseWrite() }

func (p *proc) Stdin() io.WriteCloser { return stdin{hj: &p.e.att} }
func (p *proc) Stdout() io.Reader     { return p.e.out }

// Wait returns the main process's exit code once its output has ended.
func (p *proc) Wait() int {
	defer p.e.att.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := p.e.x.cli.ContainerInspect(ctx, p.e.id, client.ContainerInspectOptions{})
	if err != nil || res.Container.State == nil {
		return -1
	}
	return res.Container.State.ExitCode
}

// Kill kills the container's processes (the build ends; once the
// environment is closing, removing the container does it).
func (p *proc) Kill() {
	if p.e.closing.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p.e.x.cli.ContainerKill(ctx, p.e.id, client.ContainerKillOptions{})
}

// Exec implements executor.Env.
func (e *dockerEnv) Exec(ctx context.Context, command, user string) (int, error) {
	s, err := e.Get()
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

// Close implements executor.Env: the container goes, with its anonymous
// volumes.
func (e *dockerEnv) Close() error {
	s, first := e.Take()
	if !first {
		return nil
	}
	e.closing.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Removing the container kills everything in it; the session's reader
	// then ends on its own.
	_, err := e.x.cli.ContainerRemove(ctx, e.id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if s != nil {
		s.Close()
	} else if e.att.Conn != nil {
		e.att.Close()
	}
	if cerrdefs.IsNotFound(err) {
		err = nil
	}
	return err
}
