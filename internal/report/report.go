// Package report turns CodeBuild test-report and code-coverage files into
// CodeBuild's report model: one cb.TestCase per test case, one
// cb.CodeCoverage per source file, and the report summaries.
//
// The package is pure: it parses the bytes it is given and has no file
// system, network, clock or logging. The caller fills the fields that
// depend on the report (reportArn, expired, id) and decides what a parse
// error means (CodeBuild fails that report, not the build).
//
// Formats are CodeBuild's buildspec file-format values, matched
// case-insensitively: JUNITXML (the default), CUCUMBERJSON, TESTNGXML,
// NUNITXML (NUnit 2), NUNIT3XML and VISUALSTUDIOTRX for test reports;
// CLOVERXML, COBERTURAXML, JACOCOXML, SIMPLECOV and LCOVINFO for code
// coverage.
package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
)

// Test report formats.
const (
	JUnitXML        = "JUNITXML"
	CucumberJSON    = "CUCUMBERJSON"
	TestNGXML       = "TESTNGXML"
	NUnitXML        = "NUNITXML"
	NUnit3XML       = "NUNIT3XML"
	VisualStudioTRX = "VISUALSTUDIOTRX"
)

// Code coverage formats. LCOVINFO is not a documented buildspec keyword:
// CodeBuild's documentation lists "LCOV INFO" as a supported coverage
// format without naming its keyword.
const (
	CloverXML    = "CLOVERXML"
	CoberturaXML = "COBERTURAXML"
	JaCoCoXML    = "JACOCOXML"
	SimpleCov    = "SIMPLECOV"
	LCOVInfo     = "LCOVINFO"
)

// DefaultFormat is the format of a report whose buildspec entry has no
// file-format.
const DefaultFormat = JUnitXML

// Test case statuses.
const (
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusError     = "ERROR"
	StatusSkipped   = "SKIPPED"
	StatusUnknown   = "UNKNOWN"
)

// Limits CodeBuild applies to a report.
const (
	MaxTestCases     = 500  // test cases kept per report
	MaxMessageLength = 5000 // characters of TestCase.message
	MaxNameLength    = 1000 // characters of TestCase.name
)

var (
	testFormats     = []string{JUnitXML, CucumberJSON, TestNGXML, NUnitXML, NUnit3XML, VisualStudioTRX}
	coverageFormats = []string{CloverXML, CoberturaXML, JaCoCoXML, SimpleCov, LCOVInfo}
	aliases         = map[string]string{"SIMPLECOVJSON": SimpleCov}
	statuses        = []string{StatusSucceeded, StatusFailed, StatusError, StatusSkipped, StatusUnknown}
)

// ErrUnknownFormat is returned (wrapped) for a format that is not one of
// the known values.
var ErrUnknownFormat = errors.New("unknown report file format")

// ErrWrongKind is returned (wrapped) when a coverage format is given to
// ParseTests or a test format to ParseCoverage.
var ErrWrongKind = errors.New("report file format of the wrong kind")

// ErrMalformed matches (with errors.Is) every *ParseError.
var ErrMalformed = errors.New("malformed report file")

