package api

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/buildbatch/buildbatch/internal/awsjson"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/store"
)

const (
	defaultTimeout       = 60
	defaultQueuedTimeout = 480
	listPageSize         = 100
)

var identifierRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,127}$`)

func projectNotFound(region, account, name string) string {
	return "Project cannot be found: " + ident.ProjectARN(region, account, name)
}

// CreateProject creates a build project.
func (a *API) CreateProject(ctx context.Context, in *cb.CreateProjectInput) (*cb.CreateProjectOutput, error) {
	c, scope := scopeOf(ctx)
	name := cb.Deref(in.Name)
	now := ts(a.now())
	p := &cb.Project{
		Name:                    in.Name,
		Arn:                     cb.String(ident.ProjectARN(c.Region, c.Account, name)),
		Description:             in.Description,
		Source:                  in.Source,
		SecondarySources:        in.SecondarySources,
		SourceVersion:           in.SourceVersion,
		SecondarySourceVersions: in.SecondarySourceVersions,
		Artifacts:               in.Artifacts,
		SecondaryArtifacts:      in.SecondaryArtifacts,
		Cache:                   in.Cache,
		Environment:             in.Environment,
		ServiceRole:             in.ServiceRole,
		TimeoutInMinutes:        in.TimeoutInMinutes,
		QueuedTimeoutInMinutes:  in.QueuedTimeoutInMinutes,
		EncryptionKey:           in.EncryptionKey,
		Tags:                    in.Tags,
		Created:                 now,
		LastModified:            now,
		VpcConfig:               in.VpcConfig,
		Badge:                   &cb.ProjectBadge{BadgeEnabled: cb.Bool(cb.Deref(in.BadgeEnabled))},
		LogsConfig:              in.LogsConfig,
		FileSystemLocations:     in.FileSystemLocations,
		BuildBatchConfig:        in.BuildBatchConfig,
		ConcurrentBuildLimit:    in.ConcurrentBuildLimit,
		AutoRetryLimit:          in.AutoRetryLimit,
	}
	if err := a.checkConcurrentLimit(p.ConcurrentBuildLimit, false); err != nil {
		return nil, err
	}
	if err := checkServiceRole(p.ServiceRole); err != nil {
		return nil, err
	}
	a.applyProjectDefaults(p, c)
	if err := checkProject(p); err != nil {
		return nil, err
	}
	err := a.st.Update(ctx, func(tx store.Tx) error {
		return tx.ProjectInsert(ctx, scope, p)
	})
	if err != nil {
		if isConflict(err) {
			return nil, awsjson.Errorf(awsjson.ResourceAlreadyExists, "Project already exists: %s", cb.Deref(p.Arn))
		}
		return nil, translate(err, "")
	}
	return &cb.CreateProjectOutput{Project: p}, nil
}

// UpdateProject changes the members given; the others keep their values.
func (a *API) UpdateProject(ctx context.Context, in *cb.UpdateProjectInput) (*cb.UpdateProjectOutput, error) {
	c, scope := scopeOf(ctx)
	name := scopedName(ctx, cb.Deref(in.Name), "project")
	if err := a.checkConcurrentLimit(in.ConcurrentBuildLimit, true); err != nil {
		return nil, err
	}
	if in.ServiceRole != nil {
		if err := checkServiceRole(in.ServiceRole); err != nil {
			return nil, err
		}
	}
	var out *cb.Project
	err := a.st.Update(ctx, func(tx store.Tx) error {
		p, err := tx.ProjectGet(ctx, scope, name)
		if err != nil {
			return err
		}
		set(&p.Description, in.Description)
		set(&p.Source, in.Source)
		setList(&p.SecondarySources, in.SecondarySources)
		set(&p.SourceVersion, in.SourceVersion)
		setList(&p.SecondarySourceVersions, in.SecondarySourceVersions)
		set(&p.Artifacts, in.Artifacts)
		setList(&p.SecondaryArtifacts, in.SecondaryArtifacts)
		set(&p.Cache, in.Cache)
		set(&p.Environment, in.Environment)
		set(&p.ServiceRole, in.ServiceRole)
		set(&p.TimeoutInMinutes, in.TimeoutInMinutes)
		set(&p.QueuedTimeoutInMinutes, in.QueuedTimeoutInMinutes)
		set(&p.EncryptionKey, in.EncryptionKey)
		setList(&p.Tags, in.Tags)
		set(&p.VpcConfig, in.VpcConfig)
		if in.BadgeEnabled != nil {
			p.Badge = &cb.ProjectBadge{BadgeEnabled: in.BadgeEnabled}
		}
		set(&p.LogsConfig, in.LogsConfig)
		setList(&p.FileSystemLocations, in.FileSystemLocations)
		set(&p.BuildBatchConfig, in.BuildBatchConfig)
		if in.ConcurrentBuildLimit != nil {
			if *in.ConcurrentBuildLimit == -1 {
				p.ConcurrentBuildLimit = nil
			} else {
				p.ConcurrentBuildLimit = in.ConcurrentBuildLimit
			}
		}
		set(&p.AutoRetryLimit, in.AutoRetryLimit)
		p.LastModified = ts(a.now())
		a.applyProjectDefaults(p, c)
		if err := checkProject(p); err != nil {
			return err
		}
		out = p
		return tx.ProjectPut(ctx, scope, p)
	})
	if err != nil {
		return nil, translate(err, projectNotFound(c.Region, c.Account, name))
	}
	return &cb.UpdateProjectOutput{Project: out}, nil
}

// DeleteProject deletes a project. As on AWS, deleting an unknown project is
// not an error, and the project's builds are kept.
func (a *API) DeleteProject(ctx context.Context, in *cb.DeleteProjectInput) (*cb.DeleteProjectOutput, error) {
	_, scope := scopeOf(ctx)
	name := scopedName(ctx, cb.Deref(in.Name), "project")
	err := a.st.Update(ctx, func(tx store.Tx) error {
		arn := ident.ProjectARN(scope.Region, scope.Account, name)
		// As on AWS, a project shared by a resource policy cannot be
		// deleted while it has builds (others may be reading them).
		if _, err := tx.ResourceGet(ctx, scope, store.KindPolicy, arn); err == nil {
			ids, _, err := tx.BuildList(ctx, scope, name, store.Page{Limit: 1})
			if err != nil {
				return err
			}
			if len(ids) > 0 {
				return invalid("Project %s has builds and a resource policy: delete the resource policy (DeleteResourcePolicy) or its builds (BatchDeleteBuilds) before the project", name)
			}
		} else if !isNotFound(err) {
			return err
		}
		if err := tx.ProjectDelete(ctx, scope, name); err != nil {
			return err
		}
		// What belongs to the project goes with it: its policy, its webhook.
		if err := deletePolicy(ctx, tx, scope, arn); err != nil {
			return err
		}
		if err := tx.ResourceDelete(ctx, scope, store.KindWebhook, name); err != nil && !isNotFound(err) {
			return err
		}
		// A project made again with this name is not public.
		if err := tx.ResourceDelete(ctx, scope, publicAliases, name); err != nil && !isNotFound(err) {
			return err
		}
		return nil
	})
	if err != nil && !isNotFound(err) {
		return nil, translate(err, "")
	}
	return &cb.DeleteProjectOutput{}, nil
}

// BatchGetProjects returns projects by name or ARN, in the order asked.
func (a *API) BatchGetProjects(ctx context.Context, in *cb.BatchGetProjectsInput) (awsjson.Raw, error) {
	_, scope := scopeOf(ctx)
	return a.batchGet(ctx, in.Names, func(n string) string { return scopedName(ctx, n, "project") }, "projects", "projectsNotFound",
		func(tx store.Tx, names []string) ([][]byte, error) {
			docs, err := tx.ProjectDocs(ctx, scope, names)
			if err != nil {
				return nil, err
			}
			return docs, a.sharedDocs(ctx, tx, names, docs, "project", "codebuild:BatchGetProjects", tx.ProjectDocs)
		})
}

// ListProjects lists project names, 100 a page. Default order: by NAME,
// ASCENDING.
func (a *API) ListProjects(ctx context.Context, in *cb.ListProjectsInput) (*cb.ListProjectsOutput, error) {
	_, scope := scopeOf(ctx)
	by := map[string]store.ProjectSort{"": store.ProjectsByName, cb.ProjectSortByTypeName: store.ProjectsByName,
		cb.ProjectSortByTypeCreatedTime: store.ProjectsByCreated, cb.ProjectSortByTypeLastModifiedTime: store.ProjectsByModified}[cb.Deref(in.SortBy)]
	desc := cb.Deref(in.SortOrder) == cb.SortOrderTypeDescending
	list := fmt.Sprintf("projects/%d/%v", by, desc)
	after, err := decodeToken(list, in.NextToken)
	if err != nil {
		return nil, err
	}
	var names []string
	var next *store.Cursor
	err = a.st.View(ctx, func(tx store.Tx) error {
		var err error
		names, next, err = tx.ProjectList(ctx, scope, by, store.Page{After: after, Limit: listPageSize, Descending: desc})
		return err
	})
	if err != nil {
		return nil, translate(err, "")
	}
	if names == nil {
		names = []string{}
	}
	return &cb.ListProjectsOutput{Projects: names, NextToken: encodeToken(list, next)}, nil
}

func set[T any](dst **T, v *T) {
	if v != nil {
		*dst = v
	}
}

func setList[T any](dst *[]T, v []T) {
	if v != nil {
		*dst = v
	}
}

func (a *API) checkConcurrentLimit(limit *int32, update bool) error {
	if limit == nil || (update && *limit == -1) {
		return nil
	}
	if *limit <= 0 {
		return invalid("Invalid input: concurrentBuildLimit must be greater than 0")
	}
	if acct := a.opts.AccountConcurrentBuilds; acct > 0 && int(*limit) > acct {
		return invalid("Project-level concurrent build limit cannot exceed the account-level concurrent build limit of %d.", acct)
	}
	return nil
}

// applyProjectDefaults fills in what AWS fills in when a member is absent.
func (a *API) applyProjectDefaults(p *cb.Project, c awsjson.Caller) {
	name := cb.Deref(p.Name)
	if p.Source != nil {
		document.NormalizeSource(p.Source)
	}
	for i := range p.SecondarySources {
		document.NormalizeSource(&p.SecondarySources[i])
	}
	if p.Artifacts != nil {
		document.NormalizeArtifacts(p.Artifacts, name)
	}
	for i := range p.SecondaryArtifacts {
		document.NormalizeArtifacts(&p.SecondaryArtifacts[i], name)
	}
	if p.Environment != nil {
		document.NormalizeEnvironment(p.Environment)
	}
	if p.Cache == nil {
		p.Cache = &cb.ProjectCache{Type: cb.String(cb.CacheTypeNoCache)}
	}
	if p.TimeoutInMinutes == nil {
		p.TimeoutInMinutes = cb.Int32(defaultTimeout)
	}
	if p.QueuedTimeoutInMinutes == nil {
		p.QueuedTimeoutInMinutes = cb.Int32(defaultQueuedTimeout)
	}
	if p.EncryptionKey == nil {
		p.EncryptionKey = cb.String(defaultEncryptionKey(c.Region, c.Account))
	}
	p.LogsConfig = document.NormalizeLogsConfig(p.LogsConfig)
	for _, l := range []*[]cb.ProjectSource{&p.SecondarySources} {
		if *l == nil {
			*l = []cb.ProjectSource{}
		}
	}
	if p.SecondaryArtifacts == nil {
		p.SecondaryArtifacts = []cb.ProjectArtifacts{}
	}
	if p.SecondarySourceVersions == nil {
		p.SecondarySourceVersions = []cb.ProjectSourceVersion{}
	}
	if p.Tags == nil {
		p.Tags = []cb.Tag{}
	}
	if p.Badge == nil {
		p.Badge = &cb.ProjectBadge{BadgeEnabled: cb.Bool(false)}
	}
	if cb.Deref(p.Badge.BadgeEnabled) {
		token := badgeToken(c.Account, c.Region, name)
		p.Badge.BadgeRequestUrl = cb.String(strings.TrimRight(a.opts.BaseURL, "/") + "/badges?uuid=" + url.QueryEscape(token) + "&branch=main")
	} else {
		p.Badge.BadgeRequestUrl = nil
	}
	if p.ProjectVisibility == nil {
		p.ProjectVisibility = cb.String(cb.ProjectVisibilityTypePrivate)
	}
}

func defaultEncryptionKey(region, account string) string {
	return ident.ARN("kms", region, account, "alias/aws/s3")
}

var gitSourceTypes = map[string]bool{cb.SourceTypeCodecommit: true, cb.SourceTypeGithub: true, cb.SourceTypeGithubEnterprise: true,
	cb.SourceTypeBitbucket: true, cb.SourceTypeGitlab: true, cb.SourceTypeGitlabSelfManaged: true}

// checkSource validates a (primary or secondary) source configuration.
func checkSource(s *cb.ProjectSource, what string) error {
	typ := cb.Deref(s.Type)
	loc := cb.Deref(s.Location)
	switch {
	case typ == cb.SourceTypeNoSource:
		if strings.TrimSpace(cb.Deref(s.Buildspec)) == "" && what == "source" {
			return invalid("Invalid input: %s.buildspec must be specified when %s.type is NO_SOURCE", what, what)
		}
		if loc != "" {
			return invalid("Invalid input: %s.location must not be specified when %s.type is NO_SOURCE", what, what)
		}
	case typ == cb.SourceTypeCodepipeline:
	case loc == "":
		return invalid("Invalid input: %s.location must be specified for source type %s", what, typ)
	}
	if cb.Deref(s.ReportBuildStatus) && !reportsStatus(typ) {
		return invalid("Invalid input: reportBuildStatus is only supported for GITHUB, GITHUB_ENTERPRISE, GITLAB, GITLAB_SELF_MANAGED and BITBUCKET sources, not %s", typ)
	}
	if s.InsecureSsl != nil && *s.InsecureSsl && typ != cb.SourceTypeGithubEnterprise && typ != cb.SourceTypeGitlabSelfManaged {
		return invalid("Invalid input: insecureSsl is only supported for GITHUB_ENTERPRISE and GITLAB_SELF_MANAGED sources")
	}
	return nil
}

func reportsStatus(typ string) bool {
	switch typ {
	case cb.SourceTypeGithub, cb.SourceTypeGithubEnterprise, cb.SourceTypeGitlab, cb.SourceTypeGitlabSelfManaged, cb.SourceTypeBitbucket:
		return true
	}
	return false
}

func checkArtifacts(a *cb.ProjectArtifacts, what string) error {
	switch cb.Deref(a.Type) {
	case cb.ArtifactsTypeS3:
		if cb.Deref(a.Location) == "" {
			return invalid("Invalid input: %s.location must be specified when %s.type is S3", what, what)
		}
	case cb.ArtifactsTypeNoArtifacts, cb.ArtifactsTypeCodepipeline:
		if cb.Deref(a.EncryptionDisabled) {
			return invalid("Invalid input: %s.encryptionDisabled is only supported for S3 artifacts", what)
		}
	}
	return nil
}

func checkEnvVars(vars []cb.EnvironmentVariable, what string) error {
	for i, v := range vars {
		if strings.HasPrefix(cb.Deref(v.Name), "CODEBUILD_") {
			return invalid("Invalid input: %s[%d].name %s: environment variable names starting with CODEBUILD_ are reserved", what, i, cb.Deref(v.Name))
		}
	}
	return nil
}

// A project's service role is the ARN of an IAM role
// (arn:<partition>:iam::<account>:role/<path/><name>) or, as CodeBuild also
// takes (CloudFormation's Ref of a role gives its name), the name of a role
// whose path is /.
var (
	roleARNRE  = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/([\x21-\x7e]{0,510}/)?[\w+=,.@-]{1,64}$`)
	roleNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
)

