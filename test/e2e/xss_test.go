package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/marketing-platform/distribution/internal/cache"
	"github.com/marketing-platform/distribution/internal/model"
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

// withLiveCache returns the app's cache: writing a state there after the Postgres write is what
// the engine does, so open pages receive it as an SSE patch.
func (a *app) withLiveCache() *cache.Cache { return a.cache }

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

// sseInjection is stored text that tries to end the SSE data line it is written into and start
// events of its own: a signals patch (the live indicator's $_live would read "pwned") and an
// elements patch appending an element whose data-init runs code. Datastar evaluates a signals
// patch as a JavaScript expression, and HTML escaping does not help: the expression needs no quote
// or angle bracket. eol is the line end it uses.
func sseInjection(eol string) string {
	return "Sale" + eol + "event: datastar-patch-signals" + eol +
		`data: signals {_live: (window.__pwned = true, String.fromCharCode(112, 119, 110, 101, 100))}` + eol + eol +
		"event: datastar-patch-elements" + eol + "data: selector body" + eol + "data: mode append" + eol +
		`data: elements <div id="pwned" data-init="window.__pwned = true"></div>` + eol + eol + "end"
}

// htmlText is what the HTML parser makes of text: CR and CRLF become LF.
func htmlText(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// Stored text with CR, LF or CRLF cannot inject SSE events (RELIABILITY.md X1). Through the API a
// one-line field with a line end is refused and a description is stored with LF; rows that hold
// such text anyway (written before the check, or by another writer) are announced and distributed
// while a manager has the list and the event pages open: every patch carries the text as text, no
// injected event runs (no element, no code, the live indicator never leaves its real states).
// Before the SSE writer split data on CR, the list row's patch let the bare-CR title start events.
func TestXSSLineBreaksCannotInjectStreamEvents(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	c := a.withLiveCache()
	ctx := context.Background()
	b := newBrowser(t)
	m := b.user(a, "boss@example.com", model.RoleManager)
	m.watchDialogs()
	// watchInjection records every state the live indicator takes and whether an injected element
	// ever appeared, from now until the end of the test.
	watchInjection := func(tb *tab) {
		eval[bool](tb, `(() => {
			window.__liveStates = new Set();
			const el = document.querySelector('[data-live-state]');
			new MutationObserver(() => {
				window.__liveStates.add(el.dataset.liveState);
				if (document.getElementById('pwned')) window.__pwnedElement = true;
			}).observe(document.documentElement, {subtree: true, childList: true, attributes: true});
			return true;
		})()`)
	}
	wantNothingRan := func(tb *tab) {
		if eval[bool](tb, `window.__pwned === true || window.__pwnedElement === true || document.getElementById('pwned') !== null`) {
			t.Errorf("%s: an injected element was patched in (or its code ran)", tb.name)
		}
		if bad := eval[[]string](tb, `[...window.__liveStates].filter(s => !['connected', 'reconnecting', 'offline'].includes(s))`); len(bad) > 0 {
			t.Errorf("%s: the live indicator took injected states %q", tb.name, bad)
		}
		if st := eval[string](tb, `document.querySelector('[data-live-state]').dataset.liveState`); st != "connected" {
			t.Errorf("%s: live state %q", tb.name, st)
		}
	}

	m.open("/")
	m.waitLive()
	watchInjection(m)
	t.Cleanup(func() { wantNothingRan(m) }) // also when a wait below fails: what ran is the finding
	m.markNoReload()

	// The API refuses a line end in a one-line field, and keeps a description's lines as LF.
	for _, body := range []string{
		`{"title": ` + jsonString(sseInjection("\r")) + `}`,
		`{"title": "x", "storeName": ` + jsonString(sseInjection("\r\n")) + `}`,
	} {
		if st := m.postJSON("/api/v1/events", body); st != http.StatusBadRequest {
			t.Errorf("POST /api/v1/events with a line end in a one-line field: %d, want 400", st)
		}
	}
	if st := m.postJSON("/api/v1/events", `{"id": "crlf-api", "title": "api", "description": `+jsonString(sseInjection("\r"))+`}`); st != http.StatusCreated {
		t.Fatalf("POST /api/v1/events with a multi-line description: %d, want 201", st)
	}
	var desc string
	if err := a.db.Pool.QueryRow(ctx, `SELECT description FROM events WHERE id = 'crlf-api'`).Scan(&desc); err != nil || desc != htmlText(sseInjection("\r")) {
		t.Errorf("description stored as %q (%v), want its lines with LF", desc, err)
	}

	// Rows holding line ends anyway, one per kind of line end.
	ids := map[string]string{"crlf-cr": "\r", "crlf-lf": "\n", "crlf-crlf": "\r\n"}
	var tabs []*tab
	for id, eol := range ids {
		if _, err := a.db.Pool.Exec(ctx, `INSERT INTO events (id, title, description, store_name, created_by) VALUES ($1, $2, $2, $2, 'e2e')`,
			id, sseInjection(eol)); err != nil {
			t.Fatal(err)
		}
		if err := c.AnnounceEvent(ctx, id); err != nil {
			t.Fatal(err)
		}
		d := m.newTab()
		d.watchDialogs()
		d.open("/events/" + id)
		d.waitLive()
		watchInjection(d)
		t.Cleanup(func() { wantNothingRan(d) })
		tabs = append(tabs, d)
	}
	m.waitJS("the announced rows", `['crlf-cr', 'crlf-lf', 'crlf-crlf'].every(id => document.querySelector('tr[data-event-id="' + id + '"]'))`, xssDeadline)
	for id := range ids {
		if _, err := a.eng.StartDistribution(ctx, id, []model.Channel{model.ChannelKakao, model.ChannelNaver}, "e2e"); err != nil {
			t.Fatal(err)
		}
	}
	m.waitJS("the rows distributed", `['crlf-cr', 'crlf-lf', 'crlf-crlf'].every(id =>
		document.querySelectorAll('tr[data-event-id="' + id + '"] [data-channel][data-status="SUCCESS"]').length === 2)`, 30*time.Second)
	m.wantNoReload()
	for id, eol := range ids {
		want := htmlText(sseInjection(eol))
		if got := eval[string](m, `document.querySelector('tr[data-event-id="`+id+`"] a[href="/events/`+id+`"]').textContent`); got != want {
			t.Errorf("list title of %s = %q, want %q", id, got, want)
		}
	}
	for _, d := range tabs {
		d.waitJS("COMPLETED", `document.querySelector('[data-overall-status="COMPLETED"]') !== null`, 30*time.Second)
		if got := eval[string](d, `document.body.textContent`); !strings.Contains(got, "data: signals {_live") {
			t.Errorf("%s: the stored text is not shown as text", d.name)
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// postJSON posts body to path as the tab's user from the page itself (same origin, its session
// and CSRF token), and returns the status.
func (tb *tab) postJSON(path, body string) int {
	tb.t.Helper()
	return eval[int](tb, fmt.Sprintf(`fetch(%q, {method: 'POST', headers: {'Content-Type': 'application/json',
		'X-CSRF-Token': document.querySelector('input[name="_csrf"]').value}, body: %s}).then(r => r.status)`,
		path, jsonString(body)), chromedp.EvalAwaitPromise)
}
