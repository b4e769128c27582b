package cli

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/sigv4"
)

// The few S3 calls `buildbatch run` makes to its embedded server's S3
// (the artifact store on the API's port): a bucket, uploads of sources,
// listing and downloading artifacts.

// s3Do sends a signed S3 request; the body is not signed
// (UNSIGNED-PAYLOAD). A non-2xx answer is an error with S3's code and
// message.
func (c *client) s3Do(ctx context.Context, method, bucket, key string, query url.Values, body io.Reader, size int64) (*http.Response, error) {
	u := c.url + "/" + bucket
	if key != "" {
		u += "/" + (&url.URL{Path: key}).EscapedPath()
	}
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
	}
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	sigv4.Sign(req, nil, c.key, c.secret, c.token, c.region, "s3", time.Now())
	hc := &http.Client{} // no overall timeout: artifacts can be large
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		var e struct{ Code, Message string }
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if xml.Unmarshal(data, &e) == nil && e.Code != "" {
			return nil, fmt.Errorf("S3 %s %s/%s: %s: %s", method, bucket, key, e.Code, e.Message)
		}
		return nil, fmt.Errorf("S3 %s %s/%s: HTTP %d", method, bucket, key, resp.StatusCode)
	}
	return resp, nil
}

func (c *client) s3CreateBucket(ctx context.Context, bucket string) error {
	resp, err := c.s3Do(ctx, http.MethodPut, bucket, "", nil, nil, 0)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

func (c *client) s3Put(ctx context.Context, bucket, key string, r io.Reader, size int64) error {
	resp, err := c.s3Do(ctx, http.MethodPut, bucket, key, nil, r, size)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

func (c *client) s3Get(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	resp, err := c.s3Do(ctx, http.MethodGet, bucket, key, nil, nil, 0)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// s3List lists the keys under prefix, every page.
func (c *client) s3List(ctx context.Context, bucket, prefix string) ([]string, error) {
	var keys []string
	token := ""
	for {
		q := url.Values{"list-type": {"2"}, "prefix": {prefix}}
		if token != "" {
			q.Set("continuation-token", token)
		}
		resp, err := c.s3Do(ctx, http.MethodGet, bucket, "", q, nil, 0)
		if err != nil {
			return nil, err
		}
		var page struct {
			Contents              []struct{ Key string }
			IsTruncated           bool
			NextContinuationToken string
		}
		err = xml.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			keys = append(keys, o.Key)
		}
		if !page.IsTruncated || page.NextContinuationToken == "" {
			return keys, nil
		}
		token = page.NextContinuationToken
	}
}

// splitS3 splits an artifact location (arn:aws:s3:::bucket/key, or
// bucket/key) into its bucket and key.
func splitS3(loc string) (bucket, key string) {
	if i := strings.Index(loc, ":::"); i >= 0 {
		loc = loc[i+3:]
	}
	bucket, key, _ = strings.Cut(loc, "/")
	return bucket, key
}
