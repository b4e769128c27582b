package s3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/buildbatch/buildbatch/internal/blob"
	"github.com/buildbatch/buildbatch/internal/blob/blobtest"
	"github.com/buildbatch/buildbatch/internal/blob/s3/s3test"
)

var ctx = context.Background()

// open returns a store on a fresh prefix of srv.
func open(t testing.TB, srv *s3test.Server) *Store {
	t.Helper()
	o, err := ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	o.Credentials = srv.Credentials()
	s, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	srv := s3test.Start(t)
	blobtest.Run(t, func(t *testing.T) blob.Store { return open(t, srv) })
}

// With S3's smallest parts, the suite's 5 MB objects are multipart uploads.
func TestConformanceMultipart(t *testing.T) {
	srv := s3test.Start(t)
	defer setPartSize(5 << 20)()
	blobtest.Run(t, func(t *testing.T) blob.Store { return open(t, srv) })
	// The suite leaves its 5 MB object of RoundTrip: its ETag says it was
	// put in parts.
	var found bool
	pages := s3.NewListObjectsV2Paginator(srv.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(srv.Bucket)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			if strings.HasSuffix(aws.ToString(o.Key), "/big/five.bin") {
				found = true
				if !strings.Contains(aws.ToString(o.ETag), "-") {
					t.Errorf("%s: ETag %s is not that of a multipart upload", aws.ToString(o.Key), aws.ToString(o.ETag))
				}
			}
		}
	}
	if !found {
		t.Error("the suite's 5 MB object is not there")
	}
}

func setPartSize(n int) (restore func()) {
	old := partSize
	partSize = n
	return func() { partSize = old }
}

// uploads returns the multipart uploads in progress.
func uploads(t *testing.T, srv *s3test.Server) []string {
	t.Helper()
	out, err := srv.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(srv.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}

type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestMultipart(t *testing.T) {
	srv := s3test.Start(t)
	s := open(t, srv)
	defer setPartSize(5 << 20)()
	for _, n := range []int{5 << 20, 5<<20 + 1, 3*(5<<20) + 12345} {
		data := blobtest.Bytes(uint64(n), n)
		if err := s.Put(ctx, "b", "obj", onlyReader{bytes.NewReader(data)}); err != nil {
			t.Fatalf("Put of %d bytes: %v", n, err)
		}
		if got := blobtest.Read(t, s, "b", "obj"); !bytes.Equal(got, data) {
			t.Fatalf("Put of %d bytes read back %d bytes", n, len(got))
		}
		head, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String(s.o.Prefix + "/b/obj")})
		if err != nil {
			t.Fatal(err)
		}
		wantParts := n > 5<<20
		if multi := strings.Contains(aws.ToString(head.ETag), "-"); multi != wantParts {
			t.Errorf("%d bytes: ETag %s, multipart = %v, want %v", n, aws.ToString(head.ETag), multi, wantParts)
		}
	}
	// A failure after the first part aborts the upload and keeps the object.
	before := blobtest.Read(t, s, "b", "obj")
	err := s.Put(ctx, "b", "obj", io.MultiReader(bytes.NewReader(blobtest.Bytes(9, 12<<20)), &failAfter{}))
	if !errors.Is(err, errFail) {
		t.Errorf("Put of a reader failing after two parts: %v", err)
	}
	if got := blobtest.Read(t, s, "b", "obj"); !bytes.Equal(got, before) {
		t.Errorf("a failed multipart Put changed the object")
	}
	c, cancel := context.WithCancel(ctx)
	err = s.Put(c, "b", "new", io.MultiReader(bytes.NewReader(blobtest.Bytes(9, 7<<20)), cancelReader(cancel)))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Put canceled after a part: %v", err)
	}
	if left := uploads(t, srv); len(left) != 0 {
		t.Errorf("uploads left in progress: %q", left)
	}
	if keys := blobtest.MustList(t, s, "b", ""); len(keys) != 1 || keys[0] != "obj" {
		t.Errorf("keys after failed Puts: %q", keys)
	}
	// Too many parts.
	defer func(old int) { maxParts = old }(maxParts)
	maxParts = 2
	err = s.Put(ctx, "b", "huge", bytes.NewReader(make([]byte, 11<<20)))
	if err == nil || !strings.Contains(err.Error(), "larger than 2 parts") {
		t.Errorf("Put of 3 parts with maxParts 2: %v", err)
	}
	if left := uploads(t, srv); len(left) != 0 {
		t.Errorf("uploads left in progress: %q", left)
	}
}

