// Package s3 is a blob.Store in one bucket of S3 or of an S3-compatible
// server (MinIO, Ceph, versitygw, …): blob bucket B's key K is the object
// <prefix>/B/K of that bucket (B/K without a prefix). It passes the same
// conformance suite as the filesystem store (package blobtest), so List
// and Delete work on path prefixes ("a/b" covers "a/b" and "a/b/…", never
// "a/bc"), keys are cleaned paths, and a Put is all or nothing.
//
// Objects whose keys are not clean paths (written by other S3 clients:
// folder markers ending in /, keys with // or . elements) are not listed;
// Delete of a folder removes them too.
package s3

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/buildbatch/buildbatch/internal/blob"
)

// Store is the S3 store.
type Store struct {
	client *s3.Client
	o      Options
	region string
}

var _ blob.Store = (*Store)(nil)

// Upload sizes. An object of up to partSize bytes is one PutObject from
// memory; a larger one is a multipart upload of partSize parts, read and
// sent one at a time through a single reused buffer. So a Put holds at
// most one part in memory whatever the object's size and whatever the
// reader (a pipe, a zip being written, a file), needs no temporary file,
// and a failed or canceled Put aborts its upload, leaving the previous
// object. The SDK's upload managers would send parts concurrently but keep
// several parts in memory, and are a separate module (feature/s3/manager,
// deprecated, or transfermanager, still v0): one part at a time is plenty
// for build artifacts and keeps the dependency to the S3 client itself.
// Variables, so that tests can make multipart uploads small.
var (
	partSize = 16 << 20 // 16 MiB; S3 wants at least 5 MiB but the last
	maxParts = 10000    // S3's limit: objects up to 160 GiB
)

// New connects to the bucket of o and checks that it is there (HeadBucket):
// otherwise it fails naming the endpoint and the bucket.
func New(ctx context.Context, o Options) (*Store, error) {
	if o.Bucket == "" {
		return nil, errors.New("s3: no bucket")
	}
	if err := checkBucketName(o.Bucket); err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	if o.Prefix != "" {
		if err := checkPrefix(o.Prefix); err != nil {
			return nil, fmt.Errorf("s3: %w", err)
		}
	}
	if o.Endpoint != "" {
		if err := checkEndpoint(o.Endpoint); err != nil {
			return nil, fmt.Errorf("s3: endpoint: %w", err)
		}
	}
	o.PathStyle = o.PathStyle || needsPathStyle(o.Endpoint)
	region := resolveRegion(o.Region)
	opts := []func(*config.LoadOptions) error{config.WithRegion(region)}
	if o.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(o.Credentials))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: AWS configuration: %w", err)
	}
	// Checksums only where S3 requires them (DeleteObjects), unless the
	// environment or the config file says otherwise: the SDK's default
	// since 2025, a CRC32 on every upload, is not understood by every
	// S3-compatible server. Integrity does not suffer: over http the
	// signature covers the payload's SHA-256, over https TLS protects it.
	if cfg.RequestChecksumCalculation == aws.RequestChecksumCalculationUnset {
		cfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	}
	if cfg.ResponseChecksumValidation == aws.ResponseChecksumValidationUnset {
		cfg.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.PathStyle
	})
	s := &Store{client: client, o: o, region: region}
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := client.HeadBucket(hctx, &s3.HeadBucketInput{Bucket: aws.String(o.Bucket)}); err != nil {
		return nil, fmt.Errorf("s3: bucket %s at %s is not reachable%s: %w", o.Bucket, s.endpoint(), hint(err), err)
	}
	return s, nil
}

// resolveRegion returns region, else AWS_REGION, else AWS_DEFAULT_REGION,
// else us-east-1.
func resolveRegion(region string) string {
	for _, env := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if region == "" {
			region = os.Getenv(env)
		}
	}
	if region == "" {
		region = "us-east-1"
	}
	return region
}

// hint explains the HTTP status of a failed HeadBucket, which has no body.
func hint(err error) string {
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		return ""
	}
	switch re.HTTPStatusCode() {
	case http.StatusNotFound:
		return " (no such bucket)"
	case http.StatusForbidden:
		return " (access denied: check the credentials and the region)"
	case http.StatusMovedPermanently, http.StatusBadRequest:
		return " (is the region right?)"
	}
	return ""
}

func (s *Store) endpoint() string {
	if s.o.Endpoint == "" {
		return "AWS S3 (" + s.region + ")"
	}
	return s.o.Endpoint
}

