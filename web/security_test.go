package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/web"
)

// access is who may call a route: public, any logged-in principal (""), or a minimum role.
type access struct {
	public bool
	role   model.Role
}

// routeAccess is the expected access of every route of the routes table (ASVS 8.3.1: marketer
// views, starts and cancels; staff also retries; manager also reports, export, users, tokens, audit).
// TestRouteRoleMatrix fails when a route is added without a row here.
var routeAccess = map[string]access{
	"GET /login": {public: true}, "POST /login": {public: true}, "POST /logout": {}, "POST /lang": {public: true},
	"POST /timezone": {public: true},
	"GET /":          {}, "POST /events": {role: model.RoleMarketer}, "GET /events/:id": {},
	"POST /events/:id/distribution":                {role: model.RoleMarketer},
	"POST /events/:id/channels/:ch/retry":          {role: model.RoleStaff},
	"POST /events/:id/retry-failed":                {role: model.RoleStaff},
	"POST /events/:id/unschedule":                  {role: model.RoleStaff},
	"POST /events/:id/channels/:ch/cancel":         {role: model.RoleMarketer},
	"POST /events/:id/cancel":                      {role: model.RoleMarketer},
	"GET /retries":                                 {role: model.RoleStaff},
	"POST /retries":                                {role: model.RoleStaff},
	"GET /events/stream":                           {},
	"GET /events/:id/stream":                       {},
	"GET /reports":                                 {role: model.RoleManager},
	"GET /reports/export.csv":                      {role: model.RoleManager},
	"GET /reports/export.xlsx":                     {role: model.RoleManager},
	"GET /audit":                                   {role: model.RoleManager},
	"GET /users":                                   {role: model.RoleManager},
	"POST /users":                                  {role: model.RoleManager},
	"POST /users/:id/role":                         {role: model.RoleManager},
	"POST /users/:id/disable":                      {role: model.RoleManager},
	"POST /users/:id/enable":                       {role: model.RoleManager},
	"POST /users/:id/password":                     {role: model.RoleManager},
	"POST /users/:id/unlock":                       {role: model.RoleManager},
	"GET /tokens":                                  {role: model.RoleManager},
	"POST /tokens":                                 {role: model.RoleManager},
	"POST /tokens/:id/revoke":                      {role: model.RoleManager},
	"GET /api/v1/openapi.json":                     {},
	"GET /api/v1/events":                           {},
	"POST /api/v1/events":                          {role: model.RoleMarketer},
	"GET /api/v1/events/:id":                       {},
	"GET /api/v1/events/:id/distribution":          {},
	"POST /api/v1/events/:id/distribution":         {role: model.RoleMarketer},
	"GET /api/v1/events/:id/distribution/attempts": {},
	"POST /api/v1/events/:id/distribution/channels/:ch/retry":  {role: model.RoleStaff},
	"POST /api/v1/events/:id/distribution/retry-failed":        {role: model.RoleStaff},
	"PUT /api/v1/events/:id/schedule":                          {role: model.RoleMarketer},
	"GET /api/v1/events/:id/schedule":                          {},
	"DELETE /api/v1/events/:id/schedule":                       {role: model.RoleStaff},
	"POST /api/v1/events/:id/distribution/cancel":              {role: model.RoleMarketer},
	"POST /api/v1/events/:id/distribution/channels/:ch/cancel": {role: model.RoleMarketer},
	"POST /api/v1/retries/preview":                             {role: model.RoleStaff},
	"POST /api/v1/retries":                                     {role: model.RoleStaff},
	"GET /healthz":                                             {public: true}, "GET /readyz": {public: true},
	"POST /api/v1/channels/:ch/probe":     {role: model.RoleStaff},
	"POST /api/v1/stores":                 {role: model.RoleManager},
	"GET /api/v1/stores":                  {},
	"GET /api/v1/stores/:id":              {},
	"POST /channels/:ch/probe":            {role: model.RoleStaff},
	"POST /events/:id/channels/:ch/probe": {role: model.RoleStaff},
	"GET /metrics":                        {public: true}, // loopback only, else manager: TestMetricsAccess
	"GET /static/*":                       {public: true},
	"HEAD /static/*":                      {public: true},

	// Events: edit, duplicate and delete (marketer+, as creating).
	"POST /events/:id/edit": {role: model.RoleMarketer}, "POST /events/:id/duplicate": {role: model.RoleMarketer},
	"POST /events/:id/delete": {role: model.RoleMarketer}, "PATCH /api/v1/events/:id": {role: model.RoleMarketer},
	"DELETE /api/v1/events/:id": {role: model.RoleMarketer}, "POST /api/v1/events/:id/duplicate": {role: model.RoleMarketer},

	// Stores pages and the OAuth callback (managers).
	"GET /stores": {role: model.RoleManager}, "GET /stores/:id": {role: model.RoleManager},
	"POST /stores/:id/channels/:ch/connect": {role: model.RoleManager}, "POST /stores/:id/channels/:ch/disconnect": {role: model.RoleManager},
	"GET /stores/oauth/callback": {role: model.RoleManager},
}

