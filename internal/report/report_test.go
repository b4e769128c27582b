package report

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf16"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
)

// tc is the part of a cb.TestCase the table tests compare.
type tc struct {
	prefix, name, suite, status, message string
	duration                             int64
}

func flatten(cases []cb.TestCase) []tc {
	out := make([]tc, len(cases))
	for i, c := range cases {
		out[i] = tc{
			prefix:   cb.Deref(c.Prefix),
			name:     cb.Deref(c.Name),
			suite:    cb.Deref(c.TestSuiteName),
			status:   cb.Deref(c.Status),
			message:  cb.Deref(c.Message),
			duration: cb.Deref(c.DurationInNanoSeconds),
		}
	}
	return out
}

func checkCases(t *testing.T, format, input string, want []tc) {
	t.Helper()
	cases, err := ParseTests(format, []byte(input), "reports/x")
	if err != nil {
		t.Fatalf("ParseTests: %v", err)
	}
	got := flatten(cases)
	if len(got) != len(want) {
		t.Fatalf("got %d cases, want %d:\n%#v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("case %d:\n got %#v\nwant %#v", i, got[i], want[i])
		}
	}
	for _, c := range cases {
		if cb.Deref(c.TestRawDataPath) != "reports/x" {
			t.Errorf("testRawDataPath = %q", cb.Deref(c.TestRawDataPath))
		}
	}
}

func TestJUnit(t *testing.T) {
	tests := []struct {
		name, input string
		want        []tc
	}{
		{
			name: "bare testsuite root (Surefire) with failure, error, skipped and flaky",
			input: `<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="com.example.CalculatorTest" time="0.052" tests="5">
  <testcase name="adds" classname="com.example.CalculatorTest" time="0.001"/>
  <testcase name="divides" classname="com.example.CalculatorTest" time="0.004">
    <failure message="expected: &lt;2&gt; but was: &lt;3&gt;" type="org.opentest4j.AssertionFailedError"><![CDATA[org.opentest4j.AssertionFailedError: expected: <2> but was: <3>
	at com.example.CalculatorTest.divides(CalculatorTest.java:21)
]]></failure>
    <system-out><![CDATA[<testcase name="fake"/>]]></system-out>
  </testcase>
  <testcase name="parses" classname="com.example.CalculatorTest" time="0.002">
    <error message="Index 3 out of bounds for length 3" type="java.lang.ArrayIndexOutOfBoundsException"><![CDATA[java.lang.ArrayIndexOutOfBoundsException: Index 3 out of bounds for length 3]]></error>
  </testcase>
  <testcase name="retries" classname="com.example.CalculatorTest" time="0.010">
    <flakyFailure message="timeout" type="java.lang.AssertionError"/>
    <rerunFailure message="timeout" type="java.lang.AssertionError"/>
  </testcase>
  <testcase name="rounds" classname="com.example.CalculatorTest" time="0">
    <skipped message="@Disabled"/>
  </testcase>
  <!-- <testcase name="removed"><failure/></testcase> -->
</testsuite>`,
			want: []tc{
				{"com.example.CalculatorTest", "adds", "com.example.CalculatorTest", "SUCCEEDED", "", 1000000},
				{"com.example.CalculatorTest", "divides", "com.example.CalculatorTest", "FAILED",
					"org.opentest4j.AssertionFailedError: expected: <2> but was: <3>\n\tat com.example.CalculatorTest.divides(CalculatorTest.java:21)", 4000000},
				{"com.example.CalculatorTest", "parses", "com.example.CalculatorTest", "ERROR",
					"java.lang.ArrayIndexOutOfBoundsException: Index 3 out of bounds for length 3", 2000000},
				{"com.example.CalculatorTest", "retries", "com.example.CalculatorTest", "SUCCEEDED", "", 10000000},
				{"com.example.CalculatorTest", "rounds", "com.example.CalculatorTest", "SKIPPED", "@Disabled", 0},
			},
		},
		{
			name: "several failures in one case, failure wins over error, missing and odd times",
			input: `<testsuites><testsuite name="soft.test.mjs">
<testcase classname="soft.test.mjs" name="soft" time="0.016407877">
<failure message="expected 1 to be 2" type="AssertionError">AssertionError: expected 1 to be 2</failure>
<failure message="expected 2 to be 3" type="AssertionError">AssertionError: expected 2 to be 3</failure>
</testcase>
<testcase name="both"><failure message="f"/><error message="e"/></testcase>
<testcase name="comma" time="1,5"/>
<testcase name="thousands" time="1,234.5"/>
<testcase name="exp" time="1e-3"/>
<testcase name="negative" time="-3"/>
<testcase name="garbage" time="soon"/>
</testsuite></testsuites>`,
			want: []tc{
				{"soft.test.mjs", "soft", "soft.test.mjs", "FAILED", "AssertionError: expected 1 to be 2\nAssertionError: expected 2 to be 3", 16407877},
				{"soft.test.mjs", "both", "soft.test.mjs", "FAILED", "f", 0},
				{"soft.test.mjs", "comma", "soft.test.mjs", "SUCCEEDED", "", 1500000000},
				{"soft.test.mjs", "thousands", "soft.test.mjs", "SUCCEEDED", "", 1234500000000},
				{"soft.test.mjs", "exp", "soft.test.mjs", "SUCCEEDED", "", 1000000},
				{"soft.test.mjs", "negative", "soft.test.mjs", "SUCCEEDED", "", 0},
				{"soft.test.mjs", "garbage", "soft.test.mjs", "SUCCEEDED", "", 0},
			},
		},
		{
			name: "nested suites: innermost suite name, classname fallback",
			input: `<testsuites><testsuite name="outer"><testcase name="a"/>
<testsuite name="inner"><testcase name="b" classname="C"/><testsuite><testcase name="c"/></testsuite></testsuite>
<testcase name="d"/></testsuite></testsuites>`,
			want: []tc{
				{"outer", "a", "outer", "SUCCEEDED", "", 0},
				{"C", "b", "inner", "SUCCEEDED", "", 0},
				{"inner", "c", "inner", "SUCCEEDED", "", 0},
				{"outer", "d", "outer", "SUCCEEDED", "", 0},
			},
		},
		{
			name:  "pytest on one line with error on setup and xfail",
			input: `<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1" failures="0" skipped="1" tests="3" time="0.412" timestamp="2024-05-02T10:21:33.123456" hostname="runner"><testcase classname="tests.test_db" name="test_migrate" time="0.001"><error message="failed on setup with &quot;OperationalError&quot;">E   OperationalError: no such table</error></testcase><testcase classname="tests.test_db" name="test_xfail" time="0.000"><skipped type="pytest.xfail" message="" /></testcase><testcase classname="tests.test_db" name="test_ok" time="0.100"/></testsuite></testsuites>`,
			want: []tc{
				{"tests.test_db", "test_migrate", "pytest", "ERROR", "failed on setup with \"OperationalError\"\nE   OperationalError: no such table", 1000000},
				{"tests.test_db", "test_xfail", "pytest", "SKIPPED", "", 0},
				{"tests.test_db", "test_ok", "pytest", "SUCCEEDED", "", 100000000},
			},
		},
		{
			name:  "control characters (ANSI colours), HTML entities and a BOM",
			input: "\xEF\xBB\xBF<testsuite name=\"s\"><testcase name=\"t&nbsp;1\"><failure>\x1b[31mred\x1b[0m &#x1b; done</failure></testcase></testsuite>",
			want: []tc{
				{"s", "t\u00a01", "s", "FAILED", "\uFFFD[31mred\uFFFD[0m \uFFFD done", 0},
			},
		},
		{
			name:  "Latin-1 declared encoding",
			input: "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><testsuite name=\"caf\xe9\"><testcase name=\"na\xefve\"/></testsuite>",
			want:  []tc{{"café", "naïve", "café", "SUCCEEDED", "", 0}},
		},
		{
			name:  "empty testsuites",
			input: `<?xml version="1.0"?><testsuites tests="0"></testsuites>`,
			want:  []tc{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkCases(t, JUnitXML, tt.input, tt.want) })
	}
}

