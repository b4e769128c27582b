package local

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/buildbatch/buildbatch/internal/executor/executortest"
)

func TestConformance(t *testing.T) {
	executortest.Run(t, executortest.Setup{
		Executor:  &Executor{KillGrace: 200 * time.Millisecond, Base: BaseEnv(os.Environ())},
		Leftovers: leftovers,
	})
}

func leftovers(t *testing.T, buildID string) []string {
	return executortest.Eventually(func() []string {
		var left []string
		for _, pid := range Processes(buildID) {
			left = append(left, fmt.Sprint("pid ", pid))
		}
		return left
	})
}
