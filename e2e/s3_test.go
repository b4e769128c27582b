package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codebuild/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Client is an S3 client of the server's port. Virtual-hosted requests
// (<bucket>.localhost) are dialled to the server whatever the resolver
// says of *.localhost.
func (s *Server) S3Client(t *testing.T, accessKey string, pathStyle bool) *s3.Client {
	_, port, _ := net.SplitHostPort(s.Addr)
	dial := &net.Dialer{}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dial.DialContext(ctx, network, s.Addr)
	}
	return s3.New(s3.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String("http://localhost:" + port),
		UsePathStyle:     pathStyle,
		Credentials:      credentials.NewStaticCredentialsProvider(accessKey, "secret-"+accessKey, ""),
		HTTPClient:       &http.Client{Transport: tr},
		RetryMaxAttempts: 1,
	})
}

// TestS3 reaches the artifact store with the aws cli and the Go SDK: an
// artifact downloaded matches the build's sha256sum, a source uploaded
// builds, another account is refused.
func TestS3(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	dir := t.TempDir()

	// A build's artifact, fetched with aws s3 cp: no bucket made first.
	project(t, c, "art", "version: 0.2\nphases:\n  build:\n    commands:\n      - echo built > out.txt\nartifacts:\n  files: [out.txt]\n",
		func(in *codebuild.CreateProjectInput) {
			in.Artifacts = &types.ProjectArtifacts{Type: types.ArtifactsTypeS3, Location: aws.String("team-artifacts"), Path: aws.String("app"),
				NamespaceType: types.ArtifactNamespaceBuildId, Name: aws.String("app.zip"), Packaging: types.ArtifactPackagingZip}
		})
	b := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("art")}).Id))
	if b.BuildStatus != types.StatusTypeSucceeded {
		t.Fatalf("build %s:\n%s", b.BuildStatus, logText(t, s, aws.ToString(b.Id)))
	}
	_, uuid, _ := strings.Cut(aws.ToString(b.Id), ":")
	zipPath := filepath.Join(dir, "app.zip")
	if out, err := s.AWS(t, "test", "s3", "cp", "--only-show-errors", "s3://team-artifacts/app/"+uuid+"/app.zip", zipPath); err != nil {
		t.Fatalf("aws s3 cp: %s %v", out, err)
	}
	data, err := os.ReadFile(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != aws.ToString(b.Artifacts.Sha256sum) {
		t.Errorf("downloaded artifact's sha256 %x, the build says %s", sum, aws.ToString(b.Artifacts.Sha256sum))
	}
	ls, err := s.AWS(t, "test", "s3", "ls", "--recursive", "s3://team-artifacts")
	if err != nil || !strings.Contains(string(ls), "app/"+uuid+"/app.zip") {
		t.Errorf("aws s3 ls: %s %v", ls, err)
	}
	buckets, err := s.AWS(t, "test", "s3", "ls")
	if err != nil || !strings.Contains(string(buckets), "team-artifacts") {
		t.Errorf("aws s3 ls (buckets): %s %v", buckets, err)
	}

	// A source zip uploaded with aws s3 (bucket made first), then built.
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("buildspec.yml")
	io.WriteString(w, "version: 0.2\nphases:\n  build:\n    commands:\n      - cat greeting.txt\n")
	w, _ = zw.Create("greeting.txt")
	io.WriteString(w, "hello from an uploaded source\n")
	zw.Close()
	src := filepath.Join(dir, "src.zip")
	os.WriteFile(src, zb.Bytes(), 0o644)
	if out, err := s.AWS(t, "test", "s3", "mb", "s3://team-sources"); err != nil {
		t.Fatalf("aws s3 mb: %s %v", out, err)
	}
	if out, err := s.AWS(t, "test", "s3", "cp", "--only-show-errors", src, "s3://team-sources/app/src.zip"); err != nil {
		t.Fatalf("aws s3 cp up: %s %v", out, err)
	}
	project(t, c, "froms3", "", func(in *codebuild.CreateProjectInput) {
		in.Source = &types.ProjectSource{Type: types.SourceTypeS3, Location: aws.String("team-sources/app/src.zip")}
	})
	sb := waitBuild(t, c, aws.ToString(start(t, c, &codebuild.StartBuildInput{ProjectName: aws.String("froms3")}).Id))
	if text := logText(t, s, aws.ToString(sb.Id)); sb.BuildStatus != types.StatusTypeSucceeded || !strings.Contains(text, "hello from an uploaded source") {
		t.Errorf("build of the uploaded source: %s\n%s", sb.BuildStatus, text)
	}

	// Another account is refused the first one's buckets.
	if out, err := s.AWS(t, "111111111111", "s3", "ls", "s3://team-artifacts"); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("another account's aws s3 ls: %s %v", out, err)
	}
	if out, err := s.AWS(t, "111111111111", "s3", "cp", src, "s3://team-sources/stolen.zip"); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("another account's aws s3 cp: %s %v", out, err)
	}
	if out, err := s.AWS(t, "test", "s3", "cp", "s3://team-sources/nope.zip", filepath.Join(dir, "x")); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("aws s3 cp of a missing key: %s %v", out, err)
	}

	// The Go SDK, virtual-hosted and path-style.
	for _, pathStyle := range []bool{false, true} {
		sc := s.S3Client(t, "test", pathStyle)
		bucket := "go-sdk-virtual"
		if pathStyle {
			bucket = "go-sdk-path"
		}
		if _, err := sc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
			t.Fatalf("CreateBucket: %v", err)
		}
		body := strings.Repeat("0123456789", 1000)
		if _, err := sc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/data.txt"), Body: strings.NewReader(body)}); err != nil {
			t.Fatalf("PutObject: %v", err)
		}
		head, err := sc.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/data.txt")})
		if err != nil || aws.ToInt64(head.ContentLength) != int64(len(body)) {
			t.Fatalf("HeadObject: %+v %v", head, err)
		}
		got, err := sc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/data.txt"), Range: aws.String("bytes=10-19"), IfMatch: head.ETag})
		if err != nil {
			t.Fatalf("GetObject range: %v", err)
		}
		part, _ := io.ReadAll(got.Body)
		got.Body.Close()
		if string(part) != "0123456789" || aws.ToString(got.ContentRange) != "bytes 10-19/10000" {
			t.Errorf("range: %q %s", part, aws.ToString(got.ContentRange))
		}
		list, err := sc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("dir/")})
		if err != nil || len(list.Contents) != 1 || aws.ToString(list.Contents[0].ETag) != aws.ToString(head.ETag) {
			t.Errorf("ListObjectsV2: %+v %v", list, err)
		}
		del, err := sc.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &s3types.Delete{Objects: []s3types.ObjectIdentifier{{Key: aws.String("dir/data.txt")}}}})
		if err != nil || len(del.Deleted) != 1 {
			t.Errorf("DeleteObjects: %+v %v", del, err)
		}
		if _, err := sc.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
			t.Errorf("DeleteBucket: %v", err)
		}
	}
	other := s.S3Client(t, "111111111111", true)
	_, err = other.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("team-artifacts"), Key: aws.String("app/" + uuid + "/app.zip")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Errorf("another account's GetObject: %v", err)
	}
}

func TestS3Boto3(t *testing.T) {
	s := Start(t)
	s.Python(t, "test_s3")
}
