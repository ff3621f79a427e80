package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// dbClock reads the database clock, which the schedule bounds are measured by.
func (a *apiApp) dbClock() time.Time {
	a.t.Helper()
	var now time.Time
	if err := a.db.Pool.QueryRow(context.Background(), `SELECT clock_timestamp()`).Scan(&now); err != nil {
		a.t.Fatal(err)
	}
	return now
}

// PUT, GET and DELETE /api/v1/events/{id}/schedule: 201 then 200 on a replace, the schedule in the
// event JSON (detail and list) until it is removed, 404s, 409 once the distribution exists, and
// the roles (marketers schedule, staff unschedule).
func TestAPISchedule(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil)
	a.event("ev")
	at := a.dbClock().Add(2 * time.Hour).UTC().Truncate(time.Second)
	path := "/api/v1/events/ev/schedule"

	wantError(t, a.as(model.RoleMarketer, http.MethodGet, path, nil), http.StatusNotFound, "not_found")
	wantError(t, a.as(model.RoleStaff, http.MethodDelete, path, nil), http.StatusNotFound, "not_found")

	r := a.as(model.RoleMarketer, http.MethodPut, path, map[string]any{"channels": []string{"KAKAO", "NAVER"}, "startAt": at.Format(time.RFC3339)})
	wantStatus(t, r, http.StatusCreated)
	b := r.body(t)
	if b["eventId"] != "ev" || b["startAt"] != at.Format(time.RFC3339) || b["createdBy"] != "token:marketer-bot" ||
		len(b["channels"].([]any)) != 2 || b["channels"].([]any)[0] != "NAVER" || len(b) != 4 {
		t.Errorf("PUT answer %v", b)
	}
	if loc := r.header.Get("Location"); loc != path {
		t.Errorf("Location %q", loc)
	}
	r = a.as(model.RoleMarketer, http.MethodGet, path, nil)
	wantStatus(t, r, http.StatusOK)
	if got := r.body(t); got["startAt"] != at.Format(time.RFC3339) || got["createdBy"] != "token:marketer-bot" {
		t.Errorf("GET %v", got)
	}
	ev := a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events/ev", nil).body(t)
	sc, ok := ev["schedule"].(map[string]any)
	if !ok || sc["startAt"] != at.Format(time.RFC3339) || sc["createdBy"] != "token:marketer-bot" || ev["distribution"] != nil || len(sc) != 3 {
		t.Errorf("event JSON %v", ev)
	}
	list := a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events", nil).body(t)
	if sc, _ := list["events"].([]any)[0].(map[string]any)["schedule"].(map[string]any); sc == nil || sc["startAt"] != at.Format(time.RFC3339) {
		t.Errorf("list JSON %v", list)
	}

	// A replace (another time zone offset, the same instant an hour later) answers 200.
	later := at.Add(time.Hour).In(time.FixedZone("KST", 9*3600))
	r = a.as(model.RoleStaff, http.MethodPut, path, map[string]any{"channels": []string{"INSTAGRAM"}, "startAt": later.Format(time.RFC3339)})
	wantStatus(t, r, http.StatusOK)
	if got := r.body(t); got["startAt"] != later.UTC().Format(time.RFC3339) || got["createdBy"] != "token:staff-bot" {
		t.Errorf("replace answer %v", got)
	}

	wantError(t, a.as(model.RoleMarketer, http.MethodDelete, path, nil), http.StatusForbidden, "forbidden")
	r = a.as(model.RoleStaff, http.MethodDelete, path, nil)
	wantStatus(t, r, http.StatusNoContent)
	wantError(t, a.as(model.RoleStaff, http.MethodDelete, path, nil), http.StatusNotFound, "not_found")
	wantError(t, a.as(model.RoleMarketer, http.MethodGet, path, nil), http.StatusNotFound, "not_found")
	if ev := a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events/ev", nil).body(t); ev["schedule"] != nil {
		t.Errorf("event still scheduled: %v", ev)
	}
	if _, ok := ev["schedule"]; !ok {
		t.Error("the event JSON omits schedule instead of null")
	}

	wantError(t, a.as(model.RoleMarketer, http.MethodPut, "/api/v1/events/nope/schedule",
		map[string]any{"channels": []string{"KAKAO"}, "startAt": at.Format(time.RFC3339)}), http.StatusNotFound, "not_found")

	a.start("started", model.ChannelKakao)
	wantError(t, a.as(model.RoleMarketer, http.MethodPut, "/api/v1/events/started/schedule",
		map[string]any{"channels": []string{"KAKAO"}, "startAt": at.Format(time.RFC3339)}), http.StatusConflict, "conflict", "already started")
	if ev := a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events/started", nil).body(t); ev["schedule"] != nil || ev["distribution"] == nil {
		t.Errorf("started event JSON %v", ev)
	}

	// Starting now a scheduled event starts it and removes the schedule.
	a.event("soon")
	wantStatus(t, a.as(model.RoleMarketer, http.MethodPut, "/api/v1/events/soon/schedule",
		map[string]any{"channels": []string{"KAKAO"}, "startAt": at.Format(time.RFC3339)}), http.StatusCreated)
	wantStatus(t, a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/soon/distribution", map[string]any{"channels": []string{"NAVER"}}), http.StatusAccepted)
	wantError(t, a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events/soon/schedule", nil), http.StatusNotFound, "not_found")
}

// Bad bodies and times: 400 (415 without a JSON content type) naming the problem, nothing
// written. The bounds are the database clock's.
func TestAPIScheduleBadInput(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil)
	a.event("ev")
	now := a.dbClock()
	ok := now.Add(time.Hour).UTC().Format(time.RFC3339)
	before := a.snapshot()
	for _, tc := range []struct {
		name, body string
		status     int
		msg        string
	}{
		{"unknown channel", `{"channels":["TIKTOK"],"startAt":"` + ok + `"}`, 400, `unknown channel "TIKTOK"`},
		{"no channels", `{"channels":[],"startAt":"` + ok + `"}`, 400, "at least one channel"},
		{"duplicate channel", `{"channels":["KAKAO","KAKAO"],"startAt":"` + ok + `"}`, 400, "listed twice"},
		{"NUL in a channel", `{"channels":["KAKAO\u0000"],"startAt":"` + ok + `"}`, 400, "unknown channel"},
		{"line break in a channel", `{"channels":["KAKAO\r\nNAVER"],"startAt":"` + ok + `"}`, 400, "unknown channel"},
		{"NUL in startAt", `{"channels":["KAKAO"],"startAt":"` + ok + `\u0000"}`, 400, "RFC 3339"},
		{"line break in startAt", `{"channels":["KAKAO"],"startAt":"` + ok + `\n"}`, 400, "RFC 3339"},
		{"invalid UTF-8", "{\"channels\":[\"KAKAO\"],\"startAt\":\"\xff\"}", 400, "UTF-8"},
		{"missing startAt", `{"channels":["KAKAO"]}`, 400, "startAt is required"},
		{"startAt not a time", `{"channels":["KAKAO"],"startAt":"tomorrow"}`, 400, "RFC 3339"},
		{"startAt without zone", `{"channels":["KAKAO"],"startAt":"2030-01-02T03:04:05"}`, 400, "RFC 3339"},
		{"startAt a number", `{"channels":["KAKAO"],"startAt":1893553445}`, 400, `"startAt" must be a string`},
		{"two minutes ago", `{"channels":["KAKAO"],"startAt":"` + now.Add(-2*time.Minute).UTC().Format(time.RFC3339) + `"}`, 400, "more than a minute in the past"},
		{"91 days ahead", `{"channels":["KAKAO"],"startAt":"` + now.Add(91*24*time.Hour).UTC().Format(time.RFC3339) + `"}`, 400, "more than 90 days ahead"},
		{"year 9999", `{"channels":["KAKAO"],"startAt":"9999-12-31T23:59:59Z"}`, 400, "more than 90 days ahead"},
		{"extra field", `{"channels":["KAKAO"],"startAt":"` + ok + `","trigger":"x"}`, 400, `unknown field "trigger"`},
		{"duplicate key", `{"channels":["KAKAO"],"startAt":"` + ok + `","startAt":"` + ok + `"}`, 400, `duplicate key "startAt"`},
		{"duplicate key, other case", `{"channels":["KAKAO"],"startAt":"` + ok + `","StartAt":"` + ok + `"}`, 400, `duplicate key "StartAt"`},
		{"empty", ``, 400, "empty"},
		{"array", `[]`, 400, "JSON object"},
	} {
		r := a.as(model.RoleMarketer, http.MethodPut, "/api/v1/events/ev/schedule", tc.body)
		msg, _ := r.body(t)["error"].(map[string]any)["message"].(string)
		if r.status != tc.status || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: %d %s, want %d naming %q", tc.name, r.status, r.raw, tc.status, tc.msg)
		}
	}
	r := a.req(http.MethodPut, "/api/v1/events/ev/schedule", a.tokens[model.RoleMarketer], `{"channels":["KAKAO"],"startAt":"`+ok+`"}`,
		map[string]string{"Content-Type": "text/plain"})
	wantError(t, r, http.StatusUnsupportedMediaType, "")
	if after := a.snapshot(); after != before || a.count(`SELECT count(*) FROM distribution_schedules`) != 0 {
		t.Errorf("refused requests wrote: %s → %s", before, after)
	}
	// Just under a minute late is a clock difference: accepted (and due at once).
	wantStatus(t, a.as(model.RoleMarketer, http.MethodPut, "/api/v1/events/ev/schedule",
		`{"channels":["KAKAO"],"startAt":"`+a.dbClock().Add(-30*time.Second).UTC().Format(time.RFC3339)+`"}`), http.StatusCreated)
}

