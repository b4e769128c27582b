// Package testproc helps test helpers and tools that start servers of their
// own (pgtest, s3test, the bench, the reliability tools): free ports,
// watchdogs that clean up when the test binary dies without doing so
// itself, and a process's memory.
package testproc

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// FreePort returns a TCP port free on 127.0.0.1 right now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	a, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, fmt.Errorf("unexpected address %v", l.Addr())
	}
	return a.Port, nil
}

// Watchdog starts script (a /bin/sh script, named name, with args) in a
// process group of its own, reading from a pipe: the script notices the
// test binary's end when the pipe closes, whatever ended it. Close the
// pipe and wait for the command when the server was stopped normally.
func Watchdog(script, name string, args ...string) (*exec.Cmd, io.WriteCloser, error) {
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, name}, args...)...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pipe, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("watchdog: %w", err)
	}
	return cmd, pipe, nil
}

// RSS returns a process's resident set size and its peak (VmRSS and VmHWM
// of /proc/PID/status), in bytes; 0, 0 if it cannot be read.
func RSS(pid int) (cur, peak int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			cur = v * 1024
		case "VmHWM:":
			peak = v * 1024
		}
	}
	return cur, peak
}

// CPUTime returns the CPU time (user and system) a process has used, and
// that of its children it has waited for (utime+stime and cutime+cstime of
// /proc/PID/stat, in clock ticks of 10 ms); 0, 0 if it cannot be read.
func CPUTime(pid int) (own, children time.Duration) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	// The command name (field 2) may hold spaces: fields count from the
	// last ')'.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(string(data)[i+1:])
	if len(f) < 15 {
		return 0, 0
	}
	tick := func(s string) time.Duration {
		v, _ := strconv.ParseInt(s, 10, 64)
		return time.Duration(v) * 10 * time.Millisecond
	}
	return tick(f[11]) + tick(f[12]), tick(f[13]) + tick(f[14])
}
