package codebuild

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// TypeError reports a JSON value whose type does not match the model (AWS
// answers these with SerializationException).
type TypeError struct {
	Path     string
	Expected Kind
	Got      string
}

func (e *TypeError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("Expected a JSON object as the request body, got %s", e.Got)
	}
	return fmt.Sprintf("Unexpected value type at '%s': expected %s, got %s", e.Path, e.Expected, e.Got)
}

// UnknownMemberError reports a member the model does not have.
type UnknownMemberError struct {
	Path  string
	Shape string
}

func (e *UnknownMemberError) Error() string {
	return fmt.Sprintf("'%s' is not a member of %s", e.Path, e.Shape)
}

// ConstraintError lists the violations of required/min/max/pattern/enum
// constraints, worded as AWS words them ("1 validation error detected: ...").
type ConstraintError struct {
	Violations []string
}

func (e *ConstraintError) Error() string {
	n := len(e.Violations)
	noun := "error"
	if n != 1 {
		noun = "errors"
	}
	return fmt.Sprintf("%d validation %s detected: %s", n, noun, strings.Join(e.Violations, "; "))
}

// Validate checks a request body, decoded with json.Decoder.UseNumber, against
// the shape. It returns a *TypeError for a value of the wrong JSON type, a
// *ConstraintError for values outside the model's constraints, or nil.
// Unknown members are ignored, as AWS ignores them.
func (s *Shape) Validate(v any) error {
	if _, ok := v.(map[string]any); !ok {
		return &TypeError{Got: jsonKind(v)}
	}
	var c ConstraintError
	if err := validate(s, v, "", &c, false); err != nil {
		return err
	}
	if len(c.Violations) > 0 {
		return &c
	}
	return nil
}

// ValidateOutput checks a response body against the shape the way a strict
// client would read it: every member must be in the model and of the
// model's type. Constraints are not checked (AWS itself emits values outside
// some enums, such as the build status PENDING).
func (s *Shape) ValidateOutput(v any) error {
	if _, ok := v.(map[string]any); !ok {
		return &TypeError{Got: jsonKind(v)}
	}
	return validate(s, v, "", nil, true)
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func render(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = render(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		return "{...}"
	}
	return fmt.Sprint(v)
}

func (c *ConstraintError) add(v any, path, rule string) {
	if c == nil {
		return // output validation checks types only
	}
	value := "null"
	if v != nil {
		value = "'" + render(v) + "'"
	}
	c.Violations = append(c.Violations, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", value, path, rule))
}

func validate(s *Shape, v any, path string, c *ConstraintError, output bool) error {
	if v == nil {
		return nil // an explicit null is treated as absent
	}
	typeErr := func() error { return &TypeError{Path: path, Expected: s.Kind, Got: jsonKind(v)} }
	switch s.Kind {
	case kindString:
		str, ok := v.(string)
		if !ok {
			return typeErr()
		}
		n := float64(utf8.RuneCountInString(str))
		if s.HasMin && n < s.Min {
			c.add(v, path, fmt.Sprintf("Member must have length greater than or equal to %v", s.Min))
		}
		if s.HasMax && n > s.Max {
			c.add(v, path, fmt.Sprintf("Member must have length less than or equal to %v", s.Max))
		}
		if s.Pattern != nil && !s.Pattern.MatchString(str) {
			c.add(v, path, "Member must satisfy regular expression pattern: "+s.PatternText)
		}
		if len(s.Enum) > 0 && !slices.Contains(s.Enum, str) {
			c.add(v, path, "Member must satisfy enum value set: ["+strings.Join(s.Enum, ", ")+"]")
		}
	case kindInteger, kindLong, kindDouble:
		num, ok := v.(json.Number)
		if !ok {
			return typeErr()
		}
		f, err := num.Float64()
		if err != nil {
			return typeErr()
		}
		if s.Kind != kindDouble {
			limit := float64(math.MaxInt64)
			if s.Kind == kindInteger {
				limit = math.MaxInt32
			}
			if _, err := num.Int64(); err != nil || f > limit || f < -limit-1 {
				return &TypeError{Path: path, Expected: s.Kind, Got: "number " + num.String()}
			}
		}
		if s.HasMin && f < s.Min {
			c.add(v, path, fmt.Sprintf("Member must have value greater than or equal to %v", s.Min))
		}
		if s.HasMax && f > s.Max {
			c.add(v, path, fmt.Sprintf("Member must have value less than or equal to %v", s.Max))
		}
	case kindBoolean:
		if _, ok := v.(bool); !ok {
			return typeErr()
		}
	case kindTimestamp:
		switch v.(type) {
		case json.Number, string:
		default:
			return typeErr()
		}
	case kindList:
		list, ok := v.([]any)
		if !ok {
			return typeErr()
		}
		n := float64(len(list))
		if s.HasMin && n < s.Min {
			c.add(v, path, fmt.Sprintf("Member must have length greater than or equal to %v", s.Min))
		}
		if s.HasMax && n > s.Max {
			c.add(v, path, fmt.Sprintf("Member must have length less than or equal to %v", s.Max))
		}
		for i, e := range list {
			if err := validate(s.Elem, e, fmt.Sprintf("%s.%d.member", path, i+1), c, output); err != nil {
				return err
			}
		}
	case kindMap:
		m, ok := v.(map[string]any)
		if !ok {
			return typeErr()
		}
		for k, e := range m {
			if err := validate(s.Value, e, join(path, k), c, output); err != nil {
				return err
			}
		}
	case kindStructure:
		m, ok := v.(map[string]any)
		if !ok {
			return typeErr()
		}
		if output {
			for k := range m {
				if _, known := s.memberIndex[k]; !known {
					return &UnknownMemberError{Path: join(path, k), Shape: s.Name}
				}
			}
		}
		for i := range s.Members {
			mem := &s.Members[i]
			mv, present := m[mem.Name]
			p := join(path, mem.Name)
			if !present || mv == nil {
				if mem.Required && !output {
					c.add(nil, p, "Member must not be null")
				}
				continue
			}
			if err := validate(mem.Shape, mv, p, c, output); err != nil {
				return err
			}
		}
	}
	return nil
}
