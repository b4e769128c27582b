package cli

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/buildbatch/buildbatch/internal/api"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/config"
	"github.com/buildbatch/buildbatch/internal/server"
)

// runOptions are the flags of `buildbatch run`.
type runOptions struct {
	buildspec   string   // -b: a buildspec file ("" = buildspec.yml of the source)
	source      string   // --source: a git URL or local repository ("" = the working tree)
	secondary   []string // --secondary-source ID=DIR|URL
	batch       bool
	env         []string // --env K=V, in order
	envFiles    []string // --env-file FILE
	image       string
	executor    string
	imageMap    []string
	secretsFile string
	artifacts   string
	verbose     bool
}

// envVar is one project environment variable.
type envVar struct{ name, value string }

// secondarySource is one --secondary-source.
type secondarySource struct{ id, loc string }

// multiFlag collects a repeatable flag.
type multiFlag struct{ p *[]string }

func (m multiFlag) String() string {
	if m.p == nil {
		return ""
	}
	return strings.Join(*m.p, ",")
}

func (m multiFlag) Set(v string) error { *m.p = append(*m.p, v); return nil }

// parseRunFlags parses the command line of run; code is 2 on a usage error
// (said on stderr), 0 for -h, -1 to go on.
func parseRunFlags(args []string, stderr io.Writer) (runOptions, int) {
	o := runOptions{image: "aws/codebuild/standard:7.0", executor: "local", artifacts: "artifacts"}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.buildspec, "b", "", "the buildspec file (default: buildspec.yml of the source)")
	fs.StringVar(&o.buildspec, "buildspec", "", "the buildspec file (default: buildspec.yml of the source)")
	fs.StringVar(&o.source, "source", "", "build this git URL or local git repository (its committed HEAD) instead of the working tree of the current directory")
	fs.Var(multiFlag{&o.secondary}, "secondary-source", "ID=DIR (a working tree, as it is) or ID=URL (git): a secondary source (repeatable)")
	fs.BoolVar(&o.batch, "batch", false, "run the buildspec's batch section (a build batch) instead of a single build")
	fs.Var(multiFlag{&o.env}, "env", "K=V: an environment variable of the build (repeatable; over --env-file)")
	fs.Var(multiFlag{&o.envFiles}, "env-file", "a file of K=V lines (# comments) of environment variables (repeatable)")
	fs.StringVar(&o.image, "image", o.image, "environment.image of the build")
	fs.StringVar(&o.executor, "executor", o.executor, "where builds run: local (processes on this machine) or docker (a container of the image)")
	fs.Var(multiFlag{&o.imageMap}, "image-map", "NAME=LOCALNAME: run builds naming image NAME in the local image LOCALNAME (docker; repeatable)")
	fs.StringVar(&o.secretsFile, "secrets-file", "", "JSON file with the Parameter Store and Secrets Manager values the build refers to (see serve)")
	fs.StringVar(&o.artifacts, "artifacts", o.artifacts, "directory the build's artifact files are copied to (a batch: DIR/<identifier>/)")
	fs.BoolVar(&o.verbose, "verbose", false, "show the embedded server's own log on stderr")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: buildbatch run [flags]")
		fmt.Fprintln(stderr, "Runs buildspec.yml (or -b FILE) on the current directory as it is, uncommitted changes included,")
		fmt.Fprintln(stderr, "in an embedded server that lives as long as the command. Exits 0 only if the build (or batch) succeeded.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, 0
		}
		return o, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "buildbatch run: unexpected argument %q\n", fs.Arg(0))
		return o, 2
	}
	if o.executor != "local" && o.executor != "docker" {
		fmt.Fprintf(stderr, "buildbatch run: --executor %q: want local or docker\n", o.executor)
		return o, 2
	}
	if o.artifacts == "" {
		fmt.Fprintln(stderr, "buildbatch run: --artifacts must not be empty")
		return o, 2
	}
	return o, -1
}

// envLine splits a K=V setting.
func envLine(s string) (envVar, error) {
	k, v, ok := strings.Cut(s, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" || strings.ContainsAny(k, " \t") {
		return envVar{}, fmt.Errorf("%q: want NAME=VALUE", s)
	}
	return envVar{k, v}, nil
}