// ParseError is a file that could not be read as its format.
type ParseError struct {
	Format string // canonical format name
	Err    error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("malformed %s file: %v", e.Format, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrMalformed) true.
func (e *ParseError) Is(target error) bool { return target == ErrMalformed }

// TestFormats returns the test report formats.
func TestFormats() []string { return slices.Clone(testFormats) }

// CoverageFormats returns the code coverage formats.
func CoverageFormats() []string { return slices.Clone(coverageFormats) }

// Formats returns every known format, test formats first.
func Formats() []string { return append(TestFormats(), coverageFormats...) }

// Canonical returns the canonical name of a format given in any case (an
// empty format is DefaultFormat; SIMPLECOVJSON is accepted for SIMPLECOV)
// and whether the format is known.
func Canonical(format string) (string, bool) {
	f := strings.ToUpper(strings.TrimSpace(format))
	if f == "" {
		return DefaultFormat, true
	}
	if a, ok := aliases[f]; ok {
		f = a
	}
	if slices.Contains(testFormats, f) || slices.Contains(coverageFormats, f) {
		return f, true
	}
	return f, false
}

// IsValid reports whether format is a known format.
func IsValid(format string) bool {
	_, ok := Canonical(format)
	return ok
}

// IsCoverage reports whether format is a known code coverage format (its
// report group type is CODE_COVERAGE rather than TEST).
func IsCoverage(format string) bool {
	f, ok := Canonical(format)
	return ok && slices.Contains(coverageFormats, f)
}

// ReportType returns the report group type for a known format: TEST or
// CODE_COVERAGE.
func ReportType(format string) (string, error) {
	f, ok := Canonical(format)
	if !ok {
		return "", unknown(format)
	}
	if slices.Contains(coverageFormats, f) {
		return "CODE_COVERAGE", nil
	}
	return "TEST", nil
}

func unknown(format string) error {
	return fmt.Errorf("%w %q (known: %s)", ErrUnknownFormat, format, strings.Join(Formats(), ", "))
}

// ParseTests parses a test report file. rawPath becomes each case's
// testRawDataPath (left unset when empty). Cases come in file order.
// Names are cut to MaxNameLength and messages to MaxMessageLength
// characters; the 500-case limit is the caller's (see LimitTests).
func ParseTests(format string, data []byte, rawPath string) ([]cb.TestCase, error) {
	var out []cb.TestCase
	if err := ReadTests(format, bytes.NewReader(data), rawPath, func(c cb.TestCase) { out = append(out, c) }); err != nil {
		return nil, err
	}
	return out, nil
}

// ReadTests is ParseTests for a file read from r: add is called for each
// case as it is read. JUnit XML files, which can be tens of megabytes,
// are read as a stream (one test case in memory at a time); the other
// formats are read whole. When the file turns out malformed, the cases
// read before the error have been added.
func ReadTests(format string, r io.Reader, rawPath string, add func(cb.TestCase)) (err error) {
	f, ok := Canonical(format)
	if !ok {
		return unknown(format)
	}
	defer func() {
		if r := recover(); r != nil {
			err = &ParseError{Format: f, Err: fmt.Errorf("internal parser error: %v", r)}
		}
	}()
	if f == JUnitXML {
		blank := &blankReader{r: r, blank: true}
		err := streamJUnit(blank, func(t testCase) error { add(t.model(rawPath)); return nil })
		if err != nil && blank.blank {
			err = errors.New("file is empty")
		}
		if err != nil {
			return &ParseError{Format: f, Err: err}
		}
		return nil
	}
	var parse func([]byte) ([]testCase, error)
	switch f {
	case CucumberJSON:
		parse = parseCucumber
	case TestNGXML:
		parse = parseTestNG
	case NUnitXML:
		parse = parseNUnit2
	case NUnit3XML:
		parse = parseNUnit3
	case VisualStudioTRX:
		parse = parseTRX
	default:
		return fmt.Errorf("%w: %s is a code coverage format, not a test report format", ErrWrongKind, f)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	cases, err := parseWith(f, data, parse, func(t testCase) (cb.TestCase, bool) { return t.model(rawPath), true })
	for _, c := range cases {
		add(c)
	}
	return err
}

// blankReader notes whether everything read so far was white space.
type blankReader struct {
	r     io.Reader
	blank bool
}

func (b *blankReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.blank = b.blank && isBlank(p[:n])
	return n, err
}

// parseWith runs a format's parser on data and turns what it found into the
// model (keep false drops an item); an empty file, a parse error and a
// panic in the parser are ParseErrors.
func parseWith[T, M any](format string, data []byte, parse func([]byte) ([]T, error), model func(T) (M, bool)) (out []M, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, &ParseError{Format: format, Err: fmt.Errorf("internal parser error: %v", r)}
		}
	}()
	if isBlank(data) {
		return nil, &ParseError{Format: format, Err: errors.New("file is empty")}
	}
	items, err := parse(data)
	if err != nil {
		return nil, &ParseError{Format: format, Err: err}
	}
	out = make([]M, 0, len(items))
	for _, it := range items {
		if m, keep := model(it); keep {
			out = append(out, m)
		}
	}
	return out, nil
}

// ParseCoverage parses a code coverage file into one entry per source
// file, in file order. Files with neither lines nor branches to cover are
// left out. Entries for the same path are merged.
func ParseCoverage(format string, data []byte) ([]cb.CodeCoverage, error) {
	f, ok := Canonical(format)
	if !ok {
		return nil, unknown(format)
	}
	var parse func([]byte) ([]fileCoverage, error)
	switch f {
	case CloverXML:
		parse = parseClover
	case CoberturaXML:
		parse = parseCobertura
	case JaCoCoXML:
		parse = parseJaCoCo
	case SimpleCov:
		parse = parseSimpleCov
	case LCOVInfo:
		parse = parseLCOV
	default:
		return nil, fmt.Errorf("%w: %s is a test report format, not a code coverage format", ErrWrongKind, f)
	}
	return parseWith(f, data, parse, func(c fileCoverage) (cb.CodeCoverage, bool) {
		return c.model(), c.linesCovered+c.linesMissed+c.branchesCovered+c.branchesMissed > 0
	})
}

