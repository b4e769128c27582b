package document

import (
	"encoding/json"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
)

// Settings are a project's settings with a request's overrides applied.
type Settings struct {
	Source                  *cb.ProjectSource              `json:"source,omitempty"`
	SourceVersion           *string                        `json:"sourceVersion,omitempty"`
	SecondarySources        []cb.ProjectSource             `json:"secondarySources,omitempty"`
	SecondarySourceVersions []cb.ProjectSourceVersion      `json:"secondarySourceVersions,omitempty"`
	Artifacts               *cb.ProjectArtifacts           `json:"artifacts,omitempty"`
	SecondaryArtifacts      []cb.ProjectArtifacts          `json:"secondaryArtifacts,omitempty"`
	Environment             *cb.ProjectEnvironment         `json:"environment,omitempty"`
	Cache                   *cb.ProjectCache               `json:"cache,omitempty"`
	ServiceRole             *string                        `json:"serviceRole,omitempty"`
	Timeout                 *int32                         `json:"timeout,omitempty"`
	QueuedTimeout           *int32                         `json:"queuedTimeout,omitempty"`
	EncryptionKey           *string                        `json:"encryptionKey,omitempty"`
	LogsConfig              *cb.LogsConfig                 `json:"logsConfig,omitempty"`
	VpcConfig               *cb.VpcConfig                  `json:"vpcConfig,omitempty"`
	FileSystemLocations     []cb.ProjectFileSystemLocation `json:"fileSystemLocations,omitempty"`
}

// Overrides are the StartBuild / StartBuildBatch members that change a
// project's settings for one build or batch.
type Overrides struct {
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

// Clone deep-copies a value through JSON (every generated type round-trips).
func Clone[T any](v T) T {
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

// Apply merges overrides into a project's settings, with AWS's defaults for
// what the overrides leave out. It does not validate: the API checks the
// overrides and the result.
func Apply(p *cb.Project, o Overrides) *Settings {
	e := &Settings{
		Source:                  Clone(p.Source),
		SourceVersion:           p.SourceVersion,
		SecondarySources:        Clone(p.SecondarySources),
		SecondarySourceVersions: Clone(p.SecondarySourceVersions),
		Artifacts:               Clone(p.Artifacts),
		SecondaryArtifacts:      Clone(p.SecondaryArtifacts),
		Environment:             Clone(p.Environment),
		Cache:                   Clone(p.Cache),
		ServiceRole:             p.ServiceRole,
		Timeout:                 p.TimeoutInMinutes,
		QueuedTimeout:           p.QueuedTimeoutInMinutes,
		EncryptionKey:           p.EncryptionKey,
		LogsConfig:              Clone(p.LogsConfig),
		VpcConfig:               Clone(p.VpcConfig),
		FileSystemLocations:     Clone(p.FileSystemLocations),
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
	if o.SecondarySources != nil {
		e.SecondarySources = Clone(o.SecondarySources)
		for i := range e.SecondarySources {
			NormalizeSource(&e.SecondarySources[i])
		}
	}
	for _, v := range o.SecondarySourcesVersions {
		id := cb.Deref(v.SourceIdentifier)
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
		e.Artifacts = Clone(o.Artifacts)
		NormalizeArtifacts(e.Artifacts, project)
	}
	if o.SecondaryArtifacts != nil {
		e.SecondaryArtifacts = Clone(o.SecondaryArtifacts)
		for i := range e.SecondaryArtifacts {
			NormalizeArtifacts(&e.SecondaryArtifacts[i], project)
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
	env.EnvironmentVariables = MergeEnv(env.EnvironmentVariables, o.EnvironmentVariables)
	NormalizeEnvironment(env)
	if o.Cache != nil {
		e.Cache = Clone(o.Cache)
	}
	set(&e.ServiceRole, o.ServiceRole)
	set(&e.Timeout, o.Timeout)
	set(&e.QueuedTimeout, o.QueuedTimeout)
	set(&e.EncryptionKey, o.EncryptionKey)
	if o.LogsConfig != nil {
		e.LogsConfig = NormalizeLogsConfig(Clone(o.LogsConfig))
	}
	return e
}

func set[T any](dst **T, v *T) {
	if v != nil {
		*dst = v
	}
}

// MergeEnv merges override variables over base ones by name ("overrides,
// or adds to"); a variable without a type is PLAINTEXT.
func MergeEnv(base, over []cb.EnvironmentVariable) []cb.EnvironmentVariable {
	out := Clone(base)
	if out == nil {
		out = []cb.EnvironmentVariable{}
	}
	for _, v := range over {
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

// SetVar sets one PLAINTEXT variable, replacing one of the same name.
func SetVar(vars []cb.EnvironmentVariable, name, value string) []cb.EnvironmentVariable {
	return MergeEnv(vars, []cb.EnvironmentVariable{{Name: cb.String(name), Value: cb.String(value)}})
}

// NormalizeSource fills a source's defaults.
func NormalizeSource(s *cb.ProjectSource) {
	if s.InsecureSsl == nil {
		s.InsecureSsl = cb.Bool(false)
	}
}

// NormalizeArtifacts fills an S3 artifact configuration's defaults (the
// name defaults to the project's).
func NormalizeArtifacts(a *cb.ProjectArtifacts, project string) {
	if cb.Deref(a.Type) != cb.ArtifactsTypeS3 {
		return
	}
	if a.Name == nil || *a.Name == "" {
		a.Name = cb.String(project)
	}
	if a.NamespaceType == nil {
		a.NamespaceType = cb.String(cb.ArtifactNamespaceNone)
	}
	if a.Packaging == nil {
		a.Packaging = cb.String(cb.ArtifactPackagingNone)
	}
	if a.EncryptionDisabled == nil {
		a.EncryptionDisabled = cb.Bool(false)
	}
}

// NormalizeEnvironment fills an environment's defaults.
func NormalizeEnvironment(e *cb.ProjectEnvironment) {
	if e.ImagePullCredentialsType == nil {
		e.ImagePullCredentialsType = cb.String(cb.ImagePullCredentialsTypeCodebuild)
	}
	if e.PrivilegedMode == nil {
		e.PrivilegedMode = cb.Bool(false)
	}
	if e.EnvironmentVariables == nil {
		e.EnvironmentVariables = []cb.EnvironmentVariable{}
	}
	for i := range e.EnvironmentVariables {
		if e.EnvironmentVariables[i].Type == nil {
			e.EnvironmentVariables[i].Type = cb.String(cb.EnvironmentVariableTypePlaintext)
		}
	}
}

// NormalizeLogsConfig fills a logs configuration's defaults (CloudWatch
// Logs enabled, S3 logs disabled).
func NormalizeLogsConfig(l *cb.LogsConfig) *cb.LogsConfig {
	if l == nil {
		l = &cb.LogsConfig{}
	}
	if l.CloudWatchLogs == nil {
		l.CloudWatchLogs = &cb.CloudWatchLogsConfig{Status: cb.String(cb.LogsConfigStatusTypeEnabled)}
	}
	if l.S3Logs == nil {
		l.S3Logs = &cb.S3LogsConfig{Status: cb.String(cb.LogsConfigStatusTypeDisabled)}
	}
	if l.S3Logs.EncryptionDisabled == nil {
		l.S3Logs.EncryptionDisabled = cb.Bool(false)
	}
	return l
}
