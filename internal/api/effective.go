package api

import (
	"encoding/json"
	"fmt"

	"github.com/buildbatch/buildbatch/internal/builddoc"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
)

// overrides are the StartBuild / StartBuildBatch members that change a
// project's settings for one build or batch.
type overrides struct {
	SourceVersion            *string
	SecondarySources         []cb.ProjectSource
	SecondarySourcesVersions []cb.ProjectSourceVersion
	Artifacts                *cb.ProjectArtifacts
	SecondaryArtifacts       []cb.ProjectArtifacts
	EnvironmentVariables     []cb.EnvironmentVariable
	SourceType               *string
	SourceLocation           *string
	SourceAuth               *cb.SourceAuth
	GitCloneDepth            *int32
	GitSubmodulesConfig      *cb.GitSubmodulesConfig
	Buildspec                *string
	InsecureSsl              *bool
	ReportBuildStatus        *bool
	BuildStatusConfig        *cb.BuildStatusConfig
	EnvironmentType          *string
	Image                    *string
	ComputeType              *string
	Certificate              *string
	Cache                    *cb.ProjectCache
	ServiceRole              *string
	PrivilegedMode           *bool
	Timeout                  *int32
	QueuedTimeout            *int32
	EncryptionKey            *string
	LogsConfig               *cb.LogsConfig
	RegistryCredential       *cb.RegistryCredential
	ImagePullCredentialsType *string
	Fleet                    *cb.ProjectFleet
}

