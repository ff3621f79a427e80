// Package dbtest gives tests their own real PostgreSQL database (cloned from a migrated template,
// so it is fast) and their own private Redis server, so tests never collide with each other or with
// a running dev server. It is imported only by _test.go files.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/migrations"
)

// AdminURL is the server tests create databases on; TEST_DATABASE_URL overrides it.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// WithDatabase returns u with its database name replaced.
func WithDatabase(u, name string) string {
	pu, err := url.Parse(u)
	if err != nil {
		panic(err)
	}
	pu.Path = "/" + name
	return pu.String()
}

// quiet keeps migration chatter out of test output.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// templateLock serialises the test binaries that build or clean templates (go test runs packages
// in parallel); it is not the product's migration lock.
const templateLock = 727_101

// Databases left behind by a test binary that was killed are dropped by a later run once they are
// this old: no test runs that long (make test's timeout is 30 minutes).
const staleAfter = 6 * time.Hour

// schemaHash names what builds the schema: the embedded migration files and River's modules
// (rivermigrate brings River's own tables). Test binaries with the same hash share one template,
// across packages and across runs; a changed migration gets a new one.
func schemaHash() string {
	h := sha256.New()
	names, _ := fs.Glob(migrations.FS, "*.sql")
	slices.Sort(names)
	for _, n := range names {
		b, _ := fs.ReadFile(migrations.FS, n)
		fmt.Fprintf(h, "%s %d\n", n, len(b))
		h.Write(b)
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if strings.HasPrefix(m.Path, "github.com/riverqueue/") {
				fmt.Fprintf(h, "%s %s\n", m.Path, m.Version)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// templateDatabase returns the migrated template database of this schema, building it when no
// earlier run did: migrated under a temporary name, then renamed, so a binary killed mid-migration
// never leaves a half-built template behind under the real name.
func templateDatabase(ctx context.Context) (string, error) {
	templateOnce.Do(func() {
		templateName, templateErr = buildTemplate(ctx, "dist_tmpl_"+schemaHash())
	})
	return templateName, templateErr
}

func buildTemplate(ctx context.Context, name string) (string, error) {
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", AdminURL(), err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLock); err != nil {
		return "", err
	}
	defer admin.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", templateLock) //nolint:errcheck
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_build_" + randHex(4)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+building); err != nil {
		return "", err
	}
	if err := markCreated(ctx, admin, building); err != nil {
		return "", err
	}
	d, err := db.Open(ctx, WithDatabase(AdminURL(), building), quiet)
	if err != nil {
		return "", err
	}
	err = d.Migrate(ctx)
	d.Close()
	if err != nil {
		return "", err
	}
	if err := retryBusy(ctx, admin, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", building, name)); err != nil {
		return "", err
	}
	return name, nil
}

// markCreated records when a database was made (PostgreSQL keeps no creation time), for the
// clean-up of databases a killed run left behind.
func markCreated(ctx context.Context, c *pgx.Conn, name string) error {
	_, err := c.Exec(ctx, fmt.Sprintf("COMMENT ON DATABASE %s IS 'dbtest created %d'", name, time.Now().Unix()))
	return err
}

// retryBusy runs a statement that fails while another session is connected to a database it
// names (CREATE DATABASE ... TEMPLATE, ALTER DATABASE ... RENAME): such sessions last
// milliseconds here (a template is only connected to while being copied, a closed pool's
// backends take a moment to exit), so it polls briefly.
func retryBusy(ctx context.Context, c *pgx.Conn, sql string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.Exec(ctx, sql)
		if err == nil || time.Now().After(deadline) || !strings.Contains(err.Error(), "being accessed") {
			return err
		}
		time.Sleep(50 * time.Millisecond) // poll: the other session ends within milliseconds
	}
}

// NewURL creates an empty migrated database for this test and drops it at cleanup; it returns its URL.
func NewURL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tmpl, err := templateDatabase(ctx)
	if err != nil {
		t.Fatalf("dbtest: migrate template database: %v", err)
	}
	name := "dist_test_" + randHex(8)
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatalf("dbtest: connect to %s: %v", AdminURL(), err)
	}
	defer admin.Close(ctx)
	if err := retryBusy(ctx, admin, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl)); err != nil {
		t.Fatalf("dbtest: create database: %v", err)
	}
	if err := markCreated(ctx, admin, name); err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			return
		}
		defer c.Close(ctx)
		c.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)) //nolint:errcheck
	})
	return WithDatabase(AdminURL(), name)
}

