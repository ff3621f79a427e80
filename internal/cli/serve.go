package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/marketing-platform/distribution/internal/alerts"
	"github.com/marketing-platform/distribution/internal/auth"
	"github.com/marketing-platform/distribution/internal/cache"
	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/engine"
	"github.com/marketing-platform/distribution/handlers"
	"github.com/marketing-platform/distribution/internal/live"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
	"github.com/marketing-platform/distribution/static"
	"github.com/marketing-platform/distribution/web"
)

// statusReader reads a distribution through Redis with Postgres as the fallback and refill source.
type statusReader struct {
	cache *cache.Cache
	store *db.DB
}

func (r statusReader) Distribution(ctx context.Context, eventID string) (model.Distribution, error) {
	return r.cache.Distribution(ctx, eventID, r.store)
}

// serve runs the web server, the workers and the embedded simulator (per ROLE) until ctx ends,
// then stops them in order: HTTP, live hub, workers, pools.
func serve(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()

	redis.SetLogger(redisLog{logger})
	rdb, err := cache.NewClient(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	defer rdb.Close()
	c := cache.New(rdb, logger)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	adapters, closeAdapters, err := channelAdapters(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer closeAdapters()

	var notifier *alerts.Notifier
	if cfg.WebhookURL != "" {
		notifier, err = alerts.New(alerts.Config{WebhookURL: cfg.WebhookURL, PublicURL: cfg.PublicURL, Events: store, Logger: logger})
		if err != nil {
			return err
		}
	}

	workers := 0
	if cfg.Runs(config.RoleWorker) {
		workers = cfg.Workers
	}
	eng, err := engine.New(engine.Config{
		MaxAttempts:    cfg.MaxAttempts,
		RetryBaseDelay: cfg.RetryBaseDelay,
		RetryMaxDelay:  cfg.RetryMaxDelay,
		Workers:        workers,
		JobTimeout:     cfg.JobTimeout,
		RescueAfter:    cfg.RescueAfter,
		Alerts:         notifier,
	}, store, adapters, c, logger, reg)
	if err != nil {
		return err
	}

	g, gctx := errgroup.WithContext(ctx)
	if err := eng.Start(gctx); err != nil {
		return fmt.Errorf("start engine: %w", err)
	}

	if cfg.DebugAddr != "" {
		g.Go(func() error { return web.ServeDebug(gctx, cfg.DebugAddr, logger) })
	}
	authSvc := auth.NewService(store, auth.Config{AuditRetention: cfg.AuditRetention}, logger)
	g.Go(func() error { return pruneLoop(gctx, authSvc, logger) })

	var (
		hub     *live.Hub
		streams *live.Streams
	)
	if cfg.Runs(config.RoleWeb) {
		// No coalescing window in the hub: the detail feeds already throttle their renders, and a
		// window there only adds its length to every update (bench: 10 ms on each change).
		hub = live.NewHub(rdb, live.Options{Patterns: c.KeyspacePatterns(), EventIDOf: cache.EventIDOf, Coalesce: -1}, logger)
		if err := hub.Start(gctx); err != nil {
			return fmt.Errorf("start live hub: %w", err)
		}
		// Open live subscriptions (one per SSE stream): with go_goroutines, what shows that
		// vanished clients are cleaned up (RELIABILITY.md S2).
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "distribution_live_subscribers",
			Help: "Open live-update subscriptions (SSE streams) of this process.",
		}, func() float64 { return float64(hub.Stats().Subscribers) }))
		// The live streams and their feeds: started with the hub, stopped after HTTP.
		streams = live.NewStreams(live.Config{
			Hub: hub, Store: store, Status: statusReader{c, store}, Auth: authSvc,
			MaxStreamsPerUser: cfg.MaxStreamsPerUser, Logger: logger,
		})
		if err := streams.Start(gctx); err != nil {
			return fmt.Errorf("start live streams: %w", err)
		}
		h := handlers.New(handlers.Deps{
			Auth: authSvc, DB: store, Redis: c,
			Store: store, Engine: eng, Status: statusReader{c, store}, Live: streams,
			Reports: store, Accounts: authSvc, Announce: c,
			SecureCookies: cfg.SecureCookies, SessionMaxAge: authSvc.Config().AbsoluteTimeout,
			Logger: logger,
		})
		// Role changes, disables and logouts reach this process's open streams at once.
		g.Go(func() error { return streams.WatchPrincipalChanges(gctx, store) })
		srv := web.New(web.Config{
			Addr: cfg.Addr, SecureCookies: cfg.SecureCookies, TrustedProxies: cfg.TrustedProxies,
			Static: static.Handler(), Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), Logger: logger,
		}, authSvc, h)
		if err := srv.InstrumentHTTP(reg); err != nil {
			return fmt.Errorf("register HTTP metrics: %w", err)
		}
		g.Go(func() error { return srv.Start(gctx) })
		logger.Info("dashboard", slog.String("url", "http://"+cfg.Addr+"/"))
	}

	err = g.Wait()
	// HTTP has stopped (srv.Start returns after a graceful shutdown); now the streams' feeds, the
	// hub, then the workers.
	if streams != nil {
		streams.Stop()
	}
	if hub != nil {
		hub.Stop()
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if serr := eng.Stop(stopCtx); serr != nil {
		logger.Error("stop engine", slog.Any("error", serr))
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func openStore(ctx context.Context, cfg config.Config, logger *slog.Logger) (*db.DB, error) {
	store, err := db.Open(ctx, cfg.DatabaseURL, logger)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}

// channelAdapters returns the adapters of CHANNELS_CONFIG, or starts the embedded simulator on a
// loopback port and returns adapters pointed at it.
func channelAdapters(ctx context.Context, cfg config.Config, logger *slog.Logger) (func(model.Channel) channels.Adapter, func(), error) {
	// The adapter gives up on a publication a little before the job's own timeout, so the channel
	// records the adapter's clear "did not answer in time" error rather than a cancelled job.
	opts := channels.Options{Logger: logger, MaxPublishTime: cfg.JobTimeout * 9 / 10}
	if cfg.ChannelsConfig != "" {
		reg, err := channels.NewRegistryFromConfig(cfg.ChannelsConfig, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("CHANNELS_CONFIG: %w", err)
		}
		return reg.Adapter, reg.Close, nil
	}
	rules, err := simulator.ParseFail(cfg.SimulatorFail)
	if err != nil {
		return nil, nil, err
	}
	sim := simulator.New(simulator.Config{Step: cfg.SimulatorStep, Fail: rules, Logger: logger})
	base, stop, err := sim.StartLocal(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("start embedded simulator: %w", err)
	}
	logger.Info("embedded channel simulator", slog.String("url", base), slog.String("fail", cfg.SimulatorFail))
	reg := channels.NewSimulatorRegistry(base, opts)
	return reg.Adapter, func() { reg.Close(); stop() }, nil
}

// pruneLoop deletes expired sessions, stale throttle rows and audit entries older than
// AUDIT_RETENTION hourly.
func pruneLoop(ctx context.Context, svc *auth.Service, logger *slog.Logger) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if err := svc.Prune(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("prune sessions", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func migrate(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	store.Close()
	logger.Info("migrations applied", slog.String("database", db.DatabaseName(cfg.DatabaseURL)))
	return nil
}

func runSimulator(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	rules, err := simulator.ParseFail(cfg.SimulatorFail)
	if err != nil {
		return err
	}
	logger.Info("channel simulator", slog.String("addr", cfg.SimulatorAddr))
	return simulator.Run(ctx, cfg.SimulatorAddr, simulator.Config{Step: cfg.SimulatorStep, Fail: rules, Logger: logger})
}

// redisLog routes go-redis's own log lines (dial failures during an outage) into slog.
type redisLog struct{ logger *slog.Logger }

func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	l.logger.Debug(fmt.Sprintf(format, v...), slog.String("component", "go-redis"))
}
