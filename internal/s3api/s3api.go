// Package s3api serves the artifact store as S3 on the CodeBuild port, so
// that `aws s3 cp/ls/mb`, boto3's transfers and the SDKs fetch artifacts
// and upload S3 sources: buckets (list, create, head, delete, location),
// objects (list v1 and v2, head, get with ranges and conditions, put with
// every payload mode current SDKs send, delete one or many) and multipart
// uploads, with S3's XML errors, path-style and virtual-hosted
// (<bucket>.localhost) addressing.
//
// A bucket belongs to the account (and region) that created it or first
// wrote to it (internal/tenancy), whether through S3 or a build; another
// account gets AccessDenied. The store keeps keys as clean paths (no
// empty, "." or ".." segments, no trailing slash, and a key cannot also
// be a folder of others); keys it cannot keep are refused with
// InvalidArgument. Objects keep no content type or metadata: a GET answers
// the type its extension suggests. ETags are opaque (size and time of the
// last write), the same on HEAD, GET and lists, as clients compare them.
package s3api

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/blob"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/sigv4"
	"github.com/buildbatch/buildbatch/internal/store"
	"github.com/buildbatch/buildbatch/internal/tenancy"
)

// Service is S3's SigV4 service name.
const Service = "s3"

// Options configures the server.
type Options struct {
	Store    store.Store
	Blob     blob.Store
	Verifier *sigv4.Verifier // Service "s3", S3 true
	Log      *slog.Logger
	// MaxObjectBytes bounds an object (a PUT, or a completed multipart
	// upload); 0 means 5 GiB, S3's limit for one PUT.
	MaxObjectBytes int64
	// Reserved are buckets of buildbatch's own (build logs, LOCAL caches):
	// no S3 client reaches them.
	Reserved []string
}

// Server answers S3 requests.
type Server struct{ o Options }

// New returns a server.
func New(o Options) *Server {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.MaxObjectBytes == 0 {
		o.MaxObjectBytes = 5 << 30
	}
	return &Server{o: o}
}

// Error is an S3 error.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

var (
	errNoSuchBucket = errorf(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist.")
	errNoSuchKey    = errorf(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	errNoSuchUpload = errorf(http.StatusNotFound, "NoSuchUpload", "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
)

// request is one S3 request being answered.
type request struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	id     string
	scope  store.Scope
	bucket string
	key    string
	blobs  *tenancy.Guard
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := &request{s: s, w: w, r: r, id: strings.ToUpper(strings.ReplaceAll(ident.UUID(), "-", ""))[:16]}
	if r.ContentLength == 0 && strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		// Go answers 100 Continue when a handler reads a body, and there
		// is none to read here. S3 answers it all the same, and botocore
		// counts on it: given a final answer at once, it keeps that
		// answer's status for the connection's next request.
		w.WriteHeader(http.StatusContinue)
	}
	w.Header().Set("x-amz-request-id", q.id)
	if err := q.serve(); err != nil {
		q.fail(err)
	}
}

// s3Error is what S3 answers for an error.
func (q *request) s3Error(err error) *Error {
	var e *Error
	var denied *tenancy.DeniedError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &denied):
		return errorf(http.StatusForbidden, "AccessDenied", "%s", denied.Error())
	case errors.Is(err, blob.ErrNotFound):
		return errNoSuchKey
	}
	q.s.o.Log.Error("S3 request failed", "method", q.r.Method, "path", q.r.URL.Path, "request_id", q.id, "err", err)
	return errorf(http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again. (request %s)", q.id)
}

func (q *request) fail(err error) {
	if q.r.Context().Err() != nil {
		return // the client went away
	}
	e := q.s3Error(err)
	h := q.w.Header()
	h.Del("ETag")
	h.Del("Last-Modified")
	h.Del("Content-Length")
	h.Set("Content-Type", "application/xml")
	q.w.WriteHeader(e.Status)
	if q.r.Method == http.MethodHead {
		return // HEAD errors have no body
	}
	resource := "/" + q.bucket
	if q.key != "" {
		resource += "/" + q.key
	}
	body, _ := xml.Marshal(struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string
		Message   string
		Resource  string
		RequestId string
	}{Code: e.Code, Message: e.Message, Resource: resource, RequestId: q.id})
	q.w.Write([]byte(xml.Header))
	q.w.Write(body)
}

