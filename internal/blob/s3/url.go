package s3

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Options says which S3 bucket the store keeps its objects in, and how to
// reach it.
type Options struct {
	// Bucket is the S3 bucket that holds every blob bucket.
	Bucket string
	// Prefix, when set, is put before every object key: blob bucket B's
	// key K is the object <Prefix>/B/K (B/K without a prefix). A clean
	// slash-separated path without a leading or trailing slash.
	Prefix string
	// Endpoint is the URL of the S3 service (http or https), as for an
	// S3-compatible server; "" is AWS's S3 of Region (or whatever
	// AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL say).
	Endpoint string
	// Region is the region requests are signed for; "" is AWS_REGION, else
	// AWS_DEFAULT_REGION, else us-east-1.
	Region string
	// PathStyle addresses the bucket in the path (http://host/bucket/key)
	// rather than in the host name (http://bucket.host/key). ParseURL
	// sets it for path-style=true and for an endpoint whose host is an IP
	// address or localhost, which has no bucket subdomains; New does the
	// latter too.
	PathStyle bool
	// Credentials, when set, sign the requests; otherwise the SDK's default
	// chain finds them (environment variables, shared credentials and
	// config files, SSO, web identity, container and instance roles).
	// Not part of the URL.
	Credentials aws.CredentialsProvider
}

// URL syntax, for error messages.
const urlSyntax = "s3://BUCKET[/PREFIX]?endpoint=URL[&path-style=true][&region=REGION]"

// ParseURL reads a store URL: s3://BUCKET[/PREFIX] with the query
// parameters endpoint=URL (http or https; omitted: AWS), path-style=BOOL
// and region=REGION. Credentials are never part of it.
func ParseURL(raw string) (Options, error) {
	var o Options
	fail := func(format string, a ...any) (Options, error) {
		return Options{}, fmt.Errorf("s3 URL %q: "+format+" (want "+urlSyntax+")", append([]any{raw}, a...)...)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail("%v", err)
	}
	switch {
	case u.Scheme != "s3":
		return fail("scheme %q is not s3", u.Scheme)
	case u.Opaque != "":
		return fail("no // after s3:")
	case u.User != nil:
		return fail("credentials do not belong in the URL (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use a shared credentials file)")
	case u.Host == "":
		return fail("no bucket")
	case u.Fragment != "" || strings.HasSuffix(raw, "#"):
		return fail("unexpected fragment #%s", u.Fragment)
	}
	if err := checkBucketName(u.Host); err != nil {
		return fail("%v", err)
	}
	o.Bucket = u.Host
	if p := strings.TrimSuffix(strings.TrimPrefix(u.Path, "/"), "/"); p != "" {
		if err := checkPrefix(p); err != nil {
			return fail("%v", err)
		}
		o.Prefix = p
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fail("query: %v", err)
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names)
	explicitPathStyle := false
	for _, name := range names {
		vs := q[name]
		if len(vs) != 1 {
			return fail("%s is given %d times", name, len(vs))
		}
		v := vs[0]
		switch name {
		case "endpoint":
			if err := checkEndpoint(v); err != nil {
				return fail("endpoint: %v", err)
			}
			o.Endpoint = v
		case "path-style":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fail("path-style=%q: want true or false", v)
			}
			explicitPathStyle = b
		case "region":
			if err := checkRegion(v); err != nil {
				return fail("region: %v", err)
			}
			o.Region = v
		default:
			return fail("unknown parameter %q: the parameters are endpoint, path-style and region", name)
		}
	}
	o.PathStyle = explicitPathStyle || needsPathStyle(o.Endpoint)
	return o, nil
}

// String renders the options as a URL that ParseURL reads back (without
// the credentials, which are not part of it).
func (o Options) String() string {
	q := url.Values{}
	if o.Endpoint != "" {
		q.Set("endpoint", o.Endpoint)
	}
	if o.PathStyle && !needsPathStyle(o.Endpoint) {
		q.Set("path-style", "true")
	}
	if o.Region != "" {
		q.Set("region", o.Region)
	}
	u := url.URL{Scheme: "s3", Host: o.Bucket, RawQuery: q.Encode()}
	if o.Prefix != "" {
		u.Path = "/" + o.Prefix
	}
	return u.String()
}

// checkBucketName accepts the names S3 has accepted (the current rules
// are stricter: 3 to 63 lower-case letters, digits, dots and hyphens;
// the server has the last word).
func checkBucketName(b string) error {
	if len(b) > 255 {
		return fmt.Errorf("bucket name of %d characters", len(b))
	}
	for _, r := range b {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return fmt.Errorf("bucket %q: a bucket name has only letters, digits, '.', '-' and '_'", b)
		}
	}
	return nil
}

// checkPrefix wants a clean relative path.
func checkPrefix(p string) error {
	if path.Clean("/"+p) != "/"+p {
		return fmt.Errorf("prefix %q is not a clean path (no empty, . or .. elements)", p)
	}
	if strings.ContainsRune(p, 0) {
		return fmt.Errorf("prefix %q has a NUL", p)
	}
	return nil
}

func checkEndpoint(v string) error {
	if v == "" {
		return errors.New("empty")
	}
	e, err := url.Parse(v)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%q: %v", v, err)
	}
	switch {
	case e.Scheme != "http" && e.Scheme != "https":
		return fmt.Errorf("%q: want an http:// or https:// URL", v)
	case e.Opaque != "" || e.Host == "" || e.Hostname() == "":
		return fmt.Errorf("%q: no host", v)
	case e.User != nil:
		return fmt.Errorf("%q: credentials do not belong in the URL", v)
	case e.RawQuery != "" || e.ForceQuery || e.Fragment != "" || strings.Contains(v, "#"):
		return fmt.Errorf("%q: unexpected query or fragment", v)
	}
	if p := e.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q: bad port %q", v, p)
		}
	} else if strings.HasSuffix(e.Host, ":") {
		return fmt.Errorf("%q: empty port", v)
	}
	return nil
}

func checkRegion(v string) error {
	if v == "" {
		return errors.New("empty")
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("%q: a region has only letters, digits, '-' and '_'", v)
		}
	}
	return nil
}

// needsPathStyle reports whether endpoint's host cannot have bucket
// subdomains: an IP address or localhost.
func needsPathStyle(endpoint string) bool {
	if endpoint == "" {
		return false
	}
	e, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	h := e.Hostname()
	return net.ParseIP(h) != nil || strings.EqualFold(h, "localhost")
}
