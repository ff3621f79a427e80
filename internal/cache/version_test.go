package cache_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/cache"
	"github.com/marketing-platform/distribution/internal/model"
)

// update runs one UPDATE of the event's rows in Postgres and returns the state it committed.
func (e *env) update(t *testing.T, eventID, sql string) model.Distribution {
	t.Helper()
	ctx := context.Background()
	if _, err := e.db.Pool.Exec(ctx, sql, eventID); err != nil {
		t.Fatal(err)
	}
	d, err := e.db.FindDistribution(ctx, eventID)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (e *env) field(t *testing.T, key, field string) string {
	t.Helper()
	v, err := e.raw.HGet(context.Background(), key, field).Result()
	if err != nil {
		t.Fatalf("HGET %s %s: %v", key, field, err)
	}
	return v
}

// Every UPDATE of a row bumps its version, so the version orders the row's commits.
func TestVersionGrowsWithEveryUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	old := e.seed(t, "ev-1", model.OverallInProgress, map[model.Channel]model.ChannelStatus{model.ChannelKakao: model.StatusInProgress})
	d := e.update(t, "ev-1", `UPDATE distribution_status SET updated_at = now() WHERE event_id = $1`)
	d = e.update(t, "ev-1", `UPDATE distribution_status SET overall_status = 'COMPLETED' WHERE event_id = $1`)
	d = e.update(t, "ev-1", `UPDATE channel_status SET progress = 50 WHERE event_id = $1`)
	if d.Version != old.Version+2 || d.Channels[0].Version != old.Channels[0].Version+1 {
		t.Fatalf("versions: distribution %d -> %d, channel %d -> %d", old.Version, d.Version, old.Channels[0].Version, d.Channels[0].Version)
	}
}

// The defect: two workers finish channels of one event; the one whose commit left IN_PROGRESS
// writes Redis after the one that committed COMPLETED. Redis must keep COMPLETED (and a channel
// key must keep its newer state against an older write).
func TestOlderWriteNeverReplacesNewer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	older := e.seed(t, "ev-1", model.OverallInProgress, map[model.Channel]model.ChannelStatus{
		model.ChannelKakao: model.StatusSuccess, model.ChannelNaver: model.StatusInProgress,
	})
	e.update(t, "ev-1", `UPDATE channel_status SET status = 'SUCCESS', progress = 100 WHERE event_id = $1 AND channel = 'NAVER'`)
	newer := e.update(t, "ev-1", `UPDATE distribution_status SET overall_status = 'COMPLETED', completed_at = now() WHERE event_id = $1`)

	// Newer first, then the older state through every write path.
	if err := e.cache.PutDistribution(ctx, newer); err != nil {
		t.Fatal(err)
	}
	if err := e.cache.PutOverall(ctx, older); err != nil {
		t.Fatal(err)
	}
	if err := e.cache.PutChannel(ctx, *older.Channel(model.ChannelNaver)); err != nil {
		t.Fatal(err)
	}
	if err := e.cache.PutDistribution(ctx, older); err != nil {
		t.Fatal(err)
	}
	if err := e.cache.PutChannelOverall(ctx, *older.Channel(model.ChannelNaver), older); err != nil {
		t.Fatal(err)
	}
	if s := e.field(t, cache.EventKey("ev-1"), "overall_status"); s != "COMPLETED" {
		t.Errorf("event key overall_status = %q after an older write, want COMPLETED", s)
	}
	if s := e.field(t, cache.ChannelKey("ev-1", model.ChannelNaver), "status"); s != "SUCCESS" {
		t.Errorf("channel key status = %q after an older write, want SUCCESS", s)
	}
	got, err := e.cache.Distribution(ctx, "ev-1", failingSource{t})
	if err != nil {
		t.Fatal(err)
	}
	sameDistribution(t, got, newer)
}

// A write carrying the version Redis already holds renews the TTL and rewrites nothing.
func TestEqualVersionRenewsTTLOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	d := e.seed(t, "ev-1", model.OverallInProgress, map[model.Channel]model.ChannelStatus{model.ChannelKakao: model.StatusInProgress})
	if err := e.cache.PutDistribution(ctx, d); err != nil {
		t.Fatal(err)
	}
	ek, ck := cache.EventKey("ev-1"), cache.ChannelKey("ev-1", model.ChannelKakao)
	// A field changed behind the cache's back shows whether the write rewrote the key.
	marker := map[string][2]string{ek: {"overall_status", "FAILED"}, ck: {"progress", "77"}}
	for k, m := range marker {
		e.raw.Expire(ctx, k, 10*time.Second)
		e.raw.HSet(ctx, k, m[0], m[1])
	}
	if err := e.cache.PutDistribution(ctx, d); err != nil {
		t.Fatal(err)
	}
	for k, ttl := range map[string]time.Duration{ek: cache.EventTTL, ck: cache.ChannelTTL} {
		if got := e.raw.TTL(ctx, k).Val(); got <= ttl-time.Minute || got > ttl {
			t.Errorf("TTL of %s = %v, want renewed to about %v", k, got, ttl)
		}
		if m := marker[k]; e.field(t, k, m[0]) != m[1] {
			t.Errorf("%s was rewritten by a write of the same version", k)
		}
	}
}

