// Package batch plans a batch build: it expands the buildspec's batch
// section (build-list, build-graph, build-matrix, build-fanout) into build
// groups with identifiers and dependencies, and checks the batch's
// restrictions. It is pure: no I/O, no clock.
//
// Identifiers: build-list and build-graph groups are named by their
// `identifier`. AWS does not document how it names matrix and fanout
// builds; buildbatch names them build1, build2, ... in expansion order
// (matrix: buildspec is the outermost loop, then compute-type, image, and the
// variables in file order, the last varying fastest; fanout: shard order).
// The plan is stored with the batch, so a retry keeps the names.
package batch

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/buildbatch/buildbatch/internal/buildspec"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
)

// ErrNotRetryable is returned when retrying a batch that is running or
// succeeded: only batch builds that have failed can be retried.
var ErrNotRetryable = errors.New("only batch builds that have failed can be retried")

// Group is one planned build group.
type Group struct {
	Identifier    string            `json:"identifier"`
	DependsOn     []string          `json:"dependsOn"`
	IgnoreFailure bool              `json:"ignoreFailure,omitempty"`
	Buildspec     string            `json:"buildspec,omitempty"` // "" = the batch's buildspec
	Env           buildspec.TaskEnv `json:"env,omitzero"`
	DebugSession  *bool             `json:"debugSession,omitempty"`
	Shard         int               `json:"shard,omitempty"` // fanout: 0-based index
	Shards        int               `json:"shards,omitempty"`
}

// Plan is a planned batch.
type Plan struct {
	Kind     string  `json:"kind"`
	FastFail bool    `json:"fastFail,omitempty"`
	Groups   []Group `json:"groups"`
}

// Restrictions are the batch's buildBatchConfig.restrictions.
type Restrictions struct {
	MaximumBuildsAllowed int      // 0: no limit
	ComputeTypesAllowed  []string // empty: any
	FleetsAllowed        []string // empty: any
	// DefaultComputeType is the batch environment's compute type, which a
	// group without its own compute-type runs on.
	DefaultComputeType string
}

// Error is a planning failure; Line is the buildspec line it is about (0 if
// none).
type Error struct {
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s at line %d", e.Msg, e.Line)
	}
	return e.Msg
}

