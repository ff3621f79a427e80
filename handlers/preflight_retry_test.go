package handlers_test

// The FAILED card's retry button shows the pre-flight check's refusal before the click (issue
// 14, point 5): disabled with the reason under it (data-preflight / data-reason, as the start
// form), while the retry API stays the enforcer (409 needs_reconnect). A card whose channel may
// be retried keeps an enabled button and no refusal.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/marketing-platform/distribution/internal/model"
)

func TestPreflightRetryCardDisabled(t *testing.T) {
	t.Parallel()
	a := newPreflightApp(t)
	a.store("st", "1784500", "")
	a.igEvent("rc", "st", "https://img.example.com/a.jpg")
	wantStatus(t, a.startIG("rc", model.ChannelInstagram, model.ChannelNaver), http.StatusAccepted)
	a.fail("rc", model.ChannelInstagram)
	a.fail("rc", model.ChannelNaver)
	send, csrf := sessionClient(t, a.apiApp, "staff@example.com", model.RoleStaff)
	card := func(ch model.Channel) *goquery.Selection {
		t.Helper()
		page := send(http.MethodGet, "/events/rc", "", nil)
		wantStatus(t, page, http.StatusOK)
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(page.raw))
		if err != nil {
			t.Fatal(err)
		}
		return doc.Find(`article[data-channel="` + string(ch) + `"]`)
	}

	// A usable account: the retry is offered.
	ig := card(model.ChannelInstagram)
	btn := ig.Find(`button[data-action="retry"]`)
	if _, disabled := btn.Attr("disabled"); btn.Length() != 1 || disabled || ig.Find(`[data-preflight]`).Length() != 0 {
		t.Fatalf("usable account: retry button %d, disabled %v, refusal %q", btn.Length(), disabled, ig.Find(`[data-preflight]`).Text())
	}

	// The account must be reconnected: disabled, the reason under it, described by it.
	a.exec(`UPDATE channel_accounts SET status = 'needs_reconnect', last_error = 'code 190' WHERE store_id = 'st'`)
	ig = card(model.ChannelInstagram)
	btn = ig.Find(`button[data-action="retry"]`)
	note := ig.Find(`[data-preflight="INSTAGRAM"][data-reason="needs_reconnect"]`)
	if _, disabled := btn.Attr("disabled"); !disabled || btn.AttrOr("data-attr:disabled", "") != "true" {
		t.Errorf("needs_reconnect: retry button not disabled: %v", btn.Nodes)
	}
	if note.Length() != 1 || !strings.Contains(note.Text(), "must be reconnected") || btn.AttrOr("aria-describedby", "") != note.AttrOr("id", "-") {
		t.Errorf("needs_reconnect: reason %q (id %q), button described by %q", note.Text(), note.AttrOr("id", ""), btn.AttrOr("aria-describedby", ""))
	}
	// NAVER has no account protocol here: its retry stays offered.
	nv := card(model.ChannelNaver).Find(`button[data-action="retry"]`)
	if _, disabled := nv.Attr("disabled"); nv.Length() != 1 || disabled {
		t.Errorf("NAVER retry button %d disabled %v, want offered", nv.Length(), disabled)
	}

	// The API stays the enforcer: the form post is refused and nothing is retried.
	r := send(http.MethodPost, "/events/rc/channels/INSTAGRAM/retry", url.Values{"_csrf": {csrf}}.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if r.status == http.StatusSeeOther || r.status/100 == 2 {
		t.Errorf("retry form post of a refused channel: %d, want a refusal", r.status)
	}
	wantError(t, a.as(model.RoleStaff, http.MethodPost, "/api/v1/events/rc/distribution/channels/INSTAGRAM/retry", nil), http.StatusConflict, model.ENEEDSRECONNECT, "reconnected")
	if n := a.count(`SELECT count(*) FROM channel_status WHERE event_id = 'rc' AND channel = 'INSTAGRAM' AND status = 'FAILED' AND coalesce(retries, 0) = 0`); n != 1 {
		t.Error("INSTAGRAM was retried")
	}
}
