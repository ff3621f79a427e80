// Package app builds the whole service from a config.Config and starts and stops its parts in
// order. It is the only package that knows every concrete type: serve, the end-to-end and handler
// tests and the bench all build the service here, so they run what production runs; a test that
// needs other timings sets them in the Config.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	prommodel "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/handlers"
	"github.com/marketing-platform/distribution/internal/alerts"
	"github.com/marketing-platform/distribution/internal/auth"
	"github.com/marketing-platform/distribution/internal/cache"
	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/engine"
	"github.com/marketing-platform/distribution/internal/live"
	"github.com/marketing-platform/distribution/internal/logctx"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/secrets"
	"github.com/marketing-platform/distribution/internal/simulator"
	"github.com/marketing-platform/distribution/static"
	"github.com/marketing-platform/distribution/web"
)

// Option sets an optional collaborator of New.
type Option func(*options)

type options struct {
	logger    *slog.Logger
	listener  net.Listener
	wrapStore func(handlers.Store) handlers.Store
	adapters  func(model.Channel) channels.Adapter
	build     Build
	// tracerProvider traces every part instead of what OTEL_EXPORTER_OTLP_ENDPOINT asks for.
	tracerProvider trace.TracerProvider
}

// WithLogger sets the logger of every part (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithListener serves HTTP on ln, already bound, instead of listening on cfg.Addr (a socket
// handed over by a supervisor, or a test's ephemeral port). The App closes it.
func WithListener(ln net.Listener) Option { return func(o *options) { o.listener = ln } }

// WithEventStoreWrapper wraps the store the handlers read and write events through, to observe
// it (a test counts the list reads that feeds share); the wrapper must pass every call on.
func WithEventStoreWrapper(wrap func(handlers.Store) handlers.Store) Option {
	return func(o *options) { o.wrapStore = wrap }
}

// WithChannelAdapters sends every publication to adapters instead of the channels of
// CHANNELS_CONFIG or the embedded simulator (which is then not built); a nil adapter fails the
// channel at once, as an unconfigured channel does.
func WithChannelAdapters(adapters func(model.Channel) channels.Adapter) Option {
	return func(o *options) { o.adapters = adapters }
}

// App is the service: everything ROLE asks this process to run. The exported fields are its
// parts, for the commands and tests that drive them; parts a role does not run are nil.
type App struct {
	Config   config.Config
	Store    *db.DB
	Redis    *redis.Client
	Cache    *cache.Cache
	Engine   *engine.Engine // insert-only unless the role runs workers
	Auth     *auth.Service
	Metrics  *prometheus.Registry
	Hub      *live.Hub          // web role only
	Streams  *live.Streams      // web role only: the live streams and their feeds
	Handlers *handlers.Handlers // web role only
	// Simulator is the embedded channel simulator (nil with CHANNELS_CONFIG or WithChannelAdapters);
	// it listens after Start.
	Simulator *simulator.Server
	// simShared is what the embedded simulator and the adapters share (embedded.go).
	simShared channels.EmbeddedSimulator

	log      *slog.Logger
	listener net.Listener
	channels *channels.Registry // set in New (CHANNELS_CONFIG) or Start (embedded simulator)
	stopSim  func()

	tracer         trace.TracerProvider            // nil = tracing off
	shutdownTracer func(ctx context.Context) error // flushes the OTLP exporter (Stop)

	errc     chan error // the first failure of a running part
	bgCancel context.CancelFunc
	bg       sync.WaitGroup

	probes   *handlers.Probes // /healthz and /readyz of both listeners
	draining atomic.Bool      // set by Stop: /readyz answers 503 from then on
	ready    atomic.Bool      // set when Start has started every part: /readyz answers 503 "starting" until then

	opsAddr   string
	opsCancel context.CancelFunc
	opsDone   chan struct{}

	mu       sync.Mutex
	addr     string
	web      *webRun
	httpRegs prometheus.Gatherer // the current web server's request metrics
	started  bool
}

