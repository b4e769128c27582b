package report

import "strings"

// NUnit 2 XML: <test-results> with nested <test-suite type="Assembly|
// Namespace|TestFixture|ParameterizedTest|…"><results> and <test-case>.
// NUnit 2.2 files have no type and no result attributes.
//
//	prefix        full name of the enclosing TestFixture (its Namespace
//	              suites' names and its own, joined with dots); without
//	              typed suites, the innermost enclosing suite's name
//	name          name (already the fully qualified test name)
//	testSuiteName the outermost suite's name (the assembly)
//	status        result Success SUCCEEDED; Failure FAILED; Error,
//	              NotRunnable, Cancelled ERROR; Ignored, Skipped SKIPPED;
//	              Inconclusive, other UNKNOWN. Without result:
//	              executed="False" SKIPPED, success="True" SUCCEEDED,
//	              else FAILED
//	duration      time, decimal seconds
//	message       <failure> or <reason>: <message> then <stack-trace>, each
//	              followed by a newline, as AWS shows them
func parseNUnit2(data []byte) ([]testCase, error) {
	doc, err := parseXML(data)
	if err != nil {
		return nil, err
	}
	root, err := doc.root("test-results")
	if err != nil {
		return nil, err
	}
	var out []testCase
	nunit2Walk(root, nunit2Ctx{}, &out)
	return out, nil
}

type nunit2Ctx struct {
	assembly  string
	namespace []string
	fixture   string
	innermost string
}

func nunit2Walk(n *node, ctx nunit2Ctx, out *[]testCase) {
	for _, c := range n.children {
		switch c.name {
		case "results":
			nunit2Walk(c, ctx, out)
		case "test-suite":
			sub := ctx
			name := c.attr("name")
			if sub.assembly == "" {
				sub.assembly = name
			}
			switch c.attr("type") {
			case "Assembly", "":
			case "Namespace":
				sub.namespace = append(ctx.namespace[:len(ctx.namespace):len(ctx.namespace)], name)
			case "TestFixture", "ParameterizedFixture", "GenericFixture":
				sub.fixture = strings.Join(append(ctx.namespace[:len(ctx.namespace):len(ctx.namespace)], name), ".")
			}
			sub.innermost = name
			nunit2Walk(c, sub, out)
		case "test-case":
			*out = append(*out, nunit2Case(c, ctx))
		}
	}
}

func nunit2Case(n *node, ctx nunit2Ctx) testCase {
	t := testCase{
		prefix:   ctx.fixture,
		name:     n.attr("name"),
		suite:    ctx.assembly,
		duration: secondsToNanos(n.attr("time")),
	}
	if t.prefix == "" {
		t.prefix = ctx.innermost
	}
	switch result, ok := n.lookup("result"); {
	case ok:
		switch result {
		case "Success":
			t.status = StatusSucceeded
		case "Failure":
			t.status = StatusFailed
		case "Error", "NotRunnable", "Cancelled":
			t.status = StatusError
		case "Ignored", "Skipped":
			t.status = StatusSkipped
		default:
			t.status = StatusUnknown
		}
	case strings.EqualFold(n.attr("executed"), "False"):
		t.status = StatusSkipped
	case strings.EqualFold(n.attr("success"), "True"):
		t.status = StatusSucceeded
	default:
		t.status = StatusFailed
	}
	t.message = nunitMessage(n)
	return t
}

// NUnit 3 XML: <test-run> (or a bare <test-suite>) with nested
// <test-suite type="Assembly|TestSuite|TestFixture|ParameterizedMethod|
// Theory|…"> and <test-case>.
//
//	prefix        classname, else the enclosing fixture's full name
//	name          fullname (else name)
//	testSuiteName full name of the enclosing fixture
//	status        result Passed SUCCEEDED; Failed with label Error, Invalid
//	              or Cancelled ERROR; Failed FAILED; Skipped SKIPPED;
//	              Inconclusive, Warning, other UNKNOWN
//	duration      duration, decimal seconds
//	message       as NUnit 2
func parseNUnit3(data []byte) ([]testCase, error) {
	doc, err := parseXML(data)
	if err != nil {
		return nil, err
	}
	root, err := doc.root("test-run", "test-suite")
	if err != nil {
		return nil, err
	}
	var out []testCase
	if root.name == "test-suite" {
		nunit3Walk(&node{children: []*node{root}}, "", &out)
	} else {
		nunit3Walk(root, "", &out)
	}
	return out, nil
}

func nunit3Walk(n *node, fixture string, out *[]testCase) {
	for _, c := range n.children {
		switch c.name {
		case "test-suite":
			sub := fixture
			switch c.attr("type") {
			case "TestFixture", "ParameterizedFixture", "GenericFixture":
				sub = c.attr("fullname")
				if sub == "" {
					sub = c.attr("name")
				}
			}
			nunit3Walk(c, sub, out)
		case "test-case":
			*out = append(*out, nunit3Case(c, fixture))
		}
	}
}

func nunit3Case(n *node, fixture string) testCase {
	t := testCase{
		prefix:   n.attr("classname"),
		name:     n.attr("fullname"),
		suite:    fixture,
		duration: secondsToNanos(n.attr("duration")),
	}
	if t.prefix == "" {
		t.prefix = fixture
	}
	if t.name == "" {
		t.name = n.attr("name")
	}
	switch n.attr("result") {
	case "Passed":
		t.status = StatusSucceeded
	case "Failed":
		switch n.attr("label") {
		case "Error", "Invalid", "Cancelled":
			t.status = StatusError
		default:
			t.status = StatusFailed
		}
	case "Skipped":
		t.status = StatusSkipped
	default:
		t.status = StatusUnknown
	}
	t.message = nunitMessage(n)
	return t
}

// nunitMessage builds the message of an NUnit test case the way AWS's
// describe-test-cases example shows it: the <message> text and then the
// <stack-trace> text, each followed by "\n" ("No arguments were
// provided\n"; "System.ApplicationException : Intentional Exception\nat
// …MethodThrowsException()\nat …TestWithException()\n\n").
func nunitMessage(n *node) string {
	src := n.child("failure")
	if src == nil {
		src = n.child("reason")
	}
	if src == nil {
		return ""
	}
	var b strings.Builder
	for _, part := range []string{src.child("message").rawText(), src.child("stack-trace").rawText()} {
		if part = tidyLines(part); part != "" {
			b.WriteString(part)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// tidyLines normalises line ends and drops blank lines around a text
// while keeping the indentation of its first line and, as a single "\n",
// a final line end.
func tidyLines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	if strings.TrimSpace(s) == "" {
		return ""
	}
	lead := len(s) - len(strings.TrimLeft(s, " \t\r\n"))
	if i := strings.LastIndexByte(s[:lead], '\n'); i >= 0 {
		s = s[i+1:]
	}
	trimmed := strings.TrimRight(s, " \t\r\n")
	if strings.Contains(s[len(trimmed):], "\n") {
		trimmed += "\n"
	}
	return trimmed
}
