package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// readyTimeout bounds each readiness check, so a hung dependency answers "error" quickly.
const readyTimeout = 2 * time.Second

// Healthz serves GET /healthz: the process is alive (it checks nothing else).
func (h *Handlers) Healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// Readyz serves GET /readyz: {"postgres","redis","notifications"}, each "ok" or "error: ...";
// 200 only when all are ok, 503 otherwise. Details of failures go to the log, not the response.
func (h *Handlers) Readyz(c echo.Context) error {
	ctx := c.Request().Context()
	var (
		wg                 sync.WaitGroup
		pg, redis, notifys string
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		pg = h.check(ctx, "postgres", h.deps.DB)
	}()
	go func() {
		defer wg.Done()
		if h.deps.Redis == nil {
			redis, notifys = "error: not configured", "error: not configured"
			return
		}
		redis = h.check(ctx, "redis", h.deps.Redis)
		ok, err := h.deps.Redis.NotificationsState()
		switch {
		case err != nil:
			h.logger.Warn("readiness: notifications", slog.Any("error", err))
			notifys = "error: " + err.Error()
		case !ok:
			notifys = "error: keyspace notifications not active"
		default:
			notifys = "ok"
		}
	}()
	wg.Wait()
	status := http.StatusOK
	if pg != "ok" || redis != "ok" || notifys != "ok" {
		status = http.StatusServiceUnavailable
	}
	return c.JSON(status, map[string]string{"postgres": pg, "redis": redis, "notifications": notifys})
}

func (h *Handlers) check(ctx context.Context, name string, p Pinger) string {
	if p == nil {
		return "error: not configured"
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	err := p.Ping(ctx)
	if err == nil {
		return "ok"
	}
	h.logger.Warn("readiness check failed", slog.String("dependency", name), slog.Any("error", err))
	// Driver errors can name hosts and users: the response only says what kind of failure it was.
	if errors.Is(err, context.DeadlineExceeded) {
		return "error: timeout"
	}
	return "error: unreachable"
}