// parseEnvFile reads K=V lines: blank lines and lines starting with # are
// skipped, an "export " before the name is allowed, and a value wholly in
// single or double quotes loses them.
func parseEnvFile(data []byte) ([]envVar, error) {
	var vars []envVar
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(strings.TrimSuffix(sc.Text(), "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		v, err := envLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		v.value = strings.TrimSpace(v.value)
		if len(v.value) >= 2 && (v.value[0] == '"' || v.value[0] == '\'') && v.value[len(v.value)-1] == v.value[0] {
			v.value = v.value[1 : len(v.value)-1]
		}
		vars = append(vars, v)
	}
	return vars, sc.Err()
}

// environment gathers --env-file and --env, later settings of a name
// replacing earlier ones (in place).
func (o runOptions) environment(readFile func(string) ([]byte, error)) ([]envVar, error) {
	var all []envVar
	for _, f := range o.envFiles {
		data, err := readFile(f)
		if err != nil {
			return nil, fmt.Errorf("--env-file: %v", err)
		}
		vars, err := parseEnvFile(data)
		if err != nil {
			return nil, fmt.Errorf("--env-file %s: %v", f, err)
		}
		all = append(all, vars...)
	}
	for _, e := range o.env {
		v, err := envLine(e)
		if err != nil {
			return nil, fmt.Errorf("--env %v", err)
		}
		all = append(all, v)
	}
	var out []envVar
	at := map[string]int{}
	for _, v := range all {
		if i, ok := at[v.name]; ok {
			out[i] = v
			continue
		}
		at[v.name] = len(out)
		out = append(out, v)
	}
	return out, nil
}

// secondarySources parses --secondary-source.
func (o runOptions) secondarySources() ([]secondarySource, error) {
	var out []secondarySource
	seen := map[string]bool{}
	for _, s := range o.secondary {
		id, loc, ok := strings.Cut(s, "=")
		if !ok || id == "" || loc == "" {
			return nil, fmt.Errorf("--secondary-source %q: want ID=DIR or ID=URL", s)
		}
		if seen[id] {
			return nil, fmt.Errorf("--secondary-source %q: identifier %s given twice", s, id)
		}
		seen[id] = true
		out = append(out, secondarySource{id, loc})
	}
	return out, nil
}

// isGitURL tells a git URL (or scp-like address) from a directory.
func isGitURL(s string) bool {
	return strings.Contains(s, "://") || (strings.Contains(s, "@") && strings.Contains(s, ":"))
}

var artifactsKey = regexp.MustCompile(`(?m)^artifacts[ \t]*:`)

// hasArtifacts tells whether a buildspec has a top-level artifacts section.
func hasArtifacts(spec []byte) bool { return artifactsKey.Match(spec) }

// within tells whether path p is dir or under it (both absolute, clean).
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+string(filepath.Separator))
}

// zipTree writes dir as a zip (stored, not compressed: it only crosses
// this machine) to w, leaving out the paths in skip (absolute). Symlinks
// are kept as links; files other than regular ones are left out.
func zipTree(ctx context.Context, dir string, skip []string, w io.Writer) error {
	zw := zip.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		for _, s := range skip {
			if p == s {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		h.Method = zip.Store
		switch {
		case d.IsDir():
			h.Name += "/"
			_, err := zw.CreateHeader(h)
			return err
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fw, err := zw.CreateHeader(h)
			if err != nil {
				return err
			}
			_, err = io.WriteString(fw, target)
			return err
		case !info.Mode().IsRegular():
			return nil
		}
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(fw, f)
		return err
	})
	if err != nil {
		return err
	}
	return zw.Close()
}

var nameUnsafe = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// projectName names the project after the directory it builds.
func projectName(dir string) string {
	n := strings.Trim(nameUnsafe.ReplaceAllString(filepath.Base(dir), "-"), "-_")
	if len(n) < 2 {
		return "local"
	}
	return n[:min(len(n), 100)]
}

const (
	runSourcesBucket   = "buildbatch-run-sources"
	runArtifactsBucket = "buildbatch-run-artifacts"
)

// console writes whole lines to the terminal, one goroutine at a time.
type console struct {
	mu  sync.Mutex
	w   io.Writer
	tty bool
}

func (c *console) line(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	io.WriteString(c.w, s+"\n")
}

