package handlers_test

// One file on purpose: the tests share newAPIApp (server, engine, tokens) and its JSON assertion
// helpers, and the role matrix and bad-input tables must list every route in one place.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/handlers"
	service "github.com/marketing-platform/distribution/internal/app"
	"github.com/marketing-platform/distribution/internal/auth"
	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
	"github.com/marketing-platform/distribution/web"
)

// TestMain drops the template database dbtest migrated for this test binary.
func TestMain(m *testing.M) { dbtest.Main(m) }

// apiApp is the service as serve builds it (internal/app, over a fresh database and a private
// Redis), with one API token per role. Requests go through the running web server's handler
// in-process, so a test chooses the client address.
type apiApp struct {
	t      *testing.T
	app    *service.App
	db     *db.DB
	srv    *web.Server
	auth   *auth.Service
	tokens map[model.Role]string
}

const apiPassword = "password1"

// newAPIApp builds the service. With workers == 0 it is the web role and its engine is
// insert-only (jobs are enqueued, never run); otherwise it runs jobs through adapters.
func newAPIApp(t *testing.T, workers int, adapters func(model.Channel) channels.Adapter) *apiApp {
	t.Helper()
	s := newTestService(t, workers, adapters)
	a := &apiApp{t: t, app: s, db: s.Store, srv: s.Web(), auth: s.Auth, tokens: map[model.Role]string{}}
	for _, r := range []model.Role{model.RoleMarketer, model.RoleStaff, model.RoleManager} {
		tok, err := s.Auth.CreateToken(context.Background(), string(r)+"-bot", r, "test")
		if err != nil {
			t.Fatal(err)
		}
		a.tokens[r] = tok
	}
	return a
}

type apiResp struct {
	status int
	header http.Header
	raw    string
	method string
	path   string
}

// body decodes the answer as a JSON object.
func (r apiResp) body(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.raw), &m); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %v: %.300s", r.method, r.path, err, r.raw)
	}
	return m
}

// req sends one request through the whole server. body: nil (none), string or []byte (sent as is,
// Content-Type application/json unless hdr sets one), anything else (JSON-encoded).
func (a *apiApp) req(method, path, token string, body any, hdr map[string]string) apiResp {
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	case []byte:
		rd, ct = bytes.NewReader(b), "application/json"
	case io.Reader:
		rd, ct = b, "application/json"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			panic(err)
		}
		rd, ct = bytes.NewReader(j), "application/json"
	}
	r := httptest.NewRequest(method, "http://dist.test"+path, rd)
	r.RemoteAddr = "192.0.2.7:40000"
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	a.srv.Handler().ServeHTTP(rec, r)
	res := rec.Result()
	raw, _ := io.ReadAll(res.Body)
	return apiResp{status: res.StatusCode, header: res.Header, raw: string(raw), method: method, path: path}
}

func (a *apiApp) as(role model.Role, method, path string, body any) apiResp {
	return a.req(method, path, a.tokens[role], body, nil)
}

// exec writes rows directly (test setup), then keeps the read-through cache honest as the engine
// does after its commits: the Redis keys of every event there was or is are deleted, so the next
// read refills them from Postgres and the API answers what the rows now say.
func (a *apiApp) exec(sql string, args ...any) {
	a.t.Helper()
	ctx := context.Background()
	before := a.eventIDs()
	if _, err := a.db.Pool.Exec(ctx, sql, args...); err != nil {
		a.t.Fatal(err)
	}
	for _, id := range append(before, a.eventIDs()...) {
		if err := a.app.Cache.DeleteDistribution(ctx, id); err != nil {
			a.t.Fatalf("drop the cached distribution of %s: %v", id, err)
		}
	}
}

// eventIDs lists every event and distribution in the database.
func (a *apiApp) eventIDs() []string {
	a.t.Helper()
	rows, err := a.db.Pool.Query(context.Background(), `SELECT id FROM events UNION SELECT event_id FROM distribution_status`)
	if err != nil {
		a.t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		a.t.Fatal(err)
	}
	return ids
}

func (a *apiApp) count(sql string, args ...any) int {
	a.t.Helper()
	var n int
	if err := a.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		a.t.Fatal(err)
	}
	return n
}

// snapshot summarises every table a request could write: equal snapshots mean nothing was written.
func (a *apiApp) snapshot() string {
	a.t.Helper()
	var s string
	err := a.db.Pool.QueryRow(context.Background(), `SELECT concat_ws(' ',
		(SELECT count(*) FROM events), (SELECT count(*) FROM distribution_status),
		(SELECT count(*) || ':' || coalesce(sum(coalesce(retries, 0) + generation), 0) || ':' ||
			coalesce(string_agg(status, ',' ORDER BY id), '') || ':' || coalesce(max(updated_at)::text, '')
			FROM channel_status),
		(SELECT count(*) || ':' || coalesce(string_agg(overall_status, ',' ORDER BY id), '') FROM distribution_status),
		(SELECT count(*) FROM channel_attempts), (SELECT count(*) FROM audit_log), (SELECT count(*) FROM river_job))`).Scan(&s)
	if err != nil {
		a.t.Fatal(err)
	}
	return s
}

// event creates an event through the API (as a marketer) and returns its id.
func (a *apiApp) event(id string) string {
	a.t.Helper()
	r := a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events", map[string]any{"id": id, "title": "Event " + id})
	wantStatus(a.t, r, http.StatusCreated)
	return id
}

// start creates an event and starts its distribution to chans through the API.
func (a *apiApp) start(id string, chans ...model.Channel) {
	a.t.Helper()
	a.event(id)
	r := a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/"+id+"/distribution", map[string]any{"channels": chans})
	wantStatus(a.t, r, http.StatusAccepted)
}

// fail forces a channel FAILED (test setup: no need to wait for a real failure).
func (a *apiApp) fail(eventID string, ch model.Channel) {
	a.t.Helper()
	a.exec(`UPDATE channel_status SET status = 'FAILED', error_message = 'forced failure', completed_at = now(),
		updated_at = now() WHERE event_id = $1 AND channel = $2`, eventID, string(ch))
}

func wantStatus(t *testing.T, r apiResp, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s %s: status %d, want %d; body: %.400s", r.method, r.path, r.status, status, r.raw)
	}
}

// wantError checks the status and the error shape {"error": {"code", "message"}}, and that the
// message contains each of contains; it returns the whole body.
func wantError(t *testing.T, r apiResp, status int, code string, contains ...string) map[string]any {
	t.Helper()
	wantStatus(t, r, status)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: Content-Type %q, want JSON", r.method, r.path, ct)
	}
	m := r.body(t)
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("%s %s: no error object: %s", r.method, r.path, r.raw)
	}
	gotCode, _ := e["code"].(string)
	msg, _ := e["message"].(string)
	if (code != "" && gotCode != code) || msg == "" {
		t.Fatalf("%s %s: error %v, want code %q and a message", r.method, r.path, e, code)
	}
	for _, s := range contains {
		if !strings.Contains(msg, s) {
			t.Fatalf("%s %s: message %q does not contain %q", r.method, r.path, msg, s)
		}
	}
	return m
}

// wantKeys checks that m has exactly keys.
func wantKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	keys = slices.Clone(keys)
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Fatalf("%s keys = %v, want %v", what, got, keys)
	}
}

