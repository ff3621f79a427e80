// Package cli is the command line of bin/distribution: it reads the subcommand and its flags,
// loads the configuration from the environment and runs serve, migrate, seed, user, token,
// simulator, version or help. The root main.go only hands it the process's arguments and streams.
package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
)

const usage = `usage: distribution [command] [flags]

commands:
  serve                                    web + workers + embedded simulator (default); ROLE=web|worker|all
  migrate                                  apply database migrations (again: no-op)
  seed                                     create demo users, stores, channel accounts and events (again: no-op)
  user add --email E --role R              create a user; password = first line of stdin
  token create --name N --role R [--expires D]  API token of service account "service:N" (D: 720h, 30d or YYYY-MM-DD); printed alone on the last line
  account set --store S --channel CH      connect a store's channel account; the credential JSON is read from stdin
                                           (INSTAGRAM {"igUserId","accessToken","expiresAt"?}; NAVER {"clubId","menuId",
                                           "accessToken","refreshToken","expiresAt"?}; KAKAO {"senderKey","plusFriendId"?,
                                           "recipients":[phone...],"targeting"? (I|M|N, SENS brand message; default I)});
                                           prints the status
  account list                             list the stores' channel accounts (never their credentials)
  account rotate                           re-encrypt every credential under SECRETS_KEY (after a key change, with
                                           the old key in SECRETS_KEY_PREVIOUS)
  simulator                                run the channel simulator on SIMULATOR_ADDR
  version                                  print the build's version
  help, -h, --help                         print this help

roles (what a user or a token may do):
` + roleHelp + `
environment (see README for every variable and its default):
  DATABASE_URL, REDIS_URL                  PostgreSQL and Redis
  ADDR, PUBLIC_URL, SECURE_COOKIES         where and how the web server listens
  TRUSTED_PROXIES                          CIDRs whose X-Forwarded-For is believed
  ROLE, WORKERS, LOG_LEVEL, DEBUG_ADDR     process role, worker count, log level, pprof
  CHANNELS_CONFIG, SIMULATOR_ADDR          channel endpoints, the embedded simulator
  SECRETS_KEY, SECRETS_KEY_FILE, SECRETS_KEY_PREVIOUS   key of the channel credentials at rest (base64 of 32 bytes)
  MAX_ATTEMPTS, RETRY_BASE_DELAY, RETRY_MAX_DELAY, JOB_TIMEOUT, RESCUE_AFTER   job retries
  BREAKER_MIN_CALLS, BREAKER_FAILURE_PERCENT, BREAKER_MIN_EVENTS, BREAKER_WINDOW, BREAKER_COOLDOWN   channel circuit breaker
`

// roleHelp says what each role may do (a user or a token acts with its role's rights).
const roleHelp = `  marketer   view events, create, edit and delete them, start and cancel distributions
  staff      everything a marketer may, and retry failed channels (one, an event's, or in bulk)
  manager    everything staff may, and reports, CSV export, the audit log, users and API tokens
`

// version is the build's version, set with -ldflags "-X <module>/internal/cli.version=..."; otherwise the module
// version Go recorded in the binary, or "dev".
var version = ""

// commit is the build's commit, set with -ldflags "-X <module>/internal/cli.commit=..."; empty, the
// service reports the revision Go recorded (distribution_build_info).
var commit = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// usageError is a command line the program does not understand: usage on stderr, exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// Main runs the command line args and returns the process's exit status: 0 success, 2 a command
// line error (usage on stderr), 1 anything else (the error on stderr).
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	return exitCode(run(ctx, args, stdin, stdout, getenv), stderr)
}

// exitCode reports err on stderr and returns the exit status: 0 success, 2 a command line error
// (with the usage), 1 anything else.
func exitCode(err error, stderr io.Writer) int {
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "distribution: %s\n\n%s", ue.msg, usage)
		return 2
	default:
		fmt.Fprintln(stderr, "distribution:", err)
		return 1
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer, getenv func(string) string) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	// The command line is understood before the environment is read: a usage error is exit 2
	// whatever the configuration, and help never touches the database or the port.
	var do func(context.Context, config.Config, *slog.Logger) error
	if cmd == "help" || isHelpFlag(cmd) || slices.ContainsFunc(args, isHelpFlag) { // `user add --help` too
		fmt.Fprint(stdout, usage)
		return nil
	}
	switch cmd {
	case "version":
		if len(args) > 0 {
			return usageErrorf("version takes no arguments")
		}
		fmt.Fprintln(stdout, "distribution", buildVersion())
		return nil
	case "serve", "migrate", "seed", "simulator":
		if len(args) > 0 {
			return usageErrorf("%s takes no arguments (configuration comes from the environment): %q", cmd, args[0])
		}
		do = map[string]func(context.Context, config.Config, *slog.Logger) error{
			"serve":     serve,
			"migrate":   migrate,
			"seed":      func(ctx context.Context, cfg config.Config, l *slog.Logger) error { return seed(ctx, cfg, l, stdout) },
			"simulator": runSimulator,
		}[cmd]
	case "user":
		if len(args) == 0 || args[0] != "add" {
			return usageErrorf("usage: distribution user add --email E --role marketer|staff|manager")
		}
		fs := flag.NewFlagSet("user add", flag.ContinueOnError)
		email := fs.String("email", "", "login email")
		role := fs.String("role", "", "marketer, staff or manager")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		do = func(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
			password, err := firstLine(stdin)
			if err != nil {
				return fmt.Errorf("read password from the first line of stdin: %w", err)
			}
			return userAdd(ctx, cfg, logger, stdout, *email, *role, password)
		}
	case "token":
		if len(args) == 0 || args[0] != "create" {
			return usageErrorf("usage: distribution token create --name N --role marketer|staff|manager [--expires D]")
		}
		fs := flag.NewFlagSet("token create", flag.ContinueOnError)
		name := fs.String("name", "", "token name (who uses it)")
		role := fs.String("role", "", "marketer, staff or manager")
		expires := fs.String("expires", "", "optional expiry: a duration (720h, 30d) or the last valid day YYYY-MM-DD (UTC)")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		if _, err := model.ParseRole(*role); err != nil {
			what := "needs --role"
			if *role != "" {
				what = fmt.Sprintf("--role %q is not a role", *role)
			}
			return usageErrorf("token create %s: the token acts with the rights of its role\n%s", what, roleHelp)
		}
		do = func(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
			return tokenCreate(ctx, cfg, logger, stdout, *name, *role, *expires)
		}
	case "account":
		var err error
		if do, err = accountCommand(args, stdin, stdout); err != nil {
			return err
		}
	default:
		if strings.HasPrefix(cmd, "-") {
			return usageErrorf("unknown flag %q", cmd)
		}
		return usageErrorf("unknown command %q", cmd)
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	return do(ctx, cfg, newLogger(cfg.LogLevel))
}

func isHelpFlag(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// parseFlags parses a subcommand's flags; a bad flag or a stray argument is a usage error (the
// flag package's own message, without its usage print).
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return usageErrorf("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
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
