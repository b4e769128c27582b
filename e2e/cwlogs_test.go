package e2e

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/smithy-go"
)

// LogsClient is a CloudWatch Logs client of the server (the same port as
// CodeBuild).
func (s *Server) LogsClient(t *testing.T, accessKey, region string) *cloudwatchlogs.Client {
	return cloudwatchlogs.New(cloudwatchlogs.Options{
		Region:           region,
		BaseEndpoint:     aws.String(s.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(accessKey, "secret-"+accessKey, ""),
		HTTPClient:       http.DefaultClient,
		RetryMaxAttempts: 1,
	})
}

// logLines is a build's log as lines with their newlines, as CloudWatch
// Logs events carry them.
func logLines(t *testing.T, s *Server, id string) []string {
	lines := strings.SplitAfter(logText(t, s, id), "\n")
	return lines[:len(lines)-1] // after the last newline: nothing
}

func TestCloudWatchLogs(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	lc := s.LogsClient(t, "test", "us-east-1")
	project(t, c, "talk", "version: 0.2\nphases:\n  build:\n    commands:\n      - for i in $(seq 1 40); do echo \"line $i\"; done\n      - echo ERROR disk on fire\n      - echo '   '\n      - echo done\n")
	first := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("talk")}).Id))
	group, stream := aws.ToString(first.Logs.GroupName), aws.ToString(first.Logs.StreamName)
	if group != "/aws/codebuild/talk" || stream == "" || !strings.HasSuffix(aws.ToString(first.Id), ":"+stream) {
		t.Fatalf("logs member: %+v", first.Logs)
	}
	want := logLines(t, s, aws.ToString(first.Id))
	if len(want) < 45 {
		t.Fatalf("log of %d lines", len(want))
	}

	// Forward from the head, in pages of 7, with the SDK's paginator (which
	// stops on the repeated token at the end).
	var got []string
	p := cloudwatchlogs.NewGetLogEventsPaginator(lc, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream),
		StartFromHead: aws.Bool(true), Limit: aws.Int32(7)}, func(o *cloudwatchlogs.GetLogEventsPaginatorOptions) { o.StopOnDuplicateToken = true })
	pages := 0
	for p.HasMorePages() && pages < 100 {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, e := range out.Events {
			got = append(got, aws.ToString(e.Message))
			if aws.ToInt64(e.Timestamp) < first.StartTime.UnixMilli() || aws.ToInt64(e.IngestionTime) < aws.ToInt64(e.Timestamp) {
				t.Errorf("event time %d / %d, build started %d", aws.ToInt64(e.Timestamp), aws.ToInt64(e.IngestionTime), first.StartTime.UnixMilli())
			}
		}
	}
	if !slices.Equal(got, want) || pages != (len(want)+6)/7+1 {
		t.Errorf("forward read: %d pages, %d lines; want the %d lines of the log:\n%q", pages, len(got), len(want), got)
	}

	// Backward (the default: the last page first), then back to the start.
	out, err := lc.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), Limit: aws.Int32(10)})
	if err != nil || len(out.Events) != 10 || aws.ToString(out.Events[9].Message) != want[len(want)-1] {
		t.Fatalf("last page: %+v %v", out, err)
	}
	var back []string
	for i := 0; ; i++ {
		var msgs []string
		for _, e := range out.Events {
			msgs = append(msgs, aws.ToString(e.Message))
		}
		back = append(msgs, back...)
		sent := out.NextBackwardToken
		out, err = lc.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), Limit: aws.Int32(10), NextToken: sent})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.NextBackwardToken) == aws.ToString(sent) {
			break // the start: the same token comes back
		}
		if i > 20 {
			t.Fatal("backward read does not end")
		}
	}
	if !slices.Equal(back, want) {
		t.Errorf("backward read: %q", back)
	}
	// The forward token of a backward page goes on from where it ends.
	if len(out.Events) != 0 {
		t.Errorf("page before the start: %+v", out.Events)
	}

	// FilterLogEvents: terms, stable event ids, the paginator.
	for _, tc := range []struct {
		pattern string
		want    int
	}{{"ERROR", 2}, {`"disk on fire"`, 2}, {"ERROR -Running", 1}, {"?fire ?done", 5}, {"%line [0-9]$%", 9}, {"%^line 4[0-9]%", 1}, {"", len(want)}} {
		fp := cloudwatchlogs.NewFilterLogEventsPaginator(lc, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group), FilterPattern: aws.String(tc.pattern), Limit: aws.Int32(9)})
		var events []cwtypes.FilteredLogEvent
		for fp.HasMorePages() {
			page, err := fp.NextPage(ctx)
			if err != nil {
				t.Fatalf("%q: %v", tc.pattern, err)
			}
			events = append(events, page.Events...)
		}
		if len(events) != tc.want {
			t.Errorf("filter %q: %d events, want %d", tc.pattern, len(events), tc.want)
		}
		ids := map[string]bool{}
		for _, e := range events {
			if ids[aws.ToString(e.EventId)] || aws.ToString(e.LogStreamName) != stream || strings.Trim(aws.ToString(e.EventId), "0123456789") != "" {
				t.Errorf("filter %q: event %+v (ids so far %v)", tc.pattern, e, ids)
			}
			ids[aws.ToString(e.EventId)] = true
		}
	}
	_, err = lc.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group), FilterPattern: aws.String(`{ $.level = "x" }`)})
	wantLogsError(t, err, "InvalidParameterException", "JSON")

	// A second build: two streams, the newest last by LastEventTime.
	second := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("talk")}).Id))
	ds, err := lc.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(group), OrderBy: cwtypes.OrderByLastEventTime, Descending: aws.Bool(true)})
	if err != nil || len(ds.LogStreams) != 2 || aws.ToString(ds.LogStreams[0].LogStreamName) != aws.ToString(second.Logs.StreamName) ||
		!strings.HasSuffix(aws.ToString(ds.LogStreams[0].Arn), ":log-group:/aws/codebuild/talk:log-stream:"+aws.ToString(second.Logs.StreamName)) {
		t.Errorf("DescribeLogStreams: %+v %v", ds, err)
	}
	// Pages of one stream each, newest first.
	var order []string
	sp := cloudwatchlogs.NewDescribeLogStreamsPaginator(lc, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(group), OrderBy: cwtypes.OrderByLastEventTime,
		Descending: aws.Bool(true), Limit: aws.Int32(1)})
	for pages := 0; sp.HasMorePages() && pages < 5; pages++ {
		page, err := sp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range page.LogStreams {
			order = append(order, aws.ToString(st.LogStreamName))
		}
	}
	if strings.Join(order, " ") != aws.ToString(second.Logs.StreamName)+" "+stream {
		t.Errorf("DescribeLogStreams pages: %v", order)
	}
	// A token is its stream's.
	first5, err := lc.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true), Limit: aws.Int32(5)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = lc.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: second.Logs.StreamName, NextToken: first5.NextForwardToken})
	wantLogsError(t, err, "InvalidParameterException", "nextToken")
	all, err := lc.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group), FilterPattern: aws.String("ERROR")})
	if err != nil || len(all.Events) != 4 || all.NextToken != nil || aws.ToString(all.Events[0].LogStreamName) != stream {
		t.Errorf("FilterLogEvents over two streams: %+v %v", all, err)
	}
	dg, err := lc.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/aws/codebuild/")})
	if err != nil || len(dg.LogGroups) != 1 || aws.ToString(dg.LogGroups[0].LogGroupName) != group || aws.ToString(dg.LogGroups[0].Arn) != "arn:aws:logs:us-east-1:000000000000:log-group:/aws/codebuild/talk:*" {
		t.Errorf("DescribeLogGroups: %+v %v", dg, err)
	}

	// Errors, and other accounts see nothing.
	_, err = lc.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/aws/codebuild/nope"), LogStreamName: aws.String(stream)})
	wantLogsError(t, err, "ResourceNotFoundException", "log group does not exist")
	_, err = lc.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String("nope")})
	wantLogsError(t, err, "ResourceNotFoundException", "log stream does not exist")
	_, err = lc.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), NextToken: aws.String("x/1")})
	wantLogsError(t, err, "InvalidParameterException", "nextToken")
	other := s.LogsClient(t, "111111111111", "us-east-1")
	_, err = other.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)})
	wantLogsError(t, err, "ResourceNotFoundException", "log group")
	if dg, err := other.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{}); err != nil || len(dg.LogGroups) != 0 {
		t.Errorf("another account's DescribeLogGroups: %+v %v", dg, err)
	}
	_, err = lc.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream),
		LogEvents: []cwtypes.InputLogEvent{{Message: aws.String("x"), Timestamp: aws.Int64(1)}}})
	wantLogsError(t, err, "UnknownOperationException", "not served by buildbatch")

	// A line longer than a page comes in pieces, each a page's event, and
	// what follows it is read too.
	project(t, c, "long", "version: 0.2\nphases:\n  build:\n    commands:\n      - head -c 1500000 /dev/zero | tr '\\0' a; echo\n      - echo after\n")
	lb := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("long")}).Id))
	lp := cloudwatchlogs.NewGetLogEventsPaginator(lc, &cloudwatchlogs.GetLogEventsInput{LogGroupName: lb.Logs.GroupName, LogStreamName: lb.Logs.StreamName,
		StartFromHead: aws.Bool(true)}, func(o *cloudwatchlogs.GetLogEventsPaginatorOptions) { o.StopOnDuplicateToken = true })
	var long, after int
	for pages := 0; lp.HasMorePages() && pages < 50; pages++ {
		out, err := lp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range out.Events {
			long += strings.Count(aws.ToString(e.Message), "a")
			if aws.ToString(e.Message) == "after\n" {
				after++
			}
		}
	}
	if long < 1500000 || after != 1 {
		t.Errorf("a 1.5 MB line: %d bytes of it read, %q read %d times", long, "after", after)
	}

	// The aws cli reads the same.
	cli, err := s.AWS(t, "test", "logs", "get-log-events", "--log-group-name", group, "--log-stream-name", stream, "--start-from-head", "--query", "events[-1].message", "--output", "text")
	if err != nil || strings.TrimSpace(string(cli)) != strings.TrimSpace(want[len(want)-1]) {
		t.Errorf("aws logs get-log-events: %q %v", cli, err)
	}
	cli, err = s.AWS(t, "test", "logs", "filter-log-events", "--log-group-name", group, "--log-stream-names", stream, "--filter-pattern", "ERROR", "--query", "length(events)", "--output", "text")
	if err != nil || strings.TrimSpace(string(cli)) != "2" {
		t.Errorf("aws logs filter-log-events: %q %v", cli, err)
	}
}

