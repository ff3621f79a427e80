package handlers_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/marketing-platform/distribution/internal/cache"
	"github.com/marketing-platform/distribution/internal/model"
)

// sessionClient logs a new user of role in through the login form and returns a sender that
// carries the session cookies, and the CSRF token.
func sessionClient(t *testing.T, a *apiApp, email string, role model.Role) (func(method, path, body string, hdr map[string]string) apiResp, string) {
	t.Helper()
	if _, err := a.auth.CreateUser(context.Background(), email, apiPassword, role, "test"); err != nil {
		t.Fatal(err)
	}
	jar := map[string]string{}
	send := func(method, path, body string, hdr map[string]string) apiResp {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		r := httptest.NewRequest(method, "http://dist.test"+path, rd)
		r.RemoteAddr = "192.0.2.9:40000"
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
	send(http.MethodGet, "/login", "", nil)
	form := url.Values{"email": {email}, "password": {apiPassword}, "_csrf": {jar["dist_csrf"]}}
	if r := send(http.MethodPost, "/login", form.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); r.status != http.StatusSeeOther {
		t.Fatalf("login: %d", r.status)
	}
	send(http.MethodGet, "/", "", nil)
	return send, jar["dist_csrf"]
}

// openBreaker opens ch's breaker in the app's deployment-wide store (Redis, namespaced by the
// database), as five channel-side failures from two events would.
func openBreaker(t *testing.T, a *apiApp, ch model.Channel) {
	t.Helper()
	u, _ := url.Parse(a.app.Config.DatabaseURL)
	br := cache.NewBreakers(a.app.Redis, strings.TrimPrefix(u.Path, "/"))
	rules := model.DefaultBreakerRules()
	for i := range 5 {
		if _, _, err := br.Record(context.Background(), ch, []string{"ev-a", "ev-b"}[i%2], model.BreakerFailure, false, time.Now(), rules); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := br.Status(context.Background(), ch); err != nil || st.State != model.BreakerOpen {
		t.Fatalf("breaker %+v %v, want open", st, err)
	}
}

// "Probe now": staff and managers only, CSRF for sessions, 409 unless the channel is paused, 202
// with the breaker's next probe due now, audited with who and from where; the reports health strip
// shows the paused channel and the button.
func TestAPIProbeChannel(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil)
	path := "/api/v1/channels/KAKAO/probe"

	wantError(t, a.req(http.MethodPost, path, "", nil, nil), http.StatusUnauthorized, "unauthorized")
	wantError(t, a.as(model.RoleMarketer, http.MethodPost, path, nil), http.StatusForbidden, "forbidden")
	wantError(t, a.as(model.RoleStaff, http.MethodPost, path, nil), http.StatusConflict, "conflict", "not paused")
	wantError(t, a.as(model.RoleStaff, http.MethodPost, "/api/v1/channels/KAKAO%0A/probe", nil), http.StatusBadRequest, "invalid")
	if n := a.count(`SELECT count(*) FROM audit_log WHERE action = 'channel.probe'`); n != 0 {
		t.Fatalf("refused probes audited: %d", n)
	}

	openBreaker(t, a, model.ChannelKakao)
	send, csrf := sessionClient(t, a, "mgr@example.com", model.RoleManager)
	page := send(http.MethodGet, "/reports", "", nil)
	wantStatus(t, page, http.StatusOK)
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(page.raw))
	if err != nil {
		t.Fatal(err)
	}
	kakao := doc.Find(`[data-breaker="KAKAO"][data-breaker-state="open"]`)
	if kakao.Length() != 1 || !strings.Contains(kakao.Text(), "Paused until") ||
		kakao.Find(`form[action="/channels/KAKAO/probe"] button[data-action="probe-channel"]`).Length() != 1 {
		t.Fatalf("health strip KAKAO: %q", kakao.Text())
	}
	if doc.Find(`[data-breaker="NAVER"][data-breaker-state="closed"]`).Length() != 1 || doc.Find(`[data-breaker="NAVER"] button`).Length() != 0 {
		t.Error("NAVER should show a working breaker without a probe button")
	}

	// A session write without the CSRF token is refused and changes nothing.
	wantError(t, send(http.MethodPost, path, "", nil), http.StatusForbidden, "forbidden", "CSRF")
	if n := a.count(`SELECT count(*) FROM audit_log WHERE action = 'channel.probe'`); n != 0 {
		t.Fatalf("a refused probe was audited: %d", n)
	}
	r := send(http.MethodPost, path, "", map[string]string{"X-CSRF-Token": csrf})
	wantStatus(t, r, http.StatusAccepted)
	b := r.body(t)
	wantKeys(t, "breaker", b, "channel", "state", "nextProbeAt")
	wantTime(t, "nextProbeAt", b["nextProbeAt"])
	if next, _ := time.Parse(time.RFC3339Nano, b["nextProbeAt"].(string)); b["channel"] != "KAKAO" || b["state"] != "open" || next.After(time.Now()) {
		t.Fatalf("probe answer %v: want KAKAO open with its next probe due now", b)
	}
	if n := a.count(`SELECT count(*) FROM audit_log WHERE action = 'channel.probe' AND actor = 'mgr@example.com'
		AND channel = 'KAKAO' AND ip = '192.0.2.9'`); n != 1 {
		t.Errorf("probe audit rows = %d, want 1 naming the manager, the channel and the address", n)
	}
	// The page form does the same (staff), then goes back.
	staff, staffCSRF := sessionClient(t, a, "staff@example.com", model.RoleStaff)
	form := url.Values{"_csrf": {staffCSRF}}
	r = staff(http.MethodPost, "/channels/KAKAO/probe", form.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if r.status != http.StatusSeeOther {
		t.Fatalf("probe form: %d %s", r.status, r.raw)
	}
	if n := a.count(`SELECT count(*) FROM audit_log WHERE action = 'channel.probe' AND actor = 'staff@example.com'`); n != 1 {
		t.Errorf("form probe audit rows = %d", n)
	}
}

// Channels carry waitingReason and nextAttemptAt: queued after a start, channel_paused with the
// probe time while the breaker holds them; the cards say it in words.
func TestAPIWaitingReason(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil) // no workers: the channels stay queued
	ctx := context.Background()
	a.start("wait-1", model.ChannelKakao, model.ChannelNaver)
	get := func() map[string]map[string]any {
		r := a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events/wait-1/distribution", nil)
		wantStatus(t, r, http.StatusOK)
		return checkDistribution(t, r.body(t), "wait-1")
	}
	for ch, c := range get() {
		if c["waitingReason"] != "queued" || c["nextAttemptAt"] != nil {
			t.Errorf("%s after the start: waitingReason %v nextAttemptAt %v", ch, c["waitingReason"], c["nextAttemptAt"])
		}
	}

	// The engine pauses KAKAO until its breaker's next probe (and writes Redis after the commit,
	// as the engine does).
	d, err := a.db.FindDistribution(ctx, "wait-1")
	if err != nil {
		t.Fatal(err)
	}
	until := time.Date(2031, 5, 6, 14, 5, 30, 0, time.UTC)
	k := d.Channel(model.ChannelKakao)
	st, changed, ok, err := a.db.PauseChannel(ctx, d.ID, model.ChannelKakao, k.Generation, model.WaitChannelPaused, until)
	if err != nil || !ok || !changed {
		t.Fatalf("pause: %v %v %v", changed, ok, err)
	}
	if _, changed, ok, err := a.db.PauseChannel(ctx, d.ID, model.ChannelKakao, k.Generation, model.WaitChannelPaused, until); err != nil || !ok || changed {
		t.Fatalf("the same pause again: changed %v ok %v %v, want an unchanged live row", changed, ok, err)
	}
	if _, _, ok, err := a.db.PauseChannel(ctx, d.ID, model.ChannelKakao, k.Generation+1, model.WaitChannelPaused, until); err != nil || ok {
		t.Fatalf("a stale generation's pause: ok %v %v, want not ok", ok, err)
	}
	if err := a.app.Cache.PutChannel(ctx, st); err != nil {
		t.Fatal(err)
	}
	chs := get()
	if c := chs["KAKAO"]; c["status"] != "PENDING" || c["waitingReason"] != "channel_paused" || c["nextAttemptAt"] != "2031-05-06T14:05:30Z" {
		t.Errorf("paused KAKAO = %v", c)
	}
	// The detail page says it in words, in the default time zone (Asia/Seoul) whatever the language.
	for lang, want := range map[string]string{"en": "Channel paused until 23:05:30", "ko": "일시 중지: 23:05:30까지"} {
		r := a.req(http.MethodGet, "/events/wait-1", a.tokens[model.RoleMarketer], nil, map[string]string{"Accept-Language": lang})
		wantStatus(t, r, http.StatusOK)
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(r.raw))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(doc.Find(`[data-channel="KAKAO"] [data-waiting="channel_paused"]`).Text()); got != want {
			t.Errorf("%s card says %q, want %q", lang, got, want)
		}
		if got := doc.Find(`[data-channel="NAVER"] [data-waiting="queued"]`).Length(); got != 1 {
			t.Errorf("%s NAVER card: %d queued lines", lang, got)
		}
		// The list bars say it too.
		r = a.req(http.MethodGet, "/", a.tokens[model.RoleMarketer], nil, map[string]string{"Accept-Language": lang})
		wantStatus(t, r, http.StatusOK)
		if doc, err = goquery.NewDocumentFromReader(strings.NewReader(r.raw)); err != nil {
			t.Fatal(err)
		}
		row := doc.Find(`[data-event-id="wait-1"]`)
		if got := strings.TrimSpace(row.Find(`[data-channel="KAKAO"] [data-waiting="channel_paused"]`).Text()); got != want {
			t.Errorf("%s list bar says %q, want %q", lang, got, want)
		}
		if got := row.Find(`[data-channel="NAVER"] [data-waiting="queued"]`).Length(); got != 1 {
			t.Errorf("%s NAVER list bar: %d queued lines", lang, got)
		}
	}

	// Staff get "probe now" in the paused card (marketers do not); it probes the channel's breaker.
	probeButtons := func(role model.Role) int {
		r := a.req(http.MethodGet, "/events/wait-1", a.tokens[role], nil, nil)
		wantStatus(t, r, http.StatusOK)
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(r.raw))
		if err != nil {
			t.Fatal(err)
		}
		if n := doc.Find(`button[data-action="probe-channel"]`).Length(); n != doc.Find(`[data-channel="KAKAO"] form[action="/events/wait-1/channels/KAKAO/probe"] button[data-action="probe-channel"]`).Length() {
			t.Errorf("probe buttons outside the paused KAKAO card: %d", n)
		}
		return doc.Find(`[data-channel="KAKAO"] button[data-action="probe-channel"]`).Length()
	}
	if n := probeButtons(model.RoleMarketer); n != 0 {
		t.Errorf("a marketer sees %d probe buttons", n)
	}
	if n := probeButtons(model.RoleStaff); n != 1 {
		t.Errorf("staff see %d probe buttons in the paused card, want 1", n)
	}
	openBreaker(t, a, model.ChannelKakao)
	r := a.as(model.RoleStaff, http.MethodPost, "/events/wait-1/channels/KAKAO/probe", nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/events/wait-1" {
		t.Fatalf("card probe: %d %q", r.status, r.header.Get("Location"))
	}
	if n := a.count(`SELECT count(*) FROM audit_log WHERE action = 'channel.probe' AND actor = 'token:staff-bot' AND channel = 'KAKAO'`); n != 1 {
		t.Errorf("card probe audit rows = %d, want 1", n)
	}
}
