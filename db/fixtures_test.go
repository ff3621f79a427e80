package db_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
)

// Fixtures shared by the db tests. The engine's write methods are not used here so these tests pin
// the read side against plain SQL rows.

// mustCreateEvent creates an event with the given id and title.
func mustCreateEvent(t testing.TB, d *db.DB, id, title string) model.Event {
	t.Helper()
	e, err := d.CreateEvent(context.Background(), model.Event{ID: id, Title: title}, "test")
	if err != nil {
		t.Fatalf("create event %s: %v", id, err)
	}
	return e
}

// seedChannel is one channel row of insertDistribution; zero fields take defaults.
type seedChannel struct {
	Channel        model.Channel
	Status         model.ChannelStatus
	Progress       int
	DistributionID string
	PostID         string
	MessageID      string
}

// insertDistribution writes a distribution_status row and its channel rows with plain SQL and
// returns the distribution_status id.
func insertDistribution(t testing.TB, d *db.DB, eventID string, overall model.OverallStatus, chs ...seedChannel) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	if err := d.Pool.QueryRow(ctx, `INSERT INTO distribution_status (event_id, overall_status, started_at)
		VALUES ($1, $2, now()) RETURNING id`, eventID, string(overall)).Scan(&id); err != nil {
		t.Fatalf("insert distribution of %s: %v", eventID, err)
	}
	for _, c := range chs {
		if c.Status == "" {
			c.Status = model.StatusPending
		}
		if _, err := d.Pool.Exec(ctx, `INSERT INTO channel_status
			(distribution_status_id, event_id, channel, status, progress, distribution_id, post_id, message_id, retries)
			VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), NULLIF($7, ''), NULLIF($8, ''), 0)`,
			id, eventID, string(c.Channel), string(c.Status), c.Progress, c.DistributionID, c.PostID, c.MessageID); err != nil {
			t.Fatalf("insert channel %s of %s: %v", c.Channel, eventID, err)
		}
	}
	return id
}

// pgCode returns the SQLSTATE of a PostgreSQL error, "" otherwise.
func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := model.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}
