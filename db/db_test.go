package db_test

import (
	"context"
	"io/fs"
	"testing"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
	"github.com/marketing-platform/distribution/migrations"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	if err := d.Migrate(ctx); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	var n int
	if err := d.Pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if n != len(files) {
		t.Fatalf("schema_migrations rows = %d, want %d (one per migration file)", n, len(files))
	}
	var river bool
	if err := d.Pool.QueryRow(ctx, "SELECT to_regclass('river_job') IS NOT NULL").Scan(&river); err != nil || !river {
		t.Fatalf("river_job table missing (err %v)", err)
	}
}

// TestMigrationsApplied: true on a migrated database; false (no error) when the newest embedded
// migration is not recorded or schema_migrations does not exist (what /readyz reports as missing).
func TestMigrationsApplied(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	if ok, err := d.MigrationsApplied(ctx); err != nil || !ok {
		t.Fatalf("migrated database: MigrationsApplied = %v, %v; want true", ok, err)
	}
	latest, err := db.LatestMigration()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pool.Exec(ctx, "DELETE FROM schema_migrations WHERE version = $1", latest); err != nil {
		t.Fatal(err)
	}
	if ok, err := d.MigrationsApplied(ctx); err != nil || ok {
		t.Fatalf("without %s: MigrationsApplied = %v, %v; want false", latest, ok, err)
	}
	if _, err := d.Pool.Exec(ctx, "DROP TABLE schema_migrations"); err != nil {
		t.Fatal(err)
	}
	if ok, err := d.MigrationsApplied(ctx); err != nil || ok {
		t.Fatalf("without schema_migrations: MigrationsApplied = %v, %v; want false", ok, err)
	}
}
