package report

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// secondsToNanos converts a duration in decimal seconds ("0.002", "46.089",
// "1,234.5", "0,25", "1e-3") to nanoseconds. Empty, negative or unreadable
// values are 0; huge values saturate.
func secondsToNanos(s string) int64 { return scaled(s, 9) }

// millisToNanos converts a duration in (possibly decimal) milliseconds.
func millisToNanos(s string) int64 { return scaled(s, 6) }

// scaled returns the decimal number s × 10^digits, truncated to an
// integer. Plain decimals are converted exactly; other forms go through
// float64.
func scaled(s string, digits int) int64 {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0
	}
	if strings.Contains(s, ",") {
		if strings.Contains(s, ".") {
			s = strings.ReplaceAll(s, ",", "") // thousands separators
		} else {
			s = strings.ReplaceAll(s, ",", ".") // decimal comma
		}
	}
	s = strings.TrimPrefix(s, "+")
	if v, ok := exactDecimal(s, digits); ok {
		return v
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 {
		return 0
	}
	f *= math.Pow10(digits)
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(math.Round(f))
}

// exactDecimal parses digits[.digits] without going through float64.
func exactDecimal(s string, digits int) (int64, bool) {
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" || !allDigits(intPart) || !allDigits(frac) {
		return 0, false
	}
	intPart = strings.TrimLeft(intPart, "0")
	if len(frac) > digits {
		frac = frac[:digits]
	}
	frac += strings.Repeat("0", digits-len(frac))
	all := strings.TrimLeft(intPart+frac, "0")
	if all == "" {
		return 0, true
	}
	if len(all) > 18 {
		return math.MaxInt64, true
	}
	v, err := strconv.ParseInt(all, 10, 64)
	if err != nil {
		return math.MaxInt64, true
	}
	return v, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// timeSpanToNanos converts a .NET TimeSpan string ("00:00:00.0032953",
// "1.02:03:04.5") to nanoseconds.
func timeSpanToNanos(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	if neg {
		return 0, true
	}
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, false
	}
	var days int64
	hours := parts[0]
	if d, h, ok := strings.Cut(hours, "."); ok {
		v, err := strconv.ParseInt(d, 10, 64)
		if err != nil || v < 0 || v > 100000 {
			return 0, false
		}
		days, hours = v, h
	}
	h, err1 := strconv.ParseInt(hours, 10, 64)
	m, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil || h < 0 || m < 0 || h > 1000000 || m > 1000000 || !allDigitsOrDot(parts[2]) {
		return 0, false
	}
	sec := secondsToNanos(parts[2])
	whole := ((days*24+h)*60 + m) * 60
	if whole > math.MaxInt64/int64(time.Second)-1 {
		return math.MaxInt64, true
	}
	return addInt64(whole*int64(time.Second), sec), true
}

func allDigitsOrDot(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return true
}

// between returns end − start in nanoseconds for two RFC 3339 times, or 0.
func between(start, end string) int64 {
	a, err1 := time.Parse(time.RFC3339Nano, strings.TrimSpace(start))
	b, err2 := time.Parse(time.RFC3339Nano, strings.TrimSpace(end))
	if err1 != nil || err2 != nil || b.Before(a) {
		return 0
	}
	return int64(b.Sub(a))
}

// count parses a non-negative count attribute ("12", "12.0"); anything
// unreadable or negative is 0.
func count(s string) int64 {
	s = strings.TrimSpace(s)
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return max(v, 0)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 {
		return 0
	}
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(f)
}

// joinMessage joins the non-empty parts of a message, trimmed, one per line,
// dropping a part already contained in an earlier one (a failure's message
// attribute is usually repeated at the start of its text).
func joinMessage(parts ...string) string {
	var kept []string
	for _, p := range parts {
		p = strings.TrimSpace(strings.ReplaceAll(p, "\r\n", "\n"))
		if p == "" {
			continue
		}
		dup := false
		for i, k := range kept {
			if strings.Contains(k, p) {
				dup = true
				break
			}
			if strings.Contains(p, k) {
				kept[i] = p
				dup = true
				break
			}
		}
		if !dup {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "\n")
}