// A read-through refill carries what Postgres said a moment ago; even when it replaces entries
// (forced by an unreadable key) it never puts an older version over a newer one.
func TestRefillWithOlderVersionNeverRegresses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	older := e.seed(t, "ev-1", model.OverallInProgress, map[model.Channel]model.ChannelStatus{
		model.ChannelKakao: model.StatusSuccess, model.ChannelNaver: model.StatusInProgress,
	})
	e.update(t, "ev-1", `UPDATE channel_status SET status = 'SUCCESS', progress = 100 WHERE event_id = $1 AND channel = 'NAVER'`)
	newer := e.update(t, "ev-1", `UPDATE distribution_status SET overall_status = 'COMPLETED', completed_at = now() WHERE event_id = $1`)
	if err := e.cache.PutDistribution(ctx, newer); err != nil {
		t.Fatal(err)
	}

	// Missing key: the plain refill of a stale read.
	e.raw.Del(ctx, cache.ChannelKey("ev-1", model.ChannelKakao))
	if _, err := e.cache.Distribution(ctx, "ev-1", staleSource{d: older}); err != nil {
		t.Fatal(err)
	}
	if s := e.field(t, cache.EventKey("ev-1"), "overall_status"); s != "COMPLETED" {
		t.Fatalf("refill regressed the event key to %q", s)
	}
	// Unreadable key: the forced refill of a stale read.
	e.raw.HSet(ctx, cache.ChannelKey("ev-1", model.ChannelKakao), "status", "BOGUS")
	if _, err := e.cache.Distribution(ctx, "ev-1", staleSource{d: older}); err != nil {
		t.Fatal(err)
	}
	if s := e.field(t, cache.EventKey("ev-1"), "overall_status"); s != "COMPLETED" {
		t.Fatalf("forced refill regressed the event key to %q", s)
	}
	if s := e.field(t, cache.ChannelKey("ev-1", model.ChannelNaver), "status"); s != "SUCCESS" {
		t.Fatalf("forced refill regressed the NAVER key to %q", s)
	}
	// The truth heals the rest, and then Redis serves it.
	if _, err := e.cache.Distribution(ctx, "ev-1", e.src); err != nil {
		t.Fatal(err)
	}
	got, err := e.cache.Distribution(ctx, "ev-1", failingSource{t})
	if err != nil {
		t.Fatal(err)
	}
	sameDistribution(t, got, newer)
}

// The engine's write pattern, raced: six channels of one event finish at once (FinishChannel
// under the parent lock), each then writes its channel and the overall state to Redis, as the
// worker does. However the writes interleave, Redis ends with PostgreSQL's overall status.
func TestConcurrentFinishesLeaveRedisAtPostgresState(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	noEnqueue := func(context.Context, pgx.Tx, []model.ChannelState, string) error { return nil }
	const rounds = 25
	for i := range rounds {
		id := fmt.Sprintf("ev-%d", i)
		if _, err := e.db.CreateEvent(ctx, model.Event{ID: id, Title: id}, "test"); err != nil {
			t.Fatal(err)
		}
		d, err := e.db.StartDistribution(ctx, id, model.AllChannels, "test", noEnqueue)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.cache.PutDistribution(ctx, d); err != nil {
			t.Fatal(err)
		}
		runs := make([]db.ChannelRun, len(d.Channels))
		for j, ch := range d.Channels {
			run, ok, err := e.db.ClaimChannel(ctx, d.ID, ch.Channel, ch.Generation, "system")
			if err != nil || !ok {
				t.Fatalf("claim %s: %v %v", ch.Channel, ok, err)
			}
			runs[j] = run
		}
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make(chan error, len(runs))
		)
		for _, run := range runs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res, err := e.db.FinishChannel(ctx, db.ChannelFinish{
					ChannelStatusID: run.State.ID, DistributionStatusID: d.ID, Generation: run.State.Generation,
					AttemptID: run.AttemptID, Status: model.StatusSuccess, Outcome: model.OutcomeSuccess,
					Result: &db.ChannelResult{PostID: "p-" + string(run.State.Channel)},
				})
				if err == nil {
					err = e.cache.PutChannelOverall(ctx, res.Channel, res.Distribution) // one MULTI, as the worker
				}
				errs <- err
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		truth, err := e.db.FindDistribution(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if truth.OverallStatus != model.OverallCompleted {
			t.Fatalf("round %d: postgres overall = %s", i, truth.OverallStatus)
		}
		got, err := e.cache.Distribution(ctx, id, failingSource{t})
		if err != nil {
			t.Fatal(err)
		}
		sameDistribution(t, got, truth)
	}
}