func errorf(line int, format string, args ...any) error {
	return &Error{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// Make plans a batch section.
func Make(b *buildspec.Batch, r Restrictions) (*Plan, error) {
	if b == nil {
		return nil, errorf(0, "the buildspec has no batch section")
	}
	if err := checkEnvs(b); err != nil {
		return nil, err
	}
	if err := checkSize(b); err != nil {
		return nil, err
	}
	p := &Plan{Kind: b.Kind, FastFail: b.FastFail}
	var err error
	switch b.Kind {
	case buildspec.BuildList, buildspec.BuildGraph:
		err = p.tasks(b)
	case buildspec.BuildMatrix:
		p.matrix(b.Matrix)
	case buildspec.BuildFanout:
		p.fanout(b.Fanout)
	default:
		err = errorf(b.Line, "unknown batch type %q", b.Kind)
	}
	if err != nil {
		return nil, err
	}
	if err := p.restrict(b, r); err != nil {
		return nil, err
	}
	return p, nil
}

// MaxBuilds bounds the builds of one batch, whatever its restrictions: a
// fanout's parallelism and a matrix's product can be any number, and a plan
// holds every build.
const MaxBuilds = 1000

// checkSize refuses a batch of more than MaxBuilds builds before a matrix
// or fanout is expanded.
func checkSize(b *buildspec.Batch) error {
	switch {
	case len(b.Tasks) > MaxBuilds:
		return errorf(b.Line, "batch.%s has %d builds, but a batch may have at most %d", b.Kind, len(b.Tasks), MaxBuilds)
	case b.Fanout != nil && b.Fanout.Parallelism > MaxBuilds:
		return errorf(b.Fanout.Line, "batch.build-fanout.parallelism is %d, but a batch may have at most %d builds", b.Fanout.Parallelism, MaxBuilds)
	case b.Matrix != nil:
		d := b.Matrix.Dynamic
		dims := []int{len(d.Buildspec), len(d.ComputeType), len(d.Image)}
		for _, v := range d.Variables {
			dims = append(dims, len(v.Values))
		}
		n := 1
		for _, k := range dims {
			if n *= max(k, 1); n > MaxBuilds {
				return errorf(b.Matrix.Line, "batch.build-matrix has more than %d builds, but a batch may have at most %d", MaxBuilds, MaxBuilds)
			}
		}
	}
	return nil
}

// overrides are the StartBuild members that a batch build's env values
// stand for: a value must satisfy the model's constraints on them, as an
// override given to the API must.
var overrides = map[string]string{
	"compute-type": "computeTypeOverride",
	"image":        "imageOverride",
	"type":         "environmentTypeOverride",
}

// checkValue checks one env value (given at line; 0: not given) against
// the constraints of the override it stands for; what names the value in
// the message.
func checkValue(what, key, value string, line int) error {
	if line == 0 && value == "" {
		return nil
	}
	shape, _ := cb.LookupShape("StartBuildInput")
	member := overrides[key]
	err := shape.Validate(map[string]any{"projectName": "p", member: value})
	var ce *cb.ConstraintError
	if errors.As(err, &ce) && len(ce.Violations) > 0 {
		return errorf(line, "%s: invalid env.%s '%s': %s", what, key, value, ce.Violations[0])
	}
	return nil
}

func checkEnv(what string, e buildspec.TaskEnv) error {
	for _, v := range []struct {
		key, value string
		line       int
	}{{"compute-type", e.ComputeType, e.Lines.ComputeType}, {"image", e.Image, e.Lines.Image}, {"type", e.Type, e.Lines.Type}} {
		if err := checkValue(what, v.key, v.value, v.line); err != nil {
			return err
		}
	}
	return nil
}

// checkEnvs checks the env values of every build of the batch section.
func checkEnvs(b *buildspec.Batch) error {
	for i, t := range b.Tasks {
		if err := checkEnv(fmt.Sprintf("build %s (batch.%s[%d])", t.Identifier, b.Kind, i), t.Env); err != nil {
			return err
		}
	}
	if m := b.Matrix; m != nil {
		if err := checkEnv("batch.build-matrix.static", m.Static.Env); err != nil {
			return err
		}
		for _, d := range []struct {
			key    string
			values []string
			lines  []int
		}{{"compute-type", m.Dynamic.ComputeType, m.Dynamic.ComputeTypeLines}, {"image", m.Dynamic.Image, m.Dynamic.ImageLines}} {
			for i, v := range d.values {
				line := m.Line
				if i < len(d.lines) {
					line = d.lines[i]
				}
				if err := checkValue(fmt.Sprintf("batch.build-matrix.dynamic.env.%s[%d]", d.key, i), d.key, v, line); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (p *Plan) tasks(b *buildspec.Batch) error {
	index := map[string]int{}
	for i, t := range b.Tasks {
		index[t.Identifier] = i
	}
	for _, t := range b.Tasks {
		deps := []string{}
		seen := map[string]bool{}
		for _, d := range t.DependOn {
			if d == t.Identifier {
				return errorf(t.DependOnLine, "build %s depends on itself", t.Identifier)
			}
			if _, ok := index[d]; !ok {
				return errorf(t.DependOnLine, "build %s depends on %s, which is not a build of this batch", t.Identifier, d)
			}
			if !seen[d] {
				seen[d] = true
				deps = append(deps, d)
			}
		}
		p.Groups = append(p.Groups, Group{Identifier: t.Identifier, DependsOn: deps, IgnoreFailure: t.IgnoreFailure,
			Buildspec: t.Buildspec, Env: t.Env, DebugSession: t.DebugSession})
	}
	if cycle := findCycle(p.Groups); cycle != nil {
		return errorf(b.Tasks[index[cycle[0]]].Line, "the build graph has a cycle: %s", strings.Join(cycle, " -> "))
	}
	return nil
}

// findCycle returns a dependency cycle (first node repeated at the end), or
// nil.
func findCycle(groups []Group) []string {
	deps := map[string][]string{}
	for _, g := range groups {
		deps[g.Identifier] = g.DependsOn
	}
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var cycle []string
	var visit func(n string) bool
	visit = func(n string) bool {
		color[n] = grey
		stack = append(stack, n)
		for _, d := range deps[n] {
			switch color[d] {
			case grey:
				i := slices.Index(stack, d)
				cycle = append(append([]string{}, stack[i:]...), d)
				return true
			case white:
				if visit(d) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
		return false
	}
	for _, g := range groups {
		if color[g.Identifier] == white && visit(g.Identifier) {
			return cycle
		}
	}
	return nil
}

func (p *Plan) matrix(m *buildspec.Matrix) {
	type dim struct {
		set    func(g *Group, v string)
		values []string
	}
	var dims []dim
	if len(m.Dynamic.Buildspec) > 0 {
		dims = append(dims, dim{func(g *Group, v string) { g.Buildspec = v }, m.Dynamic.Buildspec})
	}
	if len(m.Dynamic.ComputeType) > 0 {
		dims = append(dims, dim{func(g *Group, v string) { g.Env.ComputeType = v }, m.Dynamic.ComputeType})
	}
	if len(m.Dynamic.Image) > 0 {
		dims = append(dims, dim{func(g *Group, v string) { g.Env.Image = v }, m.Dynamic.Image})
	}
	for _, vd := range m.Dynamic.Variables {
		name := vd.Name
		dims = append(dims, dim{func(g *Group, v string) {
			g.Env.Variables = setVar(g.Env.Variables, name, v)
		}, vd.Values})
	}
	total := 1
	for _, d := range dims {
		total *= len(d.values)
	}
	idx := make([]int, len(dims))
	for k := 0; k < total; k++ {
		g := Group{Identifier: fmt.Sprintf("build%d", k+1), DependsOn: []string{}, IgnoreFailure: m.Static.IgnoreFailure,
			Env: cloneEnv(m.Static.Env)}
		for i, d := range dims {
			d.set(&g, d.values[idx[i]])
		}
		p.Groups = append(p.Groups, g)
		// Odometer: the last dimension varies fastest.
		for i := len(idx) - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < len(dims[i].values) {
				break
			}
			idx[i] = 0
		}
	}
}

func cloneEnv(e buildspec.TaskEnv) buildspec.TaskEnv {
	e.Variables = slices.Clone(e.Variables)
	return e
}

func setVar(vars []buildspec.KV, name, value string) []buildspec.KV {
	for i := range vars {
		if vars[i].Name == name {
			vars[i].Value = value
			return vars
		}
	}
	return append(vars, buildspec.KV{Name: name, Value: value})
}

func (p *Plan) fanout(f *buildspec.Fanout) {
	for i := 0; i < f.Parallelism; i++ {
		p.Groups = append(p.Groups, Group{Identifier: fmt.Sprintf("build%d", i+1), DependsOn: []string{}, IgnoreFailure: f.IgnoreFailure,
			Shard: i, Shards: f.Parallelism})
	}
}

func (p *Plan) restrict(b *buildspec.Batch, r Restrictions) error {
	if r.MaximumBuildsAllowed > 0 && len(p.Groups) > r.MaximumBuildsAllowed {
		return errorf(b.Line, "the batch has %d builds, more than the %d that buildBatchConfig.restrictions.maximumBuildsAllowed allows",
			len(p.Groups), r.MaximumBuildsAllowed)
	}
	for i, g := range p.Groups {
		line := b.Line
		if i < len(b.Tasks) {
			line = b.Tasks[i].Line
		}
		ct := g.Env.ComputeType
		if ct == "" {
			ct = r.DefaultComputeType
		}
		if len(r.ComputeTypesAllowed) > 0 && g.Env.Fleet == "" && !slices.Contains(r.ComputeTypesAllowed, ct) {
			return errorf(line, "build %s uses compute type %s, which buildBatchConfig.restrictions.computeTypesAllowed (%s) does not allow",
				g.Identifier, ct, strings.Join(r.ComputeTypesAllowed, ", "))
		}
		if g.Env.Fleet != "" && len(r.FleetsAllowed) > 0 && !slices.Contains(r.FleetsAllowed, g.Env.Fleet) {
			return errorf(line, "build %s uses fleet %s, which buildBatchConfig.restrictions.fleetsAllowed does not allow", g.Identifier, g.Env.Fleet)
		}
	}
	return nil
}

// Dependents returns every group that depends, directly or not, on id.
func (p *Plan) Dependents(id string) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		for _, g := range p.Groups {
			if !seen[g.Identifier] && slices.Contains(g.DependsOn, n) {
				seen[g.Identifier] = true
				out = append(out, g.Identifier)
				walk(g.Identifier)
			}
		}
	}
	walk(id)
	return out
}
