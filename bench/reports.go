package main

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// benchReports: a build's 100,000-case JUnit file (50 MB) parsed,
// summarised and stored as its report (the UPLOAD_ARTIFACTS phase, which
// does nothing else here), against encoding/xml's bare token loop over
// the same file, in this process; and the server's peak memory meanwhile.
func benchReports(e *benchEnv, rep *report) {
	cases := 100_000
	if *quick {
		cases = 10_000
	}
	data := filepath.Join(e.tmp, "junit-big.xml")
	size := writeJUnit(data, cases)
	defer os.Remove(data)
	ref := tokenLoop(data) // warm the page cache, then measure
	ref = min(ref, tokenLoop(data))

	s := e.startServer(filepath.Join(e.tmp, "reports"))
	defer s.stop()
	defer os.RemoveAll(filepath.Join(e.tmp, "reports"))
	c := newClient(s.url, 2)
	c.mustCall("CreateProject", project("tests", "version: 0.2\nphases:\n  build:\n    commands:\n      - cp "+data+" junit.xml\nreports:\n  unit:\n    files: [junit.xml]\n", nil), nil)
	_, idlePeak := rss(s.pid)
	b := c.waitBuild(c.startBuild("tests"))
	_, peak := rss(s.pid)
	start, end := b.phase("UPLOAD_ARTIFACTS")
	took := time.Duration((end - start) * float64(time.Second))
	var got struct {
		Builds []struct {
			ReportArns []string `json:"reportArns"`
		}
	}
	c.mustCall("BatchGetBuilds", map[string]any{"ids": []string{b.ID}}, &got)
	var reps struct {
		Reports []struct {
			TestSummary struct {
				Total int `json:"total"`
			} `json:"testSummary"`
			Truncated bool `json:"truncated"`
		}
	}
	if len(got.Builds) != 1 || len(got.Builds[0].ReportArns) != 1 {
		fatalf("the build made no report: %+v", got)
	}
	c.mustCall("BatchGetReports", map[string]any{"reportArns": got.Builds[0].ReportArns}, &reps)
	if len(reps.Reports) != 1 || reps.Reports[0].TestSummary.Total != cases || !reps.Reports[0].Truncated {
		fatalf("report of %d cases: %+v", cases, reps)
	}
	ratio := took.Seconds() / ref.Seconds()
	rep.add(fmt.Sprintf("JUnit report of %d cases (%s): parsed, summarised, stored", cases, mb(size)), took.Round(time.Millisecond).String(),
		"encoding/xml token loop: "+ref.Round(time.Millisecond).String(), fmt.Sprintf("%.2f×", ratio), "≤ 2×", ratio <= 2)
	rep.add("  … server peak RSS while reading it", mb(peak), "before: "+mb(idlePeak), "", "bounded", peak < idlePeak+64<<20)
}

// writeJUnit writes a JUnit file of n cases in suites of 1,000, one in 50
// failing with a message and a stack trace, and returns its size.
func writeJUnit(path string, n int) int64 {
	f, err := os.Create(path)
	if err != nil {
		fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"%d\">\n", n)
	for i := 0; i < n; i++ {
		if i%1000 == 0 {
			if i > 0 {
				w.WriteString("  </testsuite>\n")
			}
			fmt.Fprintf(w, "  <testsuite name=\"com.example.suite%03d.IntegrationTests\" tests=\"1000\" time=\"12.5\">\n", i/1000)
		}
		fmt.Fprintf(w, "    <testcase classname=\"com.example.suite%03d.IntegrationTests\" name=\"handles request %d with the default settings\" time=\"0.%03d\"", i/1000, i, i%1000)
		if i%50 == 7 {
			fmt.Fprintf(w, ">\n      <failure message=\"expected 200 but was 500 for request %d\" type=\"AssertionError\">AssertionError: expected 200 but was 500\n"+
				"        at com.example.Client.check(Client.java:42)\n        at com.example.suite.IntegrationTests.run(IntegrationTests.java:%d)</failure>\n"+
				"      <system-out>request %d: GET /items?page=3 -&gt; 500 Internal Server Error</system-out>\n    </testcase>\n", i, i%900, i)
			continue
		}
		fmt.Fprintf(w, ">\n      <system-out>request %d: GET /items?page=3 -&gt; 200 OK in %d ms; cache hit, 14 items, etag W/&quot;5f3a&quot;\n"+
			"response headers: content-type=application/json; content-length=2048; x-request-id=%08x-7d2c-4b1e-9a0f-3c6e5b8a1d27\n"+
			"teardown: closed 2 connections, released the fixture database and its 3 schemas, flushed the log buffer; 0 warnings, 0 errors</system-out>\n    </testcase>\n", i, i%97, i)
	}
	w.WriteString("  </testsuite>\n</testsuites>\n")
	if err := w.Flush(); err != nil {
		fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		fatal(err)
	}
	return st.Size()
}

// tokenLoop times encoding/xml reading every token of a file, doing
// nothing with them: the least any Go parser of the file must do.
func tokenLoop(path string) time.Duration {
	f, err := os.Open(path)
	if err != nil {
		fatal(err)
	}
	defer f.Close()
	t0 := time.Now()
	d := xml.NewDecoder(bufio.NewReaderSize(f, 64<<10))
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			fatal(err)
		}
	}
	return time.Since(t0)
}
