package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/buildbatch/buildbatch/internal/batch"
	"github.com/buildbatch/buildbatch/internal/store"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/buildbatch/buildbatch/internal/buildspec"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
	"github.com/buildbatch/buildbatch/internal/executor"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/source"
)

// downloadSource fetches the sources, reads the buildspec and opens the
// shell session. It returns whether the phase failed and why.
func (x *run) downloadSource(ctx context.Context) (bool, []cb.PhaseContext) {
	f := &source.Fetcher{Blob: x.blob, Log: x.log.Printf}
	primary := x.doc.Source
	if primary == nil {
		primary = &cb.ProjectSource{Type: cb.String(cb.SourceTypeNoSource)}
	}
	src := sourceOf(primary, cb.Deref(x.doc.SourceVersion))
	var err error
	if src.Auth, err = x.gitAuth(ctx, primary); err != nil {
		return true, document.Context(document.ClientError, sourceError(err))
	}
	resolved, err := f.Fetch(ctx, src, x.src)
	if err != nil {
		return true, document.Context(document.ClientError, sourceError(err))
	}
	if resolved != "" {
		x.doc.ResolvedSourceVersion = cb.String(resolved)
	}
	versions := map[string]string{}
	for _, v := range x.doc.SecondarySourceVersions {
		versions[cb.Deref(v.SourceIdentifier)] = cb.Deref(v.SourceVersion)
	}
	for i := range x.doc.SecondarySources {
		s := &x.doc.SecondarySources[i]
		id := cb.Deref(s.SourceIdentifier)
		src := sourceOf(s, versions[id])
		var err error
		if src.Auth, err = x.gitAuth(ctx, s); err == nil {
			_, err = f.Fetch(ctx, src, x.secondaryDir(id))
		}
		if err != nil {
			return true, document.Context(document.ClientError, fmt.Sprintf("secondary source %s: %s", id, sourceError(err)))
		}
	}
	if resolved != "" {
		x.persist()
	}
	if x.env != nil {
		if err := x.env.CopyIn(ctx, x.src, x.layout.Src); err != nil {
			return true, document.Context(document.ClientError, fmt.Sprintf("copying the source into the build environment: %v", err))
		}
		for id, dir := range x.layout.Secondary {
			if err := x.env.CopyIn(ctx, x.secondaryDir(id), dir); err != nil {
				return true, document.Context(document.ClientError, fmt.Sprintf("copying secondary source %s into the build environment: %v", id, err))
			}
		}
	}

	data, where, err := x.loadBuildspec(ctx, primary)
	if err != nil {
		return true, document.Context(document.YAMLFileError, err.Error())
	}
	if x.b.Meta.BatchIdentifier == batchBootstrap && x.b.Meta.BatchID != "" {
		x.log.Printf("Reading the batch section of %s", where)
		plan, err := x.planBatch(ctx, data)
		if err != nil {
			return true, document.Context(document.YAMLFileError, err.Error())
		}
		x.plan = plan
		return false, nil
	}
	spec, err := buildspec.Parse(data)
	if err != nil {
		x.log.Printf("Reading the buildspec %s failed", where)
		return true, document.Context(document.YAMLFileError, err.Error())
	}
	x.spec = spec
	x.restoreCache(ctx)
	if err := x.openEnv(ctx); err != nil {
		return true, document.Context(document.ClientError, err.Error())
	}
	return false, nil
}

// gitAuth is how a git source authenticates: the secret its auth names
// (SECRETS_MANAGER), else the account's imported credential for its server
// type, else nothing.
func (x *run) gitAuth(ctx context.Context, s *cb.ProjectSource) (*source.Auth, error) {
	server := source.ServerType(cb.Deref(s.Type))
	if server == "" {
		return nil, nil
	}
	secret := func(ref string) (string, error) {
		if x.r.cfg.Secrets == nil {
			return "", errors.New("no secrets are configured (buildbatch serve --secrets-file)")
		}
		return x.r.cfg.Secrets.Secret(ref)
	}
	if a := s.Auth; a != nil && cb.Deref(a.Resource) != "" {
		switch cb.Deref(a.Type) {
		case cb.SourceAuthTypeSecretsManager:
			return source.Credential{ServerType: server, AuthType: "SECRETS_MANAGER", Token: cb.Deref(a.Resource)}.Auth(secret)
		case cb.SourceAuthTypeCodeconnections:
			return source.Credential{ServerType: server, AuthType: "CODECONNECTIONS", Token: cb.Deref(a.Resource)}.Auth(secret)
		}
	}
	var r *store.Resource
	err := x.r.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		r, err = tx.ResourceGet(ctx, x.b.Scope, store.KindSourceCredential, server)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c source.Credential
	if err := json.Unmarshal(r.Doc, &c); err != nil {
		return nil, fmt.Errorf("the stored %s source credential: %w", server, err)
	}
	return c.Auth(secret)
}