// status writes a status line: "[name] text", highlighted on a terminal
// (green for SUCCEEDED, red for other ends).
func (c *console) status(name, text string, final bool) {
	s := "[" + name + "] " + text
	if c.tty {
		color := "1" // bold
		if final {
			color = "1;31"
			if strings.HasPrefix(text, cb.StatusTypeSucceeded) {
				color = "1;32"
			}
		}
		s = "\x1b[" + color + "m" + s + "\x1b[0m"
	}
	c.line(s)
}

// lineSplitter turns pieces of a log into whole lines.
type lineSplitter struct{ partial string }

func (l *lineSplitter) lines(text string) []string {
	text = l.partial + text
	i := strings.LastIndexByte(text, '\n')
	if i < 0 {
		l.partial = text
		return nil
	}
	l.partial = text[i+1:]
	return strings.Split(text[:i], "\n")
}

func (l *lineSplitter) rest() []string {
	if l.partial == "" {
		return nil
	}
	s := l.partial
	l.partial = ""
	return []string{s}
}

// enteringPhase is the phase a "[Container] ... Entering phase X" log line
// starts, else "".
func enteringPhase(line string) string {
	if !strings.HasPrefix(line, "[Container] ") {
		return ""
	}
	_, after, ok := strings.Cut(line, "Entering phase ")
	if !ok {
		return ""
	}
	return strings.TrimSpace(after)
}

// follower prints one build's progress and output.
type follower struct {
	c      *client
	con    *console
	name   string // shown in status lines
	prefix string // before each output line
}

func (f *follower) out(line string) { f.con.line(f.prefix + line) }

// follow prints the build's phases as they start, its output and its end,
// and returns the build as it ended.
func (f *follower) follow(ctx context.Context, id string) (*cb.Build, error) {
	shown := map[string]bool{cb.BuildPhaseTypeCompleted: true}
	var split lineSplitter
	in := api.GetBuildLogInput{ID: id, WaitSeconds: 1}
	for {
		b, err := f.c.getBuild(ctx, id)
		if err != nil {
			return nil, err
		}
		if b == nil { // not readable yet
			if err := sleep(ctx, poll); err != nil {
				return nil, err
			}
			continue
		}
		if !cb.Deref(b.BuildComplete) {
			for _, p := range b.Phases {
				if t := cb.Deref(p.PhaseType); !shown[t] {
					shown[t] = true
					f.con.status(f.name, t, false)
				}
			}
		}
		start := time.Now()
		var out api.GetBuildLogOutput
		if err := f.c.call(ctx, api.GetBuildLogTarget, in, &out); err != nil {
			return nil, err
		}
		in.Offset = out.NextOffset
		for _, line := range split.lines(out.Text) {
			if t := enteringPhase(line); t != "" && !shown[t] {
				shown[t] = true
				f.con.status(f.name, t, false)
			}
			f.out(line)
		}
		if out.Complete {
			for _, line := range split.rest() {
				f.out(line)
			}
			b, err := f.c.getBuild(ctx, id)
			if err != nil {
				return nil, err
			}
			if b == nil {
				return nil, fmt.Errorf("no build %s", id)
			}
			f.con.status(f.name, endLine(cb.Deref(b.BuildStatus), b.StartTime, b.EndTime, failure(b)), true)
			return b, nil
		}
		if out.Text == "" && time.Since(start) < 100*time.Millisecond {
			// No log yet (queued): the server answered at once.
			if err := sleep(ctx, poll); err != nil {
				return nil, err
			}
		}
	}
}

// failure is what the first phase that did not succeed says.
func failure(b *cb.Build) string {
	var phases []phaseOutcome
	for _, p := range b.Phases {
		phases = append(phases, phaseOutcome{p.PhaseType, p.PhaseStatus, p.Contexts})
	}
	return firstFailure(phases)
}

// endLine is "STATUS in 1.2s (why)".
func endLine(status string, start, end *cb.Time, why string) string {
	s := status
	if d := span(start, end); d != "-" {
		s += " in " + d
	}
	if why != "" && status != cb.StatusTypeSucceeded {
		s += " (" + why + ")"
	}
	return s
}

func span(start, end *cb.Time) string {
	if start == nil || end == nil {
		return "-"
	}
	return formatDuration(end.Sub(start.Time))
}

// runRow is one line of the closing table.
type runRow struct{ identifier, status, duration, artifacts string }

func renderRunTable(w io.Writer, rows []runRow) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IDENTIFIER\tSTATUS\tDURATION\tARTIFACTS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.identifier, r.status, r.duration, r.artifacts)
	}
	tw.Flush()
}

