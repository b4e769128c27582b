package s3api

import (
	"encoding/xml"
	"net/http"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/store"
)

type owner struct {
	ID          string
	DisplayName string
}

func (q *request) listBuckets() error {
	var buckets []store.Bucket
	ctx := q.r.Context()
	err := q.s.o.Store.View(ctx, func(tx store.Tx) (err error) {
		buckets, err = tx.BucketList(ctx, q.scope.Account)
		return err
	})
	if err != nil {
		return err
	}
	type bucket struct {
		Name         string
		CreationDate string
		BucketRegion string
	}
	out := struct {
		XMLName xml.Name `xml:"ListAllMyBucketsResult"`
		Xmlns   string   `xml:"xmlns,attr"`
		Owner   owner
		Buckets []bucket `xml:"Buckets>Bucket"`
	}{Xmlns: xmlns, Owner: owner{ID: q.scope.Account, DisplayName: q.scope.Account}}
	prefix := q.r.URL.Query().Get("prefix")
	for _, b := range buckets {
		if strings.HasPrefix(b.Name, prefix) {
			out.Buckets = append(out.Buckets, bucket{Name: b.Name, CreationDate: isoTime(b.Created), BucketRegion: b.Owner.Region})
		}
	}
	return q.writeXML(out)
}

// createBucket makes the caller (its account, in the request's region)
// the bucket's owner. As in us-east-1, creating a bucket one already owns
// succeeds; another account's is BucketAlreadyExists.
func (q *request) createBucket() error {
	body, err := q.readBody(64 << 10)
	if err != nil {
		return err
	}
	region := q.scope.Region
	if len(strings.TrimSpace(string(body))) > 0 {
		var cfg struct {
			LocationConstraint string
		}
		if err := xml.Unmarshal(body, &cfg); err != nil {
			return errorf(http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.")
		}
		if cfg.LocationConstraint != "" && cfg.LocationConstraint != region {
			return errorf(http.StatusBadRequest, "IllegalLocationConstraintException",
				"The %s location constraint is incompatible for the region specific endpoint this request was sent to (%s).", cfg.LocationConstraint, region)
		}
	}
	ctx := q.r.Context()
	_, owned, exists, err := q.bucketState(ctx)
	if err != nil {
		return err
	}
	if exists && !owned {
		return errorf(http.StatusConflict, "BucketAlreadyExists", "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.")
	}
	var got store.Scope
	err = q.s.o.Store.Update(ctx, func(tx store.Tx) (err error) {
		got, err = tx.BucketClaim(ctx, q.bucket, q.scope, time.Now())
		return err
	})
	if err != nil {
		return err
	}
	switch {
	case got.Account != q.scope.Account:
		return errorf(http.StatusConflict, "BucketAlreadyExists", "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.")
	case owned && (got.Region != "us-east-1" || q.scope.Region != "us-east-1"):
		// us-east-1 answers 200 to its owner, for compatibility, as S3 does.
		return errorf(http.StatusConflict, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it (in %s).", got.Region)
	}
	q.w.Header().Set("Location", "/"+q.bucket)
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (q *request) headBucket() error {
	owner, owned, exists, err := q.bucketState(q.r.Context())
	switch {
	case err != nil:
		return err
	case !exists:
		return errNoSuchBucket
	case owned && owner.Account != q.scope.Account:
		return errorf(http.StatusForbidden, "AccessDenied", "Access Denied")
	}
	region := q.scope.Region
	if owned {
		region = owner.Region
	}
	q.w.Header().Set("x-amz-bucket-region", region)
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (q *request) bucketLocation() error {
	owner, owned, _, err := q.bucketState(q.r.Context())
	if err != nil {
		return err
	}
	if err := q.mustExist(); err != nil {
		return err
	}
	region := q.scope.Region
	if owned {
		region = owner.Region
	}
	if region == "us-east-1" {
		region = "" // as S3 answers for us-east-1
	}
	return q.writeXML(struct {
		XMLName xml.Name `xml:"LocationConstraint"`
		Xmlns   string   `xml:"xmlns,attr"`
		Region  string   `xml:",chardata"`
	}{Xmlns: xmlns, Region: region})
}

// deleteBucket deletes an empty bucket of the caller's: it is unowned
// again.
func (q *request) deleteBucket() error {
	if err := q.mustExist(); err != nil {
		return err
	}
	ctx := q.r.Context()
	keys, err := q.blobs.List(ctx, q.bucket, "")
	if err != nil {
		return err
	}
	if len(keys) > 0 {
		return errorf(http.StatusConflict, "BucketNotEmpty", "The bucket you tried to delete is not empty.")
	}
	if err := q.s.o.Store.Update(ctx, func(tx store.Tx) error { return tx.BucketRelease(ctx, q.bucket) }); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}