// Describe says where the objects are, for the server's start-up lines:
// "s3 (bucket B, prefix P, endpoint E, region R, path-style)".
func (s *Store) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "s3 (bucket %s", s.o.Bucket)
	if s.o.Prefix != "" {
		fmt.Fprintf(&b, ", prefix %s", s.o.Prefix)
	}
	fmt.Fprintf(&b, ", endpoint %s, region %s", s.endpoint(), s.region)
	if s.o.PathStyle {
		b.WriteString(", path-style")
	}
	b.WriteString(")")
	return b.String()
}

// Options returns the options of the store, with the region resolved.
func (s *Store) Options() Options {
	o := s.o
	o.Region = s.region
	return o
}

// folder returns the object key prefix of a blob bucket: "<prefix>/<bucket>/".
func (s *Store) folder(bucket string) (string, error) {
	if bucket == "" || strings.ContainsAny(bucket, "/\\") || bucket == "." || bucket == ".." {
		return "", fmt.Errorf("invalid bucket name %q", bucket)
	}
	if s.o.Prefix == "" {
		return bucket + "/", nil
	}
	return s.o.Prefix + "/" + bucket + "/", nil
}

// cleanKey cleans a key or prefix as package blob says: "" for the whole
// bucket, an error for one that climbs out of it.
func cleanKey(key string) (string, error) {
	c := path.Clean("/" + key)
	if c == "/" && key != "" && key != "/" {
		return "", fmt.Errorf("invalid key %q", key)
	}
	return c[1:], nil
}

// object returns the folder of bucket and the clean key.
func (s *Store) object(bucket, key string) (folder, clean string, err error) {
	if folder, err = s.folder(bucket); err != nil {
		return "", "", err
	}
	if clean, err = cleanKey(key); err != nil {
		return "", "", err
	}
	return folder, clean, nil
}

func (s *Store) loc(key string) string { return "s3://" + s.o.Bucket + "/" + key }

// notFound reports whether err says that an object is missing. A missing
// S3 bucket (NoSuchBucket) is not: that is a broken configuration.
func notFound(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		}
	}
	var nk *types.NoSuchKey
	var nf *types.NotFound
	return errors.As(err, &nk) || errors.As(err, &nf)
}

// ctxReader fails reads once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

var bufPool sync.Pool // *[]byte, of at most partSize

// readUpTo reads r into buf until it has n bytes or r ends, growing buf
// as it fills (so a small object takes little memory).
func readUpTo(r io.Reader, buf []byte, n int) ([]byte, error) {
	buf = buf[:0]
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(max(cap(buf), 64<<10), n-len(buf)))
		}
		m, err := r.Read(buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// Put implements blob.Store (see partSize).
func (s *Store) Put(ctx context.Context, bucket, key string, r io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	folder, k, err := s.object(bucket, key)
	if err != nil {
		return err
	}
	if k == "" {
		return fmt.Errorf("put s3://%s/: empty key", bucket)
	}
	obj := folder + k
	br := bufio.NewReaderSize(ctxReader{ctx, r}, 64<<10)
	bp, _ := bufPool.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer func() {
		if cap(*bp) <= partSize+partSize/4 {
			bufPool.Put(bp)
		}
	}()
	buf, err := readUpTo(br, *bp, partSize)
	*bp = buf
	if err != nil {
		return fmt.Errorf("put %s: %w", s.loc(obj), err)
	}
	if _, err := br.Peek(1); err == io.EOF {
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(s.o.Bucket), Key: aws.String(obj),
			Body: newBody(buf), ContentLength: aws.Int64(int64(len(buf))),
		})
		if err != nil {
			return fmt.Errorf("put %s: %w", s.loc(obj), err)
		}
		return nil
	} else if err != nil {
		return fmt.Errorf("put %s: %w", s.loc(obj), err)
	}
	return s.multipart(ctx, obj, br, bp)
}

// multipart uploads obj in parts, the first of which is in *bp, the rest
// in br.
func (s *Store) multipart(ctx context.Context, obj string, br *bufio.Reader, bp *[]byte) (err error) {
	up, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(s.o.Bucket), Key: aws.String(obj)})
	if err != nil {
		return fmt.Errorf("put %s: %w", s.loc(obj), err)
	}
	defer func() {
		if err != nil {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if _, aerr := s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
				Bucket: aws.String(s.o.Bucket), Key: aws.String(obj), UploadId: up.UploadId,
			}); aerr != nil {
				err = errors.Join(err, fmt.Errorf("abort the upload: %w", aerr))
			}
			err = fmt.Errorf("put %s: %w", s.loc(obj), err)
		}
	}()
	var parts []types.CompletedPart
	for n := int32(1); ; n++ {
		if int(n) > maxParts {
			return fmt.Errorf("object larger than %d parts of %d bytes", maxParts, partSize)
		}
		buf := *bp
		out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(s.o.Bucket), Key: aws.String(obj), UploadId: up.UploadId,
			PartNumber: aws.Int32(n), Body: newBody(buf), ContentLength: aws.Int64(int64(len(buf))),
		})
		if err != nil {
			return err
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
		if _, err := br.Peek(1); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		if *bp, err = readUpTo(br, buf, partSize); err != nil {
			return err
		}
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(s.o.Bucket), Key: aws.String(obj), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	return err
}