// runSession is one `buildbatch run`: the embedded server and what the
// command put into it.
type runSession struct {
	o       runOptions
	c       *client
	con     *console
	stderr  io.Writer
	dataDir string
	project string
}

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code := parseRunFlags(args, stderr)
	if code >= 0 {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "buildbatch run: "+format+"\n", a...)
		return 2
	}
	vars, err := o.environment(os.ReadFile)
	if err != nil {
		return usageErr("%v", err)
	}
	secondary, err := o.secondarySources()
	if err != nil {
		return usageErr("%v", err)
	}
	wd, err := os.Getwd()
	if err != nil {
		return usageErr("%v", err)
	}
	artifactsDir, _ := filepath.Abs(o.artifacts)

	// Where the source is, and the buildspec.
	srcDir := wd // the working tree zipped, unless --source
	gitLoc := ""
	if o.source != "" {
		if isGitURL(o.source) {
			gitLoc, srcDir = o.source, ""
		} else {
			abs, _ := filepath.Abs(o.source)
			if st, err := os.Stat(abs); err != nil || !st.IsDir() {
				return usageErr("--source %s: not a git URL nor a directory", o.source)
			}
			gitLoc, srcDir = abs, abs
		}
	}
	var specData []byte // the buildspec's text, if known
	specField := ""     // the project's source.buildspec
	if o.buildspec != "" {
		abs, _ := filepath.Abs(o.buildspec)
		specData, err = os.ReadFile(abs)
		if err != nil {
			return usageErr("-b: %v", err)
		}
		if srcDir != "" && within(abs, srcDir) && abs != srcDir {
			rel, _ := filepath.Rel(srcDir, abs)
			specField = filepath.ToSlash(rel)
			if gitLoc != "" { // what the build reads is the committed file
				if data, err := gitShow(ctx, srcDir, specField); err == nil {
					specData = data
				}
			}
		} else {
			specField = string(specData)
			if !strings.Contains(specField, "\n") {
				specField += "\n" // inline, not a file name
			}
		}
	} else {
		switch {
		case gitLoc == "":
			specData, err = os.ReadFile(filepath.Join(srcDir, "buildspec.yml"))
			if err != nil {
				return usageErr("no buildspec.yml in %s (give one with -b FILE)", srcDir)
			}
		case srcDir != "":
			specData, _ = gitShow(ctx, srcDir, "buildspec.yml")
		}
	}
	withArtifacts := hasArtifacts(specData)

	tmp, err := os.MkdirTemp("", "buildbatch-run-*")
	if err != nil {
		fmt.Fprintf(stderr, "buildbatch run: %v\n", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	tmp, _ = filepath.Abs(tmp) // a relative TMPDIR
	fail := func(err error) int {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "buildbatch run: interrupted")
			return 130
		}
		fmt.Fprintf(stderr, "buildbatch run: %v\n", err)
		return 1
	}

	// The embedded server, on its own context: on Ctrl-C the builds are
	// stopped through the API before it goes.
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(tmp, "data")
	cfg.Executor = o.executor
	cfg.ImageMap = o.imageMap
	cfg.SecretsFile = o.secretsFile
	cfg.MinFreeDisk = 64 << 20
	cfg.ShutdownGrace = 2 * time.Second
	logOut := io.Writer(stderr)
	if !o.verbose {
		lf, err := os.Create(filepath.Join(tmp, "server.log"))
		if err != nil {
			return fail(err)
		}
		defer lf.Close()
		logOut = lf
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))
	srvCtx, srvStop := context.WithCancel(context.WithoutCancel(ctx))
	defer srvStop()
	srv, err := server.New(srvCtx, cfg, log)
	if err != nil {
		return fail(fmt.Errorf("cannot start the embedded server: %v", err))
	}
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Run(srvCtx) }()
	defer func() {
		srvStop()
		<-srvDone
	}()
	if o.verbose {
		fmt.Fprintf(stderr, "buildbatch run: embedded server on http://%s, data in %s, executor %s\n", srv.Addr(), cfg.DataDir, srv.ExecutorInfo())
	}
	s := &runSession{
		o: o, stderr: stderr, dataDir: cfg.DataDir,
		c:       newClient(settings{endpoint: "http://" + srv.Addr(), region: "us-east-1", key: "buildbatch-run", secret: "buildbatch-run"}),
		con:     &console{w: stdout, tty: isTerminal(stdout)},
		project: projectName(firstNonEmpty(srcDir, wd)),
	}

	// The project.
	in := cb.CreateProjectInput{
		Name:        cb.String(s.project),
		ServiceRole: cb.String("arn:aws:iam::000000000000:role/buildbatch-run"),
		Environment: &cb.ProjectEnvironment{
			Type:        cb.String(cb.EnvironmentTypeLinuxContainer),
			Image:       cb.String(o.image),
			ComputeType: cb.String(cb.ComputeTypeBuildGeneral1Small),
		},
		Artifacts: &cb.ProjectArtifacts{Type: cb.String(cb.ArtifactsTypeNoArtifacts)},
		BuildBatchConfig: &cb.ProjectBuildBatchConfig{
			ServiceRole: cb.String("arn:aws:iam::000000000000:role/buildbatch-run-batch"),
		},
	}
	for _, v := range vars {
		in.Environment.EnvironmentVariables = append(in.Environment.EnvironmentVariables,
			cb.EnvironmentVariable{Name: cb.String(v.name), Value: cb.String(v.value), Type: cb.String(cb.EnvironmentVariableTypePlaintext)})
	}
	if withArtifacts {
		in.Artifacts = &cb.ProjectArtifacts{Type: cb.String(cb.ArtifactsTypeS3), Location: cb.String(runArtifactsBucket),
			NamespaceType: cb.String(cb.ArtifactNamespaceBuildId), Packaging: cb.String(cb.ArtifactPackagingNone), Name: cb.String("/")}
	}
	if gitLoc != "" {
		in.Source = &cb.ProjectSource{Type: cb.String(cb.SourceTypeGithub), Location: cb.String(gitLoc)}
	} else {
		loc, err := s.upload(ctx, "primary", srcDir, artifactsDir)
		if err != nil {
			return fail(fmt.Errorf("packing %s: %v", srcDir, err))
		}
		in.Source = &cb.ProjectSource{Type: cb.String(cb.SourceTypeS3), Location: cb.String(loc)}
	}
	if specField != "" {
		in.Source.Buildspec = cb.String(specField)
	}
	for _, sec := range secondary {
		ps := cb.ProjectSource{SourceIdentifier: cb.String(sec.id)}
		if isGitURL(sec.loc) {
			ps.Type, ps.Location = cb.String(cb.SourceTypeGithub), cb.String(sec.loc)
		} else {
			dir, _ := filepath.Abs(sec.loc)
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return usageErr("--secondary-source %s=%s: not a git URL nor a directory", sec.id, sec.loc)
			}
			loc, err := s.upload(ctx, "secondary-"+sec.id, dir, artifactsDir)
			if err != nil {
				return fail(fmt.Errorf("packing %s: %v", dir, err))
			}
			ps.Type, ps.Location = cb.String(cb.SourceTypeS3), cb.String(loc)
		}
		in.SecondarySources = append(in.SecondarySources, ps)
	}
	var created cb.CreateProjectOutput
	if err := s.c.call(ctx, cb.TargetPrefix+".CreateProject", in, &created); err != nil {
		return fail(fmt.Errorf("creating the project: %v", err))
	}
	if o.batch {
		return s.runBatch(ctx, withArtifacts, artifactsDir, fail)
	}
	return s.runBuild(ctx, withArtifacts, artifactsDir, fail)
}

