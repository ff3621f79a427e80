package handlers_test

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/handlers"
	service "github.com/marketing-platform/distribution/internal/app"
	"github.com/marketing-platform/distribution/internal/auth"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// Bad input is a 4xx, never a 500: the fault is the client's, and a 500 logs at ERROR and tells
// monitoring the service is broken. FuzzRoutesNo5xx drives the whole service as internal/app
// builds it for serve (real handlers, auth, Postgres and Redis) with a fuzzed value
// in every query parameter, form field and path id the product reads, and in the headers it reads
// (User-Agent, Accept-Language, cookies), logged in as a manager. Every answer must be below 500
// and no request may log at ERROR level (the request logger logs every 5xx at ERROR).

// errorCounter is a slog handler that counts ERROR records and keeps the last one.
type errorCounter struct {
	n    atomic.Int64
	mu   sync.Mutex
	last string
}

func (h *errorCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (h *errorCounter) Handle(_ context.Context, r slog.Record) error {
	h.n.Add(1)
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	h.mu.Lock()
	h.last = b.String()
	h.mu.Unlock()
	return nil
}
func (h *errorCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *errorCounter) WithGroup(string) slog.Handler      { return h }

// inputApp is the application under fuzz: the service as serve builds it (internal/app) over one
// database, a manager session.
type inputApp struct {
	handler http.Handler
	auth    *auth.Service
	errs    *errorCounter
	session string // the manager's session cookie value
	other   string // id of a user the manager may change
	n       atomic.Int64
}

// newInputApp builds the service (ROLE=web) logging to an errorCounter. With live it has a
// private Redis (the cache and the live streams work); without, its REDIS_URL names a socket no
// server listens on: the service runs as it does while Redis is down (reads from Postgres, live
// updates unavailable, /readyz 200 degraded).
func newInputApp(tb testing.TB, live bool) *inputApp {
	tb.Helper()
	ctx := context.Background()
	errs := &errorCounter{}
	logger := slog.New(errs)
	redisURL := "unix://" + filepath.Join(tb.TempDir(), "no-redis.sock") + "?db=0"
	if live {
		redisURL = dbtest.StartRedis(tb).URL
	}
	s := startTestService(tb, testServiceConfig(tb, 0, dbtest.NewURL(tb), redisURL), service.WithLogger(logger))
	a := &inputApp{errs: errs, handler: s.Web().Handler(), auth: s.Auth}
	d, eng := s.Store, s.Engine

	if _, err := a.auth.CreateUser(ctx, "boss@example.com", uiPassword, model.RoleManager, "test"); err != nil {
		tb.Fatal(err)
	}
	u, err := a.auth.CreateUser(ctx, "other@example.com", uiPassword, model.RoleStaff, "test")
	if err != nil {
		tb.Fatal(err)
	}
	a.other = strconv.FormatInt(u.ID, 10)
	if a.session, _, err = a.auth.Login(ctx, "boss@example.com", uiPassword, "192.0.2.1", "test"); err != nil {
		tb.Fatal(err)
	}
	if _, err := d.CreateEvent(ctx, model.Event{ID: "ev-1", Title: "one"}, "test"); err != nil {
		tb.Fatal(err)
	}
	if _, err := eng.StartDistribution(ctx, "ev-1", []model.Channel{model.ChannelNaver}, "test"); err != nil {
		tb.Fatal(err)
	}
	return a
}

// inputRoute is one route and the inputs it reads. In path, {v} is where a fuzzed path value goes
// (routes without {v} get ev-1 or the other user's id).
type inputRoute struct {
	method, path string
	fields       []string // query parameters (GET) or form fields (POST)
	fixed        url.Values
	anonymous    bool // sent without the session (POST /login ends the browser's session first)
	// credential: the fuzzed header value goes in the Authorization header ("bearer") or is the
	// session cookie ("cookie") instead of the manager's session.
	credential string
}

func (a *inputApp) routes() []inputRoute {
	list := []string{"q", "status", "channel", "channel_status", "cursor"}
	return []inputRoute{
		{method: "GET", path: "/", fields: list},
		{method: "GET", path: "/events/stream", fields: list},
		{method: "GET", path: "/events/{v}"},
		{method: "GET", path: "/events/{v}/stream"},
		{method: "GET", path: "/login", fields: []string{"next"}, anonymous: true},
		{method: "GET", path: "/retries", fields: []string{"channel", "from", "to"}, fixed: url.Values{"check": {"1"}}},
		{method: "GET", path: "/reports", fields: []string{"from", "to", "channel", "cursor"}},
		{method: "GET", path: "/reports/export.csv", fields: []string{"from", "to", "channel", "cursor"}},
		{method: "GET", path: "/audit", fields: []string{"actor", "action", "event", "from", "to", "cursor"}},
		{method: "GET", path: "/users", fields: []string{"q", "done"}},
		{method: "GET", path: "/tokens", fields: []string{"done"}},
		{method: "GET", path: "/healthz"},
		{method: "GET", path: "/readyz"},
		{method: "GET", path: "/static/{v}"},
		{method: "GET", path: "/api/v1/openapi.json"},
		{method: "GET", path: "/api/v1/events", fields: append(list, "limit")},
		{method: "GET", path: "/api/v1/events/{v}"},
		{method: "GET", path: "/api/v1/events/{v}/distribution"},
		{method: "GET", path: "/api/v1/events/{v}/distribution/attempts"},
		{method: "GET", path: "/api/v1/events", credential: "bearer", anonymous: true},
		{method: "GET", path: "/", credential: "cookie", anonymous: true},

		{method: "POST", path: "/login", fields: []string{"email", "password", "next"}, anonymous: true,
			fixed: url.Values{"email": {"boss@example.com"}, "password": {uiPassword}}},
		{method: "POST", path: "/lang", fields: []string{"lang", "next"}, fixed: url.Values{"lang": {"en"}}},
		{method: "POST", path: "/events/{v}/distribution", fields: []string{"channels"}},
		{method: "POST", path: "/events/{v}/channels/NAVER/retry"},
		{method: "POST", path: "/events/ev-1/channels/{v}/retry"},
		{method: "POST", path: "/events/{v}/retry-failed"},
		{method: "POST", path: "/retries", fields: []string{"channel", "from", "to"}},
		{method: "POST", path: "/users", fields: []string{"email", "role", "password"}},
		{method: "POST", path: "/users/" + a.other + "/role", fields: []string{"role"}},
		{method: "POST", path: "/users/" + a.other + "/password", fields: []string{"password"}},
		{method: "POST", path: "/users/{v}/enable"},
		{method: "POST", path: "/events", fields: []string{"title", "description", "imageUrl", "storeName"}, fixed: url.Values{"title": {"t"}}},
		{method: "POST", path: "/tokens", fields: []string{"name", "role", "expires"}},
		{method: "POST", path: "/tokens/{v}/revoke"},
	}
}

// cancelOnWrite ends the request's context once an SSE answer starts, so a stream that opened
// returns instead of streaming forever; its status is already known.
type cancelOnWrite struct {
	*httptest.ResponseRecorder
	cancel context.CancelFunc
}

func (w cancelOnWrite) stream() {
	if strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream") {
		w.cancel()
	}
}
func (w cancelOnWrite) WriteHeader(code int) { w.ResponseRecorder.WriteHeader(code); w.stream() }
func (w cancelOnWrite) Write(b []byte) (int, error) {
	defer w.stream()
	return w.ResponseRecorder.Write(b)
}

