// Package source fetches a build's sources into its workspace: NO_SOURCE,
// the git-based types (cloned with the git CLI from the location, which may
// be a local path or file:// URL), and S3 (bucket/key of a zip or a folder
// in the blob store, so one build's artifacts can feed another).
package source

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/buildbatch/buildbatch/internal/blob"
)

// Source is one source to fetch.
type Source struct {
	Type       string // the model's SourceType
	Location   string
	Version    string // branch, tag, commit, pr/<n>; "" = default branch
	CloneDepth int    // 0 = full history
	Submodules bool
	// Auth, if set, authenticates HTTPS clones (an imported source
	// credential): git sends it as an Authorization header, given through
	// its environment, never on a command line, in a URL or in a log.
	Auth *Auth
}

// Auth is the user name and secret of an HTTPS git server.
type Auth struct {
	Username, Secret string
	// url is the repository the header is for (set by git): git sends it
	// only to URLs under it, so a submodule elsewhere never gets it.
	url string
}

// Fetcher fetches sources.
type Fetcher struct {
	Blob blob.Store
	// Log receives progress lines ("[Container]" lines of the build log).
	Log func(format string, args ...any)
}

// Error is a source that could not be fetched; its message says why and is
// shown to the user as the DOWNLOAD_SOURCE context.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func errorf(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

var gitTypes = map[string]bool{"CODECOMMIT": true, "GITHUB": true, "GITHUB_ENTERPRISE": true, "BITBUCKET": true, "GITLAB": true, "GITLAB_SELF_MANAGED": true}

// IsGit reports whether a source type is fetched with git.
func IsGit(typ string) bool { return gitTypes[typ] }

// Fetch puts the source into dir (created) and returns the resolved version
// (the commit for git; "" otherwise).
func (f *Fetcher) Fetch(ctx context.Context, s Source, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	switch {
	case s.Type == "NO_SOURCE":
		return "", nil
	case gitTypes[s.Type]:
		return f.git(ctx, s, dir)
	case s.Type == "S3":
		return "", f.s3(ctx, s, dir)
	case s.Type == "CODEPIPELINE":
		return "", errorf("CODEPIPELINE sources are handed over by CodePipeline, which buildbatch does not run; use a git, S3 or NO_SOURCE source")
	}
	return "", errorf("unsupported source type %s", s.Type)
}

func (f *Fetcher) log(format string, args ...any) {
	if f.Log != nil {
		f.Log(format, args...)
	}
}

func (f *Fetcher) run(ctx context.Context, dir string, args ...string) (string, error) {
	return f.runAuth(ctx, dir, nil, args...)
}

// runAuth runs git with auth's header on the HTTP requests to auth's
// repository (through GIT_CONFIG_* variables, which only the server's
// user can read; http.<url>.extraHeader applies to that URL and those
// under it only); the secret never reaches the output it returns.
func (f *Fetcher) runAuth(ctx context.Context, dir string, auth *Auth, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=true", "LC_ALL=C")
	if auth != nil {
		basic := base64.StdEncoding.EncodeToString([]byte(auth.Username + ":" + auth.Secret))
		cmd.Env = append(cmd.Env, "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http."+auth.url+".extraHeader", "GIT_CONFIG_VALUE_0=Authorization: Basic "+basic)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	text := out.String()
	if auth != nil && auth.Secret != "" {
		text = strings.ReplaceAll(text, auth.Secret, "***")
	}
	if ctx.Err() != nil {
		return text, ctx.Err()
	}
	return strings.TrimSpace(text), err
}

// refspec turns a CodeBuild source version into what git fetch takes.
func refspec(v string) string {
	if n, ok := strings.CutPrefix(v, "pr/"); ok {
		return "refs/pull/" + n + "/head"
	}
	return v
}

// authFor is the credential for a clone of loc: over HTTPS, or plain HTTP
// to this machine (a local git server), never to another host in clear;
// scoped to loc's URL.
func authFor(a *Auth, loc string) *Auth {
	if a == nil {
		return nil
	}
	u, err := url.Parse(loc)
	if err != nil || u.Host == "" || u.User != nil {
		return nil
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil
		}
	default:
		return nil
	}
	scoped := *a
	scoped.url = strings.TrimSuffix(u.String(), "/")
	return &scoped
}

