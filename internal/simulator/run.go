package simulator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// shutdownGrace bounds how long a graceful stop waits for in-flight requests.
const shutdownGrace = 5 * time.Second

func (s *Server) httpServer() *http.Server {
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
}

// Start serves the simulator on addr in the background. It returns the base URL
// ("http://host:port") the adapters should use and a stop function that shuts the server down
// gracefully and waits for it; stop is also triggered when ctx is done, and is safe to call more
// than once.
func (s *Server) Start(ctx context.Context, addr string) (baseURL string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("simulator: listen on %s: %w", addr, err)
	}
	srv := s.httpServer()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("simulator stopped", slog.Any("error", err))
		}
	}()
	shutdown := sync.OnceFunc(func() {
		s.Close()
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
		<-done
	})
	unregister := context.AfterFunc(ctx, shutdown)
	s.logger.Info("simulator listening", slog.String("addr", ln.Addr().String()))
	return "http://" + ln.Addr().String(), func() { unregister(); shutdown() }, nil
}

// StartLocal is Start on an ephemeral loopback port (127.0.0.1:0): the embedded simulator.
func (s *Server) StartLocal(ctx context.Context) (baseURL string, stop func(), err error) {
	return s.Start(ctx, "127.0.0.1:0")
}

// Run serves a simulator built from cfg on addr until ctx is done, then shuts down gracefully.
// It is `distribution simulator`.
func Run(ctx context.Context, addr string, cfg Config) error {
	s := New(cfg)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("simulator: listen on %s: %w", addr, err)
	}
	srv := s.httpServer()
	srv.RegisterOnShutdown(s.Close)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.logger.Info("simulator listening", slog.String("addr", ln.Addr().String()))
	select {
	case err := <-errc:
		return fmt.Errorf("simulator: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("simulator: graceful shutdown: %w", err)
	}
	return nil
}