// gitShow reads a file of a repository's HEAD.
func gitShow(ctx context.Context, repo, file string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", "-C", repo, "show", "HEAD:"+file)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd.Output()
}

// upload zips dir into a temporary file and puts it in the embedded
// server's artifact store through its S3 API; it returns the S3 location
// of the zip.
func (s *runSession) upload(ctx context.Context, name, dir, artifactsDir string) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(s.dataDir), name+"-*.zip")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	// Not the artifacts directory, nor this command's own temporary
	// directory (with TMPDIR inside the source).
	var skip []string
	for _, p := range []string{artifactsDir, filepath.Dir(s.dataDir)} {
		if within(p, dir) && p != dir {
			skip = append(skip, p)
		}
	}
	if err := zipTree(ctx, dir, skip, f); err != nil {
		return "", err
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	if err := s.c.s3CreateBucket(ctx, runSourcesBucket); err != nil {
		return "", err
	}
	key := name + ".zip"
	if err := s.c.s3Put(ctx, runSourcesBucket, key, f, size); err != nil {
		return "", err
	}
	return runSourcesBucket + "/" + key, nil
}

// fetchArtifacts downloads a build's artifact files (a folder artifact)
// to dst through the embedded server's S3 API and returns dst, or "-" if
// it has none.
func (s *runSession) fetchArtifacts(ctx context.Context, b *cb.Build, dst string) (string, error) {
	if b == nil || b.Artifacts == nil || !strings.HasPrefix(cb.Deref(b.Artifacts.Location), "arn:aws:s3:::") {
		return "-", nil
	}
	bucket, prefix := splitS3(cb.Deref(b.Artifacts.Location))
	keys, err := s.c.s3List(ctx, bucket, prefix+"/")
	if err != nil || len(keys) == 0 {
		return "-", err
	}
	for _, k := range keys {
		rel := strings.TrimPrefix(k, prefix+"/")
		target := filepath.Join(dst, filepath.FromSlash(rel))
		if !within(target, dst) {
			return "", fmt.Errorf("artifact %s is outside %s", k, dst)
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return "", err
		}
		rc, err := s.c.s3Get(ctx, bucket, k)
		if err != nil {
			return "", err
		}
		out, err := os.Create(target)
		if err == nil {
			_, err = io.Copy(out, rc)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
		}
		rc.Close()
		if err != nil {
			return "", err
		}
	}
	if rel, err := filepath.Rel(mustGetwd(), dst); err == nil && !strings.HasPrefix(rel, "..") {
		return rel, nil
	}
	return dst, nil
}

