package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/sigv4"
)

// The AWS JSON 1.1 targets: CodeBuild's, and buildbatch's log extension
// (internal/api/logs.go).
const (
	codebuildPrefix = "CodeBuild_20161006."
	getBuildLog     = "BuildBatch_20261101.GetBuildLog"
)

// client sends SigV4-signed AWS JSON 1.1 requests, as the aws cli does,
// with the access key test/test in us-east-1.
type client struct {
	url  string
	http *http.Client
}

func newClient(url string, conns int, timeout time.Duration) *client {
	tr := &http.Transport{
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     time.Minute,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	return &client{url: url, http: &http.Client{Transport: tr, Timeout: timeout}}
}

// closeIdle closes the kept-alive connections, so that the server's count
// of descriptors and goroutines is not ours.
func (c *client) closeIdle() { c.http.CloseIdleConnections() }

// apiError is an answer other than 200.
type apiError struct {
	Op      string
	Status  int
	Type    string // __type, without a namespace
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s: HTTP %d %s: %.300s", e.Op, e.Status, e.Type, e.Message)
}

// request describes one request; the zero values are a signed CodeBuild
// call.
type request struct {
	Target   string // full X-Amz-Target; default codebuildPrefix+Op
	Op       string
	Body     []byte
	Unsigned bool
}

// send sends one request and returns the body of a 200 answer, an
// *apiError for another status, or the transport's error.
func (c *client) send(ctx context.Context, r request) ([]byte, error) {
	target := r.Target
	if target == "" {
		target = codebuildPrefix + r.Op
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/", bytes.NewReader(r.Body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	if !r.Unsigned {
		sigv4.Sign(req, r.Body, "test", "test", "", "us-east-1", "codebuild", time.Now())
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
		return data, &apiError{Op: r.Op, Status: resp.StatusCode, Type: e.Type, Message: e.Message}
	}
	return data, nil
}

// call is send with JSON in and out.
func (c *client) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	data, err := c.send(ctx, request{Op: op, Body: body})
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

// buildLog reads a build's whole log through GetBuildLog.
func (c *client) buildLog(ctx context.Context, id string) (text string, complete bool, err error) {
	var b strings.Builder
	offset := int64(0)
	for range 1000 {
		body, _ := json.Marshal(map[string]any{"id": id, "offset": offset})
		data, err := c.send(ctx, request{Target: getBuildLog, Op: "GetBuildLog", Body: body})
		if err != nil {
			return b.String(), false, err
		}
		var out struct {
			Text       string `json:"text"`
			NextOffset int64  `json:"nextOffset"`
			Complete   bool   `json:"complete"`
		}
		if err := json.Unmarshal(data, &out); err != nil {
			return b.String(), false, err
		}
		b.WriteString(out.Text)
		if out.Complete || out.Text == "" {
			return b.String(), out.Complete, nil
		}
		offset = out.NextOffset
	}
	return b.String(), false, errors.New("log longer than expected")
}

// build is what the tools read of a build.
type build struct {
	ID            string  `json:"id"`
	Arn           string  `json:"arn"`
	Status        string  `json:"buildStatus"`
	Complete      bool    `json:"buildComplete"`
	CurrentPhase  string  `json:"currentPhase"`
	EndTime       float64 `json:"endTime"`
	BuildBatchArn string  `json:"buildBatchArn"`
	ProjectName   string  `json:"projectName"`
	Artifacts     struct {
		Location  string `json:"location"`
		Sha256sum string `json:"sha256sum"`
	} `json:"artifacts"`
	AutoRetryConfig *struct {
		AutoRetryLimit    int    `json:"autoRetryLimit"`
		AutoRetryNumber   int    `json:"autoRetryNumber"`
		NextAutoRetry     string `json:"nextAutoRetry"`
		PreviousAutoRetry string `json:"previousAutoRetry"`
	} `json:"autoRetryConfig"`
	Phases []struct {
		Type     string `json:"phaseType"`
		Status   string `json:"phaseStatus"`
		Contexts []struct {
			StatusCode string `json:"statusCode"`
			Message    string `json:"message"`
		} `json:"contexts"`
	} `json:"phases"`
}

// buildSummary is a batch group's build.
type buildSummary struct {
	Arn    string `json:"arn"`
	Status string `json:"buildStatus"`
}

// buildBatch is what the tools read of a batch.
type buildBatch struct {
	ID           string  `json:"id"`
	Arn          string  `json:"arn"`
	Status       string  `json:"buildBatchStatus"`
	Complete     bool    `json:"complete"`
	CurrentPhase string  `json:"currentPhase"`
	EndTime      float64 `json:"endTime"`
	ProjectName  string  `json:"projectName"`
	Artifacts    struct {
		Location string `json:"location"`
	} `json:"artifacts"`
	BuildBatchConfig struct {
		CombineArtifacts bool `json:"combineArtifacts"`
	} `json:"buildBatchConfig"`
	BuildGroups []struct {
		Identifier            string         `json:"identifier"`
		CurrentBuildSummary   *buildSummary  `json:"currentBuildSummary"`
		PriorBuildSummaryList []buildSummary `json:"priorBuildSummaryList"`
	} `json:"buildGroups"`
}

// listAll pages through a List operation and returns every id.
func (c *client) listAll(ctx context.Context, op string, in map[string]any) ([]string, error) {
	var all []string
	for {
		var out struct {
			IDs       []string `json:"ids"`
			NextToken string   `json:"nextToken"`
		}
		if err := c.call(ctx, op, in, &out); err != nil {
			return all, err
		}
		all = append(all, out.IDs...)
		if out.NextToken == "" {
			return all, nil
		}
		in["nextToken"] = out.NextToken
	}
}

// getBuilds reads builds by id, 100 a request.
func (c *client) getBuilds(ctx context.Context, ids []string) (found []build, notFound []string, err error) {
	for i := 0; i < len(ids); i += 100 {
		var out struct {
			Builds         []build  `json:"builds"`
			BuildsNotFound []string `json:"buildsNotFound"`
		}
		if err := c.call(ctx, "BatchGetBuilds", map[string]any{"ids": ids[i:min(i+100, len(ids))]}, &out); err != nil {
			return found, notFound, err
		}
		found = append(found, out.Builds...)
		notFound = append(notFound, out.BuildsNotFound...)
	}
	return found, notFound, nil
}

// getBatches reads batches by id, 100 a request.
func (c *client) getBatches(ctx context.Context, ids []string) (found []buildBatch, notFound []string, err error) {
	for i := 0; i < len(ids); i += 100 {
		var out struct {
			Batches  []buildBatch `json:"buildBatches"`
			NotFound []string     `json:"buildBatchesNotFound"`
		}
		if err := c.call(ctx, "BatchGetBuildBatches", map[string]any{"ids": ids[i:min(i+100, len(ids))]}, &out); err != nil {
			return found, notFound, err
		}
		found = append(found, out.Batches...)
		notFound = append(notFound, out.NotFound...)
	}
	return found, notFound, nil
}

// project is a CreateProject request for a NO_SOURCE project.
func project(name, buildspec string, extra map[string]any) map[string]any {
	p := map[string]any{
		"name":        name,
		"source":      map[string]any{"type": "NO_SOURCE", "buildspec": buildspec},
		"artifacts":   map[string]any{"type": "NO_ARTIFACTS"},
		"environment": map[string]any{"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0", "computeType": "BUILD_GENERAL1_SMALL"},
		"serviceRole": "arn:aws:iam::000000000000:role/reliability",
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}
