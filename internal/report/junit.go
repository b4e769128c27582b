package report

import (
	"fmt"
	"io"
)

// JUnit XML: a <testsuites> root or a bare <testsuite> (Maven Surefire,
// Gradle), suites nested to any depth (bun, Catch2), one case per
// <testcase>.
//
//	prefix        classname (or class), else the enclosing suite's name
//	name          name
//	testSuiteName the innermost enclosing <testsuite name>
//	status        <failure> FAILED, else <error> ERROR, else <skipped> SKIPPED,
//	              else SUCCEEDED; only direct children count, so Surefire's
//	              <flakyFailure>/<rerunFailure> leave a passed case passed
//	duration      time, decimal seconds
//	message       message attribute and text of the elements that decided the
//	              status (every <failure> of a case that has several)
//
// The file is read as a stream: only one <testcase> is in memory at a
// time.
func streamJUnit(r io.Reader, emit func(testCase) error) error {
	found := false
	root, err := streamXML(r, func(anc []*node, name string) bool {
		if len(anc) == 1 {
			found = found || junitContainer(name, true)
			return false
		}
		if name != "testcase" {
			return false
		}
		for i, a := range anc[1:] {
			if !junitContainer(a.name, i == 0) {
				return false
			}
		}
		return true
	}, func(anc []*node, n *node) error {
		suite := ""
		for _, a := range anc[1:] {
			if s := a.attr("name"); s != "" && a.name == "testsuite" {
				suite = s
			}
		}
		return emit(junitCase(n, suite))
	})
	if err == nil && !found {
		err = fmt.Errorf("root element is <%s>, expected <testsuites> or <testsuite>", root)
	}
	return err
}

// junitContainer reports whether an element of that name holds test
// cases and suites: <testsuites> and <testsuite> anywhere, <testrun> (a
// few runners' root) at the top.
func junitContainer(name string, top bool) bool {
	return name == "testsuites" || name == "testsuite" || top && name == "testrun"
}

func junitCase(n *node, suite string) testCase {
	t := testCase{
		prefix:   n.attr("classname"),
		name:     n.attr("name"),
		suite:    suite,
		status:   StatusSucceeded,
		duration: secondsToNanos(n.attr("time")),
	}
	if t.prefix == "" {
		t.prefix = n.attr("class")
	}
	if t.prefix == "" {
		t.prefix = suite
	}
	var failures, errs, skips []*node
	for _, c := range n.children {
		switch c.name {
		case "failure":
			failures = append(failures, c)
		case "error":
			errs = append(errs, c)
		case "skipped":
			skips = append(skips, c)
		}
	}
	var decided []*node
	switch {
	case len(failures) > 0:
		t.status, decided = StatusFailed, failures
	case len(errs) > 0:
		t.status, decided = StatusError, errs
	case len(skips) > 0:
		t.status, decided = StatusSkipped, skips
	}
	var parts []string
	for _, d := range decided {
		parts = append(parts, d.attr("message"), d.rawText())
	}
	t.message = joinMessage(parts...)
	return t
}
