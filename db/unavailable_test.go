package db_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

func TestUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A real refused connection: nothing listens on port 1.
	_, err := db.Open(ctx, "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=1", nil)
	if err == nil || !db.Unavailable(err) {
		t.Fatalf("refused connection: Unavailable(%v) = false", err)
	}
	// A statement that fails on a healthy server is not unavailability.
	d := dbtest.New(t)
	_, err = d.Pool.Exec(ctx, "SELECT * FROM no_such_table")
	if err == nil || db.Unavailable(err) {
		t.Fatalf("statement error classified as unavailable: %v", err)
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("find token: %w", &pgconn.PgError{Code: "57P01"}), true},
		{&pgconn.PgError{Code: "08006"}, true},
		{&pgconn.PgError{Code: "23505"}, false},
		{model.Errorf(model.ENOTFOUND, "no"), false},
		{context.Canceled, false},
		{errors.New("boom"), false},
		{nil, false},
	} {
		if got := db.Unavailable(tc.err); got != tc.want {
			t.Errorf("Unavailable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
