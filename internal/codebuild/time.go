package codebuild

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Time is a model timestamp. On the wire (AWS JSON 1.1) it is a JSON number
// of epoch seconds with millisecond precision, as AWS emits it; the Go SDK
// rejects anything else.
type Time struct{ time.Time }

// At returns t truncated to the millisecond precision AWS reports.
func At(t time.Time) *Time { return &Time{t.Truncate(time.Millisecond)} }

// MarshalJSON renders epoch seconds, e.g. 1479832474.764.
func (t Time) MarshalJSON() ([]byte, error) {
	ms := t.UnixMilli()
	sec, frac := ms/1000, ms%1000
	if frac < 0 {
		sec--
		frac += 1000
	}
	b := strconv.AppendInt(nil, sec, 10)
	if frac != 0 {
		b = append(b, '.')
		b = append(b, byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
		b = bytes.TrimRight(b, "0")
	}
	return b, nil
}

// UnmarshalJSON accepts epoch seconds (what every client sends) and, for
// leniency, an RFC 3339 string.
func (t *Time) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		s, err := strconv.Unquote(string(b))
		if err != nil {
			return err
		}
		p, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("timestamp %q: %w", s, err)
		}
		t.Time = p
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("timestamp %s: %w", b, err)
	}
	sec, frac := math.Modf(f)
	t.Time = time.Unix(int64(sec), int64(math.Round(frac*1000))*int64(time.Millisecond)).UTC()
	return nil
}
