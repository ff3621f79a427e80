// Command distribution is the Distribution Service: the web dashboard, the JSON API, the channel
// workers and the channel simulator in one binary. Everything lives under internal/; internal/cli
// reads the command line.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // DEFAULT_TIMEZONE and users' zones load from the binary: scratch images have no tz database

	"github.com/marketing-platform/distribution/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
