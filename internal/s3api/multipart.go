package s3api

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/blob"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/store"
)

// uploads is the bucket of the blob store where multipart uploads wait
// for their completion: <upload id>/upload (what it is for) and
// <upload id>/<part number>. Its name cannot be an S3 bucket's (an
// underscore), so no client reaches it.
const uploads = "buildbatch_uploads"

// minPart is the smallest part but the last, as in S3.
const minPart = 5 << 20

type upload struct {
	Bucket  string      `json:"bucket"`
	Key     string      `json:"key"`
	Owner   store.Scope `json:"owner"`
	Started time.Time   `json:"started"`
}

func (q *request) createUpload() error {
	if err := q.mustExist(); err != nil {
		return err
	}
	if err := q.checkPlace(); err != nil {
		return err
	}
	ctx := q.r.Context()
	id := strings.ReplaceAll(ident.UUID(), "-", "")
	meta, _ := json.Marshal(upload{Bucket: q.bucket, Key: q.key, Owner: q.scope, Started: time.Now().UTC()})
	if err := q.s.o.Blob.Put(ctx, uploads, id+"/upload", bytes.NewReader(meta)); err != nil {
		return err
	}
	return q.writeXML(struct {
		XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
		Xmlns    string   `xml:"xmlns,attr"`
		Bucket   string
		Key      string
		UploadId string
	}{Xmlns: xmlns, Bucket: q.bucket, Key: q.key, UploadId: id})
}

// upload finds an upload of this bucket and key, started by the caller.
func (q *request) upload(id string) (*upload, error) {
	if id == "" || strings.Trim(id, "0123456789abcdef") != "" {
		return nil, errNoSuchUpload
	}
	rc, err := q.s.o.Blob.Open(q.r.Context(), uploads, id+"/upload")
	if errors.Is(err, blob.ErrNotFound) {
		return nil, errNoSuchUpload
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var u upload
	if err := json.NewDecoder(rc).Decode(&u); err != nil {
		return nil, err
	}
	if u.Bucket != q.bucket || u.Key != q.key {
		return nil, errNoSuchUpload
	}
	if u.Owner != q.scope {
		return nil, errorf(http.StatusForbidden, "AccessDenied", "Access Denied: the upload belongs to another account")
	}
	return &u, nil
}

func partNumber(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 10000 {
		return 0, errorf(http.StatusBadRequest, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
	}
	return n, nil
}

func (q *request) uploadPart(query url.Values) error {
	id := query.Get("uploadId")
	n, err := partNumber(query.Get("partNumber"))
	if err != nil {
		return err
	}
	if _, err := q.upload(id); err != nil {
		return err
	}
	body, err := q.payload()
	if err != nil {
		return err
	}
	ctx := q.r.Context()
	key := id + "/" + strconv.Itoa(n)
	if err := q.s.o.Blob.Put(ctx, uploads, key, body); err != nil {
		return uploadError(err)
	}
	info, err := q.s.o.Blob.Stat(ctx, uploads, key)
	if err != nil {
		return err
	}
	q.w.Header().Set("ETag", etag(info))
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (q *request) abortUpload(id string) error {
	if _, err := q.upload(id); err != nil {
		return err
	}
	if err := q.s.o.Blob.Delete(q.r.Context(), uploads, id); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

// completeUpload puts the object from the parts the client lists (in
// ascending order, each with the ETag its upload answered), then forgets
// the upload.
func (q *request) completeUpload(id string) error {
	if _, err := q.upload(id); err != nil {
		return err
	}
	data, err := q.readBody(4 << 20)
	if err != nil {
		return err
	}
	var in struct {
		Parts []struct {
			ETag       string
			PartNumber int
		} `xml:"Part"`
	}
	if err := xml.Unmarshal(data, &in); err != nil || len(in.Parts) == 0 {
		return errorf(http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.")
	}
	for i, p := range in.Parts {
		if i > 0 && p.PartNumber <= in.Parts[i-1].PartNumber {
			return errorf(http.StatusBadRequest, "InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order by part number.")
		}
	}
	ctx := q.r.Context()
	var total int64
	keys := make([]string, len(in.Parts))
	for i, p := range in.Parts {
		key := id + "/" + strconv.Itoa(p.PartNumber)
		info, err := q.s.o.Blob.Stat(ctx, uploads, key)
		if errors.Is(err, blob.ErrNotFound) || err == nil && strings.Trim(p.ETag, `"`) != strings.Trim(etag(info), `"`) {
			return errorf(http.StatusBadRequest, "InvalidPart", "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.")
		}
		if err != nil {
			return err
		}
		if i < len(in.Parts)-1 && info.Size < minPart {
			return errorf(http.StatusBadRequest, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.")
		}
		total += info.Size
		keys[i] = key
	}
	if total > q.s.o.MaxObjectBytes {
		return errorf(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size (%d bytes).", q.s.o.MaxObjectBytes)
	}
	if err := q.checkPlace(); err != nil {
		return err
	}
	parts := &partsReader{ctx: ctx, blob: q.s.o.Blob, keys: keys}
	defer parts.Close()
	if err := q.blobs.Put(ctx, q.bucket, q.key, parts); err != nil {
		return err
	}
	if err := q.s.o.Blob.Delete(ctx, uploads, id); err != nil {
		q.s.o.Log.Warn("removing a completed upload's parts", "upload", id, "err", err)
	}
	info, err := q.blobs.Stat(ctx, q.bucket, q.key)
	if err != nil {
		return err
	}
	return q.writeXML(struct {
		XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
		Xmlns    string   `xml:"xmlns,attr"`
		Location string
		Bucket   string
		Key      string
		ETag     string
	}{Xmlns: xmlns, Location: "/" + q.bucket + "/" + q.key, Bucket: q.bucket, Key: q.key, ETag: etag(info)})
}

// partsReader reads the parts one after the other, each opened when the
// one before ends (an upload may have 10,000 parts).
type partsReader struct {
	ctx  context.Context
	blob blob.Store
	keys []string
	cur  io.ReadCloser
}

func (p *partsReader) Read(b []byte) (int, error) {
	for {
		if p.cur == nil {
			if len(p.keys) == 0 {
				return 0, io.EOF
			}
			rc, err := p.blob.Open(p.ctx, uploads, p.keys[0])
			if err != nil {
				return 0, err
			}
			p.cur, p.keys = rc, p.keys[1:]
		}
		n, err := p.cur.Read(b)
		if err == io.EOF {
			p.cur.Close()
			p.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (p *partsReader) Close() error {
	if p.cur != nil {
		return p.cur.Close()
	}
	return nil
}
