package buildspec

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const full = `version: 0.2
run-as: root
env:
  shell: bash
  variables:
    GREETING: "hello"
    NUM: 1
  parameter-store:
    TOKEN: /my/token
  secrets-manager:
    PASS: mysecret:password
  exported-variables:
    - OUT
  git-credential-helper: yes
proxy:
  upload-artifacts: no
  logs: yes
phases:
  install:
    runtime-versions:
      golang: 1.22
    commands:
      - echo install
  pre_build:
    on-failure: CONTINUE
    commands:
      - echo pre
  build:
    run-as: nobody
    on-failure: RETRY-2-timeout.*
    commands:
      - echo build
      - |
        echo multi
        echo line
    finally:
      - echo finally
  post_build:
    commands:
      - export OUT=done
reports:
  junit:
    files:
      - '**/*.xml'
    base-directory: reports
    file-format: junitxml
artifacts:
  files:
    - '**/*'
  name: out-$(date +%s)
  discard-paths: yes
  base-directory: dist
  exclude-paths: ['**/.*']
  secondary-artifacts:
    second:
      files: [a.txt]
cache:
  paths:
    - '/root/.cache/**/*'
`

func TestParseFull(t *testing.T) {
	s, err := Parse([]byte(full))
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != "0.2" || s.RunAs != "root" || s.Env.Shell != "bash" || !s.Env.GitCredentialHelper || !s.Proxy.Logs || s.Proxy.UploadArtifacts {
		t.Errorf("top level = %+v", s)
	}
	if want := []KV{{"GREETING", "hello"}, {"NUM", "1"}}; !reflect.DeepEqual(s.Env.Variables, want) {
		t.Errorf("variables = %v, want %v", s.Env.Variables, want)
	}
	if b := s.Phases[PhaseBuild]; b == nil || len(b.Commands) != 2 || b.Commands[1].Text != "echo multi\necho line\n" || b.Commands[0].Line != 32 ||
		b.RunAs != "nobody" || b.OnFailure != (OnFailure{Action: "RETRY", Retries: 2, Pattern: "timeout.*"}) || len(b.Finally) != 1 {
		t.Errorf("build phase = %+v", b)
	}
	if p := s.Phases[PhasePreBuild]; p.OnFailure.Action != "CONTINUE" {
		t.Errorf("pre_build on-failure = %+v", p.OnFailure)
	}
	if i := s.Phases[PhaseInstall]; len(i.RuntimeVersions) != 1 || i.RuntimeVersions[0] != (KV{"golang", "1.22"}) {
		t.Errorf("install = %+v", i)
	}
	if a := s.Artifacts; a == nil || !a.DiscardPaths || a.BaseDirectory != "dist" || len(a.Secondary) != 1 || a.Secondary[0].Identifier != "second" {
		t.Errorf("artifacts = %+v", a)
	}
	if len(s.Reports) != 1 || s.Reports[0].FileFormat != "JUNITXML" || s.Cache == nil {
		t.Errorf("reports %+v cache %+v", s.Reports, s.Cache)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		line int
		msg  string
	}{
		{"empty", ``, 0, "empty"},
		{"not yaml", "version: 0.2\nphases: [\n", 2, "invalid YAML"},
		// The line of a syntax error is where the file stops being YAML,
		// not where the enclosing block began (the YAML parser's line).
		{"bad indentation", "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n     - echo bad\n", 6, "invalid YAML: did not find expected key"},
		{"unclosed flow", "version: 0.2\nphases:\n  build:\n    commands: [a, b\n  post_build:\n    commands: [c]\n", 4, "invalid YAML: did not find expected ',' or ']'"},
		{"tab", "version: 0.2\nphases:\n  build:\n  commands:\n\t- echo tab\n", 5, "invalid YAML: found character that cannot start any token"},
		{"colon in a command", "version: 0.2\nphases:\n  build:\n    commands:\n      - echo: x: y\n", 5, "invalid YAML: mapping values are not allowed"},
		{"no prefix", "version: 0.2\nphases:\n  build:\n    comands: [x]\n", 4, "unknown key"},
		{"no version", "phases:\n  build:\n    commands: [x]\n", 1, "missing the version"},
		{"bad version", "version: 0.3\nphases:\n  build:\n    commands: [x]\n", 1, "unsupported buildspec version '0.3'"},
		{"no phases", "version: 0.2\n", 1, "missing the phases"},
		{"unknown top key", "version: 0.2\nphase:\n  build:\n    commands: [x]\n", 2, "unknown key 'phase'"},
		{"unknown phase", "version: 0.2\nphases:\n  test:\n    commands: [x]\n", 3, "unknown key 'test' in phases"},
		{"typo in phase", "version: 0.2\nphases:\n  build:\n    comands: [x]\n", 4, "unknown key 'comands' in phases.build"},
		{"command is a map", "version: 0.2\nphases:\n  build:\n    commands:\n      - echo: hi\n", 5, "expected phases.build.commands[0] to be of string type: found subkeys instead"},
		{"commands not a list", "version: 0.2\nphases:\n  build:\n    commands: echo\n", 4, "to be a list of commands"},
		{"no commands", "version: 0.2\nphases:\n  build:\n    run-as: x\n", 4, "must have commands"},
		{"bad on-failure", "version: 0.2\nphases:\n  build:\n    on-failure: IGNORE\n    commands: [x]\n", 4, "unknown phases.build.on-failure value 'IGNORE'"},
		{"bad boolean", "version: 0.2\nphases:\n  build:\n    commands: [x]\nartifacts:\n  files: [a]\n  discard-paths: maybe\n", 7, "yes/no"},
		{"artifacts without files", "version: 0.2\nphases:\n  build:\n    commands: [x]\nartifacts:\n  name: x\n", 6, "artifacts.files is required"},
		{"windows shell", "version: 0.2\nenv:\n  shell: cmd.exe\nphases:\n  build:\n    commands: [x]\n", 3, "Windows"},
		{"bad variable name", "version: 0.2\nenv:\n  variables:\n    1X: a\nphases:\n  build:\n    commands: [x]\n", 3, "not a valid environment variable name"},
		{"duplicate key", "version: 0.2\nphases:\n  build:\n    commands: [x]\n  build:\n    commands: [y]\n", 5, "duplicate key 'build' in phases"},
		{"export AWS_", "version: 0.2\nenv:\n  exported-variables: [AWS_X]\nphases:\n  build:\n    commands: [x]\n", 3, "AWS_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse = %v, want *Error", err)
			}
			if !strings.Contains(e.Msg, tt.msg) || (tt.line != 0 && e.Line != tt.line) || strings.Contains(e.Msg, "YAML_FILE_ERROR") {
				t.Errorf("Parse = line %d %q, want line %d containing %q", e.Line, e.Msg, tt.line, tt.msg)
			}
		})
	}
}

