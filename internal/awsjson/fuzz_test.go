package awsjson_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"unicode/utf8"

	"github.com/buildbatch/buildbatch/internal/awsjson"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/sigv4"
)

// FuzzServeHTTP sends requests with arbitrary X-Amz-Target, Authorization,
// X-Amz-Date and body to the protocol layer in local mode, with a few
// operations of each kind registered (modeled, raw with a precheck,
// extension). The answer is never a 5xx nor a panic; it always has the
// JSON content type and a request id; an error is AWS-shaped with a message
// of at most awsjson.MaxMessage bytes; a success is a JSON object.
// (internal/api's FuzzHandler does the same through every real operation.)
func FuzzServeHTTP(f *testing.F) {
	const auth = "AWS4-HMAC-SHA256 Credential=test/20261127/us-east-1/codebuild/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000"
	const date = "20261127T010649Z"
	for _, s := range []struct{ target, auth, date, body string }{
		{"CodeBuild_20161006.StopBuild", auth, date, `{"id":"demo:7d3c9a6e-3a1b-4c7e-9f0a-5b2d8e1f4c6a"}`},
		{"CodeBuild_20161006.BatchGetBuilds", auth, date, `{"ids":["demo:1","arn:aws:codebuild:us-east-1:000000000000:build/demo:2"]}`},
		{"CodeBuild_20161006.BatchGetBuilds", auth, date, `{"ids":[]}`},
		{"CodeBuild_20161006.DeleteProject", auth, date, `{"name":"demo"}`},
		{"CodeBuild_20161006.StartBuild", auth, date, `{"projectName":"demo","environmentVariablesOverride":[{"name":"A","value":"1","type":"PLAINTEXT"}]}`},
		{"CodeBuild_20161006.CreateFleet", auth, date, `{}`},
		{"BuildBatch_20261101.GetBuildLog", auth, date, `{"id":"demo:1","offset":0,"maxBytes":65536,"waitSeconds":0}`},
		{"DynamoDB_20120810.ListTables", auth, date, `{}`},
		{"", "", "", ""},
		{"CodeBuild_20161006.StopBuild", "AWS4-HMAC-SHA256 Credential=,,,", date, `{"id":`},
		{"CodeBuild_20161006.StopBuild", auth, "2026-11-27", `{"id":"a"} {}`},
	} {
		f.Add(s.target, s.auth, s.date, []byte(s.body))
	}
	s := awsjson.NewServer(cb.TargetPrefix, &sigv4.Verifier{Service: "codebuild", DefaultAccount: "000000000000"}, slog.New(slog.DiscardHandler))
	awsjson.Handle(s, "StopBuild", func(ctx context.Context, in *cb.StopBuildInput) (*cb.StopBuildOutput, error) {
		if cb.Deref(in.Id) == "missing" {
			return nil, awsjson.Errorf(awsjson.ResourceNotFound, "Build not found for id: %s", cb.Deref(in.Id))
		}
		return &cb.StopBuildOutput{Build: &cb.Build{Id: in.Id, Initiator: cb.String(awsjson.CallerFrom(ctx).User)}}, nil
	})
	awsjson.Handle(s, "StartBuild", func(ctx context.Context, in *cb.StartBuildInput) (*cb.StartBuildOutput, error) {
		return &cb.StartBuildOutput{Build: &cb.Build{ProjectName: in.ProjectName, Environment: &cb.ProjectEnvironment{EnvironmentVariables: in.EnvironmentVariablesOverride}}}, nil
	})
	awsjson.Handle(s, "DeleteProject", func(ctx context.Context, in *cb.DeleteProjectInput) (*cb.DeleteProjectOutput, error) {
		return nil, nil
	})
	awsjson.HandleRaw(s, "BatchGetBuilds", func(ctx context.Context, in *cb.BatchGetBuildsInput) (awsjson.Raw, error) {
		notFound, _ := json.Marshal(in.Ids)
		b := append(awsjson.Buffer(64), `{"builds":[],"buildsNotFound":`...)
		return append(append(b, notFound...), '}'), nil
	})
	awsjson.Precheck(s, "BatchGetBuilds", func(req map[string]any) *awsjson.Error {
		if ids, ok := req["ids"].([]any); ok && len(ids) == 0 {
			return &awsjson.Error{Type: awsjson.InvalidInput, Message: "The input build ID list cannot be empty.", Status: 400}
		}
		return nil
	})
	type logIn struct {
		ID     string `json:"id"`
		Offset int64  `json:"offset"`
	}
	awsjson.HandleExtension(s, "BuildBatch_20261101.GetBuildLog", func(ctx context.Context, in *logIn) (*logIn, error) {
		return in, nil
	})
	f.Fuzz(func(t *testing.T, target, auth, date string, body []byte) {
		req := httptest.NewRequest("POST", "http://127.0.0.1:4599/", bytes.NewReader(body))
		req.Header.Set("Content-Type", awsjson.ContentType)
		for k, v := range map[string]string{"X-Amz-Target": target, "Authorization": auth, "X-Amz-Date": date} {
			if v != "" {
				req.Header[k] = []string{v} // as received: no canonicalization, any bytes
			}
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		code, out := w.Code, w.Body.Bytes()
		if code >= 500 {
			t.Fatalf("%q %q: %d %s", target, body, code, out)
		}
		if ct := w.Header().Get("Content-Type"); ct != awsjson.ContentType || w.Header().Get("x-amzn-RequestId") == "" {
			t.Fatalf("%q: Content-Type %q, request id %q", target, ct, w.Header().Get("x-amzn-RequestId"))
		}
		if code >= 400 {
			var e struct {
				Type    *string `json:"__type"`
				Message *string `json:"message"`
			}
			if err := json.Unmarshal(out, &e); err != nil || e.Type == nil || *e.Type == "" || e.Message == nil {
				t.Fatalf("%q %q: %d, not an AWS error: %s", target, body, code, out)
			}
			if len(*e.Message) > awsjson.MaxMessage || !utf8.ValidString(*e.Message) {
				t.Fatalf("%q %q: a message of %d bytes: %.200q", target, body, len(*e.Message), *e.Message)
			}
			return
		}
		if code != http.StatusOK || !json.Valid(out) || out[0] != '{' {
			t.Fatalf("%q %q: %d %.300s", target, body, code, out)
		}
	})
}
