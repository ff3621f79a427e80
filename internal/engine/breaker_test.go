package engine_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/cache"
	"github.com/marketing-platform/distribution/internal/engine"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// breakerClock is the breakers' clock in tests: time moves only when told.
type breakerClock struct{ ns atomic.Int64 }

func newBreakerClock() *breakerClock {
	c := &breakerClock{}
	c.ns.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *breakerClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *breakerClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

var testRules = model.BreakerRules{MinCalls: 5, FailurePercent: 50, MinEvents: 2, Window: time.Minute,
	Cooldown: 30 * time.Second, ProbeLease: 2 * time.Minute}

// sharedStore is a Redis breaker store on a private Redis under a namespace of its own.
func sharedStore(t *testing.T) (*cache.Breakers, *dbtest.Redis) {
	t.Helper()
	r := dbtest.StartRedis(t)
	rc, err := cache.NewClient(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	return cache.NewBreakers(rc, "test_"+t.Name()), r
}

// call runs one call through the breaker as runChannel does: Allow, then (when allowed) Done with o.
func call(t *testing.T, b *engine.Breaker, ch model.Channel, ev string, o model.BreakerOutcome) engine.Ticket {
	t.Helper()
	tk := b.Allow(context.Background(), ch)
	if tk.Run {
		b.Done(context.Background(), tk, ch, ev, o)
	}
	return tk
}

// The window rules, the same for the deployment's store (Redis scripts) and the per-process
// fallback (Go): one scenario, run against both.
func TestBreakerWindowRules(t *testing.T) {
	t.Parallel()
	stores := map[string]func(t *testing.T) engine.BreakerStore{
		"local": func(*testing.T) engine.BreakerStore { return nil },
		"redis": func(t *testing.T) engine.BreakerStore { s, _ := sharedStore(t); return s },
	}
	for name, store := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clock := newBreakerClock()
			b := engine.NewBreaker(testRules, store(t), testLogger(t), clock.Now)
			k := model.ChannelKakao
			state := func() model.BreakerState { return b.Status(ctx, k).State }

			// One event's failures are not evidence about the channel, however many.
			for range 8 {
				if tk := call(t, b, k, "ev-a", model.BreakerFailure); !tk.Run || tk.Probe {
					t.Fatalf("closed breaker: verdict %+v", tk.BreakerVerdict)
				}
			}
			if state() != model.BreakerClosed {
				t.Fatal("opened on one event's failures")
			}
			// Permanent 4xx, 429 and abandoned calls count neither as failures nor as volume.
			clock.Advance(61 * time.Second) // the window slides past them all
			for range 10 {
				call(t, b, k, "ev-n", model.BreakerNeutral)
			}
			call(t, b, k, "ev-b", model.BreakerFailure)
			call(t, b, k, "ev-c", model.BreakerFailure)
			call(t, b, k, "ev-c", model.BreakerSuccess)
			call(t, b, k, "ev-d", model.BreakerSuccess)
			if state() != model.BreakerClosed {
				t.Fatal("opened below the minimum volume (4 calls)")
			}
			call(t, b, k, "ev-e", model.BreakerSuccess) // 5 calls, 40 % failed
			if state() != model.BreakerClosed {
				t.Fatal("opened below the failure rate")
			}
			// Another channel's evidence is its own.
			for i := range 6 {
				call(t, b, model.ChannelNaver, fmt.Sprint("n", i), model.BreakerSuccess)
			}
			call(t, b, k, "ev-b", model.BreakerFailure) // 6 calls, 50 %, 2 events: opens
			st := b.Status(ctx, k)
			if st.State != model.BreakerOpen || !st.OpenUntil.Equal(clock.Now().Add(30*time.Second).Truncate(time.Millisecond)) {
				t.Fatalf("after 3 of 6 failed from 2 events: %+v", st)
			}
			if b.Status(ctx, model.ChannelNaver).State != model.BreakerClosed {
				t.Fatal("NAVER opened with KAKAO")
			}

			// Open: every call waits for the probe time.
			clock.Advance(29 * time.Second)
			if tk := b.Allow(ctx, k); tk.Run || !tk.Until.Equal(st.OpenUntil) {
				t.Fatalf("open breaker before the probe time: %+v", tk.BreakerVerdict)
			}
			clock.Advance(time.Second)
			probe := b.Allow(ctx, k)
			if !probe.Run || !probe.Probe {
				t.Fatalf("no probe at the probe time: %+v", probe.BreakerVerdict)
			}
			// Only one probe at a time: the others wait for the probe's lease.
			if tk := b.Allow(ctx, k); tk.Run || !tk.Until.After(clock.Now()) {
				t.Fatalf("second call while probing: %+v", tk.BreakerVerdict)
			}
			// A probe that says nothing (4xx) frees the slot; the next call probes.
			b.Done(ctx, probe, k, "ev-p", model.BreakerNeutral)
			probe = b.Allow(ctx, k)
			if !probe.Probe {
				t.Fatalf("slot not freed by a neutral probe: %+v", probe.BreakerVerdict)
			}
			// A failed probe opens it again for a cool-down.
			if st, changed := b.Done(ctx, probe, k, "ev-p", model.BreakerFailure); !changed || st.State != model.BreakerOpen {
				t.Fatalf("failed probe: %+v changed %v", st, changed)
			}
			if tk := b.Allow(ctx, k); tk.Run {
				t.Fatal("allowed right after a failed probe")
			}
			// A probe whose worker died holds the slot only for its lease.
			clock.Advance(30 * time.Second)
			if tk := b.Allow(ctx, k); !tk.Probe {
				t.Fatalf("no probe after the second cool-down: %+v", tk.BreakerVerdict)
			}
			clock.Advance(testRules.ProbeLease - time.Millisecond)
			if tk := b.Allow(ctx, k); tk.Run {
				t.Fatal("a second probe within the first one's lease")
			}
			clock.Advance(time.Millisecond)
			probe = b.Allow(ctx, k)
			if !probe.Probe {
				t.Fatalf("lost probe's slot not taken over after its lease: %+v", probe.BreakerVerdict)
			}
			// A successful probe closes it and forgets the old failures.
			if st, changed := b.Done(ctx, probe, k, "ev-p", model.BreakerSuccess); !changed || st.State != model.BreakerClosed {
				t.Fatalf("successful probe: %+v changed %v", st, changed)
			}
			call(t, b, k, "ev-x", model.BreakerFailure)
			call(t, b, k, "ev-y", model.BreakerFailure)
			if state() != model.BreakerClosed {
				t.Fatal("failures from before the close still counted")
			}

			// Staff's "probe now": the next call probes at once.
			for i := range 3 {
				call(t, b, k, fmt.Sprint("ev-z", i), model.BreakerFailure)
			}
			if state() != model.BreakerOpen {
				t.Fatal("not open after 5 failures from 5 events")
			}
			if _, err := b.ProbeNow(ctx, k); err != nil {
				t.Fatal(err)
			}
			if tk := b.Allow(ctx, k); !tk.Probe {
				t.Fatalf("probe now: %+v", tk.BreakerVerdict)
			}
		})
	}
}

