package runner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/buildbatch/buildbatch/internal/artifact"
	"github.com/buildbatch/buildbatch/internal/blob"
	"github.com/buildbatch/buildbatch/internal/buildspec"
	"github.com/buildbatch/buildbatch/internal/bytesize"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/source"
)

// uploadArtifacts packages and stores the primary and secondary artifacts
// and the report files.
func (x *run) uploadArtifacts(ctx context.Context) (bool, []cb.PhaseContext) {
	if !x.hasUploads() {
		return false, nil
	}
	if err := x.collect(ctx); err != nil {
		return true, document.Context(document.ClientError, fmt.Sprintf("copying the build's files out of its environment: %v", err))
	}
	x.uploadReports(ctx)
	if cfg := x.b.Meta.Artifacts; cfg != nil && cb.Deref(cfg.Type) == cb.ArtifactsTypeS3 {
		if x.spec.Artifacts == nil {
			return true, document.Context(document.ClientError, "no artifacts section in the buildspec, but the project's artifacts type is S3")
		}
		res, err := x.upload(ctx, cfg, x.spec.Artifacts)
		if err != nil {
			return true, x.uploadFailure("", err)
		}
		x.doc.Artifacts = res
	}
	var secondary []cb.BuildArtifacts
	for i := range x.b.Meta.SecondaryArtifacts {
		cfg := &x.b.Meta.SecondaryArtifacts[i]
		id := cb.Deref(cfg.ArtifactIdentifier)
		if cb.Deref(cfg.Type) != cb.ArtifactsTypeS3 {
			secondary = append(secondary, cb.BuildArtifacts{Location: cb.String(""), ArtifactIdentifier: cfg.ArtifactIdentifier})
			continue
		}
		var sel *buildspec.Artifacts
		if x.spec.Artifacts != nil {
			for j := range x.spec.Artifacts.Secondary {
				if x.spec.Artifacts.Secondary[j].Identifier == id {
					sel = &x.spec.Artifacts.Secondary[j].Artifacts
				}
			}
		}
		if sel == nil {
			return true, document.Context(document.ClientError, fmt.Sprintf("secondary artifact %s is not in the buildspec's artifacts.secondary-artifacts", id))
		}
		res, err := x.upload(ctx, cfg, sel)
		if err != nil {
			return true, x.uploadFailure("secondary artifact "+id+": ", err)
		}
		secondary = append(secondary, *res)
	}
	if len(x.b.Meta.SecondaryArtifacts) > 0 {
		x.doc.SecondaryArtifacts = secondary
	}
	return false, nil
}

// uploadFailure is the context of a failed upload; prefix names a
// secondary artifact.
func (x *run) uploadFailure(prefix string, err error) []cb.PhaseContext {
	var big *artifact.TooLargeError
	if errors.As(err, &big) {
		msg := fmt.Sprintf("%sthe artifact is larger than the limit of %s (--max-artifact-bytes); nothing of it was uploaded", prefix, bytesize.Format(big.Max))
		x.log.Printf("%s", msg)
		return document.Context(document.ArtifactTooLarge, msg)
	}
	return document.Context(document.ClientError, prefix+err.Error())
}

// hasUploads tells whether UPLOAD_ARTIFACTS has anything to do.
func (x *run) hasUploads() bool {
	if len(x.spec.Reports) > 0 || len(x.b.Meta.SecondaryArtifacts) > 0 {
		return true
	}
	a := x.b.Meta.Artifacts
	return a != nil && cb.Deref(a.Type) == cb.ArtifactsTypeS3
}

