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
	reg := channels.NewSimulatorRegistry(base, channels.Options{PollInterval: 5 * time.Millisecond, BreakerThreshold: -1})
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