func sourceError(err error) string {
	var se *source.Error
	if errors.As(err, &se) {
		return se.Msg
	}
	return err.Error()
}

func sourceOf(s *cb.ProjectSource, version string) source.Source {
	src := source.Source{Type: cb.Deref(s.Type), Location: cb.Deref(s.Location), Version: version, CloneDepth: int(cb.Deref(s.GitCloneDepth))}
	if s.GitSubmodulesConfig != nil {
		src.Submodules = cb.Deref(s.GitSubmodulesConfig.FetchSubmodules)
	}
	return src
}

func (x *run) secondaryDir(id string) string { return filepath.Join(x.dir, "src2", id) }

// isInline tells an inline buildspec from a file name.
func isInline(s string) bool {
	return strings.Contains(s, "\n") || strings.HasPrefix(strings.TrimSpace(s), "version:")
}

// loadBuildspec reads the buildspec: inline, an S3 object, or a file of the
// primary source (buildspec.yml by default).
func (x *run) loadBuildspec(ctx context.Context, src *cb.ProjectSource) ([]byte, string, error) {
	bs := cb.Deref(src.Buildspec)
	switch {
	case isInline(bs):
		return []byte(bs), "the inline buildspec", nil
	case strings.HasPrefix(bs, "arn:") && strings.Contains(bs, ":s3:::"):
		bucket, key, err := source.SplitS3(bs)
		if err != nil {
			return nil, "", err
		}
		rc, err := x.blob.Open(ctx, bucket, key)
		if err != nil {
			return nil, "", fmt.Errorf("buildspec %s: %v", bs, err)
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		return data, bs, err
	}
	if bs == "" {
		bs = "buildspec.yml"
	}
	p := bs
	if !filepath.IsAbs(p) {
		p = filepath.Join(x.src, bs)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		if cb.Deref(src.Type) == cb.SourceTypeNoSource {
			return nil, "", fmt.Errorf("the project has no source, so it needs an inline buildspec")
		}
		shown := bs
		if !filepath.IsAbs(shown) {
			shown = path.Join(x.layout.Src, bs) // where the build sees it
		}
		return nil, "", fmt.Errorf("stat %s: no such file or directory", shown)
	}
	return data, bs, nil
}

// environ assembles the session's environment, from lowest to highest
// precedence: the buildspec's variables,
// parameter-store and secrets-manager values, the build's environment
// variables (project + overrides), extra variables, and the CODEBUILD_
// variables, which no one may override.
func (x *run) environ() ([]string, []string, error) {
	vars := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	var secretValues []string
	sec := x.r.cfg.Secrets
	for _, kv := range x.spec.Env.Variables {
		set(kv.Name, kv.Value)
	}
	for _, kv := range x.spec.Env.ParameterStore {
		v, err := sec.Parameter(kv.Value)
		if err != nil {
			return nil, nil, err
		}
		set(kv.Name, v)
		secretValues = append(secretValues, v)
	}
	for _, kv := range x.spec.Env.SecretsManager {
		v, err := sec.Secret(kv.Value)
		if err != nil {
			return nil, nil, err
		}
		set(kv.Name, v)
		secretValues = append(secretValues, v)
	}
	if e := x.doc.Environment; e != nil {
		for _, ev := range e.EnvironmentVariables {
			v := cb.Deref(ev.Value)
			switch cb.Deref(ev.Type) {
			case cb.EnvironmentVariableTypeParameterStore:
				r, err := sec.Parameter(v)
				if err != nil {
					return nil, nil, err
				}
				v = r
				secretValues = append(secretValues, v)
			case cb.EnvironmentVariableTypeSecretsManager:
				r, err := sec.Secret(v)
				if err != nil {
					return nil, nil, err
				}
				v = r
				secretValues = append(secretValues, v)
			}
			set(cb.Deref(ev.Name), v)
		}
	}
	for _, ev := range x.b.Meta.ExtraEnv {
		set(cb.Deref(ev.Name), cb.Deref(ev.Value))
	}
	for k, v := range x.systemVars() {
		set(k, v)
	}
	env := make([]string, 0, len(order))
	for _, k := range order {
		env = append(env, k+"="+vars[k])
	}
	return env, secretValues, nil
}

// systemVars are the variables CodeBuild sets in every build.
// publicURL is a public build's page ("" for a build of a private project).
func publicURL(prefix, uuid string) string {
	if prefix == "" {
		return ""
	}
	return prefix + uuid
}

func (x *run) systemVars() map[string]string {
	d := x.doc
	region, account := x.b.Scope.Region, x.b.Scope.Account
	v := map[string]string{
		"AWS_DEFAULT_REGION":               region,
		"AWS_REGION":                       region,
		"CODEBUILD_BUILD_ID":               cb.Deref(d.Id),
		"CODEBUILD_BUILD_ARN":              cb.Deref(d.Arn),
		"CODEBUILD_BUILD_NUMBER":           itoa(cb.Deref(d.BuildNumber)),
		"CODEBUILD_BUILD_SUCCEEDING":       "1",
		"CODEBUILD_INITIATOR":              cb.Deref(d.Initiator),
		"CODEBUILD_KMS_KEY_ID":             cb.Deref(d.EncryptionKey),
		"CODEBUILD_LOG_PATH":               x.uuid,
		"CODEBUILD_PUBLIC_BUILD_URL":       publicURL(x.b.Meta.PublicURL, x.uuid),
		"CODEBUILD_BUILD_URL":              fmt.Sprintf("https://%s.console.aws.amazon.com/codebuild/home?region=%s#/builds/%s/view/new", region, region, cb.Deref(d.Id)),
		"CODEBUILD_SOURCE_VERSION":         cb.Deref(d.SourceVersion),
		"CODEBUILD_SRC_DIR":                x.layout.Src,
		"CODEBUILD_START_TIME":             itoa(d.StartTime.UnixMilli()),
		"CODEBUILD_BATCH_BUILD_IDENTIFIER": x.b.Meta.BatchIdentifier,
		"CODEBUILD_CI":                     "true",
		"CODEBUILD_PROJECT_ARN":            ident.ProjectARN(region, account, cb.Deref(d.ProjectName)),
	}
	if e := d.Environment; e != nil {
		v["CODEBUILD_BUILD_IMAGE"] = cb.Deref(e.Image)
	}
	if r := cb.Deref(d.ResolvedSourceVersion); r != "" {
		v["CODEBUILD_RESOLVED_SOURCE_VERSION"] = r
	}
	if s := d.Source; s != nil {
		v["CODEBUILD_SOURCE_REPO_URL"] = sourceURL(s)
	}
	versions := map[string]string{}
	for _, sv := range d.SecondarySourceVersions {
		versions[cb.Deref(sv.SourceIdentifier)] = cb.Deref(sv.SourceVersion)
	}
	for _, s := range d.SecondarySources {
		id := cb.Deref(s.SourceIdentifier)
		v["CODEBUILD_SRC_DIR_"+id] = x.layout.Secondary[id]
		v["CODEBUILD_SOURCE_REPO_URL_"+id] = sourceURL(&s)
		v["CODEBUILD_SOURCE_VERSION_"+id] = versions[id]
	}
	if x.b.Meta.Shards > 0 {
		// Not AWS: how a build-fanout build knows its shard.
		v["BUILDBATCH_SHARD_INDEX"] = fmt.Sprint(x.b.Meta.Shard)
		v["BUILDBATCH_SHARD_COUNT"] = fmt.Sprint(x.b.Meta.Shards)
	}
	for _, fs := range d.FileSystemLocations {
		if id := cb.Deref(fs.Identifier); id != "" {
			v["CODEBUILD_"+strings.ToUpper(id)] = cb.Deref(fs.MountPoint)
		}
	}
	return v
}

func sourceURL(s *cb.ProjectSource) string {
	if cb.Deref(s.Type) == cb.SourceTypeS3 {
		return "s3://" + strings.TrimPrefix(cb.Deref(s.Location), "s3://")
	}
	return cb.Deref(s.Location)
}

// openEnv starts the shell session in the build's environment.
func (x *run) openEnv(ctx context.Context) error {
	if x.env == nil {
		return errors.New("the build has no environment")
	}
	env, secretValues, err := x.environ()
	if err != nil {
		return err
	}
	if len(secretValues) > 0 {
		x.masker = executor.NewMasker(x.log, secretValues)
		x.out = x.masker
	}
	x.vars = env
	return x.env.Start(ctx, executor.Shell{Env: env, Shell: x.spec.Env.Shell, User: x.spec.RunAs, Output: x.out})
}

// planBatch plans the batch from the batch section of its buildspec and
// checks that the groups' buildspec files are in the source.
func (x *run) planBatch(ctx context.Context, data []byte) (*batch.Plan, error) {
	var b *store.Batch
	err := x.r.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		b, err = tx.BatchGet(ctx, x.b.Scope, x.b.Meta.BatchID)
		return err
	})
	if err != nil {
		return nil, err
	}
	p, err := batch.FromBuildspec(data, b.Doc)
	if err != nil {
		return nil, err
	}
	for _, g := range p.Groups {
		if g.Buildspec == "" || strings.Contains(g.Buildspec, "\n") {
			continue
		}
		path := g.Buildspec
		if !filepath.IsAbs(path) {
			path = filepath.Join(x.src, path)
		}
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("build %s: buildspec %s not found in the source", g.Identifier, g.Buildspec)
		}
	}
	return p, nil
}