var (
	eventKeys        = []string{"id", "title", "description", "imageUrl", "storeName", "storeId", "createdAt", "distribution", "schedule"}
	distributionKeys = []string{"eventId", "overallStatus", "startedAt", "completedAt", "channels"}
	channelKeys      = []string{"channel", "status", "progress", "distributionId", "estimatedViews", "impressionSchedule",
		"postUrl", "postId", "messageId", "errorMessage", "retries", "lastRetryAt", "completedAt", "updatedAt",
		"waitingReason", "nextAttemptAt", "measuredViews", "measuredAt"}
	attemptKeys = []string{"channel", "attempt", "trigger", "startedAt", "finishedAt", "outcome", "error", "httpStatus"}
)

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// wantTypes checks the JSON type of fields of m; a type "a|b" allows either.
func wantTypes(t *testing.T, what string, m map[string]any, types map[string]string) {
	t.Helper()
	for k, want := range types {
		got := jsonType(m[k])
		if !slices.Contains(strings.Split(want, "|"), got) {
			t.Errorf("%s.%s is %s (%v), want %s", what, k, got, m[k], want)
		}
	}
}

func wantTime(t *testing.T, what string, v any) {
	t.Helper()
	s, _ := v.(string)
	if _, err := time.Parse(time.RFC3339Nano, s); err != nil || !strings.HasSuffix(s, "Z") {
		t.Errorf("%s = %v: want an RFC 3339 UTC time", what, v)
	}
}

// checkDistribution checks a distribution object against DESIGN's shape and returns its channels
// by code.
func checkDistribution(t *testing.T, d map[string]any, eventID string) map[string]map[string]any {
	t.Helper()
	wantKeys(t, "distribution", d, distributionKeys...)
	wantTypes(t, "distribution", d, map[string]string{"eventId": "string", "overallStatus": "string",
		"startedAt": "string", "completedAt": "string|null", "channels": "array"})
	if d["eventId"] != eventID {
		t.Errorf("eventId = %v, want %s", d["eventId"], eventID)
	}
	wantTime(t, "startedAt", d["startedAt"])
	out := map[string]map[string]any{}
	for _, c := range d["channels"].([]any) {
		ch, ok := c.(map[string]any)
		if !ok {
			t.Fatalf("channel entry %v is not an object", c)
		}
		wantKeys(t, "channel", ch, channelKeys...)
		wantTypes(t, fmt.Sprint(ch["channel"]), ch, map[string]string{
			"channel": "string", "status": "string", "progress": "number", "distributionId": "string|null",
			"estimatedViews": "number|null", "impressionSchedule": "array|null", "postUrl": "string|null",
			"postId": "string|null", "messageId": "string|null", "errorMessage": "string|null", "retries": "number",
			"lastRetryAt": "string|null", "completedAt": "string|null", "updatedAt": "string",
		})
		wantTime(t, "updatedAt", ch["updatedAt"])
		out[ch["channel"].(string)] = ch
	}
	return out
}

