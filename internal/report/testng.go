package report

// TestNG XML (testng-results.xml): <testng-results><suite><test><class>
// <test-method>. Configuration methods (is-config="true": @BeforeMethod,
// @AfterClass, …) are not test cases.
//
//	prefix        the enclosing <class name>
//	name          name
//	testSuiteName the enclosing <suite name>
//	status        PASS SUCCEEDED, FAIL FAILED, SKIP SKIPPED, else UNKNOWN
//	duration      duration-ms
//	message       <exception><message> and <full-stacktrace> (or
//	              <short-stacktrace>)
func parseTestNG(data []byte) ([]testCase, error) {
	doc, err := parseXML(data)
	if err != nil {
		return nil, err
	}
	root, err := doc.root("testng-results")
	if err != nil {
		return nil, err
	}
	var out []testCase
	testngWalk(root, "", "", &out)
	return out, nil
}

func testngWalk(n *node, suite, class string, out *[]testCase) {
	for _, c := range n.children {
		switch c.name {
		case "suite":
			testngWalk(c, c.attr("name"), class, out)
		case "test":
			testngWalk(c, suite, class, out)
		case "class":
			testngWalk(c, suite, c.attr("name"), out)
		case "test-method":
			if c.attr("is-config") == "true" {
				continue
			}
			*out = append(*out, testngCase(c, suite, class))
		}
	}
}

func testngCase(n *node, suite, class string) testCase {
	t := testCase{
		prefix:   class,
		name:     n.attr("name"),
		suite:    suite,
		duration: millisToNanos(n.attr("duration-ms")),
	}
	switch n.attr("status") {
	case "PASS":
		t.status = StatusSucceeded
	case "FAIL":
		t.status = StatusFailed
	case "SKIP":
		t.status = StatusSkipped
	default:
		t.status = StatusUnknown
	}
	if ex := n.child("exception"); ex != nil {
		trace := ex.child("full-stacktrace").rawText()
		if trace == "" {
			trace = ex.child("short-stacktrace").rawText()
		}
		t.message = joinMessage(ex.child("message").rawText(), trace)
	}
	return t
}
