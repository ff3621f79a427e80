package system

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/testkit/proctest"
)

// pgServer is a private PostgreSQL server (initdb into a temp dir) that a test may stop and
// restart without harming anybody else (RELIABILITY.md: private instances for fault tests).
type pgServer struct {
	t      testing.TB
	bindir string
	dir    string // owned by the server's user
	data   string
	log    string
	port   int
}

// pgBindir finds initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<major>/bin.
func pgBindir() string {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p)
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return majorOf(b) - majorOf(a) })
	for _, d := range dirs {
		if fileExists(filepath.Join(d, "initdb")) && fileExists(filepath.Join(d, "pg_ctl")) {
			return d
		}
	}
	return ""
}

func majorOf(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// startPostgres initdb's and starts a private server on a free loopback port (TCP only). The
// server refuses to run as root, so under root every server command runs as the "postgres" user
// (like scripts/services.sh) in a directory that user owns. Stopped (immediate) at cleanup.
func startPostgres(t testing.TB) *pgServer {
	t.Helper()
	bindir := pgBindir()
	if bindir == "" {
		t.Fatal("PostgreSQL server binaries (initdb, pg_ctl) are not installed; `make test` installs them (Debian: apt-get install postgresql)")
	}
	// Not t.TempDir(): it is created 0700 for the test's user, which the postgres user may not enter.
	dir, err := os.MkdirTemp("", "systemtest-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgServer{t: t, bindir: bindir, dir: dir, data: filepath.Join(dir, "data"), log: filepath.Join(dir, "postgres.log"),
		port: portOf(t, proctest.FreeAddr(t))}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- private PostgreSQL log (%s), last lines:\n%s", p.log, proctest.Tail(p.log, 40))
		}
		p.ctl(60*time.Second, "stop", "-m", "immediate") //nolint:errcheck // may already be down
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs a system user postgres to run the server (scripts/services.sh creates it): %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if out, err := p.run(2*time.Minute, filepath.Join(bindir, "initdb"), "-D", p.data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	if out, err := p.ctl(60*time.Second, "start"); err != nil {
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, proctest.Tail(p.log, 20))
	}
	t.Logf("private PostgreSQL on port %d ready in %s", p.port, time.Since(start).Round(time.Millisecond))
	return p
}

// URL is the connection URL of database name on this server.
func (p *pgServer) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, name)
}

// restart does `pg_ctl restart -m fast` (every connection is terminated, in-flight transactions
// roll back) and returns how long the server was unavailable to new connections at most.
func (p *pgServer) restart() time.Duration {
	p.t.Helper()
	start := time.Now()
	if out, err := p.ctl(60*time.Second, "restart", "-m", "fast"); err != nil {
		p.t.Fatalf("pg_ctl restart: %v\n%s\n%s", err, out, proctest.Tail(p.log, 20))
	}
	return time.Since(start)
}

// ctl runs pg_ctl with the options every call shares (-w: wait until done).
func (p *pgServer) ctl(timeout time.Duration, args ...string) ([]byte, error) {
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off", p.port)
	full := append([]string{"-D", p.data, "-l", p.log, "-w", "-t", "60", "-o", opts}, args...)
	return p.run(timeout, filepath.Join(p.bindir, "pg_ctl"), full...)
}

// run runs a server command as the data directory's owner (postgres under root) from "/" (the
// test's working directory may be unreadable for that user).
func (p *pgServer) run(timeout time.Duration, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if os.Geteuid() == 0 {
		args = append([]string{"-u", "postgres", "--", name}, args...)
		name = "runuser"
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w", filepath.Base(name), strings.Join(args, " "), err)
	}
	return out, nil
}

// stop stops the server (fast: connections are terminated).
func (p *pgServer) stop() {
	p.t.Helper()
	if out, err := p.ctl(60*time.Second, "stop", "-m", "fast"); err != nil {
		p.t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

// start starts the stopped server again and waits until it accepts connections.
func (p *pgServer) start() {
	p.t.Helper()
	if out, err := p.ctl(60*time.Second, "start"); err != nil {
		p.t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, proctest.Tail(p.log, 20))
	}
}
