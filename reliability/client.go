package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/testclient"
)

// getBuildLog is buildbatch's log extension (internal/api/logs.go).
const getBuildLog = "BuildBatch_20261101.GetBuildLog"

// client is the tools' signed client, with the reads they share.
type client struct{ *testclient.Client }

func newClient(url string, conns int, timeout time.Duration) *client {
	return &client{testclient.New(url, conns, timeout)}
}

// buildLog reads a build's whole log through GetBuildLog.
func (c *client) buildLog(ctx context.Context, id string) (text string, complete bool, err error) {
	var b strings.Builder
	offset := int64(0)
	for range 1000 {
		body, _ := json.Marshal(map[string]any{"id": id, "offset": offset})
		data, err := c.Send(ctx, testclient.Request{Target: getBuildLog, Op: "GetBuildLog", Body: body})
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
		if err := c.Call(ctx, op, in, &out); err != nil {
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
		if err := c.Call(ctx, "BatchGetBuilds", map[string]any{"ids": ids[i:min(i+100, len(ids))]}, &out); err != nil {
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
		if err := c.Call(ctx, "BatchGetBuildBatches", map[string]any{"ids": ids[i:min(i+100, len(ids))]}, &out); err != nil {
			return found, notFound, err
		}
		found = append(found, out.Batches...)
		notFound = append(notFound, out.NotFound...)
	}
	return found, notFound, nil
}

// project is a CreateProject request for a NO_SOURCE project.
func project(name, buildspec string, extra map[string]any) map[string]any {
	return testclient.Project(name, buildspec, "reliability", extra)
}
