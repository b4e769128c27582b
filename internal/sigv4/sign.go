package sigv4

import (
	"net/http"
	"sort"
	"strings"
	"time"
)

// Sign signs a request as AWS clients do (used by buildbatch's own command
// line client). It sets X-Amz-Date, X-Amz-Security-Token (if token is set)
// and Authorization.
func Sign(r *http.Request, body []byte, accessKey, secret, token, region, service string, now time.Time) {
	amzDate := now.UTC().Format(timeFormat)
	r.Header.Set("X-Amz-Date", amzDate)
	if token != "" {
		r.Header.Set("X-Amz-Security-Token", token)
	}
	signed := []string{"host"}
	for name := range r.Header {
		l := strings.ToLower(name)
		if l == "content-type" || strings.HasPrefix(l, "x-amz-") {
			signed = append(signed, l)
		}
	}
	sort.Strings(signed)
	date := amzDate[:8]
	sig := Signature(secret, date, region, service, amzDate, CanonicalRequest(r, signed, body))
	r.Header.Set("Authorization", algorithm+" Credential="+accessKey+"/"+date+"/"+region+"/"+service+"/aws4_request, SignedHeaders="+
		strings.Join(signed, ";")+", Signature="+sig)
}
