package s3api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/buildbatch/buildbatch/internal/blob/fs"
	"github.com/buildbatch/buildbatch/internal/sigv4"
	"github.com/buildbatch/buildbatch/internal/store/sqlite"
)

type fixture struct {
	url string
	t   *testing.T
}

func newFixture(t *testing.T, keys sigv4.Keys) *fixture {
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b, err := fs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Store: st, Blob: b, Verifier: &sigv4.Verifier{Service: "s3", S3: true, DefaultAccount: "000000000000", Keys: keys}, MaxObjectBytes: 8 << 20, Reserved: []string{"buildbatch-logs"}})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &fixture{url: ts.URL, t: t}
}

// do sends a signed request; hash is the X-Amz-Content-Sha256 ("" for
// the body's SHA-256).
func (f *fixture) do(method, path, hash string, body []byte, key string, headers ...string) (*http.Response, string) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.url+path, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if hash == "" {
		sum := sha256.Sum256(body)
		hash = hex.EncodeToString(sum[:])
	}
	req.Header.Set("X-Amz-Content-Sha256", hash)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if key != "" {
		sigv4.Sign(req, body, key, "secret-"+key, "", "us-east-1", "s3", time.Now())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

func (f *fixture) want(resp *http.Response, body string, status int, contains string) {
	f.t.Helper()
	if resp.StatusCode != status || !strings.Contains(body, contains) {
		f.t.Errorf("%s %s: %d %s; want %d containing %q", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, body, status, contains)
	}
}

func crc32Of(b []byte) string {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE(b))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// chunkedBody encodes data as aws-chunked in chunks of n bytes, with a
// CRC32 trailer (signed: with chunk signatures, not checked).
func chunkedBody(data []byte, n int, signed bool, trailer string) []byte {
	var b bytes.Buffer
	ext := func() string {
		if signed {
			return ";chunk-signature=" + strings.Repeat("0", 64)
		}
		return ""
	}
	for len(data) > 0 {
		c := data[:min(n, len(data))]
		data = data[len(c):]
		fmt.Fprintf(&b, "%x%s\r\n%s\r\n", len(c), ext(), c)
	}
	fmt.Fprintf(&b, "0%s\r\n", ext())
	if trailer != "" {
		b.WriteString(trailer + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

func TestObjects(t *testing.T) {
	f := newFixture(t, nil)
	resp, body := f.do("PUT", "/bkt/a.txt", "", []byte("x"), "test")
	f.want(resp, body, 404, "<Code>NoSuchBucket</Code>")
	resp, body = f.do("PUT", "/bkt", "", nil, "test")
	f.want(resp, body, 200, "")
	resp, body = f.do("PUT", "/bkt", "", nil, "111111111111")
	f.want(resp, body, 409, "BucketAlreadyExists")
	resp, body = f.do("PUT", "/Bad_Name", "", nil, "test")
	f.want(resp, body, 400, "InvalidBucketName")

	// Every payload mode.
	data := []byte(strings.Repeat("hello world ", 1000))
	for _, tc := range []struct {
		name, hash string
		body       []byte
		headers    []string
		status     int
		contains   string
	}{
		{"raw", "", data, nil, 200, ""},
		{"unsigned", "UNSIGNED-PAYLOAD", data, nil, 200, ""},
		{"wrong sha256", strings.Repeat("a", 64), data, nil, 400, "XAmzContentSHA256Mismatch"},
		{"crc32 header", "", data, []string{"x-amz-checksum-crc32", crc32Of(data)}, 200, ""},
		{"wrong crc32 header", "", data, []string{"x-amz-checksum-crc32", crc32Of([]byte("x"))}, 400, "BadDigest"},
		{"aws-chunked trailer", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", chunkedBody(data, 4096, false, "x-amz-checksum-crc32:"+crc32Of(data)),
			[]string{"Content-Encoding", "aws-chunked", "X-Amz-Trailer", "x-amz-checksum-crc32", "X-Amz-Decoded-Content-Length", fmt.Sprint(len(data))}, 200, ""},
		{"aws-chunked, one chunk", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", chunkedBody(data, 1<<20, false, "x-amz-checksum-crc32:"+crc32Of(data)),
			[]string{"X-Amz-Trailer", "x-amz-checksum-crc32", "X-Amz-Decoded-Content-Length", fmt.Sprint(len(data))}, 200, ""},
		{"aws-chunked bad trailer", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", chunkedBody(data, 4096, false, "x-amz-checksum-crc32:"+crc32Of(nil)),
			[]string{"X-Amz-Trailer", "x-amz-checksum-crc32"}, 400, "BadDigest"},
		{"aws-chunked wrong length", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", chunkedBody(data, 4096, false, ""),
			[]string{"X-Amz-Decoded-Content-Length", "5"}, 400, "IncompleteBody"},
		{"aws-chunked cut short", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", chunkedBody(data, 4096, false, "")[:5000], nil, 400, "IncompleteBody"},
		{"signed chunks", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", chunkedBody(data, 8192, true, ""), nil, 200, ""},
		{"too large", "UNSIGNED-PAYLOAD", bytes.Repeat([]byte("x"), 8<<20+1), nil, 400, "EntityTooLarge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.do("PUT", "/bkt/dir/obj.txt", tc.hash, tc.body, "test", tc.headers...)
			f.want(resp, body, tc.status, tc.contains)
			if tc.status != 200 {
				return
			}
			resp, got := f.do("GET", "/bkt/dir/obj.txt", "", nil, "test")
			if got != string(data) || resp.Header.Get("ETag") == "" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("GET after the PUT: %d bytes, headers %v", len(got), resp.Header)
			}
		})
	}

	// Ranges and conditions.
	resp, body = f.do("GET", "/bkt/dir/obj.txt", "", nil, "test", "Range", "bytes=6-10")
	f.want(resp, body, 206, "world")
	if resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 6-10/%d", len(data)) {
		t.Errorf("Content-Range %q", resp.Header.Get("Content-Range"))
	}
	resp, body = f.do("GET", "/bkt/dir/obj.txt", "", nil, "test", "Range", "bytes=-6")
	f.want(resp, body, 206, "world ")
	resp, body = f.do("GET", "/bkt/dir/obj.txt", "", nil, "test", "Range", fmt.Sprintf("bytes=%d-", len(data)))
	f.want(resp, body, 416, "InvalidRange")
	head, _ := f.do("HEAD", "/bkt/dir/obj.txt", "", nil, "test")
	tag := head.Header.Get("ETag")
	resp, body = f.do("GET", "/bkt/dir/obj.txt", "", nil, "test", "If-Match", tag, "Range", "bytes=0-4")
	f.want(resp, body, 206, "hello")
	resp, body = f.do("GET", "/bkt/dir/obj.txt", "", nil, "test", "If-Match", `"other"`)
	f.want(resp, body, 412, "PreconditionFailed")
	resp, _ = f.do("GET", "/bkt/dir/obj.txt", "", nil, "test", "If-None-Match", tag)
	if resp.StatusCode != 304 {
		t.Errorf("If-None-Match: %d", resp.StatusCode)
	}
	resp, body = f.do("HEAD", "/bkt/missing", "", nil, "test")
	f.want(resp, body, 404, "")

	// Lists: v2 with a delimiter, pages, URL encoding.
	for _, k := range []string{"a/1", "a/2", "b", "c d+e"} {
		resp, body := f.do("PUT", "/bkt/"+strings.ReplaceAll(k, " ", "%20"), "", []byte(k), "test")
		f.want(resp, body, 200, "")
	}
	resp, body = f.do("GET", "/bkt?list-type=2&delimiter=/&encoding-type=url", "", nil, "test")
	f.want(resp, body, 200, "<CommonPrefixes><Prefix>a/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes>")
	if !strings.Contains(body, "<Key>c%20d%2Be</Key>") || !strings.Contains(body, "<KeyCount>4</KeyCount>") {
		t.Errorf("list: %s", body)
	}
	// HEAD, GET and lists show one ETag.
	_, body = f.do("GET", "/bkt?list-type=2&prefix=dir/", "", nil, "test")
	if !strings.Contains(strings.ReplaceAll(body, "&#34;", `"`), "<ETag>"+tag+"</ETag>") {
		t.Errorf("list's ETag is not HEAD's %s: %s", tag, body)
	}
	resp, body = f.do("GET", "/bkt?list-type=2&max-keys=2", "", nil, "test")
	f.want(resp, body, 200, "<IsTruncated>true</IsTruncated>")
	token := body[strings.Index(body, "<NextContinuationToken>")+len("<NextContinuationToken>") : strings.Index(body, "</NextContinuationToken>")]
	resp, body = f.do("GET", "/bkt?list-type=2&max-keys=2&continuation-token="+token, "", nil, "test")
	f.want(resp, body, 200, "<Key>b</Key>")

	// Deletes: an object, several, a missing one; a non-empty bucket stays.
	resp, body = f.do("DELETE", "/bkt/a", "", nil, "test") // a folder, not an object: nothing
	f.want(resp, body, 204, "")
	resp, body = f.do("GET", "/bkt/a/1", "", nil, "test")
	f.want(resp, body, 200, "a/1")
	del := []byte(`<Delete><Object><Key>a/1</Key></Object><Object><Key>nope</Key></Object><Object><Key>../x</Key></Object></Delete>`)
	resp, body = f.do("POST", "/bkt?delete", "", del, "test")
	f.want(resp, body, 200, "<Deleted><Key>a/1</Key></Deleted><Deleted><Key>nope</Key></Deleted><Error><Key>../x</Key><Code>InvalidArgument</Code>")
	resp, body = f.do("DELETE", "/bkt", "", nil, "test")
	f.want(resp, body, 409, "BucketNotEmpty")

	// Another account sees nothing of it; anonymous requests are refused.
	resp, body = f.do("GET", "/bkt/b", "", nil, "111111111111")
	f.want(resp, body, 403, "AccessDenied")
	resp, body = f.do("GET", "/bkt?list-type=2", "", nil, "")
	f.want(resp, body, 403, "AccessDenied")
	resp, body = f.do("GET", "/", "", nil, "111111111111")
	f.want(resp, body, 200, "<Buckets></Buckets>")
	resp, body = f.do("GET", "/", "", nil, "test")
	f.want(resp, body, 200, "<Name>bkt</Name>")
	resp, body = f.do("GET", "/bkt/dir//x", "", nil, "test")
	f.want(resp, body, 400, "InvalidArgument")
	resp, body = f.do("GET", "/bkt?acl", "", nil, "test")
	f.want(resp, body, 501, "NotImplemented")

	// No client reaches buildbatch's own buckets, nor names S3 refuses
	// (the store's uploads area among them).
	resp, body = f.do("GET", "/buildbatch-logs?list-type=2", "", nil, "test")
	f.want(resp, body, 403, "AccessDenied")
	resp, body = f.do("GET", "/buildbatch_uploads?list-type=2", "", nil, "test")
	f.want(resp, body, 400, "InvalidBucketName")
	resp, body = f.do("GET", "/../k", "", nil, "test")
	f.want(resp, body, 400, "InvalidBucketName")

	// Keys the store cannot hold beside the others.
	resp, body = f.do("PUT", "/bkt/b/below", "", []byte("x"), "test") // "b" is an object
	f.want(resp, body, 400, "InvalidArgument")
	resp, body = f.do("PUT", "/bkt/dir", "", []byte("x"), "test") // "dir" is a folder
	f.want(resp, body, 400, "InvalidArgument")
	resp, body = f.do("GET", "/bkt/dir/obj.txt", "", nil, "test")
	f.want(resp, body, 200, "hello")

	// An endless chunk header is malformed, not buffered.
	resp, body = f.do("PUT", "/bkt/endless", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", bytes.Repeat([]byte("1"), 200<<10), "test")
	f.want(resp, body, 400, "IncompleteBody")

	// max-keys=0 lists nothing, and says there is nothing to page through.
	resp, body = f.do("GET", "/bkt?list-type=2&max-keys=0", "", nil, "test")
	f.want(resp, body, 200, "<IsTruncated>false</IsTruncated>")
}

func TestMultipartUpload(t *testing.T) {
	f := newFixture(t, nil)
	f.do("PUT", "/mpu", "", nil, "test")
	resp, body := f.do("POST", "/mpu/big.bin?uploads", "", nil, "test")
	f.want(resp, body, 200, "<UploadId>")
	id := body[strings.Index(body, "<UploadId>")+10 : strings.Index(body, "</UploadId>")]
	part1 := bytes.Repeat([]byte("1"), minPart)
	part2 := []byte("the end")
	r2, _ := f.do("PUT", "/mpu/big.bin?partNumber=2&uploadId="+id, "", part2, "test")
	r1, _ := f.do("PUT", "/mpu/big.bin?partNumber=1&uploadId="+id, "UNSIGNED-PAYLOAD", part1, "test")
	if r1.StatusCode != 200 || r2.StatusCode != 200 {
		t.Fatalf("parts: %d %d", r1.StatusCode, r2.StatusCode)
	}
	resp, body = f.do("PUT", "/mpu/big.bin?partNumber=1&uploadId="+id, "", []byte("x"), "111111111111")
	f.want(resp, body, 403, "AccessDenied")
	complete := func(parts ...string) (*http.Response, string) {
		x := "<CompleteMultipartUpload>"
		for i := 0; i+1 < len(parts); i += 2 {
			x += "<Part><ETag>" + parts[i+1] + "</ETag><PartNumber>" + parts[i] + "</PartNumber></Part>"
		}
		return f.do("POST", "/mpu/big.bin?uploadId="+id, "", []byte(x+"</CompleteMultipartUpload>"), "test")
	}
	resp, body = complete("2", r2.Header.Get("ETag"), "1", r1.Header.Get("ETag"))
	f.want(resp, body, 400, "InvalidPartOrder")
	resp, body = complete("1", `"nope"`, "2", r2.Header.Get("ETag"))
	f.want(resp, body, 400, "InvalidPart")
	resp, body = complete("1", r1.Header.Get("ETag"), "2", r2.Header.Get("ETag"))
	f.want(resp, body, 200, "<CompleteMultipartUploadResult")
	_, got := f.do("GET", "/mpu/big.bin", "", nil, "test")
	if got != string(part1)+string(part2) {
		t.Errorf("completed object: %d bytes", len(got))
	}
	resp, body = f.do("DELETE", "/mpu/big.bin?uploadId="+id, "", nil, "test")
	f.want(resp, body, 404, "NoSuchUpload")
}

func TestStrictSignatures(t *testing.T) {
	creds, err := sigv4.ParseCredentials(strings.NewReader("[alice]\naws_access_key_id = AKIDALICE\naws_secret_access_key = secret-AKIDALICE\naws_account_id = 123456789012\n"))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, creds)
	resp, body := f.do("PUT", "/strict", "", nil, "AKIDALICE")
	f.want(resp, body, 200, "")
	resp, body = f.do("PUT", "/strict/k", "", []byte("v"), "AKIDBOB")
	f.want(resp, body, 403, "InvalidAccessKeyId")
	req, _ := http.NewRequest("PUT", f.url+"/strict/k", strings.NewReader("v"))
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	sigv4.Sign(req, nil, "AKIDALICE", "wrong", "", "us-east-1", "s3", time.Now())
	r, _ := http.DefaultClient.Do(req)
	data, _ := io.ReadAll(r.Body)
	r.Body.Close()
	f.want(r, string(data), 403, "SignatureDoesNotMatch")
	resp, body = f.do("PUT", "/strict/k", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", chunkedBody([]byte("v"), 10, true, ""), "AKIDALICE")
	f.want(resp, body, 501, "NotImplemented")
}

func TestByteRange(t *testing.T) {
	for _, tc := range []struct {
		header        string
		start, length int64
		partial, bad  bool
	}{
		{"", 0, 100, false, false},
		{"bytes=0-9", 0, 10, true, false},
		{"bytes=90-", 90, 10, true, false},
		{"bytes=90-200", 90, 10, true, false},
		{"bytes=-10", 90, 10, true, false},
		{"bytes=-200", 0, 100, true, false},
		{"bytes=100-", 0, 0, false, true},
		{"bytes=5-1", 0, 100, false, false},
		{"bytes=0-1,3-4", 0, 100, false, false},
		{"items=0-1", 0, 100, false, false},
	} {
		start, length, partial, err := byteRange(tc.header, 100)
		if start != tc.start || length != tc.length || partial != tc.partial || (err != nil) != tc.bad {
			t.Errorf("%q: %d %d %v %v", tc.header, start, length, partial, err)
		}
	}
}

func FuzzChunked(f *testing.F) {
	f.Add(chunkedBody([]byte("hello world"), 4, false, "x-amz-checksum-crc32:"+crc32Of([]byte("hello world"))), false)
	f.Add(chunkedBody([]byte("hello world"), 100, true, ""), true)
	f.Add([]byte("b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"), false)
	f.Add([]byte("zz\r\n"), false)
	f.Fuzz(func(t *testing.T, body []byte, signed bool) {
		c := &chunked{br: bufioReader(body), signed: signed}
		out, err := io.ReadAll(io.LimitReader(c, 1<<20))
		if err == nil && len(out) > len(body) {
			t.Fatalf("decoded %d bytes from %d", len(out), len(body))
		}
	})
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

// TestEmptyBodyExpectContinue: an empty PUT that expects 100 Continue
// gets it before the final answer, as from S3 (botocore keeps a final
// answer that came instead for the connection's next request).
func TestEmptyBodyExpectContinue(t *testing.T) {
	f := newFixture(t, nil)
	f.do("PUT", "/exp", "", nil, "test")
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	auth := "AWS4-HMAC-SHA256 Credential=test/20261127/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" + strings.Repeat("0", 64)
	fmt.Fprintf(conn, "PUT /exp/empty HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 0\r\nAuthorization: %s\r\nX-Amz-Date: %s\r\nX-Amz-Content-Sha256: UNSIGNED-PAYLOAD\r\n\r\n",
		auth, time.Now().UTC().Format("20060102T150405Z"))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 100 {
		t.Fatalf("first answer %v %v, want 100 Continue", resp, err)
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("final answer %v %v", resp, err)
	}
}
