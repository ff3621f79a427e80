package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/marketing-platform/distribution/handlers"
	"github.com/marketing-platform/distribution/internal/model"
)

// route is one row of the routes table. The zero access is "logged in": a route is public only
// when the table says so (deny by default).
type route struct {
	method  string
	path    string
	handler echo.HandlerFunc
	public  bool       // anyone, logged in or not
	role    model.Role // minimum role; "" = any logged-in principal
	mw      []echo.MiddlewareFunc
}

// routes is the routes table: every URL the server answers, who may call it, what serves it.
func (s *Server) routes(h *handlers.Handlers) []route {
	return []route{
		// Session
		{method: http.MethodGet, path: "/login", handler: h.LoginPage, public: true},
		{method: http.MethodPost, path: "/login", handler: h.Login, public: true},
		{method: http.MethodPost, path: "/logout", handler: h.Logout},
		{method: http.MethodPost, path: "/lang", handler: h.SetLang, public: true},
		{method: http.MethodPost, path: "/timezone", handler: h.SetZone, public: true},

		// Pages
		{method: http.MethodGet, path: "/", handler: h.EventsList},
		{method: http.MethodPost, path: "/events", handler: h.CreateEventForm, role: model.RoleMarketer},
		{method: http.MethodGet, path: "/events/:id", handler: h.EventDetail},
		{method: http.MethodPost, path: "/events/:id/distribution", handler: h.StartDistributionForm, role: model.RoleMarketer},
		{method: http.MethodPost, path: "/events/:id/edit", handler: h.UpdateEventForm, role: model.RoleMarketer},
		{method: http.MethodPost, path: "/events/:id/duplicate", handler: h.DuplicateEventForm, role: model.RoleMarketer},
		{method: http.MethodPost, path: "/events/:id/delete", handler: h.DeleteEventForm, role: model.RoleMarketer},
		{method: http.MethodPost, path: "/events/:id/unschedule", handler: h.UnscheduleForm, role: model.RoleStaff},
		{method: http.MethodPost, path: "/events/:id/channels/:ch/retry", handler: h.RetryChannelForm, role: model.RoleStaff},
		{method: http.MethodPost, path: "/events/:id/retry-failed", handler: h.RetryFailedForm, role: model.RoleStaff},
		{method: http.MethodPost, path: "/events/:id/channels/:ch/cancel", handler: h.CancelChannelForm, role: model.RoleMarketer},
		{method: http.MethodPost, path: "/events/:id/cancel", handler: h.CancelDistributionForm, role: model.RoleMarketer},
		{method: http.MethodPost, path: "/events/:id/channels/:ch/probe", handler: h.ProbeChannelCardForm, role: model.RoleStaff},
		{method: http.MethodGet, path: "/retries", handler: h.BulkRetryPage, role: model.RoleStaff},
		{method: http.MethodPost, path: "/retries", handler: h.BulkRetryForm, role: model.RoleStaff},
		{method: http.MethodPost, path: "/channels/:ch/probe", handler: h.ProbeChannelForm, role: model.RoleStaff},
		// Live streams (SSE): no timeout middleware; they clear the server's write timeout per stream.
		{method: http.MethodGet, path: "/events/stream", handler: h.EventsStream},
		{method: http.MethodGet, path: "/events/:id/stream", handler: h.EventStream},

		// Manager pages: reports, CSV export, audit log (read-only), users, API tokens.
		{method: http.MethodGet, path: "/reports", handler: h.Reports, role: model.RoleManager},
		{method: http.MethodGet, path: "/reports/export.csv", handler: h.ExportCSV, role: model.RoleManager},
		{method: http.MethodGet, path: "/reports/export.xlsx", handler: h.ExportXLSX, role: model.RoleManager},
		{method: http.MethodGet, path: "/audit", handler: h.Audit, role: model.RoleManager},
		{method: http.MethodGet, path: "/users", handler: h.Users, role: model.RoleManager},
		{method: http.MethodPost, path: "/users", handler: h.CreateUser, role: model.RoleManager},
		{method: http.MethodPost, path: "/users/:id/role", handler: h.ChangeUserRole, role: model.RoleManager},
		{method: http.MethodPost, path: "/users/:id/disable", handler: h.DisableUser, role: model.RoleManager},
		{method: http.MethodPost, path: "/users/:id/enable", handler: h.EnableUser, role: model.RoleManager},
		{method: http.MethodPost, path: "/users/:id/password", handler: h.ResetUserPassword, role: model.RoleManager},
		{method: http.MethodPost, path: "/users/:id/unlock", handler: h.ClearUserLockout, role: model.RoleManager},
		{method: http.MethodGet, path: "/tokens", handler: h.Tokens, role: model.RoleManager},
		{method: http.MethodPost, path: "/tokens", handler: h.CreateToken, role: model.RoleManager},
		{method: http.MethodPost, path: "/tokens/:id/revoke", handler: h.RevokeToken, role: model.RoleManager},
		// Stores and their channel accounts (handlers/stores_pages.go): connect through the
		// platforms' OAuth (the callback is the redirect URI registered with them), disconnect.
		{method: http.MethodGet, path: "/stores", handler: h.StoresPage, role: model.RoleManager},
		{method: http.MethodGet, path: "/stores/:id", handler: h.StorePage, role: model.RoleManager},
		{method: http.MethodPost, path: "/stores/:id/channels/:ch/connect", handler: h.ConnectAccountForm, role: model.RoleManager},
		{method: http.MethodPost, path: "/stores/:id/channels/:ch/disconnect", handler: h.DisconnectAccountForm, role: model.RoleManager},
		{method: http.MethodGet, path: "/stores/oauth/callback", handler: h.OAuthCallback, role: model.RoleManager},

		// JSON API (bearer token or session; session writes pass CSRF). Contract: DESIGN.md,
		// handlers/openapi.json.
		{method: http.MethodGet, path: "/api/v1/openapi.json", handler: h.APIOpenAPI},
		{method: http.MethodGet, path: "/api/v1/events", handler: h.APIListEvents},
		{method: http.MethodPost, path: "/api/v1/events", handler: h.APICreateEvent, role: model.RoleMarketer},
		{method: http.MethodGet, path: "/api/v1/events/:id", handler: h.APIGetEvent},
		{method: http.MethodPatch, path: "/api/v1/events/:id", handler: h.APIUpdateEvent, role: model.RoleMarketer},
		{method: http.MethodDelete, path: "/api/v1/events/:id", handler: h.APIDeleteEvent, role: model.RoleMarketer},
		{method: http.MethodPost, path: "/api/v1/events/:id/duplicate", handler: h.APIDuplicateEvent, role: model.RoleMarketer},
		{method: http.MethodGet, path: "/api/v1/events/:id/distribution", handler: h.APIGetDistribution},
		{method: http.MethodPost, path: "/api/v1/events/:id/distribution", handler: h.APIStartDistribution, role: model.RoleMarketer},
		{method: http.MethodGet, path: "/api/v1/events/:id/distribution/attempts", handler: h.APIAttempts},
		{method: http.MethodPut, path: "/api/v1/events/:id/schedule", handler: h.APIPutSchedule, role: model.RoleMarketer},
		{method: http.MethodGet, path: "/api/v1/events/:id/schedule", handler: h.APIGetSchedule},
		{method: http.MethodDelete, path: "/api/v1/events/:id/schedule", handler: h.APIDeleteSchedule, role: model.RoleStaff},
		{method: http.MethodPost, path: "/api/v1/events/:id/distribution/channels/:ch/retry", handler: h.APIRetryChannel, role: model.RoleStaff},
		{method: http.MethodPost, path: "/api/v1/events/:id/distribution/retry-failed", handler: h.APIRetryFailed, role: model.RoleStaff},
		{method: http.MethodPost, path: "/api/v1/events/:id/distribution/cancel", handler: h.APICancelDistribution, role: model.RoleMarketer},
		{method: http.MethodPost, path: "/api/v1/events/:id/distribution/channels/:ch/cancel", handler: h.APICancelChannel, role: model.RoleMarketer},
		{method: http.MethodPost, path: "/api/v1/retries/preview", handler: h.APIPreviewRetries, role: model.RoleStaff},
		{method: http.MethodPost, path: "/api/v1/retries", handler: h.APIRetryMatching, role: model.RoleStaff},
		{method: http.MethodPost, path: "/api/v1/channels/:ch/probe", handler: h.APIProbeChannel, role: model.RoleStaff},
		{method: http.MethodGet, path: "/api/v1/stores", handler: h.APIListStores},
		{method: http.MethodPost, path: "/api/v1/stores", handler: h.APICreateStore, role: model.RoleManager},
		{method: http.MethodGet, path: "/api/v1/stores/:id", handler: h.APIGetStore},

		// Ops
		{method: http.MethodGet, path: "/healthz", handler: h.Healthz, public: true},
		{method: http.MethodGet, path: "/readyz", handler: h.Readyz, public: true},
		{method: http.MethodGet, path: "/metrics", handler: echo.WrapHandler(s.cfg.Metrics), public: true, mw: []echo.MiddlewareFunc{s.metricsGuard}},

		// Assets. HEAD answers like GET without a body (caches and link checkers use it).
		{method: http.MethodGet, path: "/static/*", handler: echo.WrapHandler(http.StripPrefix("/static/", s.cfg.Static)), public: true},
		{method: http.MethodHead, path: "/static/*", handler: echo.WrapHandler(http.StripPrefix("/static/", s.cfg.Static)), public: true},
	}
}

func (s *Server) add(r route) {
	mw := r.mw
	if r.role != "" {
		mw = append([]echo.MiddlewareFunc{RequireRole(r.role)}, mw...)
	}
	s.e.Add(r.method, r.path, r.handler, mw...)
	if r.public {
		s.public[r.method+" "+r.path] = true
	}
}
