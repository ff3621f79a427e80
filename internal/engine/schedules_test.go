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

// A schedule whose start fails (here a trigger refuses its distribution row) does not hold back
// the others due with it: their group commit fails, they are retried one by one, the others
// start and the failing one stays due, reported as the pass's error.
func TestDueScheduleFailureIsIsolated(t *testing.T) {
	t.Parallel()
	h := newHarness(t, engine.Config{}, nil, nil) // insert-only: no scheduler loop; the test runs the pass
	ctx := context.Background()
	if _, err := h.store.Pool.Exec(ctx, `CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.event_id = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER refuse_poison BEFORE INSERT ON distribution_status FOR EACH ROW EXECUTE FUNCTION refuse_poison()`); err != nil {
		t.Fatal(err)
	}
	var now time.Time
	if err := h.store.Pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&now); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "poison", "z"} {
		h.event(id)
		if _, _, err := h.store.ScheduleDistribution(ctx, id, []model.Channel{model.ChannelKakao}, now.Add(-time.Second), "p@x"); err != nil {
			t.Fatal(err)
		}
	}
	n, err := h.eng.StartDueSchedules(ctx)
	if err == nil || n != 2 {
		t.Fatalf("claimed %d, err %v: want the 2 good ones and the poisoned one's error", n, err)
	}
	if got := h.count(`SELECT count(*) FROM distribution_status WHERE event_id IN ('a', 'z')`); got != 2 {
		t.Errorf("%d of the good schedules started", got)
	}
	if got := h.count(`SELECT count(*) FROM distribution_schedules WHERE event_id = 'poison'`); got != 1 {
		t.Errorf("the failing schedule is gone (%d rows): it must stay due", got)
	}
}