// clone deep-copies a value through JSON (every generated type round-trips).
func clone[T any](v T) T {
	var out T
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// apply merges overrides into a project's settings and checks the result.
func apply(p *cb.Project, o overrides) (*builddoc.Settings, error) {
	e := &builddoc.Settings{
		Source:                  clone(p.Source),
		SourceVersion:           p.SourceVersion,
		SecondarySources:        clone(p.SecondarySources),
		SecondarySourceVersions: clone(p.SecondarySourceVersions),
		Artifacts:               clone(p.Artifacts),
		SecondaryArtifacts:      clone(p.SecondaryArtifacts),
		Environment:             clone(p.Environment),
		Cache:                   clone(p.Cache),
		ServiceRole:             p.ServiceRole,
		Timeout:                 p.TimeoutInMinutes,
		QueuedTimeout:           p.QueuedTimeoutInMinutes,
		EncryptionKey:           p.EncryptionKey,
		LogsConfig:              clone(p.LogsConfig),
		VpcConfig:               clone(p.VpcConfig),
		FileSystemLocations:     clone(p.FileSystemLocations),
	}
	if e.Source == nil {
		e.Source = &cb.ProjectSource{Type: cb.String(cb.SourceTypeNoSource)}
	}
	s := e.Source
	set(&e.SourceVersion, o.SourceVersion)
	if o.SourceType != nil {
		s.Type = o.SourceType
		if *o.SourceType == cb.SourceTypeNoSource && o.SourceLocation == nil {
			s.Location = nil
		}
	}
	set(&s.Location, o.SourceLocation)
	set(&s.Auth, o.SourceAuth)
	set(&s.GitCloneDepth, o.GitCloneDepth)
	set(&s.GitSubmodulesConfig, o.GitSubmodulesConfig)
	if o.Buildspec != nil && *o.Buildspec != "" {
		s.Buildspec = o.Buildspec
	}
	set(&s.InsecureSsl, o.InsecureSsl)
	set(&s.ReportBuildStatus, o.ReportBuildStatus)
	set(&s.BuildStatusConfig, o.BuildStatusConfig)
	if err := checkSource(s, "source"); err != nil {
		return nil, err
	}
	if o.SecondarySources != nil {
		e.SecondarySources = clone(o.SecondarySources)
		for i := range e.SecondarySources {
			normalizeSource(&e.SecondarySources[i])
		}
	}
	ids := map[string]bool{}
	for i := range e.SecondarySources {
		ss := &e.SecondarySources[i]
		id := cb.Deref(ss.SourceIdentifier)
		if !identifierRE.MatchString(id) {
			return nil, invalid("Invalid input: secondarySourcesOverride[%d].sourceIdentifier must be 1 to 127 letters, digits or underscores, got %q", i, id)
		}
		ids[id] = true
		if err := checkSource(ss, fmt.Sprintf("secondarySourcesOverride[%d]", i)); err != nil {
			return nil, err
		}
	}
	for _, v := range o.SecondarySourcesVersions {
		id := cb.Deref(v.SourceIdentifier)
		if !ids[id] {
			return nil, invalid("Invalid input: secondarySourcesVersionOverride names sourceIdentifier %s, which no secondary source has", id)
		}
		replaced := false
		for i := range e.SecondarySourceVersions {
			if cb.Deref(e.SecondarySourceVersions[i].SourceIdentifier) == id {
				e.SecondarySourceVersions[i].SourceVersion = v.SourceVersion
				replaced = true
			}
		}
		if !replaced {
			e.SecondarySourceVersions = append(e.SecondarySourceVersions, v)
		}
	}
	project := cb.Deref(p.Name)
	if o.Artifacts != nil {
		e.Artifacts = clone(o.Artifacts)
		normalizeArtifacts(e.Artifacts, project)
		if err := checkArtifacts(e.Artifacts, "artifactsOverride"); err != nil {
			return nil, err
		}
	}
	if o.SecondaryArtifacts != nil {
		e.SecondaryArtifacts = clone(o.SecondaryArtifacts)
		for i := range e.SecondaryArtifacts {
			a := &e.SecondaryArtifacts[i]
			normalizeArtifacts(a, project)
			if !identifierRE.MatchString(cb.Deref(a.ArtifactIdentifier)) {
				return nil, invalid("Invalid input: secondaryArtifactsOverride[%d].artifactIdentifier must be 1 to 127 letters, digits or underscores", i)
			}
			if err := checkArtifacts(a, fmt.Sprintf("secondaryArtifactsOverride[%d]", i)); err != nil {
				return nil, err
			}
		}
	}
	env := e.Environment
	if env == nil {
		env = &cb.ProjectEnvironment{}
		e.Environment = env
	}
	set(&env.Type, o.EnvironmentType)
	set(&env.Image, o.Image)
	set(&env.ComputeType, o.ComputeType)
	set(&env.Certificate, o.Certificate)
	set(&env.PrivilegedMode, o.PrivilegedMode)
	set(&env.RegistryCredential, o.RegistryCredential)
	set(&env.ImagePullCredentialsType, o.ImagePullCredentialsType)
	set(&env.Fleet, o.Fleet)
	if err := checkEnvVars(o.EnvironmentVariables, "environmentVariablesOverride"); err != nil {
		return nil, err
	}
	env.EnvironmentVariables = mergeEnv(env.EnvironmentVariables, o.EnvironmentVariables)
	normalizeEnvironment(env)
	if o.Cache != nil {
		e.Cache = clone(o.Cache)
	}
	set(&e.ServiceRole, o.ServiceRole)
	set(&e.Timeout, o.Timeout)
	set(&e.QueuedTimeout, o.QueuedTimeout)
	set(&e.EncryptionKey, o.EncryptionKey)
	if o.LogsConfig != nil {
		e.LogsConfig = normalizeLogsConfig(clone(o.LogsConfig))
	}
	return e, nil
}

// mergeEnv merges override variables over base ones by name ("overrides,
// or adds to").
func mergeEnv(base, over []cb.EnvironmentVariable) []cb.EnvironmentVariable {
	out := clone(base)
	if out == nil {
		out = []cb.EnvironmentVariable{}
	}
	for _, v := range over {
		v := v
		if v.Type == nil {
			v.Type = cb.String(cb.EnvironmentVariableTypePlaintext)
		}
		replaced := false
		for i := range out {
			if cb.Deref(out[i].Name) == cb.Deref(v.Name) {
				out[i] = v
				replaced = true
			}
		}
		if !replaced {
			out = append(out, v)
		}
	}
	return out
}
