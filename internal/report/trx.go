package report

import "strings"

// Visual Studio TRX: <TestRun><Results><UnitTestResult> joined on testId
// to <TestDefinitions><UnitTest id><TestMethod className>. Only top-level
// results count: the <InnerResults> of a data-driven test are folded into
// their parent result.
//
//	prefix        TestMethod className without the assembly qualification
//	              MSTest adds ("Ns.Class, Assembly, Version=…" → "Ns.Class");
//	              without a definition, testName up to its last dot
//	name          testName
//	testSuiteName the <TestRun name>
//	status        outcome Passed, PassedButRunAborted SUCCEEDED; Failed
//	              FAILED; Error, Timeout, Aborted, NotRunnable ERROR;
//	              NotExecuted SKIPPED; other UNKNOWN
//	duration      duration (hh:mm:ss.fffffff), else endTime − startTime
//	message       <Output><ErrorInfo><Message> and <StackTrace>
func parseTRX(data []byte) ([]testCase, error) {
	doc, err := parseXML(data)
	if err != nil {
		return nil, err
	}
	root, err := doc.root("TestRun")
	if err != nil {
		return nil, err
	}
	classes := map[string]string{}
	if defs := root.child("TestDefinitions"); defs != nil {
		for _, ut := range defs.children {
			if id := ut.attr("id"); id != "" {
				if m := ut.child("TestMethod"); m != nil {
					classes[id] = trxClass(m.attr("className"))
				}
			}
		}
	}
	run := root.attr("name")
	var out []testCase
	for _, results := range root.children {
		if results.name != "Results" {
			continue
		}
		for _, r := range results.children {
			if r.name == "UnitTestResult" {
				out = append(out, trxCase(r, classes, run))
			}
		}
	}
	return out, nil
}

func trxClass(c string) string {
	c, _, _ = strings.Cut(c, ",")
	return strings.TrimSpace(c)
}

func trxCase(n *node, classes map[string]string, run string) testCase {
	t := testCase{name: n.attr("testName"), suite: run}
	if c, ok := classes[n.attr("testId")]; ok {
		t.prefix = c
	} else if i := strings.LastIndexByte(t.name, '.'); i > 0 {
		t.prefix = t.name[:i]
	}
	switch n.attr("outcome") {
	case "Passed", "PassedButRunAborted":
		t.status = StatusSucceeded
	case "Failed":
		t.status = StatusFailed
	case "Error", "Timeout", "Aborted", "NotRunnable":
		t.status = StatusError
	case "NotExecuted":
		t.status = StatusSkipped
	default:
		t.status = StatusUnknown
	}
	if d, ok := timeSpanToNanos(n.attr("duration")); ok {
		t.duration = d
	} else {
		t.duration = between(n.attr("startTime"), n.attr("endTime"))
	}
	info := n.child("Output").child("ErrorInfo")
	t.message = joinMessage(info.child("Message").rawText(), info.child("StackTrace").rawText())
	return t
}
