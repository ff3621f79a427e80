package handlers_test

// One file on purpose: every test drives the dashboard pages through the newUIApp fixture and the
// goquery and SSE helpers defined here.

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/auth"
	"github.com/marketing-platform/distribution/internal/cache"
	"github.com/marketing-platform/distribution/internal/engine"
	"github.com/marketing-platform/distribution/internal/live"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// uiApp is the real application (web.New, real auth, store and an insert-only engine: jobs are
// enqueued, never run) over a fresh database, served over real HTTP so streams stream. With live,
// it also has a private Redis, the read-through cache and the live hub.
type uiApp struct {
	t     *testing.T
	db    *db.DB
	auth  *auth.Service
	eng   *engine.Engine
	cache *cache.Cache
	hub   *live.Hub
	url   string
}

const uiPassword = "password1"

func newUIApp(t *testing.T, withLive bool) *uiApp {
	t.Helper()
	return newReplica(t, dbtest.NewURL(t), withLive)
}

func (a *uiApp) exec(sql string, args ...any) {
	a.t.Helper()
	if _, err := a.db.Pool.Exec(context.Background(), sql, args...); err != nil {
		a.t.Fatal(err)
	}
}

// event creates an event and, with channels, starts its distribution.
func (a *uiApp) event(id, title string, chans ...model.Channel) {
	a.t.Helper()
	ctx := context.Background()
	if _, err := a.db.CreateEvent(ctx, model.Event{ID: id, Title: title}, "test"); err != nil {
		a.t.Fatal(err)
	}
	if len(chans) > 0 {
		if _, err := a.eng.StartDistribution(ctx, id, chans, "test"); err != nil {
			a.t.Fatal(err)
		}
	}
}

// setChannel forces a channel's state as a worker would leave it, and the rollup.
func (a *uiApp) setChannel(id string, ch model.Channel, status model.ChannelStatus, progress int, errMsg string) {
	a.t.Helper()
	var msg *string
	if errMsg != "" {
		msg = &errMsg
	}
	a.exec(`UPDATE channel_status SET status = $3::text, progress = $4, error_message = $5,
		completed_at = CASE WHEN $3::text IN ('SUCCESS','FAILED') THEN now() END, updated_at = now(), update_timestamp = now()
		WHERE event_id = $1 AND channel = $2`, id, string(ch), string(status), progress, msg)
	d, err := a.db.FindDistribution(context.Background(), id)
	if err != nil {
		a.t.Fatal(err)
	}
	var sts []model.ChannelStatus
	for _, c := range d.Channels {
		sts = append(sts, c.Status)
	}
	a.exec(`UPDATE distribution_status SET overall_status = $2::text, updated_at = now(),
		completed_at = CASE WHEN $2::text <> 'IN_PROGRESS' THEN now() END WHERE event_id = $1`, id, string(model.Rollup(sts)))
}

func (a *uiApp) channel(id string, ch model.Channel) model.ChannelState {
	a.t.Helper()
	d, err := a.db.FindDistribution(context.Background(), id)
	if err != nil {
		a.t.Fatal(err)
	}
	c := d.Channel(ch)
	if c == nil {
		a.t.Fatalf("%s has no %s", id, ch)
	}
	return *c
}

// uiClient is a browser without JavaScript (cookie jar, no redirects followed); datastar makes
// it send Datastar-Request: true like Datastar's fetches do.
type uiClient struct {
	a      *uiApp
	hc     *http.Client
	csrf   string
	bearer string // API token sent by openStream (a machine's stream), if set
}

type uiResp struct {
	status int
	header http.Header
	body   string
}

