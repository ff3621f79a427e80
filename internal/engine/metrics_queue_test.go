package engine

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/model"
)

// TestErrorKindLabels: every channels.ErrorKind maps to its label, and
// distribution_channel_errors_total has every (channel, kind) series from the start, including
// needs-reconnect (no such kind yet: always zero).
func TestErrorKindLabels(t *testing.T) {
	for k, want := range map[channels.ErrorKind]string{
		channels.Temporary: "temporary", channels.Permanent: "permanent", channels.RateLimited: "rate-limited",
	} {
		if got := errorKindLabel(k); got != want {
			t.Errorf("errorKindLabel(%v) = %q, want %q", k, got, want)
		}
	}
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.errorKinds.WithLabelValues(string(model.ChannelKakao), errorKindLabel(channels.Permanent)).Inc()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "distribution_channel_errors_total" {
			continue
		}
		if n := len(mf.GetMetric()); n != 4*len(model.AllChannels) {
			t.Errorf("%d series, want 4 per channel", n)
		}
		var sum float64
		for _, s := range mf.GetMetric() {
			sum += s.GetCounter().GetValue()
		}
		if sum != 1 {
			t.Errorf("sum = %v, want 1", sum)
		}
		return
	}
	t.Error("distribution_channel_errors_total not registered")
}
