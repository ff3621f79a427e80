package db_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/db"

	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// TestSearchIDsPlannedOnIndexes: the search for a pasted id or URL stays four index lookups on a
// table of many channels, most of them still running (no ids yet). Migration 0022 made those
// indexes partial (no entry for a running row); ANALYZE keeps no statistics for a partial index's
// expression, and without the expression statistics the same migration creates, the planner
// walked every channel row instead.
func TestSearchIDsPlannedOnIndexes(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO events (id, title) SELECT 'e' || g, 't' || g FROM generate_series(1, 20000) g`,
		`INSERT INTO distribution_status (event_id, overall_status, event_created_at, started_at)
			SELECT id, 'IN_PROGRESS', now(), now() FROM events`,
		`INSERT INTO channel_status (distribution_status_id, event_id, channel, status, post_id, post_url, completed_at)
			SELECT id, event_id, 'INSTAGRAM', 'SUCCESS', 'P' || id, 'https://www.instagram.com/p/' || id, now() FROM distribution_status`,
		`INSERT INTO channel_status (distribution_status_id, event_id, channel, status)
			SELECT id, event_id, ch, 'PENDING' FROM distribution_status, unnest(ARRAY['NAVER']) ch`,
		`ANALYZE channel_status`,
	} {
		if _, err := d.Pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := d.Pool.Query(ctx, "EXPLAIN "+db.SearchIDsSQL, pgx.QueryExecModeExec, []string{"p123"}, []string{"https://www.instagram.com/p/123"})
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(lines, "\n")
	for _, idx := range []string{"idx_channel_status_lower_distribution_id", "idx_channel_status_lower_post_id",
		"idx_channel_status_lower_message_id", "idx_channel_status_post_url"} {
		if !strings.Contains(plan, idx) {
			t.Errorf("the id search does not use %s:\n%s", idx, plan)
		}
	}
	// With the expression statistics the planner knows an id matches a row or two; without them
	// it guesses 200 rows an arm, which on a larger table turns the plan into a walk of every row.
	for _, line := range lines {
		if !strings.Contains(line, "Index Scan on idx_channel_status_lower_") {
			continue
		}
		m := regexp.MustCompile(`rows=(\d+)`).FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("no row estimate in %q", line)
		}
		if n, _ := strconv.Atoi(m[1]); n > 20 {
			t.Errorf("the planner estimates %d rows for one id (no statistics on the expression?): %s", n, line)
		}
	}
	if strings.Contains(plan, "Seq Scan") {
		t.Errorf("the id search scans the table:\n%s", plan)
	}
	// Finding a post by its id still works (the partial index has the finished rows).
	var ev string
	if err := d.Pool.QueryRow(ctx, db.SearchIDsSQL, pgx.QueryExecModeExec, []string{"p7"}, []string{}).Scan(&ev); err != nil || ev == "" {
		t.Errorf("search for post P7 = %q, %v", ev, err)
	}
}
