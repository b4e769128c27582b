// Package buildspec parses CodeBuild buildspec files (version 0.2, and the
// legacy 0.1), including the batch section. It is pure: bytes in, a Spec or
// an *Error with a line number out.
package buildspec

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is a buildspec problem with its position; the build reports it as a
// YAML_FILE_ERROR context of DOWNLOAD_SOURCE (the status code says
// YAML_FILE_ERROR; the message does not repeat it).
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

// KV is one named value, in file order.
type KV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Spec is a parsed buildspec.
type Spec struct {
	Version   string // "0.2" or "0.1"
	RunAs     string
	Env       Env
	Proxy     Proxy
	Batch     *Batch
	Phases    [NumPhases]*Phase // indexed by PhaseInstall...PhasePostBuild; nil when absent
	Reports   []Report
	Artifacts *Artifacts
	Cache     *Cache
}

// Env is the env section.
type Env struct {
	Shell               string
	Variables           []KV
	ParameterStore      []KV
	SecretsManager      []KV
	ExportedVariables   []string
	GitCredentialHelper bool
}

// Proxy is the proxy section.
type Proxy struct {
	UploadArtifacts bool
	Logs            bool
}

// Phase names, in the order builds run them.
const (
	PhaseInstall = iota
	PhasePreBuild
	PhaseBuild
	PhasePostBuild
	NumPhases
)

// PhaseKeys are the buildspec names of the phases.
var PhaseKeys = [NumPhases]string{"install", "pre_build", "build", "post_build"}

// Phase is one phase block.
type Phase struct {
	RunAs           string
	OnFailure       OnFailure
	RuntimeVersions []KV
	Commands        []Command
	Finally         []Command
}

// Command is one command with its line in the buildspec.
type Command struct {
	Text string
	Line int
}

// OnFailure is a phase's on-failure setting.
type OnFailure struct {
	Action  string // "" (default: ABORT), "ABORT", "CONTINUE", "RETRY"
	Retries int    // RETRY: how many times
	Pattern string // RETRY: regex the error message must match ("" = any)
}

// Report is one report group of the reports section.
type Report struct {
	Name          string
	Files         []string
	BaseDirectory string
	DiscardPaths  bool
	FileFormat    string
}

// Artifacts is the artifacts section (or one secondary artifact).
type Artifacts struct {
	Files          []string
	Name           string
	DiscardPaths   bool
	BaseDirectory  string
	ExcludePaths   []string
	EnableSymlinks bool
	S3Prefix       string
	Secondary      []SecondaryArtifact
}

// SecondaryArtifact is one entry of artifacts.secondary-artifacts.
type SecondaryArtifact struct {
	Identifier string
	Artifacts
}

// Cache is the cache section.
type Cache struct {
	Key          string
	FallbackKeys []string
	Action       string
	Paths        []string
}

// Parse parses a buildspec.
func Parse(data []byte) (spec *Spec, err error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(data, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &Error{Msg: "the buildspec is empty"}
	}
	root := doc.Content[0]
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*Error)
			if !ok {
				panic(r)
			}
			spec, err = nil, e
		}
	}()
	return parseRoot(root), nil
}

// yamlError turns a YAML syntax error into an Error with its line. The
// YAML parser names the line where the construct it was reading began
// (a badly indented command at line 12 of a phases block begun at line 2
// is reported "at line 2"); the line given here is where the document
// stops being valid YAML: the first line whose prefix of the file fails
// with the same error, when there is one.
func yamlError(data []byte, err error) *Error {
	line, msg := splitYAMLError(err)
	if l := problemLine(data, msg); l > 0 {
		line = l
	}
	return &Error{Line: line, Msg: "invalid YAML: " + msg}
}

func splitYAMLError(err error) (line int, msg string) {
	msg = strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ":"); ok {
			if l, err := strconv.Atoi(n); err == nil {
				return l, strings.TrimSpace(after)
			}
		}
	}
	return 0, msg
}

// problemLine is the number of lines of the shortest prefix of data that
// fails to parse with msg (0: none does, or data is too long to look).
func problemLine(data []byte, msg string) int {
	const maxLines = 2000
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > maxLines {
		return 0
	}
	n := 0
	for i, l := range lines {
		n += len(l)
		var doc yaml.Node
		if err := yaml.Unmarshal(data[:n], &doc); err != nil {
			if _, m := splitYAMLError(err); m == msg {
				return i + 1
			}
		}
	}
	return 0
}