func TestAPIEvents(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil)

	title := `봄맞이 세일 🌸 <script>alert("x")</script> & "quotes"`
	r := a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events", map[string]any{
		"id": "spring-sale_2025", "title": title, "description": "설명\n두 줄", "imageUrl": "https://img.example/a.png", "storeName": "동네 빵집",
	})
	wantStatus(t, r, http.StatusCreated)
	if loc := r.header.Get("Location"); loc != "/api/v1/events/spring-sale_2025" {
		t.Errorf("Location = %q", loc)
	}
	ev := r.body(t)
	wantKeys(t, "event", ev, eventKeys...)
	wantTypes(t, "event", ev, map[string]string{"id": "string", "title": "string", "description": "string",
		"imageUrl": "string", "storeName": "string", "createdAt": "string", "distribution": "null"})
	if ev["id"] != "spring-sale_2025" || ev["title"] != title || ev["storeName"] != "동네 빵집" || ev["description"] != "설명\n두 줄" {
		t.Errorf("event not stored as sent: %v", ev)
	}
	wantTime(t, "createdAt", ev["createdAt"])
	if a.count(`SELECT count(*) FROM audit_log WHERE action = 'event.create' AND actor = 'token:marketer-bot' AND event_id = 'spring-sale_2025'`) != 1 {
		t.Error("event creation not audited with the token's name")
	}

	// No id: the server assigns a UUID. A UUID from the client is kept.
	gen := a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events", map[string]any{"title": "Generated"})
	wantStatus(t, gen, http.StatusCreated)
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if id, _ := gen.body(t)["id"].(string); !uuidRE.MatchString(id) {
		t.Errorf("generated id %q is not a UUID v4", id)
	}
	const clientUUID = "3f1c2a9e-8d4b-4c1e-9f7a-2b6d5e4c3a21"
	wantStatus(t, a.as(model.RoleManager, http.MethodPost, "/api/v1/events", map[string]any{"id": clientUUID, "title": "U"}), http.StatusCreated)
	wantError(t, a.as(model.RoleStaff, http.MethodPost, "/api/v1/events", map[string]any{"id": clientUUID, "title": "again"}),
		http.StatusConflict, "conflict", "already exists")

	// Detail.
	g := a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events/spring-sale_2025", nil)
	wantStatus(t, g, http.StatusOK)
	got := g.body(t)
	wantKeys(t, "event", got, eventKeys...)
	if got["title"] != title || got["createdAt"] != ev["createdAt"] {
		t.Errorf("GET event = %v, want %v", got, ev)
	}
	wantError(t, a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events/nope", nil), http.StatusNotFound, "not_found")

	// With a distribution, the event carries it.
	r = a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/spring-sale_2025/distribution", map[string]any{"channels": []string{"KAKAO", "URIDONGNETV"}})
	wantStatus(t, r, http.StatusAccepted)
	got = a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events/spring-sale_2025", nil).body(t)
	d, ok := got["distribution"].(map[string]any)
	if !ok {
		t.Fatalf("event distribution = %v", got["distribution"])
	}
	chs := checkDistribution(t, d, "spring-sale_2025")
	if len(chs) != 2 || chs["KAKAO"] == nil || chs["URIDONGNETV"] == nil {
		t.Errorf("channels = %v", chs)
	}

	// List: newest first, keyset pages, each with its distribution or null.
	l := a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events", nil)
	wantStatus(t, l, http.StatusOK)
	list := l.body(t)
	wantKeys(t, "list", list, "events", "nextCursor")
	if list["nextCursor"] != nil {
		t.Errorf("nextCursor = %v on the only page", list["nextCursor"])
	}
	events := list["events"].([]any)
	if len(events) != 3 {
		t.Fatalf("%d events, want 3", len(events))
	}
	var ids []string
	for _, e := range events {
		m := e.(map[string]any)
		wantKeys(t, "listed event", m, eventKeys...)
		ids = append(ids, m["id"].(string))
		if m["id"] == "spring-sale_2025" {
			checkDistribution(t, m["distribution"].(map[string]any), "spring-sale_2025")
		} else if m["distribution"] != nil {
			t.Errorf("%s: distribution %v, want null", m["id"], m["distribution"])
		}
	}
	if ids[0] != clientUUID || ids[2] != "spring-sale_2025" {
		t.Errorf("order = %v, want newest first", ids)
	}
	var paged []string
	cursor := ""
	for range 5 {
		p := a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events?limit=2&cursor="+url.QueryEscape(cursor), nil)
		wantStatus(t, p, http.StatusOK)
		b := p.body(t)
		for _, e := range b["events"].([]any) {
			paged = append(paged, e.(map[string]any)["id"].(string))
		}
		if b["nextCursor"] == nil {
			break
		}
		cursor = b["nextCursor"].(string)
	}
	if !slices.Equal(paged, ids) {
		t.Errorf("paged ids %v, want %v", paged, ids)
	}

	// Filters.
	for q, want := range map[string][]string{
		"status=IN_PROGRESS":                   {"spring-sale_2025"},
		"status=COMPLETED":                     nil,
		"channel=KAKAO":                        {"spring-sale_2025"},
		"channel=NAVER":                        nil,
		"channel=KAKAO&channel_status=PENDING": {"spring-sale_2025"},
		"channel_status=FAILED":                nil,
		"q=spring":                             {"spring-sale_2025"},
		"q=" + url.QueryEscape("%"):            nil,
		"unknown_param=1&limit=100":            ids,
	} {
		p := a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events?"+q, nil)
		wantStatus(t, p, http.StatusOK)
		var got []string
		for _, e := range p.body(t)["events"].([]any) {
			got = append(got, e.(map[string]any)["id"].(string))
		}
		if !slices.Equal(got, want) {
			t.Errorf("?%s: %v, want %v", q, got, want)
		}
	}
	for q, msg := range map[string]string{
		"status=DONE":                        `unknown status "DONE"`,
		"channel=TIKTOK":                     `unknown channel "TIKTOK"`,
		"channel_status=LOST":                `unknown channel_status "LOST"`,
		"limit=0":                            "limit",
		"limit=101":                          "limit",
		"limit=ten":                          "limit",
		"limit=-1":                           "limit",
		"cursor=" + strings.Repeat("x", 300): "cursor",
		"cursor=bm9wZQ":                      "cursor",
		"status=FAILED&status=COMPLETED":     "more than once",
		"q=" + strings.Repeat("가", 201):      "q",
	} {
		wantError(t, a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events?"+q, nil), http.StatusBadRequest, "invalid", msg)
	}
}

func TestAPIDistribution(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil)
	a.event("ev1")
	before := a.snapshot()

	// Invalid channel lists: 400 naming the problem, nothing written.
	for body, msg := range map[string]string{
		`{"channels": []}`:                       "at least one channel",
		`{}`:                                     "at least one channel",
		`{"channels": ["INSTAGRAM", "TIKTOK"]}`:  `unknown channel "TIKTOK"`,
		`{"channels": ["KAKAO", "KAKAO"]}`:       "KAKAO is listed twice",
		`{"channels": ["kakao"]}`:                `unknown channel "kakao"`,
		`{"channels": "KAKAO"}`:                  `"channels" must be an array of strings`,
		`{"channels": ["KAKAO"], "priority": 1}`: `unknown field "priority"`,
	} {
		wantError(t, a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/ev1/distribution", body), http.StatusBadRequest, "invalid", msg)
	}
	wantError(t, a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/ghost/distribution", map[string]any{"channels": []string{"KAKAO"}}),
		http.StatusNotFound, "not_found")
	wantError(t, a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events/ev1/distribution", nil), http.StatusNotFound, "not_found")
	wantError(t, a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events/ev1/distribution/attempts", nil), http.StatusNotFound, "not_found")
	if after := a.snapshot(); after != before {
		t.Fatalf("rejected starts wrote: %s -> %s", before, after)
	}

	r := a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/ev1/distribution",
		map[string]any{"channels": []string{"KAKAO", "URIDONGNETV", "INSTAGRAM"}})
	wantStatus(t, r, http.StatusAccepted)
	if loc := r.header.Get("Location"); loc != "/api/v1/events/ev1/distribution" {
		t.Errorf("Location = %q", loc)
	}
	started := r.body(t)
	chs := checkDistribution(t, started, "ev1")
	if started["overallStatus"] != "IN_PROGRESS" || started["completedAt"] != nil {
		t.Errorf("started = %v", started)
	}
	var order []string
	for _, c := range started["channels"].([]any) {
		order = append(order, c.(map[string]any)["channel"].(string))
	}
	if !slices.Equal(order, []string{"URIDONGNETV", "INSTAGRAM", "KAKAO"}) {
		t.Errorf("channel order %v, want display order", order)
	}
	for ch, c := range chs {
		if c["status"] != "PENDING" || c["progress"] != 0.0 || c["retries"] != 0.0 || c["impressionSchedule"] != nil {
			t.Errorf("%s = %v", ch, c)
		}
	}
	if n := a.count(`SELECT count(*) FROM river_job`); n != 3 {
		t.Errorf("%d jobs, want 3", n)
	}

	// Results as a finished channel has them; the schedule is stored as JSON text and shown as an array.
	a.exec(`UPDATE channel_status SET status = 'SUCCESS', progress = 100, distribution_id = 'UDT-1', estimated_views = 12345,
		impression_schedule = '[{"start":"2025-03-01T09:00:00Z","end":"2025-03-01T10:00:00Z","slot":"prime","spots":4}]',
		completed_at = now() WHERE event_id = 'ev1' AND channel = 'URIDONGNETV'`)
	a.exec(`UPDATE channel_status SET status = 'SUCCESS', progress = 100, post_id = 'p1', post_url = 'https://instagram.example/p/1',
		estimated_views = 7, completed_at = now() WHERE event_id = 'ev1' AND channel = 'INSTAGRAM'`)
	a.fail("ev1", model.ChannelKakao)
	a.exec(`UPDATE distribution_status SET overall_status = 'PARTIAL_SUCCESS', completed_at = now() WHERE event_id = 'ev1'`)
	g := a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events/ev1/distribution", nil)
	wantStatus(t, g, http.StatusOK)
	d := g.body(t)
	chs = checkDistribution(t, d, "ev1")
	if d["overallStatus"] != "PARTIAL_SUCCESS" {
		t.Errorf("overallStatus = %v", d["overallStatus"])
	}
	wantTime(t, "completedAt", d["completedAt"])
	u := chs["URIDONGNETV"]
	if u["estimatedViews"] != 12345.0 || u["distributionId"] != "UDT-1" || u["progress"] != 100.0 {
		t.Errorf("URIDONGNETV = %v", u)
	}
	sched, ok := u["impressionSchedule"].([]any)
	if !ok || len(sched) != 1 {
		t.Fatalf("impressionSchedule = %#v, want an array of one slot", u["impressionSchedule"])
	}
	if slot := sched[0].(map[string]any); slot["slot"] != "prime" || slot["spots"] != 4.0 {
		t.Errorf("slot = %v", slot)
	}
	if i := chs["INSTAGRAM"]; i["postUrl"] != "https://instagram.example/p/1" || i["postId"] != "p1" || i["impressionSchedule"] != nil {
		t.Errorf("INSTAGRAM = %v", i)
	}
	if k := chs["KAKAO"]; k["status"] != "FAILED" || k["errorMessage"] != "forced failure" {
		t.Errorf("KAKAO = %v", k)
	}
	// A stored schedule that is not an array is shown as null, not a broken answer.
	a.exec(`UPDATE channel_status SET impression_schedule = '{"oops": true}' WHERE event_id = 'ev1' AND channel = 'URIDONGNETV'`)
	if s := checkDistribution(t, a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events/ev1/distribution", nil).body(t), "ev1")["URIDONGNETV"]["impressionSchedule"]; s != nil {
		t.Errorf("malformed schedule shown as %v", s)
	}

	// Second start: 409 with the existing distribution, nothing written.
	before = a.snapshot()
	c := a.as(model.RoleManager, http.MethodPost, "/api/v1/events/ev1/distribution", map[string]any{"channels": []string{"NAVER"}})
	body := wantError(t, c, http.StatusConflict, "conflict", "already started")
	wantKeys(t, "409 body", body, "error", "distribution")
	existing := checkDistribution(t, body["distribution"].(map[string]any), "ev1")
	if len(existing) != 3 || existing["NAVER"] != nil {
		t.Errorf("409 distribution channels = %v", existing)
	}
	if after := a.snapshot(); after != before {
		t.Fatalf("second start wrote: %s -> %s", before, after)
	}

	// Attempts: none ran yet (insert-only engine) → an empty list, not 404.
	at := a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events/ev1/distribution/attempts", nil)
	wantStatus(t, at, http.StatusOK)
	ab := at.body(t)
	wantKeys(t, "attempts", ab, "attempts")
	if l, ok := ab["attempts"].([]any); !ok || len(l) != 0 {
		t.Errorf("attempts = %v, want []", ab["attempts"])
	}
}

func TestAPIRetries(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil)
	a.start("ev1", model.ChannelKakao, model.ChannelNaver, model.ChannelGiniTV)
	a.start("ev2", model.ChannelKakao)
	a.event("bare")

	// Not FAILED: 409 with a clear message, nothing written.
	before := a.snapshot()
	wantError(t, a.as(model.RoleStaff, http.MethodPost, "/api/v1/events/ev1/distribution/channels/KAKAO/retry", nil),
		http.StatusConflict, "conflict", "KAKAO is PENDING; only FAILED channels can be retried")
	wantError(t, a.as(model.RoleStaff, http.MethodPost, "/api/v1/events/ev1/distribution/retry-failed", nil),
		http.StatusConflict, "conflict", "only FAILED channels can be retried")
	wantError(t, a.as(model.RoleStaff, http.MethodPost, "/api/v1/events/ev1/distribution/channels/TIKTOK/retry", nil),
		http.StatusBadRequest, "invalid", `unknown channel "TIKTOK"`)
	wantError(t, a.as(model.RoleStaff, http.MethodPost, "/api/v1/events/ev1/distribution/channels/INSTAGRAM/retry", nil),
		http.StatusNotFound, "not_found", "INSTAGRAM is not part of this distribution")
	wantError(t, a.as(model.RoleStaff, http.MethodPost, "/api/v1/events/bare/distribution/channels/KAKAO/retry", nil),
		http.StatusNotFound, "not_found")
	wantError(t, a.as(model.RoleStaff, http.MethodPost, "/api/v1/events/ghost/distribution/retry-failed", nil),
		http.StatusNotFound, "not_found")
	if after := a.snapshot(); after != before {
		t.Fatalf("refused retries wrote: %s -> %s", before, after)
	}

	// One channel.
	a.fail("ev1", model.ChannelKakao)
	a.fail("ev1", model.ChannelNaver)
	a.exec(`UPDATE distribution_status SET overall_status = 'FAILED', completed_at = now() WHERE event_id = 'ev1'`)
	r := a.as(model.RoleStaff, http.MethodPost, "/api/v1/events/ev1/distribution/channels/KAKAO/retry", `{"ignored": true}`)
	wantStatus(t, r, http.StatusAccepted)
	chs := checkDistribution(t, r.body(t), "ev1")
	if k := chs["KAKAO"]; k["status"] != "PENDING" || k["retries"] != 1.0 || k["lastRetryAt"] == nil || k["errorMessage"] != nil {
		t.Errorf("retried KAKAO = %v", k)
	}
	if r.body(t)["overallStatus"] != "IN_PROGRESS" || r.body(t)["completedAt"] != nil {
		t.Errorf("retry did not reopen the distribution: %v", r.body(t))
	}
	if n := a.count(`SELECT count(*) FROM channel_attempts`); n != 0 {
		t.Errorf("attempt rows before any job ran: %d", n)
	}
	if n := a.count(`SELECT count(*) FROM audit_log WHERE action = 'channel.retry' AND actor = 'token:staff-bot' AND channel = 'KAKAO'`); n != 1 {
		t.Errorf("retry audited %d times", n)
	}

	// Every failed channel of an event.
	r = a.as(model.RoleManager, http.MethodPost, "/api/v1/events/ev1/distribution/retry-failed", nil)
	wantStatus(t, r, http.StatusAccepted)
	rb := r.body(t)
	wantKeys(t, "retry-failed", rb, "channels")
	if fmt.Sprint(rb["channels"]) != "[NAVER]" {
		t.Errorf("retried %v, want [NAVER]", rb["channels"])
	}

	// Bulk, by filter, with a count preview first.
	a.fail("ev1", model.ChannelKakao)
	a.fail("ev2", model.ChannelKakao)
	a.fail("ev1", model.ChannelGiniTV)
	a.exec(`UPDATE channel_status SET completed_at = now() - interval '2 hours' WHERE event_id = 'ev2'`)
	preview := func(body any) float64 {
		t.Helper()
		r := a.as(model.RoleStaff, http.MethodPost, "/api/v1/retries/preview", body)
		wantStatus(t, r, http.StatusOK)
		b := r.body(t)
		wantKeys(t, "preview", b, "count")
		n, ok := b["count"].(float64)
		if !ok {
			t.Fatalf("count = %#v, want a number", b["count"])
		}
		return n
	}
	before = a.snapshot()
	hourAgo := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for body, want := range map[string]float64{
		`{}`:                    3,
		`{"channel": "KAKAO"}`:  2,
		`{"channel": "GINITV"}`: 1,
		`{"channel": "NAVER"}`:  0,
		`{"channel": "KAKAO", "from": "` + hourAgo + `"}`: 1,
		`{"to": "` + hourAgo + `"}`:                       1,
	} {
		if n := preview(body); n != want {
			t.Errorf("preview %s = %v, want %v", body, n, want)
		}
	}
	if after := a.snapshot(); after != before {
		t.Fatalf("preview wrote: %s -> %s", before, after)
	}
	for body, msg := range map[string]string{
		`{"channel": "TIKTOK"}`:                                          `unknown channel "TIKTOK"`,
		`{"from": "yesterday"}`:                                          "from must be an RFC 3339 time",
		`{"to": "2025-13-01T00:00:00Z"}`:                                 "to must be an RFC 3339 time",
		`{"from": "2025-02-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"}`: "from must be before to",
		`{"chanel": "KAKAO"}`:                                            `unknown field "chanel"`,
		`{"channel": 3}`:                                                 `"channel" must be a string`,
		``:                                                               "empty",
	} {
		for _, path := range []string{"/api/v1/retries/preview", "/api/v1/retries"} {
			wantError(t, a.as(model.RoleStaff, http.MethodPost, path, body), http.StatusBadRequest, "invalid", msg)
		}
	}
	if after := a.snapshot(); after != before {
		t.Fatalf("refused bulk retries wrote: %s -> %s", before, after)
	}
	r = a.as(model.RoleStaff, http.MethodPost, "/api/v1/retries", map[string]any{"channel": "KAKAO"})
	wantStatus(t, r, http.StatusAccepted)
	if b := r.body(t); b["count"] != 2.0 {
		t.Errorf("bulk retry = %v, want count 2", b)
	}
	if n := a.count(`SELECT count(*) FROM channel_status WHERE channel = 'KAKAO' AND status = 'PENDING'`); n != 2 {
		t.Errorf("%d KAKAO channels PENDING after the bulk retry, want 2", n)
	}
	if n := preview(`{}`); n != 1 {
		t.Errorf("after bulk retry, preview {} = %v, want 1 (GINITV)", n)
	}
	if n := a.count(`SELECT count(*) FROM audit_log WHERE action = 'channel.bulk_retry' AND actor = 'token:staff-bot'`); n != 2 {
		t.Errorf("bulk retry audited %d times, want 2", n)
	}
}

// D1: 50 concurrent starts of one event → exactly one 202, 49 × 409 carrying the distribution.
func TestAPIConcurrentStart(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil)
	a.event("race")
	const n = 50
	results := make([]apiResp, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i] = a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/race/distribution",
				map[string]any{"channels": model.AllChannels})
		})
	}
	wg.Wait()
	counts := map[int]int{}
	for _, r := range results {
		counts[r.status]++
		if r.status == http.StatusConflict {
			b := wantError(t, r, http.StatusConflict, "conflict")
			d, ok := b["distribution"].(map[string]any)
			if !ok {
				t.Fatalf("409 without the distribution: %s", r.raw)
			}
			if chs := checkDistribution(t, d, "race"); len(chs) != 6 {
				t.Fatalf("409 distribution has %d channels", len(chs))
			}
		}
	}
	if counts[http.StatusAccepted] != 1 || counts[http.StatusConflict] != n-1 || len(counts) != 2 {
		t.Fatalf("statuses %v, want 1×202 and %d×409", counts, n-1)
	}
	if got := a.count(`SELECT count(*) FROM distribution_status`); got != 1 {
		t.Errorf("%d distributions", got)
	}
	if got := a.count(`SELECT count(*) FROM channel_status`); got != 6 {
		t.Errorf("%d channel rows", got)
	}
	if got := a.count(`SELECT count(*) FROM river_job`); got != 6 {
		t.Errorf("%d jobs, want 6", got)
	}
}