func TestBooleansAsBuildspecsWriteThem(t *testing.T) {
	for v, want := range map[string]bool{"yes": true, "no": false, "true": true, "false": false, "Yes": true, "NO": false, "on": true, "off": false} {
		s, err := Parse([]byte("version: 0.2\nphases:\n  build:\n    commands: [x]\nartifacts:\n  files: [a]\n  discard-paths: " + v + "\n"))
		if err != nil || s.Artifacts.DiscardPaths != want {
			t.Errorf("discard-paths: %s = %v (%v), want %v", v, s, err, want)
		}
	}
}

func TestVersionAsStringOrNumber(t *testing.T) {
	for _, v := range []string{"0.2", `"0.2"`, "0.1"} {
		if _, err := Parse([]byte("version: " + v + "\nphases:\n  build:\n    commands: [x]\n")); err != nil {
			t.Errorf("version %s: %v", v, err)
		}
	}
}

func TestParseBatch(t *testing.T) {
	tests := []struct {
		name string
		src  string
		kind string
		n    int
	}{
		{"list", `batch:
  fast-fail: true
  build-list:
    - identifier: a
      env:
        compute-type: BUILD_GENERAL1_MEDIUM
        privileged-mode: yes
        variables:
          X: "1"
    - identifier: b
      buildspec: b.yml
      ignore-failure: yes
      debug-session: no
`, BuildList, 2},
		{"graph", `batch:
  build-graph:
    - identifier: a
    - identifier: b
      depend-on:
        - a
`, BuildGraph, 2},
		{"matrix", `batch:
  build-matrix:
    static:
      ignore-failure: false
      env:
        privileged-mode: true
    dynamic:
      buildspec: [m1.yml, m2.yml]
      env:
        image: [img]
        variables:
          V: [1, 2, 3]
`, BuildMatrix, 0},
		{"fanout", `batch:
  build-fanout:
    parallelism: 4
    ignore-failure: true
`, BuildFanout, 0},
	}
	for _, tt := range tests {
		s, err := Parse([]byte("version: 0.2\n" + tt.src + "phases:\n  build:\n    commands: [x]\n"))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if s.Batch == nil || s.Batch.Kind != tt.kind || len(s.Batch.Tasks) != tt.n {
			t.Errorf("%s: batch = %+v", tt.name, s.Batch)
		}
	}
	s, _ := Parse([]byte("version: 0.2\nbatch:\n  fast-fail: yes\n  build-list:\n    - identifier: a\n      env:\n        privileged-mode: yes\n"))
	if !s.Batch.FastFail || !*s.Batch.Tasks[0].Env.PrivilegedMode {
		t.Errorf("yes booleans in batch: %+v", s.Batch)
	}
	s, _ = Parse([]byte("version: 0.2\nbatch:\n  build-matrix:\n    dynamic:\n      env:\n        variables:\n          V: [1, 2]\n          W: [a]\n"))
	if d := s.Batch.Matrix.Dynamic.Variables; len(d) != 2 || d[0].Name != "V" || !reflect.DeepEqual(d[0].Values, []string{"1", "2"}) {
		t.Errorf("matrix dimensions = %+v", d)
	}
}

func TestParseBatchErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		line int
		msg  string
	}{
		{"two forms", "batch:\n  build-list:\n    - identifier: a\n  build-graph:\n    - identifier: b\n", 5, "only one of"},
		{"no form", "batch:\n  fast-fail: true\n", 2, "must have one of"},
		{"unknown key", "batch:\n  build-list:\n    - identifier: a\n      bogus: 1\n", 5, "unknown key 'bogus' in batch.build-list[0]"},
		{"depend-on in a list", "batch:\n  build-list:\n    - identifier: a\n      depend-on: [b]\n", 5, "unknown key 'depend-on'"},
		{"duplicate identifier", "batch:\n  build-graph:\n    - identifier: a\n    - identifier: a\n", 5, "duplicate build identifier 'a' (first at line 4)"},
		{"missing identifier", "batch:\n  build-list:\n    - buildspec: x.yml\n", 4, "needs an identifier"},
		{"bad identifier", "batch:\n  build-list:\n    - identifier: a-b\n", 4, "letters, digits and underscores"},
		{"reserved identifier", "batch:\n  build-list:\n    - identifier: DOWNLOAD_SOURCE\n", 4, "reserved"},
		{"fleet and compute type", "batch:\n  build-list:\n    - identifier: a\n      env:\n        fleet: f\n        compute-type: BUILD_GENERAL1_SMALL\n", 6, "both compute-type and fleet"},
		{"parallelism zero", "batch:\n  build-fanout:\n    parallelism: 0\n", 4, "at least 1"},
		{"parallelism missing", "batch:\n  build-fanout:\n    ignore-failure: true\n", 3, "needs parallelism"},
		{"matrix without dynamic", "batch:\n  build-matrix:\n    static:\n      ignore-failure: true\n", 3, "needs a dynamic"},
		{"matrix empty dimension", "batch:\n  build-matrix:\n    dynamic:\n      buildspec: []\n", 5, "at least one value"},
		{"empty list", "batch:\n  build-list: []\n", 3, "non-empty list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte("version: 0.2\n" + tt.src))
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(e.Msg, tt.msg) || e.Line != tt.line {
				t.Errorf("Parse = %v, want line %d containing %q", err, tt.line, tt.msg)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(full)
	f.Add("version: 0.2\nbatch:\n  build-graph:\n    - identifier: a\n      depend-on: [b]\n")
	f.Add("version: 0.2\nbatch:\n  build-matrix:\n    dynamic:\n      env:\n        variables:\n          V: [1, 2]\n")
	f.Add("a: &x [*x]\n")
	f.Fuzz(func(t *testing.T, src string) {
		s, err := Parse([]byte(src))
		if err == nil && s == nil {
			t.Fatal("nil spec without error")
		}
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("error of type %T: %v", err, err)
		}
	})
}
