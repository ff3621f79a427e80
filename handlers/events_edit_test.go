package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// PATCH /api/v1/events/{id}: partial, validated as create (hostile text refused), audited; 409
// with the stable code already_started once the distribution started; 404 unknown.
func TestAPIUpdateEvent(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil)
	a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events", map[string]any{
		"id": "ev1", "title": "Spring", "description": "d", "imageUrl": "https://img.example/a.png", "storeName": "Store A",
	})
	r := a.as(model.RoleMarketer, http.MethodPatch, "/api/v1/events/ev1", map[string]any{"title": " Summer ", "storeName": "Store B"})
	wantStatus(t, r, http.StatusOK)
	m := r.body(t)
	if m["title"] != "Summer" || m["storeName"] != "Store B" || m["description"] != "d" || m["imageUrl"] != "https://img.example/a.png" || m["id"] != "ev1" {
		t.Errorf("patched event = %v", m)
	}
	if a.count(`SELECT count(*) FROM audit_log WHERE action = 'event.update' AND event_id = 'ev1' AND actor = 'token:marketer-bot'
		AND detail = 'changed: title, storeName' AND ip = '192.0.2.7'`) != 1 {
		t.Error("the edit is not audited")
	}
	before := a.snapshot()
	for name, body := range map[string]string{
		"NUL in title":           `{"title": "a\u0000b"}`,
		"line break in title":    `{"title": "a\nb"}`,
		"CR in store name":       `{"storeName": "a\rb"}`,
		"NUL in description":     `{"description": "a\u0000"}`,
		"empty title":            `{"title": "   "}`,
		"javascript image":       `{"imageUrl": "javascript:alert(1)"}`,
		"title too long":         `{"title": "` + strings.Repeat("가", 501) + `"}`,
		"invalid UTF-8":          "{\"title\": \"a\xffb\"}",
		"unknown field":          `{"titel": "x"}`,
		"the id is not editable": `{"id": "other"}`,
		"nothing to change":      `{}`,
		"wrong type":             `{"title": 5}`,
	} {
		r := a.as(model.RoleMarketer, http.MethodPatch, "/api/v1/events/ev1", body)
		wantError(t, r, http.StatusBadRequest, "invalid")
		_ = name
	}
	if after := a.snapshot(); after != before {
		t.Errorf("refused edits wrote: %s → %s", before, after)
	}
	// A multi-line description keeps its lines (CRLF stored as LF), as on create.
	r = a.as(model.RoleMarketer, http.MethodPatch, "/api/v1/events/ev1", map[string]any{"description": "line 1\r\nline 2"})
	wantStatus(t, r, http.StatusOK)
	if r.body(t)["description"] != "line 1\nline 2" {
		t.Errorf("description = %q", r.body(t)["description"])
	}

	wantError(t, a.as(model.RoleMarketer, http.MethodPatch, "/api/v1/events/nope", map[string]any{"title": "x"}), http.StatusNotFound, "not_found")
	wantError(t, a.as(model.RoleMarketer, http.MethodPatch, "/api/v1/events/..%2Fx", map[string]any{"title": "x"}), http.StatusBadRequest, "invalid")

	wantStatus(t, a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/ev1/distribution", map[string]any{"channels": []string{"KAKAO"}}), http.StatusAccepted)
	wantError(t, a.as(model.RoleMarketer, http.MethodPatch, "/api/v1/events/ev1", map[string]any{"title": "late"}), http.StatusConflict, "already_started")
	if got := a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events/ev1", nil).body(t)["title"]; got != "Summer" {
		t.Errorf("title after a refused edit = %v", got)
	}
}

