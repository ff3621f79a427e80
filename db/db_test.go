package db_test

import (
	"context"
	"os"
	"testing"

	"github.com/marketing-platform/distribution/dbtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplates()
	os.Exit(code)
}

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
	if n != 3 {
		t.Fatalf("schema_migrations rows = %d, want 3", n)
	}
	var river bool
	if err := d.Pool.QueryRow(ctx, "SELECT to_regclass('river_job') IS NOT NULL").Scan(&river); err != nil || !river {
		t.Fatalf("river_job table missing (err %v)", err)
	}
}
