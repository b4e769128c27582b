package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// writeSection puts text between the markers of a named section of a
// markdown file: it replaces the section if the file has it, else appends
// it (creating the file if need be).
func writeSection(path, name, text string) error {
	begin := "<!-- " + name + " results: begin (written by scripts/" + name + ") -->"
	end := "<!-- " + name + " results: end -->"
	section := begin + "\n" + strings.TrimRight(text, "\n") + "\n" + end + "\n"
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	switch {
	case i >= 0 && j > i:
		s = s[:i] + section + strings.TrimPrefix(s[j+len(end):], "\n")
	case s == "":
		s = section
	default:
		s = strings.TrimRight(s, "\n") + "\n\n" + section
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// machine describes where and when a run happened.
func machine() string {
	host, _ := os.Hostname()
	goVersion, _ := exec.Command("go", "version").Output()
	model := ""
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	load := ""
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(data))[:3], " ")
	}
	rev := ""
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		rev = ", commit " + strings.TrimSpace(string(out))
		if out, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(out) > 0 {
			rev += fmt.Sprintf(" with uncommitted changes to %d files", strings.Count(string(out), "\n"))
		}
	}
	return fmt.Sprintf("%s on %s (%d CPUs%s, %s/%s, load average before the run %s), %s%s",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), host, runtime.NumCPU(), prefixed(", ", model),
		runtime.GOOS, runtime.GOARCH, load, strings.TrimSpace(string(goVersion)), rev)
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}
