package report

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
func parseJUnit(data []byte) ([]testCase, error) {
	doc, err := parseXML(data)
	if err != nil {
		return nil, err
	}
	var out []testCase
	found := false
	for _, r := range doc.children {
		switch r.name {
		case "testsuites", "testsuite", "testrun":
			found = true
			junitWalk(r, "", &out)
		}
	}
	if !found {
		_, err := doc.root("testsuites", "testsuite")
		return nil, err
	}
	return out, nil
}

func junitWalk(n *node, suite string, out *[]testCase) {
	if n.name == "testsuite" {
		if s := n.attr("name"); s != "" {
			suite = s
		}
	}
	for _, c := range n.children {
		switch c.name {
		case "testsuite", "testsuites":
			junitWalk(c, suite, out)
		case "testcase":
			*out = append(*out, junitCase(c, suite))
		}
	}
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
