// Package handlers holds the echo handlers: pages, form actions, SSE streams (parsed and
// authorized here, served by internal/live), the JSON API and the ops endpoints. Handlers reach storage and other parts only through the small interfaces declared
// here; main wires the concrete types. Routing, authentication, CSRF and error rendering live in web.
package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/marketing-platform/distribution/internal/quiethours"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/marketing-platform/distribution/internal/auth"
	"github.com/marketing-platform/distribution/internal/live"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

// Authenticator logs people in and out (auth.Service).
type Authenticator interface {
	// LoginDevice checks a login attempt, throttled by device cookie, account and address.
	LoginDevice(ctx context.Context, req auth.LoginRequest) (auth.LoginResult, error)
	Logout(ctx context.Context, cookieValue string) error
}

// Pinger is a dependency /readyz checks by pinging it (the database).
type Pinger interface {
	Ping(ctx context.Context) error
}

// RedisHealth is what /readyz asks the cache: whether Redis answers, and whether keyspace
// notifications are configured and subscribed (live updates depend on them).
type RedisHealth interface {
	Ping(ctx context.Context) error
	NotificationsState() (bool, error)
}

// Deps are the handlers' collaborators. Zero optional fields take defaults.
type Deps struct {
	Auth  Authenticator // required
	DB    Pinger        // required
	Redis RedisHealth   // nil reports Redis as not configured (degraded)
	// Probes serve /healthz and /readyz; nil = probes over DB and Redis alone (no migration or
	// drain state). The app shares one with its ops listener.
	Probes *Probes
	// Store, Engine and Status serve the events pages and the JSON API.
	Store  Store
	Engine Distributor
	Status StatusReader
	// Live serves the SSE streams (started and stopped by its owner); nil answers the stream
	// routes with 204 (no live updates configured: Datastar stops).
	Live *live.Streams
	// Announce signals new events to open lists; nil = new events appear on their next load.
	Announce EventAnnouncer
	// Reports and Accounts serve the manager pages: reports, CSV export, audit log, users and
	// API tokens (reports.go, admin.go). Nil answers those pages with 503.
	Reports  ReportStore
	Accounts AccountAdmin
	// SecureCookies marks cookies Secure and gives the session and CSRF cookies the __Host- prefix.
	SecureCookies bool
	// SessionMaxAge is the session cookie's lifetime; use the auth absolute timeout (default 12h).
	SessionMaxAge time.Duration
	// DefaultZone is DEFAULT_TIMEZONE: the time zone of viewers who chose none (nil: Asia/Seoul).
	// Zones stores the users' own choice (db.DB); nil answers POST /timezone with 503.
	DefaultZone *time.Location
	Zones       ZoneStore
	Logger      *slog.Logger
	// KakaoQuietHours is KAKAO_QUIET_HOURS: during the window the detail page says KakaoTalk will
	// be sent when it ends (the zero value: off).
	KakaoQuietHours quiethours.Window
	// StoreAccounts and OAuth serve the stores pages' connect and disconnect (stores_pages.go);
	// nil StoreAccounts answers them 503, nil OAuth offers the CLI for Instagram and Naver.
	// PublicURL is PUBLIC_URL when it was configured: the OAuth redirect URI's base ("" = the
	// request's scheme and host).
	StoreAccounts StoreAccounts
	OAuth         OAuthConnector
	PublicURL     string
}

// Handlers serves every route; web.New registers its methods in the routes table.
type Handlers struct {
	deps   Deps
	logger *slog.Logger
	totals listTotals // the filtered events list's totals, shared for a moment (pages.go)
}

// New returns the handlers over deps.
func New(deps Deps) *Handlers {
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.SessionMaxAge <= 0 {
		deps.SessionMaxAge = 12 * time.Hour
	}
	if deps.Probes == nil {
		deps.Probes = NewProbes(ProbeDeps{DB: deps.DB, Redis: deps.Redis, Logger: deps.Logger})
	}
	return &Handlers{deps: deps, logger: deps.Logger.With(slog.String("component", "handlers"))}
}