// Two replicas share one breaker per channel through Redis: what one sees opens it for both, only
// one of them probes, and the probe's success closes it for both. With Redis down each falls back
// to its own state and keeps deciding; when Redis is back the shared state rules again.
func TestBreakerSharedAcrossReplicasAndFallback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, redis := sharedStore(t)
	clock := newBreakerClock()
	a := engine.NewBreaker(testRules, store, testLogger(t), clock.Now)
	b := engine.NewBreaker(testRules, store, testLogger(t), clock.Now)
	k := model.ChannelKakao

	// Replica a sees event 1 fail three times, replica b event 2 twice: channel-wide evidence that
	// neither has alone.
	for range 3 {
		call(t, a, k, "ev1", model.BreakerFailure)
	}
	for range 2 {
		call(t, b, k, "ev2", model.BreakerFailure)
	}
	for _, r := range []*engine.Breaker{a, b} {
		if st := r.Status(ctx, k); st.State != model.BreakerOpen {
			t.Fatalf("replica sees %+v, want open", st)
		}
		if tk := r.Allow(ctx, k); tk.Run || tk.Local() {
			t.Fatalf("open breaker let a call through (or answered locally): %+v", tk)
		}
	}

	// At the probe time both replicas race for the probe: exactly one gets it.
	clock.Advance(testRules.Cooldown)
	var (
		wg     sync.WaitGroup
		probes atomic.Int32
		got    [2]engine.Ticket
	)
	for i, r := range []*engine.Breaker{a, b} {
		wg.Go(func() {
			got[i] = r.Allow(ctx, k)
			if got[i].Probe {
				probes.Add(1)
			}
		})
	}
	wg.Wait()
	if probes.Load() != 1 {
		t.Fatalf("%d probes at once across two replicas, want 1", probes.Load())
	}
	prober, other := a, b
	ticket := got[0]
	if !ticket.Probe {
		prober, other, ticket = b, a, got[1]
	}
	prober.Done(ctx, ticket, k, "ev3", model.BreakerSuccess)
	if tk := other.Allow(ctx, k); !tk.Run || tk.Probe {
		t.Fatalf("the other replica after the probe succeeded: %+v", tk)
	}

	// Redis down: decisions continue from each process's own state (never an error, never a
	// refusal for want of Redis), and that state applies the same rules.
	redis.Stop()
	if tk := a.Allow(ctx, k); !tk.Run || !tk.Local() {
		t.Fatalf("with redis down: %+v, want a local run", tk)
	}
	for i := range 5 {
		call(t, a, k, fmt.Sprint("down", i), model.BreakerFailure)
	}
	if st := a.Status(ctx, k); st.State != model.BreakerOpen {
		t.Fatalf("local fallback after 5 failures from 5 events: %+v", st)
	}
	if tk := a.Allow(ctx, k); tk.Run || !tk.Local() {
		t.Fatalf("local open breaker: %+v", tk)
	}
	if st := b.Status(ctx, k); st.State != model.BreakerClosed {
		t.Fatalf("replica b's own state: %+v (it saw nothing while redis was down)", st)
	}

	// Redis back: the shared state (closed since the probe) rules again, within a second (the
	// store is skipped that long after a failure, so jobs do not each pay a timeout).
	redis.Start()
	testkit.Eventually(t, 10*time.Second, "replica a back on the shared state", func() bool {
		tk := a.Allow(ctx, k)
		return tk.Run && !tk.Local()
	})
}

