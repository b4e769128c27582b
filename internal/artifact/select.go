// Package artifact selects a build's output files as the buildspec's
// artifacts section describes them (globs, base-directory, discard-paths,
// exclude-paths), packages them (ZIP or a folder of files), stores them
// in the blob store and reports their location and checksums.
package artifact

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Selection is what to pick, relative to a root directory.
type Selection struct {
	Files         []string // globs; "**" spans directories
	BaseDirectory string   // directory (or glob of directories) the files are relative to
	DiscardPaths  bool     // flatten: every file at the artifact's root
	ExcludePaths  []string // globs relative to the base directory
	Symlinks      bool     // keep symlinks as links (ZIP only); otherwise follow them
}

// File is one selected file: where it is and its name in the artifact.
type File struct {
	Src  string
	Name string
	Mode fs.FileMode
}

// Match reports whether a slash-separated relative path matches a glob
// whose segments may be "**" (any number of segments, including none).
func Match(pattern, name string) bool {
	return matchSegs(splitPath(pattern), splitPath(name))
}

func splitPath(p string) []string {
	p = strings.Trim(path.Clean("/"+p), "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func matchSegs(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			rest := pat[1:]
			for i := 0; i <= len(name); i++ {
				if matchSegs(rest, name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, err := path.Match(pat[0], name[0]); err != nil || !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// Select walks root and returns the selected files, sorted by name. It is
// an error if nothing matches (CodeBuild fails UPLOAD_ARTIFACTS then) or if
// two files would get the same name.
func Select(root string, sel Selection) ([]File, error) {
	bases := []string{root}
	if base := CleanBase(sel.BaseDirectory); base != "" {
		var matches []string
		if strings.ContainsAny(base, "*?[") {
			var err error
			if matches, err = matchDirs(root, base); err != nil {
				return nil, err
			}
		} else if p := filepath.Join(root, filepath.FromSlash(base)); isDir(p) {
			matches = []string{p}
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("no matching base directory path found for %s", sel.BaseDirectory)
		}
		bases = matches
	}
	var out []File
	seen := map[string]string{}
	for _, base := range bases {
		err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(base, p)
			rel = filepath.ToSlash(rel)
			if !matchesAny(sel.Files, rel) || matchesAny(sel.ExcludePaths, rel) {
				return nil
			}
			info, err := os.Stat(p) // follows symlinks
			mode := fs.FileMode(0o644)
			if err == nil {
				if info.IsDir() {
					return nil
				}
				mode = info.Mode()
			}
			if d.Type()&fs.ModeSymlink != 0 && sel.Symlinks {
				mode = fs.ModeSymlink | 0o777
			} else if err != nil {
				return nil // a dangling link
			}
			name := rel
			if sel.DiscardPaths {
				name = path.Base(rel)
			}
			if prev, dup := seen[name]; dup {
				return fmt.Errorf("two files would both be stored as %s: %s and %s", name, prev, p)
			}
			seen[name] = p
			out = append(out, File{Src: p, Name: name, Mode: mode})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no matching artifact paths found")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// matchesAny: a pattern matches a file if the glob matches it, or if the
// pattern names a directory the file is in ("dist" or "dist/" selects
// everything below dist).
func matchesAny(patterns []string, rel string) bool {
	for _, p := range patterns {
		if Match(p, rel) {
			return true
		}
		dir := strings.Trim(path.Clean("/"+p), "/")
		if dir != "" && !strings.ContainsAny(dir, "*?[") && strings.HasPrefix(rel, dir+"/") {
			return true
		}
	}
	return false
}

// CleanBase normalises a base-directory relative to the root it applies
// to: "", ".", "./" and "/" are the root itself (""), "./out/" is "out".
// A leading slash or ".." never leaves the root.
func CleanBase(base string) string {
	return strings.Trim(path.Clean("/"+filepath.ToSlash(base)), "/")
}

func isDir(p string) bool {
	info, err := os.Stat(p) // follows symlinks, as the walk of the base does
	return err == nil && info.IsDir()
}

// matchDirs returns the directories below root that a base-directory glob
// matches, outermost first; it descends no deeper than the pattern can
// match.
func matchDirs(root, pattern string) ([]string, error) {
	segs := splitPath(pattern)
	deep := false
	for _, s := range segs {
		if s == "**" {
			deep = true
		}
	}
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() || p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if Match(pattern, rel) {
			out = append(out, p)
			return filepath.SkipDir
		}
		if !deep && len(splitPath(rel)) >= len(segs) {
			return filepath.SkipDir
		}
		return nil
	})
	return out, err
}
