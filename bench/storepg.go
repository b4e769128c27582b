package main

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"
)

// benchStorePG: the requests of the store part (a page of ListBuilds,
// BatchGetBuilds of that page's builds and of 100 random ones, through the
// API) on a server keeping its builds in PostgreSQL (--store), beside the
// same requests on a server on SQLite holding as many builds, at 1k, 10k
// and 100k builds (storing 100k takes well under a minute in each). Both
// servers run at once and take turns, so that both see the same load from
// whatever else runs on the machine.
func benchStorePG(e *benchEnv, rep *report) {
	sizes := []int{1000, 10000, 100000}
	reps := 200
	if *quick {
		sizes = []int{1000, 3000}
		reps = 50
	}
	url, err := e.postgresDB()
	if err != nil {
		rep.note("Store on PostgreSQL rows skipped: %v", err)
		return
	}
	liteDir := filepath.Join(e.tmp, "store-pg-sqlite")
	pgDir := filepath.Join(e.tmp, "store-pg-postgres")
	defer os.RemoveAll(liteDir)
	defer os.RemoveAll(pgDir)
	var liteIDs, pgIDs []string
	var fillLite, fillPG time.Duration
	for _, n := range sizes {
		t0 := time.Now()
		liteIDs = populate(liteDir, liteIDs, n)
		t1 := time.Now()
		pgIDs = populatePG(url, pgIDs, n)
		fillLite, fillPG = fillLite+t1.Sub(t0), fillPG+time.Since(t1)
		log.Printf("store-pg: %dk builds stored in %v in SQLite, %v in PostgreSQL", n/1000,
			fillLite.Round(time.Millisecond), fillPG.Round(time.Millisecond))

		lite := e.startServer(liteDir)
		pgs := e.startServer(pgDir, "--store", url)
		lc, pc := newClient(lite.url, 2), newClient(pgs.url, 2)
		for i := 0; i < 20; i++ { // warm up (PostgreSQL's connection pool too)
			storeRound(lc, liteIDs)
			storeRound(pc, pgIDs)
		}
		var l, p [3][]time.Duration
		for i := 0; i < reps; i++ {
			var lr, pr storeTimes
			if i%2 == 0 {
				lr, pr = storeRound(lc, liteIDs), storeRound(pc, pgIDs)
			} else {
				pr, lr = storeRound(pc, pgIDs), storeRound(lc, liteIDs)
			}
			for k, d := range [3]time.Duration{lr.list, lr.recent, lr.get} {
				l[k] = append(l[k], d)
			}
			for k, d := range [3]time.Duration{pr.list, pr.recent, pr.get} {
				p[k] = append(p[k], d)
			}
		}
		lite.stop()
		pgs.stop()
		for k, what := range []string{"ListBuilds page", "BatchGetBuilds(100) of the listed page", "BatchGetBuilds(100) of random builds"} {
			pm, lm := percentile(p[k], 0.5), percentile(l[k], 0.5)
			rep.add(fmt.Sprintf("store on PostgreSQL: %s, %dk builds (median)", what, n/1000), ms(pm), "SQLite: "+ms(lm),
				fmt.Sprintf("%.2f×", float64(pm)/float64(lm)), "—", true)
		}
	}
	rep.note("Store on PostgreSQL: medians over %d rounds of the store part's requests through the API, a server on PostgreSQL (%s) and one on SQLite, both running, taking turns; storing %dk builds took %v in PostgreSQL (then ANALYZE, as autovacuum would: without statistics the planner reads every build of the account to find 100 ids, and BatchGetBuilds grows with the table), %v in SQLite (5,000 to a transaction through the store packages).",
		reps, pgWhat(), sizes[len(sizes)-1]/1000, fillPG.Round(100*time.Millisecond), fillLite.Round(100*time.Millisecond))
}
