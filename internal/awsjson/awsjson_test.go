package awsjson

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/sigv4"
)

func newTestServer(t *testing.T) *httptest.Server {
	s := NewServer(cb.TargetPrefix, &sigv4.Verifier{Service: "codebuild", DefaultAccount: "000000000000"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	Handle(s, "StopBuild", func(ctx context.Context, in *cb.StopBuildInput) (*cb.StopBuildOutput, error) {
		c := CallerFrom(ctx)
		switch cb.Deref(in.Id) {
		case "missing":
			return nil, Errorf(ResourceNotFound, "Build not found for id: missing")
		case "boom":
			return nil, errors.New("disk on fire")
		}
		return &cb.StopBuildOutput{Build: &cb.Build{Id: in.Id, Initiator: cb.String(c.Account + "/" + c.Region)}}, nil
	})
	Handle(s, "DeleteProject", func(ctx context.Context, in *cb.DeleteProjectInput) (*cb.DeleteProjectOutput, error) {
		return nil, nil
	})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts
}

const auth = "AWS4-HMAC-SHA256 Credential=123456789012/20261127/eu-west-1/codebuild/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000"

func TestServeHTTP(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		name       string
		method     string
		target     string
		body       string
		noAuth     bool
		wantStatus int
		wantType   string
		wantBody   string // substring
	}{
		{"ok", "POST", "CodeBuild_20161006.StopBuild", `{"id":"p:1"}`, false, 200, "", `{"build":{"id":"p:1","initiator":"123456789012/eu-west-1"}}`},
		{"empty output", "POST", "CodeBuild_20161006.DeleteProject", `{"name":"x"}`, false, 200, "", `{}`},
		{"empty body means {}", "POST", "CodeBuild_20161006.StopBuild", ``, false, 400, InvalidInput, "Value null at 'id' failed to satisfy constraint: Member must not be null"},
		{"modeled error", "POST", "CodeBuild_20161006.StopBuild", `{"id":"missing"}`, false, 400, ResourceNotFound, "Build not found for id: missing"},
		{"internal error", "POST", "CodeBuild_20161006.StopBuild", `{"id":"boom"}`, false, 500, InternalFailure, "internal error"},
		{"malformed json", "POST", "CodeBuild_20161006.StopBuild", `{"id":`, false, 400, Serialization, "Malformed JSON"},
		{"trailing data", "POST", "CodeBuild_20161006.StopBuild", `{"id":"a"} {}`, false, 400, Serialization, "trailing"},
		{"wrong type", "POST", "CodeBuild_20161006.StopBuild", `{"id":5}`, false, 400, Serialization, "Unexpected value type at 'id': expected string, got number"},
		{"not an object", "POST", "CodeBuild_20161006.StopBuild", `"x"`, false, 400, Serialization, "Expected a JSON object"},
		{"unknown operation", "POST", "CodeBuild_20161006.Frobnicate", `{}`, false, 400, UnknownOperation, "Unknown operation CodeBuild_20161006.Frobnicate"},
		{"unimplemented model operation", "POST", "CodeBuild_20161006.CreateFleet", `{}`, false, 400, UnknownOperation, "not implemented"},
		{"other service", "POST", "DynamoDB_20120810.ListTables", `{}`, false, 400, UnknownOperation, "Unknown operation"},
		{"missing target", "POST", "", `{}`, false, 400, UnknownOperation, "Missing X-Amz-Target"},
		{"malformed target", "POST", "CodeBuild_20161006.Stop?Build", `{}`, false, 400, UnknownOperation, "Malformed X-Amz-Target"},
		{"kilobytes of target", "POST", "CodeBuild_20161006." + strings.Repeat("A", 5000), `{}`, false, 400, UnknownOperation, "Malformed X-Amz-Target"},
		{"kilobytes of input are not echoed", "POST", "CodeBuild_20161006.StopBuild", `{"id":` + strings.Repeat("9", 100000) + `}`, false, 400, Serialization, "Unexpected value type"},
		{"GET", "GET", "CodeBuild_20161006.StopBuild", ``, false, 404, UnknownOperation, "Only POST"},
		{"no auth", "POST", "CodeBuild_20161006.StopBuild", `{"id":"p:1"}`, true, 400, sigv4.CodeMissingToken, "Missing Authentication Token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, ts.URL+"/", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", ContentType)
			if tt.target != "" {
				req.Header.Set("X-Amz-Target", tt.target)
			}
			req.Header.Set("X-Amz-Date", "20261127T010649Z")
			if !tt.noAuth {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d (%s)", resp.StatusCode, tt.wantStatus, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != ContentType {
				t.Errorf("Content-Type = %q", ct)
			}
			if resp.Header.Get("x-amzn-RequestId") == "" {
				t.Error("no x-amzn-RequestId")
			}
			if !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("body = %s, want it to contain %s", body, tt.wantBody)
			}
			if len(body) > MaxMessage+200 {
				t.Errorf("error body of %d bytes", len(body))
			}
			if tt.wantType != "" {
				var e struct {
					Type    string `json:"__type"`
					Message string `json:"message"`
				}
				if err := json.Unmarshal(body, &e); err != nil || e.Type != tt.wantType || e.Message == "" {
					t.Errorf("error body = %s, want __type %s and a message", body, tt.wantType)
				}
			}
		})
	}
}
