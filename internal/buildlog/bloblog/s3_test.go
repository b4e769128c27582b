package bloblog

import (
	"testing"

	"github.com/buildbatch/buildbatch/internal/blob"
	"github.com/buildbatch/buildbatch/internal/blob/s3"
	"github.com/buildbatch/buildbatch/internal/blob/s3/s3test"
)

// TestConformanceS3 runs the suite over S3 (versitygw); without it, it
// skips as s3test.Start does (fails under CI=true).
func TestConformanceS3(t *testing.T) {
	srv := s3test.Start(t)
	suite(t, fast, func(t testing.TB) blob.Store {
		o, err := s3.ParseURL(srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		o.Credentials = srv.Credentials()
		s, err := s3.New(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
