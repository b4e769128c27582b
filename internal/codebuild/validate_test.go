package codebuild

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func decodeAny(t *testing.T, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

func TestValidateInput(t *testing.T) {
	tests := []struct {
		shape   string
		body    string
		wantErr string // substring; "" means valid
		typeErr bool
	}{
		{"StartBuildInput", `{"projectName":"p"}`, "", false},
		{"StartBuildInput", `{}`, "Value null at 'projectName' failed to satisfy constraint: Member must not be null", false},
		{"StartBuildInput", `{"projectName":""}`, "Value '' at 'projectName' failed to satisfy constraint: Member must have length greater than or equal to 1", false},
		{"StartBuildInput", `{"projectName":"p","timeoutInMinutesOverride":3}`, "Value '3' at 'timeoutInMinutesOverride' failed to satisfy constraint: Member must have value greater than or equal to 5", false},
		{"StartBuildInput", `{"projectName":"p","timeoutInMinutesOverride":2161}`, "less than or equal to 2160", false},
		{"StartBuildInput", `{"projectName":"p","computeTypeOverride":"NOPE"}`, "at 'computeTypeOverride' failed to satisfy constraint: Member must satisfy enum value set: [BUILD_GENERAL1_SMALL", false},
		{"StartBuildInput", `{"projectName":"p","timeoutInMinutesOverride":"60"}`, "Unexpected value type at 'timeoutInMinutesOverride': expected integer, got string", true},
		{"StartBuildInput", `{"projectName":"p","timeoutInMinutesOverride":6.5}`, "expected integer", true},
		{"StartBuildInput", `{"projectName":"p","timeoutInMinutesOverride":99999999999}`, "expected integer", true},
		{"StartBuildInput", `{"projectName":"p","privilegedModeOverride":"yes"}`, "expected boolean, got string", true},
		{"StartBuildInput", `{"projectName":"p","environmentVariablesOverride":[{"name":"A"}]}`, "Value null at 'environmentVariablesOverride.1.member.value' failed to satisfy constraint: Member must not be null", false},
		{"StartBuildInput", `{"projectName":"p","environmentVariablesOverride":{"name":"A"}}`, "expected list, got object", true},
		{"StartBuildInput", `{"projectName":"p","artifactsOverride":{"type":"S3","packaging":"TAR"}}`, "at 'artifactsOverride.packaging'", false},
		{"StartBuildInput", `{"projectName":"p","unknownMember":1}`, "", false},
		{"StartBuildInput", `{"projectName":"p","sourceVersion":null}`, "", false},
		{"StartBuildInput", `[]`, "Expected a JSON object", true},
		{"CreateProjectInput", `{"name":"-bad","source":{"type":"NO_SOURCE"},"artifacts":{"type":"NO_ARTIFACTS"},"environment":{"type":"LINUX_CONTAINER","image":"i","computeType":"BUILD_GENERAL1_SMALL"},"serviceRole":"r"}`,
			"Member must satisfy regular expression pattern: [A-Za-z0-9][A-Za-z0-9\\-_]{1,149}", false},
		{"CreateProjectInput", `{"name":"ok-name","source":{"type":"NO_SOURCE"},"artifacts":{"type":"NO_ARTIFACTS"},"environment":{"type":"LINUX_CONTAINER","image":"i","computeType":"BUILD_GENERAL1_SMALL"},"serviceRole":"r"}`, "", false},
		{"CreateProjectInput", `{"source":{}}`, "5 validation errors detected", false},
		{"BatchGetBuildsInput", `{"ids":[]}`, "Value '[]' at 'ids' failed to satisfy constraint: Member must have length greater than or equal to 1", false},
		{"CreateProjectInput", `{"name":"ok","source":{"type":"NO_SOURCE"},"artifacts":{"type":"NO_ARTIFACTS"},"environment":{"type":"LINUX_CONTAINER","image":"i","computeType":"BUILD_GENERAL1_SMALL"},"serviceRole":"r","tags":[{"key":"a|b","value":"v"}]}`, "at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern", false},
	}
	for _, tt := range tests {
		s, ok := LookupShape(tt.shape)
		if !ok {
			t.Fatalf("no shape %s", tt.shape)
		}
		err := s.Validate(decodeAny(t, tt.body))
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%s.Validate(%s) = %v, want nil", tt.shape, tt.body, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s.Validate(%s) = %v, want error containing %q", tt.shape, tt.body, err, tt.wantErr)
			continue
		}
		var te *TypeError
		if got := errors.As(err, &te); got != tt.typeErr {
			t.Errorf("%s.Validate(%s): type error = %v, want %v", tt.shape, tt.body, got, tt.typeErr)
		}
	}
}