// writeXML answers 200 with an XML document.
func (q *request) writeXML(v any) error {
	body, err := xml.Marshal(v)
	if err != nil {
		return err
	}
	q.w.Header().Set("Content-Type", "application/xml")
	q.w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(body)))
	q.w.WriteHeader(http.StatusOK)
	q.w.Write([]byte(xml.Header))
	q.w.Write(body)
	return nil
}

// xmlns is S3's XML namespace.
const xmlns = "http://s3.amazonaws.com/doc/2006-03-01/"

func (q *request) serve() error {
	r := q.r
	if err := q.address(); err != nil {
		return err
	}
	if err := q.authenticate(); err != nil {
		return err
	}
	if q.bucket != "" {
		if !validBucket(q.bucket) {
			return errorf(http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid: 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit.")
		}
		if slices.Contains(q.s.o.Reserved, q.bucket) {
			return errorf(http.StatusForbidden, "AccessDenied", "Access Denied: bucket %s is buildbatch's own", q.bucket)
		}
	}
	q.blobs = tenancy.New(q.s.o.Blob, q.s.o.Store, q.scope)
	query := r.URL.Query()
	for _, sub := range []string{"acl", "tagging", "versioning", "policy", "cors", "lifecycle", "website", "encryption", "replication",
		"notification", "logging", "accelerate", "requestPayment", "object-lock", "retention", "legal-hold", "torrent", "versions",
		"inventory", "metrics", "analytics", "intelligent-tiering", "ownershipControls", "publicAccessBlock", "select", "restore", "attributes"} {
		if query.Has(sub) {
			return errorf(http.StatusNotImplemented, "NotImplemented", "buildbatch's S3 does not implement ?%s; it serves buckets, objects and multipart uploads", sub)
		}
	}
	if r.Header.Get("X-Amz-Copy-Source") != "" {
		return errorf(http.StatusNotImplemented, "NotImplemented", "buildbatch's S3 does not copy objects (x-amz-copy-source); download and upload instead")
	}
	switch {
	case q.bucket == "":
		if r.Method != http.MethodGet {
			return q.methodNotAllowed()
		}
		return q.listBuckets()
	case q.key == "":
		switch {
		case r.Method == http.MethodPut:
			return q.createBucket()
		case r.Method == http.MethodHead:
			return q.headBucket()
		case r.Method == http.MethodDelete:
			return q.deleteBucket()
		case r.Method == http.MethodGet && query.Has("location"):
			return q.bucketLocation()
		case r.Method == http.MethodGet && query.Has("uploads"):
			return errorf(http.StatusNotImplemented, "NotImplemented", "buildbatch's S3 does not list multipart uploads")
		case r.Method == http.MethodGet:
			return q.listObjects(query)
		case r.Method == http.MethodPost && query.Has("delete"):
			return q.deleteObjects()
		}
		return q.methodNotAllowed()
	}
	if err := q.checkKey(); err != nil {
		return err
	}
	switch {
	case r.Method == http.MethodPut && query.Has("uploadId"):
		return q.uploadPart(query)
	case r.Method == http.MethodPut:
		return q.putObject()
	case r.Method == http.MethodGet && query.Has("uploadId"):
		return errorf(http.StatusNotImplemented, "NotImplemented", "buildbatch's S3 does not list parts")
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return q.getObject()
	case r.Method == http.MethodDelete && query.Has("uploadId"):
		return q.abortUpload(query.Get("uploadId"))
	case r.Method == http.MethodDelete:
		return q.deleteObject()
	case r.Method == http.MethodPost && query.Has("uploads"):
		return q.createUpload()
	case r.Method == http.MethodPost && query.Has("uploadId"):
		return q.completeUpload(query.Get("uploadId"))
	}
	return q.methodNotAllowed()
}

func (q *request) methodNotAllowed() error {
	return errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
}

// address finds the bucket and key: virtual-hosted (<bucket>.localhost,
// <bucket>.s3.localhost) or path-style (/<bucket>/<key>).
func (q *request) address() error {
	host := q.r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	path := q.r.URL.Path
	label := ""
	if l, ok := strings.CutSuffix(host, ".s3.localhost"); ok {
		label = l
	} else if l, ok := strings.CutSuffix(host, ".localhost"); ok && l != "s3" && !strings.Contains(l, ".") {
		label = l
	}
	if label != "" {
		q.bucket, q.key = label, strings.TrimPrefix(path, "/")
		return nil
	}
	rest := strings.TrimPrefix(path, "/")
	q.bucket, q.key, _ = strings.Cut(rest, "/")
	return nil
}

// checkKey refuses keys the store cannot keep as they are.
func (q *request) checkKey() error {
	k := q.key
	bad := strings.HasPrefix(k, "/") || strings.HasSuffix(k, "/") || strings.Contains(k, "//") || len(k) > 1024
	for _, seg := range strings.Split(k, "/") {
		bad = bad || seg == "." || seg == ".."
	}
	if bad {
		return errorf(http.StatusBadRequest, "InvalidArgument", "buildbatch keeps keys as clean paths: no leading or trailing '/', no '//', no '.' or '..' segments, at most 1024 bytes; %q is not one", k)
	}
	return nil
}

var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// validBucket is S3's rule for bucket names (which also keeps every
// request away from the store's own names, such as the uploads bucket).
func validBucket(name string) bool {
	return bucketName.MatchString(name) && !strings.Contains(name, "..")
}

// authenticate checks the signature; anonymous requests are refused.
func (q *request) authenticate() error {
	r := q.r
	if r.Header.Get("Authorization") == "" {
		if r.URL.Query().Has("X-Amz-Signature") {
			return errorf(http.StatusNotImplemented, "NotImplemented", "buildbatch's S3 does not accept presigned URLs; sign the request")
		}
		return errorf(http.StatusForbidden, "AccessDenied", "Anonymous access is not allowed: sign the request (any access key works in local mode)")
	}
	if r.Header.Get("X-Amz-Content-Sha256") == "" {
		return errorf(http.StatusBadRequest, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
	}
	id, err := q.s.o.Verifier.Verify(r, nil)
	if err != nil {
		var se *sigv4.Error
		if errors.As(err, &se) {
			code := "SignatureDoesNotMatch"
			switch se.Code {
			case sigv4.CodeUnrecognized:
				code = "InvalidAccessKeyId"
			case sigv4.CodeMissingToken, sigv4.CodeIncomplete:
				code = "AccessDenied"
			}
			if strings.Contains(se.Message, "Signature expired") || strings.Contains(se.Message, "not yet current") {
				code = "RequestTimeTooSkewed"
			}
			if strings.Contains(se.Message, "scoped to correct service") {
				se.Message = "Credential should be scoped to correct service: 's3'."
			}
			return errorf(http.StatusForbidden, code, "%s", se.Message)
		}
		return err
	}
	q.scope = store.Scope{Account: id.Account, Region: id.Region}
	return nil
}

// bucketState is what the store knows of a bucket: its owner, and whether
// it exists (owned, or holding objects put there some other way).
func (q *request) bucketState(ctx context.Context) (owner store.Scope, owned, exists bool, err error) {
	err = q.s.o.Store.View(ctx, func(tx store.Tx) error {
		owner, owned, err = tx.BucketOwner(ctx, q.bucket)
		return err
	})
	if err != nil || owned {
		return owner, owned, owned, err
	}
	keys, err := q.s.o.Blob.List(ctx, q.bucket, "")
	return owner, false, len(keys) > 0, err
}

// mustExist answers NoSuchBucket for a bucket that does not exist, and
// AccessDenied for another's.
func (q *request) mustExist() error {
	owner, owned, exists, err := q.bucketState(q.r.Context())
	switch {
	case err != nil:
		return err
	case !exists:
		return errNoSuchBucket
	case owned && owner.Account != q.scope.Account:
		return errorf(http.StatusForbidden, "AccessDenied", "Access Denied: bucket %s belongs to another account", q.bucket)
	}
	return nil
}

// etag is an object's opaque ETag: the same for the same write.
func etag(info blob.Info) string {
	sum := md5.Sum([]byte(strconv.FormatInt(info.Size, 10) + ":" + strconv.FormatInt(info.Modified.UnixNano(), 10)))
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// isoTime is S3's time in XML.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