// D2: 20 concurrent retries of one FAILED channel → one 202, 19 × 409.
func TestAPIConcurrentRetry(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil)
	a.start("ev", model.ChannelKakao, model.ChannelNaver)
	a.fail("ev", model.ChannelKakao)
	jobs := a.count(`SELECT count(*) FROM river_job`)
	const n = 20
	results := make([]apiResp, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i] = a.as(model.RoleStaff, http.MethodPost, "/api/v1/events/ev/distribution/channels/KAKAO/retry", nil)
		})
	}
	wg.Wait()
	counts := map[int]int{}
	for _, r := range results {
		counts[r.status]++
		if r.status == http.StatusConflict {
			wantError(t, r, http.StatusConflict, "conflict", "only FAILED channels can be retried")
		}
	}
	if counts[http.StatusAccepted] != 1 || counts[http.StatusConflict] != n-1 || len(counts) != 2 {
		t.Fatalf("statuses %v, want 1×202 and %d×409", counts, n-1)
	}
	if got := a.count(`SELECT retries FROM channel_status WHERE event_id = 'ev' AND channel = 'KAKAO'`); got != 1 {
		t.Errorf("retries = %d, want 1", got)
	}
	if got := a.count(`SELECT count(*) FROM river_job`); got != jobs+1 {
		t.Errorf("%d jobs, want %d", got, jobs+1)
	}
}

