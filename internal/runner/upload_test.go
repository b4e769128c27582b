package runner

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
	"github.com/buildbatch/buildbatch/internal/executor/fake"
	"github.com/buildbatch/buildbatch/internal/store"
)

func TestSplitStatic(t *testing.T) {
	tests := []struct{ in, dir, pattern string }{
		{"/root/.m2/**/*", "/root/.m2", "**/*"},
		{"/root/.m2", "/root/.m2", ""},
		{"/root/.m2/", "/root/.m2", ""},
		{"/**/*", "/", "**/*"},
		{"/", "/", ""},
		{"/a/b/*.jar", "/a/b", "*.jar"},
		{"/a/b*/c/*", "/a", "b*/c/*"},
		{"/a/./b/../c/?", "/a/c", "?"},
		{"deps/**/*", "deps", "**/*"},
		{"**/*", ".", "**/*"},
		{"out", "out", ""},
	}
	for _, tt := range tests {
		if dir, pattern := splitStatic(tt.in); dir != tt.dir || pattern != tt.pattern {
			t.Errorf("splitStatic(%q) = %q, %q; want %q, %q", tt.in, dir, pattern, tt.dir, tt.pattern)
		}
	}
}

func TestWithin(t *testing.T) {
	tests := []struct {
		dir, p, rel string
		ok          bool
	}{
		{"/src", "/src", "", true},
		{"/src", "/src/", "", true},
		{"/src", "/src/out/a", "out/a", true},
		{"/src", "/src2/x", "", false},
		{"/src", "/", "", false},
		{"/src", "/src/../etc", "", false},
		{"/", "/etc/x", "etc/x", true},
	}
	for _, tt := range tests {
		if rel, ok := within(tt.dir, tt.p); rel != tt.rel || ok != tt.ok {
			t.Errorf("within(%q, %q) = %q, %v; want %q, %v", tt.dir, tt.p, rel, ok, tt.rel, tt.ok)
		}
	}
}

// TestCacheRoot: what each cache path walks and how the zip names it; an
// absolute path is walked from its directory before the first wildcard,
// never from /.
func TestCacheRoot(t *testing.T) {
	x := &run{}
	x.layout.Src = "/codebuild/output/src1/src"
	tests := []struct{ in, top, pattern, name string }{
		{"/root/.m2/**/*", "/root/.m2", "**/*", "abs/root/.m2"},
		{"/root/.m2", "/root/.m2", "**/*", "abs/root/.m2"},
		{"/root/.cache/pip/*.whl", "/root/.cache/pip", "*.whl", "abs/root/.cache/pip"},
		{"node_modules/**/*", "/codebuild/output/src1/src/node_modules", "**/*", "src/node_modules"},
		{"**/*", "/codebuild/output/src1/src", "**/*", "src"},
		{"./deps/", "/codebuild/output/src1/src/deps", "**/*", "src/deps"},
		{"/codebuild/output/src1/src/deps/**/*", "/codebuild/output/src1/src/deps", "**/*", "src/deps"},
		{"../../shared/**/*", "/codebuild/output/shared", "**/*", "abs/codebuild/output/shared"},
	}
	for _, tt := range tests {
		if top, pattern, name := x.cacheRoot(tt.in); top != tt.top || pattern != tt.pattern || name != tt.name {
			t.Errorf("cacheRoot(%q) = %q, %q, %q; want %q, %q, %q", tt.in, top, pattern, name, tt.top, tt.pattern, tt.name)
		}
	}
}

