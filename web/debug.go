package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/labstack/echo/v4"
)

// pprofMux serves Go's profiler (net/http/pprof) under /debug/pprof/.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// ServeDebug serves Go's profiler (net/http/pprof) on addr until ctx ends. It is off unless
// DEBUG_ADDR is set, and config only accepts loopback addresses: profiles show request data and
// the handlers cost CPU, so they never share the dashboard's listener or its routes table.
// OPS_ADDR with OPS_PPROF=true serves the same profiler on the ops listener (ServeOps).
func ServeDebug(ctx context.Context, addr string, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("DEBUG_ADDR: listen on %s: %w", addr, err)
	}
	logger.Info("profiler", slog.String("url", "http://"+ln.Addr().String()+"/debug/pprof/"))
	if err := serveUntil(ctx, ln, pprofMux()); err != nil {
		return fmt.Errorf("DEBUG_ADDR: %w", err)
	}
	return nil
}

// OpsConfig is what the ops listener serves.
type OpsConfig struct {
	Healthz, Readyz echo.HandlerFunc
	Metrics         http.Handler // the whole registry, as on the main listener
	Pprof           bool         // also /debug/pprof/ (OPS_PPROF)
	Logger          *slog.Logger
}

// OpsHandler is the ops listener's routes: /healthz, /readyz, /metrics and, with Pprof, the
// profiler; none asks for application auth (the port is for probes and scrapers, not users).
func OpsHandler(cfg OpsConfig) http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/healthz", cfg.Healthz)
	e.GET("/readyz", cfg.Readyz)
	e.GET("/metrics", echo.WrapHandler(cfg.Metrics))
	if cfg.Pprof {
		e.Any("/debug/pprof/*", echo.WrapHandler(pprofMux()))
	}
	return e
}

// ServeOps serves OpsHandler(cfg) on ln until ctx ends (OPS_ADDR, every ROLE).
func ServeOps(ctx context.Context, ln net.Listener, cfg OpsConfig) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger.Info("ops listener", slog.String("addr", ln.Addr().String()), slog.Bool("pprof", cfg.Pprof))
	if err := serveUntil(ctx, ln, OpsHandler(cfg)); err != nil {
		return fmt.Errorf("OPS_ADDR: %w", err)
	}
	return nil
}

// serveUntil serves h on ln until ctx ends, then closes the server.
func serveUntil(ctx context.Context, ln net.Listener, h http.Handler) error {
	// No WriteTimeout: /debug/pprof/profile and trace stream for as long as asked.
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	_ = srv.Close()
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
