package engine_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/engine"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/quiethours"
	"github.com/marketing-platform/distribution/internal/simulator"
	"github.com/marketing-platform/distribution/internal/testkit"
)

// quietClock is the engine's clock in the quiet hours tests: a settable instant.
type quietClock struct{ ns atomic.Int64 }

func (c *quietClock) set(t time.Time) { c.ns.Store(t.UnixNano()) }
func (c *quietClock) Now() time.Time  { return time.Unix(0, c.ns.Load()) }
func kstAt(d, h, m int) time.Time     { return time.Date(2030, 1, d, h, m, 0, 0, quiethours.Seoul) }
func mustWindow(t *testing.T, s string) quiethours.Window {
	t.Helper()
	w, err := quiethours.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// countingSim serves the simulator over HTTP and counts the requests each channel receives.
func countingSim(t *testing.T) (*simulator.Server, *channels.Registry, func(model.Channel) int) {
	t.Helper()
	sim := simulator.New(simulator.Config{Step: 5 * time.Millisecond})
	t.Cleanup(sim.Close)
	var kakao, other atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/channels/KAKAO/") {
			kakao.Add(1)
		} else {
			other.Add(1)
		}
		sim.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	reg := channels.NewSimulatorRegistry(ts.URL, channels.Options{PollInterval: 5 * time.Millisecond})
	t.Cleanup(reg.Close)
	return sim, reg, func(ch model.Channel) int {
		if ch == model.ChannelKakao {
			return int(kakao.Load())
		}
		return int(other.Load())
	}
}

// RELIABILITY Q1 (issue 14): at 23:00 KST a KAKAO job does not call the channel; it waits PENDING
// with reason quiet_hours until 08:00 KST, no attempt written or burnt, while the other channels
// run. At 08:01 it runs and succeeds (one post, one attempt).
func TestQuietHoursKakaoWaitsUntilMorning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim, reg, calls := countingSim(t)
	clock := &quietClock{}
	clock.set(kstAt(1, 23, 0))
	h := newHarnessWith(t, engine.Config{Workers: 4, MaxAttempts: 3, Now: clock.Now,
		KakaoQuietHours: mustWindow(t, quiethours.Default)}, reg.Adapter, nil, nil)

	// The start is accepted during quiet hours (the channel waits).
	h.start("ev1", model.ChannelKakao, model.ChannelNaver)
	testkit.Eventually(t, 20*time.Second, "NAVER done, KAKAO waiting for the morning", func() bool {
		k := h.channel("ev1", model.ChannelKakao)
		return h.channel("ev1", model.ChannelNaver).Status == model.StatusSuccess &&
			k.WaitingReason != nil && *k.WaitingReason == model.WaitQuietHours
	})
	// River records the snooze after the worker returns.
	testkit.Eventually(t, 20*time.Second, "the KAKAO job snoozed", func() bool {
		return h.count(`SELECT count(*) FROM river_job WHERE args->>'channel' = 'KAKAO' AND state = 'scheduled'`) == 1
	})
	k := h.channel("ev1", model.ChannelKakao)
	if k.Status != model.StatusPending || k.NextAttemptAt == nil || !k.NextAttemptAt.Equal(kstAt(2, 8, 0)) {
		t.Fatalf("KAKAO during quiet hours: %s next attempt %v, want PENDING until %v", k.Status, k.NextAttemptAt, kstAt(2, 8, 0))
	}
	if n := calls(model.ChannelKakao); n != 0 {
		t.Fatalf("the KAKAO channel was called %d times during quiet hours", n)
	}
	if calls(model.ChannelNaver) == 0 || sim.Posts(model.ChannelNaver, "ev1") != 1 {
		t.Fatal("NAVER did not run normally")
	}
	if got := h.attempts("ev1", model.ChannelKakao); len(got) != 0 {
		t.Fatalf("KAKAO attempts while waiting = %v, want none", got)
	}
	var attempt, maxAttempts int
	var scheduled time.Time
	if err := h.store.Pool.QueryRow(ctx, `SELECT attempt, max_attempts, scheduled_at FROM river_job WHERE args->>'channel' = 'KAKAO'`).
		Scan(&attempt, &maxAttempts, &scheduled); err != nil {
		t.Fatal(err)
	}
	// The snooze lasts until the window ends (9 h from the engine's 23:00) plus at most a minute.
	var dbNow time.Time
	if err := h.store.Pool.QueryRow(ctx, `SELECT now()`).Scan(&dbNow); err != nil {
		t.Fatal(err)
	}
	if attempt != 0 || maxAttempts != 3 || scheduled.Before(dbNow.Add(8*time.Hour+59*time.Minute)) || scheduled.After(dbNow.Add(9*time.Hour+time.Minute)) {
		t.Fatalf("snoozed job: attempt %d of %d, runs at %v (now %v); want no attempt burnt and a 9 h wait", attempt, maxAttempts, scheduled, dbNow)
	}
	if h.overall("ev1") == "COMPLETED" {
		t.Fatal("completed without KAKAO")
	}

	// The morning: the job is due again (woken as River would at its time) and sends.
	clock.set(kstAt(2, 8, 1))
	if n, err := h.store.WakePausedJobs(ctx, model.ChannelKakao, model.WaitQuietHours); err != nil || n != 1 {
		t.Fatalf("wake: %d %v", n, err)
	}
	h.waitOverall("ev1", "COMPLETED")
	k = h.channel("ev1", model.ChannelKakao)
	if k.Status != model.StatusSuccess || k.WaitingReason != nil || k.MessageID == nil {
		t.Fatalf("KAKAO in the morning: %+v", k)
	}
	if got := fmt.Sprint(h.attempts("ev1", model.ChannelKakao)); got != "[system/success/-]" {
		t.Fatalf("KAKAO attempts = %s, want the one that sent", got)
	}
	if n := sim.Posts(model.ChannelKakao, "ev1"); n != 1 {
		t.Fatalf("KAKAO posts = %d", n)
	}
	if v := h.counter("distribution_channel_jobs_total", map[string]string{"channel": "KAKAO", "outcome": "quiet_hours"}); v < 1 {
		t.Errorf("quiet hours waits counted = %v", v)
	}
}

// KAKAO_QUIET_HOURS=off: KakaoTalk sends at 23:00 like any channel; a window that does not cover
// the hour does not hold it either.
func TestQuietHoursOffOrOutsideSendsAtOnce(t *testing.T) {
	t.Parallel()
	for name, w := range map[string]string{"off": "off", "outside": "01:00-06:00"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sim, reg, calls := countingSim(t)
			clock := &quietClock{}
			clock.set(kstAt(1, 23, 0))
			h := newHarnessWith(t, engine.Config{Workers: 2, Now: clock.Now, KakaoQuietHours: mustWindow(t, w)}, reg.Adapter, nil, nil)
			h.start("ev1", model.ChannelKakao)
			h.waitOverall("ev1", "COMPLETED")
			if calls(model.ChannelKakao) == 0 || sim.Posts(model.ChannelKakao, "ev1") != 1 {
				t.Fatal("KAKAO did not send")
			}
			if got := fmt.Sprint(h.attempts("ev1", model.ChannelKakao)); got != "[system/success/-]" {
				t.Fatalf("attempts = %s", got)
			}
		})
	}
}
