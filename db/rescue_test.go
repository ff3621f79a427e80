package db_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// The reconciler's SQL: a channel stuck without a live job is re-driven once, then failed.
func TestRescueStuckChannel(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	dist := engStart(t, d, "ev1", model.ChannelInstagram, model.ChannelNaver)
	insta, naver := dist.Channels[0], dist.Channels[1]
	if _, err := d.FinishChannel(ctx, engFinish(naver, model.StatusSuccess, 0)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.ClaimChannel(ctx, dist.ID, insta.Channel, 1, "system"); err != nil {
		t.Fatal(err)
	}
	backdate := func() {
		t.Helper()
		if _, err := d.Pool.Exec(ctx, `UPDATE channel_status SET update_timestamp = now() - interval '10 minutes' WHERE id = $1`, insta.ID); err != nil {
			t.Fatal(err)
		}
	}
	// Fresh rows are not stuck.
	if s, err := d.FindStuckChannels(ctx, time.Minute, 10); err != nil || len(s) != 0 {
		t.Fatalf("fresh: %v %v", s, err)
	}
	backdate()
	// A live job for the current generation means River still owns it.
	if _, err := d.Pool.Exec(ctx, `INSERT INTO river_job (args, kind, max_attempts, queue, state, scheduled_at)
		VALUES (jsonb_build_object('distribution_status_id', $1::bigint, 'channel', 'INSTAGRAM', 'generation', 1, 'event_id', 'ev1'),
		        $2, 3, 'channels', 'running', now())`, dist.ID, db.PublishJobKind); err != nil {
		t.Fatal(err)
	}
	if s, err := d.FindStuckChannels(ctx, time.Minute, 10); err != nil || len(s) != 0 {
		t.Fatalf("with a live job: %v %v", s, err)
	}
	if _, err := d.Pool.Exec(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = now()`); err != nil {
		t.Fatal(err)
	}
	stuck, err := d.FindStuckChannels(ctx, time.Minute, 10)
	if err != nil || len(stuck) != 1 || stuck[0].ID != insta.ID || stuck[0].Generation != 1 {
		t.Fatalf("stuck = %v, %v", stuck, err)
	}

	rec := &engRecorder{}
	res, err := d.RescueChannel(ctx, insta.ID, 1, time.Minute, 2, rec.enqueue)
	if err != nil || res.Action != db.RescueRedriven {
		t.Fatalf("first rescue: %+v %v", res, err)
	}
	if res.Channel.Status != model.StatusPending || res.Channel.Generation != 2 || rec.trig[0] != "rescue" || len(rec.rows) != 1 {
		t.Fatalf("re-driven row = %+v, triggers %v", res.Channel, rec.trig)
	}
	// A second reconciler holding the old generation finds nothing to do.
	if res, err := d.RescueChannel(ctx, insta.ID, 1, time.Minute, 2, rec.enqueue); err != nil || res.Action != db.RescueNone {
		t.Fatalf("duplicate rescue: %+v %v", res, err)
	}
	if n := engCount(t, d, `SELECT count(*) FROM channel_attempts WHERE channel_status_id = $1 AND outcome = 'lost'`, insta.ID); n != 1 {
		t.Fatalf("lost attempts = %d", n)
	}

	// Lost again (its job vanished before it ran): now FAILED "worker lost", and the rollup runs.
	backdate()
	res, err = d.RescueChannel(ctx, insta.ID, 2, time.Minute, 2, rec.enqueue)
	if err != nil || res.Action != db.RescueFailed {
		t.Fatalf("second rescue: %+v %v", res, err)
	}
	if res.Channel.Status != model.StatusFailed || res.Channel.ErrorMessage == nil || res.Channel.CompletedAt == nil {
		t.Fatalf("failed row = %+v", res.Channel)
	}
	if res.Distribution.OverallStatus != model.OverallPartialSuccess || res.Previous != model.OverallInProgress {
		t.Fatalf("rollup %s → %s", res.Previous, res.Distribution.OverallStatus)
	}
	var trig []string
	rows, _ := d.Pool.Query(ctx, `SELECT trigger || '/' || outcome FROM channel_attempts WHERE channel_status_id = $1 ORDER BY attempt`, insta.ID)
	trig, _ = pgx.CollectRows(rows, pgx.RowTo[string])
	if fmt.Sprint(trig) != "[system/lost rescue/lost]" {
		t.Fatalf("attempt history = %v", trig)
	}
}
