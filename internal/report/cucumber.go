package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Cucumber JSON (cucumber-jvm, cucumber-js up to the 7.x json formatter,
// cucumber-ruby): an array of features, each with elements. Every
// scenario element (an expanded Scenario Outline example too) is a test
// case; a background element is folded into the scenario that follows it,
// as Cucumber runs it.
//
//	prefix        feature name
//	name          scenario name
//	testSuiteName feature uri
//	status        over the steps and hooks (before/after of the background,
//	              the scenario and each step; cucumber-js hooks appear as
//	              hidden steps): any failed FAILED; else any undefined,
//	              pending or ambiguous UNKNOWN; else any skipped SKIPPED;
//	              else all passed SUCCEEDED; no results at all UNKNOWN
//	duration      sum of the result durations (nanoseconds)
//	message       error_message of the first result with the deciding status
func parseCucumber(data []byte) ([]testCase, error) {
	data = bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF")))
	if len(data) > 0 && data[0] != '[' {
		if json.Valid(data) {
			return nil, errors.New("expected a JSON array of features, found another JSON value")
		}
	}
	var features []cucumberFeature
	if err := json.Unmarshal(data, &features); err != nil {
		return nil, jsonError(err, "a JSON array of features")
	}
	var out []testCase
	for _, f := range features {
		var background []cucumberResult
		for _, e := range f.Elements {
			if e.Type == "background" || e.Type == "" && strings.EqualFold(strings.TrimSpace(e.Keyword), "Background") {
				background = append(background, e.results()...)
				continue
			}
			results := append(background, e.results()...)
			background = nil
			out = append(out, cucumberCase(f, e, results))
		}
	}
	return out, nil
}

type cucumberFeature struct {
	URI      string            `json:"uri"`
	Name     string            `json:"name"`
	Elements []cucumberElement `json:"elements"`
}

type cucumberElement struct {
	Name    string         `json:"name"`
	Type    string         `json:"type"`
	Keyword string         `json:"keyword"`
	Before  []cucumberHook `json:"before"`
	Steps   []cucumberStep `json:"steps"`
	After   []cucumberHook `json:"after"`
}

type cucumberStep struct {
	Before []cucumberHook  `json:"before"`
	Result *cucumberResult `json:"result"`
	After  []cucumberHook  `json:"after"`
}

type cucumberHook struct {
	Result *cucumberResult `json:"result"`
}

type cucumberResult struct {
	Status       string      `json:"status"`
	Duration     json.Number `json:"duration"`
	ErrorMessage string      `json:"error_message"`
}

func (e cucumberElement) results() []cucumberResult {
	var rs []cucumberResult
	hooks := func(hs []cucumberHook) {
		for _, h := range hs {
			if h.Result != nil {
				rs = append(rs, *h.Result)
			}
		}
	}
	hooks(e.Before)
	for _, s := range e.Steps {
		hooks(s.Before)
		if s.Result != nil {
			rs = append(rs, *s.Result)
		}
		hooks(s.After)
	}
	hooks(e.After)
	return rs
}

func cucumberCase(f cucumberFeature, e cucumberElement, results []cucumberResult) testCase {
	t := testCase{prefix: f.Name, name: e.Name, suite: f.URI}
	rank := func(s string) int {
		switch strings.ToLower(s) {
		case "failed":
			return 4
		case "undefined", "pending", "ambiguous":
			return 3
		case "skipped":
			return 2
		case "passed":
			return 1
		}
		return 3 // an unknown status makes the scenario UNKNOWN
	}
	worst := 0
	for _, r := range results {
		t.duration = addInt64(t.duration, cucumberDuration(r.Duration))
		if k := rank(r.Status); k > worst {
			worst = k
			t.message = ""
		}
		if rank(r.Status) == worst && t.message == "" {
			t.message = strings.TrimSpace(r.ErrorMessage)
		}
	}
	switch worst {
	case 4:
		t.status = StatusFailed
	case 2:
		t.status = StatusSkipped
	case 1:
		t.status = StatusSucceeded
	default:
		t.status = StatusUnknown
	}
	return t
}

func cucumberDuration(n json.Number) int64 {
	if n == "" {
		return 0
	}
	if v, err := n.Int64(); err == nil {
		return max(v, 0)
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f <= 0 {
		return 0
	}
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(math.Round(f))
}

// jsonError turns a decoding error into a message naming the position and
// what was expected.
func jsonError(err error, want string) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("JSON syntax error at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		where := te.Field
		if where == "" {
			where = "top level"
		}
		return fmt.Errorf("expected %s: found a JSON %s at %s (byte %d)", want, te.Value, where, te.Offset)
	}
	return fmt.Errorf("expected %s: %v", want, err)
}