// apiRoutes is every API route with the least role that may call it and a request that passes
// validation far enough for the role check to matter. TestAPIRoleMatrix fails when the routes
// table has an /api route missing here.
var apiRoutes = []struct {
	method, pattern, path string
	body                  any
	role                  model.Role // "" = any principal
}{
	{http.MethodGet, "/api/v1/openapi.json", "/api/v1/openapi.json", nil, ""},
	{http.MethodGet, "/api/v1/events", "/api/v1/events", nil, ""},
	{http.MethodPost, "/api/v1/events", "/api/v1/events", map[string]any{"title": "t"}, model.RoleMarketer},
	{http.MethodGet, "/api/v1/events/:id", "/api/v1/events/ev", nil, ""},
	{http.MethodPatch, "/api/v1/events/:id", "/api/v1/events/ev", map[string]any{"title": "t"}, model.RoleMarketer},
	{http.MethodDelete, "/api/v1/events/:id", "/api/v1/events/ev", nil, model.RoleMarketer},
	{http.MethodPost, "/api/v1/events/:id/duplicate", "/api/v1/events/ev/duplicate", nil, model.RoleMarketer},
	{http.MethodGet, "/api/v1/events/:id/distribution", "/api/v1/events/ev/distribution", nil, ""},
	{http.MethodPost, "/api/v1/events/:id/distribution", "/api/v1/events/ev/distribution", map[string]any{"channels": []string{"KAKAO"}}, model.RoleMarketer},
	{http.MethodGet, "/api/v1/events/:id/distribution/attempts", "/api/v1/events/ev/distribution/attempts", nil, ""},
	{http.MethodPost, "/api/v1/events/:id/distribution/channels/:ch/retry", "/api/v1/events/ev/distribution/channels/KAKAO/retry", nil, model.RoleStaff},
	{http.MethodPost, "/api/v1/events/:id/distribution/retry-failed", "/api/v1/events/ev/distribution/retry-failed", nil, model.RoleStaff},
	{http.MethodPut, "/api/v1/events/:id/schedule", "/api/v1/events/ev/schedule", map[string]any{"channels": []string{"KAKAO"}, "startAt": "2030-01-02T03:04:05Z"}, model.RoleMarketer},
	{http.MethodGet, "/api/v1/events/:id/schedule", "/api/v1/events/ev/schedule", nil, ""},
	{http.MethodDelete, "/api/v1/events/:id/schedule", "/api/v1/events/ev/schedule", nil, model.RoleStaff},
	{http.MethodPost, "/api/v1/events/:id/distribution/channels/:ch/cancel", "/api/v1/events/ev/distribution/channels/KAKAO/cancel", nil, model.RoleMarketer},
	{http.MethodPost, "/api/v1/events/:id/distribution/cancel", "/api/v1/events/ev/distribution/cancel", nil, model.RoleMarketer},
	{http.MethodPost, "/api/v1/retries/preview", "/api/v1/retries/preview", map[string]any{}, model.RoleStaff},
	{http.MethodPost, "/api/v1/retries", "/api/v1/retries", map[string]any{"channel": "NAVER"}, model.RoleStaff},
	{http.MethodPost, "/api/v1/channels/:ch/probe", "/api/v1/channels/KAKAO/probe", nil, model.RoleStaff},
	{http.MethodPost, "/api/v1/stores", "/api/v1/stores", map[string]any{"id": "st", "name": "Store"}, model.RoleManager},
	{http.MethodGet, "/api/v1/stores", "/api/v1/stores", nil, ""},
	{http.MethodGet, "/api/v1/stores/:id", "/api/v1/stores/st", nil, ""},
}

