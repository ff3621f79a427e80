package app_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	prommodel "github.com/prometheus/client_model/go"

	"github.com/marketing-platform/distribution/internal/app"
	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
)

// gather scrapes g into families by name.
func gather(t *testing.T, g prometheus.Gatherer) map[string]*prommodel.MetricFamily {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]*prommodel.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// sample is the value of family name's series with exactly labels (nil, false when absent).
func sample(fams map[string]*prommodel.MetricFamily, name string, labels map[string]string) (float64, bool) {
	mf := fams[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, lp := range m.GetLabel() {
			if v, ok := labels[lp.GetName()]; !ok || v != lp.GetValue() {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

func mustSample(t *testing.T, fams map[string]*prommodel.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	v, ok := sample(fams, name, labels)
	if !ok {
		t.Fatalf("no series %s%v", name, labels)
	}
	return v
}

// TestOnCallMetrics: ROLE=all exports every on-call family with its bounded labels, and they move:
// a simulated 503 on KAKAO counts one temporary error and two publish durations, the breakers
// stay closed, the pools and the build are reported.
func TestOnCallMetrics(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, config.RoleAll)
	cfg.SimulatorFail = "KAKAO=1"
	cfg.RetryBaseDelay, cfg.RetryMaxDelay = 10*time.Millisecond, 50*time.Millisecond
	a := startApp(t, cfg, app.WithBuild(app.Build{Version: "v1.2.3-test", Commit: "abc123"}))
	ctx := context.Background()

	kakao := string(model.ChannelKakao)
	fams := gather(t, a.Gatherer())
	if v := mustSample(t, fams, "distribution_build_info", map[string]string{
		"version": "v1.2.3-test", "commit": "abc123", "go_version": runtime.Version(),
	}); v != 1 {
		t.Errorf("build_info = %v, want 1", v)
	}
	for _, ch := range model.AllChannels {
		for _, kind := range []string{"temporary", "permanent", "rate-limited", "needs-reconnect"} {
			if v := mustSample(t, fams, "distribution_channel_errors_total", map[string]string{"channel": string(ch), "kind": kind}); v != 0 {
				t.Errorf("errors{%s,%s} = %v before any publish", ch, kind, v)
			}
		}
		for state, want := range map[string]float64{"closed": 1, "open": 0, "half-open": 0} {
			if v := mustSample(t, fams, "distribution_channel_breaker_state", map[string]string{"channel": string(ch), "state": state}); v != want {
				t.Errorf("breaker{%s,%s} = %v, want %v", ch, state, v, want)
			}
		}
	}
	if v := mustSample(t, fams, "distribution_river_queue_up", nil); v != 1 {
		t.Errorf("river_queue_up = %v, want 1", v)
	}
	for _, st := range []string{"available", "pending", "retryable", "running", "scheduled"} {
		mustSample(t, fams, "distribution_river_jobs", map[string]string{"queue": "channels", "state": st})
		mustSample(t, fams, "distribution_river_oldest_job_age_seconds", map[string]string{"queue": "channels", "state": st})
	}
	for _, pool := range []string{"distribution_db_pool", "distribution_redis_pool"} {
		for _, f := range []string{"connections", "idle_connections", "in_use_connections", "max_connections",
			"acquires_total", "waits_total", "wait_seconds_total", "timeouts_total"} {
			mustSample(t, fams, pool+"_"+f, nil)
		}
		if v := mustSample(t, fams, pool+"_max_connections", nil); v <= 0 {
			t.Errorf("%s_max_connections = %v", pool, v)
		}
	}
	for _, kind := range []string{"list", "detail"} {
		if v := mustSample(t, fams, "distribution_live_streams_open", map[string]string{"kind": kind}); v != 0 {
			t.Errorf("streams_open{%s} = %v, want 0", kind, v)
		}
	}
	for _, name := range []string{"distribution_live_notifications_total", "distribution_live_overflows_total",
		"distribution_live_resyncs_total", "distribution_live_reconnects_total"} {
		mustSample(t, fams, name, nil)
	}

	e, err := a.Store.CreateEvent(ctx, model.Event{Title: "metrics", StoreName: "app test"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Engine.StartDistribution(ctx, e.ID, []model.Channel{model.ChannelKakao}, "test"); err != nil {
		t.Fatal(err)
	}
	waitCompleted(t, a, e.ID)
	fams = gather(t, a.Gatherer())
	if v := mustSample(t, fams, "distribution_channel_errors_total", map[string]string{"channel": kakao, "kind": "temporary"}); v != 1 {
		t.Errorf("errors{KAKAO,temporary} = %v, want 1 (the simulated 503)", v)
	}
	if v := mustSample(t, fams, "distribution_channel_errors_total", map[string]string{"channel": kakao, "kind": "permanent"}); v != 0 {
		t.Errorf("errors{KAKAO,permanent} = %v, want 0", v)
	}
	if v := mustSample(t, fams, "distribution_channel_publish_seconds", map[string]string{"channel": kakao, "outcome": model.OutcomeSuccess}); v != 1 {
		t.Errorf("publish_seconds{KAKAO,success} count = %v, want 1", v)
	}
	for _, pool := range []string{"distribution_db_pool", "distribution_redis_pool"} {
		if v := mustSample(t, fams, pool+"_acquires_total", nil); v <= 0 {
			t.Errorf("%s_acquires_total = %v after a distribution", pool, v)
		}
	}
	if v := mustSample(t, fams, "distribution_live_notifications_total", nil); v == 0 {
		t.Error("live notifications_total did not move with the distribution's cache writes")
	}
	if n := len(fams["distribution_channel_breaker_state"].GetMetric()); n != 3*len(model.AllChannels) {
		t.Errorf("breaker_state series = %d, want 3 per channel", n)
	}
}

// TestRiverQueueMetrics: with no workers (ROLE=web) a started distribution's jobs wait in the
// channels queue, and distribution_river_jobs{queue="channels",state="available"} counts them.
func TestRiverQueueMetrics(t *testing.T) {
	t.Parallel()
	a := startApp(t, testConfig(t, config.RoleWeb))
	ctx := context.Background()
	available := map[string]string{"queue": "channels", "state": "available"}
	fams := gather(t, a.Gatherer())
	if v := mustSample(t, fams, "distribution_river_jobs", available); v != 0 {
		t.Fatalf("available jobs = %v before any distribution", v)
	}
	if v := mustSample(t, fams, "distribution_build_info", map[string]string{
		"version": "dev", "commit": app.VCSRevision() + map[bool]string{true: "unknown"}[app.VCSRevision() == ""], "go_version": runtime.Version(),
	}); v != 1 {
		t.Errorf("default build_info = %v", v)
	}
	e, err := a.Store.CreateEvent(ctx, model.Event{Title: "queued", StoreName: "app test"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Engine.StartDistribution(ctx, e.ID, []model.Channel{model.ChannelKakao, model.ChannelNaver}, "test"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // a measurable wait
	fams = gather(t, a.Gatherer())
	if v := mustSample(t, fams, "distribution_river_jobs", available); v != 2 {
		t.Errorf("available jobs = %v, want 2", v)
	}
	if v := mustSample(t, fams, "distribution_river_oldest_job_age_seconds", available); v <= 0 || v > 60 {
		t.Errorf("oldest available job age = %vs, want a small positive wait", v)
	}
	// The embedded simulator's registry is built by every role: the breakers are reported.
	if n := len(fams["distribution_channel_breaker_state"].GetMetric()); n == 0 {
		t.Error("no breaker_state series")
	}
}
