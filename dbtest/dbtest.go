// Package dbtest gives tests their own real PostgreSQL database (cloned from a migrated template,
// so it is fast) and their own private Redis server, so tests never collide with each other or with
// a running dev server. It is imported only by _test.go files.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/marketing-platform/distribution/db"
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

// templateDatabase migrates one template database per test binary. Its name carries a hash of the
// migration set so a schema change never reuses a stale template.
func templateDatabase(ctx context.Context) (string, error) {
	templateOnce.Do(func() {
		templateName = "dist_tmpl_" + randHex(6)
		dsn := WithDatabase(AdminURL(), templateName)
		d, err := db.Open(ctx, dsn, quiet)
		if err != nil {
			templateErr = err
			return
		}
		defer d.Close()
		templateErr = d.Migrate(ctx)
	})
	return templateName, templateErr
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
	// CREATE DATABASE ... TEMPLATE fails while another session is connected to the template;
	// templates are only connected to while being migrated, so retrying briefly suffices.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err = admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl))
		if err == nil || time.Now().After(deadline) || !strings.Contains(err.Error(), "being accessed") {
			break
		}
		time.Sleep(50 * time.Millisecond) // poll: the template is busy for milliseconds
	}
	if err != nil {
		t.Fatalf("dbtest: create database: %v", err)
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

// DropTemplates removes this binary's template database; call it from TestMain after m.Run.
func DropTemplates() {
	if templateName == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return
	}
	defer c.Close(ctx)
	c.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", templateName)) //nolint:errcheck
}

// Redis is a private redis-server listening on a unix socket in a temp dir.
type Redis struct {
	URL  string // unix:///path/redis.sock?db=0
	Sock string
	Dir  string
	cmd  *exec.Cmd
	t    testing.TB
}

// StartRedis starts a private redis-server for this test (stopped at cleanup). Tests that stop,
// hang or restart Redis use this, never the shared server.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("dbtest: redis-server not installed (make test installs it): %v", err)
	}
	dir, err := os.MkdirTemp("", "redis-test-")
	if err != nil {
		t.Fatal(err)
	}
	r := &Redis{Dir: dir, Sock: filepath.Join(dir, "redis.sock"), t: t}
	r.URL = "unix://" + r.Sock + "?db=0"
	_ = bin
	r.Start()
	t.Cleanup(func() { r.Stop(); os.RemoveAll(dir) })
	return r
}

// Start (re)starts the server and waits until it answers.
func (r *Redis) Start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", "0", "--unixsocket", r.Sock, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", r.Dir, "--logfile", filepath.Join(r.Dir, "redis.log"))
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("dbtest: start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: r.Sock, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			r.t.Fatalf("dbtest: redis-server did not answer on %s", r.Sock)
		}
		time.Sleep(10 * time.Millisecond) // poll until the socket answers
	}
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