func TestAPIRoleMatrix(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil)
	a.start("ev", model.ChannelKakao)

	listed := map[string]bool{}
	for _, r := range apiRoutes {
		listed[r.method+" "+r.pattern] = true
	}
	for _, r := range a.srv.Echo().Routes() {
		if strings.HasPrefix(r.Path, "/api/") && !listed[r.Method+" "+r.Path] {
			t.Errorf("route %s %s is not in the role matrix", r.Method, r.Path)
		}
	}

	for _, rt := range apiRoutes {
		// Anonymous, a bad token, a non-Bearer scheme: 401 with the error shape and a challenge.
		for name, hdr := range map[string]map[string]string{
			"none":      nil,
			"bad token": {"Authorization": "Bearer dst_not-a-real-token"},
			"basic":     {"Authorization": "Basic dXNlcjpwYXNz"},
		} {
			r := a.req(rt.method, rt.path, "", rt.body, hdr)
			wantError(t, r, http.StatusUnauthorized, "unauthorized")
			if r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s (%s): 401 without WWW-Authenticate", rt.method, rt.path, name)
			}
		}
		for _, role := range []model.Role{model.RoleMarketer, model.RoleStaff, model.RoleManager} {
			r := a.as(role, rt.method, rt.path, rt.body)
			allowed := rt.role == "" || role.AtLeast(rt.role)
			switch {
			case !allowed:
				wantError(t, r, http.StatusForbidden, "forbidden", "role")
			case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden || r.status >= 500:
				t.Errorf("%s %s as %s: status %d: %s", rt.method, rt.path, role, r.status, r.raw)
			}
		}
	}
}

// Session-authenticated API calls work too; their writes need the CSRF token.
func TestAPISessionCSRF(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil)
	if _, err := a.auth.CreateUser(context.Background(), "kim@example.com", apiPassword, model.RoleMarketer, "test"); err != nil {
		t.Fatal(err)
	}
	jar := map[string]string{}
	send := func(method, path, body string, hdr map[string]string) apiResp {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		r := httptest.NewRequest(method, "http://dist.test"+path, rd)
		r.RemoteAddr = "192.0.2.8:40000"
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		for k, v := range jar {
			r.AddCookie(&http.Cookie{Name: k, Value: v})
		}
		rec := httptest.NewRecorder()
		a.srv.Handler().ServeHTTP(rec, r)
		for _, ck := range rec.Result().Cookies() {
			if ck.MaxAge < 0 {
				delete(jar, ck.Name)
			} else {
				jar[ck.Name] = ck.Value
			}
		}
		return apiResp{status: rec.Code, header: rec.Header(), raw: rec.Body.String(), method: method, path: path}
	}
	send(http.MethodGet, "/login", "", nil) // the CSRF cookie
	form := url.Values{"email": {"kim@example.com"}, "password": {apiPassword}, "_csrf": {jar["dist_csrf"]}}
	if r := send(http.MethodPost, "/login", form.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); r.status != http.StatusSeeOther || jar["dist_session"] == "" {
		t.Fatalf("login: %d %v", r.status, jar)
	}

	wantStatus(t, send(http.MethodGet, "/api/v1/events", "", nil), http.StatusOK) // reads need no CSRF token
	tok := jar["dist_csrf"]
	if tok == "" {
		t.Fatal("no CSRF cookie after a logged-in request")
	}
	before := a.snapshot()
	wantError(t, send(http.MethodPost, "/api/v1/events", `{"title": "x"}`, map[string]string{"Content-Type": "application/json"}),
		http.StatusForbidden, "forbidden", "CSRF")
	wantError(t, send(http.MethodPost, "/api/v1/events", `{"title": "x"}`, map[string]string{"Content-Type": "application/json", "X-CSRF-Token": "forged"}),
		http.StatusForbidden, "forbidden", "CSRF")
	if after := a.snapshot(); after != before {
		t.Fatalf("refused session writes wrote: %s -> %s", before, after)
	}
	r := send(http.MethodPost, "/api/v1/events", `{"id": "by-session", "title": "x"}`, map[string]string{"Content-Type": "application/json", "X-CSRF-Token": tok})
	wantStatus(t, r, http.StatusCreated)
	if n := a.count(`SELECT count(*) FROM events WHERE id = 'by-session' AND created_by = 'kim@example.com'`); n != 1 {
		t.Error("session-created event does not name the user as creator")
	}
	// A marketer's session cannot retry.
	wantError(t, send(http.MethodPost, "/api/v1/retries/preview", `{}`, map[string]string{"Content-Type": "application/json", "X-CSRF-Token": tok}),
		http.StatusForbidden, "forbidden", "staff")
}

