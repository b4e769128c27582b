package fake

import (
	"fmt"
	"os"
	"testing"

	"github.com/buildbatch/buildbatch/internal/executor/executortest"
	"github.com/buildbatch/buildbatch/internal/executor/local"
)

func TestConformance(t *testing.T) {
	x := New(t.TempDir(), local.BaseEnv(os.Environ()))
	executortest.Run(t, executortest.Setup{Executor: x, Leftovers: func(t *testing.T, id string) []string {
		return executortest.Eventually(func() []string {
			var left []string
			for _, pid := range local.Processes(id) {
				left = append(left, fmt.Sprint("pid ", pid))
			}
			return left
		})
	}})
	if x.CopiesIn.Load() == 0 || x.CopiesOut.Load() == 0 {
		t.Errorf("copies were not counted")
	}
}
