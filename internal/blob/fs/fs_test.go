package fs_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildbatch/buildbatch/internal/blob"
	"github.com/buildbatch/buildbatch/internal/blob/blobtest"
	"github.com/buildbatch/buildbatch/internal/blob/fs"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		s, err := fs.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestObjectsAreReadable: objects are files of mode 0644, like the other
// files a build leaves (CreateTemp's 0600 would hide them from other users).
func TestObjectsAreReadable(t *testing.T) {
	dir := t.TempDir()
	s, err := fs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(context.Background(), "b", "a/k.txt", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "b", "a", "k.txt"))
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("object mode %v, %v; want 0644", st.Mode().Perm(), err)
	}
}
