package db_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

func TestClaimProgressFinishAndFence(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	dist := engStart(t, d, "ev1", model.ChannelGiniTV, model.ChannelKakao)
	gini := dist.Channels[0]

	run, ok, err := d.ClaimChannel(ctx, dist.ID, gini.Channel, 1, "system")
	if err != nil || !ok {
		t.Fatalf("claim: ok=%v err=%v", ok, err)
	}
	if run.State.Status != model.StatusInProgress || run.Attempt != 1 || run.Event.Title != "Event ev1" {
		t.Fatalf("run = %+v", run)
	}
	if _, ok, _ := d.ClaimChannel(ctx, dist.ID, gini.Channel, 2, "system"); ok {
		t.Fatal("claim with a future generation succeeded")
	}

	// Progress only moves forward.
	for _, p := range []struct {
		pct     int
		changed bool
		want    int
	}{{30, true, 30}, {20, false, 30}, {30, false, 30}, {70, true, 70}} {
		st, changed, err := d.UpdateChannelProgress(ctx, gini.ID, 1, p.pct)
		if err != nil || changed != p.changed {
			t.Fatalf("progress %d: changed=%v err=%v", p.pct, changed, err)
		}
		if changed && st.Progress != p.want {
			t.Fatalf("progress = %d, want %d", st.Progress, p.want)
		}
	}

	// A manual-retry-like generation bump makes the old attempt stale: its writes touch nothing.
	if _, err := d.Pool.Exec(ctx, `UPDATE channel_status SET generation = 2 WHERE id = $1`, gini.ID); err != nil {
		t.Fatal(err)
	}
	if _, changed, err := d.UpdateChannelProgress(ctx, gini.ID, 1, 90); err != nil || changed {
		t.Fatalf("stale progress write: changed=%v err=%v", changed, err)
	}
	old := engFinish(run.State, model.StatusSuccess, run.AttemptID)
	res, err := d.FinishChannel(ctx, old)
	if err != nil || !res.Stale {
		t.Fatalf("stale finish: stale=%v err=%v", res.Stale, err)
	}
	var status string
	var progress, gen int
	if err := d.Pool.QueryRow(ctx, `SELECT status, progress, generation FROM channel_status WHERE id = $1`, gini.ID).Scan(&status, &progress, &gen); err != nil {
		t.Fatal(err)
	}
	if status != "IN_PROGRESS" || progress != 70 || gen != 2 {
		t.Fatalf("after stale writes: status=%s progress=%d generation=%d", status, progress, gen)
	}

	// The current generation finishes; the result lands in the right columns.
	run2, ok, err := d.ClaimChannel(ctx, dist.ID, gini.Channel, 2, "retry:s@x")
	if err != nil || !ok || run2.Attempt != 2 {
		t.Fatalf("claim gen 2: ok=%v attempt=%d err=%v", ok, run2.Attempt, err)
	}
	res, err = d.FinishChannel(ctx, engFinish(run2.State, model.StatusSuccess, run2.AttemptID))
	if err != nil || res.Stale {
		t.Fatalf("finish: stale=%v err=%v", res.Stale, err)
	}
	c := res.Channel
	if c.Status != model.StatusSuccess || c.Progress != 100 || c.CompletedAt == nil || c.ErrorMessage != nil ||
		c.DistributionID == nil || *c.DistributionID != "d-1" || c.EstimatedViews == nil || *c.EstimatedViews != 42 ||
		c.ImpressionSchedule == nil || *c.ImpressionSchedule != `[{"slot":"prime"}]` || c.PostID != nil {
		t.Fatalf("finished channel = %+v", c)
	}
	if res.Distribution.OverallStatus != model.OverallInProgress || len(res.Distribution.Channels) != 2 {
		t.Fatalf("rollup with KAKAO pending = %s", res.Distribution.OverallStatus)
	}
	// A duplicate run of the finished generation writes nothing more.
	if res, err := d.FinishChannel(ctx, engFinish(run2.State, model.StatusFailed, 0)); err != nil || !res.Stale {
		t.Fatalf("finish after terminal: stale=%v err=%v", res.Stale, err)
	}
	var outcomes []string
	rows, _ := d.Pool.Query(ctx, `SELECT outcome FROM channel_attempts WHERE channel_status_id = $1 ORDER BY attempt`, gini.ID)
	outcomes, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || fmt.Sprint(outcomes) != "[success success]" {
		// attempt 1 was closed by the stale run (history), attempt 2 by the current one
		t.Fatalf("attempt outcomes = %v (%v)", outcomes, err)
	}
}

