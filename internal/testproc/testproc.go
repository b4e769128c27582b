// Package testproc helps test helpers that start servers of their own
// (pgtest, s3test): free ports, and watchdogs that clean up when the test
// binary dies without doing so itself.
package testproc

import (
	"fmt"
	"io"
	"net"
	"os/exec"
	"syscall"
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