func TestJUnitUTF16(t *testing.T) {
	doc := `<?xml version="1.0" encoding="utf-16"?><testsuite name="s"><testcase name="ü"/></testsuite>`
	u := utf16.Encode([]rune(doc))
	b := []byte{0xFF, 0xFE}
	for _, c := range u {
		b = append(b, byte(c), byte(c>>8))
	}
	checkCases(t, JUnitXML, string(b), []tc{{"s", "ü", "s", "SUCCEEDED", "", 0}})
}

// TestNUnit2AWSExample reproduces the test cases of AWS's describe-test-cases
// example (aws-cli awscli/examples/codebuild/describe-test-cases.rst) from
// the NUnit 2 mock-assembly results they come from.
func TestNUnit2AWSExample(t *testing.T) {
	input := `<?xml version="1.0" encoding="utf-8" standalone="no"?>
<test-results name="mock-assembly.dll" total="3" errors="1" failures="0" not-run="1" date="2012-02-04" time="11:46:05">
  <test-suite type="Assembly" name="C:\Program Files\NUnit 2.6\bin\tests\mock-assembly.dll" executed="True" result="Failure" success="False" time="0.094" asserts="0">
    <results>
      <test-suite type="Namespace" name="NUnit" executed="True" result="Failure" success="False" time="0.078" asserts="0">
        <results>
          <test-suite type="Namespace" name="Tests" executed="True" result="Failure" success="False" time="0.078" asserts="0">
            <results>
              <test-suite type="Namespace" name="Assemblies" executed="True" result="Failure" success="False" time="0.031" asserts="0">
                <results>
                  <test-suite type="TestFixture" name="MockTestFixture" description="Fake Test Fixture" executed="True" result="Failure" success="False" time="0.031" asserts="0">
                    <results>
                      <test-case name="NUnit.Tests.Assemblies.MockTestFixture.MockTest4" executed="False" result="Ignored">
                        <reason>
                          <message><![CDATA[ignoring this test method for now]]></message>
                        </reason>
                      </test-case>
                      <test-case name="NUnit.Tests.Assemblies.MockTestFixture.NotRunnableTest" executed="False" result="NotRunnable">
                        <reason>
                          <message><![CDATA[No arguments were provided]]></message>
                        </reason>
                      </test-case>
                      <test-case name="NUnit.Tests.Assemblies.MockTestFixture.TestWithException" executed="True" result="Error" success="False" time="0.000" asserts="0">
                        <failure>
                          <message><![CDATA[System.ApplicationException : Intentional Exception]]></message>
                          <stack-trace><![CDATA[at NUnit.Tests.Assemblies.MockTestFixture.MethodThrowsException()
at NUnit.Tests.Assemblies.MockTestFixture.TestWithException()
]]></stack-trace>
                        </failure>
                      </test-case>
                      <test-case name="NUnit.Tests.Assemblies.MockTestFixture.InconclusiveTest" executed="True" result="Inconclusive" success="False" time="0.001" asserts="0"/>
                    </results>
                  </test-suite>
                </results>
              </test-suite>
            </results>
          </test-suite>
        </results>
      </test-suite>
    </results>
  </test-suite>
</test-results>`
	asm := `C:\Program Files\NUnit 2.6\bin\tests\mock-assembly.dll`
	checkCases(t, NUnitXML, input, []tc{
		{"NUnit.Tests.Assemblies.MockTestFixture", "NUnit.Tests.Assemblies.MockTestFixture.MockTest4", asm, "SKIPPED", "ignoring this test method for now\n", 0},
		// The next two are AWS's example, field for field.
		{"NUnit.Tests.Assemblies.MockTestFixture", "NUnit.Tests.Assemblies.MockTestFixture.NotRunnableTest", asm, "ERROR", "No arguments were provided\n", 0},
		{"NUnit.Tests.Assemblies.MockTestFixture", "NUnit.Tests.Assemblies.MockTestFixture.TestWithException", asm, "ERROR",
			"System.ApplicationException : Intentional Exception\nat NUnit.Tests.Assemblies.MockTestFixture.MethodThrowsException()\nat NUnit.Tests.Assemblies.MockTestFixture.TestWithException()\n\n", 0},
		{"NUnit.Tests.Assemblies.MockTestFixture", "NUnit.Tests.Assemblies.MockTestFixture.InconclusiveTest", asm, "UNKNOWN", "", 1000000},
	})
}

