package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
)

// Issue 13.3 through the JSON API: 202 with the distribution (the GET shape), the cancelled
// channels FAILED "cancelled by <actor>" and their queued jobs cancelled, 409 when nothing is left
// (nothing written), 404 for an unknown event, an event without distribution or a channel outside
// it, 400 for an unknown channel; every role may cancel; a cancelled channel can be retried.
func TestAPICancel(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil) // insert-only: the jobs stay queued
	a.start("ev1", model.ChannelKakao, model.ChannelNaver, model.ChannelGiniTV)
	a.exec(`UPDATE channel_status SET status = 'SUCCESS', progress = 100, completed_at = now() WHERE event_id = 'ev1' AND channel = 'GINITV'`)
	a.event("bare")

	before := a.snapshot()
	wantError(t, a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/ghost/distribution/cancel", nil), http.StatusNotFound, "not_found")
	wantError(t, a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/bare/distribution/cancel", nil), http.StatusNotFound, "not_found")
	wantError(t, a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/bare/distribution/channels/KAKAO/cancel", nil), http.StatusNotFound, "not_found")
	wantError(t, a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/ev1/distribution/channels/INSTAGRAM/cancel", nil),
		http.StatusNotFound, "not_found", "INSTAGRAM is not part of this distribution")
	wantError(t, a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/ev1/distribution/channels/TIKTOK/cancel", nil),
		http.StatusBadRequest, "invalid", `unknown channel "TIKTOK"`)
	wantError(t, a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/ev1/distribution/channels/GINITV/cancel", nil),
		http.StatusConflict, "conflict", "GINITV is SUCCESS; only PENDING or IN_PROGRESS channels can be cancelled")
	if after := a.snapshot(); after != before {
		t.Fatalf("refused cancels wrote: %s -> %s", before, after)
	}

	// One channel, by a marketer: 202 with the distribution exactly as GET shows it.
	r := a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/ev1/distribution/channels/KAKAO/cancel", `{"ignored": true}`)
	wantStatus(t, r, http.StatusAccepted)
	chs := checkDistribution(t, r.body(t), "ev1")
	if k := chs["KAKAO"]; k["status"] != "FAILED" || k["errorMessage"] != "cancelled by token:marketer-bot" || k["completedAt"] == nil {
		t.Errorf("cancelled KAKAO = %v", k)
	}
	if chs["NAVER"]["status"] != "PENDING" || r.body(t)["overallStatus"] != "IN_PROGRESS" {
		t.Errorf("a channel cancel touched the others: %v", r.body(t))
	}
	g := a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events/ev1/distribution", nil)
	if !sameJSON(t, r.raw, g.raw) {
		t.Errorf("202 body differs from GET:\n%s\n%s", r.raw, g.raw)
	}
	if n := a.count(`SELECT count(*) FROM river_job WHERE args->>'event_id' = 'ev1' AND args->>'channel' = 'KAKAO' AND state = 'cancelled'`); n != 1 {
		t.Errorf("KAKAO's queued job not cancelled (%d)", n)
	}
	before = a.snapshot()
	wantError(t, a.as(model.RoleStaff, http.MethodPost, "/api/v1/events/ev1/distribution/channels/KAKAO/cancel", nil),
		http.StatusConflict, "conflict", "KAKAO is FAILED")
	if after := a.snapshot(); after != before {
		t.Fatalf("refused cancel wrote: %s -> %s", before, after)
	}

	// The whole distribution, by staff: NAVER cancelled, GINITV keeps its success.
	r = a.as(model.RoleStaff, http.MethodPost, "/api/v1/events/ev1/distribution/cancel", nil)
	wantStatus(t, r, http.StatusAccepted)
	b := r.body(t)
	chs = checkDistribution(t, b, "ev1")
	if chs["NAVER"]["errorMessage"] != "cancelled by token:staff-bot" || chs["GINITV"]["status"] != "SUCCESS" ||
		b["overallStatus"] != "PARTIAL_SUCCESS" || b["completedAt"] == nil {
		t.Errorf("after cancel = %v", b)
	}
	before = a.snapshot()
	wantError(t, a.as(model.RoleManager, http.MethodPost, "/api/v1/events/ev1/distribution/cancel", nil),
		http.StatusConflict, "conflict", "nothing left to cancel")
	if after := a.snapshot(); after != before {
		t.Fatalf("refused cancel wrote: %s -> %s", before, after)
	}
	if n := a.count(`SELECT count(*) FROM audit_log WHERE action = 'channel.cancel' AND event_id = 'ev1'`); n != 2 {
		t.Errorf("cancels audited %d times, want 2", n)
	}
	at := a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events/ev1/distribution/attempts", nil).body(t)["attempts"].([]any)
	var who []string
	for _, x := range at {
		m := x.(map[string]any)
		if m["outcome"] == "cancelled" {
			who = append(who, m["trigger"].(string)+" "+m["error"].(string))
		}
	}
	sort.Strings(who)
	if strings.Join(who, "|") != "cancel:token:marketer-bot cancelled by token:marketer-bot|cancel:token:staff-bot cancelled by token:staff-bot" {
		t.Errorf("attempt history of the cancels = %q", who)
	}

	// A cancelled channel is retried like any FAILED one.
	r = a.as(model.RoleStaff, http.MethodPost, "/api/v1/events/ev1/distribution/channels/KAKAO/retry", nil)
	wantStatus(t, r, http.StatusAccepted)
	if k := checkDistribution(t, r.body(t), "ev1")["KAKAO"]; k["status"] != "PENDING" || k["errorMessage"] != nil {
		t.Errorf("retried KAKAO = %v", k)
	}
}

// sameJSON compares two JSON documents by value.
func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatal(err)
	}
	xs, _ := json.Marshal(x)
	ys, _ := json.Marshal(y)
	return string(xs) == string(ys)
}