type webRun struct {
	srv    *web.Server
	cancel context.CancelFunc
	done   chan error
}

// New builds the service described by cfg (validated here) without starting anything: it opens the
// PostgreSQL pool and the Redis client and builds the engine, auth service and, for the web role,
// the live hub and handlers. Close what it opened with Stop.
func New(cfg config.Config, opts ...Option) (*App, error) {
	o := options{logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// Log lines logged with a request's context carry its request_id and trace_id.
	a := &App{Config: cfg, log: logctx.Wrap(o.logger), listener: o.listener, errc: make(chan error, 1), addr: cfg.Addr}
	if err := a.setupTracing(o.tracerProvider); err != nil {
		return nil, err
	}
	if err := a.build(o); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

func (a *App) build(o options) error {
	cfg, logger := a.Config, a.log
	var err error
	if a.Store, err = db.OpenWithDirect(context.Background(), cfg.DatabaseURL, cfg.DatabaseDirectURL, logger, a.pgxTracer()); err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	mode := cache.WithNotificationsMode(cache.NotificationsMode(cfg.RedisNotifications))
	if a.Redis, err = cache.NewClient(cfg.RedisURL, mode); err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	if err := a.instrumentRedis(); err != nil {
		return fmt.Errorf("REDIS_URL: tracing: %w", err)
	}
	a.Cache = cache.New(a.Redis, logger, mode)
	a.Metrics = prometheus.NewRegistry()
	a.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	adapters := func(ch model.Channel) channels.Adapter {
		// The embedded simulator's registry exists once Start has it listening, before the workers run.
		if a.channels == nil {
			return nil
		}
		return a.channels.Adapter(ch)
	}
	switch {
	case o.adapters != nil:
		adapters = o.adapters
	case cfg.ChannelsConfig != "":
		if a.channels, err = channels.NewRegistryFromConfig(cfg.ChannelsConfig, a.channelOptions()); err != nil {
			return fmt.Errorf("CHANNELS_CONFIG: %w", err)
		}
		if a.channels.NeedsAccounts() {
			// A protocol publishing as the stores' accounts: their credentials need a real key.
			if err := cfg.RequireSecretsKey(); err != nil {
				return err
			}
		}
	default:
		rules, err := simulator.ParseFail(cfg.SimulatorFail)
		if err != nil {
			return err
		}
		a.Simulator, a.simShared = newEmbeddedSimulator(cfg, rules, logger) // embedded.go
	}

	var notifier *alerts.Notifier
	if cfg.WebhookURL != "" {
		if notifier, err = alerts.New(alerts.Config{WebhookURL: cfg.WebhookURL, PublicURL: cfg.PublicURL, Events: a.Store, Logger: logger}); err != nil {
			return err
		}
	}
	workers := 0
	if cfg.Runs(config.RoleWorker) {
		workers = cfg.Workers
	}
	a.Engine, err = engine.New(engine.Config{
		MaxAttempts:            cfg.MaxAttempts,
		RetryBaseDelay:         cfg.RetryBaseDelay,
		RetryMaxDelay:          cfg.RetryMaxDelay,
		Workers:                workers,
		JobTimeout:             cfg.JobTimeout,
		RescueAfter:            cfg.RescueAfter,
		LivenessInterval:       cfg.WorkerLivenessInterval,
		FetchPollInterval:      cfg.JobFetchPollInterval,
		MaintenanceStartAtOnce: cfg.MaintenanceStartAtOnce,
		Alerts:                 notifier,
		KakaoQuietHours:        cfg.KakaoQuietHours,
	}, a.Store, engine.Options{
		Adapters: adapters, Cache: a.Cache, Logger: logger, Metrics: a.Metrics, Middleware: a.riverMiddleware(),
		Breaker: a.breaker(), Sealer: credentialSealer(cfg),
	})
	if err != nil {
		return err
	}
	a.registerMetrics(o.build) // metrics.go

	authCfg := auth.Config{AuditRetention: cfg.AuditRetention}
	if cfg.PasswordHashMemoryKiB != 0 {
		authCfg.Argon2 = auth.DefaultArgon2
		authCfg.Argon2.Memory, authCfg.Argon2.Time = cfg.PasswordHashMemoryKiB, cfg.PasswordHashTime
	}
	a.Auth = auth.NewService(a.Store, authCfg, logger)
	a.probes = handlers.NewProbes(handlers.ProbeDeps{
		DB: a.Store, Migrations: a.Store, Redis: a.Cache, Draining: a.draining.Load, Started: a.ready.Load, Logger: logger,
		Channels: a.channelsMode(),
	})

	if !cfg.Runs(config.RoleWeb) {
		return nil
	}
	// No coalescing window in the hub: the detail feeds already throttle their renders, and a
	// window there only adds its length to every update (bench: 10 ms on each change).
	a.Hub = live.NewHub(a.Redis, live.Options{Patterns: a.Cache.KeyspacePatterns(), EventIDOf: cache.EventIDOf, Coalesce: -1}, logger)
	// Open live subscriptions (one per SSE stream): with go_goroutines, what shows that
	// vanished clients are cleaned up (RELIABILITY.md S2).
	a.Metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "distribution_live_subscribers",
		Help: "Open live-update subscriptions (SSE streams) of this process.",
	}, func() float64 { return float64(a.Hub.Stats().Subscribers) }))
	var store handlers.Store = a.Store
	if o.wrapStore != nil {
		store = o.wrapStore(store)
	}
	a.Streams = live.NewStreams(live.Config{
		Hub: a.Hub, Store: store, Status: statusReader{a.Cache, a.Store}, Auth: a.Auth,
		MaxStreamsPerUser: cfg.MaxStreamsPerUser, Timing: live.Timing(cfg.StreamTiming), Logger: logger,
	})
	a.registerLiveMetrics() // metrics.go
	a.Handlers = handlers.New(handlers.Deps{
		Auth: a.Auth, DB: a.Store, Redis: a.Cache, Probes: a.probes,
		Store: store, Engine: a.Engine, Status: statusReader{a.Cache, a.Store}, Live: a.Streams,
		Reports: a.Store, Accounts: a.Auth, Announce: a.Cache,
		SecureCookies: cfg.SecureCookies, SessionMaxAge: a.Auth.Config().AbsoluteTimeout,
		DefaultZone: cfg.DefaultTimezone, Zones: a.Store,
		KakaoQuietHours: cfg.KakaoQuietHours,
		Logger:          logger,
		StoreAccounts:   storeAccounts{db: a.Store, sealer: credentialSealer(cfg)}, // stores.go
		OAuth:           oauthConnector{a},
		PublicURL:       cfg.ConfiguredPublicURL(),
	})
	return nil
}