// A session (browser) writing the schedule through the API needs the CSRF token, like every
// session write; the page's own form and the staff unschedule button work without JavaScript, the
// time read in the viewer's zone (the default Asia/Seoul, whatever the language).
func TestScheduleFormsAndCSRF(t *testing.T) {
	t.Parallel()
	a := newUIApp(t, false)
	a.event("ev", "Scheduled event")
	a.event("ev2", "Another")
	mk := a.login("m@example.com", model.RoleMarketer)
	staff := a.login("s@example.com", model.RoleStaff)
	var now time.Time
	if err := a.db.Pool.QueryRow(context.Background(), `SELECT clock_timestamp()`).Scan(&now); err != nil {
		t.Fatal(err)
	}
	at := now.Add(3 * time.Hour).UTC().Truncate(time.Second)

	put := func(c *uiClient, token string) uiResp {
		req, _ := http.NewRequest(http.MethodPut, a.url+"/api/v1/events/ev2/schedule",
			strings.NewReader(`{"channels":["KAKAO"],"startAt":"`+at.Format(time.RFC3339)+`"}`))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("X-CSRF-Token", token)
		}
		return c.do(req)
	}
	wantCode(t, "PUT without CSRF", put(mk, ""), http.StatusForbidden)
	wantCode(t, "PUT with a forged CSRF token", put(mk, "forged"), http.StatusForbidden)
	if n := countRows(t, a, `SELECT count(*) FROM distribution_schedules`); n != 0 {
		t.Fatalf("%d schedules written without a CSRF token", n)
	}
	wantCode(t, "PUT with CSRF", put(mk, mk.csrf), http.StatusCreated)
	del := func(c *uiClient, path string) uiResp {
		req, _ := http.NewRequest(http.MethodDelete, a.url+path, nil)
		req.Header.Set("X-CSRF-Token", c.csrf)
		return c.do(req)
	}
	wantCode(t, "DELETE as a marketer", del(mk, "/api/v1/events/ev2/schedule"), http.StatusForbidden)
	wantCode(t, "DELETE as staff", del(staff, "/api/v1/events/ev2/schedule"), http.StatusNoContent)

	// The form: "at" in Korean is KST.
	mk.hc.Jar.SetCookies(mustURL(t, a.url), []*http.Cookie{{Name: "lang", Value: "ko", Path: "/"}})
	local := at.In(time.FixedZone("KST", 9*3600)).Format("2006-01-02T15:04")
	form := url.Values{"channels": {"NAVER", "KAKAO"}, "when": {"at"}, "at": {local}}
	wantLocation(t, "schedule by form", mk.post("/events/ev/distribution", form, false), "/events/ev")
	sc, err := a.db.FindSchedule(context.Background(), "ev")
	if err != nil || !sc.StartAt.Equal(at.Truncate(time.Minute)) || sc.CreatedBy != "m@example.com" || len(sc.Channels) != 2 {
		t.Fatalf("schedule %+v %v, want %s (the form's KST time)", sc, err, at.Truncate(time.Minute))
	}
	if n := countRows(t, a, `SELECT count(*) FROM distribution_status`); n != 0 {
		t.Fatalf("%d distributions: a schedule must not start anything", n)
	}
	for _, tc := range []struct{ name, at, want string }{
		{"no time", "", "시작할 날짜와 시간"},
		{"not a time", "soon", "시작할 날짜와 시간"},
		{"in the past", now.Add(-2 * time.Hour).In(time.FixedZone("KST", 9*3600)).Format("2006-01-02T15:04"), "이미 지난 시간"},
	} {
		r := mk.post("/events/ev/distribution", url.Values{"channels": {"NAVER"}, "when": {"at"}, "at": {tc.at}}, false)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, tc.want) {
			t.Errorf("%s: %d, want 400 saying %q", tc.name, r.status, tc.want)
		}
	}
	for _, bad := range []string{"2030-01-02T03:04\x00", "2030-01-02T03:04\r\n", "2030-01-02T03:04\xff"} {
		if r := mk.post("/events/ev/distribution", url.Values{"channels": {"NAVER"}, "when": {"at"}, "at": {bad}}, false); r.status != http.StatusBadRequest {
			t.Errorf("at %q: %d, want 400", bad, r.status)
		}
	}
	if r := mk.post("/events/ev/distribution", url.Values{"channels": {"NAVER"}, "when": {"later\x00"}}, false); r.status != http.StatusBadRequest {
		t.Errorf("when with NUL: %d, want 400", r.status)
	}

	// Both pages show it; only staff get the unschedule button.
	d := mk.get("/events/ev").doc(t)
	box := d.Find(`#schedule [data-schedule]`)
	if got, _ := box.Attr("data-start-at"); got != at.Truncate(time.Minute).Format(time.RFC3339) || !strings.Contains(box.Text(), "KST") {
		t.Errorf("detail schedule %q %q", got, box.Text())
	}
	if d.Find(`button[data-action="unschedule"]`).Length() != 0 {
		t.Error("a marketer sees the unschedule button")
	}
	if v, _ := d.Find(`form[data-action="start-distribution"] input[name="at"]`).Attr("value"); !strings.HasPrefix(v, local) {
		t.Errorf("the at field shows %q, want the schedule's KST time %s", v, local)
	}
	if d.Find(`form[data-action="start-distribution"] input[name="channels"][value="INSTAGRAM"]:checked`).Length() != 0 ||
		d.Find(`form[data-action="start-distribution"] input[name="channels"][value="NAVER"]:checked`).Length() != 1 {
		t.Error("the start form does not check the schedule's channels")
	}
	if chip := mk.get("/").doc(t).Find(`tr[data-event-id="ev"] [data-schedule]`); chip.Length() != 1 {
		t.Error("no schedule chip on the list row")
	}
	sd := staff.get("/events/ev").doc(t)
	if sd.Find(`button[data-action="unschedule"]`).Length() != 1 || !strings.Contains(sd.Find(`#schedule`).Text(), "KST") {
		t.Errorf("staff (English) page: %s", sd.Find(`#schedule`).Text())
	}

	wantCode(t, "unschedule as a marketer", mk.post("/events/ev/unschedule", nil, false), http.StatusForbidden)
	r := staff.post("/events/ev/unschedule", url.Values{"_csrf": {"forged"}}, false)
	wantCode(t, "unschedule with a forged token", r, http.StatusForbidden)
	wantLocation(t, "unschedule", staff.post("/events/ev/unschedule", nil, false), "/events/ev")
	if _, err := a.db.FindSchedule(context.Background(), "ev"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatalf("still scheduled: %v", err)
	}
	wantCode(t, "unschedule again", staff.post("/events/ev/unschedule", nil, false), http.StatusNotFound)
	if staff.get("/events/ev").doc(t).Find(`[data-schedule]`).Length() != 0 {
		t.Error("the page still shows the schedule")
	}

	// Scheduled, then started now by form: it starts and the schedule is gone.
	wantLocation(t, "schedule again", mk.post("/events/ev/distribution", form, false), "/events/ev")
	wantLocation(t, "start now", mk.post("/events/ev/distribution", url.Values{"channels": {"INSTAGRAM"}, "when": {"now"}}, false), "/events/ev")
	if _, err := a.db.FindSchedule(context.Background(), "ev"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("the schedule survived a start now: %v", err)
	}
	if d := mk.get("/events/ev").doc(t); d.Find(`[data-overall-status]`).Length() != 1 || d.Find(`[data-schedule]`).Length() != 0 {
		t.Error("the started event's page")
	}
}

