package db_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

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
