package db_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

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
