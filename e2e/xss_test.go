package e2e

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/marketing-platform/distribution/cache"
	"github.com/marketing-platform/distribution/dbtest"
	"github.com/marketing-platform/distribution/handlers"
	"github.com/marketing-platform/distribution/live"
	"github.com/marketing-platform/distribution/model"
)

// XSS payloads stored where untrusted text reaches the dashboard: event title, store name and
// description (people type them), a channel's error message (a channel API writes it) and a post
// URL (a channel API returns it). Each must render as inert text in real Chromium, on the server
// rendered pages and inside a live SSE patch (Datastar morphs it into the DOM and compiles data-*
// attributes with Function(...), STACK.md).
const (
	xssTitle    = `<img src=x onerror=alert(1)>"'><script>alert(2)</script>{{x}}$${alert(3)}`
	xssStore    = `</script><script>alert(7)</script> store`
	xssDesc     = `</script><script>alert(7)</script> description`
	xssError    = `<svg onload=alert(4)>');alert(5);//@post('/logout')`
	xssJSURL    = `javascript:alert(6)`
	xssHTTPURL  = `http://evil.example/p/alert`
	xssDeadline = 15 * time.Second
)

// withLiveCache rewires the app's web server as main wires it (events pages with a live hub, the
// manager pages) over a Redis of the test's own, and returns that cache: writing a state there
// after the Postgres write is what the engine does, so open pages receive it as an SSE patch.
func (a *app) withLiveCache() *cache.Cache {
	a.t.Helper()
	r := dbtest.StartRedis(a.t)
	rc, err := cache.NewClient(r.URL)
	if err != nil {
		a.t.Fatal(err)
	}
	a.t.Cleanup(func() { rc.Close() })
	c := cache.New(rc, a.log)
	hub := live.New(rc, live.Options{Patterns: c.KeyspacePatterns(), EventIDOf: cache.EventIDOf}, a.log)
	if err := hub.Start(context.Background()); err != nil {
		a.t.Fatal(err)
	}
	a.t.Cleanup(hub.Stop)
	a.stopWeb()
	a.h = handlers.New(handlers.Deps{Auth: a.auth, DB: a.db, Redis: c, Store: a.db, Engine: a.eng,
		Status: statusReader{c, a.db}, Hub: hub, Reports: a.db, Accounts: a.auth, Logger: a.log})
	a.restartWeb()
	a.t.Cleanup(a.stopWeb) // before the hub stops
	return c
}

// xssEvent stores an event with the payloads in its title, store name and description.
func (a *app) xssEvent() string {
	a.t.Helper()
	e, err := a.db.CreateEvent(context.Background(), model.Event{Title: xssTitle, StoreName: xssStore, Description: xssDesc}, "e2e")
	if err != nil {
		a.t.Fatal(err)
	}
	return e.ID
}

// xssChannel is one channel row to store.
type xssChannel struct {
	ch              model.Channel
	status          model.ChannelStatus
	progress        int
	postURL, errMsg *string
}

// storeDistribution writes a distribution of eventID straight into Postgres (no engine involved,
// so nothing overwrites the payloads).
func (a *app) storeDistribution(eventID string, chans ...xssChannel) {
	a.t.Helper()
	ctx := context.Background()
	var sts []model.ChannelStatus
	for _, c := range chans {
		sts = append(sts, c.status)
	}
	var id int64
	if err := a.db.Pool.QueryRow(ctx, `INSERT INTO distribution_status (event_id, overall_status, started_at, completed_at)
		VALUES ($1, $2::varchar, now(), CASE WHEN $2::varchar = 'IN_PROGRESS' THEN NULL ELSE now() END) RETURNING id`,
		eventID, string(model.Rollup(sts))).Scan(&id); err != nil {
		a.t.Fatal(err)
	}
	for _, c := range chans {
		if _, err := a.db.Pool.Exec(ctx, `INSERT INTO channel_status (distribution_status_id, event_id, channel, status,
			progress, post_url, error_message, retries, completed_at)
			VALUES ($1, $2, $3, $4::varchar, $5, $6, $7, 0, CASE WHEN $4::varchar IN ('SUCCESS', 'FAILED') THEN now() END)`,
			id, eventID, string(c.ch), string(c.status), c.progress, c.postURL, c.errMsg); err != nil {
			a.t.Fatal(err)
		}
	}
}