func fail(n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	panic(&Error{Line: line, Msg: fmt.Sprintf(format, args...)})
}

// deref follows aliases.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// fields walks a mapping, calling fn for each key; unknown keys are errors.
func fields(n *yaml.Node, where string, fn map[string]func(k, v *yaml.Node)) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		fail(n, "expected %s to be a map", where)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		if k.Value == "<<" {
			fail(k, "merge keys are not supported in %s", where)
		}
		f, ok := fn[k.Value]
		if !ok {
			fail(k, "unknown key '%s' in %s", k.Value, where)
		}
		if seen[k.Value] {
			fail(k, "duplicate key '%s' in %s", k.Value, where)
		}
		seen[k.Value] = true
		f(k, v)
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || n.Tag == "")
}

// str reads a scalar as a string (numbers and booleans keep their text).
func str(n *yaml.Node, where string) string {
	n = deref(n)
	if n.Kind != yaml.ScalarNode {
		fail(n, "expected %s to be of string type: found subkeys instead", where)
	}
	if n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

// boolean reads yes/no/true/false/on/off, as buildspecs use them.
func boolean(n *yaml.Node, where string) bool {
	switch strings.ToLower(str(n, where)) {
	case "yes", "true", "on", "y":
		return true
	case "no", "false", "off", "n", "":
		return false
	}
	fail(n, "expected %s to be yes/no or true/false, got '%s'", where, n.Value)
	return false
}

func integer(n *yaml.Node, where string) int {
	s := str(n, where)
	i, err := strconv.Atoi(s)
	if err != nil {
		fail(n, "expected %s to be an integer, got '%s'", where, s)
	}
	return i
}

// strList reads a list of scalars; a single scalar counts as a list of one.
func strList(n *yaml.Node, where string) []string {
	n = deref(n)
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!!null" {
			return nil
		}
		return []string{n.Value}
	}
	if n.Kind != yaml.SequenceNode {
		fail(n, "expected %s to be a list", where)
	}
	out := make([]string, 0, len(n.Content))
	for i, e := range n.Content {
		out = append(out, str(e, fmt.Sprintf("%s[%d]", where, i)))
	}
	return out
}

func commands(n *yaml.Node, where string) []Command {
	n = deref(n)
	if isNull(n) && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		fail(n, "expected %s to be a list of commands", where)
	}
	out := make([]Command, 0, len(n.Content))
	for i, e := range n.Content {
		out = append(out, Command{Text: str(e, fmt.Sprintf("%s[%d]", where, i)), Line: e.Line})
	}
	return out
}

// kvs reads a map of scalars in file order.
func kvs(n *yaml.Node, where string) []KV {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		fail(n, "expected %s to be a map", where)
	}
	var out []KV
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if seen[k.Value] {
			fail(k, "duplicate key '%s' in %s", k.Value, where)
		}
		seen[k.Value] = true
		out = append(out, KV{Name: k.Value, Value: str(n.Content[i+1], where+"."+k.Value)})
	}
	return out
}

func parseRoot(root *yaml.Node) *Spec {
	s := &Spec{}
	var versionNode *yaml.Node
	phasesSeen := false
	fields(root, "the buildspec", map[string]func(k, v *yaml.Node){
		"version": func(k, v *yaml.Node) { versionNode = v; s.Version = str(v, "version") },
		"run-as":  func(k, v *yaml.Node) { s.RunAs = str(v, "run-as") },
		"env":     func(k, v *yaml.Node) { s.Env = parseEnv(v) },
		"proxy": func(k, v *yaml.Node) {
			fields(v, "proxy", map[string]func(k, v *yaml.Node){
				"upload-artifacts": func(k, v *yaml.Node) { s.Proxy.UploadArtifacts = boolean(v, "proxy.upload-artifacts") },
				"logs":             func(k, v *yaml.Node) { s.Proxy.Logs = boolean(v, "proxy.logs") },
			})
		},
		"batch":     func(k, v *yaml.Node) { s.Batch = parseBatch(k, v) },
		"phases":    func(k, v *yaml.Node) { phasesSeen = true; parsePhases(s, v) },
		"reports":   func(k, v *yaml.Node) { s.Reports = parseReports(v) },
		"artifacts": func(k, v *yaml.Node) { s.Artifacts = parseArtifacts(v, "artifacts", true) },
		"cache":     func(k, v *yaml.Node) { s.Cache = parseCache(v) },
	})
	switch {
	case versionNode == nil:
		fail(root, "missing the version key (use version: 0.2)")
	case s.Version == "0.2" || s.Version == "0.1":
	default:
		fail(versionNode, "unsupported buildspec version '%s' (use 0.2)", s.Version)
	}
	if !phasesSeen && s.Batch == nil {
		fail(root, "missing the phases key")
	}
	return s
}