// breaker is the channels' circuit breaker: one state per channel for the deployment in Redis,
// per-process state while Redis fails. A probe holds its slot for as long as its job may run.
func (a *App) breaker() *engine.Breaker {
	cfg := a.Config
	return engine.NewBreaker(model.BreakerRules{
		MinCalls: cfg.ChannelBreakerThreshold, FailurePercent: cfg.BreakerFailurePercent, MinEvents: cfg.BreakerMinEvents,
		Window: cfg.BreakerWindow, Cooldown: cfg.BreakerCooldown, ProbeLease: cfg.JobTimeout + 10*time.Second,
	}, cache.NewBreakers(a.Redis, databaseName(cfg.DatabaseURL)), a.log, nil)
}

// credentialSealer opens the stores' channel credentials for the engine: the configured
// SECRETS_KEY, or the development key with the embedded simulator; nil when neither applies
// (CHANNELS_CONFIG without instagram-graph or naver-cafe and no key: no channel needs one).
func credentialSealer(cfg config.Config) db.Sealer {
	keys, _, err := cfg.SecretsKeysOrDev()
	if err != nil {
		return nil
	}
	ring, err := secrets.New(keys.Current, keys.Previous)
	if err != nil {
		return nil
	}
	return ring
}

// databaseName is the database of a postgres:// URL: the breaker's deployment namespace.
func databaseName(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(u.Path, "/")
}

