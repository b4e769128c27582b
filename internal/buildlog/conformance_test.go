package buildlog_test

import (
	"testing"

	"github.com/buildbatch/buildbatch/internal/buildlog"
	"github.com/buildbatch/buildbatch/internal/buildlog/logtest"
)

func TestConformance(t *testing.T) {
	logtest.Run(t, func(t *testing.T) (buildlog.Logs, func() buildlog.Logs) {
		dir := t.TempDir()
		open := func() buildlog.Logs {
			s, err := buildlog.NewStore(dir)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		return open(), open
	})
}