// watchDialogs fails the test if the tab ever opens a JavaScript dialog (alert, confirm, prompt):
// every payload calls alert. The dialog is dismissed so the page does not hang.
func (tb *tab) watchDialogs() {
	var (
		mu     sync.Mutex
		opened []string
	)
	dialogs := chromedp.Events(tb.ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			mu.Lock()
			opened = append(opened, string(ev.Type)+": "+ev.Message+" on "+ev.URL)
			mu.Unlock()
			_, _ = chromedp.Call(tb.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	tb.t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, d := range opened {
			tb.t.Errorf("%s: a JavaScript dialog opened (a payload ran): %s", tb.name, d)
		}
	})
}

// xssFragments are the parts of the payloads that must never reach a data-* attribute (Datastar
// would compile them) or an event handler attribute.
var xssFragments = []string{xssTitle, xssStore, xssDesc, xssError, xssJSURL, "alert(", "onerror", "onload", "{{x}}", "${"}

// inertChecks is a script returning the list of problems on the page: a payload made into an
// element, a javascript: link, an event handler attribute, a payload fragment in a data-* attribute,
// and the texts (want) missing from the page's text.
func inertChecks(want []string) string {
	w, _ := json.Marshal(want)
	f, _ := json.Marshal(xssFragments)
	return `(() => {
		const want = ` + string(w) + `, frags = ` + string(f) + `, bad = [];
		const text = document.title + "\n" + document.body.textContent;
		for (const s of want) if (!text.includes(s)) bad.push("text missing: " + s);
		for (const e of document.querySelectorAll('img[src="x"], svg[onload], [onerror], [onload]'))
			bad.push("element from a payload: " + e.outerHTML.slice(0, 200));
		for (const s of document.querySelectorAll('script')) {
			if (s.src === "" || s.textContent.includes("alert")) bad.push("script element: " + s.outerHTML.slice(0, 200));
		}
		for (const e of document.querySelectorAll('*')) {
			for (const at of e.attributes) {
				const v = at.value, n = at.name.toLowerCase();
				if ((n === "href" || n === "src" || n === "action" || n === "formaction") && v.trim().toLowerCase().startsWith("javascript:"))
					bad.push("javascript: URL in " + n + ": " + e.outerHTML.slice(0, 200));
				if (n.startsWith("on")) bad.push("event handler attribute " + n + ": " + e.outerHTML.slice(0, 200));
				if (n.startsWith("data-")) for (const fr of frags) if (v.includes(fr)) bad.push("payload " + JSON.stringify(fr) + " in " + n + "=" + JSON.stringify(v.slice(0, 200)));
			}
		}
		return bad;
	})()`
}

// wantInert fails the test with every problem inertChecks finds.
func (tb *tab) wantInert(where string, want ...string) {
	tb.t.Helper()
	for _, p := range eval[[]string](tb, inertChecks(want)) {
		tb.t.Errorf("%s: %s: %s", tb.name, where, p)
	}
}

