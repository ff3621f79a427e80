package db_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
)

// Fixtures of the tests of the engine's write side (starts, runs, retries, rescue).
// engRecorder is an EnqueueFunc that records what would have been enqueued (no River here; the
// engine tests run River for real).
type engRecorder struct {
	mu    sync.Mutex
	calls int
	rows  []model.ChannelState
	trig  []string
}

func (r *engRecorder) enqueue(_ context.Context, _ pgx.Tx, rows []model.ChannelState, trigger string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	r.rows = append(r.rows, rows...)
	r.trig = append(r.trig, trigger)
	return nil
}

func engNoEnqueue(context.Context, pgx.Tx, []model.ChannelState, string) error { return nil }

func engEvent(t testing.TB, d *db.DB, id string) {
	t.Helper()
	if _, err := d.Pool.Exec(context.Background(), `INSERT INTO events (id, title) VALUES ($1, $2)`, id, "Event "+id); err != nil {
		t.Fatalf("insert event: %v", err)
	}
}

func engCount(t testing.TB, d *db.DB, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := d.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func engCode(t testing.TB, err error, want string) {
	t.Helper()
	if got := model.ErrorCode(err); got != want {
		t.Fatalf("error code = %q (%v), want %q", got, err, want)
	}
}

// engStart starts a distribution of all six channels and returns it.
func engStart(t testing.TB, d *db.DB, eventID string, chans ...model.Channel) model.Distribution {
	t.Helper()
	if len(chans) == 0 {
		chans = model.AllChannels
	}
	engEvent(t, d, eventID)
	dist, err := d.StartDistribution(context.Background(), eventID, chans, "m@x", engNoEnqueue)
	if err != nil {
		t.Fatal(err)
	}
	return dist
}

func engFinish(c model.ChannelState, status model.ChannelStatus, attemptID int64) db.ChannelFinish {
	f := db.ChannelFinish{
		ChannelStatusID: c.ID, DistributionStatusID: c.DistributionStatusID, Generation: c.Generation,
		AttemptID: attemptID, Status: status,
	}
	switch status {
	case model.StatusSuccess:
		f.Outcome = model.OutcomeSuccess
		f.Result = &db.ChannelResult{DistributionID: "d-1", EstimatedViews: 42, ImpressionSchedule: `[{"slot":"prime"}]`}
	case model.StatusFailed:
		f.Outcome, f.ErrorMessage, f.HTTPStatus = model.OutcomeFailed, "the channel rejected the post (HTTP 400)", 400
	default:
		f.Outcome, f.ErrorMessage = model.OutcomeRetry, "attempt 1 of 3 failed"
	}
	return f
}

func engFail(t testing.TB, d *db.DB, c model.ChannelState) {
	t.Helper()
	if _, err := d.FinishChannel(context.Background(), engFinish(c, model.StatusFailed, 0)); err != nil {
		t.Fatal(err)
	}
}