// buildLog reads a build's whole log.
func buildLog(t *testing.T, r *Runner, b *store.Build) string {
	t.Helper()
	_, uuid, _ := strings.Cut(cb.Deref(b.Doc.Id), ":")
	c, err := r.cfg.Logs.Read(context.Background(), uuid, 0, 1<<20, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	return string(c.Data)
}

func blobText(t *testing.T, r *Runner, bucket, key string) string {
	t.Helper()
	rc, err := r.cfg.Blob.Open(context.Background(), bucket, key)
	if err != nil {
		t.Errorf("s3://%s/%s: %v", bucket, key, err)
		return ""
	}
	defer rc.Close()
	data, _ := io.ReadAll(rc)
	return string(data)
}

func blobKeys(t *testing.T, r *Runner, bucket, prefix string) []string {
	t.Helper()
	keys, err := r.cfg.Blob.List(context.Background(), bucket, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestArtifactPaths: base-directory ".", "./" and "./dir/", environment
// variables in base-directory and files (a secondary source's
// $CODEBUILD_SRC_DIR_<id>, as in AWS's multi-source sample, and absolute
// paths under $CODEBUILD_SRC_DIR), for artifacts, secondary artifacts and
// reports, on an executor whose paths are the runner's and on one whose
// paths are not.
func TestArtifactPaths(t *testing.T) {
	const spec = `version: 0.2
env:
  variables:
    OUT: out
phases:
  build:
    commands:
      - mkdir -p out/sub && echo primary > out/a.txt && echo nested > out/sub/b.txt
      - echo top > top.txt
      - echo one > "$CODEBUILD_SRC_DIR_source1/s1.txt"
      - mkdir -p "$CODEBUILD_SRC_DIR_source1/deep" && echo deep > "$CODEBUILD_SRC_DIR_source1/deep/d.txt"
      - echo '<testsuite name="t" tests="1"><testcase classname="c" name="n"/></testsuite>' > out/junit.xml
artifacts:
  files: ['**/*']
  base-directory: ./$OUT/
  exclude-paths: [junit.xml]
  secondary-artifacts:
    dot:
      base-directory: .
      files: [top.txt]
    dotslash:
      base-directory: ./
      files: ['*.txt']
    source1:
      base-directory: $CODEBUILD_SRC_DIR_source1
      files: ['**/*']
    source1files:
      files: ['$CODEBUILD_SRC_DIR_source1/deep/*']
      base-directory: ${CODEBUILD_SRC_DIR_source1}/
    absfiles:
      files: ['$CODEBUILD_SRC_DIR/$OUT/sub/b.txt']
reports:
  paths:
    files: ['junit.xml']
    base-directory: $CODEBUILD_SRC_DIR/$OUT
  dotted:
    files: ['./out/junit.xml']
    base-directory: ./
`
	for name := range executors {
		t.Run(name, func(t *testing.T) {
			r, st := newRunnerOn(t, name)
			b := queuedBuild(t, st, spec)
			b.Doc.SecondarySources = []cb.ProjectSource{{Type: cb.String("NO_SOURCE"), SourceIdentifier: cb.String("source1")}}
			folder := func(id, name string) cb.ProjectArtifacts {
				a := cb.ProjectArtifacts{Type: cb.String(cb.ArtifactsTypeS3), Location: cb.String("bucket"), Name: cb.String(name), Packaging: cb.String("NONE")}
				if id != "" {
					a.ArtifactIdentifier = cb.String(id)
				}
				return a
			}
			primary := folder("", "primary")
			b.Meta.Artifacts = &primary
			for _, id := range []string{"dot", "dotslash", "source1", "source1files", "absfiles"} {
				b.Meta.SecondaryArtifacts = append(b.Meta.SecondaryArtifacts, folder(id, id))
			}
			r.Run(context.Background(), b)
			if cb.Deref(b.Doc.BuildStatus) != "SUCCEEDED" {
				t.Fatalf("status %s: %s\n%s", cb.Deref(b.Doc.BuildStatus), table(b.Doc), buildLog(t, r, b))
			}
			want := map[string][]string{
				"primary/":      {"primary/a.txt", "primary/sub/b.txt"},
				"dot/":          {"dot/top.txt"},
				"dotslash/":     {"dotslash/top.txt"},
				"source1/":      {"source1/deep/d.txt", "source1/s1.txt"},
				"source1files/": {"source1files/deep/d.txt"},
				"absfiles/":     {"absfiles/out/sub/b.txt"},
			}
			for prefix, keys := range want {
				if got := blobKeys(t, r, "bucket", prefix); !reflect.DeepEqual(got, keys) {
					t.Errorf("s3://bucket/%s* = %v, want %v", prefix, got, keys)
				}
			}
			if got := blobText(t, r, "bucket", "source1/s1.txt"); got != "one\n" {
				t.Errorf("source1/s1.txt = %q", got)
			}
			if len(b.Doc.ReportArns) != 2 {
				t.Fatalf("reportArns %v\n%s", b.Doc.ReportArns, buildLog(t, r, b))
			}
			for _, arn := range b.Doc.ReportArns {
				var rep *store.Report
				st.View(context.Background(), func(tx store.Tx) error {
					var err error
					rep, err = tx.ReportGet(context.Background(), b.Scope, arn)
					return err
				})
				if rep == nil || cb.Deref(rep.Doc.Status) != cb.ReportStatusTypeSucceeded || len(rep.TestCases) != 1 {
					t.Errorf("report %s: %+v\n%s", arn, rep, buildLog(t, r, b))
				}
			}
		})
	}
}

// TestArtifactPathsMissing: a base-directory that does not exist, in the
// source or outside it, fails UPLOAD_ARTIFACTS with CodeBuild's message.
func TestArtifactPathsMissing(t *testing.T) {
	for name := range executors {
		for _, base := range []string{"./nope/", "$CODEBUILD_SRC_DIR/nope", "/nonexistent-buildbatch-dir/x", "$CODEBUILD_SRC_DIR_source1/nope"} {
			t.Run(name+"/"+base, func(t *testing.T) {
				r, st := newRunnerOn(t, name)
				b := queuedBuild(t, st, "version: 0.2\nphases:\n  build:\n    commands: [true]\nartifacts:\n  files: ['**/*']\n  base-directory: "+base+"\n")
				b.Doc.SecondarySources = []cb.ProjectSource{{Type: cb.String("NO_SOURCE"), SourceIdentifier: cb.String("source1")}}
				b.Meta.Artifacts = &cb.ProjectArtifacts{Type: cb.String(cb.ArtifactsTypeS3), Location: cb.String("bucket"), Name: cb.String("a"), Packaging: cb.String("NONE")}
				r.Run(context.Background(), b)
				up := b.Doc.Phases[len(b.Doc.Phases)-3]
				if cb.Deref(up.PhaseType) != "UPLOAD_ARTIFACTS" || cb.Deref(up.PhaseStatus) != "FAILED" ||
					!strings.Contains(cb.Deref(up.Contexts[0].Message), "no matching base directory path found for "+base) {
					t.Errorf("phases %s, upload %+v", table(b.Doc), up)
				}
			})
		}
	}
}

func zipNames(t *testing.T, r *Runner, bucket, key string) []string {
	t.Helper()
	p, err := r.cfg.Blob.(interface {
		Path(bucket, key string) (string, error)
	}).Path(bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	return names
}

// TestCacheAbsolutePath: a cache path outside the source (AWS's Maven
// example caches /root/.m2/**/*) is saved from the environment and
// restored into it, with paths in the primary source and a single file;
// only the paths' own directories are read.
func TestCacheAbsolutePath(t *testing.T) {
	for name := range executors {
		t.Run(name, func(t *testing.T) {
			r, st := newRunnerOn(t, name)
			home := filepath.Join(t.TempDir(), "home")
			m2 := filepath.Join(home, "m2")
			spec := `version: 0.2
phases:
  build:
    commands:
      - |
        if [ -f ` + m2 + `/repository/lib.jar ]; then
          echo "m2 hit: $(cat ` + m2 + `/repository/lib.jar) $(cat ` + home + `/settings.xml) $(cat deps/dep.txt)"
        else
          echo "m2 miss"
          mkdir -p ` + m2 + `/repository deps && echo jar > ` + m2 + `/repository/lib.jar && echo pom > ` + m2 + `/top.pom
          echo settings > ` + home + `/settings.xml && echo dep > deps/dep.txt && echo other > ` + home + `/not-cached.txt
        fi
cache:
  paths:
    - '` + m2 + `/**/*'
    - '` + home + `/settings.xml'
    - 'deps/**/*'
`
			n := 0
			next := func() *store.Build {
				n++
				b := newBuild(t, st, fmt.Sprintf("p:%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), n), spec)
				b.Doc.Cache = &cb.ProjectCache{Type: cb.String(cb.CacheTypeLocal), Modes: []string{cb.CacheModeLocalCustomCache}}
				return b
			}
			first := r.Run(context.Background(), next()).Build
			if cb.Deref(first.Doc.BuildStatus) != "SUCCEEDED" || !strings.Contains(buildLog(t, r, first), "m2 miss") {
				t.Fatalf("first build %s:\n%s", cb.Deref(first.Doc.BuildStatus), buildLog(t, r, first))
			}
			if !strings.Contains(buildLog(t, r, first), "Saved 4 files to the cache") {
				t.Errorf("first build's log:\n%s", buildLog(t, r, first))
			}
			bucket, key := cacheBucket, "000000000000/us-east-1/p/cache.zip"
			abs := strings.TrimPrefix(filepath.ToSlash(home), "/")
			want := []string{"abs/" + abs + "/m2/repository/lib.jar", "abs/" + abs + "/m2/top.pom", "abs/" + abs + "/settings.xml", "src/deps/dep.txt"}
			if got := zipNames(t, r, bucket, key); !reflect.DeepEqual(got, want) {
				t.Errorf("cache zip holds %v, want %v", got, want)
			}
			// The environment loses the files: the next build gets them
			// from the cache only.
			if err := os.RemoveAll(home); err != nil {
				t.Fatal(err)
			}
			var before int64
			if f, ok := r.cfg.Executor.(*fake.Executor); ok {
				before = f.CopiesIn.Load()
			}
			second := r.Run(context.Background(), next()).Build
			text := buildLog(t, r, second)
			if cb.Deref(second.Doc.BuildStatus) != "SUCCEEDED" || !strings.Contains(text, "m2 hit: jar settings dep") || !strings.Contains(text, "Restored 4 cached files") {
				t.Errorf("second build %s:\n%s", cb.Deref(second.Doc.BuildStatus), text)
			}
			if f, ok := r.cfg.Executor.(*fake.Executor); ok && f.CopiesIn.Load()-before < 4 {
				t.Errorf("the fake executor saw %d copies in, want the source and 3 cache directories", f.CopiesIn.Load()-before)
			}
			if _, err := os.Stat(filepath.Join(home, "not-cached.txt")); err == nil {
				t.Errorf("a file that no cache path names was restored")
			}
		})
	}
}

// newBuild stores a queued NO_SOURCE build with the given id.
func newBuild(t *testing.T, st store.Store, id, buildspec string) *store.Build {
	t.Helper()
	now := time.Now()
	doc := &cb.Build{Id: cb.String(id), ProjectName: cb.String("p"), BuildNumber: cb.Int64(1),
		StartTime: cb.At(now), BuildStatus: cb.String(cb.StatusTypeInProgress), BuildComplete: cb.Bool(false),
		Source: &cb.ProjectSource{Type: cb.String("NO_SOURCE"), Buildspec: cb.String(buildspec)}, TimeoutInMinutes: cb.Int32(60)}
	document.Start(doc, document.Submitted, now)
	document.End(doc, cb.StatusTypeSucceeded, nil, now)
	document.Start(doc, document.Queued, now)
	b := &store.Build{Scope: store.Scope{Account: "000000000000", Region: "us-east-1"}, Doc: doc}
	if err := st.Update(context.Background(), func(tx store.Tx) error { return tx.BuildInsert(context.Background(), b) }); err != nil {
		t.Fatal(err)
	}
	return b
}
