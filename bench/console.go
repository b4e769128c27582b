package main

import (
	"context"
	"fmt"
	"log"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

// benchConsole: a batch page of a 256-build matrix in a real headless
// browser: from the navigation until the graph shows every build, against
// the same page for a 4-build matrix in the same browser.
func benchConsole(e *benchEnv, rep *report) {
	browserPath := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browserPath = p
			break
		}
	}
	if browserPath == "" {
		log.Printf("console: no chromium on this machine; row skipped")
		return
	}
	side := 16
	if *quick {
		side = 8
	}
	s := e.startServer(filepath.Join(e.tmp, "console"))
	defer s.stop()
	c := newClient(s.url, 4)
	matrixProject(c, "small", 2)
	matrixProject(c, "big", side)
	small, big := runBatch(c, "small"), runBatch(c, "big")
	if !small.Complete || !big.Complete {
		fatalf("the console's batches did not end")
	}

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browserPath), chromedp.NoSandbox, chromedp.WindowSize(1400, 1000))...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			log.Printf("console page: %s", m.String())
		}
	}()
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()
	if err := chromedp.Do(ctx, chromedp.Navigate(s.url+"/")); err != nil { // start the browser, get a session
		fatal(err)
	}
	// toGraph opens a batch's page anew and measures, in the page's own
	// clock, the time from its navigation until every build's node is
	// drawn, and its first contentful paint.
	toGraph := func(id string, builds int) (graph, paint time.Duration) {
		// A new tab for each page: nothing of the last one is reused but
		// the browser's cache and the session cookie.
		tab, closeTab := chromedp.NewContext(ctx)
		defer closeTab()
		if err := chromedp.Do(tab, chromedp.Navigate(s.url+"/#/batches/"+url.PathEscape(id))); err != nil {
			fatal(err)
		}
		// The page itself watches for the last node (no round trips).
		expr := fmt.Sprintf(`document.querySelectorAll('svg.graph .node.group').length >= %d && performance.now()`, builds)
		var at float64
		for {
			var err error
			at, err = chromedp.Run(tab, chromedp.Poll[float64](expr, chromedp.WithPollingInterval(2*time.Millisecond), chromedp.WithPollingTimeout(time.Minute)))
			if err == nil {
				break
			}
			// A poll that began as the page changed lost its JavaScript
			// context: poll again in the new one.
			if ctx.Err() != nil || !strings.Contains(err.Error(), "context") {
				fatalf("the batch page of %s never drew %d builds: %v", id, builds, err)
			}
			log.Printf("console: poll again: %v", err)
		}
		fcp, _ := chromedp.Run(tab, chromedp.Evaluate[float64](`(performance.getEntriesByName('first-contentful-paint')[0] || {startTime: 0}).startTime`))
		return time.Duration(at * float64(time.Millisecond)), time.Duration(fcp * float64(time.Millisecond))
	}
	toGraph(small.ID, 4) // warm the browser's cache of the script
	var bigGraph, bigPaint, smallGraph time.Duration
	const runs = 5
	for range runs {
		g, p := toGraph(big.ID, side*side)
		bigGraph, bigPaint = bigGraph+g, bigPaint+p
		g, _ = toGraph(small.ID, 4)
		smallGraph += g
	}
	bigGraph, bigPaint, smallGraph = bigGraph/runs, bigPaint/runs, smallGraph/runs
	rep.add(fmt.Sprintf("console: %d-build matrix batch page, navigation → every build drawn", side*side), ms(bigGraph),
		"4-build batch page: "+ms(smallGraph), fmt.Sprintf("%.1f×", float64(bigGraph)/float64(smallGraph)), "< 1 s; ≤ 3×",
		bigGraph < time.Second && bigGraph <= 3*smallGraph)
	rep.add("  … first contentful paint", ms(bigPaint), "", "", "—", true)
}
