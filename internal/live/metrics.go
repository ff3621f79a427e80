package live

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// The live path's Prometheus metrics: the hub's counters (already kept for Stats) and the open
// streams by kind. Labels are bounded: kind is "list" or "detail".

// Stream kinds, the label values of distribution_live_streams_open.
const (
	StreamList   = "list"   // the events list's stream (ServeList)
	StreamDetail = "detail" // an event detail page's stream (ServeEvent)
)

// openStreams counts the open streams of a Streams by kind.
type openStreams struct {
	list, detail atomic.Int64
}

func (o *openStreams) counter(kind string) *atomic.Int64 {
	if kind == StreamList {
		return &o.list
	}
	return &o.detail
}

// opened counts a stream of kind as open until the returned func is called.
func (o *openStreams) opened(kind string) func() {
	c := o.counter(kind)
	c.Add(1)
	return func() { c.Add(-1) }
}

// OpenStreams is the number of open streams of kind (StreamList or StreamDetail) in this process.
func (st *Streams) OpenStreams(kind string) int { return int(st.open.counter(kind).Load()) }

// Collectors are the streams' metrics: distribution_live_streams_open{kind}.
func (st *Streams) Collectors() []prometheus.Collector {
	open := func(kind string) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "distribution_live_streams_open",
			Help:        "Open live SSE streams of this process by kind (list, detail).",
			ConstLabels: prometheus.Labels{"kind": kind},
		}, func() float64 { return float64(st.OpenStreams(kind)) })
	}
	return []prometheus.Collector{open(StreamList), open(StreamDetail)}
}

// Collectors are the hub's counters as Prometheus counters: keyspace notifications received,
// overflows (pending signals collapsed into a Resync), Resync signals delivered and confirmed
// re-subscriptions after a lost Redis connection.
func (h *Hub) Collectors() []prometheus.Collector {
	counter := func(name, help string, v func(Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v(h.Stats())) })
	}
	return []prometheus.Collector{
		counter("distribution_live_notifications_total", "Redis keyspace notifications received by the live hub.",
			func(s Stats) uint64 { return s.Notifications }),
		counter("distribution_live_overflows_total", "Pending live signals or batches collapsed into a Resync (a subscriber fell behind).",
			func(s Stats) uint64 { return s.Overflows }),
		counter("distribution_live_resyncs_total", "Resync signals delivered to live subscribers (after overflows and reconnects).",
			func(s Stats) uint64 { return s.Resyncs }),
		counter("distribution_live_reconnects_total", "Confirmed re-subscriptions of the live hub after a lost Redis connection.",
			func(s Stats) uint64 { return s.Reconnects }),
	}
}