var errFail = errors.New("fail")

type failAfter struct{}

func (*failAfter) Read([]byte) (int, error) { return 0, errFail }

type cancelReader func()

func (c cancelReader) Read(p []byte) (int, error) {
	c()
	p[0] = 'x'
	return 1, nil
}

// Objects that other S3 clients wrote under keys that are not clean
// paths are not listed, and are deleted with their folder.
func TestForeignKeys(t *testing.T) {
	srv := s3test.Start(t)
	s := open(t, srv)
	blobtest.MustPut(t, s, "b", "dir/ok", []byte("ok"))
	cl := srv.Client()
	folder := s.o.Prefix + "/b/"
	// A folder marker, as the AWS console makes. (A key with . or //
	// elements cannot be made here: versitygw keeps "a/./b" as the file
	// a/b, whose key is "a/b".)
	if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String(folder + "dir/marker/"), Body: strings.NewReader("")}); err != nil {
		t.Fatal(err)
	}
	if keys := blobtest.MustList(t, s, "b", ""); len(keys) != 1 || keys[0] != "dir/ok" {
		t.Errorf("List = %q, want [dir/ok]", keys)
	}
	if err := s.Delete(ctx, "b", "dir"); err != nil {
		t.Fatal(err)
	}
	out, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(srv.Bucket), Prefix: aws.String(folder)})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out.Contents {
		t.Errorf("left after Delete: %q", aws.ToString(o.Key))
	}
}

