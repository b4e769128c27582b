package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/buildbatch/buildbatch/internal/blob"
	"github.com/buildbatch/buildbatch/internal/blob/blobopen"
	"github.com/buildbatch/buildbatch/internal/blob/s3/s3test"
	"github.com/buildbatch/buildbatch/internal/store/postgres/pgtest"
)

// With BUILDBATCH_E2E_STORE=shared every server of the suite keeps its
// resources in PostgreSQL (a fresh database each) and its artifacts in S3
// (a fresh prefix of one versitygw server's bucket): the whole suite runs
// on the shared stores as it does on SQLite and files.
var (
	e2eShared = os.Getenv("BUILDBATCH_E2E_STORE") == "shared"
	s3server  *s3test.Server
)

// startShared starts the S3 server of a shared-store run (from TestMain)
// and gives this process the credentials of its root user, which the
// servers it starts inherit.
func startShared() error {
	if !e2eShared {
		return nil
	}
	var err error
	if s3server, err = s3test.StartServer(); err != nil {
		return fmt.Errorf("BUILDBATCH_E2E_STORE=shared: %w", err)
	}
	os.Setenv("AWS_ACCESS_KEY_ID", s3server.AccessKey)
	os.Setenv("AWS_SECRET_ACCESS_KEY", s3server.SecretKey)
	return nil
}

func stopShared() {
	if s3server != nil {
		s3server.Stop()
	}
}

// sharedArgs are the store flags of a server in a shared-store run.
func sharedArgs(t *testing.T) []string {
	if !e2eShared {
		return nil
	}
	return []string{"--store", pgtest.Start(t), "--blob", s3server.URL()}
}

// blobSpec is the server's --blob ("" for files in the data directory).
func (s *Server) blobSpec() string {
	spec := ""
	for i, a := range s.args {
		if a == "--blob" && i+1 < len(s.args) {
			spec = s.args[i+1]
		}
	}
	return spec
}

// Blob opens the server's blob store, as the server does: tests read
// artifacts through it, never from the data directory's layout.
func (s *Server) Blob(t *testing.T) blob.Store {
	t.Helper()
	st, _, err := blobopen.Open(context.Background(), s.blobSpec(), s.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Object reads an object of the server's blob store.
func (s *Server) Object(t *testing.T, bucket, key string) ([]byte, error) {
	t.Helper()
	rc, err := s.Blob(t).Open(context.Background(), bucket, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// Keys lists the keys under a folder of the server's blob store, relative
// to it, sorted.
func (s *Server) Keys(t *testing.T, bucket, folder string) []string {
	t.Helper()
	keys, err := s.Blob(t).List(context.Background(), bucket, strings.TrimSuffix(folder, "/")+"/")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range keys {
		out = append(out, strings.TrimPrefix(k, strings.TrimSuffix(folder, "/")+"/"))
	}
	sort.Strings(out)
	return out
}

// pythonBlobEnv tells the Python tests where the server's blob store is.
func (s *Server) pythonBlobEnv() []string {
	spec := s.blobSpec()
	if spec == "" {
		return nil
	}
	return []string{"BUILDBATCH_BLOB=" + spec, "BUILDBATCH_BLOB_KEY=" + s3server.AccessKey, "BUILDBATCH_BLOB_SECRET=" + s3server.SecretKey}
}