// channelOptions are the adapters' settings. The adapter gives up on a publication a little
// before the job's own timeout, so the channel records the adapter's clear "did not answer in
// time" error rather than a cancelled job.
func (a *App) channelOptions() channels.Options {
	return channels.Options{
		Logger: a.log, MaxPublishTime: a.Config.JobTimeout * 9 / 10,
		PollInterval:       a.Config.ChannelPollInterval,
		WrapTransport:      a.wrapTransport(),
		InstagramReachRate: a.Config.InstagramReachRate,
	}
}

// statusReader reads a distribution through Redis with Postgres as the fallback and refill source.
type statusReader struct {
	cache *cache.Cache
	store *db.DB
}

func (r statusReader) Distribution(ctx context.Context, eventID string) (model.Distribution, error) {
	return r.cache.Distribution(ctx, eventID, r.store)
}

// channelsMode is what /readyz reports as "channels": where this process publishes.
func (a *App) channelsMode() string {
	switch {
	case a.Simulator != nil:
		return "simulator"
	case a.Config.ChannelsConfig != "":
		return "configured"
	}
	return "custom" // WithChannelAdapters (tests)
}

// Start migrates the database, then starts the embedded simulator, the engine, the hub, the
// principal-change listener and the HTTP server, in that order. The parts run until Stop (ctx
// only bounds the start); a part that fails while running is reported on Err. After a failed
// Start, call Stop to release what did start.
func (a *App) Start(ctx context.Context) error {
	a.mu.Lock()
	if a.started {
		a.mu.Unlock()
		return errors.New("app: already started")
	}
	a.started = true
	a.mu.Unlock()
	if err := a.start(ctx); err != nil {
		return err
	}
	a.ready.Store(true)
	return nil
}

// start starts the parts in order (Start).
func (a *App) start(ctx context.Context) error {
	cfg := a.Config
	if err := a.startOps(); err != nil {
		return err
	}
	if err := a.migrate(ctx); err != nil {
		return err
	}
	if err := a.checkRedis(ctx); err != nil {
		return err
	}
	if a.Simulator != nil {
		base, stop, err := a.Simulator.StartLocal(context.WithoutCancel(ctx))
		if err != nil {
			return fmt.Errorf("start embedded simulator: %w", err)
		}
		a.stopSim = stop
		a.channels = channels.NewEmbeddedSimulatorRegistry(base, a.simShared, a.channelOptions())
		a.simulatorOAuth(base) // stores.go
		a.log.Warn("CHANNELS_CONFIG is not set: every channel publishes to the embedded simulator; nothing reaches a real channel",
			slog.String("url", base), slog.String("fail", cfg.SimulatorFail),
			slog.String("protocols", "INSTAGRAM instagram-graph, NAVER naver-cafe, KAKAO kakao-sens as a store's account (partner-v1 for events without one), others partner-v1"))
	}
	if err := a.Engine.Start(ctx); err != nil {
		return fmt.Errorf("start engine: %w", err)
	}
	bgCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.bgCancel = cancel
	if cfg.DebugAddr != "" {
		a.goRun(func() error { return web.ServeDebug(bgCtx, cfg.DebugAddr, a.log) })
	}
	a.goRun(func() error { return pruneLoop(bgCtx, a.Auth, a.log) })
	if a.Handlers == nil {
		return nil
	}
	if err := a.Hub.Start(bgCtx); err != nil {
		return fmt.Errorf("start live hub: %w", err)
	}
	// The live streams' feeds run until Stop, which ends them after HTTP has stopped.
	if err := a.Streams.Start(bgCtx); err != nil {
		return fmt.Errorf("start live streams: %w", err)
	}
	// Role changes, disables and logouts reach this process's open streams at once.
	a.goRun(func() error { return a.Streams.WatchPrincipalChanges(bgCtx, a.Store) })
	ln := a.listener
	a.listener = nil // StartHTTP owns it now
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return fmt.Errorf("web: listen on %s: %w", cfg.Addr, err)
		}
	}
	if err := a.StartHTTP(ln); err != nil {
		return err
	}
	a.log.Info("dashboard", slog.String("url", a.URL()))
	return nil
}

