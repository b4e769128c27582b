// Command reliability runs two bounded fault and load tools against the
// real buildbatch binary, built once per run into a temporary directory:
//
//	go run ./reliability chaos [-rounds 50] [-seed S] [-out FILE]
//	go run ./reliability load [-clients 200] [-duration 60s] [-out FILE]
//
// chaos SIGKILLs the server at random moments while batch builds run,
// restarts it on the same data directory, and after the last round checks
// that nothing was lost or left behind. load drives the API with many
// signed clients and reports errors, latencies and the server's resources
// before and after. Both exit non-zero, saying why, when they find a
// problem; both stop everything they started, on Ctrl-C too, and give up
// after -timeout. Run them through scripts/chaos and scripts/load; see
// docs/reliability.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

const usage = `usage: reliability chaos|load [flags]   (-h for the flags of each)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	var code int
	switch os.Args[1] {
	case "chaos":
		code = chaosMain(ctx, os.Args[2:])
	case "load":
		code = loadMain(ctx, os.Args[2:])
	default:
		fmt.Fprint(os.Stderr, usage)
		code = 2
	}
	stop()
	os.Exit(code)
}

// watchdog is the last resort of the hard timeout, should something not
// heed the context: it cleans up and exits.
func watchdog(e *env, d time.Duration) *time.Timer {
	return time.AfterFunc(d, func() {
		logf("reliability: still running %v after the start: giving up", d)
		e.cleanup()
		os.Exit(3)
	})
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}
