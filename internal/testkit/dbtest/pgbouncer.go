package dbtest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/internal/testkit"
)

// PgBouncer is a private pgbouncer in transaction pooling mode (the Debian package), listening on
// a free loopback port, in front of the PostgreSQL server of a test's database.
type PgBouncer struct {
	URL string // the test's database through the pooler
	Dir string // ini, userlist and pgbouncer.log
	cmd *exec.Cmd
}

// StartPgBouncer starts a pgbouncer (pool_mode=transaction, auth_type=trust) in front of the server
// of dbURL, with poolSize server connections per database and user, and returns it with URL naming
// the same database through it. It is stopped at cleanup. As root it runs as the postgres user
// (pgbouncer refuses to run as root).
func StartPgBouncer(t testing.TB, dbURL string, poolSize int) *PgBouncer {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		t.Fatalf("dbtest: pgbouncer not installed (scripts/test-tools.sh installs it): %v", err)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "5432"
	}
	user := u.User.Username()
	dir, err := os.MkdirTemp("", "pgbouncer-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// Readable by the postgres user pgbouncer switches to as root.
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listenPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logfile := filepath.Join(dir, "pgbouncer.log")
	ini := fmt.Sprintf(`[databases]
* = host=%s port=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = %d
max_client_conn = 500
ignore_startup_parameters = extra_float_digits
logfile = %s
`, host, port, listenPort, filepath.Join(dir, "userlist.txt"), poolSize, logfile)
	for name, body := range map[string]string{
		"pgbouncer.ini": ini,
		"userlist.txt":  strconv.Quote(user) + ` ""` + "\n",
		"pgbouncer.log": "",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o666); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(dir, name), 0o666) //nolint:errcheck // past the umask, for the postgres user
	}
	args := []string{filepath.Join(dir, "pgbouncer.ini")}
	if os.Geteuid() == 0 {
		args = append([]string{"-u", "postgres"}, args...)
	}
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("dbtest: start pgbouncer: %v", err)
	}
	b := &PgBouncer{Dir: dir, cmd: cmd}
	t.Cleanup(func() {
		cmd.Process.Kill() //nolint:errcheck
		cmd.Wait()         //nolint:errcheck
	})
	pu := *u
	pu.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(listenPort))
	b.URL = pu.String()
	testkit.EventuallyErr(t, 10*time.Second, "dbtest: pgbouncer to answer on "+pu.Host, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		cfg, err := pgx.ParseConfig(b.URL)
		if err != nil {
			return err
		}
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, "SELECT 1")
		return err
	})
	return b
}

// Log returns pgbouncer's log so far (for failure messages).
func (b *PgBouncer) Log() string {
	s, _ := os.ReadFile(filepath.Join(b.Dir, "pgbouncer.log"))
	return string(s)
}
