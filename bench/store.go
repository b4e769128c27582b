package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
	"github.com/buildbatch/buildbatch/internal/store"
	"github.com/buildbatch/buildbatch/internal/store/sqlite"
)

// benchStore: a page of ListBuilds and BatchGetBuilds of 100 ids, through
// the API, with 1k, 10k and 100k builds stored.
func benchStore(e *benchEnv, rep *report) {
	sizes := []int{1000, 10000, 100000}
	reps := 200
	if *quick {
		sizes = []int{1000, 3000, 10000}
		reps = 50
	}
	dir := filepath.Join(e.tmp, "store")
	var ids []string
	results := map[int]storeTimes{}
	for _, n := range sizes {
		ids = populate(dir, ids, n)
		s := e.startServer(dir)
		c := newClient(s.url, 2)
		for i := 0; i < 20; i++ { // warm up
			c.do("ListBuilds", []byte(`{}`))
		}
		var list, get, recent []time.Duration
		for i := 0; i < reps; i++ {
			r := storeRound(c, ids)
			list, recent, get = append(list, r.list), append(recent, r.recent), append(get, r.get)
		}
		s.stop()
		results[n] = storeTimes{list: percentile(list, 0.5), recent: percentile(recent, 0.5), get: percentile(get, 0.5)}
	}
	base := results[sizes[0]]
	for _, n := range sizes[1:] {
		r := results[n]
		goal := n < 100000 || float64(r.list) <= 1.5*float64(base.list)
		rep.add(fmt.Sprintf("store scale: ListBuilds page, %dk builds (median)", n/1000), ms(r.list), fmt.Sprintf("at %dk: %s", sizes[0]/1000, ms(base.list)),
			fmt.Sprintf("%.2f×", float64(r.list)/float64(base.list)), "100k within 1.5× of 1k", goal)
		goal = n < 100000 || float64(r.recent) <= 1.5*float64(base.recent)
		rep.add(fmt.Sprintf("store scale: BatchGetBuilds(100) of the listed page, %dk builds", n/1000), ms(r.recent), fmt.Sprintf("at %dk: %s", sizes[0]/1000, ms(base.recent)),
			fmt.Sprintf("%.2f×", float64(r.recent)/float64(base.recent)), "100k within 1.5× of 1k", goal)
		goal = n < 100000 || float64(r.get) <= 1.5*float64(base.get)
		rep.add(fmt.Sprintf("store scale: BatchGetBuilds(100) of random builds, %dk builds", n/1000), ms(r.get), fmt.Sprintf("at %dk: %s", sizes[0]/1000, ms(base.get)),
			fmt.Sprintf("%.2f×", float64(r.get)/float64(base.get)), "100k within 1.5× of 1k", goal)
	}
	os.RemoveAll(dir)
	rep.note("Store scale: medians over %d requests through the API on a server restarted on each size. The builds of a listed page are the ones clients read; random reads at 100k mostly miss the 32 MB document cache that holds all of 1k, so they measure SQLite (pure Go): `go test -bench BuildDocs ./internal/store/sqlite`, which bypasses the cache, puts 100 random reads at 100k at about 1.9× those at 1k.", reps)
}

// storeTimes are the times of the requests of the store parts: a page of
// ListBuilds, BatchGetBuilds of that page's builds and BatchGetBuilds of
// 100 random builds.
type storeTimes struct{ list, recent, get time.Duration }

