package report

import (
	"bytes"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
)

// seed adds every testdata sample of the given kind, with the index of its
// format in formats.
func seed(f *testing.F, formats []string) {
	for _, s := range samples(f) {
		for i, name := range formats {
			if name == s.format {
				data, err := os.ReadFile(s.path)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(uint8(i), data)
			}
		}
	}
}

func FuzzParseTests(f *testing.F) {
	formats := TestFormats()
	seed(f, formats)
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		format := formats[int(which)%len(formats)]
		cases, err := ParseTests(format, data, "f.xml")
		if err != nil {
			if strings.Contains(err.Error(), "internal parser error") {
				t.Fatalf("%s: %v", format, err)
			}
			return
		}
		known := map[string]bool{StatusSucceeded: true, StatusFailed: true, StatusError: true, StatusSkipped: true, StatusUnknown: true}
		for _, c := range cases {
			if c.Status == nil || !known[*c.Status] {
				t.Fatalf("%s: status %v", format, c.Status)
			}
			if c.DurationInNanoSeconds == nil || *c.DurationInNanoSeconds < 0 {
				t.Fatalf("%s: duration %v", format, c.DurationInNanoSeconds)
			}
			if c.Name == nil || c.Prefix == nil || utf8.RuneCountInString(*c.Name) > MaxNameLength {
				t.Fatalf("%s: name %v prefix %v", format, c.Name, c.Prefix)
			}
			if c.Message != nil && (*c.Message == "" || utf8.RuneCountInString(*c.Message) > MaxMessageLength) {
				t.Fatalf("%s: message of %d characters", format, utf8.RuneCountInString(*c.Message))
			}
		}
		s := SummarizeTests(cases)
		var sum int32
		for _, n := range s.StatusCounts {
			sum += n
		}
		if int(*s.Total) != len(cases) || sum != *s.Total || *s.DurationInNanoSeconds < 0 {
			t.Fatalf("%s: summary %+v for %d cases", format, s, len(cases))
		}
	})
}

func FuzzParseCoverage(f *testing.F) {
	formats := CoverageFormats()
	seed(f, formats)
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		format := formats[int(which)%len(formats)]
		files, err := ParseCoverage(format, data)
		if err != nil {
			if strings.Contains(err.Error(), "internal parser error") {
				t.Fatalf("%s: %v", format, err)
			}
			return
		}
		check := func(lc, lm, bc, bm int32, lp, bp float64) {
			if lc < 0 || lm < 0 || bc < 0 || bm < 0 || lp < 0 || lp > 100 || bp < 0 || bp > 100 ||
				lp != Percentage(int64(lc), int64(lm)) || bp != Percentage(int64(bc), int64(bm)) {
				t.Fatalf("%s: counts %d %d %d %d percentages %v %v", format, lc, lm, bc, bm, lp, bp)
			}
		}
		for _, c := range files {
			if c.FilePath == nil {
				t.Fatalf("%s: no file path", format)
			}
			check(cb.Deref(c.LinesCovered), cb.Deref(c.LinesMissed), cb.Deref(c.BranchesCovered), cb.Deref(c.BranchesMissed),
				cb.Deref(c.LineCoveragePercentage), cb.Deref(c.BranchCoveragePercentage))
		}
		s := SummarizeCoverage(files)
		check(*s.LinesCovered, *s.LinesMissed, *s.BranchesCovered, *s.BranchesMissed, *s.LineCoveragePercentage, *s.BranchCoveragePercentage)
	})
}

// FuzzNormalizerChunks: however a file's bytes are cut into chunks, the
// normalised stream and the test cases read from it are the same.
func FuzzNormalizerChunks(f *testing.F) {
	seed(f, TestFormats())
	for _, s := range []string{
		"\xFF\xFE<\x00a\x00>\x00=\xD8\x00\xDE<\x00/\x00a\x00>\x00", // UTF-16LE with a surrogate pair
		"\xFE\xFF\x00<\x00a\x00>\xD8=\xDE\x00\x00<\x00/\x00a\x00>",
		"<?xml version='1.0' encoding='ISO-8859-1'?><a>caf\xE9 \x80</a>",
		"<?xml version=\"1.0\" encoding=\"windows-1252\"?><a>\x93q\x94</a>",
		"<a>&#x1b;[31m&#27;&#x10FFFF;&#1114112;\x1b[0m\xC3</a>",
		"\xEF\xBB\xBF<a>é\xE2\x82</a>",
	} {
		f.Add(uint8(0), []byte(s))
	}
	f.Fuzz(func(t *testing.T, size uint8, data []byte) {
		read := func(n int) ([]byte, []cb.TestCase, error) {
			defer func(old int) { chunk = old }(chunk)
			chunk = n
			out, err := io.ReadAll(newNormalizer(bytes.NewReader(data)))
			if err != nil {
				t.Fatal(err)
			}
			cases, perr := ParseTests(JUnitXML, data, "f.xml")
			return out, cases, perr
		}
		whole, wholeCases, wholeErr := read(64 << 10)
		cut, cutCases, cutErr := read(int(size%13) + 1)
		if !bytes.Equal(whole, cut) {
			t.Fatalf("chunks of %d: %q, whole: %q", size%13+1, cut, whole)
		}
		if !utf8.Valid(whole) {
			t.Fatalf("not UTF-8: %q", whole)
		}
		if (wholeErr == nil) != (cutErr == nil) || !reflect.DeepEqual(wholeCases, cutCases) {
			t.Fatalf("cases differ: %v %v / %v %v", wholeCases, wholeErr, cutCases, cutErr)
		}
	})
}
