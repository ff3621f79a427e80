package engine_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/cache"
	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/engine"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

var _ engine.Cache = (*cache.Cache)(nil)

// The real pieces end to end: the channel simulator over HTTP with injected faults, the HTTP
// adapters, River, Postgres and Redis.
func TestWithSimulatorAndRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := simulator.New(simulator.Config{Step: 5 * time.Millisecond,
		Fail: map[model.Channel]simulator.FailRule{model.ChannelKakao: {First: 2}}})
	base, stop, err := sim.StartLocal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	reg := channels.NewSimulatorRegistry(base, channels.Options{PollInterval: 5 * time.Millisecond})
	t.Cleanup(reg.Close)

	r := dbtest.StartRedis(t)
	rc, err := cache.NewClient(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })

	h := newHarnessWith(t, engine.Config{Workers: 8, MaxAttempts: 3}, reg.Adapter, nil, cache.New(rc, testLogger(t)))

	// KAKAO answers 503 twice (automatic retries), INSTAGRAM loses its first response (the retry
	// with the same idempotency key must not post twice), GINITV is rate limited once.
	sim.MustInject(model.ChannelInstagram, simulator.LoseResponse())
	sim.MustInject(model.ChannelGiniTV, simulator.RateLimit("1"))
	h.start("ev1", model.AllChannels...)
	h.waitOverall("ev1", "COMPLETED")

	for _, ch := range model.AllChannels {
		if n := sim.Posts(ch, "ev1"); n != 1 {
			t.Errorf("%s: %d posts, want exactly 1", ch, n)
		}
		c := h.channel("ev1", ch)
		if c.Status != model.StatusSuccess || c.EstimatedViews == nil || *c.EstimatedViews <= 0 {
			t.Errorf("%s: %s views %v", ch, c.Status, c.EstimatedViews)
		}
		// Redis holds the final state of every channel, written after the commit.
		got, err := rc.HGetAll(ctx, cache.ChannelKey("ev1", ch)).Result()
		if err != nil || got["status"] != "SUCCESS" || got["progress"] != "100" {
			t.Errorf("%s in redis: %v %v", ch, got, err)
		}
	}
	if got := h.attempts("ev1", model.ChannelKakao); fmt.Sprint(got) != "[system/retry/503 auto-retry/retry/503 auto-retry/success/-]" {
		t.Errorf("KAKAO attempts = %v", got)
	}
	if got := h.attempts("ev1", model.ChannelGiniTV); fmt.Sprint(got) != "[system/snoozed/429 system/success/-]" {
		t.Errorf("GINITV attempts = %v", got)
	}
	// The adapter may re-submit a lost response itself or leave it to an automatic retry;
	// either way the same idempotency key is used (one post, checked above).
	if got := h.attempts("ev1", model.ChannelInstagram); len(got) == 0 || len(got) > 2 || !strings.HasSuffix(got[len(got)-1], "/success/-") {
		t.Errorf("INSTAGRAM attempts = %v", got)
	}
	ev, err := rc.HGetAll(ctx, cache.EventKey("ev1")).Result()
	if err != nil || ev["overall_status"] != "COMPLETED" || ev["completed_at"] == "" {
		t.Errorf("event in redis: %v %v", ev, err)
	}

	// A permanent rejection fails the channel after one attempt; a manual retry then succeeds.
	sim.MustInject(model.ChannelNaver, simulator.Reject("image rejected"))
	h.start("ev2", model.ChannelNaver, model.ChannelRingoBiz)
	h.waitOverall("ev2", "PARTIAL_SUCCESS")
	if got := h.attempts("ev2", model.ChannelNaver); fmt.Sprint(got) != "[system/failed/400]" {
		t.Fatalf("NAVER attempts = %v", got)
	}
	got, err := rc.HGetAll(ctx, cache.ChannelKey("ev2", model.ChannelNaver)).Result()
	if err != nil || got["status"] != "FAILED" || got["error_message"] == "" {
		t.Fatalf("NAVER in redis: %v %v", got, err)
	}
	if _, err := h.eng.RetryChannel(ctx, "ev2", model.ChannelNaver, "staff@x"); err != nil {
		t.Fatal(err)
	}
	h.waitOverall("ev2", "COMPLETED")
	testkit.Eventually(t, 20*time.Second, "redis shows the retry's outcome", func() bool {
		got, _ := rc.HGetAll(ctx, cache.ChannelKey("ev2", model.ChannelNaver)).Result()
		return got["status"] == "SUCCESS" && got["retries"] == "1" && got["generation"] == strconv.Itoa(2)
	})
	if n := sim.Posts(model.ChannelNaver, "ev2"); n != 1 {
		t.Errorf("NAVER posts = %d", n)
	}
}

