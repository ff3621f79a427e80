package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// readyTimeout bounds each readiness check, so a hung dependency answers "error" quickly.
const readyTimeout = 2 * time.Second

// MigrationChecker says whether the schema this binary needs is in place (db.DB).
type MigrationChecker interface {
	MigrationsApplied(ctx context.Context) (bool, error)
}

// ProbeDeps are what the probes check. Only DB is required.
type ProbeDeps struct {
	DB         Pinger           // PostgreSQL: unreachable = not ready
	Migrations MigrationChecker // nil = not checked; not applied = not ready
	Redis      RedisHealth      // nil = reported as not configured (degraded)
	// Draining reports that the process is shutting down: /readyz answers 503 at once so the
	// load balancer stops sending; nil = never.
	Draining func() bool
	// Started reports that the process has finished starting (migrations, workers, its HTTP
	// listener): until then /readyz answers 503 "starting", since the ops listener is up first
	// and a schema check alone would call a pod ready while it still migrates; nil = always.
	Started func() bool
	// Channels says where this process publishes, reported as "channels" by /readyz:
	// "simulator" (no CHANNELS_CONFIG: nothing reaches a real channel) or "configured"; "" = not
	// reported. It never changes readiness.
	Channels string
	Logger   *slog.Logger
}

// Probes serve /healthz and /readyz, on the main listener and the ops listener (every ROLE).
type Probes struct {
	d      ProbeDeps
	logger *slog.Logger
	// migrated caches a positive migration check: applied migrations are not taken back.
	migrated atomic.Bool
}

// NewProbes returns the probes over d.
func NewProbes(d ProbeDeps) *Probes {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return &Probes{d: d, logger: d.Logger.With(slog.String("component", "probes"))}
}

// Healthz serves GET /healthz: the process is alive (it checks nothing else).
func (h *Handlers) Healthz(c echo.Context) error { return h.deps.Probes.Healthz(c) }

// Readyz serves GET /readyz (Probes.Readyz).
func (h *Handlers) Readyz(c echo.Context) error { return h.deps.Probes.Readyz(c) }

// Healthz serves GET /healthz: the process is alive (it checks nothing else; 200 while draining).
func (p *Probes) Healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// Readyz serves GET /readyz: {"status","postgres","migrations","redis","notifications"}, each
// check "ok" or "error: ...", and "channels" (ProbeDeps.Channels) when set. 503 only when this process cannot serve: PostgreSQL unreachable,
// migrations not applied, still starting, or draining (status "unavailable", "starting" or
// "draining"). Redis down or
// notifications not flowing leave it at 200 with status "degraded": pages and the API work from
// PostgreSQL. Details of failures go to the log, not the response.
func (p *Probes) Readyz(c echo.Context) error {
	if p.d.Draining != nil && p.d.Draining() {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "draining"})
	}
	if p.d.Started != nil && !p.d.Started() {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "starting"})
	}
	ctx := c.Request().Context()
	var (
		wg                             sync.WaitGroup
		pg, migr, redis, notifications string
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		pg = p.check(ctx, "postgres", p.d.DB)
		migr = "ok"
		if pg == "ok" {
			migr = p.checkMigrations(ctx)
		} else if p.d.Migrations != nil && !p.migrated.Load() {
			migr = "error: unknown"
		}
	}()
	go func() {
		defer wg.Done()
		if p.d.Redis == nil {
			redis, notifications = "error: not configured", "error: not configured"
			return
		}
		redis = p.check(ctx, "redis", p.d.Redis)
		ok, err := p.d.Redis.NotificationsState()
		switch {
		case err != nil:
			p.logger.Warn("readiness: notifications", slog.Any("error", err))
			notifications = "error: " + err.Error()
		case !ok:
			notifications = "error: keyspace notifications not active"
		default:
			notifications = "ok"
		}
	}()
	wg.Wait()
	code, status := http.StatusOK, "ok"
	switch {
	case pg != "ok" || migr != "ok":
		code, status = http.StatusServiceUnavailable, "unavailable"
	case redis != "ok" || notifications != "ok":
		status = "degraded"
	}
	body := map[string]string{"status": status, "postgres": pg, "migrations": migr, "redis": redis, "notifications": notifications}
	if p.d.Channels != "" {
		body["channels"] = p.d.Channels
	}
	return c.JSON(code, body)
}

func (p *Probes) checkMigrations(ctx context.Context) string {
	if p.d.Migrations == nil || p.migrated.Load() {
		return "ok"
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	ok, err := p.d.Migrations.MigrationsApplied(ctx)
	switch {
	case err != nil:
		p.logger.Warn("readiness: migrations", slog.Any("error", err))
		return "error: unknown"
	case !ok:
		return "error: not applied (run distribution migrate)"
	}
	p.migrated.Store(true)
	return "ok"
}

func (p *Probes) check(ctx context.Context, name string, dep Pinger) string {
	if dep == nil {
		return "error: not configured"
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	err := dep.Ping(ctx)
	if err == nil {
		return "ok"
	}
	p.logger.Warn("readiness check failed", slog.String("dependency", name), slog.Any("error", err))
	// Driver errors can name hosts and users: the response only says what kind of failure it was.
	if errors.Is(err, context.DeadlineExceeded) {
		return "error: timeout"
	}
	return "error: unreachable"
}
