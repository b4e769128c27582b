package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"testing"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
)

// junitFile is a JUnit file of n cases, one in 50 failing.
func junitFile(n int) []byte {
	var b bytes.Buffer
	b.WriteString("<?xml version=\"1.0\"?>\n<testsuites>\n<testsuite name=\"s\">\n")
	for i := range n {
		fmt.Fprintf(&b, "<testcase classname=\"com.example.T\" name=\"case %d\" time=\"0.%03d\">", i, i%1000)
		if i%50 == 7 {
			fmt.Fprintf(&b, "<failure message=\"expected 200, got 500\">at T.java:%d</failure>", i)
		}
		fmt.Fprintf(&b, "<system-out>request %d -&gt; 200 OK; cache hit, 14 items</system-out></testcase>\n", i)
	}
	b.WriteString("</testsuite>\n</testsuites>\n")
	return b.Bytes()
}

// BenchmarkReadTests reads a JUnit file as the runner does (streamed,
// summarised, 500 cases kept); BenchmarkTokenLoop is encoding/xml's bare
// token loop over the same bytes, the reference (scripts/bench has the
// same comparison on a 100,000-case file through a build).
func BenchmarkReadTests(b *testing.B) {
	data := junitFile(10_000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		t := NewTests(MaxTestCases)
		if err := ReadTests(JUnitXML, bytes.NewReader(data), "f.xml", t.Add); err != nil {
			b.Fatal(err)
		}
		if s := t.Summary(); cb.Deref(s.Total) != 10_000 {
			b.Fatal(s)
		}
	}
}

func BenchmarkTokenLoop(b *testing.B) {
	data := junitFile(10_000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		d := xml.NewDecoder(bytes.NewReader(data))
		for {
			if _, err := d.Token(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}
