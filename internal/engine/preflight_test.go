package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/engine"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/quiethours"
)

// The pre-flight check's answers that the API tests cannot see: KakaoTalk's quiet hours are no
// refusal but say until when the channel waits; the Instagram quota answer is cached, and a quota
// read that fails does not block (fail open).
func TestPreflightEngine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("quiet hours wait", func(t *testing.T) {
		t.Parallel()
		_, reg, _ := countingSim(t)
		clock := &quietClock{}
		clock.set(kstAt(1, 23, 0))
		h := newHarnessWith(t, engine.Config{Workers: 1, Now: clock.Now, KakaoQuietHours: mustWindow(t, quiethours.Default)}, reg.Adapter, nil, nil)
		if _, err := h.store.Pool.Exec(ctx, `INSERT INTO events (id, title) VALUES ('q1', 't')`); err != nil {
			t.Fatal(err)
		}
		checks, err := h.eng.Preflight(ctx, "q1", []model.Channel{model.ChannelKakao, model.ChannelNaver})
		if err != nil {
			t.Fatal(err)
		}
		k, n := checks[0], checks[1]
		if !k.OK || k.WaitsUntil == nil || !k.WaitsUntil.Equal(kstAt(2, 8, 0)) {
			t.Errorf("KAKAO %+v: want OK, waiting until 08:00 KST", k)
		}
		if !n.OK || n.WaitsUntil != nil {
			t.Errorf("NAVER %+v", n)
		}
	})
	t.Run("quota cached", func(t *testing.T) {
		t.Parallel()
		h := newIGHarness(t, "")
		h.connect()
		if _, err := h.store.Pool.Exec(ctx, `INSERT INTO events (id, title, image_url, store_id) VALUES ('q2', 't', 'https://img.example.com/a.jpg', 's1')`); err != nil {
			t.Fatal(err)
		}
		check := func() model.ChannelCheck {
			c, err := h.eng.Preflight(ctx, "q2", []model.Channel{model.ChannelInstagram})
			if err != nil {
				t.Fatal(err)
			}
			return c[0]
		}
		if c := check(); !c.OK {
			t.Fatalf("fresh account refused: %+v", c)
		}
		at := make([]time.Time, 50)
		for i := range at {
			at[i] = time.Now().Add(-time.Hour)
		}
		h.sim.SeedInstagramPosts(igTestUser, at...)
		if c := check(); !c.OK {
			t.Errorf("the quota was read again within its cache time: %+v", c)
		}
	})
	t.Run("quota read fails open", func(t *testing.T) {
		t.Parallel()
		h := newIGHarness(t, "INSTAGRAM=1x1") // the first Graph call (the quota read) fails
		h.connect()
		at := make([]time.Time, 50)
		for i := range at {
			at[i] = time.Now().Add(-time.Hour)
		}
		h.sim.SeedInstagramPosts(igTestUser, at...)
		if _, err := h.store.Pool.Exec(ctx, `INSERT INTO events (id, title, image_url, store_id) VALUES ('q3', 't', 'https://img.example.com/a.jpg', 's1')`); err != nil {
			t.Fatal(err)
		}
		c, err := h.eng.Preflight(ctx, "q3", []model.Channel{model.ChannelInstagram})
		if err != nil || !c[0].OK {
			t.Errorf("a failed quota read blocked: %+v %v", c, err)
		}
	})
}
