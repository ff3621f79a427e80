package web_test

// One file on purpose: these tests pin the server-wide guarantees (login, CSRF, roles, headers,
// errors) through one real server fixture (newApp); per-area files would copy it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/PuerkitoBio/goquery"
	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/handlers"
	"github.com/marketing-platform/distribution/internal/auth"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
	"github.com/marketing-platform/distribution/static"
	"github.com/marketing-platform/distribution/web"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const (
	password = "password1"
	wantCSP  = "default-src 'none'; script-src 'self' 'unsafe-eval'; connect-src 'self'; img-src 'self' data: https:; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

type fakeRedis struct{ err error }

func (f fakeRedis) Ping(context.Context) error        { return f.err }
func (f fakeRedis) NotificationsState() (bool, error) { return f.err == nil, nil }

type app struct {
	t    *testing.T
	srv  *web.Server
	db   *db.DB
	auth *auth.Service
	cfg  web.Config
}

// newApp builds the real application over a fresh database, plus throwaway routes that exercise
// the guards: /test/staff, /test/manager (pages), /api/v1/test (GET, POST), /test/boom, /test/panic.
func newApp(t *testing.T, cfg web.Config) *app {
	t.Helper()
	d := dbtest.New(t)
	quiet := slog.New(slog.DiscardHandler)
	svc := auth.NewService(d, auth.Config{Argon2: auth.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}, quiet)
	h := handlers.New(handlers.Deps{Auth: svc, DB: d, Store: d, Redis: fakeRedis{}, SecureCookies: cfg.SecureCookies, Logger: quiet})
	cfg.Logger = quiet
	cfg.Static = static.FileServer(fstest.MapFS{"app.css": {Data: []byte("body{}")}, "img/logo.svg": {Data: []byte("<svg/>")}})
	cfg.Metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "# metrics\n") })
	s := web.New(cfg, svc, h)
	e := s.Echo()
	ok := func(c echo.Context) error { return c.String(http.StatusOK, "ok") }
	e.GET("/test/staff", ok, web.RequireRole(model.RoleStaff))
	e.GET("/test/manager", ok, web.RequireRole(model.RoleManager))
	e.GET("/api/v1/test", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"ok": "yes"}) })
	e.POST("/api/v1/test", func(c echo.Context) error {
		io.Copy(io.Discard, c.Request().Body) //nolint:errcheck
		return c.JSON(http.StatusOK, map[string]string{"ok": "yes"})
	})
	e.GET("/api/v1/test/manager", ok, web.RequireRole(model.RoleManager))
	e.GET("/test/boom", func(echo.Context) error { return errors.New("pq: password authentication failed for user secret") })
	e.GET("/test/panic", func(echo.Context) error { panic("kaboom secret") })
	// A real refused database connection (nothing listens on port 1), as during a Postgres outage.
	e.GET("/api/v1/test/dbdown", func(c echo.Context) error {
		_, err := pgx.Connect(c.Request().Context(), "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=1")
		return fmt.Errorf("find token: %w", err)
	})
	return &app{t: t, srv: s, db: d, auth: svc, cfg: cfg}
}

func (a *app) user(email string, role model.Role) model.User {
	a.t.Helper()
	u, err := a.auth.CreateUser(context.Background(), email, password, role, "test")
	if err != nil {
		a.t.Fatal(err)
	}
	return u
}

func (a *app) count(sql string, args ...any) int {
	a.t.Helper()
	var n int
	if err := a.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		a.t.Fatal(err)
	}
	return n
}

func (a *app) exec(sql string, args ...any) {
	a.t.Helper()
	if _, err := a.db.Pool.Exec(context.Background(), sql, args...); err != nil {
		a.t.Fatal(err)
	}
}

// client is a browser without JavaScript: a cookie jar, no redirects followed.
type client struct {
	a      *app
	jar    *cookiejar.Jar
	origin string            // http://dist.test, or https:// when the app has SecureCookies
	ip     string            // RemoteAddr host
	header map[string]string // sent with every request
}

func (a *app) client() *client {
	jar, _ := cookiejar.New(nil)
	o := "http://dist.test"
	if a.cfg.SecureCookies {
		o = "https://dist.test"
	}
	return &client{a: a, jar: jar, origin: o, ip: "192.0.2.10", header: map[string]string{}}
}

type resp struct {
	*http.Response
	method, path string
	body         string
}