func mustGetwd() string {
	wd, _ := os.Getwd()
	return wd
}

// stopAfterInterrupt stops a build or batch (Ctrl-C) through the API; the
// server then ends what remains when it shuts down.
func (s *runSession) stopAfterInterrupt(target, field, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out map[string]any
	s.c.call(ctx, cb.TargetPrefix+"."+target, map[string]string{field: id}, &out)
}

func (s *runSession) runBuild(ctx context.Context, withArtifacts bool, artifactsDir string, fail func(error) int) int {
	var started cb.StartBuildOutput
	if err := s.c.call(ctx, cb.TargetPrefix+".StartBuild", cb.StartBuildInput{ProjectName: cb.String(s.project)}, &started); err != nil {
		return fail(fmt.Errorf("starting the build: %v", err))
	}
	id := cb.Deref(started.Build.Id)
	f := &follower{c: s.c, con: s.con, name: "build"}
	b, err := f.follow(ctx, id)
	if err != nil {
		if ctx.Err() != nil {
			s.stopAfterInterrupt("StopBuild", "id", id)
		}
		return fail(err)
	}
	row := runRow{identifier: "build", status: cb.Deref(b.BuildStatus), duration: span(b.StartTime, b.EndTime), artifacts: "-"}
	if withArtifacts {
		if row.artifacts, err = s.fetchArtifacts(ctx, b, artifactsDir); err != nil {
			return fail(fmt.Errorf("copying the artifacts: %v", err))
		}
	}
	s.con.line("")
	s.con.mu.Lock()
	renderRunTable(s.con.w, []runRow{row})
	s.con.mu.Unlock()
	if row.status != cb.StatusTypeSucceeded {
		return 1
	}
	return 0
}

