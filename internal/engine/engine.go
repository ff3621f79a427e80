// Package engine runs distributions: it starts them and retries channels (the transactions live in
// db), and its River workers publish one channel per job through the channel adapters, with
// automatic retries (exponential backoff, jitter), Retry-After snoozes that do not burn an
// attempt, an idempotency key per attempt generation, a fenced write of every status change, the
// overall rollup under the parent's lock, and a reconciler that re-drives or fails work nobody
// will finish. It changes the UI only by writing Postgres, then Redis.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/marketing-platform/distribution/internal/quiethours"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/alerts"
	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/model"
)

// QueueChannels is the River queue of publish jobs.
const QueueChannels = "channels"

// FetchCooldown is the least time between two fetches of channel jobs. River's default (100 ms)
// caps a worker process at Workers jobs per 100 ms (200 jobs/s), however short the jobs: make
// bench drained 6,000 zero-latency jobs at exactly that rate, product and raw River alike. While
// jobs keep coming a fetch is one indexed query per cooldown; an idle queue costs nothing more.
const FetchCooldown = 10 * time.Millisecond

// DefaultWorkers is the number of concurrent publish jobs per process (the work is I/O bound).
const DefaultWorkers = 20

// Cache is what the engine writes after each commit so live views update (*cache.Cache in
// production). Failures are logged and never fail a job or an action: Postgres is the source of
// truth, and the cache heals itself from it.
type Cache interface {
	// PutChannel writes one channel's live state.
	PutChannel(ctx context.Context, c model.ChannelState) error
	// PutOverall writes the distribution's overall state only.
	PutOverall(ctx context.Context, d model.Distribution) error
	// PutDistribution writes the overall state and every channel of d.
	PutDistribution(ctx context.Context, d model.Distribution) error
}

// Config tunes the engine. Zero values take the defaults noted on each field, except Workers.
type Config struct {
	MaxAttempts    int           // automatic attempts per channel and generation; default 3
	RetryBaseDelay time.Duration // first retry delay; default 2s, doubles per attempt ±20 %
	RetryMaxDelay  time.Duration // cap of a retry delay; default 5m
	// Workers is the number of concurrent publish jobs. 0 makes an insert-only engine (ROLE=web):
	// it can start and retry distributions but runs no jobs and no reconciler.
	Workers int

	JobTimeout    time.Duration // one attempt, adapter polling included; default 2m
	RescueAfter   time.Duration // River re-runs a job still "running" after this; default JobTimeout+1m
	ShutdownGrace time.Duration // Stop lets running jobs finish this long, then cancels them (they are re-queued); default 10s
	SnoozeCap     time.Duration // longest honoured Retry-After; default 10m
	MaxSnoozes    int           // rate-limit snoozes of one job before a 429 counts as a failed attempt; default 100

	ReconcileInterval time.Duration // default 30s
	StuckAfter        time.Duration // a non-terminal channel with no live job untouched this long is stuck; default 1m
	MaxLost           int           // lost attempts (since the last manual retry) before FAILED "worker lost"; default 2

	// LivenessInterval is how often a worker process checks its own liveness lease and re-runs
	// the running jobs of dead worker processes (liveness.go); default 2s.
	LivenessInterval time.Duration
	// LivenessGrace is how long a worker's lease must have been seen gone before its jobs are
	// re-run (a live process whose connection dropped takes it back meanwhile); default
	// LivenessInterval/2.
	LivenessGrace time.Duration

	BulkRetryLimit int // channels per RetryMatching call; default 1000
	BulkRetryBatch int // channels per transaction in RetryMatching; default 100

	// ScheduleInterval is the longest wait between two due-schedule claims of a worker engine
	// (it wakes sooner for a schedule it knows of); default 1s.
	ScheduleInterval time.Duration

	// UpkeepInterval is how often a worker engine runs the token upkeep and the views
	// measurement (upkeep.go); each account and post is handled once per interval across every
	// replica; default 5m.
	UpkeepInterval time.Duration

	// FetchPollInterval is River's fallback poll (jobs normally arrive by LISTEN/NOTIFY); default 1s.
	FetchPollInterval time.Duration

	Now  func() time.Time // retry policy and quiet hours clock; default time.Now
	Rand func() float64   // retry jitter in [0,1); default math/rand/v2
	// MaintenanceStartAtOnce starts River's maintenance services (job rescuer, cleaners,
	// scheduler) at once instead of after a random stagger. The stagger spreads the work of many
	// replicas that start together; short-lived processes (tests, the bench) start and stop faster
	// without it. Default false: staggered.
	MaintenanceStartAtOnce bool
	// KakaoQuietHours is KakaoTalk's advertising quiet hours (quiet.go): a KAKAO job due inside
	// the window waits, without an attempt, until it ends. The zero value is off.
	KakaoQuietHours quiethours.Window
	// Alerts, when set, enqueues a failure alert after every finish that fails a channel or the
	// distribution (alerts.go) and runs their delivery on worker engines. nil = no alerts.
	Alerts *alerts.Notifier
}

