package db_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// jobCanceller is a CancelJobsFunc that records the job ids it was asked to cancel (River's
// JobCancelTx itself is exercised by the engine tests).
type jobCanceller struct {
	mu    sync.Mutex
	calls int
	ids   []int64
}

func (c *jobCanceller) cancel(_ context.Context, _ pgx.Tx, ids []int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	c.ids = append(c.ids, ids...)
	return nil
}

// liveJob inserts a River job row for (dist, ch, generation) in state and returns its id.
func liveJob(t testing.TB, d *db.DB, distID int64, ch model.Channel, generation int, state string) int64 {
	t.Helper()
	var id int64
	if err := d.Pool.QueryRow(context.Background(), `INSERT INTO river_job (args, kind, max_attempts, queue, state, scheduled_at, finalized_at)
		VALUES (jsonb_build_object('distribution_status_id', $1::bigint, 'channel', $2::text, 'generation', $3::int, 'event_id', 'x'),
		        $4, 3, 'channels', $5::river_job_state, now(),
		        CASE WHEN $5 IN ('completed', 'cancelled', 'discarded') THEN now() END)
		RETURNING id`, distID, string(ch), generation, db.PublishJobKind, state).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func channelRow(t testing.TB, d *db.DB, id int64) model.ChannelState {
	t.Helper()
	var c model.ChannelState
	if err := d.Pool.QueryRow(context.Background(), `SELECT status, error_message, generation, post_id, completed_at
		FROM channel_status WHERE id = $1`, id).Scan(&c.Status, &c.ErrorMessage, &c.Generation, &c.PostID, &c.CompletedAt); err != nil {
		t.Fatal(err)
	}
	return c
}

// attemptsOf returns "trigger/outcome/error" of a channel's attempts in order.
func attemptsOf(t testing.TB, d *db.DB, channelStatusID int64) []string {
	t.Helper()
	rows, err := d.Pool.Query(context.Background(), `SELECT trigger || '/' || outcome || '/' || COALESCE(error, '-')
		FROM channel_attempts WHERE channel_status_id = $1 ORDER BY attempt`, channelStatusID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Issue 13.3: cancel of a whole distribution. Every PENDING or IN_PROGRESS channel becomes FAILED
// "cancelled by <actor>" under a new generation, the live jobs of the old generations (and only
// those) are handed to the job canceller, the attempt history says who, it is audited, and the
// overall status rolls up; a second cancel is a conflict that writes nothing.
func TestCancelDistribution(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	dist := engStart(t, d, "ev1", model.ChannelNaver, model.ChannelKakao, model.ChannelGiniTV)
	gini, naver, kakao := dist.Channels[0], dist.Channels[1], dist.Channels[2]
	if naver.Channel != model.ChannelNaver || kakao.Channel != model.ChannelKakao || gini.Channel != model.ChannelGiniTV {
		t.Fatalf("order: %v %v %v", naver.Channel, kakao.Channel, gini.Channel)
	}

	// NAVER is running (claimed: IN_PROGRESS, a running attempt), KAKAO is still queued, GINITV
	// already succeeded.
	run, ok, err := d.ClaimChannel(ctx, dist.ID, model.ChannelNaver, 1, "system")
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	grun, _, _ := d.ClaimChannel(ctx, dist.ID, model.ChannelGiniTV, 1, "system")
	if _, err := d.FinishChannel(ctx, engFinish(grun.State, model.StatusSuccess, grun.AttemptID)); err != nil {
		t.Fatal(err)
	}
	naverJob := liveJob(t, d, dist.ID, model.ChannelNaver, 1, "running")
	kakaoJob := liveJob(t, d, dist.ID, model.ChannelKakao, 1, "available")
	liveJob(t, d, dist.ID, model.ChannelKakao, 1, "completed")    // finished: not cancelled again
	liveJob(t, d, dist.ID, model.ChannelGiniTV, 1, "available")   // a terminal channel: not touched
	liveJob(t, d, dist.ID+1000, model.ChannelNaver, 1, "running") // another distribution
	auditBefore := engCount(t, d, "SELECT count(*) FROM audit_log")

	jc := &jobCanceller{}
	got, rows, err := d.CancelDistribution(ctx, "ev1", "kim@example.com", jc.cancel)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Channel != model.ChannelNaver || rows[1].Channel != model.ChannelKakao {
		t.Fatalf("cancelled = %+v", rows)
	}
	slices.Sort(jc.ids)
	if jc.calls != 1 || !slices.Equal(jc.ids, []int64{naverJob, kakaoJob}) {
		t.Fatalf("jobs cancelled = %v (calls %d), want %v", jc.ids, jc.calls, []int64{naverJob, kakaoJob})
	}
	if got.OverallStatus != model.OverallPartialSuccess || got.CompletedAt == nil || len(got.Channels) != 3 {
		t.Fatalf("distribution = %s completed %v channels %d", got.OverallStatus, got.CompletedAt, len(got.Channels))
	}
	for _, c := range []model.ChannelState{naver, kakao} {
		row := channelRow(t, d, c.ID)
		if row.Status != model.StatusFailed || str(row.ErrorMessage) != "cancelled by kim@example.com" || row.Generation != 2 || row.CompletedAt == nil {
			t.Errorf("%s = %s %q gen %d completed %v", c.Channel, row.Status, str(row.ErrorMessage), row.Generation, row.CompletedAt)
		}
		if !got.Channel(c.Channel).Cancelled() {
			t.Errorf("%s not reported cancelled", c.Channel)
		}
	}
	if row := channelRow(t, d, gini.ID); row.Status != model.StatusSuccess || row.Generation != 1 {
		t.Errorf("GINITV = %s gen %d", row.Status, row.Generation)
	}
	// The running attempt is closed as cancelled; the queued channel gets a row saying who.
	if a := attemptsOf(t, d, naver.ID); !slices.Equal(a, []string{"system/cancelled/cancelled by kim@example.com"}) {
		t.Errorf("NAVER attempts = %q", a)
	}
	if a := attemptsOf(t, d, kakao.ID); !slices.Equal(a, []string{"cancel:kim@example.com/cancelled/cancelled by kim@example.com"}) {
		t.Errorf("KAKAO attempts = %q", a)
	}
	if n := engCount(t, d, `SELECT count(*) FROM audit_log WHERE action = 'channel.cancel' AND actor = 'kim@example.com'
			AND event_id = 'ev1' AND detail = 'cancel distribution'`); n != 2 || engCount(t, d, "SELECT count(*) FROM audit_log") != auditBefore+2 {
		t.Errorf("audit rows = %d", n)
	}

	// The running job's late failure is stale: nothing changes but its (cancelled) attempt stays.
	res, err := d.FinishChannel(ctx, engFinish(run.State, model.StatusFailed, run.AttemptID))
	if err != nil || !res.Stale {
		t.Fatalf("late failure: stale=%v err=%v", res.Stale, err)
	}
	if row := channelRow(t, d, naver.ID); str(row.ErrorMessage) != "cancelled by kim@example.com" {
		t.Errorf("late failure overwrote the cancel: %q", str(row.ErrorMessage))
	}
	if a := attemptsOf(t, d, naver.ID); !slices.Equal(a, []string{"system/cancelled/cancelled by kim@example.com"}) {
		t.Errorf("late failure rewrote the attempt: %q", a)
	}
	// Progress of the fenced-out job writes nothing.
	if _, changed, err := d.UpdateChannelProgress(ctx, naver.ID, 1, 90); err != nil || changed {
		t.Errorf("late progress: changed=%v err=%v", changed, err)
	}

	t.Run("nothing left to cancel is a conflict that writes nothing", func(t *testing.T) {
		before := engCount(t, d, "SELECT count(*) FROM audit_log") + engCount(t, d, "SELECT count(*) FROM channel_attempts")
		jc := &jobCanceller{}
		_, _, err := d.CancelDistribution(ctx, "ev1", "kim@example.com", jc.cancel)
		engCode(t, err, model.ECONFLICT)
		after := engCount(t, d, "SELECT count(*) FROM audit_log") + engCount(t, d, "SELECT count(*) FROM channel_attempts")
		if jc.calls != 0 || after != before {
			t.Errorf("a refused cancel wrote something (calls %d, rows %d → %d)", jc.calls, before, after)
		}
	})
	t.Run("not found", func(t *testing.T) {
		_, _, err := d.CancelDistribution(ctx, "nope", "k@x", (&jobCanceller{}).cancel)
		engCode(t, err, model.ENOTFOUND)
		_, _, err = d.CancelDistribution(ctx, "bad\x00id", "k@x", (&jobCanceller{}).cancel)
		engCode(t, err, model.ENOTFOUND)
		engEvent(t, d, "ev-none")
		_, _, err = d.CancelDistribution(ctx, "ev-none", "k@x", (&jobCanceller{}).cancel)
		engCode(t, err, model.ENOTFOUND)
	})

	// A cancelled channel is retried like any FAILED one: PENDING under the next generation.
	rec := &engRecorder{}
	if _, err := d.RetryChannel(ctx, "ev1", model.ChannelKakao, "s@x", rec.enqueue); err != nil {
		t.Fatalf("retry of a cancelled channel: %v", err)
	}
	if row := channelRow(t, d, kakao.ID); row.Status != model.StatusPending || row.Generation != 3 || row.ErrorMessage != nil {
		t.Errorf("retried KAKAO = %s gen %d %q", row.Status, row.Generation, str(row.ErrorMessage))
	}
	if rec.calls != 1 || rec.rows[0].Generation != 3 {
		t.Errorf("retry enqueued %+v", rec.rows)
	}
}

// Cancel of one channel: 409 unless PENDING or IN_PROGRESS, ENOTFOUND for a channel outside the
// distribution, EINVALID for an unknown one; the others keep running (overall IN_PROGRESS).
func TestCancelChannel(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	dist := engStart(t, d, "ev1", model.ChannelNaver, model.ChannelKakao)
	jc := &jobCanceller{}
	got, err := d.CancelChannel(ctx, "ev1", model.ChannelKakao, "lee@example.com", jc.cancel)
	if err != nil {
		t.Fatal(err)
	}
	if got.OverallStatus != model.OverallInProgress || !got.Channel(model.ChannelKakao).Cancelled() ||
		got.Channel(model.ChannelNaver).Status != model.StatusPending {
		t.Fatalf("after cancel: %s, KAKAO %+v", got.OverallStatus, got.Channel(model.ChannelKakao))
	}
	if jc.calls != 0 {
		t.Errorf("no job existed, yet the canceller was called %d times", jc.calls)
	}
	before := engCount(t, d, "SELECT count(*) FROM audit_log")
	_, err = d.CancelChannel(ctx, "ev1", model.ChannelKakao, "lee@example.com", jc.cancel)
	engCode(t, err, model.ECONFLICT)
	if msg := model.ErrorMessage(err); msg != "KAKAO is FAILED; only PENDING or IN_PROGRESS channels can be cancelled" {
		t.Errorf("message = %q", msg)
	}
	if engCount(t, d, "SELECT count(*) FROM audit_log") != before {
		t.Error("a refused cancel was audited")
	}
	_, err = d.CancelChannel(ctx, "ev1", model.ChannelGiniTV, "lee@example.com", jc.cancel)
	engCode(t, err, model.ENOTFOUND)
	_, err = d.CancelChannel(ctx, "ev1", "TWITTER", "lee@example.com", jc.cancel)
	engCode(t, err, model.EINVALID)
	_, err = d.CancelChannel(ctx, "nope", model.ChannelNaver, "lee@example.com", jc.cancel)
	engCode(t, err, model.ENOTFOUND)

	// A SUCCESS channel cannot be cancelled; cancelling the last open one makes the rollup terminal.
	run, _, _ := d.ClaimChannel(ctx, dist.ID, model.ChannelNaver, 1, "system")
	if _, err := d.FinishChannel(ctx, engFinish(run.State, model.StatusSuccess, run.AttemptID)); err != nil {
		t.Fatal(err)
	}
	_, err = d.CancelChannel(ctx, "ev1", model.ChannelNaver, "lee@example.com", jc.cancel)
	engCode(t, err, model.ECONFLICT)
	var overall string
	d.Pool.QueryRow(ctx, `SELECT overall_status FROM distribution_status WHERE id = $1`, dist.ID).Scan(&overall)
	if overall != string(model.OverallPartialSuccess) {
		t.Errorf("overall = %s", overall)
	}
}

// The race the cancel must settle: the adapter published, then the cancel committed, then the
// job's success arrives. The post exists, so the channel ends SUCCESS with it (and the attempt
// says the cancel came too late); a late failure stays cancelled (above). After a retry of the
// cancelled channel the old job's success is stale.
func TestCancelThenLateSuccessKeepsThePost(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	dist := engStart(t, d, "ev1", model.ChannelInstagram, model.ChannelNaver)
	run, _, _ := d.ClaimChannel(ctx, dist.ID, model.ChannelInstagram, 1, "system")
	got, _, err := d.CancelDistribution(ctx, "ev1", "kim@example.com", (&jobCanceller{}).cancel)
	if err != nil || got.OverallStatus != model.OverallFailed {
		t.Fatalf("cancel: %v %v", got.OverallStatus, err)
	}
	f := engFinish(run.State, model.StatusSuccess, run.AttemptID)
	f.Result.PostID = "post-1"
	res, err := d.FinishChannel(ctx, f)
	if err != nil || res.Stale {
		t.Fatalf("late success: stale=%v err=%v", res.Stale, err)
	}
	row := channelRow(t, d, run.State.ID)
	if row.Status != model.StatusSuccess || str(row.PostID) != "post-1" || row.ErrorMessage != nil {
		t.Errorf("INSTAGRAM = %s post %q err %q", row.Status, str(row.PostID), str(row.ErrorMessage))
	}
	if res.Distribution.OverallStatus != model.OverallPartialSuccess {
		t.Errorf("overall = %s", res.Distribution.OverallStatus)
	}
	if a := attemptsOf(t, d, run.State.ID); !slices.Equal(a, []string{"system/success/cancelled by kim@example.com; the post was already published"}) {
		t.Errorf("attempts = %q", a)
	}

	// NAVER: cancelled while queued (no attempt of its own), retried, then a late success of the
	// generation-1 attempt would be stale; the retried job is the one that counts.
	naver := dist.Channels[1]
	if _, err := d.RetryChannel(ctx, "ev1", model.ChannelNaver, "s@x", engNoEnqueue); err != nil {
		t.Fatal(err)
	}
	res, err = d.FinishChannel(ctx, engFinish(naver, model.StatusSuccess, 0))
	if err != nil || !res.Stale {
		t.Fatalf("generation-1 success after a retry: stale=%v err=%v", res.Stale, err)
	}
	if row := channelRow(t, d, naver.ID); row.Status != model.StatusPending {
		t.Errorf("NAVER = %s", row.Status)
	}
}

// Races of the same request and of a cancel against the other writers: 20 concurrent cancels of
// a distribution give one 202 and 19 conflicts; cancel against a finishing job ends either SUCCESS
// (finish first, or the late success) or FAILED cancelled, never anything else, with the overall
// status matching its channels; cancel against a retry of the same channel ends with the loser
// refused and the row consistent.
func TestCancelRaces(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()

	t.Run("20 concurrent cancels: exactly one wins", func(t *testing.T) {
		dist := engStart(t, d, "ev-many")
		jc := &jobCanceller{}
		var (
			wg        sync.WaitGroup
			ok, confl atomic.Int32
			barrier   = make(chan struct{})
		)
		for i := range 20 {
			wg.Go(func() {
				<-barrier
				var err error
				if i%2 == 0 {
					_, _, err = d.CancelDistribution(ctx, "ev-many", "k@x", jc.cancel)
				} else {
					_, err = d.CancelChannel(ctx, "ev-many", model.ChannelKakao, "k@x", jc.cancel)
				}
				switch model.ErrorCode(err) {
				case "":
					ok.Add(1)
				case model.ECONFLICT:
					confl.Add(1)
				default:
					t.Errorf("cancel: %v", err)
				}
			})
		}
		close(barrier)
		wg.Wait()
		// Either the whole cancel won (then every other cancel found nothing), or a channel cancel of
		// KAKAO won first and then one whole cancel took the other five.
		n := engCount(t, d, `SELECT count(*) FROM audit_log WHERE action = 'channel.cancel' AND event_id = 'ev-many'`)
		if n != 6 || ok.Load() < 1 || ok.Load() > 2 || ok.Load()+confl.Load() != 20 {
			t.Fatalf("ok=%d conflicts=%d audit rows=%d", ok.Load(), confl.Load(), n)
		}
		if c := engCount(t, d, `SELECT count(*) FROM channel_status WHERE distribution_status_id = $1
				AND status = 'FAILED' AND generation = 2 AND error_message = 'cancelled by k@x'`, dist.ID); c != 6 {
			t.Errorf("cancelled once at generation 2: %d of 6", c)
		}
		if c := engCount(t, d, `SELECT count(*) FROM channel_attempts WHERE event_id = 'ev-many'`); c != 6 {
			t.Errorf("cancel attempt rows = %d, want one per channel", c)
		}
	})

	t.Run("cancel against a finishing job", func(t *testing.T) {
		for i := range 10 {
			id := "ev-fin-" + string(rune('a'+i))
			dist := engStart(t, d, id, model.ChannelNaver)
			run, _, _ := d.ClaimChannel(ctx, dist.ID, model.ChannelNaver, 1, "system")
			status := model.StatusSuccess
			if i%2 == 1 {
				status = model.StatusFailed
			}
			var wg sync.WaitGroup
			barrier := make(chan struct{})
			var cancelErr error
			wg.Go(func() {
				<-barrier
				_, cancelErr = d.CancelChannel(ctx, id, model.ChannelNaver, "k@x", (&jobCanceller{}).cancel)
			})
			wg.Go(func() {
				<-barrier
				if _, err := d.FinishChannel(ctx, engFinish(run.State, status, run.AttemptID)); err != nil {
					t.Error(err)
				}
			})
			close(barrier)
			wg.Wait()
			row := channelRow(t, d, run.State.ID)
			var overall string
			d.Pool.QueryRow(ctx, `SELECT overall_status FROM distribution_status WHERE id = $1`, dist.ID).Scan(&overall)
			switch {
			case status == model.StatusSuccess:
				// Published: SUCCESS whichever committed first.
				if row.Status != model.StatusSuccess || overall != "COMPLETED" {
					t.Errorf("%s: published then cancel = %s / %s (cancel err %v)", id, row.Status, overall, cancelErr)
				}
			case cancelErr == nil:
				if !(model.ChannelState{Status: row.Status, ErrorMessage: row.ErrorMessage}).Cancelled() || overall != "FAILED" {
					t.Errorf("%s: cancel won but row = %s %q / %s", id, row.Status, str(row.ErrorMessage), overall)
				}
			default:
				engCode(t, cancelErr, model.ECONFLICT)
				if row.Status != model.StatusFailed || str(row.ErrorMessage) != "the channel rejected the post (HTTP 400)" || overall != "FAILED" {
					t.Errorf("%s: finish won but row = %s %q / %s", id, row.Status, str(row.ErrorMessage), overall)
				}
			}
		}
	})

	t.Run("cancel against a retry of the same channel", func(t *testing.T) {
		for i := range 10 {
			id := "ev-rt-" + string(rune('a'+i))
			dist := engStart(t, d, id, model.ChannelKakao)
			engFail(t, d, dist.Channels[0])
			var wg sync.WaitGroup
			barrier := make(chan struct{})
			var cancelErr, retryErr error
			wg.Go(func() {
				<-barrier
				_, cancelErr = d.CancelChannel(ctx, id, model.ChannelKakao, "k@x", (&jobCanceller{}).cancel)
			})
			wg.Go(func() {
				<-barrier
				_, retryErr = d.RetryChannel(ctx, id, model.ChannelKakao, "s@x", engNoEnqueue)
			})
			close(barrier)
			wg.Wait()
			if retryErr != nil {
				t.Fatalf("%s: the retry of a FAILED channel must succeed: %v", id, retryErr)
			}
			row := channelRow(t, d, dist.Channels[0].ID)
			if cancelErr == nil {
				// The retry committed first, then the cancel stopped it: generation 1 → 2 → 3.
				if !(model.ChannelState{Status: row.Status, ErrorMessage: row.ErrorMessage}).Cancelled() || row.Generation != 3 {
					t.Errorf("%s: retry then cancel = %s %q gen %d", id, row.Status, str(row.ErrorMessage), row.Generation)
				}
			} else {
				engCode(t, cancelErr, model.ECONFLICT)
				if row.Status != model.StatusPending || row.Generation != 2 {
					t.Errorf("%s: cancel refused, row = %s gen %d", id, row.Status, row.Generation)
				}
			}
		}
	})
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}