// I1-I4: bad ids and bodies get a clear 4xx with the error shape, never a 500, and write nothing.
func TestAPIBadInput(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil)
	a.start("ev", model.ChannelKakao)
	a.fail("ev", model.ChannelKakao)
	before := a.snapshot()

	long := strings.Repeat("a", 10<<10)
	for _, id := range []string{"..%2Fx", "..%2F..%2Fetc%2Fpasswd", "*", long, "%00", "a%00b", "a%20b", "%E2%80%AE", "a.b", strings.Repeat("b", 37), "..", "ev%2F..", "ev;drop"} {
		for _, rt := range apiRoutes {
			if !strings.Contains(rt.pattern, ":id") {
				continue
			}
			path := strings.Replace(rt.path, "/events/ev", "/events/"+id, 1)
			r := a.as(model.RoleManager, rt.method, path, rt.body)
			if r.status != http.StatusBadRequest && r.status != http.StatusNotFound {
				t.Errorf("%s %.80s: status %d, want 400 or 404: %.200s", rt.method, path, r.status, r.raw)
				continue
			}
			b := wantError(t, r, r.status, "")
			if msg := b["error"].(map[string]any)["message"].(string); strings.Contains(msg, long[:100]) {
				t.Errorf("%s: the 10 KB id is echoed in the message", rt.method)
			}
		}
	}
	// The path cannot escape: "../x" never reaches another route (404, or 405 where only GET exists).
	for _, p := range []string{"/api/v1/events/../x", "/api/v1/events/ev/../../retries", "/api/v1/events/ev/distribution/channels/../../retry-failed"} {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			r := a.as(model.RoleManager, m, p, map[string]any{})
			if r.status != http.StatusBadRequest && r.status != http.StatusNotFound && r.status != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: status %d: %s", m, p, r.status, r.raw)
			}
		}
	}

	for _, tc := range []struct {
		name, path, body string
		hdr              map[string]string
		status           int
		msg              string
	}{
		{"malformed", "/api/v1/events", `{"title": "x"`, nil, 400, "request body is not valid JSON"},
		{"not json", "/api/v1/events", `title=x`, nil, 400, "request body is not valid JSON"},
		{"trailing", "/api/v1/events", `{"title": "x"} {"title": "y"}`, nil, 400, "single JSON object"},
		{"trailing garbage", "/api/v1/events", `{"title": "x"}}`, nil, 400, "not valid JSON"},
		{"array", "/api/v1/events", `[{"title": "x"}]`, nil, 400, "must be a JSON object"},
		{"string", "/api/v1/events", `"x"`, nil, 400, "must be a JSON object"},
		{"empty", "/api/v1/events", ``, nil, 400, "empty"},
		{"no title", "/api/v1/events", `{"description": "d"}`, nil, 400, "title is required"},
		{"blank title", "/api/v1/events", `{"title": "   "}`, nil, 400, "title is required"},
		{"title type", "/api/v1/events", `{"title": 5}`, nil, 400, `"title" must be a string`},
		{"unknown field", "/api/v1/events", `{"title": "x", "titel": "y"}`, nil, 400, `unknown field "titel"`},
		{"bad id", "/api/v1/events", `{"id": "../x", "title": "x"}`, nil, 400, "id must be"},
		{"long id", "/api/v1/events", `{"id": "` + strings.Repeat("a", 37) + `", "title": "x"}`, nil, 400, "id must be"},
		{"NUL", "/api/v1/events", `{"title": "a\u0000b"}`, nil, 400, "NUL"},
		// A line end in a one-line field could start an SSE field in every live page (X1).
		{"CR in title", "/api/v1/events", `{"title": "a\revent: datastar-patch-signals"}`, nil, 400, "title must be one line"},
		{"LF in title", "/api/v1/events", `{"title": "a\nb"}`, nil, 400, "title must be one line"},
		{"CRLF in store", "/api/v1/events", `{"title": "x", "storeName": "s\r\ndata: signals {}"}`, nil, 400, "storeName must be one line"},
		{"ESC in title", "/api/v1/events", `{"title": "a\u001bb"}`, nil, 400, "title must be one line"},
		{"NUL in store", "/api/v1/events", `{"title": "x", "storeName": "a\u0000"}`, nil, 400, "storeName must not contain NUL"},
		{"TAB in image", "/api/v1/events", `{"title": "x", "imageUrl": "https://a.example/\tx"}`, nil, 400, "imageUrl must be one line"},
		{"control in description", "/api/v1/events", `{"title": "x", "description": "a\u0007b"}`, nil, 400, "description must not contain control"},
		{"invalid UTF-8", "/api/v1/events", "{\"title\": \"a\xffb\"}", nil, 400, "not valid UTF-8"},
		{"NUL in description", "/api/v1/events", `{"title": "x", "description": "a\u0000b"}`, nil, 400, "description must not contain NUL"},
		{"long title", "/api/v1/events", `{"title": "` + strings.Repeat("가", 501) + `"}`, nil, 400, "title must be at most 500"},
		{"bad image", "/api/v1/events", `{"title": "x", "imageUrl": "javascript:alert(1)"}`, nil, 400, "imageUrl"},
		{"text/plain", "/api/v1/events", `{"title": "x"}`, map[string]string{"Content-Type": "text/plain"}, 415, "Content-Type must be application/json"},
		{"form", "/api/v1/events", `title=x`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "application/json"},
		{"no content type", "/api/v1/events", `{"title": "x"}`, map[string]string{"Content-Type": ""}, 415, "application/json"},
		{"start text/plain", "/api/v1/events/ev/distribution", `{"channels": ["KAKAO"]}`, map[string]string{"Content-Type": "text/plain"}, 415, "application/json"},
		{"start malformed", "/api/v1/events/ev/distribution", `{"channels": [`, nil, 400, "not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, a.req(http.MethodPost, tc.path, a.tokens[model.RoleManager], tc.body, tc.hdr), tc.status, "", tc.msg)
		})
	}
	// charset parameters and +json types are fine.
	wantStatus(t, a.req(http.MethodPost, "/api/v1/events", a.tokens[model.RoleManager], `{"id": "cs", "title": "x"}`,
		map[string]string{"Content-Type": "application/json; charset=utf-8"}), http.StatusCreated)
	a.exec(`DELETE FROM events WHERE id = 'cs'`)
	a.exec(`DELETE FROM audit_log WHERE event_id = 'cs'`)

	// 10 MB: refused by the body limit, with or without a Content-Length.
	huge := `{"title": "` + strings.Repeat("x", 10<<20) + `"}`
	for _, path := range []string{"/api/v1/events", "/api/v1/events/ev/distribution", "/api/v1/retries"} {
		wantError(t, a.as(model.RoleManager, http.MethodPost, path, huge), http.StatusRequestEntityTooLarge, "too_large")
		chunked := a.as(model.RoleManager, http.MethodPost, path, io.MultiReader(strings.NewReader(huge))) // no Content-Length
		wantError(t, chunked, http.StatusRequestEntityTooLarge, "too_large")
	}
	if after := a.snapshot(); after != before {
		t.Fatalf("bad input wrote: %s -> %s", before, after)
	}
}

// The real pieces end to end: workers publish through the HTTP adapters to the simulator; the API
// shows results, attempts, and a staff retry that succeeds.
func TestAPIWithSimulator(t *testing.T) {
	t.Parallel()
	sim := simulator.New(simulator.Config{Step: 5 * time.Millisecond})
	base, stop, err := sim.StartLocal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	reg := channels.NewSimulatorRegistry(base, channels.Options{PollInterval: 5 * time.Millisecond})
	t.Cleanup(reg.Close)
	a := newAPIApp(t, 8, reg.Adapter)

	wait := func(eventID, overall string) map[string]any {
		t.Helper()
		var d map[string]any
		// Poll the API as a client would.
		testkit.EventuallyErr(t, 20*time.Second, eventID+" to become "+overall, func() error {
			r := a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events/"+eventID+"/distribution", nil)
			wantStatus(t, r, http.StatusOK)
			if d = r.body(t); d["overallStatus"] != overall {
				return fmt.Errorf("%s", r.raw)
			}
			return nil
		})
		return d
	}

	a.start("all", model.AllChannels...)
	d := wait("all", "COMPLETED")
	chs := checkDistribution(t, d, "all")
	wantTime(t, "completedAt", d["completedAt"])
	for _, ch := range model.AllChannels {
		c := chs[string(ch)]
		if c["status"] != "SUCCESS" || c["progress"] != 100.0 || jsonType(c["estimatedViews"]) != "number" || c["completedAt"] == nil {
			t.Errorf("%s = %v", ch, c)
		}
	}
	for _, ch := range []string{"URIDONGNETV", "GINITV"} {
		if s, ok := chs[ch]["impressionSchedule"].([]any); !ok || len(s) == 0 {
			t.Errorf("%s impressionSchedule = %#v, want a non-empty array", ch, chs[ch]["impressionSchedule"])
		} else if slot, ok := s[0].(map[string]any); !ok || jsonType(slot["spots"]) != "number" || jsonType(slot["start"]) != "string" {
			t.Errorf("%s slot = %v", ch, s[0])
		}
		if jsonType(chs[ch]["distributionId"]) != "string" {
			t.Errorf("%s distributionId = %v", ch, chs[ch]["distributionId"])
		}
	}
	for _, ch := range []string{"INSTAGRAM", "NAVER"} {
		if u, _ := chs[ch]["postUrl"].(string); !strings.HasPrefix(u, "https://") || jsonType(chs[ch]["postId"]) != "string" {
			t.Errorf("%s post = %v %v", ch, chs[ch]["postUrl"], chs[ch]["postId"])
		}
	}
	if jsonType(chs["KAKAO"]["messageId"]) != "string" {
		t.Errorf("KAKAO messageId = %v", chs["KAKAO"]["messageId"])
	}

	at := a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events/all/distribution/attempts", nil)
	wantStatus(t, at, http.StatusOK)
	attempts := at.body(t)["attempts"].([]any)
	if len(attempts) != 6 {
		t.Fatalf("%d attempts, want 6: %s", len(attempts), at.raw)
	}
	for _, x := range attempts {
		m := x.(map[string]any)
		wantKeys(t, "attempt", m, attemptKeys...)
		wantTypes(t, "attempt", m, map[string]string{"channel": "string", "attempt": "number", "trigger": "string",
			"startedAt": "string", "finishedAt": "string", "outcome": "string", "error": "null", "httpStatus": "number|null"})
		if m["outcome"] != "success" || m["trigger"] != "system" || m["attempt"] != 1.0 {
			t.Errorf("attempt = %v", m)
		}
	}

	// A permanent rejection fails NAVER; staff retry it through the API and it succeeds.
	sim.MustInject(model.ChannelNaver, simulator.Reject("image rejected"))
	a.start("partial", model.ChannelNaver, model.ChannelKakao)
	d = wait("partial", "PARTIAL_SUCCESS")
	if n := checkDistribution(t, d, "partial")["NAVER"]; n["status"] != "FAILED" || jsonType(n["errorMessage"]) != "string" {
		t.Fatalf("NAVER = %v", n)
	}
	wantStatus(t, a.as(model.RoleStaff, http.MethodPost, "/api/v1/events/partial/distribution/channels/NAVER/retry", nil), http.StatusAccepted)
	d = wait("partial", "COMPLETED")
	if n := checkDistribution(t, d, "partial")["NAVER"]; n["status"] != "SUCCESS" || n["retries"] != 1.0 || jsonType(n["lastRetryAt"]) != "string" {
		t.Errorf("NAVER after retry = %v", n)
	}
	var triggers []string
	for _, x := range a.as(model.RoleStaff, http.MethodGet, "/api/v1/events/partial/distribution/attempts", nil).body(t)["attempts"].([]any) {
		m := x.(map[string]any)
		if m["channel"] == "NAVER" {
			triggers = append(triggers, fmt.Sprintf("%v/%v/%v", m["trigger"], m["outcome"], m["httpStatus"]))
		}
	}
	if fmt.Sprint(triggers) != "[system/failed/400 retry:token:staff-bot/success/<nil>]" {
		t.Errorf("NAVER attempts = %v", triggers)
	}
}

