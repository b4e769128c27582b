package codebuild

import (
	"fmt"
	"regexp"
)

// Kind is a model shape's type.
type Kind uint8

const (
	kindString Kind = iota + 1
	kindInteger
	kindLong
	kindBoolean
	kindDouble
	kindTimestamp
	kindStructure
	kindList
	kindMap
)

var kindNames = [...]string{kindString: "string", kindInteger: "integer", kindLong: "long", kindBoolean: "boolean",
	kindDouble: "double", kindTimestamp: "timestamp", kindStructure: "structure", kindList: "list", kindMap: "map"}

func (k Kind) String() string { return kindNames[k] }

type memberDef struct {
	name     string
	shape    string
	required bool
}

// shapeDef is one generated row of the model's shape table.
type shapeDef struct {
	name           string
	kind           Kind
	min, max       float64
	hasMin, hasMax bool
	pattern        string
	enum           []string
	elem           string
	key, value     string
	members        []memberDef
}

// Shape is a resolved model shape with its constraints.
type Shape struct {
	Name           string
	Kind           Kind
	Min, Max       float64
	HasMin, HasMax bool
	Pattern        *regexp.Regexp
	PatternText    string
	Enum           []string
	Elem           *Shape // list member
	Key, Value     *Shape // map
	Members        []Member
	memberIndex    map[string]int
}

// Member is a structure member.
type Member struct {
	Name     string
	Shape    *Shape
	Required bool
}

// Member returns the structure's member called name.
func (s *Shape) Member(name string) (*Member, bool) {
	i, ok := s.memberIndex[name]
	if !ok {
		return nil, false
	}
	return &s.Members[i], true
}

var shapes = func() map[string]*Shape {
	m := make(map[string]*Shape, len(shapeDefs))
	for _, d := range shapeDefs {
		s := &Shape{Name: d.name, Kind: d.kind, Min: d.min, Max: d.max, HasMin: d.hasMin, HasMax: d.hasMax, Enum: d.enum}
		if d.pattern != "" {
			// Model patterns are matched against the whole value.
			s.Pattern = regexp.MustCompile(`^(?:` + d.pattern + `)$`)
			s.PatternText = d.pattern
		}
		m[d.name] = s
	}
	get := func(owner, name string) *Shape {
		s, ok := m[name]
		if !ok {
			panic(fmt.Sprintf("codebuild: shape %s refers to unknown shape %s", owner, name))
		}
		return s
	}
	for _, d := range shapeDefs {
		s := m[d.name]
		if d.elem != "" {
			s.Elem = get(d.name, d.elem)
		}
		if d.key != "" {
			s.Key, s.Value = get(d.name, d.key), get(d.name, d.value)
		}
		if d.kind == kindStructure {
			s.memberIndex = make(map[string]int, len(d.members))
			for i, md := range d.members {
				s.Members = append(s.Members, Member{Name: md.name, Shape: get(d.name, md.shape), Required: md.required})
				s.memberIndex[md.name] = i
			}
		}
	}
	return m
}()

// LookupShape returns the model shape called name.
func LookupShape(name string) (*Shape, bool) {
	s, ok := shapes[name]
	return s, ok
}
