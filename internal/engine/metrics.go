package engine

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	jobs        *prometheus.CounterVec   // channel, outcome
	publish     *prometheus.HistogramVec // channel, outcome
	rollups     *prometheus.CounterVec   // from, to
	rescues     *prometheus.CounterVec   // action
	retries     *prometheus.CounterVec   // kind
	cacheErrors prometheus.Counter
	errorKinds  *prometheus.CounterVec // channel, kind (errors.go's kind labels)
	scheduled   *prometheus.CounterVec // outcome (started, dropped)
	upkeep      *prometheus.CounterVec // channel, outcome (upkeep.go)
}

// newMetrics builds the engine's collectors and registers them on reg (nil = not exported).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "distribution_channel_jobs_total",
			Help: "Publish job runs by channel and outcome (success, failed, retry, snoozed, interrupted, stale).",
		}, []string{"channel", "outcome"}),
		publish: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "distribution_channel_publish_seconds",
			Help:    "Duration of one adapter Publish call by channel and outcome.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"channel", "outcome"}),
		rollups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "distribution_rollup_transitions_total",
			Help: "Overall status transitions of distributions.",
		}, []string{"from", "to"}),
		rescues: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "distribution_channel_rescues_total",
			Help: "Stuck channels found by the reconciler, by action (redriven, failed).",
		}, []string{"action"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "distribution_channel_manual_retries_total",
			Help: "Channels reset by staff retries, by kind (channel, failed, bulk).",
		}, []string{"kind"}),
		cacheErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "distribution_engine_cache_errors_total",
			Help: "Cache writes after commit that failed (state still in Postgres).",
		}),
		errorKinds: newErrorKinds(),
		scheduled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "distribution_scheduled_starts_total",
			Help: "Schedules that fell due and were claimed by this process, by outcome (started, dropped).",
		}, []string{"outcome"}),
		upkeep: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "distribution_account_upkeep_total",
			Help: "Token upkeep and views measurement outcomes by channel: refreshed, needs_reconnect, refresh_failed, measured, measure_failed.",
		}, []string{"channel", "outcome"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.jobs, m.publish, m.rollups, m.rescues, m.retries, m.cacheErrors, m.errorKinds, m.scheduled, m.upkeep} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("engine: metrics already registered (one engine per registry): %w", err)
			}
			return nil, fmt.Errorf("engine: register metrics: %w", err)
		}
	}
	return m, nil
}
