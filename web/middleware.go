package web

import (
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/marketing-platform/distribution/handlers"
	"github.com/marketing-platform/distribution/internal/auth"
	"github.com/marketing-platform/distribution/internal/logctx"
	"github.com/marketing-platform/distribution/internal/model"
)

// CSP is the Content-Security-Policy of every response. Datastar compiles data-* expressions with
// Function(), hence 'unsafe-eval'; nothing inline, nothing from other origins but images over
// https (an event's image URL is shown as a thumbnail; plain http ones only as links).
const CSP = "default-src 'none'; script-src 'self' 'unsafe-eval'; connect-src 'self'; img-src 'self' data: https:; " +
	"style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// use installs the middleware chain, outermost first.
func (s *Server) use() {
	if s.cfg.Tracing != nil {
		s.e.Use(s.cfg.Tracing) // the server span covers every other middleware
	}
	s.e.Use(
		middleware.RequestIDWithConfig(middleware.RequestIDConfig{
			// The id goes into the request context too: every log line logged with it
			// (handler, engine, db) carries request_id (logctx.Handler).
			RequestIDHandler: func(c echo.Context, id string) {
				req := c.Request()
				c.SetRequest(req.WithContext(logctx.WithRequestID(req.Context(), id)))
			},
		}),
		s.requestLogger(),
		middleware.RecoverWithConfig(middleware.RecoverConfig{
			LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
				s.logger.Error("panic in handler", slog.String("request_id", requestID(c)),
					slog.Any("error", err), slog.String("stack", string(stack)))
				return err
			},
			DisableStackAll:     true, // this goroutine only
			DisableErrorHandler: true, // the request logger hands the error to handleError
		}),
		s.securityHeaders,
		middleware.BodyLimit(s.cfg.BodyLimit),
		s.authenticate,
		s.csrfNotInURL,
		middleware.CSRFWithConfig(middleware.CSRFConfig{
			Skipper:        s.skipCSRF,
			TokenLookup:    "header:X-CSRF-Token,form:_csrf",
			ContextKey:     handlers.CSRFContextKey,
			CookieName:     handlers.CSRFCookieName(s.cfg.SecureCookies),
			CookiePath:     "/",
			CookieHTTPOnly: true,
			CookieSecure:   s.cfg.SecureCookies,
			CookieSameSite: http.SameSiteStrictMode,
			ErrorHandler: func(error, echo.Context) error {
				return model.Errork(model.EFORBIDDEN, "err.csrf", "missing or invalid CSRF token; reload the page and try again")
			},
		}),
	)
}

// ipExtractor believes X-Forwarded-For only from the configured proxies; otherwise the socket
// address is the client, so a forged or rotating X-Forwarded-For cannot dodge login throttling.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

func requestID(c echo.Context) string { return c.Response().Header().Get(echo.HeaderXRequestID) }

// quietPaths are polled by probes and scrapers: logged at debug level.
var quietPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

func (s *Server) requestLogger() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		HandleError:  true, // handleError writes the response, so the logged status is the real one
		LogStatus:    true,
		LogMethod:    true,
		LogURIPath:   true,
		LogRoutePath: true,
		LogLatency:   true,
		LogRemoteIP:  true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelInfo
			switch {
			case v.Status >= 500:
				level = slog.LevelError
			case quietPaths[v.URIPath], strings.HasPrefix(c.Response().Header().Get(echo.HeaderContentType), "text/event-stream"):
				level = slog.LevelDebug // SSE streams log once per (re)connect: noise at info
			}
			attrs := []slog.Attr{
				slog.String("request_id", requestID(c)),
				slog.String("method", v.Method),
				slog.String("path", v.URIPath),
				slog.String("route", v.RoutePath),
				slog.Int("status", v.Status),
				slog.Float64("duration_ms", float64(v.Latency.Microseconds())/1000),
				slog.String("ip", v.RemoteIP),
			}
			if p, ok := auth.FromContext(c.Request().Context()); ok {
				attrs = append(attrs, slog.Int64("user_id", p.UserID), slog.Int64("token_id", p.TokenID))
			}
			s.logger.LogAttrs(c.Request().Context(), level, "request", attrs...)
			return nil
		},
	})
}

// securityHeaders sets the headers every response carries, errors and static files included.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if s.cfg.SecureCookies {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		if !isStatic(c.Request().URL.Path) {
			// Pages and API answers depend on who asks: never stored by browsers or proxies.
			h.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

func isStatic(path string) bool { return strings.HasPrefix(path, "/static/") }

