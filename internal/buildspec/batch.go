package buildspec

import (
	"fmt"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// The batch forms.
const (
	BuildList   = "build-list"
	BuildGraph  = "build-graph"
	BuildMatrix = "build-matrix"
	BuildFanout = "build-fanout"
)

// Batch is the batch section: exactly one of the four forms.
type Batch struct {
	Line     int
	FastFail bool
	Kind     string // BuildList, BuildGraph, BuildMatrix or BuildFanout
	Tasks    []Task // build-list and build-graph
	Matrix   *Matrix
	Fanout   *Fanout
}

// TaskEnv is a task's env block.
type TaskEnv struct {
	ComputeType    string `json:"computeType,omitempty"`
	Fleet          string `json:"fleet,omitempty"`
	Image          string `json:"image,omitempty"`
	Type           string `json:"type,omitempty"`
	PrivilegedMode *bool  `json:"privilegedMode,omitempty"`
	Variables      []KV   `json:"variables,omitempty"`
	// Lines are where the values are (0: not given, or null), for the
	// messages of planning.
	Lines TaskEnvLines `json:"-"`
}

// TaskEnvLines are the lines of a TaskEnv's values.
type TaskEnvLines struct {
	ComputeType, Fleet, Image, Type int
}

// Task is one build-list or build-graph entry.
type Task struct {
	Line          int
	Identifier    string
	Buildspec     string
	DependOn      []string
	DependOnLine  int
	Env           TaskEnv
	IgnoreFailure bool
	DebugSession  *bool
}

// Dimension is one variable of a dynamic matrix with its values.
type Dimension struct {
	Name   string
	Values []string
}

// Matrix is the build-matrix form.
type Matrix struct {
	Line   int
	Static struct {
		IgnoreFailure bool
		Env           TaskEnv
	}
	Dynamic struct {
		Buildspec   []string
		ComputeType []string
		Image       []string
		Variables   []Dimension
		// The lines of the compute-type and image values.
		ComputeTypeLines, ImageLines []int
	}
}

// Fanout is the build-fanout form.
type Fanout struct {
	Line          int
	Parallelism   int
	IgnoreFailure bool
}

// IdentifierPattern is what a build identifier may look like: it becomes
// CODEBUILD_BATCH_BUILD_IDENTIFIER and a CodePipeline artifact name.
var IdentifierPattern = regexp.MustCompile(`^[A-Za-z0-9_]{1,128}$`)

func parseBatch(key, n *yaml.Node) *Batch {
	b := &Batch{Line: key.Line}
	forms := 0
	setForm := func(k *yaml.Node, kind string) {
		forms++
		if forms > 1 {
			fail(k, "batch may have only one of build-list, build-graph, build-matrix or build-fanout; found %s after %s", kind, b.Kind)
		}
		b.Kind = kind
	}
	fields(n, "batch", map[string]func(k, v *yaml.Node){
		"fast-fail":    func(k, v *yaml.Node) { b.FastFail = boolean(v, "batch.fast-fail") },
		"build-list":   func(k, v *yaml.Node) { setForm(k, BuildList); b.Tasks = parseTasks(v, BuildList) },
		"build-graph":  func(k, v *yaml.Node) { setForm(k, BuildGraph); b.Tasks = parseTasks(v, BuildGraph) },
		"build-matrix": func(k, v *yaml.Node) { setForm(k, BuildMatrix); b.Matrix = parseMatrix(k, v) },
		"build-fanout": func(k, v *yaml.Node) { setForm(k, BuildFanout); b.Fanout = parseFanout(k, v) },
	})
	if forms == 0 {
		fail(key, "batch must have one of build-list, build-graph, build-matrix or build-fanout")
	}
	return b
}

func parseTasks(n *yaml.Node, kind string) []Task {
	n = deref(n)
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		fail(n, "batch.%s must be a non-empty list of builds", kind)
	}
	seen := map[string]int{}
	var tasks []Task
	for i, e := range n.Content {
		where := fmt.Sprintf("batch.%s[%d]", kind, i)
		t := Task{Line: deref(e).Line}
		h := map[string]func(k, v *yaml.Node){
			"identifier":     func(k, v *yaml.Node) { t.Identifier = str(v, where+".identifier") },
			"buildspec":      func(k, v *yaml.Node) { t.Buildspec = str(v, where+".buildspec") },
			"env":            func(k, v *yaml.Node) { t.Env = parseTaskEnv(v, where+".env") },
			"ignore-failure": func(k, v *yaml.Node) { t.IgnoreFailure = boolean(v, where+".ignore-failure") },
			"debug-session":  func(k, v *yaml.Node) { d := boolean(v, where+".debug-session"); t.DebugSession = &d },
		}
		if kind == BuildGraph {
			h["depend-on"] = func(k, v *yaml.Node) { t.DependOn = strList(v, where+".depend-on"); t.DependOnLine = k.Line }
		}
		fields(e, where, h)
		if t.Identifier == "" {
			fail(e, "%s needs an identifier", where)
		}
		if !IdentifierPattern.MatchString(t.Identifier) {
			fail(e, "%s.identifier '%s' may only hold letters, digits and underscores (at most 128)", where, t.Identifier)
		}
		if t.Identifier == "DOWNLOAD_SOURCE" {
			fail(e, "%s.identifier DOWNLOAD_SOURCE is reserved for the batch's source download", where)
		}
		if prev, dup := seen[t.Identifier]; dup {
			fail(e, "duplicate build identifier '%s' (first at line %d)", t.Identifier, prev)
		}
		seen[t.Identifier] = t.Line
		tasks = append(tasks, t)
	}
	return tasks
}

