package api

import (
	"errors"
	"strings"
	"testing"

	"github.com/buildbatch/buildbatch/internal/awsjson"
)

func TestCheckServiceRole(t *testing.T) {
	tests := []struct {
		role string
		msg  string // "" = valid
	}{
		{"arn:aws:iam::123456789012:role/codebuild", ""},
		{"arn:aws:iam::000000000000:role/service-role/codebuild-demo-service-role", ""},
		{"arn:aws:iam::123456789012:role/a/b/c/Role_with+=,.@-chars", ""},
		{"arn:aws-cn:iam::123456789012:role/r", ""},
		{"arn:aws-us-gov:iam::123456789012:role/r", ""},
		{"arn:aws-iso-b:iam::123456789012:role/r", ""},
		{"codebuild-service-role", ""}, // a role name: CodeBuild takes it
		{"r", ""},
		{"arn:aws:iam::123456789012:user/someone", "Invalid service role: arn:aws:iam::123456789012:user/someone is not the ARN of an IAM role"},
		{"arn:aws:iam::12345:role/r", "Invalid service role: arn:aws:iam::12345:role/r is not the ARN"},
		{"arn:aws:iam:us-east-1:123456789012:role/r", "is not the ARN"},
		{"arn:aws:s3:::bucket", "is not the ARN"},
		{"arn:aws:iam::123456789012:role/", "is not the ARN"},
		{"arn:aws:iam::123456789012:role/" + strings.Repeat("n", 65), "is not the ARN"},
		{"service-role/codebuild", "Invalid service role: service-role/codebuild is neither the ARN nor the name of an IAM role"},
		{"my role", "is neither the ARN nor the name"},
		{strings.Repeat("n", 65), "is neither"},
		{"REPLACE_ME_CODEBUILD_ROLE_ARN", ""},
	}
	for _, tt := range tests {
		role := tt.role
		err := checkServiceRole(&role)
		if tt.msg == "" {
			if err != nil {
				t.Errorf("checkServiceRole(%q) = %v, want nil", tt.role, err)
			}
			continue
		}
		var ae *awsjson.Error
		if !errors.As(err, &ae) || ae.Type != awsjson.InvalidInput || !strings.Contains(ae.Message, tt.msg) {
			t.Errorf("checkServiceRole(%q) = %v, want InvalidInputException containing %q", tt.role, err, tt.msg)
		}
	}
}
