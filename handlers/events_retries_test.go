package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/marketing-platform/distribution/internal/model"
)

// The bulk retry preview lists every matching FAILED channel (event, channel, error, when) with
// a checkbox, all checked; the confirmation retries the checked ones only (none checked retries
// nothing), then the page links to the events list filtered to what was reopened.
func TestBulkRetryPicksChannels(t *testing.T) {
	t.Parallel()
	a := newUIApp(t, false)
	for _, id := range []string{"ev-a", "ev-b", "ev-c"} {
		a.event(id, "Sale "+id, model.ChannelKakao, model.ChannelNaver)
		a.setChannel(id, model.ChannelKakao, model.StatusFailed, 40, "kakao 503 on "+id)
	}
	a.setChannel("ev-a", model.ChannelNaver, model.StatusFailed, 10, "naver down")
	a.setChannel("ev-b", model.ChannelNaver, model.StatusSuccess, 100, "")
	a.setChannel("ev-c", model.ChannelNaver, model.StatusSuccess, 100, "")
	c := a.login("staff@x.test", model.RoleStaff)

	r := c.get("/retries?check=1&channel=KAKAO")
	wantCode(t, "preview", r, http.StatusOK)
	d := r.doc(t)
	rows := d.Find(`form[method="post"][action="/retries"] table[data-bulk-candidates] tr[data-bulk-candidate]`)
	if rows.Length() != 3 {
		t.Fatalf("preview lists %d channels, want the 3 failed KAKAO", rows.Length())
	}
	ids := map[string]string{} // event → channel row id
	rows.Each(func(_ int, s *goquery.Selection) {
		ev, _ := s.Attr("data-event-ref")
		ch, _ := s.Attr("data-channel-ref")
		box := s.Find(`input[type="checkbox"][name="ids"][checked]`)
		v, _ := box.Attr("value")
		if ch != "KAKAO" || box.Length() != 1 || !strings.Contains(s.Text(), "kakao 503 on "+ev) || !strings.Contains(s.Text(), "Sale "+ev) || s.Find("time").Length() != 1 {
			t.Errorf("row of %s: channel %s, checkbox %d: %q", ev, ch, box.Length(), s.Text())
		}
		ids[ev] = v
	})
	if d.Find(`form[action="/retries"] input[name="select"][value="1"]`).Length() != 1 {
		t.Fatal("the confirmation does not say a list was shown")
	}

	// Nothing checked: nothing retried, the list again with the problem.
	before := a.channel("ev-a", model.ChannelKakao).Retries
	r = c.post("/retries", url.Values{"channel": {"KAKAO"}, "select": {"1"}}, false)
	wantCode(t, "none checked", r, http.StatusBadRequest)
	if r.doc(t).Find(`#bulk-error[role="alert"]`).Length() != 1 || r.doc(t).Find(`tr[data-bulk-candidate]`).Length() != 3 {
		t.Error("no problem shown with the list when nothing is checked")
	}
	wantCode(t, "bad id", c.post("/retries", url.Values{"channel": {"KAKAO"}, "select": {"1"}, "ids": {"1\x00"}}, false), http.StatusBadRequest)
	if a.channel("ev-a", model.ChannelKakao).Retries != before || a.channel("ev-a", model.ChannelKakao).Status != model.StatusFailed {
		t.Fatal("a refused confirmation retried")
	}

	// Two of three checked; a checked id outside the filter (ev-a's NAVER) is not retried either.
	naver := ""
	for _, s := range []string{"ev-a"} {
		dn := c.get("/retries?check=1&channel=NAVER").doc(t)
		naver, _ = dn.Find(`tr[data-event-ref="` + s + `"] input[name="ids"]`).Attr("value")
	}
	r = c.post("/retries", url.Values{"channel": {"KAKAO"}, "select": {"1"}, "ids": {ids["ev-a"], ids["ev-c"], naver}}, false)
	wantCode(t, "confirm", r, http.StatusSeeOther)
	loc := r.header.Get("Location")
	if loc != "/retries?channel=KAKAO&check=1" {
		t.Errorf("Location %q", loc)
	}
	for ev, want := range map[string]model.ChannelStatus{"ev-a": model.StatusPending, "ev-b": model.StatusFailed, "ev-c": model.StatusPending} {
		if got := a.channel(ev, model.ChannelKakao).Status; got != want {
			t.Errorf("%s KAKAO = %s, want %s", ev, got, want)
		}
	}
	if got := a.channel("ev-a", model.ChannelNaver).Status; got != model.StatusFailed {
		t.Errorf("NAVER (outside the filter) = %s, want FAILED", got)
	}
	d = c.get(loc).doc(t)
	if !strings.Contains(d.Text(), "Retrying 2 failed channels") {
		t.Error("no flash counting the two")
	}
	href, _ := d.Find(`a[data-action="bulk-retry-events"]`).Attr("href")
	if href != "/?channel=KAKAO&status=IN_PROGRESS" {
		t.Errorf("link to the events %q", href)
	}
	if d.Find(`tr[data-bulk-candidate]`).Length() != 1 {
		t.Error("the preview after the retry does not list the one left")
	}
	// The list the link opens shows the retried events.
	list := c.get(href).doc(t)
	for ev, want := range map[string]int{"ev-a": 1, "ev-b": 0, "ev-c": 1} {
		if n := list.Find(`tr[data-event-id="` + ev + `"]`).Length(); n != want {
			t.Errorf("filtered list shows %s %d times, want %d", ev, n, want)
		}
	}
}
