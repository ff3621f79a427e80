package engine_test

// Progress writes are coalesced (internal/engine/progress.go): at most one per 100 ms per
// attempt, the last value written by the finish. These tests hold the engine to what a viewer
// needs from that: a running channel's progress still shows while it runs, and the final value is
// never lost.

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/engine"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit"
)

// progressAdapter reports progress through script, then returns its outcome.
type progressAdapter func(ctx context.Context, progress func(int)) (channels.Result, error)

func (a progressAdapter) Publish(ctx context.Context, _ channels.Request, progress func(int)) (channels.Result, error) {
	return a(ctx, progress)
}

// lastCache keeps the last state cached per channel.
type lastCache struct {
	mu   sync.Mutex
	last map[model.Channel]model.ChannelState
}

func (c *lastCache) PutChannel(_ context.Context, s model.ChannelState) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last[s.Channel] = s
	return nil
}

func (c *lastCache) PutOverall(context.Context, model.Distribution) error { return nil }

func (c *lastCache) PutDistribution(_ context.Context, d model.Distribution) error {
	for _, s := range d.Channels {
		_ = c.PutChannel(context.Background(), s)
	}
	return nil
}

func (c *lastCache) get(ch model.Channel) model.ChannelState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last[ch]
}

// A channel that reports 40 % and then waits shows 40 % while it waits (the coalesced write
// still happens without a further report), in PostgreSQL and in the cache.
func TestProgressShowsWhileRunning(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	adapter := progressAdapter(func(ctx context.Context, progress func(int)) (channels.Result, error) {
		progress(10)
		progress(40)
		select {
		case <-release:
		case <-ctx.Done():
			return channels.Result{}, ctx.Err()
		}
		return channels.Result{MessageID: "msg-1"}, nil
	})
	cache := &lastCache{last: map[model.Channel]model.ChannelState{}}
	h := newHarnessWith(t, engine.Config{Workers: 1}, func(model.Channel) channels.Adapter { return adapter }, nil, cache)
	h.start("ev1", model.ChannelKakao)
	testkit.Eventually(t, 20*time.Second, "40 % stored while the channel runs", func() bool {
		c := h.channel("ev1", model.ChannelKakao)
		return c.Status == model.StatusInProgress && c.Progress == 40
	})
	testkit.Eventually(t, 20*time.Second, "the 40 % state cached", func() bool {
		c := cache.get(model.ChannelKakao)
		return c.Status == model.StatusInProgress && c.Progress == 40
	})
	close(release)
	h.waitOverall("ev1", "COMPLETED")
	if c := h.channel("ev1", model.ChannelKakao); c.Status != model.StatusSuccess || c.Progress != 100 {
		t.Fatalf("after success: %s %d %%", c.Status, c.Progress)
	}
}

// Many reports in a burst, then a permanent failure: the channel ends FAILED at the last value
// reported, which the finish writes though no progress write carried it.
func TestProgressFinalValueWrittenWithTheFinish(t *testing.T) {
	t.Parallel()
	adapter := progressAdapter(func(_ context.Context, progress func(int)) (channels.Result, error) {
		for pct := 1; pct <= 87; pct++ {
			progress(pct)
		}
		return channels.Result{}, &channels.Error{Kind: channels.Permanent, HTTPStatus: 400, Message: "the channel rejected the post"}
	})
	h := newHarnessWith(t, engine.Config{Workers: 1}, func(model.Channel) channels.Adapter { return adapter }, nil, nil)
	h.start("ev1", model.ChannelNaver)
	h.waitOverall("ev1", "FAILED")
	if c := h.channel("ev1", model.ChannelNaver); c.Status != model.StatusFailed || c.Progress != 87 {
		t.Fatalf("after the failure: %s at %d %%, want FAILED at 87 %%", c.Status, c.Progress)
	}
}