// The page actions: a marketer may cancel (form and Datastar), a forged CSRF token is refused
// and writes nothing, the cards show the cancel button only while a channel can be cancelled and
// the cancelled card says 취소됨 / Cancelled, and the conflicts answer in words.
func TestCancelForms(t *testing.T) {
	t.Parallel()
	a := newUIApp(t, false)
	a.event("ev1", "One", model.ChannelKakao, model.ChannelNaver, model.ChannelInstagram)
	a.setChannel("ev1", model.ChannelNaver, model.StatusInProgress, 40, "")
	a.setChannel("ev1", model.ChannelInstagram, model.StatusSuccess, 100, "")
	a.event("ev2", "Two")
	mk := a.login("m@example.com", model.RoleMarketer)

	d := mk.get("/events/ev1").doc(t)
	if n := d.Find(`button[data-action="cancel"]`).Length(); n != 2 {
		t.Errorf("cancel buttons = %d, want 2 (KAKAO pending, NAVER in progress)", n)
	}
	if d.Find(`[data-channel="INSTAGRAM"] button[data-action="cancel"]`).Length() != 0 {
		t.Error("a SUCCESS channel offers cancel")
	}
	if d.Find(`button[data-action="cancel-distribution"]`).Length() != 1 || d.Find(`dialog button[data-action="confirm-cancel-distribution"]`).Length() != 1 {
		t.Error("no cancel-distribution button with its confirmation dialog")
	}
	if d.Find(`[data-channel="KAKAO"] dialog button[data-action="confirm-cancel"]`).Length() != 1 {
		t.Error("the channel's cancel has no confirmation dialog")
	}

	wantCode(t, "forged cancel", mk.post("/events/ev1/channels/KAKAO/cancel", url.Values{"_csrf": {"forged"}}, true), http.StatusForbidden)
	if c := a.channel("ev1", model.ChannelKakao); c.Status != model.StatusPending {
		t.Fatalf("forged cancel changed KAKAO: %s", c.Status)
	}

	// Datastar: a toast only; the cards are the live stream's to write (actionSSE).
	r := mk.post("/events/ev1/channels/KAKAO/cancel", nil, true)
	wantCode(t, "datastar cancel", r, http.StatusOK)
	if !strings.Contains(r.body, "Cancelled KakaoTalk Channel") || strings.Contains(r.body, "data-channel=") {
		t.Errorf("cancel answer: %s", r.body)
	}
	if c := a.channel("ev1", model.ChannelKakao); !c.Cancelled() || *c.ErrorMessage != "cancelled by m@example.com" {
		t.Fatalf("KAKAO after cancel = %+v", c)
	}
	r = mk.post("/events/ev1/channels/KAKAO/cancel", nil, false)
	wantCode(t, "cancel again", r, http.StatusConflict)
	if msg := r.doc(t).Find("#action-error").Text(); !strings.Contains(msg, "only pending or in-progress channels") || !strings.Contains(msg, "Cancelled") {
		t.Errorf("conflict message %q", msg)
	}

	// The JSON API with the session: a write without the X-CSRF-Token header is refused.
	apiCancel := func(tok string) uiResp {
		req, _ := http.NewRequest(http.MethodPost, a.url+"/api/v1/events/ev1/distribution/channels/NAVER/cancel", nil)
		if tok != "" {
			req.Header.Set("X-CSRF-Token", tok)
		}
		return mk.do(req)
	}
	wantCode(t, "session API cancel without CSRF", apiCancel(""), http.StatusForbidden)
	wantCode(t, "session API cancel with a forged CSRF token", apiCancel("forged"), http.StatusForbidden)
	if c := a.channel("ev1", model.ChannelNaver); c.Status != model.StatusInProgress {
		t.Fatalf("refused API cancel changed NAVER: %s", c.Status)
	}

	// The whole distribution as a plain form post: 303 back with a flash.
	wantLocation(t, "cancel all", mk.post("/events/ev1/cancel", nil, false), "/events/ev1")
	d = mk.get("/events/ev1").doc(t)
	if !strings.Contains(d.Find(`[data-flash="ok"]`).Text(), "Distribution cancelled") {
		t.Error("cancel flash")
	}
	if d.Find(`button[data-action="cancel"], button[data-action="cancel-distribution"]`).Length() != 0 {
		t.Error("cancel buttons remain after everything was cancelled")
	}
	if got := d.Find(`[data-channel="NAVER"] [data-status-label]`).Text(); strings.TrimSpace(got) != "Cancelled" {
		t.Errorf("NAVER label = %q", got)
	}
	r = mk.post("/events/ev1/cancel", nil, false)
	wantCode(t, "nothing left", r, http.StatusConflict)
	if !strings.Contains(r.doc(t).Find("#action-error").Text(), "Nothing is left to cancel") {
		t.Error("nothing-left message")
	}
	r = mk.post("/events/ev2/cancel", nil, false)
	wantCode(t, "no distribution", r, http.StatusNotFound)
	if !strings.Contains(r.body, "no distribution yet") {
		t.Error("no-distribution message")
	}

	// Korean: 취소됨 on the card and in the attempt history.
	ko := a.login("k@example.com", model.RoleStaff)
	ko.post("/lang", url.Values{"lang": {"ko"}}, false)
	d = ko.get("/events/ev1").doc(t)
	if got := strings.TrimSpace(d.Find(`[data-channel="KAKAO"] [data-status-label]`).Text()); got != "취소됨" {
		t.Errorf("Korean KAKAO label = %q", got)
	}
	if d.Find(`tr[data-outcome="cancelled"]`).Length() != 2 || !strings.Contains(d.Find(`tr[data-outcome="cancelled"]`).Text(), "취소됨") {
		t.Error("attempt history does not show the cancels in Korean")
	}
}