// POST /api/v1/events/{id}/duplicate → 201 with a new, unstarted copy (of a started event too).
func TestAPIDuplicateEvent(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil)
	a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events", map[string]any{"id": "ev1", "title": "Spring", "description": "two\nlines", "storeName": "S"})
	wantStatus(t, a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/ev1/distribution", map[string]any{"channels": []string{"KAKAO"}}), http.StatusAccepted)
	r := a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/ev1/duplicate", nil)
	wantStatus(t, r, http.StatusCreated)
	m := r.body(t)
	id, _ := m["id"].(string)
	if id == "" || id == "ev1" || m["title"] != "Spring" || m["description"] != "two\nlines" || m["storeName"] != "S" ||
		m["distribution"] != nil || m["schedule"] != nil {
		t.Fatalf("copy = %v", m)
	}
	if loc := r.header.Get("Location"); loc != "/api/v1/events/"+id {
		t.Errorf("Location %q", loc)
	}
	if a.count(`SELECT count(*) FROM audit_log WHERE action = 'event.duplicate' AND event_id = $1 AND detail = 'copy of ev1'`, id) != 1 {
		t.Error("the copy is not audited")
	}
	// The copy can be started on its own.
	wantStatus(t, a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/"+id+"/distribution", map[string]any{"channels": []string{"NAVER"}}), http.StatusAccepted)
	wantError(t, a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/nope/duplicate", nil), http.StatusNotFound, "not_found")
}

// DELETE /api/v1/events/{id} → 204 (audited, schedule gone with it); 404 unknown; 409 started.
func TestAPIDeleteEvent(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil)
	a.event("ev1")
	wantStatus(t, a.as(model.RoleMarketer, http.MethodPut, "/api/v1/events/ev1/schedule",
		map[string]any{"channels": []string{"KAKAO"}, "startAt": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)}), http.StatusCreated)
	r := a.as(model.RoleMarketer, http.MethodDelete, "/api/v1/events/ev1", nil)
	wantStatus(t, r, http.StatusNoContent)
	if r.raw != "" {
		t.Errorf("204 with a body: %q", r.raw)
	}
	wantError(t, a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events/ev1", nil), http.StatusNotFound, "not_found")
	if a.count(`SELECT count(*) FROM distribution_schedules WHERE event_id = 'ev1'`) != 0 {
		t.Error("the deleted event's schedule is left")
	}
	if a.count(`SELECT count(*) FROM audit_log WHERE action = 'event.delete' AND event_id = 'ev1' AND detail = 'title: Event ev1'`) != 1 {
		t.Error("the delete is not audited")
	}
	wantError(t, a.as(model.RoleMarketer, http.MethodDelete, "/api/v1/events/ev1", nil), http.StatusNotFound, "not_found")

	a.start("ev2", model.ChannelKakao)
	wantError(t, a.as(model.RoleManager, http.MethodDelete, "/api/v1/events/ev2", nil), http.StatusConflict, "already_started")
	if a.count(`SELECT count(*) FROM events WHERE id = 'ev2'`) != 1 {
		t.Error("a started event was deleted")
	}
}

// Concurrent requests: starts racing deletes and edits of the same events never leave a
// distribution for a deleted event, and the loser of each race gets its documented answer.
func TestAPIEventDeleteRacesStart(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil)
	const n = 20
	for i := range n {
		a.event("race-" + string(rune('a'+i)))
	}
	var wg sync.WaitGroup
	type res struct{ start, del, patch int }
	out := make([]res, n)
	gate := make(chan struct{})
	for i := range n {
		id := "race-" + string(rune('a'+i))
		wg.Go(func() {
			<-gate
			out[i].start = a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/"+id+"/distribution", map[string]any{"channels": []string{"KAKAO"}}).status
		})
		wg.Go(func() {
			<-gate
			out[i].del = a.as(model.RoleMarketer, http.MethodDelete, "/api/v1/events/"+id, nil).status
		})
		wg.Go(func() {
			<-gate
			out[i].patch = a.as(model.RoleMarketer, http.MethodPatch, "/api/v1/events/"+id, map[string]any{"title": "x"}).status
		})
	}
	close(gate)
	wg.Wait()
	for i, r := range out {
		id := "race-" + string(rune('a'+i))
		ok := (r.start == http.StatusAccepted && r.del == http.StatusConflict) ||
			(r.start == http.StatusNotFound && r.del == http.StatusNoContent)
		if !ok || (r.patch != http.StatusOK && r.patch != http.StatusConflict && r.patch != http.StatusNotFound) {
			t.Errorf("%s: start %d, delete %d, patch %d", id, r.start, r.del, r.patch)
		}
	}
	if c := a.count(`SELECT count(*) FROM distribution_status d WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id)`); c != 0 {
		t.Errorf("%d distributions of deleted events", c)
	}
}

