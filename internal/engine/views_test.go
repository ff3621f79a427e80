package engine_test

// Estimated views at publish (followers_count × INSTAGRAM_REACH_RATE) and measured views from
// the simulator's insights, over HTTP with a real Postgres.

import (
	"context"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
)

// measured reads a channel row with its measured views.
func (h *upHarness) measured(eventID string) model.ChannelState {
	h.t.Helper()
	c := h.channel(eventID, model.ChannelInstagram)
	if err := h.store.Pool.QueryRow(context.Background(), `SELECT measured_views, measured_at FROM channel_status
		WHERE event_id = $1 AND channel = 'INSTAGRAM'`, eventID).Scan(&c.MeasuredViews, &c.MeasuredAt); err != nil {
		h.t.Fatal(err)
	}
	return c
}

func TestInstagramEstimatedAndMeasuredViews(t *testing.T) {
	t.Parallel()
	h := upkeepIG(t, "", nil)
	ctx := context.Background()
	h.connectIG("s1", "5001", "IGSIM-views", 2*24*time.Hour, 50*24*time.Hour)
	h.sim.SetInstagramFollowers("5001", 2001)
	h.startEvent(model.ChannelInstagram, "v1", "세일", "설명", "https://img.example.com/a.jpg", "s1")
	h.startEvent(model.ChannelInstagram, "v2", "세일 2", "설명", "https://img.example.com/b.jpg", "s1")
	h.waitOverall("v1", "COMPLETED")
	h.waitOverall("v2", "COMPLETED")
	c := h.measured("v1")
	if c.EstimatedViews == nil || *c.EstimatedViews != 600 { // round(2001 × 0.3)
		t.Fatalf("estimated views %v: want 600", c.EstimatedViews)
	}
	if c.MeasuredViews != nil || c.MeasuredAt != nil {
		t.Fatalf("measured %v at %v before any measurement: want unknown", c.MeasuredViews, c.MeasuredAt)
	}
	// v1's post is 5 hours old on the platform; v2's was published 8 days ago (not measured).
	h.sim.SeedInstagramPosts("5001", time.Now().Add(-5*time.Hour-time.Minute))
	if _, err := h.store.Pool.Exec(ctx, `UPDATE channel_status SET post_id = $1 WHERE event_id = 'v1'`, h.sim.InstagramLatestMedia("5001")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.Pool.Exec(ctx, `UPDATE channel_status SET completed_at = now() - interval '8 days' WHERE event_id = 'v2'`); err != nil {
		t.Fatal(err)
	}
	n, err := h.eng.MeasureViews(ctx)
	if err != nil || n != 1 {
		t.Fatalf("measured %d %v: want the recent post only", n, err)
	}
	wantViews, _ := simulator.InstagramInsightsAt(5*time.Hour + time.Minute)
	c = h.measured("v1")
	if c.MeasuredViews == nil || c.MeasuredAt == nil {
		t.Fatalf("v1 measured %v at %v", c.MeasuredViews, c.MeasuredAt)
	}
	if *c.MeasuredViews != wantViews || *c.EstimatedViews != 600 {
		t.Errorf("v1 measured %d estimated %d: want %d from the insights, the estimate kept", *c.MeasuredViews, *c.EstimatedViews, wantViews)
	}
	if c2 := h.measured("v2"); c2.MeasuredViews != nil {
		t.Errorf("v2 (8 days old) measured %d", *c2.MeasuredViews)
	}
	// Once per interval.
	if n, err := h.eng.MeasureViews(ctx); err != nil || n != 0 {
		t.Errorf("second pass measured %d %v: want none within the interval", n, err)
	}
	// A dead token: the account needs reconnecting, the distribution is untouched.
	if _, err := h.store.Pool.Exec(ctx, `UPDATE channel_status SET measured_at = now() - interval '1 hour' WHERE event_id = 'v1'`); err != nil {
		t.Fatal(err)
	}
	rules, _ := simulator.ParseFail("INSTAGRAM=190")
	h.sim.SetFail(rules)
	if n, err := h.eng.MeasureViews(ctx); err != nil || n != 0 {
		t.Errorf("measured %d %v with a dead token", n, err)
	}
	a, _ := h.storeAccount("s1", model.ChannelInstagram)
	if a.Status != model.AccountNeedsReconnect {
		t.Errorf("account %s: want needs_reconnect", a.Status)
	}
	if c3 := h.measured("v1"); c3.Status != model.StatusSuccess || h.overall("v1") != "COMPLETED" ||
		c3.MeasuredViews == nil || *c3.MeasuredViews != wantViews {
		t.Errorf("v1 after the failed measurement %+v: want untouched", c3)
	}
}
