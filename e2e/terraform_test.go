package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/codebuild"
)

// terraformMirror is where the machine keeps the AWS provider (no registry
// is reachable).
const terraformMirror = "/opt/tf-plugins"

const terraformConfig = `
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    codebuild = "ENDPOINT"
  }
}
resource "aws_codebuild_source_credential" "gh" {
  auth_type   = "PERSONAL_ACCESS_TOKEN"
  server_type = "GITHUB"
  token       = "ghp_terraform"
}
resource "aws_codebuild_fleet" "f" {
  name              = "tf-fleet"
  base_capacity     = 2
  compute_type      = "BUILD_GENERAL1_SMALL"
  environment_type  = "LINUX_CONTAINER"
  overflow_behavior = "QUEUE"
}
resource "aws_codebuild_project" "p" {
  name               = "tf-proj"
  service_role       = "arn:aws:iam::000000000000:role/codebuild"
  badge_enabled      = true
  project_visibility = "PUBLIC_READ"
  artifacts { type = "NO_ARTIFACTS" }
  environment {
    compute_type = "BUILD_GENERAL1_SMALL"
    image        = "aws/codebuild/standard:7.0"
    type         = "LINUX_CONTAINER"
    fleet { fleet_arn = aws_codebuild_fleet.f.arn }
  }
  source {
    type     = "GITHUB"
    location = "https://github.com/owner/repo.git"
  }
}
resource "aws_codebuild_webhook" "w" {
  project_name = aws_codebuild_project.p.name
  build_type   = "BUILD"
  filter_group {
    filter {
      type    = "EVENT"
      pattern = "PUSH"
    }
    filter {
      type    = "HEAD_REF"
      pattern = "^refs/heads/main$"
    }
  }
}
resource "aws_codebuild_resource_policy" "rp" {
  resource_arn = aws_codebuild_project.p.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::222222222222:root" }
      Action    = ["codebuild:BatchGetProjects"]
      Resource  = aws_codebuild_project.p.arn
    }]
  })
}
output "payload_url" { value = aws_codebuild_webhook.w.payload_url }
output "badge" { value = aws_codebuild_project.p.badge_url }
output "alias" { value = aws_codebuild_project.p.public_project_alias }
`

// TestTerraform: Terraform's AWS provider creates, reads back without a
// diff, and destroys the resources of the operations beyond builds:
// source credential, fleet, a public project with a badge on it, webhook,
// resource policy.
func TestTerraform(t *testing.T) {
	if e2eExecutor == "docker" || e2eShared {
		t.Skip("the provider's calls are the same whatever runs builds: run once, in the local pass")
	}
	tf, err := exec.LookPath("terraform")
	if _, statErr := os.Stat(terraformMirror); err != nil || statErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("terraform (%v) or its provider mirror %s (%v) is missing", err, terraformMirror, statErr)
		}
		t.Skip("terraform or its provider mirror is not on this machine")
	}
	s := Start(t)
	dir := t.TempDir()
	rc := filepath.Join(dir, "terraformrc")
	os.WriteFile(rc, []byte(`provider_installation {
  filesystem_mirror {
    path    = "`+terraformMirror+`"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
}
`), 0o644)
	os.WriteFile(filepath.Join(dir, "main.tf"), []byte(strings.Replace(terraformConfig, "ENDPOINT", s.URL, 1)), 0o644)
	run := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(tf, args...)
		cmd.Dir = dir
		cmd.Env = append(cleanEnv(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1", "TF_INPUT=0")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	for _, step := range [][]string{{"init", "-no-color"}, {"apply", "-auto-approve", "-no-color"}} {
		if out, err := run(step...); err != nil {
			t.Fatalf("terraform %s: %v\n%s", step[0], err, out)
		}
	}
	if out, err := run("plan", "-detailed-exitcode", "-no-color"); err != nil {
		t.Errorf("terraform plan after apply is not empty (%v):\n%s", err, out)
	}
	raw, err := run("output", "-json")
	if err != nil {
		t.Fatal(err)
	}
	var outs map[string]struct{ Value string }
	if err := json.Unmarshal([]byte(raw), &outs); err != nil {
		t.Fatalf("terraform output: %v\n%s", err, raw)
	}
	if !strings.HasPrefix(outs["payload_url"].Value, s.URL+"/webhooks?t=") || outs["alias"].Value == "" || badgeStatusOf(t, outs["badge"].Value) != "UNKNOWN" {
		t.Errorf("outputs: %+v", outs)
	}
	c := s.Client(t, "AKIDEXAMPLE", "us-east-1")
	p, err := c.BatchGetProjects(ctx, &codebuild.BatchGetProjectsInput{Names: []string{"tf-proj"}})
	if err != nil || len(p.Projects) != 1 || p.Projects[0].Webhook == nil || string(p.Projects[0].ProjectVisibility) != "PUBLIC_READ" ||
		p.Projects[0].Environment.Fleet == nil {
		t.Fatalf("the project Terraform made: %+v %v", p, err)
	}
	if out, err := run("destroy", "-auto-approve", "-no-color"); err != nil {
		t.Fatalf("terraform destroy: %v\n%s", err, out)
	}
	if p, _ := c.BatchGetProjects(ctx, &codebuild.BatchGetProjectsInput{Names: []string{"tf-proj"}}); len(p.Projects) != 0 {
		t.Errorf("after destroy: %d projects", len(p.Projects))
	}
	if f, _ := c.ListFleets(ctx, &codebuild.ListFleetsInput{}); len(f.Fleets) != 0 {
		t.Errorf("after destroy: fleets %v", f.Fleets)
	}
}
