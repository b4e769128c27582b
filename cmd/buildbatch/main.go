// Command buildbatch is a self-hosted build service that speaks the AWS
// CodeBuild API. See the README.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/buildbatch/buildbatch/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