// The store's keys are <prefix>/<bucket>/<key> in the S3 bucket; without
// a prefix, <bucket>/<key>.
func TestLayout(t *testing.T) {
	srv := s3test.Start(t)
	for _, prefix := range []string{"", "deep/er"} {
		o := Options{Bucket: srv.Bucket, Prefix: prefix, Endpoint: srv.Endpoint, Region: s3test.Region, Credentials: srv.Credentials()}
		s, err := New(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		blobtest.MustPut(t, s, "bkt", "a/b c.txt", []byte("x"))
		want := "bkt/a/b c.txt"
		if prefix != "" {
			want = prefix + "/" + want
		}
		if _, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String(want)}); err != nil {
			t.Errorf("prefix %q: object %q: %v", prefix, want, err)
		}
		if err := s.Delete(ctx, "bkt", ""); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewErrors(t *testing.T) {
	srv := s3test.Start(t)
	base := Options{Bucket: srv.Bucket, Endpoint: srv.Endpoint, Region: s3test.Region, Credentials: srv.Credentials()}
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want []string
	}{
		{"no such bucket", func(o *Options) { o.Bucket = "no-such-bucket" }, []string{"no-such-bucket", srv.Endpoint, "no such bucket"}},
		{"wrong secret", func(o *Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider(srv.AccessKey, "wrong", "")
		}, []string{srv.Bucket, srv.Endpoint, "access denied"}},
		{"nothing listening", func(o *Options) { o.Endpoint = "http://127.0.0.1:1" }, []string{srv.Bucket, "http://127.0.0.1:1", "not reachable"}},
		{"bad bucket name", func(o *Options) { o.Bucket = "a/b" }, []string{"a/b"}},
		{"bad prefix", func(o *Options) { o.Prefix = "/a" }, []string{"prefix"}},
		{"bad endpoint", func(o *Options) { o.Endpoint = "ftp://x" }, []string{"ftp://x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.edit(&o)
			c, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			s, err := New(c, o)
			if err == nil {
				t.Fatalf("New succeeded: %s", s.Describe())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	srv := s3test.Start(t)
	o, err := ParseURL("s3://" + srv.Bucket + "/p/q?endpoint=" + srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	o.Credentials = srv.Credentials()
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", s3test.Region)
	s, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	want := "s3 (bucket " + srv.Bucket + ", prefix p/q, endpoint " + srv.Endpoint + ", region " + s3test.Region + ", path-style)"
	if got := s.Describe(); got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
	if got := s.Options().Region; got != s3test.Region {
		t.Errorf("region %q, want AWS_DEFAULT_REGION's", got)
	}
	s.o = Options{Bucket: "b"}
	if got, want := s.Describe(), "s3 (bucket b, endpoint AWS S3 ("+s3test.Region+"), region "+s3test.Region+")"; got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
}

func TestResolveRegion(t *testing.T) {
	for _, tc := range []struct{ url, region, defaultRegion, want string }{
		{"eu-west-3", "ap-south-1", "us-west-1", "eu-west-3"},
		{"", "ap-south-1", "us-west-1", "ap-south-1"},
		{"", "", "us-west-1", "us-west-1"},
		{"", "", "", "us-east-1"},
	} {
		t.Setenv("AWS_REGION", tc.region)
		t.Setenv("AWS_DEFAULT_REGION", tc.defaultRegion)
		if got := resolveRegion(tc.url); got != tc.want {
			t.Errorf("resolveRegion(%q) with AWS_REGION=%q AWS_DEFAULT_REGION=%q = %q, want %q", tc.url, tc.region, tc.defaultRegion, got, tc.want)
		}
	}
}

// Credentials come from the SDK's default chain when Options has none.
func TestDefaultCredentials(t *testing.T) {
	srv := s3test.Start(t)
	o, err := ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	s, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	blobtest.MustPut(t, s, "b", "k", []byte("v"))
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want Options
	}{
		{"s3://bkt?endpoint=http://127.0.0.1:9000", Options{Bucket: "bkt", Endpoint: "http://127.0.0.1:9000", PathStyle: true}},
		{"s3://bkt/pre/fix?endpoint=http://127.0.0.1:9000&region=us-east-1", Options{Bucket: "bkt", Prefix: "pre/fix", Endpoint: "http://127.0.0.1:9000", Region: "us-east-1", PathStyle: true}},
		{"s3://bkt/pre/?endpoint=http://[::1]:9000", Options{Bucket: "bkt", Prefix: "pre", Endpoint: "http://[::1]:9000", PathStyle: true}},
		{"s3://bkt/?endpoint=http://localhost:9000", Options{Bucket: "bkt", Endpoint: "http://localhost:9000", PathStyle: true}},
		{"s3://bkt?endpoint=http://LocalHost", Options{Bucket: "bkt", Endpoint: "http://LocalHost", PathStyle: true}},
		{"s3://bkt?endpoint=https://s3.example.com", Options{Bucket: "bkt", Endpoint: "https://s3.example.com"}},
		{"s3://bkt?endpoint=https://s3.example.com&path-style=true", Options{Bucket: "bkt", Endpoint: "https://s3.example.com", PathStyle: true}},
		{"s3://bkt?endpoint=https://s3.example.com&path-style=false", Options{Bucket: "bkt", Endpoint: "https://s3.example.com"}},
		{"s3://bkt?endpoint=http://10.0.0.5:9000&path-style=false", Options{Bucket: "bkt", Endpoint: "http://10.0.0.5:9000", PathStyle: true}},
		{"s3://bkt?endpoint=https%3A%2F%2Fs3.example.com%2Fbase&region=eu-west-1", Options{Bucket: "bkt", Endpoint: "https://s3.example.com/base", Region: "eu-west-1"}},
		{"s3://my.bucket-1/a%20b", Options{Bucket: "my.bucket-1", Prefix: "a b"}},
		{"s3://bkt", Options{Bucket: "bkt"}},
	} {
		got, err := ParseURL(tc.url)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.url, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, want %+v", tc.url, got, tc.want)
		}
		if again, err := ParseURL(got.String()); err != nil || again != got {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", got.String(), again, err, got)
		}
	}
	for _, tc := range []struct{ url, want string }{
		{"", "scheme"},
		{"bkt/prefix", "scheme"},
		{"http://bkt?endpoint=http://h", `scheme "http" is not s3`},
		{"S3://bkt", ""}, // url.Parse lowers the scheme; accepted
		{"s3:bkt", "no // after s3:"},
		{"s3://", "no bucket"},
		{"s3:///prefix?endpoint=http://h", "no bucket"},
		{"s3://?endpoint=http://h", "no bucket"},
		{"s3://user:pass@bkt?endpoint=http://h", "credentials"},
		{"s3://bkt:9000?endpoint=http://h", "bucket"},
		{"s3://b_k%20t", "invalid URL escape"},
		{"s3://[::1]/x", "bucket"},
		{"s3://bkt//x?endpoint=http://h", "not a clean path"},
		{"s3://bkt/a//b?endpoint=http://h", "not a clean path"},
		{"s3://bkt/a/../b?endpoint=http://h", "not a clean path"},
		{"s3://bkt/./b?endpoint=http://h", "not a clean path"},
		{"s3://bkt#frag", "fragment"},
		{"s3://bkt?endpoint=http://h#frag", "fragment"},
		{"s3://bkt?endpoint=", "endpoint: empty"},
		{"s3://bkt?endpoint=127.0.0.1:9000", "endpoint"},
		{"s3://bkt?endpoint=ftp://h", "http:// or https://"},
		{"s3://bkt?endpoint=http://", "no host"},
		{"s3://bkt?endpoint=http:h", "no host"},
		{"s3://bkt?endpoint=http://h:99999", "bad port"},
		{"s3://bkt?endpoint=http://h:", "empty port"},
		{"s3://bkt?endpoint=http://u:p@h", "credentials"},
		{"s3://bkt?endpoint=http%3A%2F%2Fh%3Fx%3D1", "query"},
		{"s3://bkt?endpoint=http://%zz", "endpoint"},
		{"s3://bkt?endpoint=http://h&endpoint=http://i", "endpoint is given 2 times"},
		{"s3://bkt?endpoint=http://h&path-style=yes", `path-style="yes": want true or false`},
		{"s3://bkt?endpoint=http://h&path-style=", "path-style"},
		{"s3://bkt?endpoint=http://h&region=", "region: empty"},
		{"s3://bkt?endpoint=http://h&region=us east", "region"},
		{"s3://bkt?endpoint=http://h&pathstyle=true", `unknown parameter "pathstyle"`},
		{"s3://bkt?endpoint=http://h&access_key=x", `unknown parameter "access_key"`},
		{"s3://bkt?%zz", "query"},
		{"s3://bkt?endpoint=http://h;x", "query"},
	} {
		_, err := ParseURL(tc.url)
		if tc.want == "" {
			if err != nil {
				t.Errorf("ParseURL(%q): %v", tc.url, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseURL(%q) = %v, want an error saying %q", tc.url, err, tc.want)
		}
		if err != nil && !strings.Contains(err.Error(), "want s3://BUCKET") {
			t.Errorf("ParseURL(%q): error %q does not show the syntax", tc.url, err)
		}
	}
}

// ParseURL never panics, and what it accepts it renders back the same.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"s3://bkt?endpoint=http://127.0.0.1:9000",
		"s3://bkt/pre/fix?endpoint=https://s3.example.com/base&path-style=true&region=eu-west-1",
		"s3://bkt/a%20b?endpoint=http://[::1]:9000&path-style=0",
		"s3://bkt", "s3://", "s3:x", "s3://b/../x", "s3://b?endpoint=http://h:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		o, err := ParseURL(raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "s3 URL ") {
				t.Fatalf("error %q", err)
			}
			return
		}
		if o.Bucket == "" {
			t.Fatalf("ParseURL(%q) has no bucket", raw)
		}
		if strings.HasPrefix(o.Prefix, "/") || strings.HasSuffix(o.Prefix, "/") || strings.Contains(o.Prefix, "//") {
			t.Fatalf("ParseURL(%q): prefix %q", raw, o.Prefix)
		}
		again, err := ParseURL(o.String())
		if err != nil || again != o {
			t.Fatalf("ParseURL(%q) = %+v; its String %q parses as %+v, %v", raw, o, o.String(), again, err)
		}
	})
}
