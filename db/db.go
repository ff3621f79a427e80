// Package db is the PostgreSQL store: it owns every SQL statement and transaction of the service,
// applies the embedded migrations (ours, then River's) and maps rows to model types.
// Exported methods own their transaction; unexported helpers take the tx.
package db

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/migrations"
)

// DB is the store. The pools are exported for River, which needs a pgx pool itself.
type DB struct {
	// Pool runs every statement of the store. Through a transaction-mode pooler (DATABASE_URL to
	// PgBouncer, DATABASE_DIRECT_URL set) it keeps no session state: see pooledExecMode.
	Pool *pgxpool.Pool
	// Session is the pool of connections that keep their session: River (LISTEN, its client
	// connections), the principal listener's LISTEN and the migration lock use it. It is a small
	// pool on DATABASE_DIRECT_URL when that is set, else Pool itself.
	Session *pgxpool.Pool
	logger  *slog.Logger
}

// pooledExecMode is the pgx query mode of the main pool when it goes through a transaction-mode
// pooler. pgx's default (QueryExecModeCacheStatement) prepares named statements on the server
// connection, which a transaction pooler hands to other clients: PgBouncer 1.18 then fails with
// "prepared statement ... already exists" / "does not exist" (TestPooledExecModes). CacheDescribe
// describes each statement once over the unnamed statement and then executes it with the unnamed
// statement (extended protocol, binary formats kept), which needs no session state; it works
// through PgBouncer 1.18 in transaction mode, as do DescribeExec, Exec and SimpleProtocol
// (TestPooledExecModes). A default_query_exec_mode in DATABASE_URL wins.
const pooledExecMode = pgx.QueryExecModeCacheDescribe

// sessionPoolConns is the size of the direct pool unless DATABASE_DIRECT_URL sets pool_max_conns:
// River's producers, completer, leader election and notifier, plus the migration lock. The
// principal listener holds a connection of its own outside the pool.
const sessionPoolConns = 10

// Open connects to the database at url, creating the database first when it does not exist
// (a fresh machine). The pool is sized for web + workers; SSE streams never hold a connection.
func Open(ctx context.Context, dsn string, logger *slog.Logger) (*DB, error) {
	return OpenWithDirect(ctx, dsn, "", logger)
}

// OpenWithDirect is Open with a direct URL for what needs a session (DATABASE_DIRECT_URL): when
// direct is set, dsn is taken to go through a transaction-mode pooler, so its pool uses
// pooledExecMode, and Session is a small pool on direct. direct "" (or equal to dsn) is Open.
//
// tracer, when not nil, traces the queries of both pools (otelpgx).
func OpenWithDirect(ctx context.Context, dsn, direct string, logger *slog.Logger, tracer ...pgx.QueryTracer) (*DB, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if direct == dsn {
		direct = ""
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = 20
	}
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	cfg.HealthCheckPeriod = 5 * time.Second
	if direct != "" && !strings.Contains(dsn, "default_query_exec_mode") {
		cfg.ConnConfig.DefaultQueryExecMode = pooledExecMode
	}
	var dcfg *pgxpool.Config
	if direct != "" {
		if dcfg, err = pgxpool.ParseConfig(direct); err != nil {
			return nil, fmt.Errorf("parse DATABASE_DIRECT_URL: %w", err)
		}
		if !strings.Contains(direct, "pool_max_conns") {
			dcfg.MaxConns = sessionPoolConns
		}
		dcfg.ConnConfig.ConnectTimeout = 5 * time.Second
		dcfg.HealthCheckPeriod = 5 * time.Second
	}
	if len(tracer) > 0 && tracer[0] != nil {
		cfg.ConnConfig.Tracer = tracer[0]
		if dcfg != nil {
			dcfg.ConnConfig.Tracer = tracer[0]
		}
	}
	// A pooler may refuse to create the database: create it over the direct connection.
	if err := EnsureDatabase(ctx, or(direct, dsn)); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	d := &DB{Pool: pool, Session: pool, logger: logger.With(slog.String("component", "db"))}
	if dcfg != nil {
		if d.Session, err = pgxpool.NewWithConfig(ctx, dcfg); err != nil {
			pool.Close()
			return nil, fmt.Errorf("open direct database pool: %w", err)
		}
	}
	return d, nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Close releases the pools.
func (db *DB) Close() {
	if db.Session != db.Pool {
		db.Session.Close()
	}
	db.Pool.Close()
}

// Ping checks that the database answers (through the pooler when there is one).
func (db *DB) Ping(ctx context.Context) error { return db.Pool.Ping(ctx) }

// EnsureDatabase creates the database named in dsn when it does not exist yet, connecting to the
// server's "postgres" maintenance database to do so.
func EnsureDatabase(ctx context.Context, dsn string) error {
	// Parsed as a pool DSN: pgx.ParseConfig would send pool options (pool_max_conns, ...) to the
	// server as runtime parameters, which it refuses.
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	cfg := pcfg.ConnConfig
	cfg.ConnectTimeout = 5 * time.Second
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name
		return fmt.Errorf("connect to database: %w", err)
	}
	name := cfg.Database
	admin := cfg.Copy()
	admin.Database = "postgres"
	aconn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect to maintenance database to create %q: %w", name, err)
	}
	defer aconn.Close(ctx)
	if _, err := aconn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		var dup *pgconn.PgError
		if errors.As(err, &dup) && dup.Code == "42P04" { // duplicate_database: a concurrent start won
			return nil
		}
		return fmt.Errorf("create database %q: %w", name, err)
	}
	return nil
}

