package curated

import (
	"strings"
	"testing"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
)

func TestCatalog(t *testing.T) {
	seen := map[string]bool{}
	for _, im := range Images {
		if seen[im.Name] || !strings.HasPrefix(im.Name, "aws/codebuild/") || len(im.Languages) == 0 || len(im.EnvironmentTypes) == 0 {
			t.Errorf("bad catalog entry %+v", im)
		}
		seen[im.Name] = true
		if got, ok := Lookup(im.Name); !ok || got.Name != im.Name {
			t.Errorf("Lookup(%s) = %v, %v", im.Name, got, ok)
		}
	}
	if _, ok := Lookup("aws/codebuild/standard:1.0"); ok {
		t.Error("Lookup of an unknown image succeeded")
	}
}

func TestPlatforms(t *testing.T) {
	n := 0
	for _, p := range Platforms() {
		for _, l := range p.Languages {
			for _, im := range l.Images {
				got, ok := Lookup(cb.Deref(im.Name))
				if !ok || got.Platform != cb.Deref(p.Platform) || len(im.Versions) != 1 {
					t.Errorf("%s/%s: %+v", cb.Deref(p.Platform), cb.Deref(l.Language), im)
				}
				n++
			}
		}
	}
	want := 0
	for _, im := range Images {
		want += len(im.Languages)
	}
	if n != want {
		t.Errorf("Platforms lists %d image entries, want %d", n, want)
	}
}