// headerSafe keeps what net/http lets through in a header value (it refuses CTLs other than TAB
// with 400 before any handler runs).
func headerSafe(v string) string {
	return strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t') || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(v, "\xff")) // invalid UTF-8 stays invalid: header bytes are not UTF-8
}

func (a *inputApp) do(t *testing.T, rt inputRoute, field, value, header string) {
	t.Helper()
	vals := url.Values{}
	for k, v := range rt.fixed {
		vals[k] = v
	}
	path := rt.path
	if strings.Contains(path, "{v}") {
		if field == "" {
			path = strings.ReplaceAll(path, "{v}", url.PathEscape(value))
		} else {
			path = strings.ReplaceAll(path, "{v}", "ev-1")
		}
	}
	if field != "" {
		vals.Set(field, value)
	}
	var req *http.Request
	if rt.method == http.MethodGet {
		req = httptest.NewRequest(rt.method, "/", nil)
		req.URL.RawQuery = vals.Encode()
	} else {
		req = httptest.NewRequest(rt.method, "/", strings.NewReader(vals.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin") // echo's CSRF check passes same-origin posts
	}
	req.URL.Path = path
	if raw := strings.ReplaceAll(rt.path, "{v}", url.PathEscape(value)); field == "" && raw != path {
		req.URL.RawPath = raw
	}
	// A client address per request, so that login throttling by IP does not hide the handlers.
	req.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:1234", a.n.Load()>>16&255, a.n.Load()>>8&255, a.n.Add(1)&255)
	h := headerSafe(header)
	req.Header.Set("User-Agent", h)
	req.Header.Set("Accept-Language", h)
	req.Header.Add("Cookie", "lang="+url.QueryEscape(value))
	req.Header.Add("Cookie", "flash="+url.QueryEscape(value))
	if len(value)%2 == 1 { // half the inputs as Datastar requests (SSE answers to actions)
		req.Header.Set("Datastar-Request", "true")
	}
	if !rt.anonymous {
		req.Header.Add("Cookie", handlers.SessionCookieName(false)+"="+a.session)
	}
	switch rt.credential {
	case "bearer":
		req.Header.Set("Authorization", "Bearer "+h)
	case "cookie":
		req.Header.Add("Cookie", handlers.SessionCookieName(false)+"="+h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req = req.WithContext(ctx)
	w := cancelOnWrite{httptest.NewRecorder(), cancel}
	before := a.errs.n.Load()
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.handler.ServeHTTP(w, req)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s %s %s=%q: no answer within 10 s", rt.method, path, field, value)
	}
	what := fmt.Sprintf("%s %s %s=%q User-Agent=%q", rt.method, path, field, value, h)
	if w.Code >= 500 {
		body := w.Body.String()
		if len(body) > 300 {
			body = body[:300]
		}
		t.Errorf("%s: status %d: %s", what, w.Code, body)
	}
	if a.errs.n.Load() != before {
		a.errs.mu.Lock()
		t.Errorf("%s: logged an ERROR: %s", what, a.errs.last)
		a.errs.mu.Unlock()
	}
}

// cursorOf encodes a forged keyset cursor the way the store does (base64url of the raw text).
func cursorOf(raw string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func FuzzRoutesNo5xx(f *testing.F) {
	for _, s := range []string{
		"", "x", "ev-1", "NAVER", "2024-01-01", "1", "0", "-1", "manager", "en", "/events/ev-1",
		"\x00", "a\x00b", "\xff", "\xc3\x28", "a\rb", "a\nb", "\r\n", "\t", "\x1b[31m", "\x7f", "%00", "%ff",
		strings.Repeat("a", 300), strings.Repeat("한", 2000), strings.Repeat("x", 70000),
		"9223372036854775807", "-9223372036854775808", "99999999999999999999", "1e9",
		"../x", "*", "//evil.example", "/\\evil",
		cursorOf("9223372036854775807,ev-1"), cursorOf("-9223372036854775808,ev-1"), cursorOf("-1,ev-1"),
		cursorOf("253402300800000000,ev-1"), cursorOf("1700000000000000,../x"),
		cursorOf("9223372036854775807,1,1"), cursorOf("1700000000000000,-1,-5"), cursorOf("1700000000000000,-1"),
		cursorOf("-9223372036854775808,1"), cursorOf("1700000000000000,\x00"),
	} {
		f.Add(s, "Mozilla/5.0")
	}
	f.Add("x", "\xff\xfe bad UTF-8 agent")
	f.Add("x", strings.Repeat("A", 8000))
	f.Add("x", "ko-KR,ko;q=0.9,\x80")
	f.Add("x", "")
	// In fuzzing mode (-fuzz) the service runs with Redis down (its REDIS_URL names no server): a
	// redis-server started by a fuzz worker inherits the worker's pipes to the coordinator and
	// keeps it waiting forever when the worker stops. The seed corpus (every plain `go test`) runs
	// with Redis and the live streams.
	fuzzing := flag.Lookup("test.fuzz") != nil && flag.Lookup("test.fuzz").Value.String() != ""
	a := newInputApp(f, !fuzzing)
	routes := a.routes()
	f.Fuzz(func(t *testing.T, value, header string) {
		for _, rt := range routes {
			if strings.Contains(rt.path, "{v}") {
				a.do(t, rt, "", value, header)
			}
			for _, field := range rt.fields {
				a.do(t, rt, field, value, header)
			}
			if len(rt.fields) == 0 && !strings.Contains(rt.path, "{v}") {
				a.do(t, rt, "", value, header)
			}
		}
	})
}

// TestBadInputIs4xx: inputs that used to be answered 500 (with an ERROR log line):
// each is now a 400 naming the parameter, logged without ERROR, and a correct login whose
// User-Agent is not UTF-8 logs in.
func TestBadInputIs4xx(t *testing.T) {
	t.Parallel()
	a := newInputApp(t, true)
	huge := cursorOf("9223372036854775807,ev-1")
	tiny := cursorOf("-9223372036854775808,ev-1")
	for _, tc := range []struct {
		method, target, form, ua string
		want                     int
		name                     string // what the answer must name
	}{
		{"POST", "/login", "email=boss%00@example.com&password=" + uiPassword, "t", 400, "email"},
		{"POST", "/login", "email=boss%ff@example.com&password=" + uiPassword, "t", 400, "email"},
		{"POST", "/login", "email=boss@example.com&password=" + uiPassword, "Mozilla/5.0 \xff\xfe\x80", 303, ""},
		{"POST", "/login", "email=boss@example.com&password=" + uiPassword, strings.Repeat("\xc3", 3000), 303, ""},
		{"GET", "/audit?actor=%00", "", "t", 400, "actor"},
		{"GET", "/audit?actor=%ff", "", "t", 400, "actor"},
		{"GET", "/audit?action=%00", "", "t", 400, "action"},
		{"GET", "/audit?event=%00", "", "t", 400, "event"},
		{"GET", "/audit?cursor=" + cursorOf("1700000000000000,-1"), "", "t", 400, "cursor"},
		{"GET", "/users?q=%00", "", "t", 400, "q"},
		{"GET", "/users?q=a%0Db", "", "t", 400, "q"},
		{"GET", "/?q=%00", "", "t", 400, "q"},
		{"GET", "/?cursor=" + huge, "", "t", 400, "cursor"},
		{"GET", "/?status=IN_PROGRESS&cursor=" + huge, "", "t", 400, "cursor"},
		{"GET", "/?cursor=" + tiny, "", "t", 400, "cursor"},
		// The list's stream goes without a value it cannot use (the page names it): a bad link
		// must not leave the page's stream failing and reconnecting (issue 15 item 7).
		{"GET", "/events/stream?cursor=" + huge, "", "t", 200, ""},
		{"GET", "/events/stream?cursor=" + tiny, "", "t", 200, ""},
		{"GET", "/events/stream?q=%ff", "", "t", 200, ""},
		{"GET", "/api/v1/events?cursor=" + huge, "", "t", 400, "cursor"},
		{"GET", "/api/v1/events?status=FAILED&cursor=" + tiny, "", "t", 400, "cursor"},
		{"GET", "/api/v1/events?q=%00", "", "t", 400, "q"},
		{"GET", "/reports?cursor=" + cursorOf("9223372036854775807,1,1"), "", "t", 400, ""},
		{"GET", "/reports?cursor=" + cursorOf("1700000000000000,-1,-5"), "", "t", 400, ""},
	} {
		var req *http.Request
		if tc.method == http.MethodPost {
			req = httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "same-origin")
		} else {
			req = httptest.NewRequest(tc.method, tc.target, nil)
			req.Header.Add("Cookie", handlers.SessionCookieName(false)+"="+a.session)
		}
		req.Header.Set("User-Agent", tc.ua)
		ctx, cancel := context.WithCancel(context.Background())
		w := cancelOnWrite{httptest.NewRecorder(), cancel}
		before := a.errs.n.Load()
		a.handler.ServeHTTP(w, req.WithContext(ctx))
		cancel()
		what := tc.method + " " + tc.target
		if w.Code != tc.want {
			t.Errorf("%s (User-Agent %q): status %d, want %d", what, model.Truncate(tc.ua, 20), w.Code, tc.want)
		}
		if tc.name != "" && !strings.Contains(w.Body.String(), tc.name) {
			t.Errorf("%s: the answer does not name %q", what, tc.name)
		}
		if a.errs.n.Load() != before {
			t.Errorf("%s: logged an ERROR", what)
		}
	}
}