// TestCloudWatchLogsFollow: a GetLogEvents loop that stops when the token
// it sent comes back follows a running build, as the clients' loops do.
func TestCloudWatchLogsFollow(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	lc := s.LogsClient(t, "test", "us-east-1")
	project(t, c, "ticks", "version: 0.2\nphases:\n  build:\n    commands:\n      - for i in 1 2 3 4 5; do echo tick $i; sleep 0.3; done\n")
	b := start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("ticks")})
	b = waitPhase(t, c, aws.ToString(b.Id), "BUILD")
	in := &cloudwatchlogs.GetLogEventsInput{LogGroupName: b.Logs.GroupName, LogStreamName: b.Logs.StreamName, StartFromHead: aws.Bool(true)}
	var lines []string
	sawTickWhileRunning := false
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		out, err := lc.GetLogEvents(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range out.Events {
			lines = append(lines, aws.ToString(e.Message))
			if strings.HasPrefix(aws.ToString(e.Message), "tick 1") && !getBuild(t, c, aws.ToString(b.Id)).BuildComplete {
				sawTickWhileRunning = true
			}
		}
		if in.NextToken != nil && aws.ToString(out.NextForwardToken) == aws.ToString(in.NextToken) {
			if getBuild(t, c, aws.ToString(b.Id)).BuildComplete {
				// Caught up with a finished build: one more read, in case its
				// last lines came after the previous one.
				if again, err := lc.GetLogEvents(ctx, in); err == nil && len(again.Events) == 0 {
					break
				}
				continue
			}
			time.Sleep(100 * time.Millisecond) // a polling client's pause
		}
		in.NextToken = out.NextForwardToken
	}
	if !sawTickWhileRunning || !slices.Equal(lines, logLines(t, s, aws.ToString(b.Id))) {
		t.Errorf("followed (tick seen while running: %v):\n%q", sawTickWhileRunning, lines)
	}
}

func TestCloudWatchLogsBoto3(t *testing.T) {
	s := Start(t)
	s.Python(t, "test_cwlogs")
}

func wantLogsError(t *testing.T, err error, code, contains string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), contains) {
		t.Errorf("error %v, want %s containing %q", err, code, contains)
	}
}
