// Package web is the HTTP server: the echo instance, the routes table (routes.go), the middleware
// every request passes (request id, logging, recover, security headers, body limit, client IP,
// authentication with deny-by-default, CSRF) and the one error handler that turns errors into
// HTTP responses (JSON for the API, an HTML page for browsers).
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/marketing-platform/distribution/handlers"
	"github.com/marketing-platform/distribution/internal/model"
)

// Authenticator turns a session cookie value or a bearer token into a principal (auth.Service).
// Failures that mean "not logged in" are model EUNAUTHORIZED errors.
type Authenticator interface {
	Authenticate(ctx context.Context, cookieValue string) (model.Principal, error)
	AuthenticateToken(ctx context.Context, bearer string) (model.Principal, error)
}

// Config configures the server. Zero optional fields take defaults.
type Config struct {
	Addr string // listen address for Start (default 127.0.0.1:8080)
	// SecureCookies: served over TLS (directly or behind a TLS proxy): Secure + __Host- cookies, HSTS.
	SecureCookies bool
	// TrustedProxies are the CIDRs whose X-Forwarded-For is believed; empty = the socket address.
	TrustedProxies []*net.IPNet
	BodyLimit      string       // default "1M"
	Static         http.Handler // serves /static/* (GET, HEAD) with "/static/" stripped; nil = 404; static.Handler: no listings
	Metrics        http.Handler // serves /metrics (default promhttp.Handler())
	Logger         *slog.Logger
	// Tracing, when set, is the outermost middleware (otelecho: a server span per request, the
	// trace context in the request context); nil = no tracing.
	Tracing echo.MiddlewareFunc
	// ShutdownTimeout bounds the graceful shutdown when Start's context ends (default 10s).
	ShutdownTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.BodyLimit == "" {
		c.BodyLimit = "1M"
	}
	if c.Metrics == nil {
		c.Metrics = promhttp.Handler()
	}
	if c.Static == nil {
		c.Static = http.NotFoundHandler()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	return c
}

// Server is the web server.
type Server struct {
	cfg    Config
	e      *echo.Echo
	srv    *http.Server
	auth   Authenticator
	logger *slog.Logger
	public map[string]bool // "METHOD path" of routes anyone may call
	// cancelBase cancels every request context; Stop calls it after streamGrace so open SSE
	// streams end instead of holding the shutdown until its deadline.
	cancelBase context.CancelFunc
}

// streamGrace is how long Stop lets in-flight requests finish before cancelling their contexts.
const streamGrace = time.Second

// New builds the server: middleware, error handler and every route of the table.
func New(cfg Config, a Authenticator, h *handlers.Handlers) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:    cfg,
		e:      echo.New(),
		auth:   a,
		logger: cfg.Logger.With(slog.String("component", "web")),
		public: map[string]bool{},
	}
	e := s.e
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = ipExtractor(cfg.TrustedProxies)
	s.use()
	e.Use(h.ZoneContext) // after authentication: the viewer's time zone
	for _, r := range s.routes(h) {
		s.add(r)
	}
	baseCtx, cancelBase := context.WithCancel(context.Background())
	s.cancelBase = cancelBase
	s.srv = &http.Server{
		Addr:              cfg.Addr,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// SSE handlers lift this per stream with http.NewResponseController(...).SetWriteDeadline.
		WriteTimeout:   60 * time.Second,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	return s
}

// Handler returns the whole application as an http.Handler (tests use it with httptest).
func (s *Server) Handler() http.Handler { return s.e }

// Echo returns the echo instance (tests add throwaway routes; they get the same middleware).
func (s *Server) Echo() *echo.Echo { return s.e }

// Start listens on Config.Addr and serves until ctx ends, then shuts down gracefully.
func (s *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("web: listen on %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, then shuts down gracefully within ShutdownTimeout.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.logger.Info("listening", slog.String("addr", ln.Addr().String()))
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("web: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.Stop(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("web: serve: %w", err)
	}
	return nil
}

// Stop stops accepting connections and waits for in-flight requests until ctx ends, then closes
// what is left. After streamGrace it cancels request contexts, which ends open SSE streams.
func (s *Server) Stop(ctx context.Context) error {
	t := time.AfterFunc(streamGrace, s.cancelBase)
	defer t.Stop()
	defer s.cancelBase()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close() //nolint:errcheck // forced close after the grace period
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("web: shutdown: %w", err)
		}
	}
	return nil
}