// isMachine reports routes whose clients are programs: they get JSON errors and 401, never redirects.
func isMachine(path string) bool {
	return path == "/api" || strings.HasPrefix(path, "/api/") || quietPaths[path]
}

func isDatastar(c echo.Context) bool { return c.Request().Header.Get("Datastar-Request") == "true" }

// authenticate finds the principal (bearer token, else session cookie) and puts it in the request
// context, then denies by default: only routes marked public in the table pass without one.
// A request carrying an Authorization header is judged by it alone, never by a cookie.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		public := s.public[req.Method+" "+c.Path()]
		p, ok, err := s.identify(c)
		if err != nil && !public {
			return err
		}
		if ok {
			c.SetRequest(req.WithContext(auth.NewContext(req.Context(), p)))
			return next(c)
		}
		if public {
			return next(c)
		}
		if isMachine(req.URL.Path) || isDatastar(c) {
			return model.Errork(model.EUNAUTHORIZED, "error.401", "authentication required: log in or send an API token")
		}
		if req.Method == http.MethodGet || req.Method == http.MethodHead {
			return c.Redirect(http.StatusSeeOther, handlers.LoginURL(req.URL.RequestURI()))
		}
		return c.Redirect(http.StatusSeeOther, "/login")
	}
}

func (s *Server) identify(c echo.Context) (model.Principal, bool, error) {
	req := c.Request()
	if h := req.Header.Get(echo.HeaderAuthorization); h != "" {
		scheme, token, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return model.Principal{}, false, model.Errorf(model.EUNAUTHORIZED, "unsupported Authorization scheme; use Bearer")
		}
		p, err := s.auth.AuthenticateToken(req.Context(), strings.TrimSpace(token))
		if err != nil {
			return model.Principal{}, false, err
		}
		return p, true, nil
	}
	name := handlers.SessionCookieName(s.cfg.SecureCookies)
	ck, err := req.Cookie(name)
	if err != nil || ck.Value == "" {
		return model.Principal{}, false, nil
	}
	p, err := s.auth.Authenticate(req.Context(), ck.Value)
	if model.ErrorCode(err) == model.EUNAUTHORIZED {
		// Expired or unknown: drop the cookie so the browser stops sending it.
		handlers.SetCookie(c, s.cfg.SecureCookies, name, "", -1, http.SameSiteLaxMode)
		return model.Principal{}, false, nil
	}
	if err != nil {
		return model.Principal{}, false, err
	}
	return p, true, nil
}

// skipCSRF: bearer-token requests carry no ambient credentials (nothing a foreign site can make a
// browser send), and static files and ops probes change nothing. Everything else, API calls made
// with a session cookie included, must pass the CSRF check.
func (s *Server) skipCSRF(c echo.Context) bool {
	if p, ok := auth.FromContext(c.Request().Context()); ok && p.TokenID != 0 {
		return true
	}
	path := c.Request().URL.Path
	return isStatic(path) || quietPaths[path]
}

// csrfNotInURL refuses a state-changing request that carries a CSRF token in its query string.
// echo's "form:" lookup reads http.Request.Form, which includes the URL's query, so without this a
// token would be accepted from a link; a token in a URL also leaks into logs, history and Referer.
// Only the X-CSRF-Token header and the _csrf form field (the body) carry it.
func (s *Server) csrfNotInURL(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			return next(c)
		}
		if !s.skipCSRF(c) && c.Request().URL.Query().Has("_csrf") {
			return model.Errork(model.EFORBIDDEN, "err.csrf", "the CSRF token goes in the X-CSRF-Token header or the _csrf form field, never in the URL")
		}
		return next(c)
	}
}

// RequireRole lets a request through only when its principal has at least role min
// (marketer < staff < manager); others get 403 (an HTML page, or JSON under /api).
func RequireRole(min model.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, ok := auth.FromContext(c.Request().Context())
			if !ok {
				return model.Errork(model.EUNAUTHORIZED, "error.401", "authentication required")
			}
			if !p.Role.AtLeast(min) {
				return model.Errork(model.EFORBIDDEN, "err.needs_role", "this needs the %s role", min)
			}
			return next(c)
		}
	}
}

// metricsGuard: Prometheus on the same host scrapes without credentials; anyone else needs a
// manager session or token. Behind a reverse proxy on the same host, set TrustedProxies, or every
// request looks like loopback.
func (s *Server) metricsGuard(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ip := net.ParseIP(c.RealIP()); ip != nil && ip.IsLoopback() {
			return next(c)
		}
		return RequireRole(model.RoleManager)(next)(c)
	}
}