func (r uiResp) doc(t *testing.T) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (a *uiApp) client() *uiClient {
	jar, _ := cookiejar.New(nil)
	return &uiClient{a: a, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// login creates a user with role and logs this client in through the form.
func (a *uiApp) login(email string, role model.Role) *uiClient {
	a.t.Helper()
	if _, err := a.auth.CreateUser(context.Background(), email, uiPassword, role, "test"); err != nil {
		a.t.Fatal(err)
	}
	c := a.client()
	c.get("/login")
	r := c.post("/login", url.Values{"email": {email}, "password": {uiPassword}}, false)
	if r.status != http.StatusSeeOther {
		a.t.Fatalf("login %s: %d %s", email, r.status, r.body)
	}
	c.get("/") // a fresh CSRF token for the new session
	return c
}

func (c *uiClient) do(req *http.Request) uiResp {
	c.a.t.Helper()
	res, err := c.hc.Do(req)
	if err != nil {
		c.a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := uiResp{status: res.StatusCode, header: res.Header, body: string(b)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		if tok, ok := r.doc(c.a.t).Find(`input[name="_csrf"]`).First().Attr("value"); ok && tok != "" {
			c.csrf = tok
		}
	}
	return r
}

func (c *uiClient) get(path string) uiResp {
	c.a.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.a.url+path, nil)
	return c.do(req)
}

// post sends a form with the page's CSRF token, as the browser does (datastar: as Datastar does).
func (c *uiClient) post(path string, form url.Values, datastar bool) uiResp {
	c.a.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("_csrf") == "" && c.csrf != "" {
		form.Set("_csrf", c.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, c.a.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if datastar {
		req.Header.Set("Datastar-Request", "true")
	}
	return c.do(req)
}

func wantCode(t *testing.T, what string, r uiResp, status int) {
	t.Helper()
	if r.status != status {
		body := r.body
		if len(body) > 600 {
			body = body[:600]
		}
		t.Fatalf("%s: status %d, want %d; body %s", what, r.status, status, body)
	}
}

func wantLocation(t *testing.T, what string, r uiResp, loc string) {
	t.Helper()
	wantCode(t, what, r, http.StatusSeeOther)
	if got := r.header.Get("Location"); got != loc {
		t.Fatalf("%s: Location %q, want %q", what, got, loc)
	}
}

func TestEventsListPage(t *testing.T) {
	t.Parallel()
	a := newUIApp(t, false)
	a.event("ev-new", "No distribution yet")
	a.event("ev-run", "Running event", model.ChannelInstagram, model.ChannelKakao)
	a.event("ev-fail", "Failing <b>event</b>", model.ChannelKakao, model.ChannelNaver)
	a.setChannel("ev-run", model.ChannelInstagram, model.StatusInProgress, 40, "")
	a.setChannel("ev-fail", model.ChannelKakao, model.StatusFailed, 20, "token expired")
	a.setChannel("ev-fail", model.ChannelNaver, model.StatusSuccess, 100, "")
	c := a.login("m@example.com", model.RoleMarketer)

	r := c.get("/")
	wantCode(t, "list", r, http.StatusOK)
	d := r.doc(t)
	if n := d.Find("tr[data-event-id]").Length(); n != 3 {
		t.Fatalf("%d rows, want 3", n)
	}
	row := d.Find(`tr[data-event-id="ev-run"]`)
	ig := row.Find(`[data-channel="INSTAGRAM"][data-status="IN_PROGRESS"]`)
	if ig.Length() != 1 {
		t.Fatalf("no INSTAGRAM hook in %s", goquery.NewDocumentFromNode(row.Nodes[0]).Text())
	}
	want := strconv.FormatInt(a.channel("ev-run", model.ChannelInstagram).UpdatedAt.UnixMilli(), 10)
	if got, _ := ig.Attr("data-updated-at"); got != want {
		t.Errorf("data-updated-at %q, want %q", got, want)
	}
	bar := ig.Find(`[role="progressbar"]`)
	for attr, v := range map[string]string{"aria-valuenow": "40", "aria-valuemin": "0", "aria-valuemax": "100", "aria-label": "Instagram"} {
		if got, _ := bar.Attr(attr); got != v {
			t.Errorf("progressbar %s = %q, want %q", attr, got, v)
		}
	}
	if d.Find(`tr[data-event-id="ev-fail"] [data-channel="KAKAO"][data-status="FAILED"] [role="progressbar"][aria-valuenow="20"]`).Length() != 1 {
		t.Error("failed KAKAO bar missing")
	}
	if d.Find(`tr[data-event-id="ev-fail"] [data-overall="PARTIAL_SUCCESS"]`).Length() != 1 {
		t.Error("overall badge of ev-fail")
	}
	if href, _ := d.Find(`tr[data-event-id="ev-new"] a[data-action="start-link"]`).Attr("href"); href != "/events/ev-new#start" {
		t.Errorf("start link %q", href)
	}
	if d.Find(`tr[data-event-id="ev-new"] [data-channel]`).Length() != 0 {
		t.Error("an event without distribution shows channels")
	}
	if !strings.Contains(d.Find(`tr[data-event-id="ev-fail"]`).Text(), "Failing <b>event</b>") {
		t.Error("title not shown as text")
	}
	if got := d.Find(`#status-counts [data-count-status="PARTIAL_SUCCESS"] [data-count]`).Text(); got != "1" {
		t.Errorf("partial success count %q", got)
	}
	if got := d.Find(`#status-counts [data-count-status=""] [data-count]`).Text(); got != "3" {
		t.Errorf("total count %q", got)
	}
	if d.Find(`#live-stream[data-init]`).Length() != 1 || d.Find(`[data-live-state]`).Length() != 1 {
		t.Error("live stream host or indicator missing")
	}

	// Korean: channel names in aria-label follow the page language.
	req, _ := http.NewRequest(http.MethodGet, a.url+"/", nil)
	req.Header.Set("Accept-Language", "ko-KR")
	if got, _ := c.do(req).doc(t).Find(`tr[data-event-id="ev-run"] [data-channel="KAKAO"] [role="progressbar"]`).Attr("aria-label"); got != "카카오톡 채널" {
		t.Errorf("ko aria-label %q", got)
	}

	// Filters narrow the list and stay in the URL (form values).
	for q, ids := range map[string][]string{
		"?status=PARTIAL_SUCCESS":                   {"ev-fail"},
		"?channel_status=FAILED":                    {"ev-fail"},
		"?channel=INSTAGRAM":                        {"ev-run"},
		"?channel=KAKAO&channel_status=IN_PROGRESS": {},
		"?q=Running":                                {"ev-run"},
		"?q=ev-ne":                                  {"ev-new"},
	} {
		d := c.get("/" + q).doc(t)
		var got []string
		d.Find("tr[data-event-id]").Each(func(_ int, s *goquery.Selection) { got = append(got, s.AttrOr("data-event-id", "")) })
		if strings.Join(got, ",") != strings.Join(ids, ",") {
			t.Errorf("%s: rows %v, want %v", q, got, ids)
		}
	}
	d = c.get("/?q=Running&status=IN_PROGRESS").doc(t)
	if v, _ := d.Find(`form[data-action="filter"] input[name="q"]`).Attr("value"); v != "Running" {
		t.Errorf("q kept as %q", v)
	}
	if d.Find(`select[name="status"] option[value="IN_PROGRESS"][selected]`).Length() != 1 {
		t.Error("status filter not kept")
	}

	r = c.get("/?status=BOGUS")
	wantCode(t, "bad status", r, http.StatusBadRequest)
	if !strings.Contains(r.doc(t).Find(`[role="alert"]`).Text(), "status") {
		t.Error("bad filter not explained")
	}
	wantCode(t, "bad cursor", c.get("/?cursor=%21%21"), http.StatusBadRequest)
}

func TestEventsListPagination(t *testing.T) {
	t.Parallel()
	a := newUIApp(t, false)
	for i := range 30 {
		a.event("p"+strconv.Itoa(i), "Event "+strconv.Itoa(i))
	}
	c := a.login("m@example.com", model.RoleMarketer)
	d := c.get("/").doc(t)
	first := d.Find("tr[data-event-id]").Length()
	next, ok := d.Find(`a[data-action="next-page"]`).Attr("href")
	if first != 25 || !ok || !strings.Contains(next, "cursor=") {
		t.Fatalf("first page %d rows, next %q", first, next)
	}
	d2 := c.get(next).doc(t)
	if n := d2.Find("tr[data-event-id]").Length(); n != 5 {
		t.Errorf("second page %d rows", n)
	}
	if d2.Find(`a[data-action="next-page"]`).Length() != 0 {
		t.Error("last page has a next link")
	}
	seen := map[string]bool{}
	for _, doc := range []*goquery.Document{d, d2} {
		doc.Find("tr[data-event-id]").Each(func(_ int, s *goquery.Selection) { seen[s.AttrOr("data-event-id", "")] = true })
	}
	if len(seen) != 30 {
		t.Errorf("%d distinct events over both pages", len(seen))
	}
}

func TestCreateEventForm(t *testing.T) {
	t.Parallel()
	a := newUIApp(t, false)
	c := a.login("m@example.com", model.RoleMarketer)

	r := c.post("/events", url.Values{"title": {"  Spring sale  "}, "storeName": {"Gangnam"}, "description": {"10% off"}}, false)
	wantCode(t, "create", r, http.StatusSeeOther)
	loc := r.header.Get("Location")
	if !strings.HasPrefix(loc, "/events/") {
		t.Fatalf("Location %q", loc)
	}
	d := c.get(loc).doc(t)
	if got := d.Find("h1").Text(); got != "Spring sale" {
		t.Errorf("title %q", got)
	}
	if !strings.Contains(d.Find(`[data-flash="ok"]`).Text(), "Event created") {
		t.Error("no flash after create")
	}
	if c.get(loc).doc(t).Find(`[data-flash]`).Length() != 0 {
		t.Error("flash shown twice")
	}
	if d.Find(`form[data-action="start-distribution"]`).Length() != 1 {
		t.Error("new event has no start form")
	}

	r = c.post("/events", url.Values{"title": {"   "}, "storeName": {"kept"}}, false)
	wantCode(t, "empty title", r, http.StatusBadRequest)
	d = r.doc(t)
	if !strings.Contains(d.Find("#event-form-error").Text(), "Title is required.") {
		t.Error("no form error")
	}
	if d.Find(`details[open] form[data-action="create-event"]`).Length() != 1 {
		t.Error("form not open on error")
	}
	if v, _ := d.Find(`input[name="storeName"]`).Attr("value"); v != "kept" {
		t.Errorf("value not kept: %q", v)
	}
	wantCode(t, "bad image url", c.post("/events", url.Values{"title": {"x"}, "imageUrl": {"javascript:alert(1)"}}, false), http.StatusBadRequest)

	// No CSRF token: refused, nothing created.
	r = c.post("/events", url.Values{"title": {"forged"}, "_csrf": {"nope"}}, false)
	wantCode(t, "forged create", r, http.StatusForbidden)
	var n int
	if err := a.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE title = 'forged'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("forged event created: %d %v", n, err)
	}
	// Anonymous: to the login page.
	anon := a.client()
	anon.get("/login")
	wantLocation(t, "anonymous create", anon.post("/events", url.Values{"title": {"x"}}, false), "/login")
	wantLocation(t, "anonymous list", anon.get("/?status=FAILED"), "/login?next=%2F%3Fstatus%3DFAILED")
}

func TestEventDetailPage(t *testing.T) {
	t.Parallel()
	a := newUIApp(t, false)
	a.event("ev1", "Detail", model.AllChannels...)
	a.setChannel("ev1", model.ChannelKakao, model.StatusFailed, 60, "failed after 3 attempts: KakaoTalk said 503")
	a.exec(`UPDATE channel_status SET post_url = 'https://www.instagram.com/p/abc/', post_id = 'abc', estimated_views = 12345,
		status = 'SUCCESS', progress = 100 WHERE event_id = 'ev1' AND channel = 'INSTAGRAM'`)
	a.exec(`UPDATE channel_status SET post_url = 'javascript:alert(1)', post_id = 'n1' WHERE event_id = 'ev1' AND channel = 'NAVER'`)
	a.exec(`UPDATE channel_status SET impression_schedule = '[{"start":"2025-03-02T09:00:00+09:00","end":"2025-03-02T12:00:00+09:00","slot":"morning","spots":4}]',
		distribution_id = 'UDTV-1' WHERE event_id = 'ev1' AND channel = 'URIDONGNETV'`)
	a.exec(`UPDATE channel_status SET message_id = 'msg-77' WHERE event_id = 'ev1' AND channel = 'KAKAO'`)
	a.event("ev2", "Fresh")

	staff := a.login("s@example.com", model.RoleStaff)
	mk := a.login("m@example.com", model.RoleMarketer)

	r := staff.get("/events/ev1")
	wantCode(t, "detail", r, http.StatusOK)
	d := r.doc(t)
	if d.Find(`[data-overall-status="IN_PROGRESS"]`).Length() != 1 {
		t.Error("overall status hook")
	}
	if n := d.Find(`article[data-channel][data-status][data-updated-at] [role="progressbar"][aria-valuemin="0"][aria-valuemax="100"]`).Length(); n != 6 {
		t.Errorf("%d channel cards with bars, want 6", n)
	}
	kakao := d.Find(`[data-channel="KAKAO"][data-status="FAILED"]`)
	if kakao.Find(`button[data-action="retry"]`).Length() != 1 {
		t.Error("staff: no retry button in the FAILED channel")
	}
	if d.Find(`button[data-action="retry"]`).Length() != 1 {
		t.Error("retry buttons outside FAILED channels")
	}
	if d.Find(`button[data-action="retry-failed"]`).Length() != 1 {
		t.Error("staff: no retry-failed button")
	}
	if !strings.Contains(kakao.Find(`details [data-error-message]`).Text(), "503") || kakao.Find(`[data-error] > p`).First().Text() == "" {
		t.Error("error not shown in plain words with details")
	}
	if kakao.Find(`[data-message-id]`).Text() != "msg-77" {
		t.Error("message id")
	}
	ig := d.Find(`[data-channel="INSTAGRAM"]`)
	if href, _ := ig.Find(`a[data-post-link]`).Attr("href"); href != "https://www.instagram.com/p/abc/" {
		t.Errorf("post link %q", href)
	}
	if ig.Find(`[data-estimated-views]`).Text() != "12,345" {
		t.Errorf("views %q", ig.Find(`[data-estimated-views]`).Text())
	}
	if d.Find(`[data-channel="NAVER"] a[href^="javascript"]`).Length() != 0 || d.Find(`[data-channel="NAVER"] a[data-post-link]`).Length() != 0 {
		t.Error("a non-https post url became a link")
	}
	sched := d.Find(`[data-channel="URIDONGNETV"] table[data-impression-schedule] tbody tr`)
	if sched.Length() != 1 || !strings.Contains(sched.Text(), "Morning") || !strings.Contains(sched.Text(), "03-02 09:00") {
		t.Errorf("schedule row %q", sched.Text())
	}
	if d.Find(`time[datetime]`).Length() == 0 || !strings.Contains(d.Find(`[data-overall-status] time`).First().Text(), "KST") {
		t.Error("times not shown in the default zone (KST) for English")
	}
	if d.Find(`#attempts-ev1`).Length() != 1 {
		t.Error("attempt history section missing")
	}

	// Korean readers see KST.
	req, _ := http.NewRequest(http.MethodGet, a.url+"/events/ev1", nil)
	req.Header.Set("Accept-Language", "ko")
	kd := staff.do(req).doc(t)
	if !strings.Contains(kd.Find(`[data-overall-status] time`).First().Text(), "KST") {
		t.Error("ko: times not in KST")
	}
	if !strings.Contains(kd.Find(`[data-channel="URIDONGNETV"] table[data-impression-schedule] tbody`).Text(), "03-02 09:00") {
		t.Error("ko: schedule not in KST")
	}

	d = mk.get("/events/ev1").doc(t)
	if d.Find(`button[data-action="retry"], button[data-action="retry-failed"]`).Length() != 0 {
		t.Error("marketer sees retry buttons")
	}

	d = mk.get("/events/ev2").doc(t)
	form := d.Find(`form[data-action="start-distribution"]`)
	if form.Find(`input[name="channels"][checked]`).Length() != 6 {
		t.Error("start form: not all six channels checked")
	}
	for _, ch := range model.AllChannels {
		if form.Find(`input[name="channels"][value="`+string(ch)+`"]`).Length() != 1 {
			t.Errorf("start form lacks %s", ch)
		}
	}
	if d.Find(`[data-overall-status]`).Length() != 0 {
		t.Error("overall status without distribution")
	}

	wantCode(t, "unknown event", mk.get("/events/nope"), http.StatusNotFound)
	wantCode(t, "bad id", mk.get("/events/bad*id"), http.StatusBadRequest)
	wantCode(t, "long id", mk.get("/events/"+strings.Repeat("a", 100)), http.StatusBadRequest)
}

func TestStartDistributionForm(t *testing.T) {
	t.Parallel()
	a := newUIApp(t, false)
	a.event("ev1", "One")
	a.event("ev2", "Two")
	a.event("ev3", "Three")
	c := a.login("m@example.com", model.RoleMarketer)
	c.get("/events/ev1")

	wantCode(t, "no channels", c.post("/events/ev1/distribution", url.Values{}, false), http.StatusBadRequest)
	r := c.post("/events/ev1/distribution", url.Values{"channels": {"KAKAO", "MYSPACE"}}, false)
	wantCode(t, "unknown channel", r, http.StatusBadRequest)
	if !strings.Contains(r.doc(t).Find("#action-error").Text(), "MYSPACE") {
		t.Error("unknown channel not named")
	}

	r = c.post("/events/ev1/distribution", url.Values{"channels": {"KAKAO", "NAVER"}}, false)
	wantLocation(t, "start", r, "/events/ev1")
	d := c.get("/events/ev1").doc(t)
	if d.Find(`[data-overall-status="IN_PROGRESS"]`).Length() != 1 || d.Find(`article[data-channel]`).Length() != 2 {
		t.Error("started distribution not shown")
	}
	if !strings.Contains(d.Find(`[data-flash="ok"]`).Text(), "Distribution started") {
		t.Error("no flash")
	}

	// A second start (another tab, a double click) is a conflict, explained in the page.
	r = c.post("/events/ev1/distribution", url.Values{"channels": {"KAKAO"}}, false)
	wantCode(t, "second start", r, http.StatusConflict)
	if !strings.Contains(r.doc(t).Find("#action-error").Text(), "already started") {
		t.Error("conflict not explained")
	}

	// Datastar: an SSE answer with a toast, no redirect, and no fragment: the page's live stream
	// is the one writer of the cards, so an answer read a moment earlier can never put an older
	// state back over a newer one the stream already showed (actionSSE).
	r = c.post("/events/ev2/distribution", url.Values{"channels": {"INSTAGRAM"}}, true)
	wantCode(t, "datastar start", r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	if strings.Contains(r.body, `id="dist-ev2"`) || strings.Contains(r.body, `data-channel=`) {
		t.Errorf("a fragment in the action's answer: %s", r.body)
	}
	if c := a.channel("ev2", model.ChannelInstagram); c.Status == "" {
		t.Errorf("ev2 not started: %+v", c)
	}
	if !strings.Contains(r.body, "selector #toasts") || !strings.Contains(r.body, `data-toast="ok"`) {
		t.Errorf("no toast in %s", r.body)
	}
	r = c.post("/events/ev2/distribution", url.Values{"channels": {"INSTAGRAM"}}, true)
	wantCode(t, "datastar second start", r, http.StatusOK)
	if !strings.Contains(r.body, `data-toast="error"`) || !strings.Contains(r.body, "already started") {
		t.Errorf("no error toast in %s", r.body)
	}

	wantCode(t, "unknown event", c.post("/events/nope/distribution", url.Values{"channels": {"KAKAO"}}, false), http.StatusNotFound)
	wantCode(t, "bad id", c.post("/events/bad*id/distribution", url.Values{"channels": {"KAKAO"}}, false), http.StatusBadRequest)
	wantCode(t, "forged start", c.post("/events/ev3/distribution", url.Values{"channels": {"KAKAO"}, "_csrf": {"forged"}}, false), http.StatusForbidden)
	if _, err := a.db.FindDistribution(context.Background(), "ev3"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("forged start wrote a distribution: %v", err)
	}
}

func TestRetryForms(t *testing.T) {
	t.Parallel()
	a := newUIApp(t, false)
	a.event("ev1", "One", model.ChannelKakao, model.ChannelNaver, model.ChannelInstagram)
	a.setChannel("ev1", model.ChannelKakao, model.StatusFailed, 40, "token expired")
	a.setChannel("ev1", model.ChannelNaver, model.StatusFailed, 0, "rejected")
	a.setChannel("ev1", model.ChannelInstagram, model.StatusSuccess, 100, "")
	a.event("ev2", "Two")
	staff := a.login("s@example.com", model.RoleStaff)
	mk := a.login("m@example.com", model.RoleMarketer)
	mk.get("/events/ev1")
	staff.get("/events/ev1")

	// A marketer forging the POST (valid session and CSRF token) is refused; nothing changes.
	wantCode(t, "marketer retry", mk.post("/events/ev1/channels/KAKAO/retry", nil, false), http.StatusForbidden)
	wantCode(t, "marketer retry (datastar)", mk.post("/events/ev1/channels/KAKAO/retry", nil, true), http.StatusForbidden)
	wantCode(t, "marketer retry-failed", mk.post("/events/ev1/retry-failed", nil, false), http.StatusForbidden)
	if c := a.channel("ev1", model.ChannelKakao); c.Status != model.StatusFailed || c.Retries != 0 {
		t.Fatalf("forged retry changed KAKAO: %s retries %d", c.Status, c.Retries)
	}

	wantLocation(t, "retry", staff.post("/events/ev1/channels/KAKAO/retry", nil, false), "/events/ev1")
	if c := a.channel("ev1", model.ChannelKakao); c.Status != model.StatusPending || c.Retries != 1 || c.LastRetryAt == nil {
		t.Errorf("after retry: %s retries %d", c.Status, c.Retries)
	}
	d := staff.get("/events/ev1").doc(t)
	if !strings.Contains(d.Find(`[data-flash="ok"]`).Text(), "KakaoTalk Channel") {
		t.Error("retry flash")
	}
	if d.Find(`[data-channel="KAKAO"][data-status="PENDING"] [data-retries]`).Text() != "1" {
		t.Error("retries not shown")
	}

	// Not FAILED any more: 409 with a clear message, nothing written.
	r := staff.post("/events/ev1/channels/KAKAO/retry", nil, false)
	wantCode(t, "retry pending", r, http.StatusConflict)
	if msg := r.doc(t).Find("#action-error").Text(); !strings.Contains(msg, "only failed channels") || !strings.Contains(msg, "Pending") {
		t.Errorf("conflict message %q", msg)
	}
	r = staff.post("/events/ev1/channels/INSTAGRAM/retry", nil, true)
	wantCode(t, "datastar retry success channel", r, http.StatusOK)
	if !strings.Contains(r.body, `data-toast="error"`) || !strings.Contains(r.body, "only failed channels") {
		t.Errorf("datastar conflict: %s", r.body)
	}
	if a.channel("ev1", model.ChannelKakao).Retries != 1 {
		t.Error("conflict wrote")
	}

	wantCode(t, "unknown channel", staff.post("/events/ev1/channels/MYSPACE/retry", nil, false), http.StatusBadRequest)
	wantCode(t, "channel not in distribution", staff.post("/events/ev1/channels/GINITV/retry", nil, false), http.StatusNotFound)
	wantCode(t, "unknown event", staff.post("/events/nope/channels/KAKAO/retry", nil, false), http.StatusNotFound)
	r = staff.post("/events/ev2/channels/KAKAO/retry", nil, false)
	wantCode(t, "no distribution", r, http.StatusNotFound)
	if !strings.Contains(r.body, "no distribution yet") {
		t.Error("no-distribution message")
	}

	// Retry all failed via Datastar: SSE with a toast (NAVER now PENDING; the stream shows it).
	r = staff.post("/events/ev1/retry-failed", nil, true)
	wantCode(t, "retry-failed", r, http.StatusOK)
	if !strings.Contains(r.body, "Retrying 1 failed channel.") || strings.Contains(r.body, "data-channel=") {
		t.Errorf("retry-failed answer: %s", r.body)
	}
	if c := a.channel("ev1", model.ChannelNaver); c.Status != model.StatusPending {
		t.Errorf("NAVER after retry-failed = %s", c.Status)
	}
	r = staff.post("/events/ev1/retry-failed", nil, false)
	wantCode(t, "retry-failed again", r, http.StatusConflict)
	if !strings.Contains(r.doc(t).Find("#action-error").Text(), "no failed channels") {
		t.Error("no-failed message")
	}
}

func TestBulkRetry(t *testing.T) {
	t.Parallel()
	a := newUIApp(t, false)
	for _, id := range []string{"b1", "b2", "b3"} {
		a.event(id, id, model.ChannelKakao, model.ChannelNaver)
	}
	a.setChannel("b1", model.ChannelKakao, model.StatusFailed, 0, "token")
	a.setChannel("b2", model.ChannelKakao, model.StatusFailed, 0, "token")
	a.setChannel("b3", model.ChannelNaver, model.StatusFailed, 0, "other")
	staff := a.login("s@example.com", model.RoleStaff)
	mk := a.login("m@example.com", model.RoleMarketer)

	wantCode(t, "marketer page", mk.get("/retries"), http.StatusForbidden)
	d := staff.get("/retries").doc(t)
	if d.Find(`[data-bulk-count]`).Length() != 0 {
		t.Error("count shown before asking")
	}
	today := time.Now().In(seoul).Format(time.DateOnly) // days in the default zone
	d = staff.get("/retries?check=1&channel=KAKAO&from=" + today + "&to=" + today).doc(t)
	if got, _ := d.Find(`[data-bulk-count]`).Attr("data-bulk-count"); got != "2" {
		t.Fatalf("preview count %q", got)
	}
	if a.channel("b1", model.ChannelKakao).Status != model.StatusFailed {
		t.Fatal("the preview retried")
	}
	if d.Find(`button[data-action="bulk-retry-confirm"]`).Length() != 1 {
		t.Fatal("no confirmation")
	}
	d = staff.get("/retries?check=1&channel=KAKAO&to=2000-01-01").doc(t)
	if got, _ := d.Find(`[data-bulk-count]`).Attr("data-bulk-count"); got != "0" || d.Find(`button[data-action="bulk-retry-confirm"]`).Length() != 0 {
		t.Errorf("old range count %q", got)
	}
	wantCode(t, "bad date", staff.get("/retries?check=1&from=31/01/2025"), http.StatusBadRequest)
	wantCode(t, "bad channel", staff.get("/retries?check=1&channel=MYSPACE"), http.StatusBadRequest)
	wantCode(t, "marketer confirm", mk.post("/retries", url.Values{"channel": {"KAKAO"}}, false), http.StatusForbidden)

	staff.get("/retries?check=1&channel=KAKAO")
	r := staff.post("/retries", url.Values{"channel": {"KAKAO"}}, false)
	wantLocation(t, "confirm", r, "/retries?channel=KAKAO&check=1")
	for _, id := range []string{"b1", "b2"} {
		if c := a.channel(id, model.ChannelKakao); c.Status != model.StatusPending || c.Retries != 1 {
			t.Errorf("%s KAKAO after bulk retry: %s", id, c.Status)
		}
	}
	if a.channel("b3", model.ChannelNaver).Status != model.StatusFailed {
		t.Error("bulk retry touched another channel")
	}
	d = staff.get("/retries?channel=KAKAO&check=1").doc(t)
	if !strings.Contains(d.Find(`[data-flash="ok"]`).Text(), "Retrying 2") {
		t.Error("bulk flash")
	}
}

// sseEvent is one server-sent event.
type sseEvent struct{ event, data string }

// sseReader reads the events of a stream.
type sseReader struct {
	t     *testing.T
	ch    chan sseEvent
	close context.CancelFunc // closes the stream from the client's side
}

// openStream opens path as Datastar does and returns its events; closed at cleanup.
func (c *uiClient) openStream(path string) (*sseReader, *http.Response) {
	c.a.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c.a.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.a.url+path, nil)
	req.Header.Set("Datastar-Request", "true")
	req.Header.Set("Accept", "text/event-stream")
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	hc := *c.hc
	hc.Timeout = 0
	res, err := hc.Do(req)
	if err != nil {
		c.a.t.Fatal(err)
	}
	r := &sseReader{t: c.a.t, ch: make(chan sseEvent, 100), close: cancel}
	go func() {
		defer close(r.ch)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.event != "" {
					r.ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data += strings.TrimPrefix(line, "data: ") + "\n"
			}
		}
	}()
	return r, res
}

// waitFor returns the first event satisfying ok, failing after the deadline.
func (r *sseReader) waitFor(what string, ok func(sseEvent) bool) sseEvent {
	r.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev, open := <-r.ch:
			if !open {
				r.t.Fatalf("stream ended while waiting for %s", what)
			}
			if ok(ev) {
				return ev
			}
		case <-deadline:
			r.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// patchDoc parses the elements of a patch-elements event.
func patchDoc(t *testing.T, ev sseEvent) *goquery.Document {
	t.Helper()
	var b strings.Builder
	for _, line := range strings.Split(ev.data, "\n") {
		if s, ok := strings.CutPrefix(line, "elements "); ok {
			b.WriteString(s)
			b.WriteString("\n")
		}
	}
	d, err := goquery.NewDocumentFromReader(strings.NewReader("<table>" + b.String() + "</table>"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}