// RELIABILITY W4: six channels finishing at once, many times, always roll up correctly.
func TestFinishRollupRace(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	n := 1000
	if testing.Short() {
		n = 100
	}
	// Build n distributions of six PENDING channels in one statement each (setup speed).
	if _, err := d.Pool.Exec(ctx, `
		INSERT INTO distribution_status (event_id, overall_status, started_at)
		SELECT 'race-' || g, 'IN_PROGRESS', now() FROM generate_series(1, $1) g`, n); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pool.Exec(ctx, `
		INSERT INTO channel_status (distribution_status_id, channel, status, progress, event_id, retries, generation)
		SELECT d.id, ch, 'IN_PROGRESS', 50, d.event_id, 0, 1
		FROM distribution_status d, unnest(ARRAY['URIDONGNETV','RINGOBIZ','GINITV','INSTAGRAM','NAVER','KAKAO']) ch`); err != nil {
		t.Fatal(err)
	}
	rows, err := d.Pool.Query(ctx, `SELECT cs.id, cs.distribution_status_id, cs.channel, d.event_id
		FROM channel_status cs JOIN distribution_status d ON d.id = cs.distribution_status_id ORDER BY cs.distribution_status_id, cs.id`)
	if err != nil {
		t.Fatal(err)
	}
	byDist := map[int64][]model.ChannelState{}
	var order []int64
	for rows.Next() {
		var c model.ChannelState
		if err := rows.Scan(&c.ID, &c.DistributionStatusID, &c.Channel, &c.EventID); err != nil {
			t.Fatal(err)
		}
		c.Generation = 1
		if _, seen := byDist[c.DistributionStatusID]; !seen {
			order = append(order, c.DistributionStatusID)
		}
		byDist[c.DistributionStatusID] = append(byDist[c.DistributionStatusID], c)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}

	// Variant by index: all success, one failure, all failed.
	want := func(i int) (model.OverallStatus, func(j int) model.ChannelStatus) {
		switch i % 3 {
		case 1:
			return model.OverallPartialSuccess, func(j int) model.ChannelStatus {
				if j == i%6 {
					return model.StatusFailed
				}
				return model.StatusSuccess
			}
		case 2:
			return model.OverallFailed, func(int) model.ChannelStatus { return model.StatusFailed }
		}
		return model.OverallCompleted, func(int) model.ChannelStatus { return model.StatusSuccess }
	}

	// Four distributions at a time, each finishing its six channels behind one barrier.
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	errs := make(chan error, 6*n)
	for i, id := range order {
		_, status := want(i)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var inner sync.WaitGroup
			barrier := make(chan struct{})
			for j, c := range byDist[id] {
				inner.Go(func() {
					<-barrier
					if res, err := d.FinishChannel(ctx, engFinish(c, status(j), 0)); err != nil || res.Stale {
						errs <- fmt.Errorf("finish %d/%s: stale=%v err=%v", id, c.Channel, res.Stale, err)
					}
				})
			}
			close(barrier)
			inner.Wait()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := map[int64]string{}
	var completed map[int64]bool = map[int64]bool{}
	rows, err = d.Pool.Query(ctx, `SELECT id, overall_status, completed_at IS NOT NULL FROM distribution_status`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var s string
		var done bool
		if err := rows.Scan(&id, &s, &done); err != nil {
			t.Fatal(err)
		}
		got[id], completed[id] = s, done
	}
	wrong := 0
	for i, id := range order {
		w, _ := want(i)
		if got[id] != string(w) || !completed[id] {
			wrong++
			if wrong < 5 {
				t.Errorf("distribution %d: overall %s (completed_at set %v), want %s", id, got[id], completed[id], w)
			}
		}
	}
	if wrong > 0 {
		t.Fatalf("%d of %d distributions rolled up wrong", wrong, n)
	}
}