// The detail page: edit form (while not started, hostile text refused with the form kept),
// duplicate and delete (with its confirmation dialog) as plain form posts; started events show
// duplicate only and refuse edits and deletes in the page.
func TestEventEditPages(t *testing.T) {
	t.Parallel()
	a := newUIApp(t, false)
	a.event("ev1", "Spring sale")
	a.event("ev2", "Started", model.ChannelKakao)
	c := a.login("m@x.test", model.RoleMarketer)

	doc := c.get("/events/ev1").doc(t)
	for _, sel := range []string{`form[data-action="edit-event"][action="/events/ev1/edit"] input[name="title"][value="Spring sale"]`,
		`form[action="/events/ev1/duplicate"] button[data-action="duplicate-event"]`, `button[data-action="delete-event"][aria-haspopup="dialog"]`,
		`dialog#delete-ev1 form[action="/events/ev1/delete"] button[data-action="confirm-delete-event"]`, `dialog#delete-ev1 input[name="_csrf"]`} {
		if doc.Find(sel).Length() != 1 {
			t.Errorf("detail page lacks %s", sel)
		}
	}
	doc = c.get("/events/ev2").doc(t)
	if doc.Find(`form[data-action="edit-event"], button[data-action="delete-event"]`).Length() != 0 || doc.Find(`button[data-action="duplicate-event"]`).Length() != 1 {
		t.Error("a started event offers edit or delete, or no duplicate")
	}

	form := url.Values{"title": {"Summer sale"}, "description": {"a\r\nb"}, "storeName": {"Store"}, "imageUrl": {"https://img.example/x.png"}}
	wantLocation(t, "edit", c.post("/events/ev1/edit", form, false), "/events/ev1")
	e, err := a.db.FindEventByID(t.Context(), "ev1")
	if err != nil || e.Title != "Summer sale" || e.Description != "a\nb" || e.StoreName != "Store" || e.ImageURL != "https://img.example/x.png" {
		t.Fatalf("edited = %+v %v", e, err)
	}
	if !strings.Contains(c.get("/events/ev1").body, "Event saved.") {
		t.Error("no flash after the edit")
	}
	for name, bad := range map[string]url.Values{
		"NUL":           {"title": {"a\x00b"}},
		"line break":    {"title": {"a\nb"}},
		"invalid UTF-8": {"title": {"ok"}, "storeName": {"\xff"}},
		"empty title":   {"title": {""}},
	} {
		r := c.post("/events/ev1/edit", bad, false)
		wantCode(t, name, r, http.StatusBadRequest)
		d := r.doc(t)
		if d.Find(`details[open] form[data-action="edit-event"] #event-form-error[role="alert"]`).Length() != 1 {
			t.Errorf("%s: the edit form is not reopened with the problem", name)
		}
	}
	if e2, _ := a.db.FindEventByID(t.Context(), "ev1"); e2.Title != "Summer sale" {
		t.Errorf("a refused edit changed the title to %q", e2.Title)
	}

	r := c.post("/events/ev1/duplicate", nil, false)
	wantCode(t, "duplicate", r, http.StatusSeeOther)
	loc := r.header.Get("Location")
	if !strings.HasPrefix(loc, "/events/") || loc == "/events/ev1" {
		t.Fatalf("duplicate → %q", loc)
	}
	if d := c.get(loc).doc(t); d.Find("h1").Text() != "Summer sale" || d.Find(`form[data-action="start-distribution"]`).Length() != 1 {
		t.Error("the copy's page is not an unstarted event with the title")
	}

	wantLocation(t, "delete", c.post("/events/ev1/delete", nil, false), "/")
	if !strings.Contains(c.get("/").body, "Event deleted.") {
		t.Error("no flash after the delete")
	}
	wantCode(t, "deleted page", c.get("/events/ev1"), http.StatusNotFound)

	r = c.post("/events/ev2/edit", url.Values{"title": {"x"}}, false)
	wantCode(t, "edit started", r, http.StatusConflict)
	if !strings.Contains(r.doc(t).Find("#action-error").Text(), "can no longer be edited") {
		t.Errorf("edit of a started event: %s", r.doc(t).Find("#action-error").Text())
	}
	wantCode(t, "delete started", c.post("/events/ev2/delete", nil, false), http.StatusConflict)
	wantCode(t, "delete unknown", c.post("/events/nope/delete", nil, false), http.StatusNotFound)
	wantCode(t, "no CSRF", c.post("/events/ev2/duplicate", url.Values{"_csrf": {"forged"}}, false), http.StatusForbidden)
}
