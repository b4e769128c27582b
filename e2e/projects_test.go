package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codebuild/types"
	"github.com/aws/smithy-go"
)

var ctx = context.Background()

func createInput(name string) *codebuild.CreateProjectInput {
	return &codebuild.CreateProjectInput{
		Name:        aws.String(name),
		Source:      &types.ProjectSource{Type: types.SourceTypeNoSource, Buildspec: aws.String("version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n")},
		Artifacts:   &types.ProjectArtifacts{Type: types.ArtifactsTypeNoArtifacts},
		Environment: &types.ProjectEnvironment{Type: types.EnvironmentTypeLinuxContainer, Image: aws.String("aws/codebuild/standard:7.0"), ComputeType: types.ComputeTypeBuildGeneral1Small},
		ServiceRole: aws.String("arn:aws:iam::000000000000:role/codebuild"),
	}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func wantCode(t *testing.T, err error, code, msgPart string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got success, want %s", code)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), msgPart) {
		t.Fatalf("got %v, want %s containing %q", err, code, msgPart)
	}
}

func TestProjectsGoSDK(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")

	in := createInput("full")
	in.Description = aws.String("every member")
	in.Tags = []types.Tag{{Key: aws.String("team"), Value: aws.String("ci")}}
	in.TimeoutInMinutes = aws.Int32(30)
	in.QueuedTimeoutInMinutes = aws.Int32(100)
	in.BadgeEnabled = aws.Bool(true)
	in.ConcurrentBuildLimit = aws.Int32(2)
	in.AutoRetryLimit = aws.Int32(1)
	in.SourceVersion = aws.String("main")
	in.BuildBatchConfig = &types.ProjectBuildBatchConfig{ServiceRole: aws.String("arn:aws:iam::000000000000:role/batch"), CombineArtifacts: aws.Bool(true),
		Restrictions:  &types.BatchRestrictions{MaximumBuildsAllowed: aws.Int32(10), ComputeTypesAllowed: []string{"BUILD_GENERAL1_SMALL"}},
		TimeoutInMins: aws.Int32(60), BatchReportMode: types.BatchReportModeTypeReportIndividualBuilds}
	in.Environment.EnvironmentVariables = []types.EnvironmentVariable{{Name: aws.String("A"), Value: aws.String("1")}}
	in.Cache = &types.ProjectCache{Type: types.CacheTypeLocal, Modes: []types.CacheMode{types.CacheModeLocalCustomCache}}
	in.VpcConfig = &types.VpcConfig{VpcId: aws.String("vpc-1"), Subnets: []string{"subnet-1"}, SecurityGroupIds: []string{"sg-1"}}
	in.FileSystemLocations = []types.ProjectFileSystemLocation{{Type: types.FileSystemTypeEfs, Identifier: aws.String("efs1"), Location: aws.String("fs-1.efs:/"), MountPoint: aws.String("/mnt/efs")}}
	in.SecondaryArtifacts = []types.ProjectArtifacts{{Type: types.ArtifactsTypeS3, Location: aws.String("bucket"), ArtifactIdentifier: aws.String("second")}}
	before := time.Now().Add(-time.Second)
	out, err := c.CreateProject(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	p := out.Project
	if aws.ToString(p.Arn) != "arn:aws:codebuild:us-east-1:000000000000:project/full" {
		t.Errorf("arn = %s", aws.ToString(p.Arn))
	}
	if p.Created == nil || p.Created.Before(before) || !p.Created.Equal(*p.LastModified) {
		t.Errorf("created %v lastModified %v", p.Created, p.LastModified)
	}
	if aws.ToInt32(p.TimeoutInMinutes) != 30 || aws.ToInt32(p.QueuedTimeoutInMinutes) != 100 || aws.ToInt32(p.ConcurrentBuildLimit) != 2 ||
		aws.ToInt32(p.AutoRetryLimit) != 1 || aws.ToString(p.Description) != "every member" || aws.ToString(p.SourceVersion) != "main" {
		t.Errorf("scalars not kept: %+v", p)
	}
	if p.Badge == nil || !p.Badge.BadgeEnabled || !strings.HasPrefix(aws.ToString(p.Badge.BadgeRequestUrl), s.URL+"/badges?") {
		t.Errorf("badge = %+v", p.Badge)
	}
	if p.BuildBatchConfig == nil || aws.ToInt32(p.BuildBatchConfig.Restrictions.MaximumBuildsAllowed) != 10 || p.BuildBatchConfig.BatchReportMode != types.BatchReportModeTypeReportIndividualBuilds {
		t.Errorf("buildBatchConfig = %+v", p.BuildBatchConfig)
	}
	if len(p.Tags) != 1 || p.VpcConfig == nil || len(p.FileSystemLocations) != 1 || p.Cache.Type != types.CacheTypeLocal {
		t.Errorf("lists not kept: %+v", p)
	}
	if a := p.SecondaryArtifacts[0]; aws.ToString(a.Name) != "full" || a.Packaging != types.ArtifactPackagingNone || a.NamespaceType != types.ArtifactNamespaceNone {
		t.Errorf("secondary artifact defaults = %+v", a)
	}
	if ev := p.Environment.EnvironmentVariables[0]; ev.Type != types.EnvironmentVariableTypePlaintext {
		t.Errorf("env var type = %q", ev.Type)
	}
	if p.Environment.ImagePullCredentialsType != types.ImagePullCredentialsTypeCodebuild || aws.ToString(p.EncryptionKey) != "arn:aws:kms:us-east-1:000000000000:alias/aws/s3" ||
		p.LogsConfig.CloudWatchLogs.Status != types.LogsConfigStatusTypeEnabled || p.ProjectVisibility != types.ProjectVisibilityTypePrivate {
		t.Errorf("defaults = %+v", p)
	}

	// Defaults of a minimal project.
	out, err = c.CreateProject(ctx, createInput("minimal"))
	if err != nil {
		t.Fatal(err)
	}
	if m := out.Project; aws.ToInt32(m.TimeoutInMinutes) != 60 || aws.ToInt32(m.QueuedTimeoutInMinutes) != 480 || m.Cache.Type != types.CacheTypeNoCache ||
		m.Badge.BadgeEnabled || m.ConcurrentBuildLimit != nil {
		t.Errorf("minimal defaults = %+v", m)
	}

	_, err = c.CreateProject(ctx, createInput("minimal"))
	wantCode(t, err, "ResourceAlreadyExistsException", "arn:aws:codebuild:us-east-1:000000000000:project/minimal")
	var exists *types.ResourceAlreadyExistsException
	if !errors.As(err, &exists) {
		t.Errorf("Go SDK did not map to *types.ResourceAlreadyExistsException: %T", err)
	}

	// Update: given members change, others stay; -1 removes the limit.
	time.Sleep(5 * time.Millisecond)
	up, err := c.UpdateProject(ctx, &codebuild.UpdateProjectInput{Name: aws.String("full"), Description: aws.String("updated"), ConcurrentBuildLimit: aws.Int32(-1), BadgeEnabled: aws.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	u := up.Project
	if aws.ToString(u.Description) != "updated" || u.ConcurrentBuildLimit != nil || u.Badge.BadgeEnabled || u.Badge.BadgeRequestUrl != nil ||
		aws.ToInt32(u.TimeoutInMinutes) != 30 || len(u.Tags) != 1 || !u.Created.Equal(*p.Created) || !u.LastModified.After(*p.LastModified) {
		t.Errorf("after update = %+v", u)
	}
	_, err = c.UpdateProject(ctx, &codebuild.UpdateProjectInput{Name: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException", "project/nope")
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("not mapped to *types.ResourceNotFoundException: %T", err)
	}

	// BatchGetProjects keeps the request order and reports misses; ARNs work too.
	bg, err := c.BatchGetProjects(ctx, &codebuild.BatchGetProjectsInput{Names: []string{"minimal", "ghost", "arn:aws:codebuild:us-east-1:000000000000:project/full"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(bg.Projects) != 2 || aws.ToString(bg.Projects[0].Name) != "minimal" || aws.ToString(bg.Projects[1].Name) != "full" ||
		len(bg.ProjectsNotFound) != 1 || bg.ProjectsNotFound[0] != "ghost" {
		t.Errorf("BatchGetProjects = %+v", bg)
	}

	// Survives a restart, byte for byte.
	before2, _ := json.Marshal(bg.Projects)
	s.Restart()
	bg2, err := c.BatchGetProjects(ctx, &codebuild.BatchGetProjectsInput{Names: []string{"minimal", "full"}})
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := json.Marshal(bg2.Projects); string(after) != string(before2) {
		t.Errorf("after restart:\n%s\nwant\n%s", after, before2)
	}

	// Delete: gone from reads; deleting again is not an error (as on AWS).
	if _, err := c.DeleteProject(ctx, &codebuild.DeleteProjectInput{Name: aws.String("minimal")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteProject(ctx, &codebuild.DeleteProjectInput{Name: aws.String("minimal")}); err != nil {
		t.Errorf("second delete: %v", err)
	}
	bg, _ = c.BatchGetProjects(ctx, &codebuild.BatchGetProjectsInput{Names: []string{"minimal"}})
	if len(bg.Projects) != 0 || len(bg.ProjectsNotFound) != 1 {
		t.Errorf("after delete: %+v", bg)
	}
}

func TestProjectValidationErrors(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	bad := func(mut func(*codebuild.CreateProjectInput)) error {
		in := createInput("valid-name")
		mut(in)
		_, err := c.CreateProject(ctx, in)
		return err
	}
	tests := []struct {
		name string
		mut  func(*codebuild.CreateProjectInput)
		code string
		msg  string
	}{
		{"name pattern", func(in *codebuild.CreateProjectInput) { in.Name = aws.String("-x") }, "InvalidInputException", "at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern"},
		{"name too long", func(in *codebuild.CreateProjectInput) { in.Name = aws.String(strings.Repeat("a", 151)) }, "InvalidInputException", "less than or equal to 150"},
		{"timeout max", func(in *codebuild.CreateProjectInput) { in.TimeoutInMinutes = aws.Int32(2161) }, "InvalidInputException", "at 'timeoutInMinutes'"},
		{"timeout min", func(in *codebuild.CreateProjectInput) { in.TimeoutInMinutes = aws.Int32(1) }, "InvalidInputException", "greater than or equal to 5"},
		{"enum", func(in *codebuild.CreateProjectInput) { in.Environment.ComputeType = "HUGE" }, "InvalidInputException", "at 'environment.computeType'"},
		{"NO_SOURCE without buildspec", func(in *codebuild.CreateProjectInput) { in.Source.Buildspec = nil }, "InvalidInputException", "buildspec"},
		{"git without location", func(in *codebuild.CreateProjectInput) { in.Source = &types.ProjectSource{Type: types.SourceTypeGithub} }, "InvalidInputException", "source.location"},
		{"S3 artifacts without location", func(in *codebuild.CreateProjectInput) {
			in.Artifacts = &types.ProjectArtifacts{Type: types.ArtifactsTypeS3}
		}, "InvalidInputException", "artifacts.location"},
		{"codepipeline mismatch", func(in *codebuild.CreateProjectInput) {
			in.Artifacts = &types.ProjectArtifacts{Type: types.ArtifactsTypeCodepipeline}
		}, "InvalidInputException", "CODEPIPELINE"},
		{"concurrent limit over account", func(in *codebuild.CreateProjectInput) { in.ConcurrentBuildLimit = aws.Int32(100000) }, "InvalidInputException", "account-level concurrent build limit"},
		{"reserved env var", func(in *codebuild.CreateProjectInput) {
			in.Environment.EnvironmentVariables = []types.EnvironmentVariable{{Name: aws.String("CODEBUILD_X"), Value: aws.String("1")}}
		}, "InvalidInputException", "reserved"},
		{"secondary source without identifier", func(in *codebuild.CreateProjectInput) {
			in.SecondarySources = []types.ProjectSource{{Type: types.SourceTypeGithub, Location: aws.String("https://x/y.git")}}
		}, "InvalidInputException", "sourceIdentifier"},
		{"tags", func(in *codebuild.CreateProjectInput) {
			in.Tags = []types.Tag{{Key: aws.String("a|b"), Value: aws.String("v")}}
		}, "InvalidInputException", "tags.1.member.key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, bad(tt.mut), tt.code, tt.msg) })
	}
	// Clients check required members themselves; a raw request shows the server does too.
	resp, body := rawPost(t, s.URL, "CreateProject", `{"name":"x1","source":{"type":"NO_SOURCE","buildspec":"version: 0.2"},"artifacts":{"type":"NO_ARTIFACTS"},"environment":{"type":"LINUX_CONTAINER","computeType":"BUILD_GENERAL1_SMALL"},"serviceRole":"r"}`,
		&signing{key: "test", secret: "test", at: time.Now()})
	if resp.StatusCode != 400 || !strings.Contains(body, `"InvalidInputException"`) || !strings.Contains(body, "Value null at 'environment.image' failed to satisfy constraint: Member must not be null") {
		t.Errorf("missing nested required member: %d %s", resp.StatusCode, body)
	}
	resp, body = rawPost(t, s.URL, "CreateProject", `{"name":7}`, &signing{key: "test", secret: "test", at: time.Now()})
	if resp.StatusCode != 400 || !strings.Contains(body, `"SerializationException"`) || !strings.Contains(body, "'name'") {
		t.Errorf("wrong type: %d %s", resp.StatusCode, body)
	}
	// Nothing was created by any of them.
	l, err := c.ListProjects(ctx, &codebuild.ListProjectsInput{})
	if err != nil || len(l.Projects) != 0 {
		t.Errorf("ListProjects after bad input = %v, %v", l.Projects, err)
	}
	_, err = c.ListProjects(ctx, &codebuild.ListProjectsInput{NextToken: aws.String("garbage")})
	wantCode(t, err, "InvalidInputException", "pagination token")
}

func TestListProjectsPagination(t *testing.T) {
	s := Start(t)
	c := s.Client(t, "test", "us-east-1")
	const n = 130
	for i := range n {
		if _, err := c.CreateProject(ctx, createInput(fmt.Sprintf("p%03d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// p050 is modified last; LAST_MODIFIED_TIME DESCENDING starts with it.
	time.Sleep(3 * time.Millisecond)
	c.UpdateProject(ctx, &codebuild.UpdateProjectInput{Name: aws.String("p050"), Description: aws.String("touched")})
	tests := []struct {
		by    types.ProjectSortByType
		order types.SortOrderType
		first string
		last  string
	}{
		{"", "", "p000", "p129"},
		{types.ProjectSortByTypeName, types.SortOrderTypeDescending, "p129", "p000"},
		{types.ProjectSortByTypeCreatedTime, types.SortOrderTypeAscending, "p000", "p129"},
		{types.ProjectSortByTypeLastModifiedTime, types.SortOrderTypeDescending, "p050", "p000"},
	}
	for _, tt := range tests {
		var all []string
		pages := 0
		p := codebuild.NewListProjectsPaginator(c, &codebuild.ListProjectsInput{SortBy: tt.by, SortOrder: tt.order})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Projects) > 100 {
				t.Errorf("page of %d", len(out.Projects))
			}
			pages++
			all = append(all, out.Projects...)
		}
		if len(all) != n || pages != 2 || all[0] != tt.first || all[n-1] != tt.last {
			t.Errorf("ListProjects(%s %s): %d names in %d pages, %s..%s; want %d in 2, %s..%s", tt.by, tt.order, len(all), pages, all[0], all[len(all)-1], n, tt.first, tt.last)
		}
	}
}

func TestAccountsAndRegionsAreIsolated(t *testing.T) {
	s := Start(t)
	defaultAcct := s.Client(t, "test", "us-east-1")
	otherKey := s.Client(t, "AKIAOTHERDUMMYKEY", "us-east-1")
	acct := s.Client(t, "123456789012", "us-east-1")
	otherRegion := s.Client(t, "test", "eu-west-1")
	out, err := defaultAcct.CreateProject(ctx, createInput("shared"))
	if err != nil {
		t.Fatal(err)
	}
	// Any non-12-digit key is the default account: same resources.
	if l, _ := otherKey.ListProjects(ctx, &codebuild.ListProjectsInput{}); len(l.Projects) != 1 {
		t.Errorf("another dummy key sees %v, want the default account's project", l.Projects)
	}
	for name, c := range map[string]*codebuild.Client{"account 123456789012": acct, "region eu-west-1": otherRegion} {
		l, _ := c.ListProjects(ctx, &codebuild.ListProjectsInput{})
		bg, _ := c.BatchGetProjects(ctx, &codebuild.BatchGetProjectsInput{Names: []string{"shared", aws.ToString(out.Project.Arn)}})
		if len(l.Projects) != 0 || len(bg.Projects) != 0 {
			t.Errorf("%s sees the default account's project", name)
		}
		if _, err := c.CreateProject(ctx, createInput("shared")); err != nil {
			t.Errorf("%s cannot create its own 'shared': %v", name, err)
		}
	}
	o, _ := acct.BatchGetProjects(ctx, &codebuild.BatchGetProjectsInput{Names: []string{"shared"}})
	if len(o.Projects) != 1 || aws.ToString(o.Projects[0].Arn) != "arn:aws:codebuild:us-east-1:123456789012:project/shared" {
		t.Errorf("account from 12-digit key: %+v", o.Projects)
	}
}

func TestStrictCredentials(t *testing.T) {
	credFile := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(credFile, []byte("[alice]\naws_access_key_id = AKIAALICE\naws_secret_access_key = alice-secret\naws_account_id = 111111111111\n\n[bob]\naws_access_key_id = AKIABOB\naws_secret_access_key = bob-secret\naws_account_id = 222222222222\n"), 0o600)
	s := Start(t, "--credentials", credFile)
	alice := s.ClientWithSecret(t, "AKIAALICE", "alice-secret", "us-east-1")
	out, err := alice.CreateProject(ctx, createInput("alices"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(aws.ToString(out.Project.Arn), ":111111111111:") {
		t.Errorf("arn %s not in alice's account", aws.ToString(out.Project.Arn))
	}
	bob := s.ClientWithSecret(t, "AKIABOB", "bob-secret", "us-east-1")
	if l, err := bob.ListProjects(ctx, &codebuild.ListProjectsInput{}); err != nil || len(l.Projects) != 0 {
		t.Errorf("bob sees %v, %v", l, err)
	}
	_, err = s.ClientWithSecret(t, "AKIAALICE", "wrong", "us-east-1").ListProjects(ctx, &codebuild.ListProjectsInput{})
	wantCode(t, err, "InvalidSignatureException", "signature we calculated does not match")
	_, err = s.ClientWithSecret(t, "AKIAMALLORY", "x", "us-east-1").ListProjects(ctx, &codebuild.ListProjectsInput{})
	wantCode(t, err, "UnrecognizedClientException", "security token included in the request is invalid")

	// Raw requests: no Authorization, and a 20-minute clock skew.
	resp, body := rawPost(t, s.URL, "ListProjects", "{}", nil)
	if resp.StatusCode != 400 || !strings.Contains(body, "MissingAuthenticationTokenException") {
		t.Errorf("unsigned: %d %s", resp.StatusCode, body)
	}
	resp, body = rawPost(t, s.URL, "ListProjects", "{}", &signing{key: "AKIAALICE", secret: "alice-secret", at: time.Now().Add(-20 * time.Minute)})
	if resp.StatusCode != 400 || !strings.Contains(body, "InvalidSignatureException") || !strings.Contains(body, "Signature expired") {
		t.Errorf("skewed: %d %s", resp.StatusCode, body)
	}
	resp, body = rawPost(t, s.URL, "ListProjects", "{}", &signing{key: "AKIAALICE", secret: "alice-secret", at: time.Now()})
	if resp.StatusCode != 200 {
		t.Errorf("raw signed: %d %s", resp.StatusCode, body)
	}
	// A build's initiator is the credentials file section.
	b, err := alice.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("alices")})
	if err != nil || aws.ToString(b.Build.Initiator) != "alice" {
		t.Errorf("initiator = %v, %v; want alice", b, err)
	}
}

func TestStartupFailures(t *testing.T) {
	s := Start(t)
	file := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(file, nil, 0o644)
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"port taken", []string{"--listen", s.Addr, "--data-dir", t.TempDir()}, "cannot listen on " + s.Addr},
		{"data dir unusable", []string{"--listen", "127.0.0.1:0", "--data-dir", filepath.Join(file, "sub")}, "data directory"},
		{"non-loopback without credentials", []string{"--listen", "0.0.0.0:0", "--data-dir", t.TempDir()}, "needs --credentials"},
		{"bad credentials file", []string{"--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--credentials", file}, "--credentials"},
		{"bad flag", []string{"--no-such-flag"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(binary, append([]string{"serve"}, tt.args...)...)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() == 0 {
				t.Fatalf("exit = %v, want non-zero; output %s", err, out)
			}
			if !strings.Contains(string(out), tt.msg) {
				t.Errorf("output %q does not say %q", out, tt.msg)
			}
		})
	}
}