func TestNUnit3Statuses(t *testing.T) {
	input := `<test-run><test-suite type="Assembly" name="a.dll"><test-suite type="ParameterizedFixture" name="Fx" fullname="Ns.Fx">
<test-suite type="TestFixture" name="Fx(1)" fullname="Ns.Fx(1)">
<test-case name="p" fullname="Ns.Fx(1).p" result="Passed" duration="0.5"/>
<test-case name="f" fullname="Ns.Fx(1).f" classname="Ns.Fx" result="Failed" duration="1"><failure><message>boom</message></failure></test-case>
<test-case name="e" fullname="Ns.Fx(1).e" result="Failed" label="Error"/>
<test-case name="i" fullname="Ns.Fx(1).i" result="Failed" label="Invalid"><reason><message>Method is not public</message></reason></test-case>
<test-case name="c" fullname="Ns.Fx(1).c" result="Failed" label="Cancelled"/>
<test-case name="s" fullname="Ns.Fx(1).s" result="Skipped" label="Explicit"/>
<test-case name="w" result="Warning"/>
<test-case name="n" result="Inconclusive"/>
</test-suite></test-suite></test-suite></test-run>`
	checkCases(t, NUnit3XML, input, []tc{
		{"Ns.Fx(1)", "Ns.Fx(1).p", "Ns.Fx(1)", "SUCCEEDED", "", 500000000},
		{"Ns.Fx", "Ns.Fx(1).f", "Ns.Fx(1)", "FAILED", "boom\n", 1000000000},
		{"Ns.Fx(1)", "Ns.Fx(1).e", "Ns.Fx(1)", "ERROR", "", 0},
		{"Ns.Fx(1)", "Ns.Fx(1).i", "Ns.Fx(1)", "ERROR", "Method is not public\n", 0},
		{"Ns.Fx(1)", "Ns.Fx(1).c", "Ns.Fx(1)", "ERROR", "", 0},
		{"Ns.Fx(1)", "Ns.Fx(1).s", "Ns.Fx(1)", "SKIPPED", "", 0},
		{"Ns.Fx(1)", "w", "Ns.Fx(1)", "UNKNOWN", "", 0},
		{"Ns.Fx(1)", "n", "Ns.Fx(1)", "UNKNOWN", "", 0},
	})
}

