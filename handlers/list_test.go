package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
)

// The events list's filters (issue 15): NOT_STARTED is a filter value of the page and the API,
// the chips add up to "all", bad values are named next to the filters while the rest still
// applies, and the page size is a validated choice.
func TestListNotStartedBadFilterAndSize(t *testing.T) {
	t.Parallel()
	a := newUIApp(t, false)
	a.event("run", "Running", model.ChannelKakao)
	for i := range 3 {
		a.event("idle"+strconv.Itoa(i), "Idle "+strconv.Itoa(i))
	}
	c := a.login("m@example.com", model.RoleMarketer)

	r := c.get("/?status=NOT_STARTED")
	wantCode(t, "not started", r, http.StatusOK)
	d := r.doc(t)
	if n := d.Find(`tr[data-event-id]`).Length(); n != 3 || d.Find(`tr[data-event-id="run"]`).Length() != 0 {
		t.Errorf("not started: %d rows", n)
	}
	sum := 0
	for _, s := range []string{"NOT_STARTED", "IN_PROGRESS", "COMPLETED", "PARTIAL_SUCCESS", "FAILED"} {
		n, _ := strconv.Atoi(d.Find(`#status-counts [data-count-status="` + s + `"] [data-count]`).Text())
		sum += n
	}
	if all := d.Find(`#status-counts [data-count-status=""] [data-count]`).Text(); all != "4" || sum != 4 ||
		d.Find(`#status-counts [data-count-status="NOT_STARTED"] [data-count]`).Text() != "3" {
		t.Errorf("chips: all %s, sum %d", all, sum)
	}
	if v, _ := d.Find(`[data-list-total]`).Attr("data-list-total"); v != "3" {
		t.Errorf("total %q, want 3", v)
	}

	for path, names := range map[string][]string{
		"/?status=bogus":                  {"status"},
		"/?status=bogus&q=Idle":           {"status"},
		"/?size=7":                        {"size"},
		"/?size=20abc&channel=TIKTOK":     {"size", "channel"},
		"/?q=a%00b":                       {"q"},
		"/?q=" + strings.Repeat("x", 201): {"q"},
		"/?before=%21%21":                 {"before"},
	} {
		r := c.get(path)
		wantCode(t, path, r, http.StatusBadRequest)
		d := r.doc(t)
		msg := d.Find(`form[data-action="filter"] #filter-error[role="alert"]`).Text()
		for _, n := range names {
			if !strings.Contains(msg, "("+n+")") {
				t.Errorf("%s: error %q does not name %s", path, msg, n)
			}
		}
		want := 4
		if strings.Contains(path, "q=Idle") {
			want = 3
		}
		if n := d.Find(`tr[data-event-id]`).Length(); n != want {
			t.Errorf("%s: %d rows, want %d (the valid filters still apply)", path, n, want)
		}
	}

	r = c.get("/?size=20&q=" + url.QueryEscape("Idle"))
	wantCode(t, "size 20", r, http.StatusOK)
	d = r.doc(t)
	if d.Find(`select[name="size"] option[value="20"][selected]`).Length() != 1 ||
		d.Find(`form[data-action="filter"] input[type="hidden"][name="size"][value="20"]`).Length() != 1 ||
		d.Find(`form[data-action="page-size"] input[type="hidden"][name="q"][value="Idle"]`).Length() != 1 {
		t.Error("the page size is not kept by the filter and size forms")
	}
	if v, _ := d.Find(`[data-list-total]`).Attr("data-list-total"); v != "3" {
		t.Errorf("searched total %q, want 3", v)
	}
}

func TestAPIListNotStarted(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil)
	for _, id := range []string{"a", "b"} {
		if _, err := a.db.CreateEvent(context.Background(), model.Event{ID: id, Title: id}, "test"); err != nil {
			t.Fatal(err)
		}
	}
	wantStatus(t, a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/a/distribution", map[string]any{"channels": []string{"KAKAO"}}), http.StatusAccepted)
	for q, want := range map[string][]string{"status=NOT_STARTED": {"b"}, "status=IN_PROGRESS": {"a"}, "": {"b", "a"}} {
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
	wantError(t, a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events?status=bogus", nil), http.StatusBadRequest, "invalid", "NOT_STARTED")
}
