package dbtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

// The template is named by the schema that builds it and kept for the next binary; a test
// database a killed run left behind is dropped once stale, a recent one is not. The test leaves
// none of its own behind (its fresh database used to outlive every run: the cleanup that dropped
// it ran on a connection already closed).
func TestTemplatesNamedBySchemaAndStaleDatabasesDropped(t *testing.T) {
	var fresh string
	t.Run("drop", func(t *testing.T) { fresh = templatesAndStaleDatabases(t) })
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if databaseExists(t, admin, fresh) {
		t.Errorf("the test's own database %s was left behind", fresh)
	}
}

func databaseExists(t *testing.T, admin *pgx.Conn, name string) bool {
	t.Helper()
	var ok bool
	if err := admin.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// templatesAndStaleDatabases checks the template and the stale sweep, and returns the name of the
// recent database it created (dropped by its cleanup).
func templatesAndStaleDatabases(t *testing.T) string {
	ctx := context.Background()
	New(t) // builds (or finds) the template
	if want := "dist_tmpl_" + schemaHash(); templateName != want {
		t.Fatalf("template %q, want %q", templateName, want)
	}
	if first, second := schemaHash(), schemaHash(); first != second {
		t.Fatal("schemaHash is not stable")
	}
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(ctx) }) // after the drop below: cleanups run last first
	exists := func(name string) bool { return databaseExists(t, admin, name) }
	stale, fresh := "dist_test_stale_"+randHex(4), "dist_test_fresh_"+randHex(4)
	for name, at := range map[string]time.Time{stale: time.Now().Add(-staleAfter - time.Minute), fresh: time.Now()} {
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(ctx, fmt.Sprintf("COMMENT ON DATABASE %s IS 'dbtest created %d'", name, at.Unix())); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+fresh) }) //nolint:errcheck
	DropTemplates()
	if exists(stale) {
		t.Error("a stale test database was kept")
	}
	if !exists(fresh) || !exists(templateName) {
		t.Error("a recent test database or the current template was dropped")
	}
	return fresh
}
