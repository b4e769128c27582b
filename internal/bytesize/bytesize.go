// Package bytesize reads and writes sizes in bytes as flags give them
// ("64KiB", "1GiB").
package bytesize

import (
	"fmt"
	"strings"
)

// Parse reads a size in bytes: a whole number with an optional unit,
// KiB, MiB, GiB or TiB (powers of 1024; K, M, G, T and KB, MB, GB, TB mean
// the same, as they do for disks in most tools' flags).
func Parse(v string) (int64, error) {
	s := strings.TrimSpace(v)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i > 18 {
		return 0, fmt.Errorf("size %q: want a number of bytes, optionally with a unit (KiB, MiB, GiB, TiB)", v)
	}
	var n int64
	for _, c := range s[:i] {
		n = n*10 + int64(c-'0')
	}
	unit := strings.ToUpper(strings.TrimSpace(s[i:]))
	shift := map[string]uint{"": 0, "B": 0, "K": 10, "KB": 10, "KIB": 10, "M": 20, "MB": 20, "MIB": 20, "G": 30, "GB": 30, "GIB": 30, "T": 40, "TB": 40, "TIB": 40}
	sh, ok := shift[unit]
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit %q (want KiB, MiB, GiB or TiB)", v, s[i:])
	}
	if n > (1<<62)>>sh {
		return 0, fmt.Errorf("size %q is too large", v)
	}
	return n << sh, nil
}

// Format writes n bytes the way Parse reads them, in the largest
// unit that divides it.
func Format(n int64) string {
	for _, u := range []struct {
		name  string
		shift uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n != 0 && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d%s", n>>u.shift, u.name)
		}
	}
	return fmt.Sprintf("%d", n)
}