func parseEnv(n *yaml.Node) Env {
	var e Env
	fields(n, "env", map[string]func(k, v *yaml.Node){
		"shell": func(k, v *yaml.Node) {
			e.Shell = str(v, "env.shell")
			switch e.Shell {
			case "bash", "/bin/bash", "sh", "/bin/sh":
			case "powershell.exe", "cmd.exe":
				fail(v, "env.shell %s is for Windows images; this executor runs Linux shells (bash, /bin/sh)", e.Shell)
			default:
				fail(v, "unknown env.shell '%s' (use bash or /bin/sh)", e.Shell)
			}
		},
		"variables":       func(k, v *yaml.Node) { e.Variables = kvs(v, "env.variables") },
		"parameter-store": func(k, v *yaml.Node) { e.ParameterStore = kvs(v, "env.parameter-store") },
		"secrets-manager": func(k, v *yaml.Node) { e.SecretsManager = kvs(v, "env.secrets-manager") },
		"exported-variables": func(k, v *yaml.Node) {
			e.ExportedVariables = strList(v, "env.exported-variables")
			for i, name := range e.ExportedVariables {
				if !isShellName(name) {
					fail(v, "env.exported-variables[%d] '%s' is not a valid variable name", i, name)
				}
				if strings.HasPrefix(name, "AWS_") {
					fail(v, "env.exported-variables[%d] '%s': variables starting with AWS_ cannot be exported", i, name)
				}
			}
		},
		"git-credential-helper": func(k, v *yaml.Node) { e.GitCredentialHelper = boolean(v, "env.git-credential-helper") },
	})
	for _, list := range [][]KV{e.Variables, e.ParameterStore, e.SecretsManager} {
		for _, kv := range list {
			if !isShellName(kv.Name) {
				fail(n, "'%s' is not a valid environment variable name", kv.Name)
			}
		}
	}
	return e
}

func isShellName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || ('A' <= r && r <= 'Z') || ('a' <= r && r <= 'z') || (i > 0 && '0' <= r && r <= '9') {
			continue
		}
		return false
	}
	return true
}

func parsePhases(s *Spec, n *yaml.Node) {
	handlers := map[string]func(k, v *yaml.Node){}
	for i, key := range PhaseKeys {
		handlers[key] = func(k, v *yaml.Node) { s.Phases[i] = parsePhase(key, i, v) }
	}
	fields(n, "phases", handlers)
}

func parsePhase(name string, idx int, n *yaml.Node) *Phase {
	p := &Phase{}
	where := "phases." + name
	hasCommands := false
	h := map[string]func(k, v *yaml.Node){
		"run-as":     func(k, v *yaml.Node) { p.RunAs = str(v, where+".run-as") },
		"on-failure": func(k, v *yaml.Node) { p.OnFailure = parseOnFailure(v, where+".on-failure") },
		"commands":   func(k, v *yaml.Node) { hasCommands = true; p.Commands = commands(v, where+".commands") },
		"finally":    func(k, v *yaml.Node) { p.Finally = commands(v, where+".finally") },
	}
	if idx == PhaseInstall {
		h["runtime-versions"] = func(k, v *yaml.Node) {
			p.RuntimeVersions = kvs(v, where+".runtime-versions")
			if len(p.RuntimeVersions) == 0 {
				fail(v, "%s.runtime-versions must list at least one runtime", where)
			}
		}
	}
	fields(n, where, h)
	if !hasCommands && idx != PhaseInstall && len(p.Finally) == 0 {
		fail(n, "%s must have commands", where)
	}
	return p
}

func parseOnFailure(n *yaml.Node, where string) OnFailure {
	v := str(n, where)
	switch {
	case v == "ABORT" || v == "CONTINUE":
		return OnFailure{Action: v}
	case v == "RETRY":
		return OnFailure{Action: "RETRY", Retries: 3}
	case strings.HasPrefix(v, "RETRY-"):
		rest := v[len("RETRY-"):]
		of := OnFailure{Action: "RETRY", Retries: 3}
		num, pattern, hasPattern := strings.Cut(rest, "-")
		if count, err := strconv.Atoi(num); err == nil {
			if count < 0 || count > 100 {
				fail(n, "%s retry count must be between 0 and 100, got %d", where, count)
			}
			of.Retries = count
			if hasPattern {
				of.Pattern = pattern
			}
		} else {
			of.Pattern = rest
		}
		return of
	}
	fail(n, "unknown %s value '%s' (use ABORT, CONTINUE, RETRY, RETRY-<n>, RETRY-<regex> or RETRY-<n>-<regex>)", where, v)
	return OnFailure{}
}