func countRows(t *testing.T, a *uiApp, sql string) int {
	t.Helper()
	var n int
	if err := a.db.Pool.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Open pages learn of schedule changes without a reload: writing or removing a schedule announces
// the event, and the detail stream and the list stream re-read it and patch.
func TestScheduleReachesOpenStreams(t *testing.T) {
	t.Parallel()
	a := newUIApp(t, true)
	a.event("ev", "Planned")
	staff := a.login("s@example.com", model.RoleStaff)
	var now time.Time
	if err := a.db.Pool.QueryRow(context.Background(), `SELECT clock_timestamp()`).Scan(&now); err != nil {
		t.Fatal(err)
	}
	at := now.Add(time.Hour).UTC().Truncate(time.Second)

	detail, _ := staff.openStream("/events/ev/stream")
	first := patchDoc(t, detail.waitFor("the full fragment", isPatch))
	if first.Find(`form[data-action="start-distribution"]`).Length() != 1 || first.Find(`[data-schedule]`).Length() != 0 {
		t.Fatal("first patch is not the unscheduled start form")
	}
	list, _ := staff.openStream("/events/stream")
	list.waitFor("the list", isPatch)

	staff.get("/events/ev")
	form := url.Values{"channels": {"KAKAO"}, "when": {"at"}, "at": {at.In(seoul).Format("2006-01-02T15:04:05")}}
	wantLocation(t, "schedule", staff.post("/events/ev/distribution", form, false), "/events/ev")
	ev := detail.waitFor("the schedule on the detail stream", func(ev sseEvent) bool { return isPatch(ev) && strings.Contains(ev.data, "data-schedule") })
	d := patchDoc(t, ev)
	if got, _ := d.Find(`#schedule [data-schedule]`).Attr("data-start-at"); got != at.Format(time.RFC3339) || d.Find(`button[data-action="unschedule"]`).Length() != 1 {
		t.Errorf("detail patch: start %q, unschedule buttons %d", got, d.Find(`button[data-action="unschedule"]`).Length())
	}
	ev = list.waitFor("the chip on the list stream", func(ev sseEvent) bool { return isPatch(ev) && strings.Contains(ev.data, "data-schedule") })
	if patchDoc(t, ev).Find(`tr[data-event-id="ev"] [data-schedule]`).Length() != 1 {
		t.Error("list patch without the row's chip")
	}

	wantLocation(t, "unschedule", staff.post("/events/ev/unschedule", nil, false), "/events/ev")
	ev = detail.waitFor("the schedule gone from the detail stream", func(ev sseEvent) bool {
		return isPatch(ev) && strings.Contains(ev.data, `data-action="start-distribution"`) && !strings.Contains(ev.data, "data-schedule")
	})
	if patchDoc(t, ev).Find(`#schedule`).Length() != 0 {
		t.Error("the schedule box is still sent")
	}
	list.waitFor("the chip gone from the list stream", func(ev sseEvent) bool {
		return isPatch(ev) && strings.Contains(ev.data, `data-event-id="ev"`) && !strings.Contains(ev.data, "data-schedule")
	})
}