// countingStore counts what the engine asks the shared breaker store.
type countingStore struct {
	engine.BreakerStore
	allows, records, batches, successes atomic.Int32
}

func (s *countingStore) Allow(ctx context.Context, ch model.Channel, now time.Time, lease time.Duration) (model.BreakerVerdict, error) {
	s.allows.Add(1)
	return s.BreakerStore.Allow(ctx, ch, now, lease)
}

func (s *countingStore) Record(ctx context.Context, ch model.Channel, ev string, o model.BreakerOutcome, probe bool, now time.Time, r model.BreakerRules) (model.BreakerStatus, bool, error) {
	s.records.Add(1)
	return s.BreakerStore.Record(ctx, ch, ev, o, probe, now, r)
}

func (s *countingStore) RecordSuccesses(ctx context.Context, ch model.Channel, n int, now time.Time, r model.BreakerRules) (model.BreakerStatus, error) {
	s.batches.Add(1)
	s.successes.Add(int32(n))
	return s.BreakerStore.RecordSuccesses(ctx, ch, n, now, r)
}

// A healthy channel (closed at its last recorded outcome, no failure of this process's in the
// window) runs without asking the shared store and records its successes in batches; a failure
// is recorded after the held successes, and ends the health: every call asks again. Another
// replica opening the breaker stops a healthy process's calls within healthyFor (250 ms).
func TestBreakerHealthyChannelBatchesSuccesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	shared, _ := sharedStore(t)
	store := &countingStore{BreakerStore: shared}
	clock := newBreakerClock()
	a := engine.NewBreaker(testRules, store, testLogger(t), clock.Now)
	b := engine.NewBreaker(testRules, shared, testLogger(t), clock.Now)
	n := model.ChannelNaver

	call(t, a, n, "ev1", model.BreakerSuccess) // asks, records: now healthy
	if got := [3]int32{store.allows.Load(), store.batches.Load(), store.successes.Load()}; got != [3]int32{1, 1, 1} {
		t.Fatalf("first call: allows, batches, successes = %v, want [1 1 1]", got)
	}
	for i := range 10 {
		if tk := call(t, a, n, fmt.Sprint("ev", i), model.BreakerSuccess); !tk.Run || tk.Local() {
			t.Fatalf("healthy call %d: %+v", i, tk)
		}
	}
	if store.allows.Load() != 1 || store.batches.Load() != 1 {
		t.Fatalf("10 healthy calls asked %d times and recorded %d batches, want no more than the first call's 1 and 1",
			store.allows.Load(), store.batches.Load())
	}
	clock.Advance(100 * time.Millisecond) // the held successes are a batch old: the next success records them with it
	call(t, a, n, "ev11", model.BreakerSuccess)
	if store.batches.Load() != 2 || store.successes.Load() != 12 {
		t.Fatalf("after 100 ms: %d batches of %d successes, want 2 of 12 in all", store.batches.Load(), store.successes.Load())
	}

	// The batch counts as that many calls of the window: 1 + 11 + 2 held successes and 14
	// failures of two events are 50 %: open. Held successes are recorded before the failure.
	call(t, a, n, "ev12", model.BreakerSuccess)
	call(t, a, n, "ev13", model.BreakerSuccess)
	for i := range 14 {
		call(t, a, n, fmt.Sprint("bad", i%2), model.BreakerFailure)
		if i < 13 && a.Status(ctx, n).State != model.BreakerClosed {
			t.Fatalf("open after %d failures against 14 successes", i+1)
		}
	}
	if st := a.Status(ctx, n); st.State != model.BreakerOpen || store.successes.Load() != 14 {
		t.Fatalf("after 14 failures and 14 successes: %+v, %d successes recorded; want open, 14", st, store.successes.Load())
	}

	// A process that saw failures asks every call; after the probe closes the breaker, its
	// failures within the window keep it asking.
	clock.Advance(testRules.Cooldown)
	probe := a.Allow(ctx, n)
	if !probe.Probe {
		t.Fatalf("after the cooldown: %+v, want the probe", probe)
	}
	a.Done(ctx, probe, n, "ev20", model.BreakerSuccess)
	asked := store.allows.Load()
	call(t, a, n, "ev21", model.BreakerSuccess)
	call(t, a, n, "ev22", model.BreakerSuccess)
	if got := store.allows.Load() - asked; got != 2 {
		t.Fatalf("a process with failures in the window asked %d times for 2 calls, want 2", got)
	}

	// Healthy again once its failures left the window; then replica b's failures open the
	// breaker: a's calls run on its answer for at most 250 ms, then wait.
	clock.Advance(testRules.Window)
	call(t, a, n, "ev23", model.BreakerSuccess)
	for i := range 10 {
		call(t, b, n, fmt.Sprint("b-bad", i%2), model.BreakerFailure)
	}
	if st := b.Status(ctx, n); st.State != model.BreakerOpen {
		t.Fatalf("replica b: %+v, want open", st)
	}
	if tk := a.Allow(ctx, n); !tk.Run {
		t.Fatalf("healthy replica a within 250 ms: %+v, want its last answer (run)", tk)
	}
	clock.Advance(250 * time.Millisecond)
	if tk := a.Allow(ctx, n); tk.Run {
		t.Fatalf("replica a 250 ms after its last record: %+v, want it to wait on b's open breaker", tk)
	}
}
