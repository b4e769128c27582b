package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

func TestARNKind(t *testing.T) {
	tests := []struct {
		in, kind, id string
		ok           bool
	}{
		{"arn:aws:codebuild:us-east-1:123456789012:build/p:0f1e", kindBuild, "p:0f1e", true},
		{"arn:aws:codebuild:us-east-1:123456789012:build-batch/p:0f1e", kindBatch, "p:0f1e", true},
		{"arn:aws-cn:codebuild:cn-north-1:123456789012:build/p:u", kindBuild, "p:u", true},
		{"arn:aws:codebuild:us-east-1:123456789012:project/p", "", "arn:aws:codebuild:us-east-1:123456789012:project/p", false},
		{"arn:aws:s3:::bucket/build/x", "", "arn:aws:s3:::bucket/build/x", false},
		{"p:0f1e", "", "p:0f1e", false},
		{"build/p:u", "", "build/p:u", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		kind, ok := arnKind(tt.in)
		if kind != tt.kind || ok != tt.ok {
			t.Errorf("arnKind(%q) = %q, %v; want %q, %v", tt.in, kind, ok, tt.kind, tt.ok)
		}
		if id := idOfARN(tt.in); id != tt.id {
			t.Errorf("idOfARN(%q) = %q, want %q", tt.in, id, tt.id)
		}
	}
}

func TestPrefixWriter(t *testing.T) {
	var buf bytes.Buffer
	p := &prefixWriter{w: &buf, prefix: "a | "}
	for _, s := range []string{"one\ntw", "o\n", "", "three\nfour"} {
		if _, err := p.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	p.endLine()
	p.endLine()
	if want := "a | one\na | two\na | three\na | four\n"; buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

func TestConnectionRefusedHint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_PROFILE", "")
	for _, cmd := range []string{"logs", "watch"} {
		var stdout, stderr bytes.Buffer
		code := Main(context.Background(), []string{cmd, "--endpoint-url", "http://" + addr, "p:x"}, &stdout, &stderr)
		if code == 0 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "is the server running? start it with: buildbatch serve") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", cmd, code, stdout.String(), stderr.String())
		}
	}
	var stderr bytes.Buffer
	connectHint(&stderr, fmt.Errorf("other: %w", errors.New("x")))
	if stderr.Len() != 0 {
		t.Errorf("hint for another error: %q", stderr.String())
	}
}

func TestWatchRejectsBuildARN(t *testing.T) {
	var stdout, stderr bytes.Buffer
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_PROFILE", "")
	if code := Main(context.Background(), []string{"watch", "arn:aws:codebuild:us-east-1:123456789012:build/p:u"}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "is not a build batch") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0s", 1234 * time.Millisecond: "1.2s", 75*time.Second + 600*time.Millisecond: "1m16s"} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
