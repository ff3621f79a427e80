package db_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// TestPooledExecModes: through PgBouncer 1.18 in transaction mode with one server connection,
// two client connections running the same statement share that server connection. pgx's default
// mode (named prepared statements cached per client connection) then fails; the modes that keep
// no statement on the server work. db.OpenWithDirect uses CacheDescribe for its pooled pool.
func TestPooledExecModes(t *testing.T) {
	t.Parallel()
	direct := dbtest.NewURL(t)
	pb := dbtest.StartPgBouncer(t, direct, 1)
	ctx := context.Background()
	run := func(mode pgx.QueryExecMode) error {
		cfg, err := pgxpool.ParseConfig(pb.URL)
		if err != nil {
			t.Fatal(err)
		}
		cfg.MaxConns = 2
		cfg.ConnConfig.DefaultQueryExecMode = mode
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		c1, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c1.Release()
		c2, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Release()
		sql := "SELECT $1::bigint + 1 /* " + mode.String() + " */"
		for i := range 3 {
			for _, c := range []*pgxpool.Conn{c1, c2} {
				var n int64
				if err := c.QueryRow(ctx, sql, int64(i)).Scan(&n); err != nil {
					return err
				}
				if n != int64(i)+1 {
					t.Fatalf("%s: got %d", mode, n)
				}
				if err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
					_, err := tx.Exec(ctx, sql, int64(i))
					return err
				}); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeDescribeExec,
		pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol} {
		if err := run(mode); err != nil {
			t.Errorf("%s through pgbouncer: %v", mode, err)
		}
	}
	err := run(pgx.QueryExecModeCacheStatement)
	if err == nil {
		t.Errorf("cache_statement through pgbouncer worked: the pooled mode could be pgx's default")
	} else {
		t.Logf("cache_statement through pgbouncer fails as expected: %v", err)
	}
}

// TestThroughPgBouncer: DATABASE_URL through a transaction-mode PgBouncer and DATABASE_DIRECT_URL
// direct: concurrent migrations serialise on the lock (on the direct connection), the store
// reads and writes through the pooler, and a principal change made through the pooler reaches
// the listener (on the direct connection).
func TestThroughPgBouncer(t *testing.T) {
	t.Parallel()
	direct := dbtest.NewURL(t)
	pb := dbtest.StartPgBouncer(t, direct, 2)
	ctx := context.Background()
	open := func() *db.DB {
		d, err := db.OpenWithDirect(ctx, pb.URL, direct, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(d.Close)
		return d
	}
	a, b := open(), open()
	if got := a.Pool.Config().ConnConfig.DefaultQueryExecMode; got != pgx.QueryExecModeCacheDescribe {
		t.Errorf("pooled exec mode %s, want cache_describe", got)
	}
	if a.Session == a.Pool || strconv.Itoa(int(a.Session.Config().ConnConfig.Port)) == pgxPort(t, pb.URL) {
		t.Fatal("the session pool must be the direct one")
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i, d := range []*db.DB{a, b, a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = d.Migrate(ctx) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent migrations through the pooler: %v\n%s", err, pb.Log())
	}

	// The migration lock is a session lock on the direct connection: a migrator waits while
	// another session holds it and goes on once it is released.
	holder, err := pgx.Connect(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	const migrationLock = 727_001 // db.migrationLock
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		t.Fatal(err)
	}
	migrated := make(chan error, 1)
	go func() { migrated <- a.Migrate(ctx) }()
	testkit.Eventually(t, 10*time.Second, "the migrator to wait for the lock", func() bool {
		var waiting int
		err := holder.QueryRow(ctx, `SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND objid = $1 AND NOT granted`, migrationLock).Scan(&waiting)
		return err == nil && waiting == 1
	})
	select {
	case err := <-migrated:
		t.Fatalf("Migrate returned while the lock was held: %v", err)
	default:
	}
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_unlock($1)", migrationLock); err != nil {
		t.Fatal(err)
	}
	if err := <-migrated; err != nil {
		t.Fatalf("migrate after the lock was released: %v", err)
	}

	heard := listen(t, b)
	listenerPID(t, b, 0)
	boss := acctUser(t, a, "boss@example.com", model.RoleManager)
	ann := acctUser(t, a, "ann@example.com", model.RoleMarketer)
	audit := model.AuditEntry{Actor: boss.Email, Action: "user.change"}
	yes := true
	if _, err := a.UpdateUser(ctx, ann.ID, db.UserChange{Disabled: &yes}, audit); err != nil {
		t.Fatal(err)
	}
	wantHeard(t, "disable through the pooler", heard, ann.ID)
	users, err := b.FindUsers(ctx, "")
	if err != nil || len(users) != 2 {
		t.Fatalf("list users through the pooler: %d %v", len(users), err)
	}
}

func pgxPort(t *testing.T, u string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(int(cfg.Port))
}
