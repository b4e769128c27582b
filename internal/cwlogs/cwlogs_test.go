package cwlogs

import (
	"strings"
	"testing"
	"time"

	"github.com/buildbatch/buildbatch/internal/buildlog"
)

func TestPattern(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		matches []string
		misses  []string
	}{
		{"", []string{"", "anything"}, nil},
		{"ERROR", []string{"an ERROR here\n"}, []string{"an error here"}},
		{"ERROR Exception", []string{"ERROR: Exception"}, []string{"ERROR only", "Exception only"}},
		{"?ERROR ?WARN", []string{"ERROR", "WARN"}, []string{"INFO"}},
		{`"Phase complete"`, []string{"[Container] Phase complete: BUILD"}, []string{"Phase  complete", "complete Phase"}},
		{"ERROR -Retry", []string{"ERROR once"}, []string{"ERROR Retry 2"}},
		{"%Phase complete: [A-Z_]+%", []string{"Phase complete: POST_BUILD"}, []string{"Phase complete: build"}},
		{`%^tick [0-9]%`, []string{"tick 1\n"}, []string{"a tick 1"}},
		{`%^tick [0-9]$%`, []string{"tick 1\n", "tick 2"}, []string{"tick 10\n"}},
		{"  ERROR\t ", []string{"ERROR"}, []string{"error"}},
	} {
		p, err := parsePattern(tc.pattern)
		if err != nil {
			t.Errorf("%q: %v", tc.pattern, err)
			continue
		}
		for _, m := range tc.matches {
			if !p.match(m) {
				t.Errorf("%q does not match %q", tc.pattern, m)
			}
		}
		for _, m := range tc.misses {
			if p.match(m) {
				t.Errorf("%q matches %q", tc.pattern, m)
			}
		}
	}
	for _, bad := range []string{`{ $.level = "x" }`, "[ip, user]", `"unterminated`, "%unterminated", "%(group)%", "%a% %b% %c%", "%[%"} {
		if _, err := parsePattern(bad); err == nil || !strings.Contains(err.Error(), "InvalidParameterException") {
			t.Errorf("%q: %v, want InvalidParameterException", bad, err)
		}
	}
}

func TestPosition(t *testing.T) {
	for _, off := range []int64{0, 1, 266, 1 << 40} {
		for _, dir := range []byte{'f', 'b'} {
			tok := position(dir, "abc/uuid", off)
			if len(tok) != 58 {
				t.Errorf("%s: %d characters, AWS's have 58", tok, len(tok))
			}
			d, h, o, ok := parsePosition(tok)
			if !ok || d != dir || o != off || h != streamHash("abc/uuid") {
				t.Errorf("parsePosition(%s) = %c %d %d %v", tok, d, h, o, ok)
			}
		}
	}
	if position('f', "a", 5) == position('f', "b", 5) {
		t.Error("two streams' tokens for one offset are the same")
	}
	for _, bad := range []string{"", "f/", "x/1", "f/-1", "f/+1", "f/1a", "f1", "f/1",
		"f/" + strings.Repeat("9", 56), "f/" + strings.Repeat("0", 55) + "x"} {
		if _, _, _, ok := parsePosition(bad); ok {
			t.Errorf("parsePosition(%q) accepted", bad)
		}
	}
}

func TestGroupName(t *testing.T) {
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		name, id *string
		want     string
		ok       bool
	}{
		{s("/aws/codebuild/p"), nil, "/aws/codebuild/p", true},
		{nil, s("/aws/codebuild/p"), "/aws/codebuild/p", true},
		{nil, s("arn:aws:logs:us-east-1:000000000000:log-group:/aws/codebuild/p:*"), "/aws/codebuild/p", true},
		{nil, s("arn:aws:logs:us-east-1:000000000000:log-group:/aws/codebuild/p"), "/aws/codebuild/p", true},
		{s("a"), s("a"), "", false},
		{nil, nil, "", false},
		{s(""), nil, "", false},
		{nil, s("arn:aws:s3:::bucket"), "", false},
	} {
		got, err := groupName(tc.name, tc.id)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("groupName(%v, %v) = %q, %v", tc.name, tc.id, got, err)
		}
	}
}

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"", "ERROR", "?a ?b -c", `"a b" %x[0-9]+%`, `{ $.a = 1 }`, "%a%%b%", `"`, "-", "?"} {
		f.Add(s, "some ERROR line x42\n")
	}
	f.Fuzz(func(t *testing.T, pattern, text string) {
		p, err := parsePattern(pattern)
		if err != nil {
			if !strings.Contains(err.Error(), "InvalidParameterException") {
				t.Fatalf("%q: %v", pattern, err)
			}
			return
		}
		p.match(text) // never panics
		if len(p.all)+len(p.any)+len(p.none) == 0 && strings.TrimSpace(pattern) != "" {
			t.Fatalf("%q parsed to nothing", pattern)
		}
	})
}

func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{position('f', "s", 266), position('b', "s", 0), "f/", "x/1", "f/-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		dir, h, off, ok := parsePosition(tok)
		if !ok {
			return
		}
		if off < 0 || dir != 'f' && dir != 'b' || h >= 1e16 {
			t.Fatalf("%q: %c %d %d", tok, dir, h, off)
		}
		if position(dir, "", 0)[:2] != tok[:2] || len(tok) != 58 {
			t.Fatalf("%q: not a token's shape", tok)
		}
	})
}

func TestParseStamp(t *testing.T) {
	for _, s := range []string{"2026-11-27T15:51:03.727664Z", "1999-01-01T00:00:00.000000Z", "2030-12-31T23:59:59.999999Z"} {
		want, err := time.Parse(buildlog.StampFormat, s)
		got, ok := parseStamp([]byte(s))
		if err != nil || !ok || got != want.UnixMilli() {
			t.Errorf("parseStamp(%s) = %d %v, want %d", s, got, ok, want.UnixMilli())
		}
	}
	for _, bad := range []string{"", "2026-11-27 15:51:03.727664Z", "2026-11-27T15:51:03.72766xZ", "2026-11-27T15:51:03.727664"} {
		if _, ok := parseStamp([]byte(bad)); ok {
			t.Errorf("parseStamp(%q) accepted", bad)
		}
	}
}