// checkServiceRole answers a service role that is neither with AWS's
// InvalidInputException "Invalid service role" (AWS also refuses roles it
// cannot assume, which buildbatch does not check).
func checkServiceRole(role *string) error {
	r := cb.Deref(role)
	if role == nil || roleARNRE.MatchString(r) || roleNameRE.MatchString(r) {
		return nil
	}
	if strings.HasPrefix(r, "arn:") {
		return invalid("Invalid service role: %s is not the ARN of an IAM role (arn:aws:iam::<account>:role/<name>)", r)
	}
	return invalid("Invalid service role: %s is neither the ARN nor the name of an IAM role", r)
}

// checkProject validates what the model cannot express.
func checkProject(p *cb.Project) error {
	if p.Source == nil || p.Artifacts == nil || p.Environment == nil {
		return invalid("Invalid input: source, artifacts and environment must be specified")
	}
	if err := checkSource(p.Source, "source"); err != nil {
		return err
	}
	if (cb.Deref(p.Source.Type) == cb.SourceTypeCodepipeline) != (cb.Deref(p.Artifacts.Type) == cb.ArtifactsTypeCodepipeline) {
		return invalid("Invalid input: when using CodePipeline both sourceType, and artifactType must be set to: CODEPIPELINE")
	}
	if err := checkArtifacts(p.Artifacts, "artifacts"); err != nil {
		return err
	}
	ids := map[string]bool{}
	for i := range p.SecondarySources {
		s := &p.SecondarySources[i]
		what := fmt.Sprintf("secondarySources[%d]", i)
		id := cb.Deref(s.SourceIdentifier)
		if !identifierRE.MatchString(id) {
			return invalid("Invalid input: %s.sourceIdentifier must be 1 to 127 letters, digits or underscores, got %q", what, id)
		}
		if ids[id] {
			return invalid("Invalid input: duplicate sourceIdentifier %s", id)
		}
		ids[id] = true
		if err := checkSource(s, what); err != nil {
			return err
		}
	}
	for _, v := range p.SecondarySourceVersions {
		if !ids[cb.Deref(v.SourceIdentifier)] {
			return invalid("Invalid input: secondarySourceVersions names sourceIdentifier %s, which no secondary source has", cb.Deref(v.SourceIdentifier))
		}
	}
	artIDs := map[string]bool{}
	for i := range p.SecondaryArtifacts {
		s := &p.SecondaryArtifacts[i]
		what := fmt.Sprintf("secondaryArtifacts[%d]", i)
		id := cb.Deref(s.ArtifactIdentifier)
		if !identifierRE.MatchString(id) {
			return invalid("Invalid input: %s.artifactIdentifier must be 1 to 127 letters, digits or underscores, got %q", what, id)
		}
		if artIDs[id] {
			return invalid("Invalid input: duplicate artifactIdentifier %s", id)
		}
		artIDs[id] = true
		if cb.Deref(s.Type) == cb.ArtifactsTypeCodepipeline {
			return invalid("Invalid input: %s.type CODEPIPELINE is not allowed for secondary artifacts", what)
		}
		if err := checkArtifacts(s, what); err != nil {
			return err
		}
	}
	if err := checkEnvVars(p.Environment.EnvironmentVariables, "environment.environmentVariables"); err != nil {
		return err
	}
	if c := p.Cache; c != nil {
		switch cb.Deref(c.Type) {
		case cb.CacheTypeS3:
			if cb.Deref(c.Location) == "" {
				return invalid("Invalid input: cache.location must be specified when cache.type is S3")
			}
		case cb.CacheTypeLocal:
			if len(c.Modes) == 0 {
				return invalid("Invalid input: cache.modes must list at least one mode when cache.type is LOCAL")
			}
		}
	}
	if l := p.LogsConfig; l != nil && l.S3Logs != nil && cb.Deref(l.S3Logs.Status) == cb.LogsConfigStatusTypeEnabled && cb.Deref(l.S3Logs.Location) == "" {
		return invalid("Invalid input: logsConfig.s3Logs.location must be specified when S3 logs are ENABLED")
	}
	if err := checkBatchConfig(p.BuildBatchConfig, "buildBatchConfig"); err != nil {
		return err
	}
	return nil
}

func checkBatchConfig(c *cb.ProjectBuildBatchConfig, what string) error {
	if c == nil {
		return nil
	}
	if t := c.TimeoutInMins; t != nil && (*t < 5 || *t > 2160) {
		return invalid("Invalid input: %s.timeoutInMins must be between 5 and 2160, got %d", what, *t)
	}
	if r := c.Restrictions; r != nil {
		if m := r.MaximumBuildsAllowed; m != nil && *m < 1 {
			return invalid("Invalid input: %s.restrictions.maximumBuildsAllowed must be at least 1, got %d", what, *m)
		}
		for _, ct := range r.ComputeTypesAllowed {
			if !isComputeType(ct) {
				return invalid("Invalid input: %s.restrictions.computeTypesAllowed: unknown compute type %s", what, ct)
			}
		}
	}
	return nil
}

func isComputeType(s string) bool {
	sh, _ := cb.LookupShape("ComputeType")
	return slices.Contains(sh.Enum, s)
}