func (c *client) do(method, path string, body io.Reader, hdr map[string]string) resp {
	c.a.t.Helper()
	req := httptest.NewRequest(method, c.origin+path, body)
	req.RemoteAddr = net.JoinHostPort(c.ip, "40000")
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	u, _ := url.Parse(c.origin + "/")
	for _, ck := range c.jar.Cookies(u) {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	c.a.srv.Handler().ServeHTTP(rec, req)
	res := rec.Result()
	c.jar.SetCookies(u, res.Cookies())
	b, _ := io.ReadAll(res.Body)
	return resp{Response: res, method: method, path: path, body: string(b)}
}

func (c *client) get(path string) resp { return c.do(http.MethodGet, path, nil, nil) }

func (c *client) post(path string, form url.Values, hdr map[string]string) resp {
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for k, v := range hdr {
		h[k] = v
	}
	return c.do(http.MethodPost, path, strings.NewReader(form.Encode()), h)
}

func (c *client) cookie(name string) string {
	u, _ := url.Parse(c.origin + "/")
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// csrf loads a page with a form (as a browser would before posting) and returns its token.
func (c *client) csrf() string {
	c.a.t.Helper()
	r := c.get("/login")
	if r.StatusCode == http.StatusSeeOther { // logged in: the home page has the logout form
		r = c.get("/")
	}
	doc := parse(c.a.t, r.body)
	tok, _ := doc.Find(`input[name="_csrf"]`).First().Attr("value")
	if tok == "" {
		c.a.t.Fatalf("no CSRF token on /login (status %d)", r.StatusCode)
	}
	return tok
}

func (c *client) login(email, pw, next string) resp {
	c.a.t.Helper()
	return c.post("/login", url.Values{"email": {email}, "password": {pw}, "_csrf": {c.csrf()}, "next": {next}}, nil)
}

func (c *client) mustLogin(email string) {
	c.a.t.Helper()
	if r := c.login(email, password, ""); r.StatusCode != http.StatusSeeOther {
		c.a.t.Fatalf("login %s: status %d", email, r.StatusCode)
	}
}

func parse(t *testing.T, body string) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func wantStatus(t *testing.T, r resp, status int) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body: %.300s", r.method, r.path, r.StatusCode, status, r.body)
	}
}

func wantRedirect(t *testing.T, r resp, location string) {
	t.Helper()
	wantStatus(t, r, http.StatusSeeOther)
	if got := r.Header.Get("Location"); got != location {
		t.Fatalf("%s %s: Location %q, want %q", r.method, r.path, got, location)
	}
}

func wantAPIError(t *testing.T, r resp, status int, code string) {
	t.Helper()
	wantStatus(t, r, status)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want JSON", ct)
	}
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Error.Code != code || body.Error.Message == "" {
		t.Fatalf("body %s: want {\"error\":{\"code\":%q,\"message\":...}} (%v)", r.body, code, err)
	}
}

func TestLoginPage(t *testing.T) {
	t.Parallel()
	a := newApp(t, web.Config{})
	c := a.client()
	r := c.get("/login")
	wantStatus(t, r, http.StatusOK)
	doc := parse(t, r.body)
	form := doc.Find(`form[method="post"][action="/login"]`)
	if form.Length() != 1 {
		t.Fatalf("want one form method=post action=/login, got %d", form.Length())
	}
	for _, sel := range []string{`input[name="email"][type="email"][autocomplete="username"]`, `input[name="password"][type="password"]`, `input[name="_csrf"][type="hidden"]`, `input[name="next"][type="hidden"]`, `button[type="submit"]`} {
		if form.Find(sel).Length() != 1 {
			t.Errorf("login form lacks %s", sel)
		}
	}
	for _, id := range []string{"email", "password"} {
		if doc.Find(`label[for="`+id+`"]`).Length() != 1 || doc.Find("#"+id).Length() != 1 {
			t.Errorf("input #%s has no label", id)
		}
	}
	tok, _ := form.Find(`input[name="_csrf"]`).Attr("value")
	if tok == "" || tok != c.cookie("dist_csrf") {
		t.Errorf("form CSRF token %q does not match the dist_csrf cookie", tok)
	}
	if doc.Find(`[role="alert"]`).Length() != 0 {
		t.Error("fresh login page shows an alert")
	}
	if lang, _ := doc.Find("html").Attr("lang"); lang != "en" {
		t.Errorf("html lang = %q, want en", lang)
	}
	if doc.Find(`link[rel="stylesheet"][href="/static/app.css"]`).Length() != 1 || doc.Find(`script[type="module"][src="/static/datastar.js"]`).Length() != 1 {
		t.Error("layout lacks the stylesheet or the Datastar module")
	}
	if doc.Find(`#toasts[role="status"][aria-live="polite"]`).Length() != 1 {
		t.Error("layout lacks the polite toast region")
	}
	for _, ck := range r.Cookies() {
		if ck.Name == "dist_csrf" && (!ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/") {
			t.Errorf("CSRF cookie attributes: %+v", ck)
		}
	}
}