var roleRank = map[model.Role]int{model.RoleMarketer: 1, model.RoleStaff: 2, model.RoleManager: 3}

// concrete turns a route pattern into a URL that reaches it.
func concrete(path string) string {
	r := strings.NewReplacer(":id/channels", "ev-1/channels", ":ch", "NAVER", "*", "app.css")
	p := r.Replace(path)
	if strings.HasPrefix(p, "/users/") || strings.HasPrefix(p, "/tokens/") {
		return strings.Replace(p, ":id", "1", 1)
	}
	return strings.ReplaceAll(p, ":id", "ev-1")
}

// productRoutes are the registered routes minus the throwaway ones newApp adds.
func productRoutes(t *testing.T, a *app) []string {
	t.Helper()
	var out []string
	for _, r := range a.srv.Echo().Routes() {
		if strings.HasPrefix(r.Path, "/test/") || strings.HasPrefix(r.Path, "/api/v1/test") || r.Method == "echo_route_any" {
			continue
		}
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// Every route × every role (anonymous, marketer, staff, manager) → the expected outcome: public
// routes never refuse, others refuse anonymous callers (401 for API/Datastar, a redirect to the
// login page otherwise), refuse a too-low role with 403, and let the rest through. The table
// must cover every route the server registers (deny by default is also checked: no route is
// public unless the table says so). Callers use API tokens, so CSRF does not blur the answer;
// each answer also carries the security headers.
func TestRouteRoleMatrix(t *testing.T) {
	t.Parallel()
	a := newApp(t, web.Config{})
	routes := productRoutes(t, a)
	seen := map[string]bool{}
	for _, rt := range routes {
		seen[rt] = true
		if _, ok := routeAccess[rt]; !ok {
			t.Errorf("route %s is not in the security test's access table: add its expected access", rt)
		}
	}
	for rt := range routeAccess {
		if !seen[rt] {
			t.Errorf("access table names %s, which the server does not register", rt)
		}
	}
	tokens := map[model.Role]string{}
	for _, role := range []model.Role{model.RoleMarketer, model.RoleStaff, model.RoleManager} {
		tok, err := a.auth.CreateToken(context.Background(), "sec-"+string(role), role, "test")
		if err != nil {
			t.Fatal(err)
		}
		tokens[role] = tok
	}
	checked := 0
	for _, rt := range routes {
		want, ok := routeAccess[rt]
		if !ok {
			continue
		}
		method, pattern, _ := strings.Cut(rt, " ")
		path := concrete(pattern)
		for _, role := range []model.Role{"", model.RoleMarketer, model.RoleStaff, model.RoleManager} {
			c := a.client()
			c.ip = "192.0.2.10" // not loopback: /metrics is guarded
			hdr := map[string]string{}
			if role != "" {
				hdr["Authorization"] = "Bearer " + tokens[role]
			}
			if method == http.MethodPost {
				hdr["Content-Type"] = "application/json"
			}
			r := c.do(method, path, strings.NewReader("{}"), hdr)
			checked++
			who := string(role)
			if who == "" {
				who = "anonymous"
			}
			code := r.StatusCode
			refusedAnon := code == http.StatusUnauthorized || (code == http.StatusSeeOther && strings.HasPrefix(r.Header.Get("Location"), "/login"))
			switch {
			case want.public && rt == "GET /metrics":
				// loopback-only or manager: the guard is TestMetricsAccess's subject.
			case want.public && method == http.MethodPost:
				// /login and /lang: anonymous posts need the CSRF token (TestCSRF); a bad login is 401.
			case want.public:
				if code == http.StatusUnauthorized || code == http.StatusForbidden {
					t.Errorf("%s %s as %s = %d; a public route refused", method, path, who, code)
				}
			case role == "":
				if !refusedAnon {
					t.Errorf("%s %s anonymous = %d (Location %q); want 401 or a redirect to /login", method, path, code, r.Header.Get("Location"))
				}
			case want.role != "" && roleRank[role] < roleRank[want.role]:
				if code != http.StatusForbidden {
					t.Errorf("%s %s as %s = %d; want 403 (needs %s)", method, path, who, code, want.role)
				}
			default:
				if code == http.StatusUnauthorized || code == http.StatusForbidden || (refusedAnon && rt != "POST /logout") {
					t.Errorf("%s %s as %s = %d; want it let through", method, path, who, code)
				}
			}
			if r.Header.Get("Content-Security-Policy") != web.CSP || r.Header.Get("X-Content-Type-Options") != "nosniff" ||
				r.Header.Get("Referrer-Policy") == "" || r.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("%s %s as %s (%d): security headers missing: CSP %q nosniff %q", method, path, who, code,
					r.Header.Get("Content-Security-Policy"), r.Header.Get("X-Content-Type-Options"))
			}
			if !strings.HasPrefix(path, "/static/") && r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("%s %s as %s: Cache-Control %q, want no-store", method, path, who, r.Header.Get("Cache-Control"))
			}
		}
	}
	// 404s and wrong methods carry the headers too.
	for _, p := range []string{"/nope", "/static/missing.css", "/api/v1/nope"} {
		r := a.client().get(p)
		if r.Header.Get("Content-Security-Policy") != web.CSP || r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s (%d): security headers missing", p, r.StatusCode)
		}
	}
	t.Logf("%d routes × 4 roles = %d requests checked", len(routes), checked)
}

