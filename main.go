// Command distribution is the Distribution Service: the web dashboard, the JSON API, the channel
// workers and the channel simulator in one binary. main.go only wires the parts together.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/marketing-platform/distribution/config"
)

const usage = `usage: distribution [command] [flags]

commands:
  serve                                    web + workers + embedded simulator (default); ROLE=web|worker|all
  migrate                                  apply database migrations (again: no-op)
  seed                                     create demo users and events (again: no-op)
  user add --email E --role R              create a user; password = first line of stdin
  token create --name N --role R [--expires D]  API token of service account "service:N" (D: 720h, 30d or YYYY-MM-DD); printed alone on the last line
  simulator                                run the channel simulator on SIMULATOR_ADDR

roles: marketer | staff | manager. Configuration comes from the environment (see README).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "distribution:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer, getenv func(string) string) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	logger := newLogger(cfg.LogLevel)
	switch cmd {
	case "serve":
		return serve(ctx, cfg, logger)
	case "migrate":
		return migrate(ctx, cfg, logger)
	case "seed":
		return seed(ctx, cfg, logger, stdout)
	case "simulator":
		return runSimulator(ctx, cfg, logger)
	case "user":
		if len(args) == 0 || args[0] != "add" {
			return errors.New("usage: distribution user add --email E --role marketer|staff|manager")
		}
		fs := flag.NewFlagSet("user add", flag.ContinueOnError)
		email := fs.String("email", "", "login email")
		role := fs.String("role", "", "marketer, staff or manager")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		password, err := firstLine(stdin)
		if err != nil {
			return fmt.Errorf("read password from the first line of stdin: %w", err)
		}
		return userAdd(ctx, cfg, logger, stdout, *email, *role, password)
	case "token":
		if len(args) == 0 || args[0] != "create" {
			return errors.New("usage: distribution token create --name N --role marketer|staff|manager")
		}
		fs := flag.NewFlagSet("token create", flag.ContinueOnError)
		name := fs.String("name", "", "token name (who uses it)")
		role := fs.String("role", "", "marketer, staff or manager")
		expires := fs.String("expires", "", "optional expiry: a duration (720h, 30d) or the last valid day YYYY-MM-DD (UTC)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return tokenCreate(ctx, cfg, logger, stdout, *name, *role, *expires)
	default:
		return fmt.Errorf("unknown command %q\n\n%s", cmd, usage)
	}
}

func firstLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("stdin is empty")
		}
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
