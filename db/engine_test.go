package db_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
	"github.com/marketing-platform/distribution/internal/model"
)

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

func TestStartDistributionRejectsBadInput(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	engEvent(t, d, "ev1")
	ctx := context.Background()
	tests := []struct {
		name    string
		event   string
		chans   []model.Channel
		code    string
		message string
	}{
		{"unknown event", "nope", []model.Channel{model.ChannelKakao}, model.ENOTFOUND, `event "nope" not found`},
		{"malformed event id", "../x", []model.Channel{model.ChannelKakao}, model.ENOTFOUND, `event "../x" not found`},
		{"no channels", "ev1", nil, model.EINVALID, "choose at least one channel"},
		{"unknown channel", "ev1", []model.Channel{"KAKAO", "TWITTER"}, model.EINVALID, `unknown channel "TWITTER"`},
		{"duplicate channel", "ev1", []model.Channel{"KAKAO", "NAVER", "KAKAO"}, model.EINVALID, "channel KAKAO is listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &engRecorder{}
			_, err := d.StartDistribution(ctx, tt.event, tt.chans, "m@x", rec.enqueue)
			engCode(t, err, tt.code)
			if got := model.ErrorMessage(err); got != tt.message {
				t.Errorf("message = %q, want %q", got, tt.message)
			}
			if rec.calls != 0 {
				t.Errorf("enqueue called %d times", rec.calls)
			}
		})
	}
	for _, table := range []string{"distribution_status", "channel_status", "audit_log"} {
		if n := engCount(t, d, "SELECT count(*) FROM "+table); n != 0 {
			t.Errorf("%s has %d rows after rejected starts", table, n)
		}
	}
}

func TestStartDistributionCreatesRowsInDisplayOrder(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	engEvent(t, d, "ev1")
	rec := &engRecorder{}
	dist, err := d.StartDistribution(context.Background(), "ev1", []model.Channel{"KAKAO", "URIDONGNETV", "NAVER"}, "m@x", rec.enqueue)
	if err != nil {
		t.Fatal(err)
	}
	if dist.OverallStatus != model.OverallInProgress || dist.StartedAt.IsZero() || dist.CompletedAt != nil {
		t.Errorf("distribution = %+v", dist)
	}
	var got []model.Channel
	for _, c := range dist.Channels {
		got = append(got, c.Channel)
		if c.Status != model.StatusPending || c.Progress != 0 || c.Retries != 0 || c.Generation != 1 || c.EventID != "ev1" {
			t.Errorf("channel row = %+v", c)
		}
	}
	if fmt.Sprint(got) != "[URIDONGNETV NAVER KAKAO]" {
		t.Errorf("channels = %v", got)
	}
	if rec.calls != 1 || len(rec.rows) != 3 || rec.trig[0] != "system" {
		t.Errorf("enqueue calls=%d rows=%d triggers=%v", rec.calls, len(rec.rows), rec.trig)
	}
	if n := engCount(t, d, `SELECT count(*) FROM audit_log WHERE actor = 'm@x' AND action = 'distribution.start' AND event_id = 'ev1'`); n != 1 {
		t.Errorf("audit rows = %d", n)
	}
}