// SummarizeTests returns the report's test summary: total (every case),
// the count of each of the five statuses (all present, zeros included)
// and the summed duration. A case with an unrecognised or missing status
// counts as UNKNOWN.
func SummarizeTests(cases []cb.TestCase) cb.TestReportSummary {
	t := NewTests(1) // only the counts are needed
	for _, c := range cases {
		t.Add(c)
	}
	return t.Summary()
}

// Tests gathers a report's test cases as they are read, in memory bounded
// by its limit whatever their number: the summary of every case
// (SummarizeTests) and the cases kept (LimitTests).
type Tests struct {
	limit  int
	seen   int
	total  int32
	counts map[string]int32
	dur    int64
	// The first limit cases of each priority, with their positions.
	failed, errored, other []seenCase
}

type seenCase struct {
	at int
	c  cb.TestCase
}

// NewTests gathers cases keeping at most limit (MaxTestCases when limit
// <= 0).
func NewTests(limit int) *Tests {
	if limit <= 0 {
		limit = MaxTestCases
	}
	t := &Tests{limit: limit, counts: make(map[string]int32, len(statuses))}
	for _, s := range statuses {
		t.counts[s] = 0
	}
	return t
}

// Add counts a case, and keeps it if it may be among those kept.
func (t *Tests) Add(c cb.TestCase) {
	s := cb.Deref(c.Status)
	if _, ok := t.counts[s]; !ok {
		s = StatusUnknown
	}
	t.counts[s] = addInt32(t.counts[s], 1)
	t.total = addInt32(t.total, 1)
	t.dur = addInt64(t.dur, max(cb.Deref(c.DurationInNanoSeconds), 0))
	list := &t.other
	switch cb.Deref(c.Status) {
	case StatusFailed:
		list = &t.failed
	case StatusError:
		list = &t.errored
	}
	if len(*list) < t.limit {
		*list = append(*list, seenCase{t.seen, c})
	}
	t.seen++
}

// Summary is the summary of every case added.
func (t *Tests) Summary() cb.TestReportSummary {
	return cb.TestReportSummary{Total: cb.Int32(t.total), StatusCounts: maps.Clone(t.counts), DurationInNanoSeconds: cb.Int64(t.dur)}
}

// Kept returns the cases kept, in the order they were added, and whether
// any were dropped: FAILED cases first, then ERROR, then the others, each
// in the order added, up to the limit.
func (t *Tests) Kept() ([]cb.TestCase, bool) {
	keep := make([]seenCase, 0, min(t.seen, t.limit))
	for _, list := range [][]seenCase{t.failed, t.errored, t.other} {
		keep = append(keep, list[:min(len(list), t.limit-len(keep))]...)
	}
	slices.SortFunc(keep, func(a, b seenCase) int { return a.at - b.at })
	out := make([]cb.TestCase, len(keep))
	for i, k := range keep {
		out[i] = k.c
	}
	return out, len(keep) < t.seen
}

// TestReportStatus returns the status of a finished test report from its
// summary: FAILED when any case FAILED or ended in ERROR, else SUCCEEDED.
func TestReportStatus(s cb.TestReportSummary) string {
	if s.StatusCounts[StatusFailed] > 0 || s.StatusCounts[StatusError] > 0 {
		return StatusFailed
	}
	return StatusSucceeded
}

// LimitTests keeps at most limit cases (MaxTestCases when limit <= 0) and
// reports whether any were dropped. FAILED cases are kept first, then
// ERROR, then the others, each in file order; the kept cases are returned
// in their original order. Summaries should be computed before limiting.
func LimitTests(cases []cb.TestCase, limit int) ([]cb.TestCase, bool) {
	if limit <= 0 {
		limit = MaxTestCases
	}
	if len(cases) <= limit {
		return cases, false
	}
	t := NewTests(limit)
	for _, c := range cases {
		t.Add(c)
	}
	return t.Kept()
}

