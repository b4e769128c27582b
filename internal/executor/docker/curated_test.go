package docker

import (
	"strings"
	"testing"

	"github.com/buildbatch/buildbatch/internal/curated"
)

// Every image ListCuratedEnvironmentImages lists can be had: pulled from
// where AWS publishes it, or built from AWS's Dockerfile (the hint says
// how), or mapped.
func TestCuratedImagesResolve(t *testing.T) {
	for _, im := range curated.Images {
		r := Resolve(im.Name, nil)
		switch {
		case im.Public != "":
			if r.Pull != im.Public || len(r.Candidates) != 2 {
				t.Errorf("%s: %+v", im.Name, r)
			}
		case im.Dockerfile != "":
			if r.Pull != "" || !strings.Contains(r.Hint, im.Dockerfile) {
				t.Errorf("%s: %+v", im.Name, r)
			}
		default:
			if !strings.Contains(r.Hint, "--image-map") {
				t.Errorf("%s: %+v", im.Name, r)
			}
		}
		if m := Resolve(im.Name, map[string]string{im.Name: "local/x"}); m.Candidates[0] != "local/x" {
			t.Errorf("%s mapped: %+v", im.Name, m)
		}
	}
}