// The payloads, stored in Postgres, render as text on the events list, the event page and the
// manager's reports page: no dialog, no element or link made from them, none in a data-* attribute.
func TestXSSPagesRenderPayloadsInert(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.withLiveCache()
	id := a.xssEvent()
	a.storeDistribution(id,
		xssChannel{ch: model.ChannelInstagram, status: model.StatusFailed, progress: 40, postURL: new(xssJSURL), errMsg: new(xssError)},
		xssChannel{ch: model.ChannelNaver, status: model.StatusSuccess, progress: 100, postURL: new(xssHTTPURL)},
	)
	b := newBrowser(t)
	m := b.user(a, "boss@example.com", model.RoleManager)
	m.watchDialogs()

	m.open("/")
	m.waitJS("the event row", `document.querySelector('tr[data-event-id="`+id+`"]') !== null`, xssDeadline)
	m.wantInert("events list", xssTitle, xssStore)
	if got := eval[string](m, `document.querySelector('tr[data-event-id="`+id+`"] a[href="/events/`+id+`"]').textContent`); got != xssTitle {
		t.Errorf("list title %q, want %q", got, xssTitle)
	}

	m.open("/events/" + id)
	m.waitJS("INSTAGRAM FAILED", `document.querySelector('[data-channel="INSTAGRAM"][data-status="FAILED"] [data-error-message]') !== null`, xssDeadline)
	m.wantInert("event page", xssTitle, xssStore, xssDesc, xssError, xssJSURL, xssHTTPURL)
	if got := eval[string](m, `document.querySelector('h1').textContent`); got != xssTitle {
		t.Errorf("detail title %q, want %q", got, xssTitle)
	}
	if got := eval[string](m, `document.querySelector('[data-channel="INSTAGRAM"] [data-error-message]').textContent`); got != xssError {
		t.Errorf("error message %q, want %q", got, xssError)
	}
	if n := count(m, `a[data-post-link], a[href^="http:"], a[href*="evil.example"]`); n != 0 {
		t.Errorf("%d links to a non-https post URL", n)
	}

	m.do("open reports", chromedp.Navigate(a.url+"/reports"), chromedp.WaitVisible(chromedp.CSS(`[data-report-totals]`)))
	m.waitJS("the report rows", `document.querySelectorAll('tr[data-report-row][data-event-id="`+id+`"]').length === 2`, xssDeadline)
	m.wantInert("reports", xssTitle, xssJSURL, xssHTTPURL)
	if n := count(m, `a[data-post-link]`); n != 0 {
		t.Errorf("reports: %d post links to a non-https URL", n)
	}
	if got := eval[string](m, `[...document.querySelectorAll('[data-post-url-text]')].map(e => e.textContent).sort().join("|")`); got != xssHTTPURL+"|"+xssJSURL {
		t.Errorf("reports post URLs shown as %q", got)
	}
}

// The payloads arrive in a live SSE patch: the event page is open, then the channel fails with the
// payload error message and a javascript: post URL (Postgres, then Redis, as the engine writes);
// Datastar morphs the new fragment in, and it stays inert.
func TestXSSLivePatchRendersPayloadsInert(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	c := a.withLiveCache()
	id := a.xssEvent()
	a.storeDistribution(id, xssChannel{ch: model.ChannelInstagram, status: model.StatusInProgress, progress: 40})
	b := newBrowser(t)
	s := b.user(a, "staff@example.com", model.RoleStaff)
	s.watchDialogs()
	s.open("/events/" + id)
	s.waitJS("INSTAGRAM in progress", `document.querySelector('[data-channel="INSTAGRAM"][data-status="IN_PROGRESS"]') !== null`, xssDeadline)
	s.markNoReload()

	ctx := context.Background()
	tag, err := a.db.Pool.Exec(ctx, `UPDATE channel_status SET status = 'FAILED', error_message = $2, post_url = $3,
		completed_at = now(), update_timestamp = now(), updated_at = now() WHERE event_id = $1 AND channel = 'INSTAGRAM'`,
		id, xssError, xssJSURL)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("update channel: %v (%d rows)", err, tag.RowsAffected())
	}
	if _, err := a.db.Pool.Exec(ctx, `UPDATE distribution_status SET overall_status = 'FAILED', completed_at = now(),
		updated_at = now() WHERE event_id = $1`, id); err != nil {
		t.Fatal(err)
	}
	d, err := a.db.FindDistribution(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PutDistribution(ctx, d); err != nil {
		t.Fatal(err)
	}

	s.waitJS("INSTAGRAM FAILED through the stream",
		`document.querySelector('[data-channel="INSTAGRAM"][data-status="FAILED"] [data-error-message]') !== null && `+
			`document.querySelector('[data-overall-status="FAILED"]') !== null`, xssDeadline)
	s.wantNoReload()
	s.wantInert("live patch", xssTitle, xssStore, xssDesc, xssError, xssJSURL)
	if got := eval[string](s, `document.querySelector('[data-channel="INSTAGRAM"] [data-error-message]').textContent`); got != xssError {
		t.Errorf("error message %q, want %q", got, xssError)
	}
	if n := count(s, `a[data-post-link]`); n != 0 {
		t.Errorf("%d post links for a javascript: URL", n)
	}
	// The patched fragment carries a retry button (staff): its Datastar attributes compile and
	// still run without the payload: the page stays connected.
	if n := count(s, `[data-channel="INSTAGRAM"] button[data-action="retry"]`); n != 1 {
		t.Errorf("%d retry buttons in the patched INSTAGRAM card", n)
	}
	if st := eval[string](s, `document.querySelector('[data-live-state]').dataset.liveState`); st != "connected" {
		t.Errorf("live state %q after the patch", st)
	}
}