func TestLoginSuccess(t *testing.T) {
	t.Parallel()
	a := newApp(t, web.Config{})
	u := a.user("Lee@Example.com", model.RoleStaff)
	c := a.client()

	r := c.login("lee@example.com", password, "")
	wantRedirect(t, r, "/")
	var session *http.Cookie
	for _, ck := range r.Cookies() {
		if ck.Name == "dist_session" {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" || session.Secure {
		t.Fatalf("session cookie = %+v", session)
	}
	if n := a.count(`SELECT count(*) FROM sessions WHERE user_id = $1`, u.ID); n != 1 {
		t.Fatalf("sessions = %d, want 1", n)
	}

	home := c.get("/")
	wantStatus(t, home, http.StatusOK)
	doc := parse(t, home.body)
	if !strings.Contains(doc.Find("header").Text(), "lee@example.com") {
		t.Error("home page does not show the user")
	}
	if doc.Find(`form[method="post"][action="/logout"] input[name="_csrf"]`).Length() != 1 {
		t.Error("home page lacks the logout form")
	}
	if doc.Find(`a[href="/reports"]`).Length() != 0 {
		t.Error("staff sees the managers' Reports link")
	}
	if home.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q on a logged-in page", home.Header.Get("Cache-Control"))
	}
	// Logged in: /login moves on.
	wantRedirect(t, c.get("/login"), "/")

	// A second login rotates the session: new id, the old one is gone.
	r2 := c.login("lee@example.com", password, "")
	wantRedirect(t, r2, "/")
	if c.cookie("dist_session") == session.Value {
		t.Fatal("second login kept the session id")
	}
	if n := a.count(`SELECT count(*) FROM sessions WHERE user_id = $1`, u.ID); n != 1 {
		t.Fatalf("sessions after re-login = %d, want 1 (old one ended)", n)
	}
	// Manager sees Reports.
	a.user("boss@example.com", model.RoleManager)
	m := a.client()
	m.mustLogin("boss@example.com")
	if parse(t, m.get("/").body).Find(`a[href="/reports"]`).Length() != 1 {
		t.Error("manager lacks the Reports link")
	}
	if a.count(`SELECT count(*) FROM audit_log WHERE action = 'login' AND actor = 'lee@example.com' AND ip = '192.0.2.10'`) != 2 {
		t.Error("logins not audited with the client IP")
	}
}