// migrate applies the migrations (MIGRATE_ON_START=true), or checks that the separate
// `distribution migrate` job has applied them: a binary must not run on a schema older than its own.
func (a *App) migrate(ctx context.Context) error {
	if a.Config.MigrateOnStart {
		return a.Store.Migrate(ctx)
	}
	ok, err := a.Store.MigrationsApplied(ctx)
	if err != nil {
		return err
	}
	if !ok {
		latest, _ := db.LatestMigration()
		return fmt.Errorf("MIGRATE_ON_START=false and migration %s is not applied: run `distribution migrate` first", latest)
	}
	return nil
}

// startOps serves the ops listener (OPS_ADDR) for every role, from before the migrations until
// Stop has stopped everything else: liveness, readiness (draining included) and metrics stay
// visible through the whole life of the process.
func (a *App) startOps() error {
	if a.Config.OpsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", a.Config.OpsAddr)
	if err != nil {
		return fmt.Errorf("OPS_ADDR: listen on %s: %w", a.Config.OpsAddr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.opsAddr, a.opsCancel, a.opsDone = ln.Addr().String(), cancel, make(chan struct{})
	go func() {
		defer close(a.opsDone)
		err := web.ServeOps(ctx, ln, web.OpsConfig{
			Healthz: a.probes.Healthz, Readyz: a.probes.Readyz, Pprof: a.Config.OpsPprof, Logger: a.log,
			Metrics: promhttp.HandlerFor(a.Gatherer(), promhttp.HandlerOpts{}),
		})
		if err != nil && ctx.Err() == nil {
			a.fail(err)
		}
	}()
	return nil
}

// OpsAddr is the address the ops listener is bound to ("" without OPS_ADDR).
func (a *App) OpsAddr() string { return a.opsAddr }

// goRun runs f as a part owned by the App; its error, unless it is the shutdown's, goes to Err.
func (a *App) goRun(f func() error) {
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		if err := f(); err != nil && !errors.Is(err, context.Canceled) {
			a.fail(err)
		}
	}()
}

func (a *App) fail(err error) {
	select {
	case a.errc <- err:
	default: // the first failure is enough to shut down
	}
}

// Err receives the first failure of a running part (HTTP server, debug server, listeners): the
// service should then Stop.
func (a *App) Err() <-chan error { return a.errc }

// Addr is the address the HTTP server listens on (the bound port when cfg.Addr asked for :0).
func (a *App) Addr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addr
}

// URL is the dashboard's base URL, http://Addr.
func (a *App) URL() string { return "http://" + a.Addr() }

