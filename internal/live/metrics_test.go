package live

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	prommodel "github.com/prometheus/client_model/go"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/views"
)

// scrape registers cs on a fresh registry and returns each series' value by name and labels
// ("name" or "name{k=v}").
func scrape(t *testing.T, cs ...prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(cs...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, lp := range m.GetLabel() {
				key += fmt.Sprintf("{%s=%s}", lp.GetName(), lp.GetValue())
			}
			switch mf.GetType() {
			case prommodel.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case prommodel.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// TestHubMetrics: the hub's notifications, overflows, resyncs and reconnects are exported as
// counters and move with what the hub counts.
func TestHubMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{SubscriberBuffer: 4, Coalesce: -1})
	names := []string{"distribution_live_notifications_total", "distribution_live_overflows_total",
		"distribution_live_resyncs_total", "distribution_live_reconnects_total"}
	got := scrape(t, e.hub.Collectors()...)
	for _, n := range names {
		if v, ok := got[n]; !ok || v != 0 {
			t.Errorf("%s = %v (present %v), want 0 at start", n, v, ok)
		}
	}

	all := e.hub.Subscribe(Filter{All: true})
	sentinel := e.hub.Subscribe(Filter{EventIDs: []string{"sentinel"}})
	for i := range 10 {
		e.hset(t, eventKey(fmt.Sprintf("ev-%d", i)))
	}
	e.hset(t, eventKey("sentinel"))
	next(t, sentinel, 2*time.Second)
	until(t, all, time.Second, "resync", func(s Signal) bool { return s.Resync })
	got = scrape(t, e.hub.Collectors()...)
	if got["distribution_live_notifications_total"] < 11 {
		t.Errorf("notifications = %v, want at least 11", got["distribution_live_notifications_total"])
	}
	if got["distribution_live_overflows_total"] < 1 || got["distribution_live_resyncs_total"] < 1 {
		t.Errorf("overflows = %v, resyncs = %v, want both counted", got["distribution_live_overflows_total"], got["distribution_live_resyncs_total"])
	}

	resyncs := got["distribution_live_resyncs_total"]
	e.r.Stop()
	until(t, sentinel, 5*time.Second, "reconnecting", func(s Signal) bool { return s.State == StateReconnecting })
	e.r.Start()
	until(t, sentinel, 10*time.Second, "resync after reconnect", func(s Signal) bool { return s.Resync && s.State == StateConnected })
	got = scrape(t, e.hub.Collectors()...)
	if got["distribution_live_reconnects_total"] != 1 {
		t.Errorf("reconnects = %v, want 1", got["distribution_live_reconnects_total"])
	}
	if got["distribution_live_resyncs_total"] < resyncs+1 {
		t.Errorf("resyncs = %v after a reconnect, want more than %v", got["distribution_live_resyncs_total"], resyncs)
	}
}

// TestOpenStreamsMetric: distribution_live_streams_open counts the open streams by kind, and
// drops back to zero once they end.
func TestOpenStreamsMetric(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	store := oneEvent{d: model.Distribution{EventID: "ev1", OverallStatus: model.OverallInProgress, Channels: []model.ChannelState{
		{EventID: "ev1", Channel: model.ChannelKakao, Status: model.StatusInProgress, Progress: 10, UpdatedAt: time.Now()},
	}}}
	st := NewStreams(Config{Hub: e.hub, Store: store, Status: store})
	if err := st.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Stop)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := views.Page{Lang: "en", Title: "t", MayRetry: true}
		if r.URL.Path == "/list" {
			_ = st.ServeList(w, r, model.EventFilter{}, p, Viewer{})
			return
		}
		_ = st.ServeEvent(w, r, "ev1", p, Viewer{})
	}))
	t.Cleanup(srv.Close)

	const list, detail = "distribution_live_streams_open{kind=list}", "distribution_live_streams_open{kind=detail}"
	if got := scrape(t, st.Collectors()...); got[list] != 0 || got[detail] != 0 {
		t.Fatalf("open streams before any: %v", got)
	}
	var cancels []context.CancelFunc
	open := func(path string) {
		_, cancel := openLive(t, srv.URL+path)
		cancels = append(cancels, cancel)
	}
	open("/ev1")
	open("/ev1")
	open("/list")
	if got := scrape(t, st.Collectors()...); got[list] != 1 || got[detail] != 2 {
		t.Errorf("open streams = list %v, detail %v; want 1, 2", got[list], got[detail])
	}
	for _, c := range cancels {
		c()
	}
	testkit.EventuallyErr(t, 5*time.Second, "no open streams after the clients left", func() error {
		if got := scrape(t, st.Collectors()...); got[list] != 0 || got[detail] != 0 {
			return fmt.Errorf("list %v, detail %v", got[list], got[detail])
		}
		return nil
	})
}