// Cookie names. The __Host- prefix (Secure, Path=/, no Domain) pins a cookie to this exact origin.
const (
	LangCookie = "lang"
	// CSRFContextKey is where the web CSRF middleware stores the request's token.
	CSRFContextKey = "csrf"
)

// SessionCookieName is the session cookie's name.
func SessionCookieName(secure bool) string {
	if secure {
		return "__Host-dist_session"
	}
	return "dist_session"
}

// DeviceCookieName is the device cookie's name: a browser that logged in before presents it, so
// other people's failed logins never lock it out (auth.LoginDevice). It outlives sessions and logout.
func DeviceCookieName(secure bool) string {
	if secure {
		return "__Host-dist_device"
	}
	return "dist_device"
}

// CSRFCookieName is the CSRF cookie's name.
func CSRFCookieName(secure bool) string {
	if secure {
		return "__Host-dist_csrf"
	}
	return "dist_csrf"
}

// Principal returns who makes the request (set by the web auth middleware).
func Principal(c echo.Context) (model.Principal, bool) {
	return auth.FromContext(c.Request().Context())
}

// CSRFToken returns the request's CSRF token for forms and the _csrf signal.
func CSRFToken(c echo.Context) string {
	s, _ := c.Get(CSRFContextKey).(string)
	return s
}

// Lang returns the UI language of the request: the lang cookie, else Accept-Language, else English.
func Lang(c echo.Context) string {
	var cookie string
	if ck, err := c.Cookie(LangCookie); err == nil {
		cookie = ck.Value
	}
	return views.ResolveLang(cookie, c.Request().Header.Get("Accept-Language"))
}

// NewPage returns the props every full page needs, titled by catalogue key titleKey.
func NewPage(c echo.Context, titleKey string) views.Page {
	lang := Lang(c)
	p := views.Page{Lang: lang, Title: views.T(lang, titleKey), CSRF: CSRFToken(c), Path: SafeNext(c.Request().URL.RequestURI()), Zone: Zone(c)}
	if pr, ok := Principal(c); ok {
		p.Principal = &pr
	}
	return p
}

// Render writes a templ component as an HTML response with the given status. It renders into a
// buffer first, so a failing component still leaves room for an error page.
func Render(c echo.Context, status int, comp templ.Component) error {
	buf, err := views.Render(c.Request().Context(), comp) // a pooled buffer
	if err != nil {
		return fmt.Errorf("render page: %w", err)
	}
	defer views.Release(buf)
	return c.HTMLBlob(status, buf.Bytes())
}

// SafeNext returns next when it is a local path on this site ("/..."), else "". It refuses
// protocol-relative and backslash tricks ("//evil", "/\evil"), schemes and control characters, so a
// login link cannot redirect anywhere else.
func SafeNext(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' {
		return ""
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return ""
	}
	if strings.ContainsAny(next, "\\") || strings.IndexFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	return next
}

// LoginURL is where an anonymous visitor of next is sent.
func LoginURL(next string) string {
	if next = SafeNext(next); next == "" || next == "/" {
		return "/login"
	}
	return "/login?next=" + url.QueryEscape(next)
}

// SetCookie writes a cookie with the project's defaults: Path=/, HttpOnly, no Domain, Secure when
// served over TLS. maxAge < 0 deletes the cookie; 0 makes it last for the browser session.
func SetCookie(c echo.Context, secure bool, name, value string, maxAge time.Duration, sameSite http.SameSite) {
	ck := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   secure,
		SameSite: sameSite,
	}
	switch {
	case maxAge < 0:
		ck.MaxAge = -1
		ck.Expires = time.Unix(0, 0)
	case maxAge > 0:
		ck.MaxAge = int(maxAge.Seconds())
	}
	c.SetCookie(ck)
}
