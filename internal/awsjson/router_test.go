package awsjson

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/buildbatch/buildbatch/internal/sigv4"
)

func TestRouter(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	newServer := func(prefix, service string) *Server {
		s := NewServer(prefix, &sigv4.Verifier{Service: service, DefaultAccount: "000000000000"}, log)
		HandleExtension(s, prefix+".Who", func(ctx context.Context, in *struct{}) (*struct{ Service string }, error) {
			return &struct{ Service string }{service}, nil
		})
		return s
	}
	cbs, logs := newServer("CodeBuild_20161006", "codebuild"), newServer("Logs_20140328", "logs")
	rt := NewRouter(cbs)
	rt.Add(cbs, "codebuild", "CodeBuild", "CodeBuild_20161006", "BuildBatch_20261101")
	rt.Add(logs, "logs", "CloudWatch Logs", "Logs_20140328")
	ts := httptest.NewServer(rt)
	defer ts.Close()

	for _, tc := range []struct {
		name, method, path, target, service string
		status                              int
		want                                string
	}{
		{"codebuild", "POST", "/", "CodeBuild_20161006.Who", "codebuild", 200, `"Service":"codebuild"`},
		{"logs", "POST", "/", "Logs_20140328.Who", "logs", 200, `"Service":"logs"`},
		{"logs target signed for codebuild", "POST", "/", "Logs_20140328.Who", "codebuild", 400, "InvalidSignatureException"},
		{"logs operation not served", "POST", "/", "Logs_20140328.PutLogEvents", "logs", 400, "UnknownOperationException"},
		{"signed for logs, no target", "POST", "/", "", "logs", 400, "Missing X-Amz-Target"},
		{"another JSON service", "POST", "/", "AmazonSSM.GetParameter", "ssm", 400, "ssm is not served here: this port serves CodeBuild and CloudWatch Logs"},
		{"S3 ListBuckets", "GET", "/", "", "s3", 501, "<Code>NotImplemented</Code>"},
		{"S3 unsigned GET", "GET", "/bucket/key", "", "", 501, "S3 is not served here"},
		{"unsigned POST", "POST", "/", "", "", 400, "MissingAuthenticationTokenException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, ts.URL+tc.path, strings.NewReader("{}"))
			req.Header.Set("Content-Type", ContentType)
			if tc.target != "" {
				req.Header.Set("X-Amz-Target", tc.target)
			}
			if tc.service != "" {
				sigv4.Sign(req, []byte("{}"), "test", "test", "", "us-east-1", tc.service, time.Now())
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.want) {
				t.Errorf("%d %s; want %d containing %q", resp.StatusCode, body, tc.status, tc.want)
			}
		})
	}
}