// The breaker defers, it never fails (issue 13): with KAKAO failing the first 3 submits of every
// event (SIMULATOR_FAIL=KAKAO=3), two events' KAKAO channels end FAILED after their automatic
// attempts and the breaker opens on that channel-wide evidence. Staff's retry is accepted while
// it is open: the channel waits PENDING with reason channel_paused (no attempt written, none
// burnt), then runs as the half-open probe, reaches SUCCESS and the distribution COMPLETED.
func TestBreakerDefersStaffRetryToSuccess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := simulator.New(simulator.Config{Step: 5 * time.Millisecond,
		Fail: map[model.Channel]simulator.FailRule{model.ChannelKakao: {First: 3}}})
	base, stop, err := sim.StartLocal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	reg := channels.NewSimulatorRegistry(base, channels.Options{PollInterval: 5 * time.Millisecond})
	t.Cleanup(reg.Close)
	store, _ := sharedStore(t)
	rules := model.BreakerRules{MinCalls: 5, FailurePercent: 50, MinEvents: 2, Window: time.Minute,
		Cooldown: 5 * time.Second, ProbeLease: 30 * time.Second}
	br := engine.NewBreaker(rules, store, testLogger(t), nil)
	h := newHarnessOpts(t, engine.Config{Workers: 8, MaxAttempts: 3}, nil, engine.Options{Adapters: reg.Adapter, Breaker: br})

	h.start("ev1", model.ChannelKakao, model.ChannelNaver)
	h.start("ev2", model.ChannelKakao)
	testkit.Eventually(t, 60*time.Second, "both KAKAO channels FAILED after their attempts", func() bool {
		return h.overall("ev1") == "PARTIAL_SUCCESS" && h.overall("ev2") == "FAILED"
	})
	for _, ev := range []string{"ev1", "ev2"} {
		if got := h.attempts(ev, model.ChannelKakao); len(got) != 3 {
			t.Fatalf("%s KAKAO attempts = %v, want the 3 automatic ones", ev, got)
		}
		if c := h.channel(ev, model.ChannelKakao); c.WaitingReason != nil || c.NextAttemptAt != nil {
			t.Errorf("%s FAILED KAKAO still waiting: %v %v", ev, *c.WaitingReason, c.NextAttemptAt)
		}
	}
	if st := br.Status(ctx, model.ChannelKakao); st.State != model.BreakerOpen {
		t.Fatalf("KAKAO breaker %+v after 6 failures from 2 events, want open", st)
	}
	if st := br.Status(ctx, model.ChannelNaver); st.State != model.BreakerClosed {
		t.Fatalf("NAVER breaker %+v", st)
	}

	// Staff retry while the breaker is open: accepted, then waits without an attempt.
	if _, err := h.eng.RetryChannel(ctx, "ev1", model.ChannelKakao, "staff@x"); err != nil {
		t.Fatalf("retry while the breaker is open: %v", err)
	}
	testkit.Eventually(t, 20*time.Second, "the retried KAKAO paused by the breaker", func() bool {
		c := h.channel("ev1", model.ChannelKakao)
		return c.Status == model.StatusPending && c.WaitingReason != nil && *c.WaitingReason == model.WaitChannelPaused &&
			c.NextAttemptAt != nil
	})
	if got := h.attempts("ev1", model.ChannelKakao); len(got) != 3 {
		t.Fatalf("attempts while paused = %v: the breaker wrote or burnt one", got)
	}
	h.waitOverallWithin("ev1", "COMPLETED", 60*time.Second)
	got := h.attempts("ev1", model.ChannelKakao)
	if len(got) != 4 || got[3] != "retry:staff@x/success/-" {
		t.Fatalf("KAKAO attempts = %v, want 3 automatic ones then the staff retry's success", got)
	}
	if c := h.channel("ev1", model.ChannelKakao); c.Status != model.StatusSuccess || c.WaitingReason != nil {
		t.Fatalf("KAKAO after the probe: %+v", c)
	}
	if st := br.Status(ctx, model.ChannelKakao); st.State != model.BreakerClosed {
		t.Fatalf("KAKAO breaker %+v after the successful probe, want closed", st)
	}
	if n := sim.Posts(model.ChannelKakao, "ev1"); n != 1 {
		t.Errorf("KAKAO posts = %d, want 1", n)
	}
	if v := h.counter("distribution_channel_jobs_total", map[string]string{"channel": "KAKAO", "outcome": "paused"}); v < 1 {
		t.Errorf("paused jobs counted = %v", v)
	}
}

