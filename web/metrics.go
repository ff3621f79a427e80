package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics are the request metrics of the web server, labelled by route pattern (never the raw
// URL, so label values stay bounded), method and status.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// InstrumentHTTP registers the HTTP request metrics on reg and records every request the server
// answers from now on: routed ones, 404s, and those refused by authentication, CSRF or the body
// limit. Call it once, after New and before serving. SSE streams are counted but not timed (their
// duration is the viewer's visit, not a latency).
//
// Metrics: distribution_http_requests_total and distribution_http_request_duration_seconds, both
// by route ("/api/v1/events/:id"; "unmatched" when no route matched), method and status.
func (s *Server) InstrumentHTTP(reg prometheus.Registerer) error {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "distribution_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "distribution_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request (SSE streams excluded), by route pattern, method and status.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "status"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return fmt.Errorf("web: HTTP metrics already registered (one server per registry): %w", err)
			}
			return fmt.Errorf("web: register HTTP metrics: %w", err)
		}
	}
	// Pre-middleware wraps routing and the whole chain, so it sees requests the auth and
	// body-limit middleware refuse, and c.Path() is the matched pattern once next returns.
	s.e.Pre(m.middleware)
	return nil
}

func (m *httpMetrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			// Let the error handler write the answer now so the status is final (it answers once).
			c.Error(err)
		}
		res := c.Response()
		status := res.Status
		if !res.Committed && c.Request().Context().Err() != nil {
			status = 499 // the client went away before an answer was written
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		labels := prometheus.Labels{"route": route, "method": metricMethod(c.Request().Method), "status": strconv.Itoa(status)}
		m.requests.With(labels).Inc()
		if !strings.HasPrefix(res.Header().Get(echo.HeaderContentType), "text/event-stream") {
			m.duration.With(labels).Observe(time.Since(start).Seconds())
		}
		return err
	}
}

// metricMethod keeps the method label bounded: clients can send any token as a method.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}