// New returns an open store on a fresh migrated database, closed at cleanup.
func New(t testing.TB) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), NewURL(t), quiet)
	if err != nil {
		t.Fatalf("dbtest: open: %v", err)
	}
	t.Cleanup(d.Close)
	return d
}

// DropTemplates cleans up after a test binary; call it from TestMain after m.Run. Templates are
// kept for the next run (that is their point); what goes is what nobody will use again: templates
// of other schemas and test databases that killed runs left behind, once older than staleAfter
// (a run of an older checkout may still be using them until then).
func DropTemplates() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLock); err != nil {
		return
	}
	defer c.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", templateLock) //nolint:errcheck
	rows, err := c.Query(ctx, `SELECT d.datname FROM pg_database d
		WHERE d.datname LIKE 'dist\_t%' AND d.datname <> $1
		  AND substring(shobj_description(d.oid, 'pg_database') FROM '^dbtest created ([0-9]+)$')::bigint < $2`,
		templateName, time.Now().Add(-staleAfter).Unix())
	if err != nil {
		return
	}
	stale, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, name := range stale {
		c.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)) //nolint:errcheck
	}
}

// Redis is a private redis-server listening on a unix socket in a temp dir.
type Redis struct {
	URL  string // unix:///path/redis.sock?db=0
	Sock string
	Dir  string
	cmd  *exec.Cmd
	t    testing.TB
	args []string
}

// StartRedis starts a private redis-server for this test (stopped at cleanup). Tests that stop,
// hang or restart Redis use this, never the shared server.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	return StartRedisWith(t)
}

// StartRedisWith is StartRedis with extra redis-server arguments, e.g. "--notify-keyspace-events",
// "Khgx", or "--rename-command", "CONFIG", "" to emulate a managed Redis that refuses CONFIG.
func StartRedisWith(t testing.TB, args ...string) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("dbtest: redis-server not installed (make test installs it): %v", err)
	}
	dir, err := os.MkdirTemp("", "redis-test-")
	if err != nil {
		t.Fatal(err)
	}
	r := &Redis{Dir: dir, Sock: filepath.Join(dir, "redis.sock"), t: t, args: args}
	r.URL = "unix://" + r.Sock + "?db=0"
	_ = bin
	r.Start()
	t.Cleanup(func() { r.Stop(); os.RemoveAll(dir) })
	return r
}

// Start (re)starts the server and waits until it answers.
func (r *Redis) Start() {
	r.t.Helper()
	args := append([]string{"--port", "0", "--unixsocket", r.Sock, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", r.Dir, "--logfile", filepath.Join(r.Dir, "redis.log")}, r.args...)
	r.cmd = exec.Command("redis-server", args...)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("dbtest: start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: r.Sock, MaxRetries: -1})
	defer c.Close()
	testkit.EventuallyErr(r.t, 10*time.Second, "dbtest: redis-server to answer on "+r.Sock, func() error {
		return c.Ping(context.Background()).Err()
	})
}

// Stop kills the server (as a crash would) and waits for it to exit.
func (r *Redis) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	r.cmd.Process.Kill() //nolint:errcheck
	r.cmd.Wait()         //nolint:errcheck
	r.cmd = nil
	os.Remove(r.Sock)
}

// Process returns the running server process (for SIGSTOP/SIGCONT), or nil.
func (r *Redis) Process() *os.Process {
	if r.cmd == nil {
		return nil
	}
	return r.cmd.Process
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck
	return hex.EncodeToString(b)
}

// Main is the TestMain of a package that uses this one: it runs the tests, cleans up databases
// (DropTemplates), and fails the binary when a goroutine outlives the tests (goleak): every
// pool, hub, engine and server a test starts must be stopped by its cleanup.
func Main(m *testing.M, opts ...goleak.Option) { os.Exit(Run(m, opts...)) }

// Run is Main without the exit, for a TestMain with work of its own after the tests.
func Run(m *testing.M, opts ...goleak.Option) int {
	code := m.Run()
	DropTemplates()
	if code == 0 {
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	return code
}