// Waiting reasons follow the channel through its wait: queued at the start, retry_backoff with
// River's own next run time after a failed attempt, rate_limited with the Retry-After after a 429,
// and none once the channel is running or finished.
func TestWaitingReasons(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := simulator.New(simulator.Config{Step: 5 * time.Millisecond,
		Fail: map[model.Channel]simulator.FailRule{model.ChannelKakao: {First: 1}}})
	base, stop, err := sim.StartLocal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	reg := channels.NewSimulatorRegistry(base, channels.Options{PollInterval: 5 * time.Millisecond})
	t.Cleanup(reg.Close)
	store := dbtest.New(t)

	// An insert-only engine (ROLE=web) starts the distribution: every channel is queued.
	web := newHarnessOpts(t, engine.Config{Workers: 0}, store, engine.Options{})
	d := web.start("ev1", model.ChannelKakao, model.ChannelGiniTV, model.ChannelNaver)
	for _, c := range d.Channels {
		if c.Status != model.StatusPending || c.WaitingReason == nil || *c.WaitingReason != model.WaitQueued || c.NextAttemptAt != nil {
			t.Fatalf("%s after the start: %s %v %v", c.Channel, c.Status, c.WaitingReason, c.NextAttemptAt)
		}
	}

	sim.MustInject(model.ChannelGiniTV, simulator.RateLimit("30"))
	h := newHarnessOpts(t, engine.Config{Workers: 4, MaxAttempts: 3, RetryBaseDelay: time.Minute, RetryMaxDelay: time.Hour},
		store, engine.Options{Adapters: reg.Adapter})
	testkit.Eventually(t, 20*time.Second, "KAKAO in retry backoff, GINITV rate limited, NAVER done", func() bool {
		k, g := h.channel("ev1", model.ChannelKakao), h.channel("ev1", model.ChannelGiniTV)
		return k.WaitingReason != nil && *k.WaitingReason == model.WaitRetryBackoff &&
			g.WaitingReason != nil && *g.WaitingReason == model.WaitRateLimited &&
			h.channel("ev1", model.ChannelNaver).Status == model.StatusSuccess
	})
	// River records the job's retry after the worker's status write has committed.
	var scheduled time.Time
	testkit.EventuallyErr(t, 20*time.Second, "River to schedule KAKAO's retry", func() error {
		return h.store.Pool.QueryRow(ctx, `SELECT scheduled_at FROM river_job WHERE args->>'event_id' = 'ev1'
			AND args->>'channel' = 'KAKAO' AND state = 'retryable'`).Scan(&scheduled)
	})
	k := h.channel("ev1", model.ChannelKakao)
	if k.Status != model.StatusInProgress || k.NextAttemptAt == nil || !k.NextAttemptAt.Equal(scheduled) {
		t.Errorf("KAKAO in backoff: %s next %v, River runs it at %v", k.Status, k.NextAttemptAt, scheduled)
	}
	g := h.channel("ev1", model.ChannelGiniTV)
	var now time.Time
	if err := h.store.Pool.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
		t.Fatal(err)
	}
	if g.NextAttemptAt == nil || g.NextAttemptAt.Before(now.Add(20*time.Second)) || g.NextAttemptAt.After(now.Add(31*time.Second)) {
		t.Errorf("GINITV rate limited for 30 s: next attempt %v (now %v)", g.NextAttemptAt, now)
	}
	if n := h.channel("ev1", model.ChannelNaver); n.WaitingReason != nil || n.NextAttemptAt != nil {
		t.Errorf("NAVER finished but says %v %v", *n.WaitingReason, n.NextAttemptAt)
	}
}