// upload stores one artifact and returns what the build reports of it.
func (x *run) upload(ctx context.Context, cfg *cb.ProjectArtifacts, sel *buildspec.Artifacts) (*cb.BuildArtifacts, error) {
	files, err := x.selectFiles(ctx, artifact.Selection{Files: sel.Files, BaseDirectory: sel.BaseDirectory,
		DiscardPaths: sel.DiscardPaths, ExcludePaths: sel.ExcludePaths, Symlinks: sel.EnableSymlinks})
	if err != nil {
		return nil, err
	}
	name := cb.Deref(cfg.Name)
	if cb.Deref(cfg.OverrideArtifactName) && sel.Name != "" {
		expanded, err := x.expand(ctx, sel.Name)
		if err != nil {
			return nil, fmt.Errorf("artifact name %q: %v", sel.Name, err)
		}
		name = expanded
	}
	idSeg := ""
	if cb.Deref(cfg.NamespaceType) == cb.ArtifactNamespaceBuildId {
		idSeg = x.uuid
		if sel.S3Prefix != "" {
			idSeg = path.Join(sel.S3Prefix, x.uuid)
		}
	}
	bucket := cb.Deref(cfg.Location)
	key := artifact.Key(cb.Deref(cfg.Path), path.Join(idSeg, x.b.Meta.BatchIdentifier), name)
	zip := cb.Deref(cfg.Packaging) == cb.ArtifactPackagingZip
	x.log.Printf("Uploading %d files to s3://%s/%s", len(files), bucket, key)
	res, err := artifact.Upload(ctx, x.blob, files, artifact.Target{Bucket: bucket, Key: key, Zip: zip, Max: x.r.cfg.MaxArtifactBytes}, x.tmp)
	if err != nil {
		return nil, err
	}
	return &cb.BuildArtifacts{
		Location:             cb.String(artifact.Location(ident.Partition(x.b.Scope.Region), bucket, key)),
		Md5sum:               cb.String(res.MD5),
		Sha256sum:            cb.String(res.SHA),
		OverrideArtifactName: cfg.OverrideArtifactName,
		EncryptionDisabled:   cfg.EncryptionDisabled,
		ArtifactIdentifier:   cfg.ArtifactIdentifier,
		BucketOwnerAccess:    cfg.BucketOwnerAccess,
	}, nil
}

// selectFiles selects the files a buildspec section names, reading its
// paths as CodeBuild does: environment variables in files and
// base-directory are expanded in the build's shell, and base-directory is
// a directory of the build environment, relative to the primary source
// directory unless absolute ($CODEBUILD_SRC_DIR_<id> for a secondary
// source, say). A base under the primary source is read from its copy on
// this machine; one elsewhere is copied out of the environment first
// (unless the environment's paths are this machine's).
func (x *run) selectFiles(ctx context.Context, sel artifact.Selection) ([]artifact.File, error) {
	orig := sel.BaseDirectory
	base, err := x.expandPath(ctx, sel.BaseDirectory)
	if err != nil {
		return nil, fmt.Errorf("base-directory %q: %v", orig, err)
	}
	files := make([]string, 0, len(sel.Files))
	for _, f := range sel.Files {
		e, err := x.expandPath(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("files %q: %v", f, err)
		}
		files = append(files, e)
	}
	root, envRoot := x.src, x.layout.Src
	sel.BaseDirectory = ""
	if artifact.CleanBase(base) != "" || path.IsAbs(base) {
		envBase := base
		if !path.IsAbs(envBase) {
			envBase = path.Join(x.layout.Src, base)
		}
		top, pattern := splitStatic(envBase)
		host, err := x.hostDir(ctx, top)
		if err != nil {
			return nil, err
		}
		if host == "" {
			return nil, fmt.Errorf("no matching base directory path found for %s", orig)
		}
		root, sel.BaseDirectory = host, pattern
		envRoot = top
		if pattern != "" {
			envRoot = "" // absolute files entries cannot be relative to a glob
		}
	}
	for i, f := range files {
		if path.IsAbs(f) && envRoot != "" {
			if rel, ok := within(envRoot, f); ok {
				files[i] = rel
			}
		}
	}
	sel.Files = files
	return artifact.Select(root, sel)
}

// hostDir returns the directory on this machine that holds the
// environment's directory dir: the source's copy, the directory itself
// (environments whose paths are this machine's) or a copy taken out of the
// environment. It returns "" when dir does not exist or is not a
// directory.
func (x *run) hostDir(ctx context.Context, dir string) (string, error) {
	host := dir
	if rel, ok := within(x.layout.Src, dir); ok {
		host = filepath.Join(x.src, filepath.FromSlash(rel))
	} else if !x.local() {
		if x.env == nil {
			return "", nil
		}
		tmp, err := os.MkdirTemp(x.tmp, "out-")
		if err != nil {
			return "", err
		}
		host = filepath.Join(tmp, "d")
		if err := x.env.CopyOut(ctx, dir, host); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", nil
			}
			return "", fmt.Errorf("copying %s out of the build environment: %v", dir, err)
		}
	}
	if info, err := os.Stat(host); err != nil || !info.IsDir() {
		return "", nil
	}
	return host, nil
}

// within returns p relative to dir ("" for dir itself) if p is dir or
// below it; both are slash-separated absolute paths.
func within(dir, p string) (string, bool) {
	dir, p = path.Clean(dir), path.Clean(p)
	if p == dir {
		return "", true
	}
	if dir == "/" {
		return strings.TrimPrefix(p, "/"), true
	}
	if rest, ok := strings.CutPrefix(p, dir+"/"); ok {
		return rest, true
	}
	return "", false
}

