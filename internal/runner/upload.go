package runner

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/buildbatch/buildbatch/internal/artifact"
	"github.com/buildbatch/buildbatch/internal/buildspec"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/phase"
	"github.com/buildbatch/buildbatch/internal/source"
)

// uploadArtifacts packages and stores the primary and secondary artifacts
// and the report files.
func (x *run) uploadArtifacts(ctx context.Context) (bool, []cb.PhaseContext) {
	if !x.hasUploads() {
		return false, nil
	}
	if err := x.collect(ctx); err != nil {
		return true, phase.Context(phase.ClientError, fmt.Sprintf("copying the build's files out of its environment: %v", err))
	}
	x.uploadReports(ctx)
	if cfg := x.b.Meta.Artifacts; cfg != nil && cb.Deref(cfg.Type) == cb.ArtifactsTypeS3 {
		if x.spec.Artifacts == nil {
			return true, phase.Context(phase.ClientError, "no artifacts section in the buildspec, but the project's artifacts type is S3")
		}
		res, err := x.upload(ctx, cfg, x.spec.Artifacts)
		if err != nil {
			x.log.Printf("Phase context status code: CLIENT_ERROR Message: %v", err)
			return true, phase.Context(phase.ClientError, err.Error())
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
			return true, phase.Context(phase.ClientError, fmt.Sprintf("secondary artifact %s is not in the buildspec's artifacts.secondary-artifacts", id))
		}
		res, err := x.upload(ctx, cfg, sel)
		if err != nil {
			return true, phase.Context(phase.ClientError, fmt.Sprintf("secondary artifact %s: %v", id, err))
		}
		secondary = append(secondary, *res)
	}
	if len(x.b.Meta.SecondaryArtifacts) > 0 {
		x.doc.SecondaryArtifacts = secondary
	}
	return false, nil
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
	files, err := artifact.Select(x.src, artifact.Selection{Files: sel.Files, BaseDirectory: sel.BaseDirectory,
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
	res, err := artifact.Upload(ctx, x.r.cfg.Blob, files, artifact.Target{Bucket: bucket, Key: key, Zip: zip}, x.tmp)
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
const cacheBucket = "buildbatch-cache"

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

// splitGlob splits an absolute cache path into the directory before its
// first wildcard and the pattern after it.
func splitGlob(p string) (dir, pattern string) {
	parts := strings.Split(strings.TrimPrefix(path.Clean(p), "/"), "/")
	for i, part := range parts {
		if strings.ContainsAny(part, "*?[{") {
			return "/" + strings.Join(parts[:i], "/"), strings.Join(parts[i:], "/")
		}
	}
	return path.Dir("/" + strings.Join(parts, "/")), parts[len(parts)-1]
}

func (x *run) restoreCache(ctx context.Context) {
	bucket, key, ok := x.cacheTarget()
	if !ok || x.spec.Cache.Action == "save" || x.env == nil {
		return
	}
	rc, err := x.r.cfg.Blob.Open(ctx, bucket, key)
	if err != nil {
		x.log.Printf("No cache to restore at s3://%s/%s", bucket, key)
		return
	}
	rc.Close()
	tmp := filepath.Join(x.tmp, "cache-restore")
	defer os.RemoveAll(tmp)
	f := &source.Fetcher{Blob: x.r.cfg.Blob}
	if _, err := f.Fetch(ctx, source.Source{Type: "S3", Location: bucket + "/" + key}, tmp); err != nil {
		x.log.Printf("Could not restore the cache: %v", err)
		return
	}
	// Entries are stored as abs/<path> or src/<path>.
	n := 0
	for top, dst := range map[string]string{"src": x.layout.Src, "abs": "/"} {
		root := filepath.Join(tmp, top)
		if _, err := os.Stat(root); err != nil {
			continue
		}
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
			}
			return nil
		})
		if err := x.env.CopyIn(ctx, root, dst); err != nil {
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
	for i, p := range x.spec.Cache.Paths {
		dir, rel, prefix := x.src, p, "src/"
		if path.IsAbs(p) {
			var top string
			top, rel = splitGlob(p)
			dir, prefix = top, "abs/"+strings.TrimPrefix(top, "/")+"/"
			if prefix == "abs//" {
				prefix = "abs/"
			}
			if !x.local() {
				dir = filepath.Join(x.tmp, "cache-save", strconv.Itoa(i))
				if err := x.env.CopyOut(ctx, top, dir); err != nil {
					continue
				}
			}
		}
		sel, err := artifact.Select(dir, artifact.Selection{Files: []string{rel}})
		if err != nil {
			continue
		}
		for _, f := range sel {
			f.Name = prefix + f.Name
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		x.log.Printf("Nothing to cache")
		return
	}
	if _, err := artifact.Upload(ctx, x.r.cfg.Blob, files, artifact.Target{Bucket: bucket, Key: key, Zip: true}, x.tmp); err != nil {
		x.log.Printf("Could not save the cache: %v", err)
		return
	}
	x.log.Printf("Saved %d files to the cache at s3://%s/%s", len(files), bucket, key)
}