// GET never changes state: hitting every GET route as every role leaves the row count of every
// table unchanged (sessions are created only by POST /login, which this test does before the
// snapshot).
func TestGetChangesNothing(t *testing.T) {
	t.Parallel()
	a := newApp(t, web.Config{})
	a.user("mgr@example.com", model.RoleManager)
	browser := a.client()
	browser.mustLogin("mgr@example.com")
	tok, err := a.auth.CreateToken(context.Background(), "sec-get", model.RoleManager, "test")
	if err != nil {
		t.Fatal(err)
	}
	snapshot := func() map[string]int {
		rows, err := a.db.Pool.Query(context.Background(), `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for rows.Next() {
			var n string
			rows.Scan(&n) //nolint:errcheck
			names = append(names, n)
		}
		rows.Close()
		out := map[string]int{}
		for _, n := range names {
			out[n] = a.count(`SELECT count(*) FROM "` + n + `"`)
		}
		return out
	}
	before := snapshot()
	n := 0
	for _, rt := range productRoutes(t, a) {
		method, pattern, _ := strings.Cut(rt, " ")
		if method != http.MethodGet {
			continue
		}
		path := concrete(pattern)
		a.client().get(path)
		browser.get(path)
		browser.do(method, path, nil, map[string]string{"Datastar-Request": "true"})
		a.client().do(method, path, nil, map[string]string{"Authorization": "Bearer " + tok})
		n++
	}
	after := snapshot()
	for table, c := range before {
		if after[table] != c {
			t.Errorf("table %s: %d rows before the GETs, %d after", table, c, after[table])
		}
	}
	t.Logf("%d GET routes × 4 callers; %d tables unchanged", n, len(before))
}