func TestTestNG(t *testing.T) {
	input := `<testng-results><suite name="S"><groups><group name="g"><method name="m" class="C"/></group></groups>
<test name="T"><class name="pkg.C">
<test-method is-config="true" name="setUp" status="FAIL" duration-ms="3"/>
<test-method name="ok" status="PASS" duration-ms="12"/>
<test-method name="skipped" status="SKIP" duration-ms="0"><exception class="org.testng.SkipException"><message><![CDATA[depends on ok]]></message></exception></test-method>
<test-method name="odd" status="UNSTABLE"/>
</class></test></suite></testng-results>`
	checkCases(t, TestNGXML, input, []tc{
		{"pkg.C", "ok", "S", "SUCCEEDED", "", 12000000},
		{"pkg.C", "skipped", "S", "SKIPPED", "depends on ok", 0},
		{"pkg.C", "odd", "S", "UNKNOWN", "", 0},
	})
}

func TestTRX(t *testing.T) {
	input := `<?xml version="1.0" encoding="utf-8"?>
<TestRun name="run" xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
<Results>
<UnitTestResult testId="1" testName="Data" outcome="Failed" duration="1.02:03:04.5">
  <InnerResults><UnitTestResult testId="1" testName="Data (1)" outcome="Failed"/></InnerResults>
</UnitTestResult>
<UnitTestResult testId="2" testName="Ns.Other.Timeout" outcome="Timeout" startTime="2020-10-17T21:39:04.1+02:00" endTime="2020-10-17T21:39:04.35+02:00"/>
<UnitTestResult testId="3" testName="Aborted" outcome="Aborted"/>
<UnitTestResult testId="3" testName="NR" outcome="NotRunnable"/>
<UnitTestResult testId="3" testName="PBRA" outcome="PassedButRunAborted"/>
<UnitTestResult testId="3" testName="Inc" outcome="Inconclusive"/>
<UnitTestResult testId="3" testName="Err" outcome="Error"><Output><ErrorInfo><Message>crash</Message></ErrorInfo></Output></UnitTestResult>
</Results>
<TestDefinitions>
<UnitTest id="1"><TestMethod className="Ns.Data, Ns, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null" name="Data"/></UnitTest>
<UnitTest id="3"><TestMethod className="Ns.Third" name="x"/></UnitTest>
</TestDefinitions>
</TestRun>`
	day := int64(24 * 3600 * 1e9)
	checkCases(t, VisualStudioTRX, input, []tc{
		{"Ns.Data", "Data", "run", "FAILED", "", day + (2*3600+3*60+4)*1e9 + 5e8},
		{"Ns.Other", "Ns.Other.Timeout", "run", "ERROR", "", 250000000},
		{"Ns.Third", "Aborted", "run", "ERROR", "", 0},
		{"Ns.Third", "NR", "run", "ERROR", "", 0},
		{"Ns.Third", "PBRA", "run", "SUCCEEDED", "", 0},
		{"Ns.Third", "Inc", "run", "UNKNOWN", "", 0},
		{"Ns.Third", "Err", "run", "ERROR", "crash", 0},
	})
}

func TestCucumber(t *testing.T) {
	input := `[{"uri":"features/a.feature","name":"A","elements":[
{"type":"background","keyword":"Background","steps":[{"result":{"status":"passed","duration":5}}]},
{"type":"scenario","name":"bg fails nothing","steps":[{"result":{"status":"passed","duration":10}}]},
{"type":"scenario","name":"ambiguous","steps":[{"result":{"status":"passed","duration":1}},{"result":{"status":"ambiguous","error_message":"two defs"}}]},
{"type":"scenario","name":"all skipped","steps":[{"result":{"status":"skipped"}}]},
{"type":"scenario","name":"no steps"},
{"type":"scenario","name":"step hook fails","steps":[{"result":{"status":"passed"},"after":[{"result":{"status":"failed","error_message":"  hook  ","duration":2.6}}]}]},
{"type":"scenario","name":"behave seconds float","steps":[{"result":{"status":"passed","duration":0.25}}]}
]},{"uri":"features/b.feature","name":"B","elements":[]}]`
	checkCases(t, CucumberJSON, input, []tc{
		{"A", "bg fails nothing", "features/a.feature", "SUCCEEDED", "", 15},
		{"A", "ambiguous", "features/a.feature", "UNKNOWN", "two defs", 1},
		{"A", "all skipped", "features/a.feature", "SKIPPED", "", 0},
		{"A", "no steps", "features/a.feature", "UNKNOWN", "", 0},
		{"A", "step hook fails", "features/a.feature", "FAILED", "hook", 3},
		{"A", "behave seconds float", "features/a.feature", "SUCCEEDED", "", 0},
	})
}