func TestValidateOutputRejectsUnknownMembers(t *testing.T) {
	s, _ := LookupShape("BatchGetBuildsOutput")
	if err := s.ValidateOutput(decodeAny(t, `{"builds":[{"id":"p:1","buildStatus":"PENDING","startTime":1.5}],"buildsNotFound":[]}`)); err != nil {
		t.Errorf("valid output rejected: %v", err)
	}
	err := s.ValidateOutput(decodeAny(t, `{"builds":[{"id":"p:1","bogus":true}]}`))
	var ue *UnknownMemberError
	if !errors.As(err, &ue) || ue.Path != "builds.1.member.bogus" && ue.Path != "bogus" && !strings.Contains(ue.Path, "bogus") {
		t.Errorf("ValidateOutput with unknown member = %v, want UnknownMemberError", err)
	}
	if err := s.ValidateOutput(decodeAny(t, `{"builds":[{"startTime":"2020-01-01T00:00:00Z"}]}`)); err != nil {
		t.Errorf("timestamp string: %v", err)
	}
}

func TestTimeJSON(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"1479832474.764", "1479832474.764"},
		{"1479832474", "1479832474"},
		{"1479832474.5", "1479832474.5"},
		{`"2016-11-22T16:34:34.764Z"`, "1479832474.764"},
	}
	for _, tt := range tests {
		var tm Time
		if err := json.Unmarshal([]byte(tt.in), &tm); err != nil {
			t.Fatalf("Unmarshal(%s): %v", tt.in, err)
		}
		got, _ := json.Marshal(tm)
		if string(got) != tt.want {
			t.Errorf("round trip of %s = %s, want %s", tt.in, got, tt.want)
		}
	}
	var tm Time
	if err := json.Unmarshal([]byte(`"yesterday"`), &tm); err == nil {
		t.Error("Unmarshal of a bad string succeeded")
	}
}

func TestGeneratedTypesMarshalOmitAbsent(t *testing.T) {
	b := Build{Id: String("p:1"), BuildComplete: Bool(false), SecondarySources: []ProjectSource{}}
	got, _ := json.Marshal(b)
	want := `{"id":"p:1","secondarySources":[],"buildComplete":false}`
	if !bytes.Equal(got, []byte(want)) {
		t.Errorf("Marshal = %s, want %s", got, want)
	}
}

func TestEveryOperationHasShapes(t *testing.T) {
	for _, op := range operationDefs {
		if op.Input != "" {
			if _, ok := LookupShape(op.Input); !ok {
				t.Errorf("%s: no input shape %s", op.Name, op.Input)
			}
		}
	}
	if _, ok := LookupOperation("StartBuildBatch"); !ok {
		t.Error("StartBuildBatch missing")
	}
}

func FuzzValidate(f *testing.F) {
	f.Add("StartBuildInput", `{"projectName":"p","timeoutInMinutesOverride":5}`)
	f.Add("CreateProjectInput", `{"name":"x","tags":[{"key":"k"}]}`)
	f.Add("BatchGetBuildsInput", `{"ids":["a",1]}`)
	f.Fuzz(func(t *testing.T, shape, body string) {
		s, ok := LookupShape(shape)
		if !ok {
			return
		}
		d := json.NewDecoder(strings.NewReader(body))
		d.UseNumber()
		var v any
		if d.Decode(&v) != nil {
			return
		}
		_ = s.Validate(v)
		_ = s.ValidateOutput(v)
	})
}