func TestLoginFailures(t *testing.T) {
	t.Parallel()
	a := newApp(t, web.Config{})
	a.user("kim@example.com", model.RoleMarketer)
	gone := a.user("gone@example.com", model.RoleMarketer)
	if err := a.db.SetUserDisabled(context.Background(), gone.ID, true); err != nil {
		t.Fatal(err)
	}

	var alerts []string
	for _, tc := range []struct{ name, email, pw string }{
		{"wrong password", "kim@example.com", "password2"},
		{"unknown user", "nobody@example.com", password},
		{"disabled user", "gone@example.com", password},
	} {
		c := a.client()
		r := c.login(tc.email, tc.pw, "/somewhere")
		wantStatus(t, r, http.StatusUnauthorized)
		doc := parse(t, r.body)
		alert := strings.TrimSpace(doc.Find(`[role="alert"]`).Text())
		if alert != "Email or password is incorrect." {
			t.Errorf("%s: alert %q", tc.name, alert)
		}
		alerts = append(alerts, alert)
		if c.cookie("dist_session") != "" {
			t.Errorf("%s: session cookie set", tc.name)
		}
		if v, _ := doc.Find(`input[name="email"]`).Attr("value"); v != tc.email {
			t.Errorf("%s: email not kept in the form (%q)", tc.name, v)
		}
		if v, _ := doc.Find(`form[action="/login"] input[name="next"]`).Attr("value"); v != "/somewhere" {
			t.Errorf("%s: next not kept in the form (%q)", tc.name, v)
		}
		if doc.Find(`input[name="password"][value]`).Length() != 0 {
			t.Errorf("%s: password echoed back", tc.name)
		}
	}
	if alerts[0] != alerts[1] || alerts[1] != alerts[2] {
		t.Fatalf("failure messages differ: %q", alerts)
	}
	if n := a.count(`SELECT count(*) FROM sessions`); n != 0 {
		t.Fatalf("%d sessions after failed logins", n)
	}
}

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	t.Run("per account", func(t *testing.T) {
		t.Parallel()
		a := newApp(t, web.Config{})
		a.user("target@example.com", model.RoleStaff)
		for i := range 5 {
			c := a.client()
			c.ip = "198.51.100." + string(rune('1'+i))
			wantStatus(t, c.login("target@example.com", "nope-nope", ""), http.StatusUnauthorized)
		}
		c := a.client()
		c.ip = "203.0.113.9"
		r := c.login("target@example.com", password, "")
		wantStatus(t, r, http.StatusTooManyRequests)
		if r.Header.Get("Retry-After") == "" || c.cookie("dist_session") != "" {
			t.Fatal("locked login: want Retry-After and no session")
		}
		if alert := parse(t, r.body).Find(`[role="alert"]`).Text(); !strings.Contains(alert, "Too many") {
			t.Fatalf("alert %q", alert)
		}
	})
	t.Run("per IP, rotating X-Forwarded-For ignored", func(t *testing.T) {
		t.Parallel()
		a := newApp(t, web.Config{})
		a.user("real@example.com", model.RoleStaff)
		c := a.client()
		for i := range 30 {
			spoof := "10.1." + string(rune('0'+i/10)) + "." + string(rune('0'+i%10))
			c.header["X-Forwarded-For"] = spoof
			c.header["X-Real-IP"] = spoof
			email := "guess" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "@example.com"
			wantStatus(t, c.login(email, "x", ""), http.StatusUnauthorized)
		}
		c.header["X-Forwarded-For"] = "10.9.9.9"
		wantStatus(t, c.login("real@example.com", password, ""), http.StatusTooManyRequests)
		if n := a.count(`SELECT count(*) FROM login_throttle WHERE key LIKE 'ip:10.%'`); n != 0 {
			t.Fatalf("%d throttle rows keyed by a forged header", n)
		}
	})
	t.Run("per IP behind a trusted proxy", func(t *testing.T) {
		t.Parallel()
		_, proxies, _ := net.ParseCIDR("192.0.2.0/24")
		a := newApp(t, web.Config{TrustedProxies: []*net.IPNet{proxies}})
		a.user("real@example.com", model.RoleStaff)
		c := a.client() // RemoteAddr 192.0.2.10: the proxy
		for i := range 30 {
			c.header["X-Forwarded-For"] = "203.0.113.50"
			email := "guess" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "@example.com"
			wantStatus(t, c.login(email, "x", ""), http.StatusUnauthorized)
		}
		wantStatus(t, c.login("real@example.com", password, ""), http.StatusTooManyRequests)
		// Another client behind the same proxy is not locked out.
		c.header["X-Forwarded-For"] = "203.0.113.51"
		wantRedirect(t, c.login("real@example.com", password, ""), "/")
	})
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, backdate string }{
		{"idle", `UPDATE sessions SET created_at = now() - interval '3 hours', last_seen_at = now() - interval '2 hours 1 minute', expires_at = now() - interval '1 minute'`},
		{"absolute", `UPDATE sessions SET created_at = now() - interval '12 hours 1 minute', last_seen_at = now() - interval '1 minute', expires_at = now() + interval '1 hour'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newApp(t, web.Config{})
			a.user("e@example.com", model.RoleStaff)
			c := a.client()
			c.mustLogin("e@example.com")
			wantStatus(t, c.get("/"), http.StatusOK)
			a.exec(tc.backdate)
			wantRedirect(t, c.get("/"), "/login")
			if c.cookie("dist_session") != "" {
				t.Error("expired session cookie not cleared")
			}
		})
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	a := newApp(t, web.Config{})
	a.user("out@example.com", model.RoleStaff)
	c := a.client()
	c.mustLogin("out@example.com")
	old := c.cookie("dist_session")
	home := parse(t, c.get("/").body)
	tok, _ := home.Find(`form[action="/logout"] input[name="_csrf"]`).Attr("value")

	wantRedirect(t, c.post("/logout", url.Values{"_csrf": {tok}}, nil), "/login")
	if c.cookie("dist_session") != "" {
		t.Error("session cookie not cleared")
	}
	if n := a.count(`SELECT count(*) FROM sessions`); n != 0 {
		t.Fatalf("%d sessions left after logout", n)
	}
	// Replaying the old cookie does not work: the session is gone server-side.
	replay := a.client()
	replay.jar.SetCookies(&url.URL{Scheme: "http", Host: "dist.test"}, []*http.Cookie{{Name: "dist_session", Value: old, Path: "/"}})
	wantRedirect(t, replay.get("/"), "/login")
	wantAPIError(t, replay.get("/api/v1/test"), http.StatusUnauthorized, "unauthorized")
}

func TestRoleGuard(t *testing.T) {
	t.Parallel()
	a := newApp(t, web.Config{})
	clients := map[model.Role]*client{}
	for _, role := range []model.Role{model.RoleMarketer, model.RoleStaff, model.RoleManager} {
		a.user(string(role)+"@example.com", role)
		clients[role] = a.client()
		clients[role].mustLogin(string(role) + "@example.com")
	}
	for _, tc := range []struct {
		role  model.Role
		path  string
		allow bool
	}{
		{model.RoleMarketer, "/test/staff", false},
		{model.RoleMarketer, "/test/manager", false},
		{model.RoleStaff, "/test/staff", true},
		{model.RoleStaff, "/test/manager", false},
		{model.RoleManager, "/test/staff", true},
		{model.RoleManager, "/test/manager", true},
		{model.RoleMarketer, "/api/v1/test/manager", false},
		{model.RoleStaff, "/api/v1/test/manager", false},
		{model.RoleManager, "/api/v1/test/manager", true},
	} {
		r := clients[tc.role].get(tc.path)
		switch {
		case tc.allow:
			wantStatus(t, r, http.StatusOK)
		case strings.HasPrefix(tc.path, "/api/"):
			wantAPIError(t, r, http.StatusForbidden, "forbidden")
		default:
			wantStatus(t, r, http.StatusForbidden)
			doc := parse(t, r.body)
			if doc.Find(`[data-error-status="403"] h1`).Length() != 1 {
				t.Errorf("%s %s: 403 is not the HTML error page: %.200s", tc.role, tc.path, r.body)
			}
		}
	}
}

func TestMetricsAccess(t *testing.T) {
	t.Parallel()
	a := newApp(t, web.Config{})
	a.user("m@example.com", model.RoleManager)
	a.user("s@example.com", model.RoleStaff)

	local := a.client()
	local.ip = "127.0.0.1"
	wantStatus(t, local.get("/metrics"), http.StatusOK)

	wantAPIError(t, a.client().get("/metrics"), http.StatusUnauthorized, "unauthorized")
	staff := a.client()
	staff.mustLogin("s@example.com")
	wantAPIError(t, staff.get("/metrics"), http.StatusForbidden, "forbidden")
	mgr := a.client()
	mgr.mustLogin("m@example.com")
	wantStatus(t, mgr.get("/metrics"), http.StatusOK)
	tok, err := a.auth.CreateToken(context.Background(), "prometheus", model.RoleManager, "test")
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, a.client().do(http.MethodGet, "/metrics", nil, map[string]string{"Authorization": "Bearer " + tok}), http.StatusOK)
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	a := newApp(t, web.Config{})
	a.user("c@example.com", model.RoleStaff)
	c := a.client()
	c.mustLogin("c@example.com")
	tok := c.csrf()
	if tok == "" {
		t.Fatal("no token")
	}

	// Cross-site form post: refused even with a valid token.
	r := c.post("/lang", url.Values{"lang": {"ko"}, "_csrf": {tok}}, map[string]string{"Sec-Fetch-Site": "cross-site"})
	wantStatus(t, r, http.StatusForbidden)
	// No token, no Sec-Fetch-Site (an old browser, or plain-http intranet): refused.
	wantStatus(t, c.post("/lang", url.Values{"lang": {"ko"}}, nil), http.StatusForbidden)
	wantStatus(t, c.post("/lang", url.Values{"lang": {"ko"}, "_csrf": {"forged"}}, nil), http.StatusForbidden)
	// Same-site (sibling subdomain) without a token: refused.
	wantStatus(t, c.post("/lang", url.Values{"lang": {"ko"}}, map[string]string{"Sec-Fetch-Site": "same-site"}), http.StatusForbidden)
	// With the token: accepted; as a header too (Datastar @post).
	wantRedirect(t, c.post("/lang", url.Values{"lang": {"ko"}, "_csrf": {tok}}, nil), "/")
	wantRedirect(t, c.post("/lang", url.Values{"lang": {"en"}}, map[string]string{"X-CSRF-Token": tok}), "/")
	// Same-origin fetch metadata from a modern browser: accepted without a token.
	wantRedirect(t, c.post("/lang", url.Values{"lang": {"en"}}, map[string]string{"Sec-Fetch-Site": "same-origin"}), "/")

	// Login itself is protected (login CSRF).
	anon := a.client()
	wantStatus(t, anon.post("/login", url.Values{"email": {"c@example.com"}, "password": {password}}, nil), http.StatusForbidden)
	if anon.cookie("dist_session") != "" {
		t.Fatal("login without CSRF token started a session")
	}
	// Logout without token is refused and keeps the session.
	wantStatus(t, c.post("/logout", url.Values{}, nil), http.StatusForbidden)
	wantStatus(t, c.get("/"), http.StatusOK)

	// JSON API with the session cookie: CSRF applies.
	json := map[string]string{"Content-Type": "application/json"}
	wantAPIError(t, c.do(http.MethodPost, "/api/v1/test", strings.NewReader(`{}`), json), http.StatusForbidden, "forbidden")
	json["X-CSRF-Token"] = tok
	wantStatus(t, c.do(http.MethodPost, "/api/v1/test", strings.NewReader(`{}`), json), http.StatusOK)
	// JSON API with a bearer token: no cookies involved, no CSRF token needed, even cross-site.
	bearer, _ := a.auth.CreateToken(context.Background(), "machine", model.RoleMarketer, "test")
	m := a.client()
	wantStatus(t, m.do(http.MethodPost, "/api/v1/test", strings.NewReader(`{}`),
		map[string]string{"Authorization": "Bearer " + bearer, "Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}), http.StatusOK)
	if m.cookie("dist_csrf") != "" {
		t.Error("bearer request got a CSRF cookie")
	}
}

func TestAnonymous(t *testing.T) {
	t.Parallel()
	a := newApp(t, web.Config{})
	c := a.client()
	wantRedirect(t, c.get("/"), "/login")
	wantRedirect(t, c.get("/events/ev-1?tab=channels"), "/login?next=%2Fevents%2Fev-1%3Ftab%3Dchannels")
	wantRedirect(t, c.get("/reports"), "/login?next=%2Freports")
	wantRedirect(t, c.get("/no/such/page"), "/login?next=%2Fno%2Fsuch%2Fpage")
	wantRedirect(t, c.post("/logout", url.Values{}, nil), "/login")
	r := c.get("/api/v1/test")
	wantAPIError(t, r, http.StatusUnauthorized, "unauthorized")
	if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("401 without WWW-Authenticate: Bearer")
	}
	wantAPIError(t, c.get("/api/v1/events"), http.StatusUnauthorized, "unauthorized")
	wantAPIError(t, c.do(http.MethodPost, "/api/v1/test", strings.NewReader(`{}`), map[string]string{"Content-Type": "application/json"}), http.StatusUnauthorized, "unauthorized")
	r = c.do(http.MethodGet, "/events/ev-1/stream", nil, map[string]string{"Datastar-Request": "true"})
	wantStatus(t, r, http.StatusUnauthorized)
	// Public routes.
	wantStatus(t, c.get("/login"), http.StatusOK)
	wantStatus(t, c.get("/healthz"), http.StatusOK)
	wantStatus(t, c.get("/static/app.css"), http.StatusOK)
}

func TestOpenRedirect(t *testing.T) {
	t.Parallel()
	a := newApp(t, web.Config{})
	a.user("r@example.com", model.RoleStaff)
	for _, next := range []string{"//evil.com", "/\\evil.com", "https://evil.com", "http:evil.com", "javascript:alert(1)", "/\t/evil.com", "\\\\evil.com", "evil.com", "//evil.com/%2F.."} {
		c := a.client()
		if v, _ := parse(t, c.get("/login?next="+url.QueryEscape(next)).body).Find(`form[action="/login"] input[name="next"]`).Attr("value"); v != "" {
			t.Errorf("login page kept next=%q as %q", next, v)
		}
		wantRedirect(t, c.login("r@example.com", password, next), "/")
		wantRedirect(t, c.post("/lang", url.Values{"lang": {"ko"}, "next": {next}, "_csrf": {c.csrf()}}, nil), "/")
	}
	c := a.client()
	wantRedirect(t, c.login("r@example.com", password, "/events/x?y=1"), "/events/x?y=1")
	wantRedirect(t, c.get("/login?next=%2Fevents%2Fz"), "/events/z")
}

func TestAPITokens(t *testing.T) {
	t.Parallel()
	a := newApp(t, web.Config{})
	tok, err := a.auth.CreateToken(context.Background(), "upstream", model.RoleMarketer, "test")
	if err != nil {
		t.Fatal(err)
	}
	c := a.client()
	get := func(authz string) resp {
		return c.do(http.MethodGet, "/api/v1/test", nil, map[string]string{"Authorization": authz})
	}
	wantStatus(t, get("Bearer "+tok), http.StatusOK)
	wantStatus(t, get("bearer "+tok), http.StatusOK)
	wantAPIError(t, get("Bearer dst_notavalidtoken"), http.StatusUnauthorized, "unauthorized")
	wantAPIError(t, get("Bearer "+tok+"x"), http.StatusUnauthorized, "unauthorized")
	wantAPIError(t, get("Basic dXNlcjpwYXNz"), http.StatusUnauthorized, "unauthorized")
	a.exec(`UPDATE api_tokens SET revoked_at = now()`)
	wantAPIError(t, get("Bearer "+tok), http.StatusUnauthorized, "unauthorized")
	// A bad bearer on a page is refused too, never silently downgraded to the cookie.
	a.user("p@example.com", model.RoleStaff)
	c.mustLogin("p@example.com")
	wantStatus(t, c.do(http.MethodGet, "/", nil, map[string]string{"Authorization": "Bearer nope"}), http.StatusUnauthorized)
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	a := newApp(t, web.Config{})
	a.user("h@example.com", model.RoleMarketer)
	c := a.client()
	check := func(name string, r resp, wantNoStore bool) {
		t.Helper()
		h := r.Header
		for k, want := range map[string]string{
			"Content-Security-Policy": wantCSP,
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "same-origin",
			"X-Frame-Options":         "DENY",
		} {
			if got := h.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", name, k, got, want)
			}
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS on plain http", name)
		}
		if got := h.Get("Cache-Control"); wantNoStore && got != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", name, got)
		}
		if h.Get("X-Request-Id") == "" {
			t.Errorf("%s: no X-Request-Id", name)
		}
	}
	check("login page", c.get("/login"), true)
	check("anonymous redirect", c.get("/"), true)
	check("healthz", c.get("/healthz"), true)
	check("static", c.get("/static/app.css"), false)
	check("static 404", c.get("/static/missing.css"), false)
	check("API 401", c.get("/api/v1/test"), true)
	c.mustLogin("h@example.com")
	check("page", c.get("/"), true)
	check("page 404", c.get("/no/such/page"), true)
	check("page 403", c.get("/test/manager"), true)
	check("500", c.get("/test/boom"), true)
}

func TestSecureCookies(t *testing.T) {
	t.Parallel()
	a := newApp(t, web.Config{SecureCookies: true})
	a.user("tls@example.com", model.RoleStaff)
	c := a.client()
	r := c.get("/login")
	if r.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS with SecureCookies")
	}
	tok, _ := parse(t, r.body).Find(`input[name="_csrf"]`).Attr("value")
	res := c.post("/login", url.Values{"email": {"tls@example.com"}, "password": {password}, "_csrf": {tok}}, nil)
	wantRedirect(t, res, "/")
	names := map[string]*http.Cookie{}
	for _, ck := range append(r.Cookies(), res.Cookies()...) {
		if ck.Value != "" {
			names[ck.Name] = ck
		}
	}
	for _, name := range []string{"__Host-dist_session", "__Host-dist_csrf"} {
		ck := names[name]
		if ck == nil || !ck.Secure || !ck.HttpOnly || ck.Path != "/" || ck.Domain != "" {
			t.Errorf("cookie %s = %+v, want Secure HttpOnly Path=/ without Domain", name, ck)
		}
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	a := newApp(t, web.Config{})
	a.user("x@example.com", model.RoleManager)
	c := a.client()
	c.mustLogin("x@example.com")
	tok := c.csrf()

	for _, path := range []string{"/test/boom", "/test/panic"} {
		r := c.get(path)
		wantStatus(t, r, http.StatusInternalServerError)
		if strings.Contains(r.body, "secret") || strings.Contains(r.body, "kaboom") {
			t.Errorf("%s leaks the internal error: %.300s", path, r.body)
		}
		if parse(t, r.body).Find(`[data-error-status="500"]`).Length() != 1 {
			t.Errorf("%s: not the HTML error page", path)
		}
	}
	big := strings.NewReader(`{"x":"` + strings.Repeat("a", 2<<20) + `"}`)
	wantAPIError(t, c.do(http.MethodPost, "/api/v1/test", big, map[string]string{"Content-Type": "application/json", "X-CSRF-Token": tok}), http.StatusRequestEntityTooLarge, "too_large")
	wantAPIError(t, c.get("/api/v1/nope"), http.StatusNotFound, "not_found")
	down := c.get("/api/v1/test/dbdown")
	wantAPIError(t, down, http.StatusServiceUnavailable, "unavailable")
	if down.Header.Get("Retry-After") == "" {
		t.Error("503 for an unreachable database carries no Retry-After")
	}
	wantAPIError(t, c.do(http.MethodDelete, "/api/v1/test", nil, map[string]string{"X-CSRF-Token": tok}), http.StatusMethodNotAllowed, "method_not_allowed")
	r := c.get("/no/such/page")
	wantStatus(t, r, http.StatusNotFound)
	if parse(t, r.body).Find(`[data-error-status="404"] h1`).Length() != 1 {
		t.Errorf("404 page: %.300s", r.body)
	}
	wantStatus(t, c.post("/lang", url.Values{"lang": {"fr"}, "_csrf": {tok}}, nil), http.StatusBadRequest)
	ds := c.do(http.MethodGet, "/test/manager/nope", nil, map[string]string{"Datastar-Request": "true"})
	wantStatus(t, ds, http.StatusNotFound)
	if strings.Contains(ds.body, "<html") {
		t.Error("Datastar request got an HTML page")
	}
}

func TestLanguage(t *testing.T) {
	t.Parallel()
	a := newApp(t, web.Config{})
	c := a.client()
	c.header["Accept-Language"] = "ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7"
	doc := parse(t, c.get("/login").body)
	if lang, _ := doc.Find("html").Attr("lang"); lang != "ko" {
		t.Fatalf("Korean browser: html lang = %q", lang)
	}
	if doc.Find(`label[for="password"]`).Text() != "비밀번호" {
		t.Errorf("password label %q, want Korean", doc.Find(`label[for="password"]`).Text())
	}
	wantRedirect(t, c.post("/lang", url.Values{"lang": {"en"}, "next": {"/login"}, "_csrf": {c.csrf()}}, nil), "/login")
	if c.cookie("lang") != "en" {
		t.Fatal("lang cookie not set")
	}
	doc = parse(t, c.get("/login").body)
	if lang, _ := doc.Find("html").Attr("lang"); lang != "en" {
		t.Fatalf("after switching: html lang = %q", lang)
	}
	if pressed, _ := doc.Find(`form[action="/lang"] button[value="en"]`).Attr("aria-pressed"); pressed != "true" {
		t.Errorf("English button aria-pressed = %q", pressed)
	}
	a.user("ko@example.com", model.RoleStaff)
	c.header["Accept-Language"] = "en"
	c.post("/lang", url.Values{"lang": {"ko"}, "_csrf": {c.csrf()}}, nil)
	r := c.login("nobody@example.com", "x", "")
	if alert := parse(t, r.body).Find(`[role="alert"]`).Text(); !strings.Contains(alert, "올바르지") {
		t.Errorf("Korean failure message: %q", alert)
	}
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	a := newApp(t, web.Config{})
	r := a.client().get("/healthz")
	wantStatus(t, r, http.StatusOK)
	if strings.TrimSpace(r.body) != `{"status":"ok"}` {
		t.Fatalf("healthz body %s", r.body)
	}
	r = a.client().get("/readyz")
	wantStatus(t, r, http.StatusOK)
	var body map[string]string
	json.Unmarshal([]byte(r.body), &body) //nolint:errcheck
	if body["postgres"] != "ok" || body["redis"] != "ok" || body["notifications"] != "ok" {
		t.Fatalf("readyz body %s", r.body)
	}
}

func TestServeAndStop(t *testing.T) {
	t.Parallel()
	a := newApp(t, web.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.srv.Serve(ctx, ln) }()
	res, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("healthz over TCP: %d", res.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
}

// TestStaticFilesOnlyAndHead: /static/ serves files, never a directory listing (which would show
// every file shipped, linked or not; a directory is 404, as a missing file), and HEAD of a file
// answers without login like GET: 200, the same headers, no body.
func TestStaticFilesOnlyAndHead(t *testing.T) {
	t.Parallel()
	a := newApp(t, web.Config{})
	c := a.client() // anonymous
	get := c.get("/static/app.css")
	wantStatus(t, get, http.StatusOK)
	for _, p := range []string{"/static/", "/static/img/", "/static/img", "/static/.", "/static/img/.."} {
		r := c.get(p)
		if r.StatusCode != http.StatusNotFound || strings.Contains(r.body, "app.css") || strings.Contains(r.body, "logo.svg") {
			t.Errorf("GET %s: status %d, body %.100q; want 404 without a listing", p, r.StatusCode, r.body)
		}
	}
	head := c.do(http.MethodHead, "/static/app.css", nil, nil)
	wantStatus(t, head, http.StatusOK)
	if head.body != "" {
		t.Errorf("HEAD body %q, want none", head.body)
	}
	for _, h := range []string{"Content-Type", "Content-Length", "Last-Modified", "X-Content-Type-Options", "Content-Security-Policy"} {
		if head.Header.Get(h) != get.Header.Get(h) {
			t.Errorf("HEAD %s = %q, GET has %q", h, head.Header.Get(h), get.Header.Get(h))
		}
	}
	if r := c.do(http.MethodHead, "/static/", nil, nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD /static/: status %d, want 404", r.StatusCode)
	}
	if r := c.do(http.MethodHead, "/static/missing.css", nil, nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD /static/missing.css: status %d, want 404", r.StatusCode)
	}
}

// TestCSRFTokenNotFromQuery: the CSRF token counts only in the X-CSRF-Token header or the _csrf
// form field of the body, because a URL's query leaks (access logs, history, Referer headers); a
// state-changing request with the token in its query string (no Sec-Fetch-Site, as from an old
// browser or plain-http intranet) is refused 403 and changes nothing.
func TestCSRFTokenNotFromQuery(t *testing.T) {
	t.Parallel()
	a := newApp(t, web.Config{})
	a.user("q@example.com", model.RoleStaff)
	c := a.client()
	c.mustLogin("q@example.com")
	tok := c.csrf()
	q := "?_csrf=" + url.QueryEscape(tok)

	r := c.post("/lang"+q, url.Values{"lang": {"ko"}}, nil)
	wantStatus(t, r, http.StatusForbidden)
	if c.cookie("lang") != "" {
		t.Error("POST /lang?_csrf= set the language")
	}
	wantStatus(t, c.post("/logout"+q, url.Values{}, nil), http.StatusForbidden)
	wantStatus(t, c.get("/"), http.StatusOK) // still logged in
	r = c.do(http.MethodPost, "/api/v1/test"+q, strings.NewReader(`{}`), map[string]string{"Content-Type": "application/json"})
	wantAPIError(t, r, http.StatusForbidden, "forbidden")
	// Multipart bodies are parsed into the same Form: the query still does not count.
	r = c.do(http.MethodPost, "/lang"+q, strings.NewReader("--b\r\nContent-Disposition: form-data; name=\"lang\"\r\n\r\nko\r\n--b--\r\n"),
		map[string]string{"Content-Type": "multipart/form-data; boundary=b"})
	wantStatus(t, r, http.StatusForbidden)
	anon := a.client()
	anonTok := anon.csrf()
	wantStatus(t, anon.post("/login?_csrf="+url.QueryEscape(anonTok), url.Values{"email": {"q@example.com"}, "password": {password}}, nil), http.StatusForbidden)
	if anon.cookie("dist_session") != "" {
		t.Error("a login with the CSRF token in the URL started a session")
	}
	// The body field and the header still work.
	wantRedirect(t, c.post("/lang", url.Values{"lang": {"ko"}, "_csrf": {tok}}, nil), "/")
	wantRedirect(t, c.post("/lang", url.Values{"lang": {"en"}}, map[string]string{"X-CSRF-Token": tok}), "/")
}