// openapi.json is valid JSON, OpenAPI 3.1, documents exactly the API routes of the routes table,
// resolves every $ref, and spells DESIGN's shapes.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil)
	wantError(t, a.req(http.MethodGet, "/api/v1/openapi.json", "", nil, nil), http.StatusUnauthorized, "unauthorized")
	r := a.as(model.RoleMarketer, http.MethodGet, "/api/v1/openapi.json", nil)
	wantStatus(t, r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	doc := r.body(t)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v", doc["openapi"])
	}
	servers := doc["servers"].([]any)
	prefix := servers[0].(map[string]any)["url"].(string)
	if prefix != handlers.APIPrefix {
		t.Errorf("server url %q, want %q", prefix, handlers.APIPrefix)
	}

	documented := map[string]bool{}
	for p, item := range doc["paths"].(map[string]any) {
		for m := range item.(map[string]any) {
			if m != "parameters" {
				documented[strings.ToUpper(m)+" "+prefix+p] = true
			}
		}
	}
	param := regexp.MustCompile(`:(\w+)`)
	routed := map[string]bool{}
	for _, rt := range a.srv.Echo().Routes() {
		if strings.HasPrefix(rt.Path, "/api/") {
			routed[rt.Method+" "+param.ReplaceAllString(rt.Path, "{$1}")] = true
		}
	}
	for k := range routed {
		if !documented[k] {
			t.Errorf("route %s is not documented", k)
		}
	}
	for k := range documented {
		if !routed[k] {
			t.Errorf("documented %s has no route", k)
		}
	}

	// Every $ref resolves.
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				var cur any = doc
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, _ := cur.(map[string]any)
					cur = m[part]
				}
				if cur == nil {
					t.Errorf("unresolved $ref %s", ref)
				}
			}
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(doc)

	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	required := func(name string) []string {
		var out []string
		for _, k := range schemas[name].(map[string]any)["required"].([]any) {
			out = append(out, k.(string))
		}
		slices.Sort(out)
		return out
	}
	for name, want := range map[string][]string{
		"Distribution": distributionKeys, "ChannelState": channelKeys, "Attempt": attemptKeys, "Event": eventKeys,
	} {
		want = slices.Clone(want)
		slices.Sort(want)
		if got := required(name); !slices.Equal(got, want) {
			t.Errorf("schema %s requires %v, want %v", name, got, want)
		}
		props := schemas[name].(map[string]any)["properties"].(map[string]any)
		if len(props) != len(want) {
			t.Errorf("schema %s has %d properties, want %d", name, len(props), len(want))
		}
	}
	var chans []string
	for _, c := range schemas["Channel"].(map[string]any)["enum"].([]any) {
		chans = append(chans, c.(string))
	}
	var all []string
	for _, c := range model.AllChannels {
		all = append(all, string(c))
	}
	if !slices.Equal(chans, all) {
		t.Errorf("Channel enum %v, want %v", chans, all)
	}
}

// The engine's metrics registry and the HTTP metrics coexist in what /metrics serves.
func TestAPIHTTPMetrics(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil)
	wantStatus(t, a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events/ev", nil), http.StatusNotFound)
	wantStatus(t, a.req(http.MethodGet, "/api/v1/events", "", nil, nil), http.StatusUnauthorized)
	mfs, err := a.app.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, mf := range mfs {
		if mf.GetName() != "distribution_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			seen = append(seen, fmt.Sprintf("%s %s %s %v", l["method"], l["route"], l["status"], m.GetCounter().GetValue()))
		}
	}
	slices.Sort(seen)
	if want := []string{"GET /api/v1/events 401 1", "GET /api/v1/events/:id 404 1"}; !slices.Equal(seen, want) {
		t.Errorf("requests_total = %v, want %v", seen, want)
	}
}

// TestAPIDuplicateJSONKeys (RELIABILITY.md I1): a key given twice in one object of an API body,
// at any depth (or in two spellings the decoder treats as one field), is refused 400 with a
// message naming it, and nothing is written, as unknown fields already are. Go's decoder keeps the
// last value where a proxy or a client's own check may have read the first, so such a body means
// two different things.
func TestAPIDuplicateJSONKeys(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil)
	a.event("ev")
	before := a.snapshot()
	for _, tc := range []struct{ path, body, key string }{
		{"/api/v1/events", `{"title":"a","title":"b","storeName":"s"}`, `"title"`},
		{"/api/v1/events", `{"title":"a","storeName":"s","Title":"b"}`, `"Title"`},
		{"/api/v1/events", `{"id":"ev-dup","id":"ev-dup2","title":"a","storeName":"s"}`, `"id"`},
		{"/api/v1/events/ev/distribution", `{"channels":["NAVER"],"channels":["KAKAO"]}`, `"channels"`},
		{"/api/v1/events/ev/distribution", `{"channels":[{"ch":"NAVER","ch":"KAKAO"}]}`, `"channels[0].ch"`},
		{"/api/v1/events/ev/distribution", `{"channels":["NAVER"],"x":{"y":[1,{"z":1,"z":2}]}}`, `"x.y[1].z"`},
		{"/api/v1/retries/preview", `{"channel":"NAVER","from":"2024-01-01","channel":"KAKAO"}`, `"channel"`},
	} {
		r := a.as(model.RoleManager, http.MethodPost, tc.path, tc.body)
		wantError(t, r, http.StatusBadRequest, model.EINVALID, "duplicate key", tc.key)
	}
	if after := a.snapshot(); after != before {
		t.Errorf("a refused body wrote something: %s -> %s", before, after)
	}
	// The same keys once each are fine.
	wantStatus(t, a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events", `{"title":"a","storeName":"s","description":"{\"title\":1,\"title\":2}"}`), http.StatusCreated)
	wantStatus(t, a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/ev/distribution", `{"channels":["NAVER","KAKAO"]}`), http.StatusAccepted)
}
