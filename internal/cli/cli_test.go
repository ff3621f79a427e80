package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/auth"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestCLI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewURL(t)
	getenv := env(map[string]string{"DATABASE_URL": url, "LOG_LEVEL": "error"})
	runCmd := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, args, strings.NewReader(stdin), &out, getenv)
		return out.String(), err
	}

	if _, err := runCmd("", "migrate"); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if _, err := runCmd("", "migrate"); err != nil {
		t.Fatalf("migrate again must be a no-op: %v", err)
	}

	if _, err := runCmd("s3cret-password\nignored second line\n", "user", "add", "--email", "Ops@Example.com", "--role", "staff"); err != nil {
		t.Fatalf("user add: %v", err)
	}
	store, err := db.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	u, err := store.FindUserByEmail(ctx, "ops@example.com")
	if err != nil {
		t.Fatalf("created user not found: %v", err)
	}
	if u.Role != model.RoleStaff {
		t.Fatalf("role = %s, want staff", u.Role)
	}
	svc := auth.NewService(store, auth.Config{}, nil)
	if _, _, err := svc.Login(ctx, "ops@example.com", "s3cret-password", "127.0.0.1", "test"); err != nil {
		t.Fatalf("login with the first stdin line as password: %v", err)
	}
	if _, err := runCmd("another-password\n", "user", "add", "--email", "ops@example.com", "--role", "staff"); err == nil {
		t.Fatal("duplicate user add succeeded")
	}
	if _, err := runCmd("x-password-1\n", "user", "add", "--email", "a@example.com", "--role", "admin"); err == nil || !strings.Contains(err.Error(), "unknown role") {
		t.Fatalf("bad role error = %v", err)
	}
	if _, err := runCmd("", "user", "add", "--email", "b@example.com", "--role", "staff"); err == nil {
		t.Fatal("user add with empty stdin succeeded")
	}

	out, err := runCmd("", "token", "create", "--name", "event-service", "--role", "marketer")
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	tok := lines[len(lines)-1]
	p, err := svc.AuthenticateToken(ctx, tok)
	if err != nil {
		t.Fatalf("the last stdout line %q is not a working token: %v", tok, err)
	}
	if p.Role != model.RoleMarketer || p.Name != "token:event-service" {
		t.Fatalf("token principal = %+v", p)
	}
}

func TestSeedIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewURL(t)
	getenv := env(map[string]string{"DATABASE_URL": url, "LOG_LEVEL": "error"})
	for i := 0; i < 2; i++ {
		var out bytes.Buffer
		if err := run(ctx, []string{"seed"}, strings.NewReader(""), &out, getenv); err != nil {
			t.Fatalf("seed run %d: %v", i+1, err)
		}
		if !strings.Contains(out.String(), "manager@example.com") {
			t.Fatalf("seed output does not say how to log in:\n%s", out.String())
		}
	}
	store, err := db.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var events, dists, jobs int
	if err := store.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM distribution_status),
		(SELECT count(*) FROM river_job)`).Scan(&events, &dists, &jobs); err != nil {
		t.Fatal(err)
	}
	if events != len(demoEvents) || dists != 4 || jobs != 4*len(model.AllChannels) {
		t.Fatalf("after two seeds: %d events, %d distributions, %d jobs; want %d, 4, %d", events, dists, jobs, len(demoEvents), 4*len(model.AllChannels))
	}
}

func TestBadConfigNamesTheVariable(t *testing.T) {
	t.Parallel()
	for name, value := range map[string]string{
		"MAX_ATTEMPTS":     "zero",
		"RETRY_BASE_DELAY": "2 seconds",
		"REDIS_URL":        "http://nope",
		"DATABASE_URL":     "mysql://x",
		"ROLE":             "everything",
		"ADDR":             "8080",
	} {
		err := run(context.Background(), []string{"migrate"}, strings.NewReader(""), &bytes.Buffer{}, env(map[string]string{name: value}))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: error %v does not name the variable", name, value, err)
		}
	}
}

// TestCLIHelpVersionAndUsageErrors: --help, -h and help print the usage on stdout and exit 0
// without touching the database or the port (asking for help must never serve or migrate); version
// prints the build's version; unknown commands, flags and stray arguments print the usage on stderr
// and exit 2. The environment is deliberately broken (a bad ADDR), so a command that went on to
// serve fails instead of serving.
func TestCLIHelpVersionAndUsageErrors(t *testing.T) {
	t.Parallel()
	getenv := env(map[string]string{"ADDR": "not-an-address", "DATABASE_URL": "postgres://127.0.0.1:1/none"})
	cli := func(args ...string) (code int, stdout, stderr string) {
		var out, errb bytes.Buffer
		code = exitCode(run(context.Background(), args, strings.NewReader(""), &out, getenv), &errb)
		return code, out.String(), errb.String()
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"user", "add", "--help"}, {"token", "create", "-h"}} {
		code, out, errOut := cli(args...)
		if code != 0 || !strings.HasPrefix(out, "usage: distribution") || errOut != "" {
			t.Errorf("%v: exit %d, stdout %.40q, stderr %q; want 0 and the usage on stdout", args, code, out, errOut)
		}
		for _, want := range []string{"serve", "migrate", "seed", "user add", "token create", "simulator", "version", "DATABASE_URL", "REDIS_URL"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: usage does not mention %s", args, want)
			}
		}
	}
	if code, out, _ := cli("version"); code != 0 || strings.TrimSpace(out) != "distribution dev" {
		t.Errorf("version: exit %d, stdout %q; want 0, \"distribution dev\"", code, out)
	}
	for _, args := range [][]string{
		{"--bogus"}, {"-x"}, {"bogus"}, {"serve", "--port", "1"}, {"migrate", "extra"}, {"version", "x"},
		{"user"}, {"user", "frob"}, {"user", "add", "--bogus"}, {"user", "add", "--email", "a@example.com", "stray"},
		{"token", "create", "--nope"},
	} {
		code, out, errOut := cli(args...)
		if code != 2 || out != "" || !strings.Contains(errOut, "usage: distribution") {
			t.Errorf("%v: exit %d, stdout %q, stderr %.80q; want 2 and the usage on stderr", args, code, out, errOut)
		}
	}
	// A failing command that was understood is exit 1, without the usage.
	if code, _, errOut := cli("migrate"); code != 1 || strings.Contains(errOut, "usage:") {
		t.Errorf("migrate with a bad environment: exit %d, stderr %q; want 1 without the usage", code, errOut)
	}
}
