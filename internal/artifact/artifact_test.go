package artifact

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/buildbatch/buildbatch/internal/blob/fs"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"**/*", "a.txt", true},
		{"**/*", "d/e/f.txt", true},
		{"*", "a.txt", true},
		{"*", "d/a.txt", false},
		{"d/*", "d/a.txt", true},
		{"d/*", "d/e/a.txt", false},
		{"d/**/*", "d/a.txt", true},
		{"d/**/*", "d/e/f/a.txt", true},
		{"d/**/*", "x/a.txt", false},
		{"**/*.jar", "target/lib/a.jar", true},
		{"**/*.jar", "a.jar", true},
		{"**/.*", "d/.hidden", true},
		{"**/.*", "d/visible", false},
		{"target/app.jar", "target/app.jar", true},
		{"./target/app.jar", "target/app.jar", true},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.name); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func tree(t *testing.T, files ...string) string {
	root := t.TempDir()
	for _, f := range files {
		p := filepath.Join(root, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("content of "+f), 0o644)
	}
	return root
}

func names(fs []File) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return out
}

func TestSelect(t *testing.T) {
	root := tree(t, "README.md", "dist/app.js", "dist/lib/util.js", "dist/.map", "build-1/out.bin", "build-2/sub/out2.bin", "src/main.go")
	tests := []struct {
		name string
		sel  Selection
		want []string
		err  string
	}{
		{"all", Selection{Files: []string{"**/*"}}, []string{"README.md", "build-1/out.bin", "build-2/sub/out2.bin", "dist/.map", "dist/app.js", "dist/lib/util.js", "src/main.go"}, ""},
		{"base-directory", Selection{Files: []string{"**/*"}, BaseDirectory: "dist"}, []string{".map", "app.js", "lib/util.js"}, ""},
		{"exclude", Selection{Files: []string{"**/*"}, BaseDirectory: "dist", ExcludePaths: []string{"**/.*"}}, []string{"app.js", "lib/util.js"}, ""},
		{"discard-paths", Selection{Files: []string{"dist/**/*.js"}, DiscardPaths: true}, []string{"app.js", "util.js"}, ""},
		{"base-directory glob", Selection{Files: []string{"**/*"}, BaseDirectory: "build-*"}, []string{"out.bin", "sub/out2.bin"}, ""},
		{"directory name", Selection{Files: []string{"src"}}, []string{"src/main.go"}, ""},
		{"one level", Selection{Files: []string{"dist/*"}}, []string{"dist/.map", "dist/app.js"}, ""},
		{"nothing", Selection{Files: []string{"*.exe"}}, nil, "no matching artifact paths"},
		{"missing base", Selection{Files: []string{"**/*"}, BaseDirectory: "nope"}, nil, "no matching base directory"},
		{"base is a file", Selection{Files: []string{"**/*"}, BaseDirectory: "README.md"}, nil, "no matching base directory"},
		{"base-directory .", Selection{Files: []string{"*.md", "src/*"}, BaseDirectory: "."}, []string{"README.md", "src/main.go"}, ""},
		{"base-directory ./", Selection{Files: []string{"*.md"}, BaseDirectory: "./"}, []string{"README.md"}, ""},
		{"base-directory ./dist/", Selection{Files: []string{"**/*"}, BaseDirectory: "./dist/"}, []string{".map", "app.js", "lib/util.js"}, ""},
		{"base-directory dist/", Selection{Files: []string{"*.js"}, BaseDirectory: "dist/"}, []string{"app.js"}, ""},
		{"base-directory ./dist/lib", Selection{Files: []string{"*"}, BaseDirectory: "./dist/lib"}, []string{"util.js"}, ""},
		{"base-directory glob with slashes", Selection{Files: []string{"**/*"}, BaseDirectory: "./build-*/"}, []string{"out.bin", "sub/out2.bin"}, ""},
		{"base-directory never leaves the root", Selection{Files: []string{"*.js"}, BaseDirectory: "../dist"}, []string{"app.js"}, ""},
		{"discard collision", Selection{Files: []string{"**/out*.bin", "**/app.js", "**/*.md", "dist/**/*"}, DiscardPaths: true}, nil, ""},
	}
	for _, tt := range tests {
		got, err := Select(root, tt.sel)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: Select = %v, %v; want error %q", tt.name, names(got), err, tt.err)
			}
			continue
		}
		if tt.want == nil {
			continue
		}
		if err != nil || !reflect.DeepEqual(names(got), tt.want) {
			t.Errorf("%s: Select = %v, %v; want %v", tt.name, names(got), err, tt.want)
		}
	}
	root2 := tree(t, "a/x.txt", "b/x.txt")
	if _, err := Select(root2, Selection{Files: []string{"**/*"}, DiscardPaths: true}); err == nil || !strings.Contains(err.Error(), "both be stored as x.txt") {
		t.Errorf("discard-paths collision: %v", err)
	}
}

func TestCleanBase(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""}, {".", ""}, {"./", ""}, {"/", ""}, {"./.", ""},
		{"out", "out"}, {"out/", "out"}, {"./out/", "out"}, {"./out//sub/", "out/sub"},
		{"/out", "out"}, {"../out", "out"}, {"a/../b", "b"}, {"build-*/", "build-*"},
	}
	for _, tt := range tests {
		if got := CleanBase(tt.in); got != tt.want {
			t.Errorf("CleanBase(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestUploadZipChecksums(t *testing.T) {
	root := tree(t, "a.txt", "d/b.txt")
	store, _ := fs.New(t.TempDir())
	files, _ := Select(root, Selection{Files: []string{"**/*"}})
	res, err := Upload(context.Background(), store, files, Target{Bucket: "bkt", Key: Key("out", "uuid-1", "app.zip"), Zip: true}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := store.Path("bkt", "out/uuid-1/app.zip")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if res.SHA != hex.EncodeToString(sum[:]) || len(res.MD5) != 32 {
		t.Errorf("checksums %+v do not match the zip on disk", res)
	}
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var got []string
	for _, f := range zr.File {
		got = append(got, f.Name)
	}
	if !reflect.DeepEqual(got, []string{"a.txt", "d/b.txt"}) {
		t.Errorf("zip holds %v", got)
	}
	// NONE packaging: a folder of files.
	if _, err := Upload(context.Background(), store, files, Target{Bucket: "bkt", Key: "folder"}, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	keys, _ := store.List(context.Background(), "bkt", "folder")
	if !reflect.DeepEqual(keys, []string{"folder/a.txt", "folder/d/b.txt"}) {
		t.Errorf("folder keys %v", keys)
	}
}

func TestKey(t *testing.T) {
	tests := []struct{ path, id, name, want string }{
		{"MyArtifacts", "uuid", "MyArtifact.zip", "MyArtifacts/uuid/MyArtifact.zip"},
		{"", "", "/", ""},
		{"MyArtifacts", "uuid", "/", "MyArtifacts/uuid"},
		{"", "", "proj", "proj"},
		{"a/b/", "", "c", "a/b/c"},
	}
	for _, tt := range tests {
		if got := Key(tt.path, tt.id, tt.name); got != tt.want {
			t.Errorf("Key(%q, %q, %q) = %q, want %q", tt.path, tt.id, tt.name, got, tt.want)
		}
	}
}
