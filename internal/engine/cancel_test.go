package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/engine"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// Issue 13.3 with River: a cancel through one client (the web role, insert-only) reaches a job
// running in another client (the worker): the adapter's context ends with
// river.ErrJobCancelledRemotely (the call is abandoned), the channel stays FAILED "cancelled by
// ...", the job ends cancelled, the queued channel's job is cancelled before it runs, and a retry
// of a cancelled channel then publishes.
func TestCancelReachesARunningJobInAnotherClient(t *testing.T) {
	t.Parallel()
	store := dbtest.New(t)
	running := make(chan struct{}, 1)
	abandoned := make(chan error, 1)
	var blocking atomic.Bool
	blocking.Store(true)
	fake := newFake(func(ctx context.Context, ch model.Channel, call int) (channels.Result, error) {
		if ch == model.ChannelNaver && call == 1 && blocking.Load() {
			running <- struct{}{}
			<-ctx.Done() // a slow channel: only the cancel ends this call
			abandoned <- context.Cause(ctx)
			return channels.Result{}, ctx.Err()
		}
		return resultFor(ch), nil
	})
	web := newHarness(t, engine.Config{}, nil, store)
	web.event("ev1")
	if _, err := web.eng.StartDistribution(context.Background(), "ev1", []model.Channel{model.ChannelNaver}, "m@x"); err != nil {
		t.Fatal(err)
	}
	w := newHarness(t, engine.Config{Workers: 1}, fake, store)
	select {
	case <-running:
	case <-time.After(20 * time.Second):
		t.Fatal("NAVER never started")
	}
	// The only worker is busy: ev2's KAKAO job stays queued until the cancel removes it.
	web.start("ev2", model.ChannelKakao)
	if _, err := web.eng.CancelChannel(context.Background(), "ev2", model.ChannelKakao, "lee@example.com"); err != nil {
		t.Fatal(err)
	}
	if n := w.count(`SELECT count(*) FROM river_job WHERE args->>'event_id' = 'ev2' AND state = 'cancelled'`); n != 1 {
		t.Fatalf("the queued job was not cancelled in the cancel's transaction (%d cancelled)", n)
	}
	if got := w.attempts("ev2", model.ChannelKakao); fmt.Sprint(got) != "[cancel:lee@example.com/cancelled/-]" {
		t.Fatalf("ev2 attempts = %v", got)
	}

	d, err := web.eng.CancelDistribution(context.Background(), "ev1", "kim@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if d.OverallStatus != model.OverallFailed || !d.Channel(model.ChannelNaver).Cancelled() {
		t.Fatalf("after cancel: %s %+v", d.OverallStatus, d.Channel(model.ChannelNaver))
	}
	select {
	case cause := <-abandoned:
		if !errors.Is(cause, river.ErrJobCancelledRemotely) {
			t.Fatalf("the adapter's context ended with %v, want river.ErrJobCancelledRemotely", cause)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the running adapter call was not abandoned")
	}
	testkit.Eventually(t, 20*time.Second, "job cancelled", func() bool {
		return w.count(`SELECT count(*) FROM river_job WHERE args->>'channel' = 'NAVER' AND state = 'cancelled'`) == 1
	})
	c := w.channel("ev1", model.ChannelNaver)
	if c.Status != model.StatusFailed || str(c.ErrorMessage) != "cancelled by kim@example.com" || c.PostID != nil {
		t.Fatalf("NAVER = %s %q post %v", c.Status, str(c.ErrorMessage), c.PostID)
	}
	if got := w.attempts("ev1", model.ChannelNaver); fmt.Sprint(got) != "[system/cancelled/-]" {
		t.Fatalf("attempts = %v", got)
	}
	if _, err := web.eng.CancelDistribution(context.Background(), "ev1", "kim@example.com"); model.ErrorCode(err) != model.ECONFLICT {
		t.Fatalf("second cancel: %v", err)
	}

	// A cancelled channel is retried like any FAILED one and publishes.
	blocking.Store(false)
	if _, err := web.eng.RetryChannel(context.Background(), "ev1", model.ChannelNaver, "staff@x"); err != nil {
		t.Fatal(err)
	}
	w.waitOverall("ev1", "COMPLETED")
	if c := w.channel("ev1", model.ChannelNaver); c.Status != model.StatusSuccess || str(c.PostID) != "post-NAVER" {
		t.Fatalf("NAVER after retry = %s %q", c.Status, str(c.PostID))
	}
	if fake.count(model.ChannelKakao) != 0 || w.channel("ev2", model.ChannelKakao).Status != model.StatusFailed {
		t.Fatalf("the cancelled queued channel ran (%d calls)", fake.count(model.ChannelKakao))
	}
}

// The race the cancel rule settles: the adapter has published when the cancel commits, and
// returns its success after it (ignoring its ended context, as a call that already got its answer
// would). The post exists, so the channel ends SUCCESS with it; the channel cancelled while
// queued stays cancelled and never runs.
func TestCancelAfterPublishKeepsThePost(t *testing.T) {
	t.Parallel()
	store := dbtest.New(t)
	published := make(chan struct{}, 1)
	proceed := make(chan struct{})
	fake := newFake(func(ctx context.Context, ch model.Channel, call int) (channels.Result, error) {
		if ch == model.ChannelInstagram {
			published <- struct{}{} // the post exists from here on
			<-proceed
			return resultFor(ch), nil
		}
		return channels.Result{}, errors.New("must not run")
	})
	web := newHarness(t, engine.Config{}, nil, store)
	web.event("ev1")
	if _, err := web.eng.StartDistribution(context.Background(), "ev1", []model.Channel{model.ChannelInstagram}, "m@x"); err != nil {
		t.Fatal(err)
	}
	w := newHarness(t, engine.Config{Workers: 1}, fake, store)
	select {
	case <-published:
	case <-time.After(20 * time.Second):
		t.Fatal("INSTAGRAM never ran")
	}
	d, err := web.eng.CancelChannel(context.Background(), "ev1", model.ChannelInstagram, "kim@example.com")
	if err != nil || !d.Channel(model.ChannelInstagram).Cancelled() {
		t.Fatalf("cancel: %v %+v", err, d.Channel(model.ChannelInstagram))
	}
	close(proceed)
	w.waitOverall("ev1", "COMPLETED")
	c := w.channel("ev1", model.ChannelInstagram)
	if c.Status != model.StatusSuccess || str(c.PostID) != "post-INSTAGRAM" || c.ErrorMessage != nil || c.Generation != 2 {
		t.Fatalf("INSTAGRAM = %s post %q err %q gen %d", c.Status, str(c.PostID), str(c.ErrorMessage), c.Generation)
	}
	if got := w.attempts("ev1", model.ChannelInstagram); fmt.Sprint(got) != "[system/success/-]" {
		t.Fatalf("attempts = %v", got)
	}
	if fake.count(model.ChannelInstagram) != 1 {
		t.Fatalf("INSTAGRAM published %d times", fake.count(model.ChannelInstagram))
	}
}

// "cancelled…" is reserved for a person's cancel: a channel whose own rejection starts with that
// word does not read as cancelled (not 취소됨 on the pages).
func TestChannelWordingIsNotACancel(t *testing.T) {
	t.Parallel()
	fake := newFake(func(_ context.Context, ch model.Channel, _ int) (channels.Result, error) {
		return channels.Result{}, &channels.Error{Kind: channels.Permanent, HTTPStatus: 400, Message: "cancelled: the account is suspended"}
	})
	h := newHarness(t, engine.Config{Workers: 1}, fake, nil)
	h.start("ev1", model.ChannelNaver)
	h.waitOverall("ev1", "FAILED")
	c := h.channel("ev1", model.ChannelNaver)
	if c.Cancelled() || str(c.ErrorMessage) != "the channel answered: cancelled: the account is suspended (HTTP 400)" {
		t.Fatalf("NAVER = %q (cancelled %v)", str(c.ErrorMessage), c.Cancelled())
	}
}
