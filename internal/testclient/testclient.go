// Package testclient is the small AWS JSON 1.1 client of buildbatch's own
// tools (the bench, the reliability tools): SigV4-signed requests as the
// aws cli sends them, with the access key test/test in us-east-1, over
// kept-alive connections.
package testclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/sigv4"
)

// CodeBuildPrefix is the X-Amz-Target prefix of CodeBuild's operations.
const CodeBuildPrefix = "CodeBuild_20161006."

// Client sends requests to one server.
type Client struct {
	url  string
	http *http.Client
}

// New returns a client of url keeping up to 2×conns idle connections;
// timeout bounds each request.
func New(url string, conns int, timeout time.Duration) *Client {
	tr := &http.Transport{
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     time.Minute,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	return &Client{url: url, http: &http.Client{Transport: tr, Timeout: timeout}}
}

// CloseIdle closes the kept-alive connections, so that the server's count
// of descriptors and goroutines is not ours.
func (c *Client) CloseIdle() { c.http.CloseIdleConnections() }

// APIError is an answer other than 200.
type APIError struct {
	Op      string
	Status  int
	Type    string // __type, without a namespace
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s: HTTP %d %s: %.300s", e.Op, e.Status, e.Type, e.Message)
}

// Request describes one request; the zero values are a signed CodeBuild
// call.
type Request struct {
	Target   string // full X-Amz-Target; default CodeBuildPrefix+Op
	Service  string // SigV4 service; default "codebuild"
	Op       string
	Body     []byte
	Unsigned bool
}

// Send sends one request and returns the body of a 200 answer, an
// *APIError (with the body) for another status, or the transport's error.
func (c *Client) Send(ctx context.Context, r Request) ([]byte, error) {
	target := r.Target
	if target == "" {
		target = CodeBuildPrefix + r.Op
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/", bytes.NewReader(r.Body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	if !r.Unsigned {
		service := r.Service
		if service == "" {
			service = "codebuild"
		}
		sigv4.Sign(req, r.Body, "test", "test", "", "us-east-1", service, time.Now())
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		json.Unmarshal(data, &e)
		if i := strings.LastIndexByte(e.Type, '#'); i >= 0 {
			e.Type = e.Type[i+1:]
		}
		if e.Type == "" {
			e.Type = "(none)"
		}
		if e.Message == "" {
			e.Message = string(data)
		}
		return data, &APIError{Op: r.Op, Status: resp.StatusCode, Type: e.Type, Message: e.Message}
	}
	return data, nil
}

// Call is Send of a CodeBuild operation with JSON in and out (out may be
// nil).
func (c *Client) Call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	data, err := c.Send(ctx, Request{Op: op, Body: body})
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s: decoding the answer: %v", op, err)
		}
	}
	return nil
}

// Project is a CreateProject request for a NO_SOURCE project with an inline
// buildspec and no artifacts, whose service role is named role; extra
// members are added or replace these.
func Project(name, buildspec, role string, extra map[string]any) map[string]any {
	p := map[string]any{
		"name":        name,
		"source":      map[string]any{"type": "NO_SOURCE", "buildspec": buildspec},
		"artifacts":   map[string]any{"type": "NO_ARTIFACTS"},
		"environment": map[string]any{"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0", "computeType": "BUILD_GENERAL1_SMALL"},
		"serviceRole": "arn:aws:iam::000000000000:role/" + role,
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}