// WithDefaults returns c with zero fields replaced by defaults.
func (c Config) WithDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 3
	}
	def(&c.RetryBaseDelay, 2*time.Second)
	def(&c.RetryMaxDelay, 5*time.Minute)
	def(&c.JobTimeout, 2*time.Minute)
	def(&c.RescueAfter, c.JobTimeout+time.Minute)
	def(&c.ShutdownGrace, 10*time.Second)
	def(&c.SnoozeCap, 10*time.Minute)
	def(&c.ReconcileInterval, 30*time.Second)
	def(&c.ScheduleInterval, time.Second)
	def(&c.UpkeepInterval, 5*time.Minute)
	def(&c.StuckAfter, time.Minute)
	def(&c.FetchPollInterval, time.Second)
	def(&c.LivenessInterval, 2*time.Second)
	def(&c.LivenessGrace, c.LivenessInterval/2)
	if c.MaxSnoozes <= 0 {
		c.MaxSnoozes = 100
	}
	if c.MaxLost <= 0 {
		c.MaxLost = 2
	}
	if c.BulkRetryLimit <= 0 {
		c.BulkRetryLimit = 1000
	}
	if c.BulkRetryBatch <= 0 {
		c.BulkRetryBatch = 100
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Workers < 0:
		return fmt.Errorf("engine: Workers must not be negative, got %d", c.Workers)
	case c.RetryMaxDelay < c.RetryBaseDelay:
		return fmt.Errorf("engine: RetryMaxDelay (%s) must be at least RetryBaseDelay (%s)", c.RetryMaxDelay, c.RetryBaseDelay)
	case c.RescueAfter < c.JobTimeout:
		return fmt.Errorf("engine: RescueAfter (%s) must be at least JobTimeout (%s)", c.RescueAfter, c.JobTimeout)
	}
	return nil
}

// Engine starts, runs and retries distributions.
type Engine struct {
	cfg      Config
	store    *db.DB
	adapters func(model.Channel) channels.Adapter
	cache    Cache
	log      *slog.Logger
	metrics  *metrics
	river    *river.Client[pgx.Tx]
	policy   *RetryPolicy
	breaker  *Breaker  // nil = no breaker
	sealer   db.Sealer // opens store account credentials (accounts.go); nil = none

	starts     *startBatcher
	mu         sync.Mutex
	started    bool
	reconciler *Reconciler
	scheduler  *scheduler
	upkeep     *upkeep
	liveness   *liveness  // nil for an insert-only engine
	quota      quotaCache // publishing quotas read by the pre-flight check (preflight.go)
}

