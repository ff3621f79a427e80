package app

import (
	"context"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/marketing-platform/distribution/internal/engine"
	"github.com/marketing-platform/distribution/internal/model"
)

// The on-call metrics this package adds to the registry (README "Metrics"); every label is
// bounded (channel, state, queue, kind, pool version strings):
//
//	distribution_build_info{version,commit,go_version}              1
//	distribution_channel_breaker_state{channel,state}               1 for the channel's current state
//	distribution_db_pool_*, distribution_redis_pool_*               the pools' own statistics
//	distribution_river_jobs{queue,state} and friends                engine.NewQueueCollector
//	distribution_live_* (web role)                                  live.Hub and live.Streams Collectors

// Build is what the binary knows of its build, for distribution_build_info.
type Build struct {
	Version string // -ldflags "-X .../internal/cli.version=..." (`distribution version`)
	Commit  string // the VCS revision; "" = the one Go recorded (vcs.revision), else "unknown"
}

// WithBuild sets the build the service reports in distribution_build_info (default: version
// "dev", the commit Go recorded).
func WithBuild(b Build) Option { return func(o *options) { o.build = b } }

// VCSRevision is the commit Go recorded in the binary (vcs.revision, "-dirty" when modified), or "".
func VCSRevision() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" && modified == "true" {
		rev += "-dirty"
	}
	return rev
}

// registerMetrics registers the process-wide on-call collectors: build info, pool statistics,
// River's queue and the channels' circuit breakers.
func (a *App) registerMetrics(b Build) {
	if b.Version == "" {
		b.Version = "dev"
	}
	if b.Commit == "" {
		b.Commit = VCSRevision()
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "distribution_build_info",
		Help:        "The running binary: version (-ldflags), commit and Go version; always 1.",
		ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit, "go_version": runtime.Version()},
	})
	build.Set(1)
	a.Metrics.MustRegister(build,
		pgxPoolCollector{pool: a.Store.Pool, d: newPoolDescs("distribution_db_pool")},
		redisPoolCollector{client: a.Redis, d: newPoolDescs("distribution_redis_pool")},
		engine.NewQueueCollector(a.Store.Pool, a.log),
		breakerCollector{a: a, desc: prometheus.NewDesc("distribution_channel_breaker_state",
			"Circuit breaker state of each channel, shared by the deployment (Redis; this process's own state while Redis fails): 1 for the current state (closed, open, half-open), 0 for the others.",
			[]string{"channel", "state"}, nil)},
	)
}

// registerLiveMetrics registers the web role's live hub and stream collectors.
func (a *App) registerLiveMetrics() {
	a.Metrics.MustRegister(a.Hub.Collectors()...)
	a.Metrics.MustRegister(a.Streams.Collectors()...)
}

// breakerCollector reads the channels' breakers at each scrape: the deployment's state in Redis
// (every replica reports the same), or this process's own while Redis fails.
type breakerCollector struct {
	a    *App
	desc *prometheus.Desc
}

func (c breakerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c breakerCollector) Collect(ch chan<- prometheus.Metric) {
	if c.a.Engine == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, st := range c.a.Engine.BreakerStatuses(ctx) {
		for _, s := range model.BreakerStates {
			v := 0.0
			if s == st.State {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, string(st.Channel), string(s))
		}
	}
}

// poolDescs are the pool families shared by the PostgreSQL and Redis collectors.
type poolDescs struct {
	total, idle, inUse, max                *prometheus.Desc
	acquires, waits, waitSeconds, timeouts *prometheus.Desc
}

func newPoolDescs(prefix string) poolDescs {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(prefix+"_"+name, help, nil, nil) }
	return poolDescs{
		total:       d("connections", "Open connections of the pool."),
		idle:        d("idle_connections", "Idle connections of the pool."),
		inUse:       d("in_use_connections", "Connections in use (acquired)."),
		max:         d("max_connections", "Maximum connections of the pool (0 when the pool does not say)."),
		acquires:    d("acquires_total", "Connections acquired from the pool."),
		waits:       d("waits_total", "Acquires that had to wait for a connection (none idle)."),
		waitSeconds: d("wait_seconds_total", "Time spent waiting for a connection."),
		timeouts:    d("timeouts_total", "Acquires that timed out or were cancelled while waiting."),
	}
}

func (d poolDescs) describe(ch chan<- *prometheus.Desc) {
	for _, x := range []*prometheus.Desc{d.total, d.idle, d.inUse, d.max, d.acquires, d.waits, d.waitSeconds, d.timeouts} {
		ch <- x
	}
}

type poolValues struct {
	total, idle, inUse, max                float64
	acquires, waits, waitSeconds, timeouts float64
}

func (d poolDescs) collect(ch chan<- prometheus.Metric, v poolValues) {
	g := func(desc *prometheus.Desc, x float64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, x)
	}
	c := func(desc *prometheus.Desc, x float64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, x)
	}
	g(d.total, v.total)
	g(d.idle, v.idle)
	g(d.inUse, v.inUse)
	g(d.max, v.max)
	c(d.acquires, v.acquires)
	c(d.waits, v.waits)
	c(d.waitSeconds, v.waitSeconds)
	c(d.timeouts, v.timeouts)
}

// pgxPoolCollector exports pgxpool's Stat (distribution_db_pool_*).
type pgxPoolCollector struct {
	pool *pgxpool.Pool
	d    poolDescs
}

func (c pgxPoolCollector) Describe(ch chan<- *prometheus.Desc) { c.d.describe(ch) }

func (c pgxPoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	c.d.collect(ch, poolValues{
		total: float64(s.TotalConns()), idle: float64(s.IdleConns()), inUse: float64(s.AcquiredConns()),
		max: float64(s.MaxConns()), acquires: float64(s.AcquireCount()), waits: float64(s.EmptyAcquireCount()),
		waitSeconds: s.EmptyAcquireWaitTime().Seconds(), timeouts: float64(s.CanceledAcquireCount()),
	})
}

// redisPoolCollector exports go-redis's PoolStats (distribution_redis_pool_*), the command pool
// and the pipeline pool together; acquires are hits + misses, in-use is open minus idle.
type redisPoolCollector struct {
	client *redis.Client
	d      poolDescs
}

func (c redisPoolCollector) Describe(ch chan<- *prometheus.Desc) { c.d.describe(ch) }

func (c redisPoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.client.PoolStats()
	v := poolValues{max: float64(c.client.Options().PoolSize)}
	add := func(total, idle, hits, misses, waits, timeouts uint32, waitNs int64) {
		v.total += float64(total)
		v.idle += float64(idle)
		v.inUse += float64(max(int64(total)-int64(idle), 0))
		v.acquires += float64(hits) + float64(misses)
		v.waits += float64(waits)
		v.waitSeconds += float64(waitNs) / 1e9
		v.timeouts += float64(timeouts)
	}
	add(s.TotalConns, s.IdleConns, s.Hits, s.Misses, s.WaitCount, s.Timeouts, s.WaitDurationNs)
	// Pipelines (the cache's writes) may have a pool of their own: one client, one set of series.
	if p := s.PipelineStats; p != nil {
		add(p.TotalConns, p.IdleConns, p.Hits, p.Misses, p.WaitCount, p.Timeouts, p.WaitDurationNs)
	}
	c.d.collect(ch, v)
}