// StartHTTP serves the web role's routes on ln with a new web server, as a new process would;
// Start calls it, and a test that restarts the web server (a deploy) calls it after StopHTTP.
func (a *App) StartHTTP(ln net.Listener) error {
	if a.Handlers == nil {
		ln.Close()
		return errors.New("app: this role serves no HTTP")
	}
	httpReg := prometheus.NewRegistry()
	srv := web.New(web.Config{
		Addr: a.Config.Addr, SecureCookies: a.Config.SecureCookies, TrustedProxies: a.Config.TrustedProxies,
		Static: static.Handler(), Metrics: promhttp.HandlerFor(a.Gatherer(), promhttp.HandlerOpts{}), Logger: a.log,
		Tracing: a.echoTracing(),
	}, a.Auth, a.Handlers)
	if err := srv.InstrumentHTTP(httpReg); err != nil {
		ln.Close()
		return fmt.Errorf("register HTTP metrics: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	run := &webRun{srv: srv, cancel: cancel, done: make(chan error, 1)}
	a.mu.Lock()
	if a.web != nil {
		a.mu.Unlock()
		cancel()
		ln.Close()
		return errors.New("app: HTTP server already running")
	}
	a.web, a.httpRegs, a.addr = run, httpReg, ln.Addr().String()
	a.mu.Unlock()
	go func() {
		err := srv.Serve(ctx, ln)
		if err != nil && ctx.Err() == nil {
			a.fail(err)
		}
		run.done <- err
	}()
	return nil
}

// Web is the running web server (nil when none is): a test drives its handler in-process
// (Handler().ServeHTTP, to choose the client address) or lists its routes.
func (a *App) Web() *web.Server {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.web == nil {
		return nil
	}
	return a.web.srv
}

// Gatherer is what /metrics serves: the service's registry (engine, cache, live) and the running
// web server's request metrics.
func (a *App) Gatherer() prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*prommodel.MetricFamily, error) {
		a.mu.Lock()
		h := a.httpRegs
		a.mu.Unlock()
		gs := prometheus.Gatherers{a.Metrics}
		if h != nil {
			gs = append(gs, h)
		}
		return gs.Gather()
	})
}

// StopHTTP shuts the HTTP server down gracefully: open streams end cleanly, as in a deploy. The
// rest of the service keeps running.
func (a *App) StopHTTP() error {
	a.mu.Lock()
	run := a.web
	a.web = nil
	a.mu.Unlock()
	if run == nil {
		return nil
	}
	run.cancel()
	return <-run.done
}

// Stop drains, then stops what Start started, in reverse: HTTP first (open streams close and
// browsers reconnect to another replica), then the hub and listeners, the workers (running jobs
// get the engine's shutdown grace, bounded by ctx), the ops listener, the simulator, and the pools.
//
// Draining: /readyz answers 503 at once (on both listeners) and, when this process serves HTTP,
// it keeps serving for SHUTDOWN_DELAY (cut short by ctx) so the load balancer stops sending first.
func (a *App) Stop(ctx context.Context) error {
	a.drain(ctx)
	errs := []error{a.StopHTTP()}
	if a.Streams != nil {
		a.Streams.Stop() // every feed and the streams still open (HTTP has stopped)
	}
	if a.Hub != nil {
		a.Hub.Stop()
	}
	if a.bgCancel != nil {
		a.bgCancel()
	}
	a.bg.Wait()
	if a.Engine != nil {
		errs = append(errs, a.Engine.Stop(ctx))
	}
	if a.opsCancel != nil {
		a.opsCancel()
		<-a.opsDone
	}
	a.close()
	return errors.Join(errs...)
}

// drain marks the process unready and, if it serves HTTP, waits SHUTDOWN_DELAY or until ctx ends.
func (a *App) drain(ctx context.Context) {
	if a.draining.Swap(true) || a.Config.ShutdownDelay <= 0 || a.Web() == nil {
		return
	}
	a.log.Info("draining: /readyz answers 503, still serving", slog.Duration("shutdown_delay", a.Config.ShutdownDelay))
	t := time.NewTimer(a.Config.ShutdownDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// close releases the channel adapters, the simulator and the pools.
func (a *App) close() {
	if a.channels != nil {
		a.channels.Close()
	}
	if a.stopSim != nil {
		a.stopSim()
	}
	if a.listener != nil { // given by WithListener, never served
		a.listener.Close()
	}
	if a.Redis != nil {
		a.Redis.Close()
	}
	if a.Store != nil {
		a.Store.Close()
	}
	if a.shutdownTracer != nil { // the spans of the shutdown included
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.shutdownTracer(ctx); err != nil {
			a.log.Warn("tracing: flush spans", slog.Any("error", err))
		}
	}
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