// SummarizeCoverage returns the report's coverage summary: the summed
// counts and the percentages computed from them.
func SummarizeCoverage(files []cb.CodeCoverage) cb.CodeCoverageReportSummary {
	var lc, lm, bc, bm int64
	for _, f := range files {
		lc += int64(max(cb.Deref(f.LinesCovered), 0))
		lm += int64(max(cb.Deref(f.LinesMissed), 0))
		bc += int64(max(cb.Deref(f.BranchesCovered), 0))
		bm += int64(max(cb.Deref(f.BranchesMissed), 0))
	}
	lc, lm, bc, bm = clamp32(lc), clamp32(lm), clamp32(bc), clamp32(bm)
	return cb.CodeCoverageReportSummary{
		LineCoveragePercentage:   float64p(Percentage(lc, lm)),
		LinesCovered:             cb.Int32(int32(lc)),
		LinesMissed:              cb.Int32(int32(lm)),
		BranchCoveragePercentage: float64p(Percentage(bc, bm)),
		BranchesCovered:          cb.Int32(int32(bc)),
		BranchesMissed:           cb.Int32(int32(bm)),
	}
}

// Percentage returns covered / (covered + missed) × 100, truncated (not
// rounded) to two decimals, and 0 when there is nothing to cover. AWS's
// own output shows truncation: 10 covered, 1 missed → 90.9 (90.909…),
// 5 and 1 → 83.33.
func Percentage(covered, missed int64) float64 {
	covered, missed = clamp32(covered), clamp32(missed)
	total := covered + missed
	if total == 0 {
		return 0
	}
	return float64(covered*10000/total) / 100
}

// testCase is what the format parsers produce.
type testCase struct {
	prefix, name, suite, status, message string
	duration                             int64
}

func (t testCase) model(rawPath string) cb.TestCase {
	c := cb.TestCase{
		Prefix:                cb.String(t.prefix),
		Name:                  cb.String(cutRunes(t.name, MaxNameLength)),
		Status:                cb.String(t.status),
		DurationInNanoSeconds: cb.Int64(max(t.duration, 0)),
	}
	if rawPath != "" {
		c.TestRawDataPath = cb.String(rawPath)
	}
	if t.suite != "" {
		c.TestSuiteName = cb.String(t.suite)
	}
	if t.message != "" {
		c.Message = cb.String(cutRunes(t.message, MaxMessageLength))
	}
	return c
}

// fileCoverage is what the coverage parsers produce.
type fileCoverage struct {
	path                                                       string
	linesCovered, linesMissed, branchesCovered, branchesMissed int64
}

func (f fileCoverage) model() cb.CodeCoverage {
	lc, lm := clamp32(f.linesCovered), clamp32(f.linesMissed)
	bc, bm := clamp32(f.branchesCovered), clamp32(f.branchesMissed)
	return cb.CodeCoverage{
		FilePath:                 cb.String(f.path),
		LineCoveragePercentage:   float64p(Percentage(lc, lm)),
		LinesCovered:             cb.Int32(int32(lc)),
		LinesMissed:              cb.Int32(int32(lm)),
		BranchCoveragePercentage: float64p(Percentage(bc, bm)),
		BranchesCovered:          cb.Int32(int32(bc)),
		BranchesMissed:           cb.Int32(int32(bm)),
	}
}

// coverageSet collects per-file counts in first-seen order, merging
// entries for the same path by adding their counts.
type coverageSet struct {
	files []fileCoverage
	index map[string]int
}

func (s *coverageSet) add(f fileCoverage) {
	if s.index == nil {
		s.index = map[string]int{}
	}
	if i, ok := s.index[f.path]; ok {
		g := &s.files[i]
		g.linesCovered = addInt64(g.linesCovered, f.linesCovered)
		g.linesMissed = addInt64(g.linesMissed, f.linesMissed)
		g.branchesCovered = addInt64(g.branchesCovered, f.branchesCovered)
		g.branchesMissed = addInt64(g.branchesMissed, f.branchesMissed)
		return
	}
	s.index[f.path] = len(s.files)
	s.files = append(s.files, f)
}

func isBlank(b []byte) bool {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r != ' ' && r != '\t' && r != '\r' && r != '\n' && r != '\uFEFF' {
			return false
		}
		b = b[n:]
	}
	return true
}

func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

func clamp32(v int64) int64 {
	return min(max(v, 0), math.MaxInt32)
}

func addInt32(a, b int32) int32 {
	if b > 0 && a > math.MaxInt32-b {
		return math.MaxInt32
	}
	return a + b
}

func addInt64(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// float64p returns a pointer to f (the codebuild package has no helper for
// float64 members).
func float64p(f float64) *float64 { return &f }
