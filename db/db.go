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

// DB is the store. Pool is exported for River, which needs the pgx pool itself.
type DB struct {
	Pool   *pgxpool.Pool
	logger *slog.Logger
}

// Open connects to the database at url, creating the database first when it does not exist
// (a fresh machine). The pool is sized for web + workers; SSE streams never hold a connection.
func Open(ctx context.Context, dsn string, logger *slog.Logger) (*DB, error) {
	if logger == nil {
		logger = slog.Default()
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
	if err := EnsureDatabase(ctx, dsn); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	return &DB{Pool: pool, logger: logger.With(slog.String("component", "db"))}, nil
}

// Close releases the pool.
func (db *DB) Close() { db.Pool.Close() }

// Ping checks that the database answers.
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
	conn, err := db.Pool.Acquire(ctx)
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

	migrator, err := rivermigrate.New(riverpgxv5.New(db.Pool), nil)
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
