package batch

import (
	"errors"
	"strings"
	"testing"
)

// TestEnvValidation: a batch build's env compute-type, image and type are
// held to the constraints of the StartBuild overrides they stand for
// (computeTypeOverride, imageOverride, environmentTypeOverride); a bad
// value names the build and its line.
func TestEnvValidation(t *testing.T) {
	const enum = "Member must satisfy enum value set: [BUILD_GENERAL1_SMALL, "
	tests := []struct {
		name string
		src  string
		line int
		msg  string // "" = valid
	}{
		{"list compute-type", "version: 0.2\nbatch:\n  build-list:\n    - identifier: ok\n    - identifier: big\n      env:\n        compute-type: BUILD_GENERAL1_HUGE\n", 7,
			"build big (batch.build-list[1]): invalid env.compute-type 'BUILD_GENERAL1_HUGE': Value 'BUILD_GENERAL1_HUGE' at 'computeTypeOverride' failed to satisfy constraint: " + enum},
		{"lower-case compute-type", "version: 0.2\nbatch:\n  build-list:\n    - identifier: small\n      env: {compute-type: build_general1_small}\n", 5,
			"build small (batch.build-list[0]): invalid env.compute-type 'build_general1_small'"},
		{"graph compute-type", "version: 0.2\nbatch:\n  build-graph:\n    - identifier: a\n    - identifier: b\n      depend-on: [a]\n      env:\n        compute-type: LARGE\n", 8,
			"build b (batch.build-graph[1]): invalid env.compute-type 'LARGE'"},
		{"empty compute-type", "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n      env:\n        compute-type: ''\n", 6,
			"Value '' at 'computeTypeOverride' failed to satisfy constraint: " + enum},
		{"empty image", "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n      env:\n        image: \"\"\n", 6,
			"build a (batch.build-list[0]): invalid env.image '': Value '' at 'imageOverride' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"environment type", "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n      env:\n        type: LINUX\n", 6,
			"build a (batch.build-list[0]): invalid env.type 'LINUX': Value 'LINUX' at 'environmentTypeOverride' failed to satisfy constraint: Member must satisfy enum value set: ["},
		{"matrix dynamic compute-type", "version: 0.2\nbatch:\n  build-matrix:\n    dynamic:\n      env:\n        compute-type:\n          - BUILD_GENERAL1_SMALL\n          - BUILD_GENERAL1_MEDUIM\n", 8,
			"batch.build-matrix.dynamic.env.compute-type[1]: invalid env.compute-type 'BUILD_GENERAL1_MEDUIM'"},
		{"matrix dynamic image", "version: 0.2\nbatch:\n  build-matrix:\n    dynamic:\n      env:\n        image: [a, '']\n", 6,
			"batch.build-matrix.dynamic.env.image[1]: invalid env.image ''"},
		{"matrix static compute-type", "version: 0.2\nbatch:\n  build-matrix:\n    static:\n      env:\n        compute-type: TINY\n    dynamic:\n      env:\n        image: [a]\n", 6,
			"batch.build-matrix.static: invalid env.compute-type 'TINY'"},
		{"valid values", "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n      env:\n        compute-type: BUILD_LAMBDA_1GB\n        image: aws/codebuild/amazonlinux-x86_64-lambda-standard:python3.12\n        type: LINUX_LAMBDA_CONTAINER\n    - identifier: b\n      env:\n        fleet: arn:aws:codebuild:us-east-1:000000000000:fleet/f:1\n", 0, ""},
		{"null values are unset", "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n      env:\n        compute-type:\n        image: ~\n", 0, ""},
		{"valid matrix", "version: 0.2\nbatch:\n  build-matrix:\n    dynamic:\n      env:\n        compute-type: [BUILD_GENERAL1_SMALL, ATTRIBUTE_BASED_COMPUTE]\n        image: [a, b/c:1]\n", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Make(parse(t, tt.src), Restrictions{})
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("Make = %v, want success", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(e.Msg, tt.msg) || e.Line != tt.line {
				t.Errorf("Make = %v, want line %d containing %q", err, tt.line, tt.msg)
			}
		})
	}
}

// TestFleetKept: env fleet is part of the group's env (and of the stored
// plan), for build-list entries and a matrix's static env.
func TestFleetKept(t *testing.T) {
	const fleet = "arn:aws:codebuild:us-east-1:000000000000:fleet/f:1"
	p, err := Make(parse(t, "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n      env:\n        fleet: "+fleet+"\n"), Restrictions{})
	if err != nil || p.Groups[0].Env.Fleet != fleet {
		t.Fatalf("build-list: %+v %v", p, err)
	}
	p, err = Make(parse(t, "version: 0.2\nbatch:\n  build-matrix:\n    static:\n      env:\n        fleet: "+fleet+"\n    dynamic:\n      env:\n        variables:\n          V: [1, 2]\n"), Restrictions{})
	if err != nil || len(p.Groups) != 2 || p.Groups[1].Env.Fleet != fleet {
		t.Fatalf("build-matrix: %+v %v", p, err)
	}
}