// storeRound times one of each of storeTimes' requests; ids are the
// builds stored, to pick the random ones from.
func storeRound(c *client, ids []string) storeTimes {
	var r storeTimes
	t0 := time.Now()
	page, err := c.do("ListBuilds", []byte(`{}`))
	if err != nil {
		fatal(err)
	}
	r.list = time.Since(t0)
	var l struct {
		Ids []string `json:"ids"`
	}
	json.Unmarshal(page, &l)
	t0 = time.Now()
	if _, err := c.do("BatchGetBuilds", fmt.Appendf(nil, `{"ids":%s}`, jsonList(l.Ids))); err != nil {
		fatal(err)
	}
	r.recent = time.Since(t0)
	pick := make([]string, 100)
	for j := range pick {
		pick[j] = ids[rand.IntN(len(ids))]
	}
	body := fmt.Appendf(nil, `{"ids":%s}`, jsonList(pick))
	t0 = time.Now()
	if _, err := c.do("BatchGetBuilds", body); err != nil {
		fatal(err)
	}
	r.get = time.Since(t0)
	return r
}

func jsonList(s []string) string {
	b := []byte{'['}
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, v...)
		b = append(b, '"')
	}
	return string(append(b, ']'))
}

// populate stores completed builds (realistic documents) in the SQLite
// database of dir until there are n.
func populate(dir string, ids []string, n int) []string {
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "buildbatch.db"))
	if err != nil {
		fatal(err)
	}
	defer st.Close()
	return fill(st, ids, n)
}

// fill stores completed builds (realistic documents) in st until there
// are n, 5,000 to a transaction; ids are those stored so far.
func fill(st store.Store, ids []string, n int) []string {
	ctx := context.Background()
	scope := store.Scope{Account: "000000000000", Region: "us-east-1"}
	settings := &document.Settings{
		Source:      &cb.ProjectSource{Type: cb.String("NO_SOURCE"), Buildspec: cb.String("version: 0.2\nphases:\n  build:\n    commands:\n      - echo hello\n"), InsecureSsl: cb.Bool(false)},
		Artifacts:   &cb.ProjectArtifacts{Type: cb.String("NO_ARTIFACTS")},
		Environment: &cb.ProjectEnvironment{Type: cb.String("LINUX_CONTAINER"), Image: cb.String("aws/codebuild/standard:7.0"), ComputeType: cb.String("BUILD_GENERAL1_SMALL"), EnvironmentVariables: []cb.EnvironmentVariable{}, PrivilegedMode: cb.Bool(false), ImagePullCredentialsType: cb.String("CODEBUILD")},
		Cache:       &cb.ProjectCache{Type: cb.String("NO_CACHE")},
		ServiceRole: cb.String("arn:aws:iam::000000000000:role/bench"), Timeout: cb.Int32(60), QueuedTimeout: cb.Int32(480),
		EncryptionKey: cb.String("arn:aws:kms:us-east-1:000000000000:alias/aws/s3"),
		LogsConfig:    &cb.LogsConfig{CloudWatchLogs: &cb.CloudWatchLogsConfig{Status: cb.String("ENABLED")}, S3Logs: &cb.S3LogsConfig{Status: cb.String("DISABLED"), EncryptionDisabled: cb.Bool(false)}},
	}
	now := time.Now().Add(-time.Hour)
	for len(ids) < n {
		err := st.Update(ctx, func(tx store.Tx) error {
			for i := 0; i < 5000 && len(ids) < n; i++ {
				num := int64(len(ids) + 1)
				doc := document.NewBuild(document.Spec{Scope: scope, Project: "scale", Settings: settings, Initiator: "bench"}, num, now)
				for _, p := range []string{document.Provisioning, document.DownloadSource, document.Install, document.PreBuild, document.Build, document.PostBuild, document.UploadArtifacts, document.Finalizing} {
					document.End(doc, cb.StatusTypeSucceeded, nil, now)
					document.Start(doc, p, now)
				}
				document.End(doc, cb.StatusTypeSucceeded, nil, now)
				document.Complete(doc, cb.StatusTypeSucceeded, now)
				b := &store.Build{Scope: scope, Doc: doc}
				if err := tx.BuildInsert(ctx, b); err != nil {
					return err
				}
				ids = append(ids, cb.Deref(doc.Id))
			}
			return nil
		})
		if err != nil {
			fatal(err)
		}
	}
	return ids
}