func (s *runSession) runBatch(ctx context.Context, withArtifacts bool, artifactsDir string, fail func(error) int) int {
	var started cb.StartBuildBatchOutput
	if err := s.c.call(ctx, cb.TargetPrefix+".StartBuildBatch", cb.StartBuildBatchInput{ProjectName: cb.String(s.project)}, &started); err != nil {
		return fail(fmt.Errorf("starting the batch: %v", err))
	}
	id := cb.Deref(started.BuildBatch.Id)

	// One follower per member build, each stopped (fctx) and waited for
	// before this returns.
	fctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	var mu sync.Mutex
	builds := map[string]*cb.Build{} // identifier → the build as it ended
	var followErr error
	following := map[string]bool{}
	shown := map[string]bool{}
	terminal := map[string]bool{cb.StatusTypeSucceeded: true, cb.StatusTypeFailed: true, cb.StatusTypeStopped: true,
		cb.StatusTypeFault: true, cb.StatusTypeTimedOut: true}
	// The batch's phases, as they start; COMBINE_ARTIFACTS once the
	// members' lines are out (it starts as the last member ends).
	showPhases := func(bb *cb.BuildBatch, all bool) {
		for _, p := range bb.Phases {
			t := cb.Deref(p.PhaseType)
			if t == cb.BuildBatchPhaseTypeCombineArtifacts && !all {
				break
			}
			if !shown[t] && !terminal[t] {
				shown[t] = true
				s.con.status("batch", t, false)
			}
		}
	}
	var bb *cb.BuildBatch
	for {
		var err error
		bb, err = s.c.getBatch(fctx, id)
		if err == nil && bb == nil {
			err = fmt.Errorf("no build batch %s", id)
		}
		if err != nil {
			if ctx.Err() != nil {
				s.stopAfterInterrupt("StopBuildBatch", "id", id)
			}
			return fail(err)
		}
		showPhases(bb, false)
		for _, g := range bb.BuildGroups {
			name := cb.Deref(g.Identifier)
			sum := g.CurrentBuildSummary
			if following[name] || sum == nil || cb.Deref(sum.Arn) == "" || cb.Deref(sum.BuildStatus) == "PENDING" {
				continue
			}
			following[name] = true
			f := &follower{c: s.c, con: s.con, name: name, prefix: name + " | "}
			buildID := idOfARN(cb.Deref(sum.Arn))
			wg.Add(1)
			go func() {
				defer wg.Done()
				b, err := f.follow(fctx, buildID)
				mu.Lock()
				defer mu.Unlock()
				if err != nil && followErr == nil && fctx.Err() == nil {
					followErr = fmt.Errorf("following build %s: %v", name, err)
				}
				builds[name] = b
			}()
		}
		mu.Lock()
		ferr := followErr
		mu.Unlock()
		if ferr != nil {
			return fail(ferr)
		}
		if cb.Deref(bb.Complete) {
			break
		}
		if err := sleep(ctx, poll); err != nil {
			s.stopAfterInterrupt("StopBuildBatch", "id", id)
			return fail(err)
		}
	}
	// The batch is over: its members end too; wait for their logs.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	if followErr != nil {
		return fail(followErr)
	}
	showPhases(bb, true)
	s.con.status("batch", endLine(cb.Deref(bb.BuildBatchStatus), bb.StartTime, bb.EndTime, batchFailure(bb)), true)

	var rows []runRow
	for _, g := range bb.BuildGroups {
		name := cb.Deref(g.Identifier)
		row := runRow{identifier: name, status: "PENDING", duration: "-", artifacts: "-"}
		if sum := g.CurrentBuildSummary; sum != nil {
			row.status = firstNonEmpty(cb.Deref(sum.BuildStatus), row.status)
		}
		if b := builds[name]; b != nil {
			row.status = cb.Deref(b.BuildStatus)
			row.duration = span(b.StartTime, b.EndTime)
			if withArtifacts && b.Artifacts != nil {
				var err error
				if row.artifacts, err = s.fetchArtifacts(ctx, b, filepath.Join(artifactsDir, name)); err != nil {
					return fail(fmt.Errorf("copying the artifacts of %s: %v", name, err))
				}
			}
		}
		rows = append(rows, row)
	}
	s.con.line("")
	s.con.mu.Lock()
	renderRunTable(s.con.w, rows)
	s.con.mu.Unlock()
	if cb.Deref(bb.BuildBatchStatus) != cb.StatusTypeSucceeded {
		return 1
	}
	return 0
}

// batchFailure is what the first batch phase that did not succeed says.
func batchFailure(bb *cb.BuildBatch) string {
	var phases []phaseOutcome
	for _, p := range bb.Phases {
		phases = append(phases, phaseOutcome{p.PhaseType, p.PhaseStatus, p.Contexts})
	}
	return firstFailure(phases)
}

// phaseOutcome is a build's or a batch's phase, as far as its failure goes.
type phaseOutcome struct {
	typ, status *string
	contexts    []cb.PhaseContext
}

// firstFailure describes the first phase that did not succeed: its type,
// status and first context message.
func firstFailure(phases []phaseOutcome) string {
	for _, p := range phases {
		s := cb.Deref(p.status)
		if s == "" || s == cb.StatusTypeSucceeded {
			continue
		}
		msg := cb.Deref(p.typ) + " " + s
		for _, c := range p.contexts {
			if m := cb.Deref(c.Message); m != "" {
				msg += ": " + m
				break
			}
		}
		return msg
	}
	return ""
}