// Options are the engine's optional collaborators; the zero value is a valid engine without
// channels, cache or metrics.
type Options struct {
	// Adapters returns the adapter of a channel; nil (or a nil adapter) = not configured: the
	// channel fails at once.
	Adapters func(model.Channel) channels.Adapter
	// Cache receives the status writes after each commit; nil = Postgres only.
	Cache Cache
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics registers the engine's metrics; nil = not registered.
	Metrics prometheus.Registerer
	// Middleware is River's job middleware (otelriver: the trace context travels in the job's
	// metadata, so the job's span joins the trace that inserted it).
	Middleware []rivertype.Middleware
	// Breaker is the channels' circuit breaker (NewBreaker); nil = none.
	Breaker *Breaker
	// Sealer decrypts the store accounts' credentials for the protocols that publish as a store
	// (accounts.go); nil = such channels fail, saying no key is configured.
	Sealer db.Sealer
}

// New builds an engine on store. With cfg.Workers == 0 the engine is insert-only.
func New(cfg Config, store *db.DB, opts Options) (*Engine, error) {
	adapters, cache, logger, reg := opts.Adapters, opts.Cache, opts.Logger, opts.Metrics
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, errors.New("engine: store is required")
	}
	if logger == nil {
		logger = slog.Default()
	}
	if adapters == nil {
		adapters = func(model.Channel) channels.Adapter { return nil }
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:      cfg,
		store:    store,
		adapters: adapters,
		cache:    cache,
		log:      logger.With(slog.String("component", "engine")),
		metrics:  m,
		breaker:  opts.Breaker,
		sealer:   opts.Sealer,
		policy:   &RetryPolicy{Base: cfg.RetryBaseDelay, Max: cfg.RetryMaxDelay, Now: cfg.Now, Rand: cfg.Rand},
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &publishWorker{e: e}); err != nil {
		return nil, fmt.Errorf("engine: register worker: %w", err)
	}
	rc := &river.Config{
		Logger:               logger.With(slog.String("component", "river")),
		MaxAttempts:          cfg.MaxAttempts,
		RetryPolicy:          e.policy,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		SoftStopTimeout:      cfg.ShutdownGrace,
		FetchPollInterval:    cfg.FetchPollInterval,
		FetchCooldown:        min(FetchCooldown, cfg.FetchPollInterval),
		Workers:              workers,
		Middleware:           opts.Middleware,
		TestOnly:             cfg.MaintenanceStartAtOnce, // River's TestOnly only disables the stagger
	}
	if cfg.Workers > 0 {
		rc.Queues = map[string]river.QueueConfig{QueueChannels: {MaxWorkers: cfg.Workers}}
		// A fresh client id per process start: river_job.attempted_by names it, and the
		// liveness lease registered under it tells other processes when this one died.
		e.liveness = &liveness{e: e, id: newWorkerID(), interval: cfg.LivenessInterval, grace: cfg.LivenessGrace}
		rc.ID = e.liveness.id
	}
	if err := e.setupAlerts(workers, rc); err != nil {
		return nil, err
	}
	// River's client holds sessions (LISTEN for new jobs and leadership): the direct pool when
	// DATABASE_URL goes through a transaction pooler. Jobs inserted in a store transaction use
	// that transaction's connection (the main pool).
	e.river, err = river.NewClient(riverpgxv5.New(store.Session), rc)
	if err != nil {
		return nil, fmt.Errorf("engine: river client: %w", err)
	}
	e.reconciler = &Reconciler{e: e, interval: cfg.ReconcileInterval}
	e.scheduler = &scheduler{e: e, interval: cfg.ScheduleInterval}
	e.upkeep = &upkeep{e: e, interval: cfg.UpkeepInterval}
	e.starts = &startBatcher{store: store, enqueue: e.enqueue, leaders: startLeaders}
	return e, nil
}

