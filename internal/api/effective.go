package api

import (
	"fmt"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
)

// clone deep-copies a value through JSON (every generated type round-trips).
func clone[T any](v T) T { return document.Clone(v) }

// apply merges overrides into a project's settings (document.Apply) and
// checks the overrides and the result, in the order AWS reports them.
func apply(p *cb.Project, o document.Overrides) (*document.Settings, error) {
	e := document.Apply(p, o)
	if err := checkSource(e.Source, "source"); err != nil {
		return nil, err
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
		if id := cb.Deref(v.SourceIdentifier); !ids[id] {
			return nil, invalid("Invalid input: secondarySourcesVersionOverride names sourceIdentifier %s, which no secondary source has", id)
		}
	}
	if o.Artifacts != nil {
		if err := checkArtifacts(e.Artifacts, "artifactsOverride"); err != nil {
			return nil, err
		}
	}
	if o.SecondaryArtifacts != nil {
		for i := range e.SecondaryArtifacts {
			a := &e.SecondaryArtifacts[i]
			if !identifierRE.MatchString(cb.Deref(a.ArtifactIdentifier)) {
				return nil, invalid("Invalid input: secondaryArtifactsOverride[%d].artifactIdentifier must be 1 to 127 letters, digits or underscores", i)
			}
			if err := checkArtifacts(a, fmt.Sprintf("secondaryArtifactsOverride[%d]", i)); err != nil {
				return nil, err
			}
		}
	}
	if err := checkEnvVars(o.EnvironmentVariables, "environmentVariablesOverride"); err != nil {
		return nil, err
	}
	return e, nil
}