// migrationLock serialises concurrent migrators (several replicas starting at once).
const migrationLock = 727_001

// Migrate applies every embedded migration not yet applied, in name order, each in its own
// transaction, then River's migrations. Running it again is a no-op.
func (db *DB) Migrate(ctx context.Context) error {
	// A session-level advisory lock: on the direct connection, never through a transaction pooler
	// (which would run the unlock, or the migrations, on another server connection).
	conn, err := db.Session.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: acquire connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("migrate: take lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock) //nolint:errcheck

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    TEXT PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return fmt.Errorf("migrate: list files: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		var done bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", name).Scan(&done); err != nil {
			return fmt.Errorf("migrate: check %s: %w", name, err)
		}
		if done {
			continue
		}
		sql, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			return fmt.Errorf("migrate: read %s: %w", name, err)
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", name)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate: apply %s: %w", name, err)
		}
		db.logger.Info("applied migration", slog.String("version", name))
	}

	migrator, err := rivermigrate.New(riverpgxv5.New(db.Session), nil)
	if err != nil {
		return fmt.Errorf("migrate: river migrator: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate: river: %w", err)
	}
	return nil
}

// LatestMigration is the name of the newest embedded migration (the one MigrationsApplied looks for).
func LatestMigration() (string, error) {
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil || len(names) == 0 {
		return "", fmt.Errorf("migrate: list files: %v (%d files)", err, len(names))
	}
	sort.Strings(names)
	return names[len(names)-1], nil
}

// MigrationsApplied reports whether the newest embedded migration is recorded in
// schema_migrations (false, nil when it or the table is missing): for /readyz and for a serve
// that does not migrate on start.
func (db *DB) MigrationsApplied(ctx context.Context) (bool, error) {
	latest, err := LatestMigration()
	if err != nil {
		return false, err
	}
	var ok bool
	err = db.Pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", latest).Scan(&ok)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
			return false, nil
		}
		return false, fmt.Errorf("check migrations: %w", err)
	}
	return ok, nil
}

// DatabaseName returns the database name of a DSN, for messages.
func DatabaseName(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(u.Path, "/")
}

// wrapAction says what was being attempted, leaving model errors (user-safe messages) as they are.
func wrapAction(what string, err error) error {
	var me *model.Error
	if errors.As(err, &me) {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}