// Start runs the workers and the reconciler until Stop. An insert-only engine has nothing to start.
// Cancelling ctx does not stop the workers (call Stop, so shutdown happens in order).
func (e *Engine) Start(ctx context.Context) error {
	if e.cfg.Workers == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return nil
	}
	// The lease first: no job runs under this worker id before other processes can tell
	// whether the process is alive.
	if err := e.liveness.start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("engine: worker liveness: %w", err)
	}
	if err := e.river.Start(context.WithoutCancel(ctx)); err != nil {
		e.liveness.stopLoop()
		e.liveness.release()
		return fmt.Errorf("engine: start river: %w", err)
	}
	e.reconciler.Start(context.WithoutCancel(ctx))
	e.scheduler.Start(context.WithoutCancel(ctx))
	e.upkeep.Start(context.WithoutCancel(ctx))
	e.started = true
	e.log.Info("engine started", slog.Int("workers", e.cfg.Workers), slog.Int("max_attempts", e.cfg.MaxAttempts),
		slog.String("worker_id", e.liveness.id))
	return nil
}

// Stop stops fetching jobs and waits for running ones: they get ShutdownGrace to finish, then
// their contexts are cancelled and they are re-queued without burning an attempt. If ctx ends
// first, the remaining jobs are cancelled at once (StopAndCancel).
func (e *Engine) Stop(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.started {
		return nil
	}
	e.started = false
	e.scheduler.Stop()
	e.upkeep.Stop()
	e.reconciler.Stop()
	e.liveness.stopLoop()
	defer e.liveness.release() // after River: a job still running keeps the row, and is rescued
	err := e.river.Stop(ctx)
	if err != nil {
		e.log.Warn("graceful stop timed out; cancelling running jobs", slog.String("error", err.Error()))
		hard, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.river.StopAndCancel(hard); err != nil {
			return fmt.Errorf("engine: stop: %w", err)
		}
	}
	e.log.Info("engine stopped")
	return nil
}

// River returns the River client (for tests and admin tooling).
func (e *Engine) River() *river.Client[pgx.Tx] { return e.river }

// Policy returns the retry policy in use.
func (e *Engine) Policy() *RetryPolicy { return e.policy }

// cacheCtx bounds a cache write and detaches it from a request or job that may be ending.
func cacheCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
}

// cacheChannel writes one channel's state to the cache; failures are logged only.
func (e *Engine) cacheChannel(ctx context.Context, c model.ChannelState) {
	if e.cache == nil {
		return
	}
	ctx, cancel := cacheCtx(ctx)
	defer cancel()
	if err := e.cache.PutChannel(ctx, c); err != nil {
		e.cacheFailed(c.EventID, err)
	}
}

// cacheDistribution writes the whole distribution (after start and retries).
func (e *Engine) cacheDistribution(ctx context.Context, d model.Distribution) {
	if e.cache == nil {
		return
	}
	ctx, cancel := cacheCtx(ctx)
	defer cancel()
	if err := e.cache.PutDistribution(ctx, d); err != nil {
		e.cacheFailed(d.EventID, err)
	}
}

// cacheOverall writes the overall state only (after a channel finished). Writing only what this
// transaction changed keeps concurrent jobs from overwriting each other's newer channel states.
func (e *Engine) cacheOverall(ctx context.Context, d model.Distribution) {
	if e.cache == nil {
		return
	}
	ctx, cancel := cacheCtx(ctx)
	defer cancel()
	if err := e.cache.PutOverall(ctx, d); err != nil {
		e.cacheFailed(d.EventID, err)
	}
}

func (e *Engine) cacheFailed(eventID string, err error) {
	e.metrics.cacheErrors.Inc()
	e.log.Warn("cache write failed", slog.String("event_id", eventID), slog.String("error", err.Error()))
}

// noteRollup counts an overall status transition.
func (e *Engine) noteRollup(prev model.OverallStatus, d model.Distribution) {
	if d.OverallStatus != "" && prev != d.OverallStatus {
		e.metrics.rollups.WithLabelValues(string(prev), string(d.OverallStatus)).Inc()
		e.log.Info("distribution status changed", slog.String("event_id", d.EventID),
			slog.String("from", string(prev)), slog.String("to", string(d.OverallStatus)))
	}
}
