package s3api

import (
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

type object struct {
	Key          string
	LastModified string
	ETag         string
	Size         int64
	StorageClass string
}

type commonPrefix struct{ Prefix string }

// listObjects answers ListObjectsV2 (list-type=2) and ListObjects (v1):
// keys in byte order, a prefix, a delimiter rolling keys up into common
// prefixes, pages of max-keys (1000 at most), URL-encoded when asked.
func (q *request) listObjects(query url.Values) error {
	if err := q.mustExist(); err != nil {
		return err
	}
	v2 := query.Get("list-type") == "2"
	prefix, delim := query.Get("prefix"), query.Get("delimiter")
	maxKeys := 1000
	if v := query.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errorf(http.StatusBadRequest, "InvalidArgument", "Provided max-keys not an integer or within integer range")
		}
		maxKeys = min(n, 1000)
	}
	encode := query.Get("encoding-type")
	if encode != "" && encode != "url" {
		return errorf(http.StatusBadRequest, "InvalidArgument", "Invalid Encoding Method specified in Request")
	}
	after := query.Get("marker")
	if v2 {
		after = query.Get("start-after")
		if t := query.Get("continuation-token"); t != "" {
			k, err := base64.RawURLEncoding.DecodeString(t)
			if err != nil {
				return errorf(http.StatusBadRequest, "InvalidArgument", "The continuation token provided is incorrect")
			}
			after = max(after, string(k))
		}
	}
	ctx := q.r.Context()
	// The store lists folders: the one the prefix is in (not the bucket).
	keys, err := q.blobs.List(ctx, q.bucket, strings.TrimSuffix(prefix[:strings.LastIndexByte(prefix, '/')+1], "/"))
	if err != nil {
		return err
	}
	sort.Strings(keys)
	start := sort.SearchStrings(keys, after)
	if start < len(keys) && keys[start] == after {
		start++
	}
	var contents []object
	var prefixes []commonPrefix
	truncated, last := false, ""
	seenPrefix := map[string]bool{}
	for _, k := range keys[start:] {
		if maxKeys == 0 {
			break // nothing asked, nothing more to page through
		}
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				p := k[:len(prefix)+i+len(delim)]
				if seenPrefix[p] || p <= after {
					continue
				}
				if len(contents)+len(prefixes) == maxKeys {
					truncated = true
					break
				}
				seenPrefix[p] = true
				prefixes = append(prefixes, commonPrefix{p})
				last = p
				continue
			}
		}
		if len(contents)+len(prefixes) == maxKeys {
			truncated = true
			break
		}
		info, err := q.blobs.Stat(ctx, q.bucket, k)
		if err != nil {
			continue // deleted since the listing
		}
		contents = append(contents, object{Key: k, LastModified: isoTime(info.Modified), ETag: etag(info), Size: info.Size, StorageClass: "STANDARD"})
		last = k
	}
	esc := func(s string) string {
		if encode == "" {
			return s
		}
		return urlEncode(s)
	}
	for i := range contents {
		contents[i].Key = esc(contents[i].Key)
	}
	for i := range prefixes {
		prefixes[i].Prefix = esc(prefixes[i].Prefix)
	}
	if !v2 {
		out := struct {
			XMLName        xml.Name `xml:"ListBucketResult"`
			Xmlns          string   `xml:"xmlns,attr"`
			Name           string
			Prefix         string
			Marker         string
			NextMarker     string `xml:",omitempty"`
			MaxKeys        int
			Delimiter      string `xml:",omitempty"`
			IsTruncated    bool
			EncodingType   string         `xml:",omitempty"`
			Contents       []object       `xml:"Contents"`
			CommonPrefixes []commonPrefix `xml:"CommonPrefixes"`
		}{Xmlns: xmlns, Name: q.bucket, Prefix: esc(prefix), Marker: esc(query.Get("marker")), MaxKeys: maxKeys, Delimiter: esc(delim),
			IsTruncated: truncated, EncodingType: encode, Contents: contents, CommonPrefixes: prefixes}
		if truncated {
			out.NextMarker = esc(last)
		}
		return q.writeXML(out)
	}
	out := struct {
		XMLName               xml.Name `xml:"ListBucketResult"`
		Xmlns                 string   `xml:"xmlns,attr"`
		Name                  string
		Prefix                string
		Delimiter             string `xml:",omitempty"`
		MaxKeys               int
		KeyCount              int
		IsTruncated           bool
		ContinuationToken     string         `xml:",omitempty"`
		NextContinuationToken string         `xml:",omitempty"`
		StartAfter            string         `xml:",omitempty"`
		EncodingType          string         `xml:",omitempty"`
		Contents              []object       `xml:"Contents"`
		CommonPrefixes        []commonPrefix `xml:"CommonPrefixes"`
	}{Xmlns: xmlns, Name: q.bucket, Prefix: esc(prefix), Delimiter: esc(delim), MaxKeys: maxKeys, KeyCount: len(contents) + len(prefixes),
		IsTruncated: truncated, ContinuationToken: query.Get("continuation-token"), StartAfter: esc(query.Get("start-after")),
		EncodingType: encode, Contents: contents, CommonPrefixes: prefixes}
	if truncated {
		out.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(last))
	}
	return q.writeXML(out)
}

// urlEncode percent-encodes every byte but the unreserved ones and '/'
// (what clients decode with either unquote or unquote_plus).
func urlEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(strconv.FormatInt(int64(c)|0x100, 16)[1:]))
	}
	return b.String()
}
