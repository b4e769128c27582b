package layers

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/buildbatch/buildbatch/"

// allowed lists, for each package, the internal packages it may import
// (its test files aside). A package that drives another is never imported
// by it: results flow back as return values.
var allowed = map[string][]string{
	"cmd/buildbatch":     {"internal/cli"},
	"internal/cli":       {"internal/api", "internal/artifact", "internal/bytesize", "internal/codebuild", "internal/config", "internal/document", "internal/server", "internal/shard", "internal/sigv4"},
	"internal/server":    {"internal/api", "internal/awsjson", "internal/batchrun", "internal/blob", "internal/blob/*", "internal/buildlog", "internal/buildlog/*", "internal/codebuild", "internal/config", "internal/console", "internal/cwlogs", "internal/executor", "internal/executor/docker", "internal/executor/local", "internal/ident", "internal/runner", "internal/s3api", "internal/sandbox", "internal/sandbox/sandboxrun", "internal/scheduler", "internal/secrets", "internal/sigv4", "internal/store", "internal/store/postgres", "internal/store/sqlite"},
	"internal/api":       {"internal/awsjson", "internal/batch", "internal/batchrun", "internal/blob", "internal/buildlog", "internal/bytesize", "internal/codebuild", "internal/curated", "internal/document", "internal/ident", "internal/policy", "internal/sandbox", "internal/source", "internal/store", "internal/tenancy", "internal/webhook"},
	"internal/scheduler": {"internal/batchrun", "internal/codebuild", "internal/document", "internal/runner", "internal/store"},
	"internal/batchrun":  {"internal/artifact", "internal/batch", "internal/blob", "internal/codebuild", "internal/document", "internal/ident", "internal/report", "internal/source", "internal/store", "internal/tenancy"},
	"internal/runner":    {"internal/artifact", "internal/batch", "internal/blob", "internal/buildlog", "internal/bytesize", "internal/buildspec", "internal/codebuild", "internal/document", "internal/executor", "internal/ident", "internal/report", "internal/secrets", "internal/source", "internal/store", "internal/tenancy", "internal/workspace"},
	"internal/awsjson":   {"internal/codebuild", "internal/ident", "internal/sigv4"},
	"internal/s3api":     {"internal/blob", "internal/ident", "internal/sigv4", "internal/store", "internal/tenancy"},
	"internal/cwlogs":    {"internal/awsjson", "internal/buildlog", "internal/codebuild", "internal/ident", "internal/store"},
	// The web console drives the API as a signed request would.
	"internal/console": {"internal/api", "internal/awsjson", "internal/blob", "internal/codebuild", "internal/sigv4", "internal/store", "internal/tenancy"},
	// Pure rules.
	"internal/batch":     {"internal/buildspec", "internal/codebuild", "internal/document", "internal/ident", "internal/store"},
	"internal/document":  {"internal/codebuild", "internal/ident", "internal/store"},
	"internal/buildspec": {},
	"internal/report":    {"internal/codebuild", "internal/ident"},
	"internal/shard":     {},
	"internal/webhook":   {"internal/codebuild"},
	"internal/workspace": {},
	"internal/policy":    {},
	"internal/curated":   {"internal/codebuild"},
	"internal/sandbox":   {"internal/codebuild", "internal/document", "internal/ident"},
	// Sandboxes run on a node, as builds do.
	"internal/sandbox/sandboxrun": {"internal/codebuild", "internal/executor", "internal/runner", "internal/sandbox", "internal/store"},
	// Seams and their implementations.
	"internal/store":                      {"internal/codebuild"},
	"internal/store/*":                    {"internal/codebuild", "internal/store"},
	"internal/store/postgres/pgtest":      {"internal/testproc"},
	"internal/testproc":                   {},
	"internal/testclient":                 {"internal/sigv4"},
	"internal/blob":                       {},
	"internal/blob/*":                     {"internal/blob"},
	"internal/blob/blobopen":              {"internal/blob", "internal/blob/fs", "internal/blob/s3"},
	"internal/blob/s3/s3test":             {"internal/blob", "internal/blob/s3", "internal/testproc"},
	"internal/executor":                   {},
	"internal/executor/*":                 {"internal/curated", "internal/executor", "internal/executor/archive", "internal/executor/session", "internal/executor/local", "internal/ident"},
	"internal/executor/docker/dockertest": {},
	"internal/artifact":                   {"internal/blob"},
	"internal/source":                     {"internal/blob"},
	"internal/buildlog":                   {},
	"internal/buildlog/*":                 {"internal/blob", "internal/buildlog"},
	"internal/secrets":                    {},
	"internal/sigv4":                      {},
	"internal/ident":                      {},
	"internal/codebuild":                  {},
	"internal/codebuild/gen":              {},
	"internal/config":                     {},
	"internal/bytesize":                   {},
	"internal/tenancy":                    {"internal/blob", "internal/store"},
	"internal/layers":                     {},
}

// pure packages do no I/O and read no clock: these imports are refused.
var pure = []string{"internal/batch", "internal/document", "internal/buildspec", "internal/report", "internal/shard", "internal/webhook", "internal/policy", "internal/curated", "internal/sandbox"}
var impure = []string{"os", "os/exec", "net", "net/http", "log", "log/slog", "database/sql", "io/fs", "syscall"}

func rule(pkg string) ([]string, bool) {
	if r, ok := allowed[pkg]; ok {
		return r, true
	}
	for dir := pkg; strings.Contains(dir, "/"); {
		dir = dir[:strings.LastIndex(dir, "/")]
		if r, ok := allowed[dir+"/*"]; ok {
			return r, true
		}
	}
	return nil, false
}

func permits(list []string, imp string) bool {
	for _, a := range list {
		if a == imp || strings.HasSuffix(a, "/*") && strings.HasPrefix(imp, strings.TrimSuffix(a, "*")) {
			return true
		}
	}
	return false
}

func TestImports(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, top := range []string{"internal", "cmd"} {
		filepath.WalkDir(filepath.Join(root, top), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.Contains(path, "/testdata/") {
				return err
			}
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			pkg := filepath.ToSlash(rel)
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				t.Error(err)
				return nil
			}
			seen++
			list, ok := rule(pkg)
			if !ok {
				t.Errorf("%s: no import rule; add it to allowed (and to docs/architecture.md)", pkg)
				return nil
			}
			for _, is := range f.Imports {
				imp, _ := strconv.Unquote(is.Path.Value)
				if slices.Contains(pure, pkg) && slices.Contains(impure, imp) {
					t.Errorf("%s imports %s, but it is pure (no I/O)", path, imp)
				}
				if !strings.HasPrefix(imp, module) {
					continue
				}
				imp = strings.TrimPrefix(imp, module)
				if !permits(list, imp) {
					t.Errorf("%s imports %s, which the layer rules do not allow", path, imp)
				}
			}
			return nil
		})
	}
	if seen < 50 {
		t.Fatalf("only %d files checked", seen)
	}
}
