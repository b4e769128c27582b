package executor

import (
	"io"
	"sort"
	"strings"
)

// Masker hides secret values in what it writes on to W. Executors write
// whole lines, so a value is never split across two writes (except inside
// a line longer than 64 KiB).
type Masker struct {
	w       io.Writer
	secrets []string
}

// NewMasker masks secrets (values shorter than 3 bytes are left alone, as
// masking them would hide ordinary text) in what is written to w.
func NewMasker(w io.Writer, secrets []string) *Masker {
	var keep []string
	for _, s := range secrets {
		if len(s) >= 3 {
			keep = append(keep, s)
		}
	}
	sort.Slice(keep, func(i, j int) bool { return len(keep[i]) > len(keep[j]) })
	return &Masker{w: w, secrets: keep}
}

// Mask returns s with every secret value replaced by "***".
func (m *Masker) Mask(s string) string {
	for _, sec := range m.secrets {
		s = strings.ReplaceAll(s, sec, "***")
	}
	return s
}

// Write implements io.Writer.
func (m *Masker) Write(p []byte) (int, error) {
	if _, err := m.w.Write([]byte(m.Mask(string(p)))); err != nil {
		return 0, err
	}
	return len(p), nil
}
