package s3api

import (
	"bufio"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// payload is the body of a PUT as the object's bytes: aws-chunked bodies
// (the default of current SDKs, with a checksum trailer) are decoded, and
// every digest the client sent — X-Amz-Content-Sha256, an
// x-amz-checksum-* header or trailer, X-Amz-Decoded-Content-Length — is
// checked when the body ends: a mismatch fails the read, so that nothing
// is stored.
func (q *request) payload() (io.Reader, error) {
	r := q.r
	mode := r.Header.Get("X-Amz-Content-Sha256")
	c := &checked{max: q.s.o.MaxObjectBytes, decoded: -1}
	var chunks *chunked
	switch {
	case mode == "UNSIGNED-PAYLOAD":
		c.r = r.Body
	case mode == "STREAMING-UNSIGNED-PAYLOAD-TRAILER":
		chunks = &chunked{br: bufio.NewReaderSize(r.Body, 64<<10)}
	case mode == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" || mode == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER":
		if q.s.o.Verifier.Keys != nil {
			return nil, errorf(http.StatusNotImplemented, "NotImplemented", "buildbatch does not check chunk signatures (%s), so it refuses them in strict mode; send UNSIGNED-PAYLOAD or STREAMING-UNSIGNED-PAYLOAD-TRAILER (AWS's SDKs do)", mode)
		}
		chunks = &chunked{br: bufio.NewReaderSize(r.Body, 64<<10), signed: true}
	case strings.HasPrefix(mode, "STREAMING-"):
		return nil, errorf(http.StatusNotImplemented, "NotImplemented", "buildbatch does not accept %s payloads", mode)
	case len(mode) == 64 && strings.Trim(mode, "0123456789abcdef") == "":
		c.r, c.sha256, c.wantSHA256 = r.Body, sha256.New(), mode
	default:
		return nil, errorf(http.StatusBadRequest, "InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER or the hex SHA-256 of the body, not %q", mode)
	}
	if chunks != nil {
		c.r, c.trailers = chunks, chunks
		if v := r.Header.Get("X-Amz-Decoded-Content-Length"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, errorf(http.StatusBadRequest, "InvalidArgument", "x-amz-decoded-content-length %q is not a length", v)
			}
			c.decoded = n
		}
	}
	if r.ContentLength > c.max && chunks == nil || c.decoded > c.max {
		return nil, errorf(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size (%d bytes).", c.max)
	}
	// The checksum: in a header, or named by X-Amz-Trailer and sent after
	// the body.
	name := strings.ToLower(strings.TrimSpace(r.Header.Get("X-Amz-Trailer")))
	for _, alg := range checksums {
		if v := r.Header.Get("x-amz-checksum-" + alg.name); v != "" {
			c.sum, c.sumName, c.wantSum = alg.new(), alg.name, v
		} else if name == "x-amz-checksum-"+alg.name && chunks != nil {
			c.sum, c.sumName = alg.new(), alg.name
		}
	}
	return c, nil
}

// readBody reads a request's small XML body (at most max bytes), checked
// as payload checks an object's.
func (q *request) readBody(max int64) ([]byte, error) {
	r, err := q.payload()
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, uploadError(err)
	}
	if int64(len(data)) > max {
		return nil, errorf(http.StatusBadRequest, "MalformedXML", "The XML you provided is larger than %d bytes.", max)
	}
	return data, nil
}

var crc64NVME = crc64.MakeTable(0x9a6c9329ac4bc9b5)

// checksums are the algorithms of x-amz-checksum-*.
var checksums = []struct {
	name string
	new  func() hash.Hash
}{
	{"crc32", func() hash.Hash { return crc32.NewIEEE() }},
	{"crc32c", func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) }},
	{"crc64nvme", func() hash.Hash { return crc64.New(crc64NVME) }},
	{"sha1", sha1.New},
	{"sha256", sha256.New},
}

// checked is a body whose digests are checked when it ends.
type checked struct {
	r          io.Reader
	n, max     int64
	decoded    int64 // X-Amz-Decoded-Content-Length, -1 if none
	sha256     hash.Hash
	wantSHA256 string
	sum        hash.Hash // the x-amz-checksum-* algorithm, or nil
	sumName    string
	wantSum    string   // from the header; "" to take the trailer's
	trailers   *chunked // aws-chunked bodies' trailers
}