// expandPath expands a buildspec path as the build's shell would ($VAR,
// ${VAR}, $(command)); globs are left alone. Paths without $ or ` need no
// shell.
func (x *run) expandPath(ctx context.Context, s string) (string, error) {
	if !strings.ContainsAny(s, "$`") {
		return s, nil
	}
	return x.expand(ctx, s)
}

// expand evaluates a buildspec value with shell semantics in the session
// ($VAR, $(command)).
func (x *run) expand(ctx context.Context, s string) (string, error) {
	if x.env == nil {
		return s, nil
	}
	const v = "__BB_EXPANDED"
	delim := "__BB_EOF_" + strings.ReplaceAll(x.uuid, "-", "")
	if _, err := x.env.Exec(context.WithoutCancel(ctx), v+"=$(cat <<"+delim+"\n"+s+"\n"+delim+"\n)", ""); err != nil {
		return "", err
	}
	vals, err := x.env.Vars(context.WithoutCancel(ctx), []string{v})
	if err != nil {
		return "", err
	}
	return vals[v], nil
}

// The cache: project cache LOCAL or S3 keeps the buildspec's cache.paths
// between builds as one zip in the blob store.
// cacheBucket keeps LOCAL caches, under <account>/<region>/<project>: it
// is buildbatch's own bucket, not an account's (tenancy would give it to
// the first account that saved a cache), and S3 clients cannot reach it
// (s3api reserves it).
const cacheBucket = blob.CacheBucket

// CacheBucket is the bucket of LOCAL caches.
const CacheBucket = cacheBucket

// cacheStore is where the build's cache is: buildbatch's own store for
// LOCAL caches (their keys hold the scope), the account's view of it for
// S3 caches.
func (x *run) cacheStore() blob.Store {
	if c := x.doc.Cache; c != nil && cb.Deref(c.Type) == cb.CacheTypeLocal {
		return x.r.cfg.Blob
	}
	return x.blob
}

func (x *run) cacheTarget() (bucket, key string, ok bool) {
	c := x.doc.Cache
	if c == nil || x.spec == nil || x.spec.Cache == nil {
		return "", "", false
	}
	name := "cache.zip"
	if k := x.spec.Cache.Key; k != "" {
		name = strings.ReplaceAll(k, "/", "_") + ".zip"
	}
	switch cb.Deref(c.Type) {
	case cb.CacheTypeLocal:
		return cacheBucket, path.Join(x.b.Scope.Account, x.b.Scope.Region, cb.Deref(x.doc.ProjectName), name), true
	case cb.CacheTypeS3:
		b, prefix, err := source.SplitS3(cb.Deref(c.Location))
		if err != nil {
			return "", "", false
		}
		return b, path.Join(prefix, cb.Deref(c.CacheNamespace), cb.Deref(x.doc.ProjectName), name), true
	}
	return "", "", false
}

// collect copies the environment's primary source directory back to this
// machine, once, for the uploads to read (nothing to do when the
// environment's directories are this machine's).
func (x *run) collect(ctx context.Context) error {
	if x.copied || x.env == nil || x.local() {
		return nil
	}
	x.copied = true
	if err := os.RemoveAll(x.src); err != nil {
		return err
	}
	return x.env.CopyOut(ctx, x.layout.Src, x.src)
}

// local tells whether the environment's source directory is this machine's.
func (x *run) local() bool { return filepath.Clean(x.layout.Src) == filepath.Clean(x.src) }

// splitStatic splits a slash-separated path into its leading part without
// wildcards and the rest ("" when the path has none): /root/.m2/**/* is
// /root/.m2 and **/*.
func splitStatic(p string) (dir, pattern string) {
	abs := path.IsAbs(p)
	parts := strings.Split(strings.Trim(path.Clean(p), "/"), "/")
	for i, part := range parts {
		if hasGlob(part) {
			dir = strings.Join(parts[:i], "/")
			pattern = strings.Join(parts[i:], "/")
			break
		}
	}
	if pattern == "" {
		dir = strings.Join(parts, "/")
	}
	if abs {
		dir = "/" + dir
	} else if dir == "" {
		dir = "."
	}
	return dir, pattern
}

func hasGlob(s string) bool { return strings.ContainsAny(s, "*?[{") }

// cacheRoot is where one cache path's files come from and go back to: the
// path's leading directory without wildcards (the path itself when it has
// none) in the build environment, relative to the primary source unless
// absolute, with the pattern to select below it (everything, for a path
// without wildcards) and the name it has in the cache's zip: src/<path in
// the primary source> or abs/<absolute path>. Nothing above that
// directory is ever walked.
func (x *run) cacheRoot(p string) (top, pattern, name string) {
	if !path.IsAbs(p) {
		p = path.Join(x.layout.Src, p)
	}
	top, pattern = splitStatic(p)
	if pattern == "" {
		pattern = "**/*"
	}
	if rel, ok := within(x.layout.Src, top); ok {
		return top, pattern, path.Join("src", rel)
	}
	return top, pattern, path.Join("abs", top)
}

