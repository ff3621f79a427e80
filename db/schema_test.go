package db_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// The ERD tables are checked from the catalogs of a migrated database, not by reading the SQL back:
// what matters is what PostgreSQL ends up enforcing.

type column struct {
	Name    string
	Type    string
	NotNull bool
}

func TestSchemaMatchesERD(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()

	columns := func(table string) []column {
		t.Helper()
		rows, err := d.Pool.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
			FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
			ORDER BY a.attnum`, table)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []column
		for rows.Next() {
			var c column
			if err := rows.Scan(&c.Name, &c.Type, &c.NotNull); err != nil {
				t.Fatal(err)
			}
			out = append(out, c)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	const ts = "timestamp with time zone"
	want := map[string][]column{
		"distribution_status": {
			{"id", "bigint", true},
			{"event_id", "character varying(36)", true},
			{"overall_status", "character varying(20)", true},
			{"started_at", ts, true},
			{"completed_at", ts, false},
			{"created_at", ts, true},
			{"updated_at", ts, true},
			// Added by this project (list order for status filters, set by trigger; migration 0006).
			{"event_created_at", ts, false},
			// Added by this project (cache version, bumped by trigger; migration 0009).
			{"version", "bigint", true},
		},
		"channel_status": {
			{"id", "bigint", true},
			{"distribution_status_id", "bigint", true},
			{"channel", "character varying(20)", true},
			{"status", "character varying(20)", true},
			{"progress", "integer", false},
			{"distribution_id", "character varying(100)", false},
			{"estimated_views", "integer", false},
			{"update_timestamp", ts, true},
			{"event_id", "character varying(36)", true},
			{"impression_schedule", "text", false},
			{"post_url", "character varying(500)", false},
			{"post_id", "character varying(100)", false},
			{"message_id", "character varying(100)", false},
			{"completed_at", ts, false},
			{"error_message", "text", false},
			{"retries", "integer", false},
			{"last_retry_at", ts, false},
			{"created_at", ts, true},
			{"updated_at", ts, true},
			// Added by this project (the write fence); DESIGN: added columns have defaults.
			{"generation", "integer", true},
			// Added by this project (cache version, bumped by trigger; migration 0009).
			{"version", "bigint", true},
			// Added by this project (why a channel waits, until when; migration 0010).
			{"waiting_reason", "character varying(20)", false},
			{"next_attempt_at", ts, false},
			// Added by this project (the platform's own view count, when read; migration 0021).
			{"measured_views", "integer", false},
			{"measured_at", ts, false},
		},
	}
	for table, cols := range want {
		if got := columns(table); !slices.Equal(got, cols) {
			t.Errorf("%s columns:\n got %v\nwant %v", table, got, cols)
		}
	}

	// Every id is a BIGSERIAL primary key; the project's column has a default.
	for _, c := range []struct{ table, column, defaultPrefix string }{
		{"distribution_status", "id", "nextval("},
		{"channel_status", "id", "nextval("},
		{"channel_status", "generation", "0"},
		{"distribution_status", "event_created_at", "now()"},
	} {
		var def string
		if err := d.Pool.QueryRow(ctx, `SELECT coalesce(column_default, '') FROM information_schema.columns
			WHERE table_name = $1 AND column_name = $2`, c.table, c.column).Scan(&def); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(def, c.defaultPrefix) {
			t.Errorf("%s.%s default = %q, want %s...", c.table, c.column, def, c.defaultPrefix)
		}
	}

	// Constraints, by kind and columns.
	type constraint struct {
		Table, Kind, Columns string
	}
	rows, err := d.Pool.Query(ctx, `SELECT c.conrelid::regclass::text, c.contype::text,
			(SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY k(n, ord)
			 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n)
		FROM pg_constraint c WHERE c.conrelid IN ('distribution_status'::regclass, 'channel_status'::regclass)`)
	if err != nil {
		t.Fatal(err)
	}
	var got []constraint
	for rows.Next() {
		var c constraint
		if err := rows.Scan(&c.Table, &c.Kind, &c.Columns); err != nil {
			t.Fatal(err)
		}
		got = append(got, c)
	}
	rows.Close()
	for _, w := range []constraint{
		{"distribution_status", "p", "id"},
		{"distribution_status", "u", "event_id"},
		{"distribution_status", "c", "overall_status"},
		{"channel_status", "p", "id"},
		{"channel_status", "u", "distribution_status_id,channel"},
		{"channel_status", "f", "distribution_status_id"},
		{"channel_status", "c", "channel"},
		{"channel_status", "c", "status"},
		{"channel_status", "c", "progress"},
	} {
		if !slices.Contains(got, w) {
			t.Errorf("missing constraint %+v (have %+v)", w, got)
		}
	}

	// The foreign key points at distribution_status(id) and cascades deletes.
	var refTable, refCols, delType string
	if err := d.Pool.QueryRow(ctx, `SELECT c.confrelid::regclass::text,
			(SELECT string_agg(a.attname, ',') FROM unnest(c.confkey) k(n)
			 JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n),
			c.confdeltype::text
		FROM pg_constraint c WHERE c.conrelid = 'channel_status'::regclass AND c.contype = 'f'`).
		Scan(&refTable, &refCols, &delType); err != nil {
		t.Fatal(err)
	}
	if refTable != "distribution_status" || refCols != "id" || delType != "c" {
		t.Errorf("foreign key references %s(%s) confdeltype %q, want distribution_status(id) 'c' (cascade)", refTable, refCols, delType)
	}

	// The ERD's indexes on channel_status, by their key columns.
	// (An expression index, such as lower(post_id) of migration 0014, has no plain key column: '').
	idxRows, err := d.Pool.Query(ctx, `SELECT COALESCE((SELECT string_agg(a.attname, ',' ORDER BY k.ord)
			FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, ord)
			JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n), '')
		FROM pg_index i WHERE i.indrelid = 'channel_status'::regclass`)
	if err != nil {
		t.Fatal(err)
	}
	var indexes []string
	for idxRows.Next() {
		var cols string
		if err := idxRows.Scan(&cols); err != nil {
			t.Fatal(err)
		}
		indexes = append(indexes, cols)
	}
	idxRows.Close()
	for _, w := range []string{"event_id", "event_id,channel", "status", "distribution_status_id,channel"} {
		if !slices.Contains(indexes, w) {
			t.Errorf("channel_status has no index on (%s); indexes: %v", w, indexes)
		}
	}
}

// TestSchemaConstraints checks what the CHECK, UNIQUE and NOT NULL constraints accept and reject.
func TestSchemaConstraints(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	mustCreateEvent(t, d, "ev-1", "one")
	mustCreateEvent(t, d, "ev-2", "two")
	distID := insertDistribution(t, d, "ev-1", "IN_PROGRESS")

	insertChannel := func(channel, status string, progress any) error {
		tx, err := d.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck // each probe is undone
		_, err = tx.Exec(ctx, `INSERT INTO channel_status (distribution_status_id, event_id, channel, status, progress)
			VALUES ($1, 'ev-1', $2, $3, $4)`, distID, channel, status, progress)
		return err
	}
	insertOverall := func(status string) error {
		tx, err := d.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck
		_, err = tx.Exec(ctx, `INSERT INTO distribution_status (event_id, overall_status, started_at)
			VALUES ('ev-2', $1, now())`, status)
		return err
	}

	for _, ch := range []string{"URIDONGNETV", "RINGOBIZ", "GINITV", "INSTAGRAM", "NAVER", "KAKAO"} {
		if err := insertChannel(ch, "PENDING", 0); err != nil {
			t.Errorf("channel %s rejected: %v", ch, err)
		}
	}
	for _, st := range []string{"PENDING", "IN_PROGRESS", "SUCCESS", "FAILED"} {
		if err := insertChannel("KAKAO", st, 50); err != nil {
			t.Errorf("status %s rejected: %v", st, err)
		}
	}
	for _, p := range []any{0, 100, nil} {
		if err := insertChannel("KAKAO", "PENDING", p); err != nil {
			t.Errorf("progress %v rejected: %v", p, err)
		}
	}
	for _, st := range []string{"IN_PROGRESS", "COMPLETED", "FAILED", "PARTIAL_SUCCESS"} {
		if err := insertOverall(st); err != nil {
			t.Errorf("overall_status %s rejected: %v", st, err)
		}
	}

	for _, tc := range []struct {
		name string
		err  error
		code string
	}{
		{"unknown channel", insertChannel("TWITTER", "PENDING", 0), "23514"},
		{"lower-case channel", insertChannel("kakao", "PENDING", 0), "23514"},
		{"unknown status", insertChannel("KAKAO", "DONE", 0), "23514"},
		{"progress 101", insertChannel("KAKAO", "PENDING", 101), "23514"},
		{"progress -1", insertChannel("KAKAO", "PENDING", -1), "23514"},
		{"unknown overall_status", insertOverall("SUCCESS"), "23514"},
		{"empty overall_status", insertOverall(""), "23514"},
		{"channel too long", insertChannel(strings.Repeat("K", 21), "PENDING", 0), "22001"},
	} {
		if got := pgCode(tc.err); got != tc.code {
			t.Errorf("%s: SQLSTATE %q (%v), want %s", tc.name, got, tc.err, tc.code)
		}
	}

	// UNIQUE (event_id): one distribution per event.
	_, err := d.Pool.Exec(ctx, `INSERT INTO distribution_status (event_id, overall_status, started_at) VALUES ('ev-1', 'IN_PROGRESS', now())`)
	if got := pgCode(err); got != "23505" {
		t.Errorf("duplicate event_id: SQLSTATE %q (%v), want 23505", got, err)
	}
	// UNIQUE (distribution_status_id, channel).
	if _, err := d.Pool.Exec(ctx, `INSERT INTO channel_status (distribution_status_id, event_id, channel, status) VALUES ($1, 'ev-1', 'KAKAO', 'PENDING')`, distID); err != nil {
		t.Fatal(err)
	}
	_, err = d.Pool.Exec(ctx, `INSERT INTO channel_status (distribution_status_id, event_id, channel, status) VALUES ($1, 'ev-1', 'KAKAO', 'PENDING')`, distID)
	if got := pgCode(err); got != "23505" {
		t.Errorf("duplicate (distribution, channel): SQLSTATE %q (%v), want 23505", got, err)
	}
	// NOT NULL columns.
	for _, stmt := range []string{
		`INSERT INTO distribution_status (event_id, overall_status) VALUES ('ev-2', 'IN_PROGRESS')`,
		`INSERT INTO channel_status (distribution_status_id, event_id, channel) VALUES (` + fmt.Sprint(distID) + `, 'ev-1', 'NAVER')`,
		`INSERT INTO channel_status (distribution_status_id, channel, status) VALUES (` + fmt.Sprint(distID) + `, 'NAVER', 'PENDING')`,
	} {
		_, err := d.Pool.Exec(ctx, stmt)
		if got := pgCode(err); got != "23502" {
			t.Errorf("%s: SQLSTATE %q (%v), want 23502 not_null_violation", stmt, got, err)
		}
	}
	// A channel row needs an existing distribution.
	_, err = d.Pool.Exec(ctx, `INSERT INTO channel_status (distribution_status_id, event_id, channel, status) VALUES (-1, 'ev-1', 'NAVER', 'PENDING')`)
	if got := pgCode(err); got != "23503" {
		t.Errorf("orphan channel row: SQLSTATE %q (%v), want 23503", got, err)
	}
}

func TestDeletingDistributionCascadesToChannels(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	mustCreateEvent(t, d, "ev-1", "one")
	mustCreateEvent(t, d, "ev-2", "two")
	id := insertDistribution(t, d, "ev-1", "IN_PROGRESS", seedChannel{Channel: "KAKAO"}, seedChannel{Channel: "NAVER"})
	insertDistribution(t, d, "ev-2", "IN_PROGRESS", seedChannel{Channel: "KAKAO"})

	if _, err := d.Pool.Exec(ctx, `DELETE FROM distribution_status WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	var left, others int
	if err := d.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE distribution_status_id = $1),
		count(*) FILTER (WHERE distribution_status_id <> $1) FROM channel_status`, id).Scan(&left, &others); err != nil {
		t.Fatal(err)
	}
	if left != 0 || others != 1 {
		t.Fatalf("after delete: %d channel rows of the deleted distribution (want 0), %d others (want 1)", left, others)
	}
}