func (c *checked) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		if c.sha256 != nil {
			c.sha256.Write(p[:n])
		}
		if c.sum != nil {
			c.sum.Write(p[:n])
		}
		if c.n > c.max {
			return n, errorf(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size (%d bytes).", c.max)
		}
	}
	if err == io.EOF {
		if e := c.verify(); e != nil {
			return n, e
		}
	}
	return n, err
}

func (c *checked) verify() *Error {
	if c.sha256 != nil && hex.EncodeToString(c.sha256.Sum(nil)) != c.wantSHA256 {
		return errorf(http.StatusBadRequest, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	if c.decoded >= 0 && c.n != c.decoded {
		return errorf(http.StatusBadRequest, "IncompleteBody", "The request body has %d bytes, and x-amz-decoded-content-length says %d.", c.n, c.decoded)
	}
	if c.sum == nil {
		return nil
	}
	want := c.wantSum
	if want == "" && c.trailers != nil {
		want = c.trailers.trailer["x-amz-checksum-"+c.sumName]
	}
	if want == "" {
		return errorf(http.StatusBadRequest, "InvalidRequest", "The x-amz-checksum-%s trailer the request announced did not come.", c.sumName)
	}
	if got := base64.StdEncoding.EncodeToString(c.sum.Sum(nil)); got != want {
		return errorf(http.StatusBadRequest, "BadDigest", "The %s you specified did not match the calculated checksum.", strings.ToUpper(c.sumName))
	}
	return nil
}

// chunked decodes an aws-chunked body: chunks of "<hex size>[;chunk-
// signature=<sig>]\r\n<bytes>\r\n", a last chunk of size 0, then trailer
// lines "name:value\r\n" and an empty line. Chunk signatures are not
// checked (local mode only: see payload).
type chunked struct {
	br      *bufio.Reader
	signed  bool
	left    int64 // bytes left in the current chunk
	done    bool
	trailer map[string]string
}

var errMalformed = errorf(http.StatusBadRequest, "IncompleteBody", "The aws-chunked request body is malformed.")

func (c *chunked) Read(p []byte) (int, error) {
	for c.left == 0 {
		if c.done {
			return 0, io.EOF
		}
		if err := c.next(); err != nil {
			return 0, err
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	if c.left == 0 && err == nil {
		err = c.crlf()
	}
	if err == io.EOF {
		err = errMalformed // the body ended inside a chunk
	}
	return n, err
}

// line reads a chunk header or trailer line: at most the reader's buffer
// (64 KiB), however long the client makes it.
func (c *chunked) line() (string, error) {
	b, err := c.br.ReadSlice('\n')
	switch {
	case err == io.EOF || err == bufio.ErrBufferFull:
		return "", errMalformed
	case err != nil:
		return "", err
	case len(b) > 4096:
		return "", errMalformed
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func (c *chunked) crlf() error {
	s, err := c.line()
	if err != nil {
		return err
	}
	if s != "" {
		return errMalformed
	}
	return nil
}

// next reads a chunk's header; the last chunk's trailers end the body.
func (c *chunked) next() error {
	head, err := c.line()
	if err != nil {
		return err
	}
	size, ext, _ := strings.Cut(head, ";")
	if c.signed && !strings.HasPrefix(ext, "chunk-signature=") {
		return errMalformed
	}
	n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
	if err != nil || n < 0 {
		return errMalformed
	}
	if n > 0 {
		c.left = n
		return nil
	}
	c.done, c.trailer = true, map[string]string{}
	for {
		l, err := c.line()
		if err != nil {
			// A body without trailers may end right after the last chunk.
			if len(c.trailer) == 0 && err == errMalformed {
				return nil
			}
			return err
		}
		if l == "" {
			return nil
		}
		if len(c.trailer) == 16 {
			return errMalformed // no client sends more than a checksum or two
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			return errMalformed
		}
		c.trailer[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
}