func parseReports(n *yaml.Node) []Report {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		fail(n, "expected reports to be a map of report groups")
	}
	var out []Report
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		r := Report{Name: k.Value, FileFormat: "JUNITXML"}
		where := "reports." + k.Value
		fields(v, where, map[string]func(k, v *yaml.Node){
			"files":          func(k, v *yaml.Node) { r.Files = strList(v, where+".files") },
			"base-directory": func(k, v *yaml.Node) { r.BaseDirectory = str(v, where+".base-directory") },
			"discard-paths":  func(k, v *yaml.Node) { r.DiscardPaths = boolean(v, where+".discard-paths") },
			"file-format": func(k, v *yaml.Node) {
				r.FileFormat = strings.ToUpper(str(v, where+".file-format"))
				switch r.FileFormat {
				case "CUCUMBERJSON", "JUNITXML", "NUNITXML", "NUNIT3XML", "TESTNGXML", "VISUALSTUDIOTRX",
					"CLOVERXML", "COBERTURAXML", "JACOCOXML", "SIMPLECOV", "SIMPLECOVJSON", "LCOVINFO":
				default:
					fail(v, "unknown %s.file-format '%s'", where, r.FileFormat)
				}
			},
		})
		if len(r.Files) == 0 {
			fail(v, "%s.files is required", where)
		}
		out = append(out, r)
	}
	return out
}

func parseArtifacts(n *yaml.Node, where string, primary bool) *Artifacts {
	a := &Artifacts{}
	h := map[string]func(k, v *yaml.Node){
		"files":           func(k, v *yaml.Node) { a.Files = strList(v, where+".files") },
		"name":            func(k, v *yaml.Node) { a.Name = str(v, where+".name") },
		"discard-paths":   func(k, v *yaml.Node) { a.DiscardPaths = boolean(v, where+".discard-paths") },
		"base-directory":  func(k, v *yaml.Node) { a.BaseDirectory = str(v, where+".base-directory") },
		"exclude-paths":   func(k, v *yaml.Node) { a.ExcludePaths = strList(v, where+".exclude-paths") },
		"enable-symlinks": func(k, v *yaml.Node) { a.EnableSymlinks = boolean(v, where+".enable-symlinks") },
		"s3-prefix":       func(k, v *yaml.Node) { a.S3Prefix = str(v, where+".s3-prefix") },
	}
	if primary {
		h["secondary-artifacts"] = func(k, v *yaml.Node) {
			v = deref(v)
			if v.Kind != yaml.MappingNode {
				fail(v, "expected artifacts.secondary-artifacts to be a map")
			}
			for i := 0; i+1 < len(v.Content); i += 2 {
				id := v.Content[i].Value
				sa := parseArtifacts(v.Content[i+1], "artifacts.secondary-artifacts."+id, false)
				a.Secondary = append(a.Secondary, SecondaryArtifact{Identifier: id, Artifacts: *sa})
			}
		}
	}
	fields(n, where, h)
	if len(a.Files) == 0 && !(primary && len(a.Secondary) > 0) {
		fail(n, "%s.files is required", where)
	}
	return a
}

func parseCache(n *yaml.Node) *Cache {
	c := &Cache{}
	fields(n, "cache", map[string]func(k, v *yaml.Node){
		"key":           func(k, v *yaml.Node) { c.Key = str(v, "cache.key") },
		"fallback-keys": func(k, v *yaml.Node) { c.FallbackKeys = strList(v, "cache.fallback-keys") },
		"action": func(k, v *yaml.Node) {
			c.Action = str(v, "cache.action")
			if c.Action != "restore" && c.Action != "save" {
				fail(v, "cache.action must be restore or save, got '%s'", c.Action)
			}
		},
		"paths": func(k, v *yaml.Node) { c.Paths = strList(v, "cache.paths") },
	})
	if len(c.Paths) == 0 {
		fail(n, "cache.paths is required")
	}
	if len(c.FallbackKeys) > 5 {
		fail(n, "cache.fallback-keys may list at most 5 keys")
	}
	return c
}
