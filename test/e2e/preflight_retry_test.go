package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/secrets"
	"github.com/marketing-platform/distribution/internal/simulator"
)

// The FAILED card's retry in Chromium (issue 14, point 5), with no CHANNELS_CONFIG: the event's
// store has an INSTAGRAM account, so INSTAGRAM publishes through the embedded simulator's Graph
// API emulation, which answers every call with error 190 (the token is dead). The channel fails
// and the account needs reconnecting: the card's retry button turns disabled live with the reason
// under it, in Korean, and a click sends nothing. Once the account is connected again the page
// offers the retry, which publishes through the Graph API.
func TestUXPreflightRetryDisabled(t *testing.T) {
	a := newApp(t)
	ctx := context.Background()
	keys, _, err := a.svc.Config.SecretsKeysOrDev()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := secrets.New(keys.Current, keys.Previous)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.db.CreateStore(ctx, model.Store{ID: "st-e2e", Name: "빵집"}, model.AuditEntry{Actor: "e2e"}); err != nil {
		t.Fatal(err)
	}
	connect := func() {
		t.Helper()
		cred, err := model.ParseCredentials(model.ChannelInstagram, []byte(`{"igUserId":"1784160","accessToken":"IGAA-e2e"}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.db.SetChannelAccount(ctx, "st-e2e", cred, ring, model.AuditEntry{Actor: "e2e"}); err != nil {
			t.Fatal(err)
		}
	}
	connect()
	e, err := a.db.CreateEvent(ctx, model.Event{Title: "봄 세일", StoreID: "st-e2e", ImageURL: "https://img.example.com/a.jpg"}, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := simulator.ParseFail("INSTAGRAM=190")
	if err != nil {
		t.Fatal(err)
	}
	a.sim.SetFail(rules)

	b := newBrowser(t)
	staff := b.user(a, "staff@example.com", model.RoleStaff)
	staff.open("/events/" + e.ID)
	staff.do("switch to Korean", chromedp.Click(chromedp.CSS(`form[action="/lang"] button[value="ko"]`)),
		chromedp.WaitReady(chromedp.CSS(`html[lang="ko"] form[data-action="start-distribution"]`)))
	staff.waitLive()
	staff.markNoReload()
	staff.do("start", chromedp.Click(chromedp.CSS(`form[data-action="start-distribution"] button[type="submit"]`), chromedp.NodeVisible))
	card := `[data-channel="INSTAGRAM"][data-status="FAILED"]`
	staff.waitJS("INSTAGRAM FAILED with its retry refused", `(() => { const b = document.querySelector('`+card+` button[data-action="retry"]');
		return b !== null && b.disabled && document.querySelector('`+card+` [data-preflight="INSTAGRAM"][data-reason="needs_reconnect"]') !== null; })()`, 30*time.Second)
	staff.waitJS("the others done", allDone("PARTIAL_SUCCESS", 5), 30*time.Second)
	staff.wantNoReload()
	reason := eval[string](staff, `document.querySelector('`+card+` [data-preflight="INSTAGRAM"]').textContent`)
	if !strings.Contains(reason, "매장 계정을 다시 연결해야 합니다") {
		t.Errorf("reason under the retry = %q, want the Korean needs_reconnect reason", reason)
	}
	if got := eval[string](staff, `document.querySelector('`+card+` button[data-action="retry"]').getAttribute('aria-describedby') === document.querySelector('`+card+` [data-preflight="INSTAGRAM"]').id ? 'ok' : 'no'`); got != "ok" {
		t.Error("the disabled retry button is not described by its reason")
	}
	if n := count(staff, `button[data-action="retry"]:not(:disabled)`); n != 0 {
		t.Errorf("%d enabled retry buttons, want none", n)
	}
	// A click on the disabled button sends nothing.
	_ = eval[bool](staff, `(() => { const f = window.fetch; window.sentRetry = 0;
		window.fetch = (u, o) => { if (String(u).includes('/retry')) window.sentRetry++; return f(u, o); }; return true; })()`)
	_ = eval[bool](staff, `(document.querySelector('`+card+` button[data-action="retry"]').click(), true)`)
	if n := eval[int](staff, `window.sentRetry`); n != 0 {
		t.Errorf("a click on the disabled retry sent %d requests", n)
	}

	// Connected again: the page offers the retry, which publishes through the Graph API.
	a.sim.SetFail(nil)
	connect()
	staff.open("/events/" + e.ID)
	staff.waitJS("the retry offered", `(() => { const b = document.querySelector('`+card+` button[data-action="retry"]');
		return b !== null && !b.disabled && document.querySelector('`+card+` [data-preflight]') === null; })()`, 10*time.Second)
	staff.do("retry INSTAGRAM", chromedp.Click(chromedp.CSS(card+` button[data-action="retry"]`)))
	staff.waitJS("COMPLETED", allDone("COMPLETED", 6), 30*time.Second)
	if n := a.sim.InstagramPosts("1784160"); n != 1 {
		t.Errorf("%d Graph posts after the retry, want 1", n)
	}
}