// An enqueue failure rolls everything back: rows and jobs commit together or not at all.
func TestStartDistributionEnqueueFailureWritesNothing(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	engEvent(t, d, "ev1")
	boom := errors.New("queue down")
	_, err := d.StartDistribution(context.Background(), "ev1", model.AllChannels, "m@x",
		func(context.Context, pgx.Tx, []model.ChannelState, string) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if n := engCount(t, d, "SELECT count(*) FROM channel_status") + engCount(t, d, "SELECT count(*) FROM distribution_status"); n != 0 {
		t.Fatalf("%d rows left behind", n)
	}
}

// RELIABILITY D1: 50 concurrent starts → exactly one distribution; the rest get a conflict that
// carries the existing distribution, and no other error.
func TestStartDistributionConcurrentStarts(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	engEvent(t, d, "ev1")
	rec := &engRecorder{}
	const n = 50
	var (
		wg        sync.WaitGroup
		start     = make(chan struct{})
		ok, confl atomic.Int32
		errs      = make(chan error, n)
		ids       = make(chan int64, n)
	)
	for range n {
		wg.Go(func() {
			<-start
			dist, err := d.StartDistribution(context.Background(), "ev1", model.AllChannels, "m@x", rec.enqueue)
			var ae *model.AlreadyStartedError
			switch {
			case err == nil:
				ok.Add(1)
				ids <- dist.ID
			case errors.As(err, &ae):
				confl.Add(1)
				if model.ErrorCode(err) != model.ECONFLICT || model.ErrorMessage(err) != "distribution already started" {
					errs <- fmt.Errorf("conflict error speaks %q / %q", model.ErrorCode(err), model.ErrorMessage(err))
				}
				if len(ae.Distribution.Channels) != 6 || ae.Distribution.EventID != "ev1" {
					errs <- fmt.Errorf("conflict carries %+v", ae.Distribution)
				}
				ids <- ae.Distribution.ID
			default:
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	close(ids)
	for err := range errs {
		t.Error(err)
	}
	if ok.Load() != 1 || confl.Load() != n-1 {
		t.Fatalf("ok=%d conflicts=%d", ok.Load(), confl.Load())
	}
	var first int64
	for id := range ids {
		if first == 0 {
			first = id
		}
		if id != first {
			t.Fatalf("distribution ids differ: %d vs %d", id, first)
		}
	}
	if rec.calls != 1 || len(rec.rows) != 6 {
		t.Errorf("enqueue calls=%d rows=%d", rec.calls, len(rec.rows))
	}
	if got := engCount(t, d, "SELECT count(*) FROM distribution_status"); got != 1 {
		t.Errorf("distributions = %d", got)
	}
	if got := engCount(t, d, "SELECT count(*) FROM channel_status"); got != 6 {
		t.Errorf("channel rows = %d", got)
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

func engFail(t testing.TB, d *db.DB, c model.ChannelState) {
	t.Helper()
	if _, err := d.FinishChannel(context.Background(), engFinish(c, model.StatusFailed, 0)); err != nil {
		t.Fatal(err)
	}
}

// RELIABILITY D2 and D3.
func TestRetryChannel(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	dist := engStart(t, d, "ev1", model.ChannelNaver, model.ChannelKakao)
	naver, kakao := dist.Channels[0], dist.Channels[1]

	t.Run("not FAILED is a conflict and writes nothing", func(t *testing.T) {
		auditBefore := engCount(t, d, "SELECT count(*) FROM audit_log")
		rec := &engRecorder{}
		_, err := d.RetryChannel(ctx, "ev1", model.ChannelKakao, "s@x", rec.enqueue)
		engCode(t, err, model.ECONFLICT)
		if msg := model.ErrorMessage(err); msg != "KAKAO is PENDING; only FAILED channels can be retried" {
			t.Errorf("message = %q", msg)
		}
		if rec.calls != 0 || engCount(t, d, "SELECT count(*) FROM audit_log") != auditBefore ||
			engCount(t, d, "SELECT generation * 100 + COALESCE(retries, 0) FROM channel_status WHERE id = $1", kakao.ID) != 100 {
			t.Error("a rejected retry wrote something")
		}
	})
	t.Run("not found", func(t *testing.T) {
		_, err := d.RetryChannel(ctx, "nope", model.ChannelKakao, "s@x", engNoEnqueue)
		engCode(t, err, model.ENOTFOUND)
		_, err = d.RetryChannel(ctx, "ev1", model.ChannelGiniTV, "s@x", engNoEnqueue)
		engCode(t, err, model.ENOTFOUND)
		_, err = d.RetryChannel(ctx, "ev1", "TWITTER", "s@x", engNoEnqueue)
		engCode(t, err, model.EINVALID)
	})

	// Both channels fail: the distribution is FAILED with completed_at set.
	engFail(t, d, naver)
	engFail(t, d, kakao)
	var overall string
	var completed *time.Time
	d.Pool.QueryRow(ctx, `SELECT overall_status, completed_at FROM distribution_status WHERE id = $1`, dist.ID).Scan(&overall, &completed)
	if overall != "FAILED" || completed == nil {
		t.Fatalf("overall = %s completed_at = %v", overall, completed)
	}

	t.Run("20 concurrent retries: exactly one wins", func(t *testing.T) {
		rec := &engRecorder{}
		var (
			wg        sync.WaitGroup
			ok, confl atomic.Int32
			barrier   = make(chan struct{})
		)
		for range 20 {
			wg.Go(func() {
				<-barrier
				_, err := d.RetryChannel(ctx, "ev1", model.ChannelKakao, "s@x", rec.enqueue)
				switch model.ErrorCode(err) {
				case "":
					ok.Add(1)
				case model.ECONFLICT:
					confl.Add(1)
				default:
					t.Errorf("retry: %v", err)
				}
			})
		}
		close(barrier)
		wg.Wait()
		if ok.Load() != 1 || confl.Load() != 19 || rec.calls != 1 {
			t.Fatalf("ok=%d conflicts=%d enqueues=%d", ok.Load(), confl.Load(), rec.calls)
		}
		r := rec.rows[0]
		if r.Status != model.StatusPending || r.Generation != 2 || r.Retries != 1 || r.LastRetryAt == nil ||
			r.ErrorMessage != nil || r.CompletedAt != nil || r.Progress != 0 || rec.trig[0] != "retry:s@x" {
			t.Fatalf("retried row = %+v trigger %v", r, rec.trig)
		}
		d.Pool.QueryRow(ctx, `SELECT overall_status, completed_at FROM distribution_status WHERE id = $1`, dist.ID).Scan(&overall, &completed)
		if overall != "IN_PROGRESS" || completed != nil {
			t.Fatalf("after retry overall = %s completed_at = %v", overall, completed)
		}
	})

	t.Run("retry failed", func(t *testing.T) {
		rec := &engRecorder{}
		got, rows, err := d.RetryFailed(ctx, "ev1", "s@x", rec.enqueue)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Channel != model.ChannelNaver || got.OverallStatus != model.OverallInProgress {
			t.Fatalf("retried %v, overall %s", rows, got.OverallStatus)
		}
		_, _, err = d.RetryFailed(ctx, "ev1", "s@x", rec.enqueue)
		engCode(t, err, model.ECONFLICT)
	})
}

func TestRetryMatchingBatches(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	for i := range 7 {
		dist := engStart(t, d, fmt.Sprintf("ev%d", i), model.ChannelKakao, model.ChannelNaver)
		for _, c := range dist.Channels {
			engFail(t, d, c)
		}
	}
	f := db.RetryFilter{Channel: model.ChannelKakao}
	if n, err := d.CountRetryMatching(ctx, f); err != nil || n != 7 {
		t.Fatalf("count = %d, %v", n, err)
	}
	if n, err := d.CountRetryMatching(ctx, db.RetryFilter{From: time.Now().Add(time.Hour)}); err != nil || n != 0 {
		t.Fatalf("count in the future = %d, %v", n, err)
	}
	rec := &engRecorder{}
	var after int64
	total, batches := 0, 0
	for {
		rows, dists, last, err := d.RetryMatchingBatch(ctx, f, after, 3, "s@x", rec.enqueue)
		if err != nil {
			t.Fatal(err)
		}
		if last == after {
			break
		}
		batches++
		total += len(rows)
		if len(dists) != len(rows) {
			t.Errorf("batch reopened %d distributions for %d channels", len(dists), len(rows))
		}
		after = last
	}
	if total != 7 || batches != 3 {
		t.Fatalf("retried %d in %d batches", total, batches)
	}
	if rec.trig[0] != "bulk-retry:s@x" {
		t.Errorf("trigger = %v", rec.trig)
	}
	if n := engCount(t, d, `SELECT count(*) FROM channel_status WHERE channel = 'NAVER' AND status = 'FAILED'`); n != 7 {
		t.Errorf("NAVER channels touched: %d still FAILED", n)
	}
	if n := engCount(t, d, `SELECT count(*) FROM distribution_status WHERE overall_status = 'IN_PROGRESS' AND completed_at IS NULL`); n != 7 {
		t.Errorf("reopened distributions = %d", n)
	}
}

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

// StartDistributions (the engine's group commit): every start of a batch gets its own result
// (started, already started, no such event, bad channels), as it would alone; one job insert
// carries the started ones' channels.
func TestStartDistributionsBatch(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	for _, id := range []string{"b1", "b2", "b3"} {
		engEvent(t, d, id)
	}
	if _, err := d.StartDistribution(ctx, "b3", []model.Channel{model.ChannelKakao}, "x", engNoEnqueue); err != nil {
		t.Fatal(err)
	}
	rec := &engRecorder{}
	res := d.StartDistributions(ctx, []db.StartRequest{
		{EventID: "b1", Channels: model.AllChannels, Actor: "a"},
		{EventID: "missing", Channels: model.AllChannels, Actor: "a"},
		{EventID: "b3", Channels: model.AllChannels, Actor: "a"},
		{EventID: "b2", Channels: []model.Channel{model.ChannelNaver, model.ChannelKakao}, Actor: "a"},
		{EventID: "b2", Channels: model.AllChannels, Actor: "a"}, // the same event twice in one batch
		{EventID: "b1", Channels: []model.Channel{"TIKTOK"}, Actor: "a"},
	}, rec.enqueue)
	if res[0].Err != nil || len(res[0].Distribution.Channels) != 6 || res[0].Distribution.EventID != "b1" {
		t.Errorf("b1: %+v", res[0])
	}
	engCode(t, res[1].Err, model.ENOTFOUND)
	var ae *model.AlreadyStartedError
	if !errors.As(res[2].Err, &ae) || len(ae.Distribution.Channels) != 1 {
		t.Errorf("b3 (started before): %v", res[2].Err)
	}
	if res[3].Err != nil || len(res[3].Distribution.Channels) != 2 || res[3].Distribution.Channels[0].Channel != model.ChannelNaver {
		t.Errorf("b2: %+v", res[3])
	}
	if !errors.As(res[4].Err, &ae) || ae.Distribution.ID != res[3].Distribution.ID {
		t.Errorf("b2 again in the same batch: %v", res[4].Err)
	}
	engCode(t, res[5].Err, model.EINVALID)
	if rec.calls != 1 || len(rec.rows) != 8 {
		t.Errorf("enqueue: %d calls, %d rows; want 1 call with 8 rows", rec.calls, len(rec.rows))
	}
	if got := engCount(t, d, `SELECT count(*) FROM audit_log WHERE action = 'distribution.start'`); got != 3 {
		t.Errorf("audit rows = %d, want 3 (b3 before, b1, b2)", got)
	}
}

// When the shared transaction fails, each start is run again on its own: the one that fails
// does not take the others with it, and nothing of it is written.
func TestStartDistributionsBatchIsolatesAFailure(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	for _, id := range []string{"i1", "i2", "i3"} {
		engEvent(t, d, id)
	}
	failI2 := func(_ context.Context, _ pgx.Tx, rows []model.ChannelState, _ string) error {
		for _, r := range rows {
			if r.EventID == "i2" {
				return errors.New("queue refused i2")
			}
		}
		return nil
	}
	res := d.StartDistributions(ctx, []db.StartRequest{
		{EventID: "i1", Channels: model.AllChannels, Actor: "a"},
		{EventID: "i2", Channels: model.AllChannels, Actor: "a"},
		{EventID: "i3", Channels: model.AllChannels, Actor: "a"},
	}, failI2)
	if res[0].Err != nil || res[2].Err != nil {
		t.Fatalf("i1: %v, i3: %v; want both started", res[0].Err, res[2].Err)
	}
	if res[1].Err == nil {
		t.Fatal("i2 started although its jobs could not be queued")
	}
	if got := engCount(t, d, `SELECT count(*) FROM distribution_status`); got != 2 {
		t.Errorf("distributions = %d, want 2", got)
	}
	if got := engCount(t, d, `SELECT count(*) FROM channel_status WHERE event_id = 'i2'`); got != 0 {
		t.Errorf("i2 left %d channel rows", got)
	}
}
