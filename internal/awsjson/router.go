package awsjson

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// Router shares one port between several AWS JSON services (CodeBuild,
// CloudWatch Logs): a request goes to the service its X-Amz-Target's
// prefix names, else to the one its SigV4 credential scope names (which
// then answers a missing or unknown target in its own words). A request
// for a service served nowhere here gets a clear error in that service's
// format: JSON for JSON services, S3's XML for S3 (which sends no
// target).
type Router struct {
	byPrefix  map[string]*Server // target prefix without its dot
	byService map[string]*Server // SigV4 service name
	names     []string           // what is served, for messages
	fallback  *Server
	s3        http.Handler // S3's REST requests, or nil
}

// S3 routes S3's requests (signed for s3, or unsigned and not a POST) to
// h.
func (rt *Router) S3(h http.Handler) {
	rt.s3 = h
	rt.names = append(rt.names, "S3")
}

// NewRouter returns a router whose fallback (no target, no scope) is
// def.
func NewRouter(def *Server) *Router {
	return &Router{byPrefix: map[string]*Server{}, byService: map[string]*Server{}, fallback: def}
}

// Add routes the targets with these prefixes (without their dots), and
// requests signed for service (the credential scope's service), to s;
// name is how messages call the service.
func (rt *Router) Add(s *Server, service, name string, prefixes ...string) {
	for _, p := range prefixes {
		rt.byPrefix[p] = s
	}
	rt.byService[service] = s
	rt.names = append(rt.names, name)
}

var scopeService = regexp.MustCompile(`Credential=[^/,\s]*/\d{8}/[^/,\s]*/([^/,\s]+)/aws4_request`)

// signedFor returns the service of a request's SigV4 credential scope
// (Authorization header or presigned query), or "".
func signedFor(r *http.Request) string {
	if m := scopeService.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		return m[1]
	}
	if c := r.URL.Query().Get("X-Amz-Credential"); c != "" {
		if parts := strings.Split(c, "/"); len(parts) == 5 {
			return parts[3]
		}
	}
	return ""
}

// ServeHTTP implements http.Handler.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	prefix, _, _ := strings.Cut(target, ".")
	if s, ok := rt.byPrefix[prefix]; ok && target != "" {
		s.ServeHTTP(w, r)
		return
	}
	svc := signedFor(r)
	if s, ok := rt.byService[svc]; ok {
		s.ServeHTTP(w, r)
		return
	}
	served := strings.Join(rt.names, " and ")
	switch {
	case (svc == "s3" || target == "" && r.Method != http.MethodPost) && rt.s3 != nil:
		// S3 is the only service of the SDKs that sends no target, and
		// it uses every method.
		rt.s3.ServeHTTP(w, r)
	case svc == "s3" || target == "" && r.Method != http.MethodPost:
		writeS3Error(w, http.StatusNotImplemented, "NotImplemented",
			fmt.Sprintf("S3 is not served here: this port serves %s. Artifacts are in the server's artifact store (see the README).", served))
	case svc != "" || target != "":
		what := svc
		if what == "" {
			what = prefix
		}
		rt.fallback.writeError(w, newRequestID(), Errorf(UnknownOperation, "%s is not served here: this port serves %s (request for %s)", what, served, strings.TrimSpace(target+" "+svc)))
	default:
		rt.fallback.ServeHTTP(w, r)
	}
}

// writeS3Error answers in S3's XML error format.
func writeS3Error(w http.ResponseWriter, status int, code, message string) {
	reqID := newRequestID()
	body, _ := xml.Marshal(struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string
		Message   string
		RequestId string
	}{Code: code, Message: message, RequestId: reqID})
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("x-amz-request-id", reqID)
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	w.Write(body)
}
