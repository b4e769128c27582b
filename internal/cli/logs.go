package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/api"
	"github.com/buildbatch/buildbatch/internal/config"
	"github.com/buildbatch/buildbatch/internal/sigv4"
)

// endpoint finds the server as the aws cli does: --endpoint-url, else
// AWS_ENDPOINT_URL_CODEBUILD, else AWS_ENDPOINT_URL, else the default
// listen address.
func endpoint(flagValue string) string {
	for _, v := range []string{flagValue, os.Getenv("AWS_ENDPOINT_URL_CODEBUILD"), os.Getenv("AWS_ENDPOINT_URL")} {
		if v != "" {
			return strings.TrimRight(v, "/")
		}
	}
	return "http://" + config.DefaultListen
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// client calls the server with SigV4, with credentials from the usual
// environment variables (test/test if there are none, fine in local mode).
type client struct {
	url, region        string
	key, secret, token string
	http               *http.Client
}

func newClient(url, region string) *client {
	return &client{
		url:    url,
		region: firstNonEmpty(region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), "us-east-1"),
		key:    firstNonEmpty(os.Getenv("AWS_ACCESS_KEY_ID"), "test"),
		secret: firstNonEmpty(os.Getenv("AWS_SECRET_ACCESS_KEY"), "test"),
		token:  os.Getenv("AWS_SESSION_TOKEN"),
		http:   &http.Client{Timeout: 60 * time.Second},
	}
}

func (c *client) call(ctx context.Context, target string, in, out any) error {
	body, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	sigv4.Sign(req, body, c.key, c.secret, c.token, c.region, "codebuild", time.Now())
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &e) == nil && e.Type != "" {
			return fmt.Errorf("%s: %s", e.Type, e.Message)
		}
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, data)
	}
	return json.Unmarshal(data, out)
}

func logs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpointURL := fs.String("endpoint-url", "", "server URL (default: $AWS_ENDPOINT_URL_CODEBUILD, $AWS_ENDPOINT_URL, http://"+config.DefaultListen+")")
	region := fs.String("region", "", "region (default: $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1)")
	follow := fs.Bool("follow", false, "keep printing as the build writes, until it ends")
	fs.BoolVar(follow, "f", false, "short for --follow")
	stamps := fs.Bool("timestamps", false, "prefix each line with the time it was written")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: buildbatch logs [flags] <build-id>")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	c := newClient(endpoint(*endpointURL), *region)
	in := api.GetBuildLogInput{ID: fs.Arg(0), Timestamps: *stamps}
	for {
		if *follow {
			in.WaitSeconds = 20
		}
		var out api.GetBuildLogOutput
		if err := c.call(ctx, api.GetBuildLogTarget, in, &out); err != nil {
			if ctx.Err() != nil {
				return 130
			}
			fmt.Fprintf(stderr, "buildbatch logs: %v\n", err)
			return 1
		}
		io.WriteString(stdout, out.Text)
		in.Offset = out.NextOffset
		if out.Complete || (!*follow && out.Text == "") {
			return 0
		}
	}
}
