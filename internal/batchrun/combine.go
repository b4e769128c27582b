package batchrun

import (
	"archive/zip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/buildbatch/buildbatch/internal/artifact"
	"github.com/buildbatch/buildbatch/internal/blob"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/source"
	"github.com/buildbatch/buildbatch/internal/store"
	"github.com/buildbatch/buildbatch/internal/tenancy"
)

// combine gathers the primary artifacts of every group into the batch's
// artifact location, one folder per build identifier: a ZIP when the
// artifacts' packaging is ZIP, a folder of files otherwise. It does nothing
// unless buildBatchConfig.combineArtifacts is set and the artifacts go to
// S3.
func (c *Coordinator) combine(ctx context.Context, b *store.Batch) (*cb.BuildArtifacts, error) {
	doc := b.Doc
	cfg := doc.BuildBatchConfig
	var settings document.Settings
	if len(b.Meta.Settings) > 0 {
		if err := json.Unmarshal(b.Meta.Settings, &settings); err != nil {
			return nil, fmt.Errorf("corrupt batch settings: %w", err)
		}
	}
	a := settings.Artifacts
	if cfg == nil || !cb.Deref(cfg.CombineArtifacts) || a == nil || cb.Deref(a.Type) != cb.ArtifactsTypeS3 {
		return nil, nil
	}
	bucket := cb.Deref(a.Location)
	idSeg := ""
	if cb.Deref(a.NamespaceType) == cb.ArtifactNamespaceBuildId {
		_, idSeg, _ = strings.Cut(cb.Deref(doc.Id), ":")
	}
	key := artifact.Key(cb.Deref(a.Path), idSeg, cb.Deref(a.Name))
	zipped := cb.Deref(a.Packaging) == cb.ArtifactPackagingZip
	blobs := tenancy.New(c.o.Blob, c.o.Store, b.Scope) // the batch's account's buckets only

	var tmp *os.File
	var zw *zip.Writer
	md, sh := md5.New(), sha256.New()
	if zipped {
		var err error
		if tmp, err = os.CreateTemp(c.o.TempDir, "combined-*.zip"); err != nil {
			return nil, err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		zw = zip.NewWriter(io.MultiWriter(tmp, md, sh))
	}
	combined := c.o.Now() // the combined ZIP's entries carry the time they were combined
	add := func(name string, r io.Reader) error {
		if zipped {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: combined})
			if err != nil {
				return err
			}
			_, err = io.Copy(w, r)
			return err
		}
		return blobs.Put(ctx, bucket, path.Join(key, name), r)
	}
	for _, g := range doc.BuildGroups {
		id := cb.Deref(g.Identifier)
		s := g.CurrentBuildSummary
		if id == document.DownloadSource || s == nil || s.PrimaryArtifact == nil || cb.Deref(s.PrimaryArtifact.Location) == "" ||
			cb.Deref(s.BuildStatus) != cb.StatusTypeSucceeded {
			continue
		}
		srcBucket, srcKey, err := source.SplitS3(cb.Deref(s.PrimaryArtifact.Location))
		if err != nil {
			return nil, err
		}
		if err := c.copyArtifact(ctx, blobs, srcBucket, srcKey, id, add); err != nil {
			return nil, fmt.Errorf("build %s: %w", id, err)
		}
	}
	res := &cb.BuildArtifacts{Location: cb.String(artifact.Location(ident.Partition(b.Scope.Region), bucket, key)),
		Md5sum: cb.String(""), Sha256sum: cb.String(""), EncryptionDisabled: a.EncryptionDisabled, BucketOwnerAccess: a.BucketOwnerAccess}
	if zipped {
		if err := zw.Close(); err != nil {
			return nil, err
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		if err := blobs.Put(ctx, bucket, key, tmp); err != nil {
			return nil, err
		}
		res.Md5sum = cb.String(hex.EncodeToString(md.Sum(nil)))
		res.Sha256sum = cb.String(hex.EncodeToString(sh.Sum(nil)))
	}
	return res, nil
}

// copyArtifact adds one build's artifact (a ZIP object or a folder) under
// the folder prefix.
func (c *Coordinator) copyArtifact(ctx context.Context, blobs blob.Store, bucket, key, prefix string, add func(string, io.Reader) error) error {
	rc, err := blobs.Open(ctx, bucket, key)
	if err == nil {
		defer rc.Close()
		tmp, err := os.CreateTemp(c.o.TempDir, "member-*.zip")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		n, err := io.Copy(tmp, rc)
		if err != nil {
			return err
		}
		zr, err := zip.NewReader(tmp, n)
		if err != nil {
			// A single non-zip object.
			tmp.Seek(0, io.SeekStart)
			return add(path.Join(prefix, path.Base(key)), tmp)
		}
		for _, f := range zr.File {
			if f.FileInfo().IsDir() {
				continue
			}
			r, err := f.Open()
			if err != nil {
				return err
			}
			err = add(path.Join(prefix, f.Name), r)
			r.Close()
			if err != nil {
				return err
			}
		}
		return nil
	}
	if !errors.Is(err, blob.ErrNotFound) {
		return err
	}
	keys, err := blobs.List(ctx, bucket, key)
	if err != nil {
		return err
	}
	for _, k := range keys {
		r, err := blobs.Open(ctx, bucket, k)
		if err != nil {
			return err
		}
		err = add(path.Join(prefix, strings.TrimPrefix(strings.TrimPrefix(k, key), "/")), r)
		r.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
