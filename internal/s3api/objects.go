package s3api

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/blob"
)

// contentType is what a GET answers for a key: the type its extension
// suggests (the store keeps none).
func contentType(key string) string {
	if t := mime.TypeByExtension(path.Ext(key)); t != "" {
		return t
	}
	return "binary/octet-stream"
}

func (q *request) stat() (blob.Info, error) {
	info, err := q.blobs.Stat(q.r.Context(), q.bucket, q.key)
	if errors.Is(err, blob.ErrNotFound) {
		if err := q.mustExist(); err != nil {
			return info, err
		}
		return info, errNoSuchKey
	}
	return info, err
}

// getObject answers GET and HEAD: one byte range at most, and the
// If-Match, If-None-Match, If-Modified-Since and If-Unmodified-Since
// conditions.
func (q *request) getObject() error {
	info, err := q.stat()
	if err != nil {
		return err
	}
	r, h := q.r, q.w.Header()
	tag := etag(info)
	modified := info.Modified.UTC().Truncate(time.Second)
	if m := r.Header.Get("If-Match"); m != "" && !matchETag(m, tag) {
		return errorf(http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	}
	if t, err := http.ParseTime(r.Header.Get("If-Unmodified-Since")); err == nil && r.Header.Get("If-Match") == "" && modified.After(t) {
		return errorf(http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	}
	notModified := false
	if m := r.Header.Get("If-None-Match"); m != "" {
		notModified = matchETag(m, tag)
	} else if t, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err == nil && !modified.After(t) {
		notModified = true
	}
	h.Set("ETag", tag)
	h.Set("Last-Modified", modified.Format(http.TimeFormat))
	if notModified {
		q.w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Type", contentType(q.key))
	start, length, partial, err := byteRange(r.Header.Get("Range"), info.Size)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+length-1, info.Size))
	}
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	if r.Method == http.MethodHead {
		q.w.WriteHeader(status)
		return nil
	}
	rc, err := q.blobs.Open(r.Context(), q.bucket, q.key)
	if err != nil {
		return err
	}
	defer rc.Close()
	if start > 0 {
		if sk, ok := rc.(io.Seeker); ok {
			_, err = sk.Seek(start, io.SeekStart)
		} else {
			_, err = io.CopyN(io.Discard, rc, start)
		}
		if err != nil {
			return err
		}
	}
	q.w.WriteHeader(status)
	// Once the status is sent, an error can only cut the body short,
	// which the client sees by its length.
	io.CopyN(q.w, rc, length)
	return nil
}

func matchETag(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t == tag || `"`+t+`"` == tag || strings.TrimPrefix(t, "W/") == tag {
			return true
		}
	}
	return false
}

// byteRange parses a Range header of one range (S3 serves no more):
// bytes=a-b, a- or -n. No header, or one S3 ignores, is the whole object.
func byteRange(header string, size int64) (start, length int64, partial bool, err error) {
	spec, ok := strings.CutPrefix(header, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, size, false, nil
	}
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, size, false, nil
	}
	invalid := errorf(http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable")
	if a == "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil {
			return 0, size, false, nil
		}
		if n <= 0 || size == 0 {
			return 0, 0, false, invalid
		}
		n = min(n, size)
		return size - n, n, true, nil
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return 0, size, false, nil
	}
	last := size - 1
	if b != "" {
		if last, err = strconv.ParseInt(b, 10, 64); err != nil {
			return 0, size, false, nil
		}
		if last < first {
			return 0, size, false, nil
		}
		last = min(last, size-1)
	}
	if first >= size {
		return 0, 0, false, invalid
	}
	return first, last - first + 1, true, nil
}

// putObject stores an object of a bucket that exists, decoding the body as
// its X-Amz-Content-Sha256 says and checking every digest sent.
func (q *request) putObject() error {
	if err := q.mustExist(); err != nil {
		return err
	}
	if err := q.checkPlace(); err != nil {
		return err
	}
	body, err := q.payload()
	if err != nil {
		return err
	}
	if err := q.blobs.Put(q.r.Context(), q.bucket, q.key, body); err != nil {
		return uploadError(err)
	}
	info, err := q.blobs.Stat(q.r.Context(), q.bucket, q.key)
	if err != nil {
		return err
	}
	q.w.Header().Set("ETag", etag(info))
	q.w.WriteHeader(http.StatusOK)
	return nil
}

// checkPlace refuses a key the store cannot hold next to the bucket's
// others: one whose path runs through an object ("a/b" when "a" is one),
// or one that is a folder of objects ("a" when "a/b" is one). The store
// keeps keys as paths; S3 would keep both.
func (q *request) checkPlace() error {
	ctx := q.r.Context()
	for i := strings.IndexByte(q.key, '/'); i >= 0; i = nextSlash(q.key, i) {
		if _, err := q.blobs.Stat(ctx, q.bucket, q.key[:i]); err == nil {
			return errorf(http.StatusBadRequest, "InvalidArgument", "buildbatch keeps keys as paths, and %q is an object: %q cannot be below it", q.key[:i], q.key)
		} else if !errors.Is(err, blob.ErrNotFound) {
			return err
		}
	}
	keys, err := q.blobs.List(ctx, q.bucket, q.key)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k != q.key {
			return errorf(http.StatusBadRequest, "InvalidArgument", "buildbatch keeps keys as paths, and %q is a folder of objects (%q): it cannot also be an object", q.key, k)
		}
	}
	return nil
}

func nextSlash(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '/')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// uploadError turns a body that failed its checks into S3's error.
func uploadError(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return err
}

// deleteObject deletes an object; a missing one is no error, as in S3.
// (The store's Delete removes a whole folder: only an object is deleted.)
func (q *request) deleteObject() error {
	if err := q.mustExist(); err != nil {
		return err
	}
	if err := q.deleteKey(q.key); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (q *request) deleteKey(key string) error {
	ctx := q.r.Context()
	if _, err := q.blobs.Stat(ctx, q.bucket, key); errors.Is(err, blob.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	return q.blobs.Delete(ctx, q.bucket, key)
}

// deleteObjects answers POST /<bucket>?delete.
func (q *request) deleteObjects() error {
	if err := q.mustExist(); err != nil {
		return err
	}
	data, err := q.readBody(2 << 20)
	if err != nil {
		return err
	}
	var in struct {
		Quiet   bool
		Objects []struct{ Key string } `xml:"Object"`
	}
	if err := xml.Unmarshal(data, &in); err != nil || len(in.Objects) == 0 || len(in.Objects) > 1000 {
		return errorf(http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.")
	}
	type deleted struct{ Key string }
	type failed struct{ Key, Code, Message string }
	out := struct {
		XMLName xml.Name  `xml:"DeleteResult"`
		Xmlns   string    `xml:"xmlns,attr"`
		Deleted []deleted `xml:"Deleted"`
		Errors  []failed  `xml:"Error"`
	}{Xmlns: xmlns}
	for _, o := range in.Objects {
		sub := *q
		sub.key = o.Key
		err := sub.checkKey()
		if err == nil {
			err = q.deleteKey(o.Key)
		}
		if err == nil {
			if !in.Quiet {
				out.Deleted = append(out.Deleted, deleted{o.Key})
			}
			continue
		}
		e := q.s3Error(err)
		out.Errors = append(out.Errors, failed{o.Key, e.Code, e.Message})
	}
	return q.writeXML(out)
}