// newBody is a seekable body, which the SDK can hash and resend.
func newBody(b []byte) io.ReadSeeker { return bytes.NewReader(b) }

// Open implements blob.Store: the object streams from S3 as it is read.
func (s *Store) Open(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	folder, k, err := s.object(bucket, key)
	if err != nil {
		return nil, err
	}
	if k == "" {
		return nil, fmt.Errorf("s3://%s/: %w", bucket, blob.ErrNotFound)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.o.Bucket), Key: aws.String(folder + k)})
	if notFound(err) {
		return nil, fmt.Errorf("s3://%s/%s: %w", bucket, key, blob.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", s.loc(folder+k), err)
	}
	return out.Body, nil
}

// Stat implements blob.Store: a HeadObject.
func (s *Store) Stat(ctx context.Context, bucket, key string) (blob.Info, error) {
	if err := ctx.Err(); err != nil {
		return blob.Info{}, err
	}
	folder, k, err := s.object(bucket, key)
	if err != nil {
		return blob.Info{}, err
	}
	if k == "" {
		return blob.Info{}, fmt.Errorf("s3://%s/: %w", bucket, blob.ErrNotFound)
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.o.Bucket), Key: aws.String(folder + k)})
	if notFound(err) {
		return blob.Info{}, fmt.Errorf("s3://%s/%s: %w", bucket, key, blob.ErrNotFound)
	}
	if err != nil {
		return blob.Info{}, fmt.Errorf("head %s: %w", s.loc(folder+k), err)
	}
	return blob.Info{Size: aws.ToInt64(out.ContentLength), Modified: aws.ToTime(out.LastModified)}, nil
}

// List implements blob.Store: a HeadObject for the object named prefix,
// and a ListObjectsV2 of its folder.
func (s *Store) List(ctx context.Context, bucket, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	folder, p, err := s.object(bucket, prefix)
	if err != nil {
		return nil, err
	}
	var keys []string
	under := folder
	if p != "" {
		_, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.o.Bucket), Key: aws.String(folder + p)})
		switch {
		case err == nil:
			keys = append(keys, p)
		case !notFound(err):
			return nil, fmt.Errorf("list %s: %w", s.loc(folder+p), err)
		}
		under = folder + p + "/"
	}
	err = s.list(ctx, under, func(obj string) {
		k := strings.TrimPrefix(obj, folder)
		if c, err := cleanKey(k); err == nil && c == k && k != "" {
			keys = append(keys, k)
		}
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(keys)
	return slices.Compact(keys), nil
}

// list calls f with the key of every object whose key begins with prefix.
func (s *Store) list(ctx context.Context, prefix string, f func(string)) error {
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.o.Bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", s.loc(prefix), err)
		}
		for _, o := range page.Contents {
			if o.Key != nil && strings.HasPrefix(*o.Key, prefix) {
				f(*o.Key)
			}
		}
	}
	return nil
}

// deleteBatch is the most keys one DeleteObjects takes.
const deleteBatch = 1000

// Delete implements blob.Store: the object named prefix and everything
// in its folder, listed first and then deleted with DeleteObjects, a
// thousand at a time.
func (s *Store) Delete(ctx context.Context, bucket, prefix string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	folder, p, err := s.object(bucket, prefix)
	if err != nil {
		return err
	}
	var objs []string
	under := folder
	if p != "" {
		objs = append(objs, folder+p) // S3 deletes a missing key quietly
		under = folder + p + "/"
	}
	if err := s.list(ctx, under, func(obj string) { objs = append(objs, obj) }); err != nil {
		return err
	}
	for batch := range slices.Chunk(objs, deleteBatch) {
		ids := make([]types.ObjectIdentifier, len(batch))
		for i, o := range batch {
			ids[i] = types.ObjectIdentifier{Key: aws.String(o)}
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(s.o.Bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return fmt.Errorf("delete %s: %w", s.loc(under), err)
		}
		var errs []error
		for _, e := range out.Errors {
			if aws.ToString(e.Code) == "NoSuchKey" {
				continue
			}
			errs = append(errs, fmt.Errorf("delete %s: %s: %s", s.loc(aws.ToString(e.Key)), aws.ToString(e.Code), aws.ToString(e.Message)))
			if len(errs) == 5 {
				errs = append(errs, fmt.Errorf("and %d more", len(out.Errors)-5))
				break
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
	}
	return nil
}