func (x *run) restoreCache(ctx context.Context) {
	bucket, key, ok := x.cacheTarget()
	if !ok || x.spec.Cache.Action == "save" || x.env == nil {
		return
	}
	rc, err := x.cacheStore().Open(ctx, bucket, key)
	if errors.Is(err, blob.ErrNotFound) {
		x.log.Printf("No cache to restore at s3://%s/%s", bucket, key)
		return
	}
	if err != nil {
		x.log.Printf("Could not restore the cache from s3://%s/%s: %v", bucket, key, err)
		return
	}
	rc.Close()
	tmp := filepath.Join(x.tmp, "cache-restore")
	defer os.RemoveAll(tmp)
	f := &source.Fetcher{Blob: x.cacheStore()}
	if _, err := f.Fetch(ctx, source.Source{Type: "S3", Location: bucket + "/" + key}, tmp); err != nil {
		x.log.Printf("Could not restore the cache: %v", err)
		return
	}
	// Each cache path goes back to its own directory, so that nothing is
	// unpacked above it; a path inside another one comes with it.
	tops := map[string]string{} // name in the zip -> directory in the environment
	var names []string
	for _, p := range x.spec.Cache.Paths {
		top, _, name := x.cacheRoot(p)
		if _, dup := tops[name]; !dup {
			tops[name] = top
			names = append(names, name)
		}
	}
	sort.Strings(names)
	n := 0
	var done []string
	for _, name := range names {
		if slices.ContainsFunc(done, func(d string) bool { _, in := within("/"+d, "/"+name); return in }) {
			continue
		}
		done = append(done, name)
		local := filepath.Join(tmp, filepath.FromSlash(name))
		info, err := os.Stat(local)
		if err != nil {
			continue
		}
		dst := tops[name]
		if !info.IsDir() {
			// A cached file: copied into its directory on its own.
			dir, err := os.MkdirTemp(tmp, "file-")
			if err == nil {
				err = os.Rename(local, filepath.Join(dir, path.Base(dst)))
			}
			if err != nil {
				x.log.Printf("Could not restore the cache: %v", err)
				return
			}
			local, dst = dir, path.Dir(dst)
		}
		filepath.WalkDir(local, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
			}
			return nil
		})
		if err := x.env.CopyIn(ctx, local, dst); err != nil {
			x.log.Printf("Could not restore the cache: %v", err)
			return
		}
	}
	x.log.Printf("Restored %d cached files from s3://%s/%s", n, bucket, key)
}

func (x *run) saveCache(ctx context.Context, status string) {
	bucket, key, ok := x.cacheTarget()
	if !ok || x.spec.Cache.Action == "restore" || status != cb.StatusTypeSucceeded {
		return
	}
	if err := x.collect(ctx); err != nil {
		x.log.Printf("Could not save the cache: %v", err)
		return
	}
	var files []artifact.File
	seen := map[string]bool{}
	for i, p := range x.spec.Cache.Paths {
		top, pattern, name := x.cacheRoot(p)
		dir := top
		if rel, ok := within(x.layout.Src, top); ok {
			dir = filepath.Join(x.src, filepath.FromSlash(rel))
		} else if !x.local() {
			dir = filepath.Join(x.tmp, "cache-save", strconv.Itoa(i))
			if err := x.env.CopyOut(ctx, top, dir); err != nil {
				continue // nothing there
			}
		}
		info, err := os.Stat(dir)
		if err != nil {
			continue
		}
		var sel []artifact.File
		if info.IsDir() {
			if sel, err = artifact.Select(dir, artifact.Selection{Files: []string{pattern}}); err != nil {
				continue
			}
			for j := range sel {
				sel[j].Name = name + "/" + sel[j].Name
			}
		} else {
			sel = []artifact.File{{Src: dir, Name: name, Mode: info.Mode()}}
		}
		for _, f := range sel {
			if !seen[f.Name] {
				seen[f.Name] = true
				files = append(files, f)
			}
		}
	}
	if len(files) == 0 {
		x.log.Printf("Nothing to cache")
		return
	}
	if _, err := artifact.Upload(ctx, x.cacheStore(), files, artifact.Target{Bucket: bucket, Key: key, Zip: true, Max: x.r.cfg.MaxArtifactBytes}, x.tmp); err != nil {
		x.log.Printf("Could not save the cache: %v", err)
		return
	}
	x.log.Printf("Saved %d files to the cache at s3://%s/%s", len(files), bucket, key)
}