func parseTaskEnv(n *yaml.Node, where string) TaskEnv {
	var e TaskEnv
	value := func(dst *string, line *int, name string) func(k, v *yaml.Node) {
		return func(k, v *yaml.Node) { *dst, *line = str(v, where+"."+name), valueLine(v) }
	}
	fields(n, where, map[string]func(k, v *yaml.Node){
		"compute-type":    value(&e.ComputeType, &e.Lines.ComputeType, "compute-type"),
		"fleet":           value(&e.Fleet, &e.Lines.Fleet, "fleet"),
		"image":           value(&e.Image, &e.Lines.Image, "image"),
		"type":            value(&e.Type, &e.Lines.Type, "type"),
		"privileged-mode": func(k, v *yaml.Node) { p := boolean(v, where+".privileged-mode"); e.PrivilegedMode = &p },
		"variables":       func(k, v *yaml.Node) { e.Variables = kvs(v, where+".variables") },
	})
	if e.ComputeType != "" && e.Fleet != "" {
		fail(n, "%s may not set both compute-type and fleet", where)
	}
	return e
}

func parseMatrix(key, n *yaml.Node) *Matrix {
	m := &Matrix{Line: key.Line}
	hasDynamic := false
	fields(n, "batch.build-matrix", map[string]func(k, v *yaml.Node){
		"static": func(k, v *yaml.Node) {
			fields(v, "batch.build-matrix.static", map[string]func(k, v *yaml.Node){
				"ignore-failure": func(k, v *yaml.Node) { m.Static.IgnoreFailure = boolean(v, "batch.build-matrix.static.ignore-failure") },
				"env":            func(k, v *yaml.Node) { m.Static.Env = parseTaskEnv(v, "batch.build-matrix.static.env") },
			})
		},
		"dynamic": func(k, v *yaml.Node) {
			hasDynamic = true
			const where = "batch.build-matrix.dynamic"
			fields(v, where, map[string]func(k, v *yaml.Node){
				"buildspec": func(k, v *yaml.Node) { m.Dynamic.Buildspec = nonEmptyList(v, where+".buildspec") },
				"env": func(k, v *yaml.Node) {
					fields(v, where+".env", map[string]func(k, v *yaml.Node){
						"compute-type": func(k, v *yaml.Node) {
							m.Dynamic.ComputeType = nonEmptyList(v, where+".env.compute-type")
							m.Dynamic.ComputeTypeLines = itemLines(v)
						},
						"image": func(k, v *yaml.Node) {
							m.Dynamic.Image = nonEmptyList(v, where+".env.image")
							m.Dynamic.ImageLines = itemLines(v)
						},
						"variables": func(k, v *yaml.Node) {
							v = deref(v)
							if v.Kind != yaml.MappingNode {
								fail(v, "expected %s.env.variables to be a map of lists", where)
							}
							for i := 0; i+1 < len(v.Content); i += 2 {
								name := v.Content[i].Value
								if !isShellName(name) {
									fail(v.Content[i], "'%s' is not a valid environment variable name", name)
								}
								m.Dynamic.Variables = append(m.Dynamic.Variables, Dimension{Name: name, Values: nonEmptyList(v.Content[i+1], where+".env.variables."+name)})
							}
						},
					})
				},
			})
		},
	})
	if !hasDynamic {
		fail(key, "batch.build-matrix needs a dynamic section")
	}
	return m
}

// valueLine is the line of a scalar value, 0 for null.
func valueLine(n *yaml.Node) int {
	if n = deref(n); n.Tag == "!!null" {
		return 0
	}
	return n.Line
}

// itemLines are the lines of a list's values (strList's), or of the one
// scalar that stands for a list.
func itemLines(n *yaml.Node) []int {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		return []int{n.Line}
	}
	lines := make([]int, len(n.Content))
	for i, e := range n.Content {
		lines[i] = deref(e).Line
	}
	return lines
}

func nonEmptyList(n *yaml.Node, where string) []string {
	l := strList(n, where)
	if len(l) == 0 {
		fail(n, "%s must list at least one value", where)
	}
	return l
}

func parseFanout(key, n *yaml.Node) *Fanout {
	f := &Fanout{Line: key.Line}
	hasParallelism := false
	fields(n, "batch.build-fanout", map[string]func(k, v *yaml.Node){
		"parallelism": func(k, v *yaml.Node) {
			hasParallelism = true
			f.Parallelism = integer(v, "batch.build-fanout.parallelism")
			if f.Parallelism < 1 {
				fail(v, "batch.build-fanout.parallelism must be at least 1, got %d", f.Parallelism)
			}
		},
		"ignore-failure": func(k, v *yaml.Node) { f.IgnoreFailure = boolean(v, "batch.build-fanout.ignore-failure") },
	})
	if !hasParallelism {
		fail(key, "batch.build-fanout needs parallelism")
	}
	return f
}
