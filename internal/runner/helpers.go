package runner

import (
	"os"
	"path/filepath"
)

// writeHelpers puts the commands CodeBuild images provide for test
// splitting (codebuild-tests-run, codebuild-glob-search) on the build's PATH;
// they call back into the buildbatch binary.
func writeHelpers(dir string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range []string{"codebuild-tests-run", "codebuild-glob-search"} {
		script := "#!/bin/sh\nexec '" + self + "' " + name + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			return err
		}
	}
	return nil
}
