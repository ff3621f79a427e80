package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/marketing-platform/distribution/handlers"
	"github.com/marketing-platform/distribution/internal/auth"
	"github.com/marketing-platform/distribution/internal/model"
)

type pinger struct{ err error }

func (p pinger) Ping(context.Context) error { return p.err }

type redisHealth struct {
	ping  error
	notif bool
	nerr  error
}

func (r redisHealth) Ping(context.Context) error        { return r.ping }
func (r redisHealth) NotificationsState() (bool, error) { return r.notif, r.nerr }

type noAuth struct{}

func (noAuth) LoginDevice(context.Context, auth.LoginRequest) (auth.LoginResult, error) {
	return auth.LoginResult{}, model.Errorf(model.EUNAUTHORIZED, "no")
}
func (noAuth) Logout(context.Context, string) error { return nil }

type migrations struct {
	ok  bool
	err error
}

func (m migrations) MigrationsApplied(context.Context) (bool, error) { return m.ok, m.err }

// TestReadyz: 503 only when PostgreSQL is unreachable, migrations are missing or the process is
// draining; Redis or notifications down is 200 "degraded" (pages and the API work from PostgreSQL).
func TestReadyz(t *testing.T) {
	t.Parallel()
	down := errors.New("dial tcp 10.0.0.5:5432: connect: connection refused (user=admin)")
	applied := migrations{ok: true}
	for _, tc := range []struct {
		name       string
		db         handlers.Pinger
		migrations handlers.MigrationChecker
		redis      handlers.RedisHealth
		draining   bool
		status     int
		want       map[string]string
	}{
		{"all ok", pinger{}, applied, redisHealth{notif: true}, false, 200, map[string]string{"status": "ok", "postgres": "ok", "migrations": "ok", "redis": "ok", "notifications": "ok"}},
		{"postgres down", pinger{down}, applied, redisHealth{notif: true}, false, 503, map[string]string{"status": "unavailable", "postgres": "error: unreachable", "migrations": "error: unknown", "redis": "ok", "notifications": "ok"}},
		{"postgres slow", pinger{fmt.Errorf("ping: %w", context.DeadlineExceeded)}, applied, redisHealth{notif: true}, false, 503, map[string]string{"status": "unavailable", "postgres": "error: timeout", "redis": "ok", "notifications": "ok"}},
		{"migrations missing", pinger{}, migrations{}, redisHealth{notif: true}, false, 503, map[string]string{"status": "unavailable", "postgres": "ok", "migrations": "error: not applied (run distribution migrate)", "redis": "ok", "notifications": "ok"}},
		{"migrations unknown", pinger{}, migrations{err: down}, redisHealth{notif: true}, false, 503, map[string]string{"status": "unavailable", "postgres": "ok", "migrations": "error: unknown"}},
		{"redis down", pinger{}, applied, redisHealth{ping: down, nerr: errors.New("not subscribed")}, false, 200, map[string]string{"status": "degraded", "postgres": "ok", "migrations": "ok", "redis": "error: unreachable", "notifications": "error: not subscribed"}},
		{"notifications off", pinger{}, applied, redisHealth{}, false, 200, map[string]string{"status": "degraded", "postgres": "ok", "redis": "ok", "notifications": "error: keyspace notifications not active"}},
		{"redis not wired", pinger{}, applied, nil, false, 200, map[string]string{"status": "degraded", "postgres": "ok", "redis": "error: not configured", "notifications": "error: not configured"}},
		{"draining", pinger{}, applied, redisHealth{notif: true}, true, 503, map[string]string{"status": "draining"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			logger := slog.New(slog.DiscardHandler)
			probes := handlers.NewProbes(handlers.ProbeDeps{DB: tc.db, Migrations: tc.migrations, Redis: tc.redis, Draining: func() bool { return tc.draining }, Logger: logger})
			h := handlers.New(handlers.Deps{Auth: noAuth{}, DB: tc.db, Redis: tc.redis, Probes: probes, Logger: logger})
			rec := httptest.NewRecorder()
			c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/readyz", nil), rec)
			if err := h.Readyz(c); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			var got map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if n := len(got); !tc.draining && n != 5 {
				t.Errorf("body %v: want exactly status, postgres, migrations, redis, notifications", got)
			}
			// Liveness only: 200 whatever the dependencies and the drain say.
			rec = httptest.NewRecorder()
			if err := h.Healthz(echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/healthz", nil), rec)); err != nil || rec.Code != http.StatusOK {
				t.Errorf("healthz = %d %v, want 200", rec.Code, err)
			}
		})
	}
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for next, want := range map[string]string{
		"/":                   "/",
		"/events/x?y=1#z":     "/events/x?y=1#z",
		"/reports":            "/reports",
		"":                    "",
		"//evil.com":          "",
		"/\\evil.com":         "",
		"/\\/evil.com":        "",
		"/a\\b":               "",
		"https://evil.com":    "",
		"http:evil.com":       "",
		"javascript:alert(1)": "",
		"evil.com":            "",
		"/\t/evil.com":        "",
		"/\n/evil.com":        "",
		"\\\\evil.com":        "",
		" /x":                 "",
	} {
		if got := handlers.SafeNext(next); got != want {
			t.Errorf("SafeNext(%q) = %q, want %q", next, got, want)
		}
	}
	for next, want := range map[string]string{"/": "/login", "": "/login", "//evil": "/login", "/events/a b": "/login?next=%2Fevents%2Fa+b"} {
		if got := handlers.LoginURL(next); got != want {
			t.Errorf("LoginURL(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestCookieNames(t *testing.T) {
	t.Parallel()
	if handlers.SessionCookieName(false) != "dist_session" || handlers.SessionCookieName(true) != "__Host-dist_session" {
		t.Error("session cookie names")
	}
	if handlers.CSRFCookieName(false) != "dist_csrf" || handlers.CSRFCookieName(true) != "__Host-dist_csrf" {
		t.Error("CSRF cookie names")
	}
}
