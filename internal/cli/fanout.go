package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/buildbatch/buildbatch/internal/artifact"
	"github.com/buildbatch/buildbatch/internal/shard"
)

// testsRun is codebuild-tests-run, as CodeBuild images provide it for
// build-fanout batches: it lists the test files with --files-search, keeps
// this build's shard of them and runs --test-command with them appended.
func testsRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("codebuild-tests-run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	testCmd := fs.String("test-command", "", "command that runs tests; this shard's files are appended")
	search := fs.String("files-search", "", "command that prints the test files, one per line")
	strategy := fs.String("sharding-strategy", shard.EqualDistribution, "equal-distribution or stability")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *testCmd == "" || *search == "" {
		fmt.Fprintln(stderr, "codebuild-tests-run: --test-command and --files-search are required")
		return 2
	}
	index, count := 0, 1
	if v := os.Getenv("BUILDBATCH_SHARD_COUNT"); v != "" {
		count, _ = strconv.Atoi(v)
		index, _ = strconv.Atoi(os.Getenv("BUILDBATCH_SHARD_INDEX"))
	}
	var out bytes.Buffer
	find := exec.CommandContext(ctx, "sh", "-c", *search)
	find.Stdout, find.Stderr = &out, stderr
	if err := find.Run(); err != nil {
		fmt.Fprintf(stderr, "codebuild-tests-run: --files-search failed: %v\n", err)
		return 1
	}
	var files []string
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if f := strings.TrimSpace(sc.Text()); f != "" {
			files = append(files, f)
		}
	}
	mine, err := shard.Select(files, index, count, *strategy)
	if err != nil {
		fmt.Fprintf(stderr, "codebuild-tests-run: %v\n", err)
		return 2
	}
	fmt.Fprintf(stdout, "codebuild-tests-run: shard %d of %d runs %d of %d test files\n", index+1, count, len(mine), len(files))
	if len(mine) == 0 {
		return 0
	}
	quoted := make([]string, len(mine))
	for i, f := range mine {
		quoted[i] = "'" + strings.ReplaceAll(f, "'", `'\''`) + "'"
	}
	run := exec.CommandContext(ctx, "sh", "-c", *testCmd+" "+strings.Join(quoted, " "))
	run.Stdout, run.Stderr = stdout, stderr
	run.Env = append(os.Environ(), "CODEBUILD_CURRENT_SHARD_FILES="+strings.Join(mine, "\n"))
	if err := run.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		fmt.Fprintf(stderr, "codebuild-tests-run: %v\n", err)
		return 1
	}
	return 0
}

// globSearch is codebuild-glob-search: it prints the files under the
// current directory that match a glob ("**" spans directories).
func globSearch(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: codebuild-glob-search '<glob>'")
		return 2
	}
	pattern := args[0]
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if artifact.Match(pattern, filepath.ToSlash(p)) {
			fmt.Fprintln(stdout, filepath.ToSlash(p))
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
