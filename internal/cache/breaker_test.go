package cache

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// fakeClock is the circuit's clock in tests: time moves only when told.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func newTestCache(t *testing.T, client *redis.Client) (*Cache, *fakeClock) {
	t.Helper()
	c := New(client, slog.New(slog.NewTextHandler(io.Discard, nil)))
	clock := newFakeClock()
	c.now = clock.Now
	return c, clock
}

func TestCircuit(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled here
	t.Cleanup(func() { client.Close() })
	c, clock := newTestCache(t, client)
	ctx := context.Background()

	if !c.allow() {
		t.Fatal("closed circuit refused")
	}
	// Error replies and the caller's own cancellation are not outages.
	c.record(ctx, redis.Nil)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	c.record(cancelled, context.Canceled)
	if !c.allow() {
		t.Fatal("opened by a non-outage error")
	}

	c.record(ctx, errors.New("dial unix: connection refused"))
	if c.allow() {
		t.Fatal("open circuit allowed a call")
	}
	clock.Advance(breakerCooldown - time.Millisecond)
	if c.allow() {
		t.Fatal("allowed before the cooldown ended")
	}
	clock.Advance(time.Millisecond)
	if !c.allow() {
		t.Fatal("no probe after the cooldown")
	}
	if c.allow() {
		t.Fatal("a second caller probed while the first probe runs")
	}
	// The probe fails: another cooldown.
	c.record(ctx, errors.New("i/o timeout"))
	clock.Advance(breakerCooldown / 2)
	if c.allow() {
		t.Fatal("allowed during the second cooldown")
	}
	clock.Advance(breakerCooldown)
	if !c.allow() {
		t.Fatal("no probe after the second cooldown")
	}
	c.record(ctx, nil)
	for range 3 {
		if !c.allow() {
			t.Fatal("closed circuit refused after a successful probe")
		}
	}
}

type fixedSource struct {
	d model.Distribution
	n atomic.Int32
}

func (s *fixedSource) FindDistribution(context.Context, string) (model.Distribution, error) {
	s.n.Add(1)
	return s.d, nil
}

func distribution(eventID string, progress int) model.Distribution {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(progress) * time.Second)
	return model.Distribution{
		ID: 1, EventID: eventID, OverallStatus: model.OverallInProgress, StartedAt: at, CreatedAt: at, UpdatedAt: at,
		Channels: []model.ChannelState{{
			ID: 1, DistributionStatusID: 1, EventID: eventID, Channel: model.ChannelKakao,
			Status: model.StatusInProgress, Progress: progress, UpdateTimestamp: at, UpdatedAt: at,
		}},
	}
}

// A write that could not be made leaves an older state in Redis. That state must not be served,
// and must be replaced or deleted once Redis answers again.
func TestFailedWriteIsNotServedStale(t *testing.T) {
	t.Parallel()
	r := dbtest.StartRedis(t)
	client, err := NewClient(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c, clock := newTestCache(t, client)
	ctx := context.Background()

	for _, id := range []string{"ev-1", "ev-2"} {
		if err := c.PutDistribution(ctx, distribution(id, 10)); err != nil {
			t.Fatal(err)
		}
	}
	// Redis "fails" (circuit open): the writes of progress 50 do not happen.
	c.record(ctx, errors.New("i/o timeout"))
	for _, id := range []string{"ev-1", "ev-2"} {
		if err := c.PutDistribution(ctx, distribution(id, 50)); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("write with the circuit open: %v", err)
		}
	}
	src := &fixedSource{d: distribution("ev-1", 50)}
	got, err := c.Distribution(ctx, "ev-1", src)
	if err != nil || got.Channels[0].Progress != 50 || src.n.Load() != 1 {
		t.Fatalf("read during the outage: progress %d, %d source reads, %v", got.Channels[0].Progress, src.n.Load(), err)
	}

	// Redis answers again (the circuit's probe): the read of a dirty event goes to the source and
	// overwrites the stale keys, even though they exist.
	clock.Advance(breakerCooldown)
	got, err = c.Distribution(ctx, "ev-1", src)
	if err != nil || got.Channels[0].Progress != 50 || src.n.Load() != 2 {
		t.Fatalf("read after recovery: progress %d, %d source reads, %v", got.Channels[0].Progress, src.n.Load(), err)
	}
	if p := client.HGet(ctx, ChannelKey("ev-1", model.ChannelKakao), "progress").Val(); p != "50" {
		t.Fatalf("stale key not overwritten: progress %q", p)
	}
	if got, err := c.Distribution(ctx, "ev-1", src); err != nil || got.Channels[0].Progress != 50 || src.n.Load() != 2 {
		t.Fatalf("then a cache hit: %d source reads, %v", src.n.Load(), err)
	}

	// The other dirty event is deleted by the next successful write, so readers refill it.
	if err := c.PutChannel(ctx, distribution("ev-3", 1).Channels[0]); err != nil {
		t.Fatal(err)
	}
	if n := client.Exists(ctx, allKeys("ev-2")...).Val(); n != 0 {
		t.Fatalf("%d stale keys of ev-2 remain", n)
	}
	if c.nDirty.Load() != 0 {
		t.Fatalf("%d events still dirty", c.nDirty.Load())
	}
}

func TestMissingFlags(t *testing.T) {
	t.Parallel()
	for have, want := range map[string]string{
		"":         "Khgx",
		"Khgx":     "",
		"xghK":     "",
		"E$":       "Khgx",
		"AK":       "",
		"A":        "K",
		"KEA":      "",
		"Kh":       "gx",
		"K$lshzxe": "g",
	} {
		if got := missingFlags(have); got != want {
			t.Errorf("missingFlags(%q) = %q, want %q", have, got, want)
		}
	}
}