func (f *Fetcher) git(ctx context.Context, s Source, dir string) (string, error) {
	loc := s.Location
	if loc == "" {
		return "", errorf("the source has no location to clone")
	}
	if !strings.Contains(loc, "://") && !strings.HasPrefix(loc, "/") && !strings.Contains(loc, "@") {
		return "", errorf("source location %s is neither a URL nor an absolute path", loc)
	}
	f.log("Cloning %s", loc)
	steps := [][]string{
		{"init", "-q"},
		{"remote", "add", "origin", loc},
	}
	for _, a := range steps {
		if out, err := f.run(ctx, dir, a...); err != nil {
			return "", errorf("git %s failed: %s", a[0], firstLine(out, err))
		}
	}
	depth := []string{}
	if s.CloneDepth > 0 {
		depth = []string{"--depth", fmt.Sprint(s.CloneDepth)}
	}
	ref := "HEAD"
	if s.Version != "" {
		ref = refspec(s.Version)
	}
	auth := authFor(s.Auth, loc)
	fetch := append(append([]string{"-c", "protocol.file.allow=always", "fetch", "-q", "--no-tags"}, depth...), "origin", ref)
	out, err := f.runAuth(ctx, dir, auth, fetch...)
	checkout := "FETCH_HEAD"
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if s.Version == "" {
			return "", errorf("could not fetch %s: %s", loc, firstLine(out, err))
		}
		// A short commit id or another name git fetch cannot ask for: fetch
		// everything and let checkout resolve it.
		all := append(append([]string{"-c", "protocol.file.allow=always", "fetch", "-q"}, depth...), "origin", "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*")
		if out, err := f.runAuth(ctx, dir, auth, all...); err != nil {
			return "", errorf("could not fetch %s: %s", loc, firstLine(out, err))
		}
		checkout = s.Version
	}
	if out, err := f.run(ctx, dir, "checkout", "-q", checkout); err != nil {
		if checkout == s.Version {
			return "", errorf("source version %s was not found in %s", s.Version, loc)
		}
		return "", errorf("git checkout failed: %s", firstLine(out, err))
	}
	if s.Submodules {
		f.log("Updating submodules")
		args := append([]string{"-c", "protocol.file.allow=always", "submodule", "update", "--init", "--recursive", "-q"}, depth...)
		if out, err := f.runAuth(ctx, dir, auth, args...); err != nil {
			return "", errorf("git submodule update failed: %s", firstLine(out, err))
		}
	}
	commit, err := f.run(ctx, dir, "rev-parse", "HEAD")
	if err != nil {
		return "", errorf("git rev-parse failed: %s", firstLine(commit, err))
	}
	return commit, nil
}

func firstLine(out string, err error) string {
	out = strings.TrimSpace(out)
	if out == "" {
		return err.Error()
	}
	lines := strings.Split(out, "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "fatal:") || strings.HasPrefix(l, "error:") {
			return l
		}
	}
	return lines[len(lines)-1]
}

// SplitS3 splits an S3 location ("bucket/key", "s3://bucket/key" or
// "arn:aws:s3:::bucket/key").
func SplitS3(loc string) (bucket, key string, err error) {
	l := loc
	if i := strings.Index(l, ":::"); i >= 0 && strings.HasPrefix(l, "arn:") {
		l = l[i+3:]
	}
	l = strings.TrimPrefix(l, "s3://")
	bucket, key, _ = strings.Cut(l, "/")
	if bucket == "" {
		return "", "", errorf("S3 location %q has no bucket", loc)
	}
	return bucket, key, nil
}

func (f *Fetcher) s3(ctx context.Context, s Source, dir string) error {
	bucket, key, err := SplitS3(s.Location)
	if err != nil {
		return err
	}
	if f.Blob == nil {
		return errorf("no artifact store for S3 sources")
	}
	f.log("Downloading s3://%s/%s", bucket, key)
	rc, err := f.Blob.Open(ctx, bucket, key)
	if err == nil {
		defer rc.Close()
		return unzipTo(rc, dir, s.Location)
	}
	if !errors.Is(err, blob.ErrNotFound) {
		return err
	}
	// A folder: copy every object under it.
	prefix := strings.TrimSuffix(key, "/")
	keys, lerr := f.Blob.List(ctx, bucket, prefix)
	if lerr != nil || len(keys) == 0 {
		return errorf("S3 source s3://%s/%s not found (upload a zip there, or point it at the artifacts of another build)", bucket, key)
	}
	for _, k := range keys {
		rel := strings.TrimPrefix(strings.TrimPrefix(k, prefix), "/")
		if err := copyObject(ctx, f.Blob, bucket, k, filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
			return err
		}
	}
	return nil
}

func copyObject(ctx context.Context, b blob.Store, bucket, key, dst string) error {
	rc, err := b.Open(ctx, bucket, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, rc)
	return errors.Join(err, out.Close())
}

func unzipTo(r io.Reader, dir, what string) error {
	tmp, err := os.CreateTemp("", "source-*.zip")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	n, err := io.Copy(tmp, r)
	if err != nil {
		return err
	}
	zr, err := zip.NewReader(tmp, n)
	if err != nil {
		return errorf("S3 source %s is not a zip archive: %v", what, err)
	}
	root, _ := filepath.Abs(dir)
	for _, zf := range zr.File {
		p := filepath.Join(root, filepath.FromSlash(zf.Name))
		if p != root && !strings.HasPrefix(p, root+string(filepath.Separator)) {
			return errorf("S3 source %s holds a path outside the source directory: %s", what, zf.Name)
		}
		if zf.FileInfo().IsDir() {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if zf.Mode()&os.ModeSymlink != 0 {
			rc, err := zf.Open()
			if err != nil {
				return err
			}
			target, _ := io.ReadAll(rc)
			rc.Close()
			os.Symlink(string(target), p)
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return err
		}
		mode := zf.Mode().Perm()
		if mode == 0 {
			mode = 0o644
		}
		out, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
		if err != nil {
			rc.Close()
			return err
		}
		_, err = io.Copy(out, rc)
		rc.Close()
		if err := errors.Join(err, out.Close()); err != nil {
			return err
		}
	}
	return nil
}
