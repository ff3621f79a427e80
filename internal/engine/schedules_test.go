package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/engine"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// Schedules fall due while two worker engines (two replicas) run their schedulers on one
// database: each starts exactly once, not before its startAt by the database clock, and runs like
// an immediate start (jobs, adapter calls, COMPLETED) with trigger "schedule:<creator>"; the
// started distribution goes to the cache as an immediate start's does.
func TestScheduledStartsRunOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	store := dbtest.New(t)
	fake := newFake(nil)
	cfg := engine.Config{Workers: 4, ScheduleInterval: 50 * time.Millisecond}
	a := newHarness(t, cfg, fake, store)
	b := newHarness(t, cfg, fake, store)
	ctx := context.Background()

	var now time.Time
	if err := store.Pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&now); err != nil {
		t.Fatal(err)
	}
	startAt := now.Add(500 * time.Millisecond)
	const n = 6
	for i := range n {
		id := fmt.Sprintf("s%d", i)
		a.event(id)
		if _, _, err := store.ScheduleDistribution(ctx, id, []model.Channel{model.ChannelNaver, model.ChannelKakao}, startAt, "planner@x"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		a.waitOverall(fmt.Sprintf("s%d", i), "COMPLETED")
	}
	if got := a.count(`SELECT count(*) FROM distribution_status WHERE started_at < $1`, startAt); got != 0 {
		t.Errorf("%d distributions started before their startAt", got)
	}
	if got := a.count(`SELECT count(*) FROM distribution_status`); got != n {
		t.Errorf("%d distributions, want %d", got, n)
	}
	if got := a.count(`SELECT count(*) FROM distribution_schedules`); got != 0 {
		t.Errorf("%d schedules left", got)
	}
	for i := range n {
		for _, ch := range []model.Channel{model.ChannelNaver, model.ChannelKakao} {
			if got := a.attempts(fmt.Sprintf("s%d", i), ch); fmt.Sprint(got) != "[schedule:planner@x/success/-]" {
				t.Errorf("s%d %s attempts = %v", i, ch, got)
			}
		}
	}
	if got := fake.count(model.ChannelNaver); got != n {
		t.Errorf("%d NAVER calls, want %d", got, n)
	}
	started := a.counter("distribution_scheduled_starts_total", map[string]string{"outcome": "started"}) +
		b.counter("distribution_scheduled_starts_total", map[string]string{"outcome": "started"})
	if started != n {
		t.Errorf("the replicas counted %v scheduled starts, want %d", started, n)
	}
	testkit.Eventually(t, 5*time.Second, "the started distributions cached", func() bool {
		a.cache.mu.Lock()
		defer a.cache.mu.Unlock()
		b.cache.mu.Lock()
		defer b.cache.mu.Unlock()
		return len(a.cache.dists)+len(b.cache.dists) == n
	})
}