func TestTruncation(t *testing.T) {
	long := strings.Repeat("é", MaxMessageLength+10)
	name := strings.Repeat("n", MaxNameLength+1)
	cases, err := ParseTests("junitxml", []byte(`<testsuite><testcase name="`+name+`"><failure>`+long+`</failure></testcase></testsuite>`), "")
	if err != nil {
		t.Fatal(err)
	}
	c := cases[0]
	if n := len([]rune(*c.Message)); n != MaxMessageLength {
		t.Errorf("message has %d characters", n)
	}
	if n := len(*c.Name); n != MaxNameLength {
		t.Errorf("name has %d characters", n)
	}
	if c.TestRawDataPath != nil {
		t.Errorf("testRawDataPath set for an empty rawPath")
	}
}

func TestMalformed(t *testing.T) {
	tests := []struct {
		format, input, want string
	}{
		{"JUNITXML", "", "file is empty"},
		{"JUNITXML", " \n\t", "file is empty"},
		{"JUNITXML", `<testsuites><testsuite name="a"><testcase name="x">`, "XML syntax error on line 1: unexpected EOF"},
		{"JUNITXML", `<html><body/></html>`, "root element is <html>, expected <testsuites> or <testsuite>"},
		{"JUNITXML", `{"not": "xml"}`, "not an XML document"},
		{"JUNITXML", `<testsuite><testcase></testsuite>`, "XML syntax error on line 1"},
		{"CUCUMBERJSON", `[{"name": "f", "elements": [}]`, "JSON syntax error at byte"},
		{"CUCUMBERJSON", `{"name": "f"}`, "expected a JSON array of features"},
		{"CUCUMBERJSON", `[{"name": 5}]`, "expected a JSON array of features: found a JSON number"},
		{"CUCUMBERJSON", `<testsuite/>`, "JSON syntax error at byte 1"},
		{"TESTNGXML", `<testsuite/>`, "root element is <testsuite>, expected <testng-results>"},
		{"TESTNGXML", `<testng-results><suite>`, "unexpected EOF"},
		{"NUNITXML", `<test-run/>`, "root element is <test-run>, expected <test-results>"},
		{"NUNITXML", `<test-results><test-suite></test-results>`, "XML syntax error"},
		{"NUNIT3XML", `<test-results/>`, "root element is <test-results>, expected <test-run> or <test-suite>"},
		{"NUNIT3XML", `<test-run`, "XML syntax error"},
		{"VISUALSTUDIOTRX", `<TestRunX/>`, "root element is <TestRunX>, expected <TestRun>"},
		{"VISUALSTUDIOTRX", `<TestRun><Results>`, "unexpected EOF"},
		{"COBERTURAXML", `<report/>`, "root element is <report>, expected <coverage>"},
		{"COBERTURAXML", `<coverage><packages>`, "unexpected EOF"},
		{"CLOVERXML", `<testsuites/>`, "root element is <testsuites>, expected <coverage>"},
		{"CLOVERXML", `<coverage><project></coverage>`, "XML syntax error"},
		{"JACOCOXML", `<coverage/>`, "root element is <coverage>, expected <report>"},
		{"JACOCOXML", `<report><package name="a">`, "unexpected EOF"},
		{"SIMPLECOV", `{"RSpec": {"coverage": `, "JSON"},
		{"SIMPLECOV", `[1, 2]`, "expected a JSON object"},
		{"SIMPLECOV", `{"RSpec": {"timestamp": 1}}`, `"RSpec" has no "coverage" object`},
		{"SIMPLECOV", `{}`, `no "coverage" found`},
		{"SIMPLECOV", `{"timestamp": 1, "command_name": "RSpec", "files": [{"filename": "a.rb", "coverage": [1, 0]}]}`, "simplecov-json gem"},
		{"SIMPLECOV", `{"coverage": {"/a.rb": {"lines": "x"}}}`, `coverage of "/a.rb"`},
		{"SIMPLECOV", `{"a": {"coverage": {}}} trailing`, "after the JSON object"},
		{"LCOVINFO", "DA:1,1\n", "DA record before any SF: record"},
		{"LCOVINFO", "SF:a.c\nDA:x,1\n", `line 2: DA line number "x"`},
		{"LCOVINFO", "TN:\n", "no SF: record found"},
		{"LCOVINFO", "<coverage/>\n", "not an LCOV record"},
	}
	for _, tt := range tests {
		t.Run(tt.format+" "+tt.want, func(t *testing.T) {
			var err error
			if IsCoverage(tt.format) {
				_, err = ParseCoverage(tt.format, []byte(tt.input))
			} else {
				_, err = ParseTests(tt.format, []byte(tt.input), "x")
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v is not ErrMalformed", err)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Format != tt.format {
				t.Errorf("error %v is not a ParseError for %s", err, tt.format)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "malformed "+tt.format+" file: ") {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestFormatNames(t *testing.T) {
	for _, tt := range []struct {
		in        string
		canonical string
		known     bool
		coverage  bool
	}{
		{"", "JUNITXML", true, false},
		{"junitxml", "JUNITXML", true, false},
		{" CucumberJson ", "CUCUMBERJSON", true, false},
		{"nunit3xml", "NUNIT3XML", true, false},
		{"VisualStudioTrx", "VISUALSTUDIOTRX", true, false},
		{"jacocoxml", "JACOCOXML", true, true},
		{"SimpleCov", "SIMPLECOV", true, true},
		{"simplecovjson", "SIMPLECOV", true, true},
		{"lcovinfo", "LCOVINFO", true, true},
		{"XUNITXML", "XUNITXML", false, false},
	} {
		c, ok := Canonical(tt.in)
		if c != tt.canonical || ok != tt.known || IsValid(tt.in) != tt.known || IsCoverage(tt.in) != tt.coverage {
			t.Errorf("%q: Canonical = %q, %v; IsCoverage = %v", tt.in, c, ok, IsCoverage(tt.in))
		}
	}
	if got := len(Formats()); got != 11 {
		t.Errorf("%d formats", got)
	}
	if typ, _ := ReportType("cloverxml"); typ != "CODE_COVERAGE" {
		t.Errorf("ReportType(cloverxml) = %s", typ)
	}
	if typ, _ := ReportType("testngxml"); typ != "TEST" {
		t.Errorf("ReportType(testngxml) = %s", typ)
	}
	if _, err := ReportType("nope"); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("ReportType(nope) err = %v", err)
	}
	if _, err := ParseTests("XUNITXML", []byte("<a/>"), ""); !errors.Is(err, ErrUnknownFormat) || !strings.Contains(err.Error(), `"XUNITXML"`) {
		t.Errorf("unknown test format: %v", err)
	}
	if _, err := ParseCoverage("gcov", []byte("x")); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("unknown coverage format: %v", err)
	}
	if _, err := ParseTests("JACOCOXML", []byte("<report/>"), ""); !errors.Is(err, ErrWrongKind) {
		t.Errorf("coverage format to ParseTests: %v", err)
	}
	if _, err := ParseCoverage("JUNITXML", []byte("<testsuite/>")); !errors.Is(err, ErrWrongKind) {
		t.Errorf("test format to ParseCoverage: %v", err)
	}
}

func TestSummarizeTests(t *testing.T) {
	mk := func(status string, d int64) cb.TestCase {
		return cb.TestCase{Status: cb.String(status), DurationInNanoSeconds: cb.Int64(d)}
	}
	cases := []cb.TestCase{mk("SUCCEEDED", 10), mk("FAILED", 20), mk("ERROR", 30), mk("SKIPPED", 0), mk("weird", 5), {}}
	s := SummarizeTests(cases)
	want := map[string]int32{"SUCCEEDED": 1, "FAILED": 1, "ERROR": 1, "SKIPPED": 1, "UNKNOWN": 2}
	if *s.Total != 6 || *s.DurationInNanoSeconds != 65 || len(s.StatusCounts) != 5 {
		t.Fatalf("summary %+v", s)
	}
	for k, v := range want {
		if s.StatusCounts[k] != v {
			t.Errorf("%s = %d, want %d", k, s.StatusCounts[k], v)
		}
	}
	if TestReportStatus(s) != "FAILED" {
		t.Errorf("status %s", TestReportStatus(s))
	}
	empty := SummarizeTests(nil)
	if *empty.Total != 0 || len(empty.StatusCounts) != 5 || empty.StatusCounts["UNKNOWN"] != 0 || TestReportStatus(empty) != "SUCCEEDED" {
		t.Errorf("empty summary %+v", empty)
	}
	onlyErr := SummarizeTests([]cb.TestCase{mk("ERROR", 1), mk("SKIPPED", 1)})
	if TestReportStatus(onlyErr) != "FAILED" {
		t.Errorf("ERROR only: %s", TestReportStatus(onlyErr))
	}
	skipped := SummarizeTests([]cb.TestCase{mk("SKIPPED", 1), mk("UNKNOWN", 1), mk("SUCCEEDED", 1)})
	if TestReportStatus(skipped) != "SUCCEEDED" {
		t.Errorf("skipped/unknown: %s", TestReportStatus(skipped))
	}
}

func TestLimitTests(t *testing.T) {
	var cases []cb.TestCase
	for i, s := range []string{"SUCCEEDED", "FAILED", "SKIPPED", "ERROR", "FAILED", "SUCCEEDED", "ERROR"} {
		cases = append(cases, cb.TestCase{Name: cb.String(string(rune('a' + i))), Status: cb.String(s)})
	}
	got, truncated := LimitTests(cases, 3)
	var names []string
	for _, c := range got {
		names = append(names, *c.Name)
	}
	if !truncated || strings.Join(names, "") != "bde" {
		t.Errorf("kept %v truncated %v, want [b d e] true", names, truncated)
	}
	got, truncated = LimitTests(cases, 5)
	names = nil
	for _, c := range got {
		names = append(names, *c.Name)
	}
	if !truncated || strings.Join(names, "") != "abdeg" {
		t.Errorf("kept %v, want abdeg", names)
	}
	if got, truncated := LimitTests(cases, 0); truncated || len(got) != len(cases) {
		t.Errorf("default limit truncated %d cases", len(cases))
	}
}

func TestPercentage(t *testing.T) {
	for _, tt := range []struct {
		covered, missed int64
		want            float64
	}{
		{5, 1, 83.33}, // AWS describe-code-coverages example
		{10, 1, 90.9}, // AWS: 90.909… shown as 90.9 (truncated, not 90.91)
		{1, 1, 50},
		{0, 0, 0},
		{0, 7, 0},
		{7, 0, 100},
		{2, 1, 66.66},
		{1 << 40, 0, 100},
	} {
		if got := Percentage(tt.covered, tt.missed); got != tt.want {
			t.Errorf("Percentage(%d, %d) = %v, want %v", tt.covered, tt.missed, got, tt.want)
		}
	}
}

type cov struct {
	path           string
	lc, lm, bc, bm int32
}

func checkCoverage(t *testing.T, format, input string, want []cov) {
	t.Helper()
	files, err := ParseCoverage(format, []byte(input))
	if err != nil {
		t.Fatalf("ParseCoverage: %v", err)
	}
	var got []cov
	for _, f := range files {
		got = append(got, cov{*f.FilePath, *f.LinesCovered, *f.LinesMissed, *f.BranchesCovered, *f.BranchesMissed})
		if *f.LineCoveragePercentage != Percentage(int64(*f.LinesCovered), int64(*f.LinesMissed)) ||
			*f.BranchCoveragePercentage != Percentage(int64(*f.BranchesCovered), int64(*f.BranchesMissed)) {
			t.Errorf("%s: percentages do not match counts", *f.FilePath)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("file %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

func TestCobertura(t *testing.T) {
	// Java Cobertura: an inner class shares its outer class's file; a line
	// listed by both counts once. Method-level lines repeat class lines.
	input := `<?xml version="1.0"?>
<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">
<coverage line-rate="0.5" branch-rate="0.5" version="2.1.1" timestamp="1">
<sources><source>/src/main/java</source></sources>
<packages><package name="com.example">
<classes>
<class name="com.example.Foo" filename="com/example/Foo.java">
  <methods><method name="run" signature="()V"><lines><line number="3" hits="0"/></lines></method></methods>
  <lines>
    <line number="3" hits="2" branch="true" condition-coverage="50% (1/2)"><conditions><condition number="0" type="jump" coverage="50%"/></conditions></line>
    <line number="4" hits="0" branch="false"/>
  </lines>
</class>
<class name="com.example.Foo$1" filename="com/example/Foo.java">
  <lines>
    <line number="4" hits="1" branch="false"/>
    <line number="9" hits="0" branch="true" condition-coverage="0% (0/4)"/>
  </lines>
</class>
<class name="com.example.Bar" filename="com/example/Bar.java">
  <methods><method name="m"><lines><line number="1" hits="5"/><line number="2" hits="0"/></lines></method></methods>
  <lines/>
</class>
<class name="com.example.Empty" filename="com/example/Empty.java"><lines/></class>
</classes></package></packages></coverage>`
	checkCoverage(t, CoberturaXML, input, []cov{
		{"com/example/Foo.java", 2, 1, 1, 5},
		{"com/example/Bar.java", 1, 1, 0, 0},
	})
}

func TestClover(t *testing.T) {
	input := `<coverage><project>
<file name="a.js"><line num="1" type="stmt" count="1"/><line num="2" type="cond" count="0" truecount="0" falsecount="0"/><line num="3" type="method" count="9"/><line num="4" type="cond" count="3" truecount="2" falsecount="0"/></file>
<package name="p"><file name="b.js" path="/src/b.js"><metrics statements="3" coveredstatements="5" conditionals="4" coveredconditionals="1"/></file></package>
</project><testproject><file name="a.test.js"><metrics statements="9" coveredstatements="9"/></file></testproject></coverage>`
	checkCoverage(t, CloverXML, input, []cov{
		{"a.js", 2, 1, 1, 3},
		{"/src/b.js", 3, 0, 1, 3},
	})
}

func TestJaCoCoLinesOnly(t *testing.T) {
	input := `<report name="r"><group name="g"><package name="org/x">
<sourcefile name="A.java"><line nr="1" mi="0" ci="3" mb="1" cb="1"/><line nr="2" mi="2" ci="0" mb="0" cb="0"/><line nr="3" mi="0" ci="0"/></sourcefile>
</package></group><package name=""><sourcefile name="B.java"><counter type="LINE" missed="1" covered="2"/></sourcefile></package></report>`
	checkCoverage(t, JaCoCoXML, input, []cov{
		{"org/x/A.java", 1, 1, 1, 1},
		{"B.java", 2, 1, 0, 0},
	})
}

func TestLCOVTotalsOnly(t *testing.T) {
	input := "TN:test\nSF:/src/a.c\nLF:10\nLH:4\nBRF:2\nBRH:3\nend_of_record\nSF:/src/b.c\nDA:1,0\nDA:1,5\nDA:2,0,abc123\nBRDA:1,0,0,-\nBRDA:1,0,1,2\nend_of_record\n"
	checkCoverage(t, LCOVInfo, input, []cov{
		{"/src/a.c", 4, 6, 2, 0},
		{"/src/b.c", 1, 1, 1, 1},
	})
}

func TestSimpleCovLegacy(t *testing.T) {
	input := `{"Unit Tests": {"coverage": {"/a.rb": [1, null, 0, "ignored"], "/b.rb": {"lines": [null, 0]}}, "timestamp": 1},
	 "Integration": {"coverage": {"/a.rb": [0, null, 2]}, "timestamp": 2}}`
	checkCoverage(t, SimpleCov, input, []cov{
		{"/a.rb", 2, 0, 0, 0},
		{"/b.rb", 0, 1, 0, 0},
	})
}

func TestSummarizeCoverage(t *testing.T) {
	files, err := ParseCoverage(LCOVInfo, []byte("SF:a\nLF:6\nLH:5\nBRF:2\nBRH:1\nend_of_record\nSF:b\nLF:11\nLH:10\nBRF:2\nBRH:1\nend_of_record\n"))
	if err != nil {
		t.Fatal(err)
	}
	if *files[0].LineCoveragePercentage != 83.33 || *files[1].LineCoveragePercentage != 90.9 || *files[0].BranchCoveragePercentage != 50 {
		t.Errorf("percentages %v %v %v", *files[0].LineCoveragePercentage, *files[1].LineCoveragePercentage, *files[0].BranchCoveragePercentage)
	}
	s := SummarizeCoverage(files)
	if *s.LinesCovered != 15 || *s.LinesMissed != 2 || *s.LineCoveragePercentage != 88.23 ||
		*s.BranchesCovered != 2 || *s.BranchesMissed != 2 || *s.BranchCoveragePercentage != 50 {
		t.Errorf("summary %+v", s)
	}
	z := SummarizeCoverage(nil)
	if *z.LineCoveragePercentage != 0 || *z.LinesCovered != 0 {
		t.Errorf("empty summary %+v", z)
	}
}

func TestDurations(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{
		{"", 0}, {"0", 0}, {"0.000", 0}, {"0.002", 2000000}, {"46.089", 46089000000},
		{"0.0000000015", 1}, {".5", 500000000}, {"5.", 5000000000}, {"+1", 1000000000},
		{"1E2", 100000000000}, {"NaN", 0}, {"Inf", 0}, {"-0.5", 0},
		{"99999999999999999999", 9223372036854775807}, {"1e300", 9223372036854775807},
	} {
		if got := secondsToNanos(tt.in); got != tt.want {
			t.Errorf("secondsToNanos(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
	if got := millisToNanos("1500"); got != 1500000000 {
		t.Errorf("millisToNanos(1500) = %d", got)
	}
	for _, tt := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"00:00:00.0032953", 3295300, true},
		{"00:01:02", 62000000000, true},
		{"2.00:00:01.5", 2*86400e9 + 1.5e9, true},
		{"garbage", 0, false},
		{"1:x:3", 0, false},
	} {
		got, ok := timeSpanToNanos(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("timeSpanToNanos(%q) = %d, %v", tt.in, got, ok)
		}
	}
}

func TestTidyLines(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"No arguments were provided", "No arguments were provided"},
		{"at A()\r\nat B()\r\n", "at A()\nat B()\n"},
		{"\n      System.Exception : boom\n      ", "      System.Exception : boom\n"},
		{"  Expected: 3\n  But was:  2\n", "  Expected: 3\n  But was:  2\n"},
		{" \n\t ", ""},
		{" padded ", " padded"},
	} {
		if got := tidyLines(tt.in); got != tt.want {
			t.Errorf("tidyLines(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWindows1252(t *testing.T) {
	checkCases(t, JUnitXML, "<?xml version='1.0' encoding='windows-1252'?><testsuite name='s'><testcase name='\x93quoted\x94 \x80'/></testsuite>",
		[]tc{{"s", "\u201cquoted\u201d \u20ac", "s", "SUCCEEDED", "", 0}})
}
