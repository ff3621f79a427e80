package engine

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/model"
)

// Channel error kinds, the label values of distribution_channel_errors_total{kind};
// needs-reconnect is an expired or revoked channel credential (channels.NeedsReconnect).
const (
	ErrorKindTemporary      = "temporary"
	ErrorKindPermanent      = "permanent"
	ErrorKindRateLimited    = "rate-limited"
	ErrorKindNeedsReconnect = "needs-reconnect"
)

var errorKindLabels = []string{ErrorKindTemporary, ErrorKindPermanent, ErrorKindRateLimited, ErrorKindNeedsReconnect}

func errorKindLabel(k channels.ErrorKind) string {
	switch k {
	case channels.Permanent:
		return ErrorKindPermanent
	case channels.RateLimited:
		return ErrorKindRateLimited
	case channels.NeedsReconnect:
		return ErrorKindNeedsReconnect
	default:
		return ErrorKindTemporary
	}
}

// newErrorKinds is distribution_channel_errors_total{channel,kind}, every series present at zero.
func newErrorKinds() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "distribution_channel_errors_total",
		Help: "Failed publish attempts by channel and error kind (temporary, permanent, rate-limited, needs-reconnect).",
	}, []string{"channel", "kind"})
	for _, ch := range model.AllChannels {
		for _, k := range errorKindLabels {
			c.WithLabelValues(string(ch), k)
		}
	}
	return c
}

// QueueScrapeTimeout bounds the queue collector's query on each scrape.
const QueueScrapeTimeout = 2 * time.Second

// riverStates are the job states the queue collector reports: the ones a job waits or runs in.
// The finalized states (completed, cancelled, discarded) are left out: their rows pile up until
// River's cleaner deletes them, and counting them on every scrape is not cheap.
var riverStates = []string{"available", "pending", "retryable", "running", "scheduled"}

// queueCollector reports River's queue depth and the age of the oldest job by queue and state,
// from one grouped query on river_job per scrape (its state/queue index), bounded by
// QueueScrapeTimeout. A failed query leaves the depth series out and sets
// distribution_river_queue_up to 0; it never fails the scrape.
type queueCollector struct {
	pool   *pgxpool.Pool
	log    *slog.Logger
	depth  *prometheus.Desc
	age    *prometheus.Desc
	up     *prometheus.Desc
	queues []string // always reported, at zero when empty
}

// NewQueueCollector is the River queue collector over pool (the pool River uses):
//
//	distribution_river_jobs{queue,state}                 jobs in the state
//	distribution_river_oldest_job_age_seconds{queue,state} age of the oldest: since it became due
//	                                                     (available), started (running) or was created (others)
//	distribution_river_queue_up                          1 when the last query succeeded
//
// Every process reports the same shared queue: aggregate with max() across instances.
func NewQueueCollector(pool *pgxpool.Pool, logger *slog.Logger) prometheus.Collector {
	if logger == nil {
		logger = slog.Default()
	}
	return &queueCollector{
		pool: pool, log: logger, queues: []string{QueueChannels},
		depth: prometheus.NewDesc("distribution_river_jobs",
			"River jobs by queue and state (available, pending, retryable, running, scheduled).", []string{"queue", "state"}, nil),
		age: prometheus.NewDesc("distribution_river_oldest_job_age_seconds",
			"Age of the oldest River job by queue and state: wait since due (available), run time (running), since created (others).",
			[]string{"queue", "state"}, nil),
		up: prometheus.NewDesc("distribution_river_queue_up",
			"1 when the last River queue query succeeded, 0 when it failed or timed out.", nil, nil),
	}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.age
	ch <- c.up
}

type queueState struct{ queue, state string }

const queueStatsSQL = `
SELECT queue, state::text, count(*),
       COALESCE(EXTRACT(EPOCH FROM now() - min(CASE state
           WHEN 'available' THEN scheduled_at
           WHEN 'running' THEN attempted_at
           ELSE created_at END)), 0)::float8
FROM river_job
WHERE state IN ('available', 'pending', 'retryable', 'running', 'scheduled') -- riverStates
GROUP BY queue, state`

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), QueueScrapeTimeout)
	defer cancel()
	type stat struct {
		n   int64
		age float64
	}
	stats := map[queueState]stat{}
	err := func() error {
		rows, err := c.pool.Query(ctx, queueStatsSQL)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k queueState
			var s stat
			if err := rows.Scan(&k.queue, &k.state, &s.n, &s.age); err != nil {
				return err
			}
			stats[k] = s
		}
		return rows.Err()
	}()
	if err != nil {
		c.log.Warn("metrics: river queue query failed", slog.String("error", err.Error()))
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	for _, q := range c.queues {
		for _, st := range riverStates {
			if _, ok := stats[queueState{q, st}]; !ok {
				stats[queueState{q, st}] = stat{}
			}
		}
	}
	for k, s := range stats {
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(s.n), k.queue, k.state)
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, max(s.age, 0), k.queue, k.state)
	}
}
