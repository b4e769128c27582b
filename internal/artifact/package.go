package artifact

import (
	"archive/zip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/buildbatch/buildbatch/internal/blob"
)

// Target is where an artifact goes.
type Target struct {
	Bucket string
	Key    string // the object (ZIP) or folder (NONE) key; "" is the bucket root
	Zip    bool
	// Max bounds the artifact's size in bytes (the ZIP's, or the sum of
	// the files' of a folder); 0 means no bound. Past it Upload fails with
	// a *TooLargeError and stores nothing of a folder, or no ZIP.
	Max int64
}

// TooLargeError is an artifact larger than its Target's Max.
type TooLargeError struct{ Max int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the artifact is larger than the limit of %d bytes", e.Max)
}

// limited counts the bytes written through it and fails past max.
type limited struct {
	w      io.Writer
	n, max int64
}

func (l *limited) Write(p []byte) (int, error) {
	if l.max > 0 && l.n+int64(len(p)) > l.max {
		return 0, &TooLargeError{Max: l.max}
	}
	l.n += int64(len(p))
	return l.w.Write(p)
}

// Result is what the build reports of an uploaded artifact.
type Result struct {
	Location  string // arn:aws:s3:::bucket/key
	MD5, SHA  string // of the ZIP; empty for a folder
	FileCount int
}

// Key composes an object key the way CodeBuild does:
// path / (build id segment if namespaceType BUILD_ID) / name, skipping empty
// parts; name "/" means "no name segment".
func Key(pathPrefix string, buildIDSegment string, name string) string {
	var parts []string
	for _, p := range []string{pathPrefix, buildIDSegment, name} {
		p = strings.Trim(p, "/")
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
}

// Location renders an S3 location ARN.
func Location(partition, bucket, key string) string {
	if partition == "" {
		partition = "aws"
	}
	if key == "" {
		return "arn:" + partition + ":s3:::" + bucket
	}
	return "arn:" + partition + ":s3:::" + bucket + "/" + key
}

// Upload packages files into the target. For a ZIP it computes MD5 and
// SHA-256 of the archive; tmpDir holds the archive while it is written.
func Upload(ctx context.Context, store blob.Store, files []File, t Target, tmpDir string) (Result, error) {
	res := Result{FileCount: len(files)}
	if !t.Zip {
		if t.Max > 0 {
			var total int64
			for _, f := range files {
				if st, err := os.Lstat(f.Src); err == nil && st.Mode().IsRegular() {
					total += st.Size()
				}
			}
			if total > t.Max {
				return res, &TooLargeError{Max: t.Max}
			}
		}
		for _, f := range files {
			if err := putFile(ctx, store, t.Bucket, path.Join(t.Key, f.Name), f.Src); err != nil {
				return res, err
			}
		}
		return res, nil
	}
	tmp, err := os.CreateTemp(tmpDir, "artifact-*.zip")
	if err != nil {
		return res, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	md, sh := md5.New(), sha256.New()
	zw := zip.NewWriter(&limited{w: io.MultiWriter(tmp, md, sh), max: t.Max})
	for _, f := range files {
		if err := addToZip(zw, f); err != nil {
			return res, err
		}
	}
	if err := zw.Close(); err != nil {
		return res, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return res, err
	}
	if err := store.Put(ctx, t.Bucket, t.Key, tmp); err != nil {
		return res, err
	}
	res.MD5 = hex.EncodeToString(md.Sum(nil))
	res.SHA = hex.EncodeToString(sh.Sum(nil))
	return res, nil
}

func putFile(ctx context.Context, store blob.Store, bucket, key, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return store.Put(ctx, bucket, key, f)
}

func addToZip(zw *zip.Writer, f File) error {
	hdr := &zip.FileHeader{Name: f.Name, Method: zip.Deflate}
	hdr.SetMode(f.Mode)
	if f.Mode&os.ModeSymlink != 0 {
		target, err := os.Readlink(f.Src)
		if err != nil {
			return err
		}
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, target)
		return err
	}
	if st, err := os.Stat(f.Src); err == nil {
		hdr.Modified = st.ModTime()
	}
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	src, err := os.Open(f.Src)
	if err != nil {
		return fmt.Errorf("adding %s: %w", f.Name, err)
	}
	defer src.Close()
	_, err = io.Copy(w, src)
	return err
}
