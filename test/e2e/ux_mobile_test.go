package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
	"github.com/marketing-platform/distribution/internal/testkit"
)

// The checks a small screen needs, as one JavaScript expression returning the problems found:
// the page never scrolls sideways, and no Korean word is split over two lines (every run of
// Hangul in a visible text node lies on one line; screen-reader-only text is not laid out for
// eyes and is skipped).
const mobileProblemsJS = `(() => {
	const problems = [];
	const de = document.documentElement;
	if (de.scrollWidth > innerWidth) {
		problems.push('horizontal overflow: scrollWidth ' + de.scrollWidth + ' > innerWidth ' + innerWidth +
			' (widest: ' + [...document.body.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > innerWidth + 0.5)
				.slice(-3).map(e => e.tagName + '.' + e.className.toString().slice(0, 60)).join(' | ') + ')');
	}
	const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	for (let n; (n = walker.nextNode()); ) {
		const parent = n.parentElement;
		if (!parent || parent.closest('.sr-only, template, script, style')) continue;
		const re = /[가-힣]{2,}/g;
		for (let m; (m = re.exec(n.data)); ) {
			const r = document.createRange();
			r.setStart(n, m.index);
			r.setEnd(n, m.index + m[0].length);
			const tops = new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top)));
			if (tops.size > 1) problems.push('word "' + m[0] + '" broken over ' + tops.size + ' lines in <' + parent.tagName.toLowerCase() + ' class="' + parent.className + '">');
		}
	}
	return problems;
})()`

// mobileManager logs a manager in (a long email: the header must wrap it), switches to Korean and
// makes the tab a 390x844 phone.
func mobileManager(t *testing.T, a *app, b *browser) *tab {
	t.Helper()
	m := b.user(a, "manager.with.a.very.long.address.for.the.header@marketing-platform.example.co.kr", model.RoleManager)
	m.do("Korean and a phone screen",
		chromedp.Click(chromedp.CSS(`button[name="lang"][value="ko"]`)),
		chromedp.WaitVisible(chromedp.CSS(`html[lang="ko"]`)),
		chromedp.EmulateViewport(390, 844),
	)
	return m
}

// visit loads path (pages without a stream too) and waits until Datastar has run.
func (tb *tab) visit(path string) {
	tb.t.Helper()
	tb.do("open "+path, chromedp.Navigate(tb.a.url+path))
	tb.waitJS("the page loaded", `document.readyState === 'complete'`, 10*time.Second)
}

// phoneShot saves a screenshot of the whole page at the current (phone) viewport.
func (tb *tab) phoneShot(file string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatal(err)
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// openNavMenu opens the collapsed navigation (a button with aria-expanded) when it is collapsed.
func (tb *tab) openNavMenu() {
	tb.t.Helper()
	if count(tb, `button[data-nav-toggle][aria-expanded="false"]`) == 0 {
		tb.t.Fatalf("%s: no collapsed navigation menu button (button[data-nav-toggle][aria-expanded=false])", tb.name)
	}
	tb.do("open the menu", chromedp.Click(chromedp.CSS(`button[data-nav-toggle]`)))
	tb.waitJS("the menu open", `document.querySelector('button[data-nav-toggle]').getAttribute('aria-expanded') === 'true' && document.querySelector('nav a[href="/tokens"]').getClientRects().length > 0`, 5*time.Second)
}

// A manager on a phone, in Korean: no page scrolls sideways or breaks a Korean word, the
// navigation is a menu whose links each fit on one line, and the detail page lists its failed
// channel first.
func TestUXMobilePages(t *testing.T) {
	a := newApp(t)
	a.user("a.very.long.email.address.for.the.users.table@marketing-platform.example.co.kr", model.RoleStaff)
	if _, err := a.auth.CreateToken(context.Background(), "reporting-bot-with-a-long-name", model.RoleStaff, "manager@example.com"); err != nil {
		t.Fatal(err)
	}
	a.event("봄맞이 할인 이벤트 — 강남점 오픈 기념으로 모든 음료를 반값에 드립니다")
	failed := a.event("카카오 장애 중 배포")
	a.sim.SetFail(map[model.Channel]simulator.FailRule{model.ChannelKakao: {Always: true}})
	if _, err := a.eng.StartDistribution(context.Background(), failed, model.AllChannels, "e2e"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.db.CreateStore(context.Background(), model.Store{ID: "mobile-1", Name: "행복베이커리 강남역 2번 출구 앞 본점 (24시간 영업)"}, model.AuditEntry{Actor: "e2e"}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	m := mobileManager(t, a, b)

	m.visit("/events/" + failed)
	m.waitJS("five channels done and KAKAO failed", allDone("PARTIAL_SUCCESS", 5)+
		` && document.querySelector('[data-channel="KAKAO"][data-status="FAILED"]') !== null`, 30*time.Second)
	// The attempt history is there, with its 시도 column.
	m.waitJS("the attempt history", `document.querySelectorAll('[id^="attempts-"] tbody tr').length > 0`, 10*time.Second)

	for _, path := range []string{"/events/" + failed, "/", "/reports", "/audit", "/users", "/tokens", "/retries", "/stores", "/stores/mobile-1"} {
		m.visit(path)
		if problems := eval[[]string](m, mobileProblemsJS); len(problems) > 0 {
			t.Errorf("%s at 390x844:\n  %s", path, strings.Join(problems, "\n  "))
		}
		m.openNavMenu()
		if problems := eval[[]string](m, mobileProblemsJS); len(problems) > 0 {
			t.Errorf("%s with the menu open:\n  %s", path, strings.Join(problems, "\n  "))
		}
		// Each link's text on one line: its line boxes all share one top.
		if wrapped := eval[[]string](m, `[...document.querySelectorAll('nav[data-main-nav] a')].filter(a => {
				const r = document.createRange();
				r.selectNodeContents(a);
				const rects = [...r.getClientRects()].filter(x => x.width > 0);
				return rects.length === 0 || new Set(rects.map(x => Math.round(x.top))).size !== 1;
			}).map(a => a.textContent.trim())`); len(wrapped) > 0 {
			t.Errorf("%s: nav links on more than one line: %q", path, wrapped)
		}
		if n := count(m, `nav[data-main-nav] a`); n != 7 {
			t.Errorf("%s: %d nav links, want 7 for a manager", path, n)
		}
	}

	// The events list fits the phone: every bar and label of a row is on screen, none scrolled
	// out of sight inside the table's box.
	m.visit("/")
	if off := eval[[]string](m, `[...document.querySelectorAll('tr[data-event-id] [data-channel], tr[data-event-id] a, tr[data-event-id] [data-overall]')]
			.filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && (r.left < 0 || r.right > innerWidth); })
			.map(e => e.tagName + ' ' + e.textContent.trim().slice(0, 30))`); len(off) > 0 {
		t.Errorf("list at 390x844: off screen: %q", off)
	}
	if n := count(m, `tr[data-event-id="`+failed+`"] [data-channel] [role="progressbar"]`); n != 6 {
		t.Errorf("list: %d bars in the started row", n)
	}

	// The failed channel comes first on a phone; the desktop keeps the display order.
	m.visit("/events/" + failed)
	order := `(() => { const top = ch => document.querySelector('[data-channel="' + ch + '"]').getBoundingClientRect().top;
		return ['URIDONGNETV', 'RINGOBIZ', 'GINITV', 'INSTAGRAM', 'NAVER'].every(ch => top('KAKAO') < top(ch)); })()`
	if !eval[bool](m, order) {
		t.Error("the FAILED channel is not above the successful ones at 390x844")
	}
	// E2E_SCREENSHOTS=dir saves the phone's open menu (README; TestUXScreenshots saves the pages).
	if dir := os.Getenv("E2E_SCREENSHOTS"); dir != "" {
		m.openNavMenu()
		m.phoneShot(filepath.Join(dir, "ko-phone-menu.png"))
	}
	m.do("desktop", chromedp.EmulateViewport(1280, 900))
	if eval[bool](m, order) || eval[bool](m, `document.querySelector('[data-channel="KAKAO"]').getBoundingClientRect().top <= document.querySelector('[data-channel="URIDONGNETV"]').getBoundingClientRect().top`) {
		t.Error("the desktop order changed: KAKAO is no longer last")
	}
	if n := count(m, `button[data-nav-toggle]:not([hidden])`); n != 1 || eval[bool](m, `document.querySelector('button[data-nav-toggle]').getClientRects().length > 0`) {
		t.Error("the menu button shows on a desktop")
	}
	if !eval[bool](m, `[...document.querySelectorAll('nav[data-main-nav] a')].every(a => a.getClientRects().length === 1)`) {
		t.Error("the navigation is not shown on a desktop")
	}
}

// korean switches the tab's language to Korean.
func (tb *tab) korean() {
	tb.t.Helper()
	tb.do("Korean", chromedp.Click(chromedp.CSS(`button[name="lang"][value="ko"]`)), chromedp.WaitVisible(chromedp.CSS(`html[lang="ko"]`)))
}

// logIn fills the login form the tab shows and waits for the signed-in page.
func (tb *tab) logIn(email string) {
	tb.t.Helper()
	tb.do("log in again",
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-user-role]`)),
	)
}

// waitNav waits for predicate across page loads (waitJS fails when the page navigates under it).
func (tb *tab) waitNav(what, predicate string, timeout time.Duration) {
	tb.t.Helper()
	testkit.EventuallyErr(tb.t, timeout, what, func() error {
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
		defer cancel()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](predicate))
		if err == nil && !ok {
			return errors.New("not yet")
		}
		return err
	})
}

// A session that ends while a page is open sends the page to the login form with the page as
// next, whichever request learns it first: the open stream (logged out in another tab), an
// action answered 401, or the stream's reconnect answered 401. Logging in returns to the page.
func TestUXMobileSessionEndGoesToLogin(t *testing.T) {
	a := newApp(t)
	id := a.event("Session ends")
	a.sim.SetFail(map[model.Channel]simulator.FailRule{model.ChannelKakao: {Always: true}})
	if _, err := a.eng.StartDistribution(context.Background(), id, []model.Channel{model.ChannelKakao}, "e2e"); err != nil {
		t.Fatal(err)
	}
	const email = "staff@example.com"
	b := newBrowser(t)
	staff := b.user(a, email, model.RoleStaff)
	page := "/events/" + id + "?from=list"
	wantLogin := `location.pathname === '/login' && new URLSearchParams(location.search).get('next') === '` + page + `'`
	staff.open(page)
	staff.waitJS("KAKAO FAILED", `document.querySelector('[data-channel="KAKAO"][data-status="FAILED"] button[data-action="retry"]') !== null`, 30*time.Second)

	// 1. Logged out in another tab: the open stream learns it.
	other := staff.newTab()
	other.open("/")
	other.do("log out", chromedp.Click(chromedp.CSS(`button[data-action="logout"]`)), chromedp.WaitVisible(chromedp.CSS(`#email`)))
	staff.waitNav("the login form, back to the page next", wantLogin, 15*time.Second)
	staff.logIn(email)
	if got := eval[string](staff, `location.pathname + location.search`); got != page {
		t.Errorf("after logging in again: %s, want %s", got, page)
	}
	staff.waitLive()

	// 2. An action answered 401 (the session removed behind the stream's back, and the stream
	// gone, so only the action can tell).
	eval[bool](staff, `(document.getElementById('live-stream').remove(), true)`)
	if _, err := a.db.Pool.Exec(context.Background(), `DELETE FROM sessions`); err != nil {
		t.Fatal(err)
	}
	staff.do("retry", chromedp.Click(chromedp.CSS(`[data-channel="KAKAO"] button[data-action="retry"]`)))
	staff.waitNav("the login form after the refused action", wantLogin, 15*time.Second)
	staff.logIn(email)
	staff.waitLive()

	// 3. The stream's reconnect answered 401 (the server restarts while the session is gone).
	if _, err := a.db.Pool.Exec(context.Background(), `DELETE FROM sessions`); err != nil {
		t.Fatal(err)
	}
	a.stopWeb()
	a.restartWeb()
	staff.waitNav("the login form after the refused reconnect", wantLogin, 30*time.Second)
}

// Keyboard: a retry started with Enter keeps the focus on the channel's card while the card
// re-renders, and the polite live region announces how the channel ended, failures included.
// The attempt table's headers stay on one line (시도 not 시/도).
func TestUXMobileRetryKeepsFocus(t *testing.T) {
	a := newApp(t)
	id := a.event("Keyboard retry")
	a.sim.SetFail(map[model.Channel]simulator.FailRule{model.ChannelKakao: {Always: true}})
	if _, err := a.eng.StartDistribution(context.Background(), id, []model.Channel{model.ChannelNaver, model.ChannelKakao}, "e2e"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	staff := b.user(a, "staff@example.com", model.RoleStaff)
	staff.korean()
	staff.open("/events/" + id)
	card := `document.querySelector('[data-channel="KAKAO"]')`
	staff.waitJS("KAKAO FAILED", `document.querySelector('[data-channel="KAKAO"][data-status="FAILED"] button[data-action="retry"]') !== null`, 30*time.Second)
	staff.waitJS("the attempt history", `document.querySelectorAll('[id^="attempts-"] tbody tr').length > 0`, 10*time.Second)

	if wrapped := eval[[]string](staff, `[...document.querySelectorAll('[id^="attempts-"] thead th')].filter(th => {
			const r = document.createRange();
			r.selectNodeContents(th);
			return new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top))).size > 1;
		}).map(th => th.textContent.trim())`); len(wrapped) > 0 {
		t.Errorf("attempt table headers on more than one line: %q", wrapped)
	}
	for _, w := range []int{1280, 390} {
		staff.do("resize", chromedp.EmulateViewport(int64(w), 844))
		if !eval[bool](staff, `(() => { const th = [...document.querySelectorAll('[id^="attempts-"] thead th')].find(th => th.textContent.trim() === '시도');
				const r = document.createRange(); r.selectNodeContents(th);
				return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size === 1; })()`) {
			t.Errorf("at %d px the 시도 header wraps", w)
		}
	}

	// Watch the focus from the key press on: it must never fall back to <body>.
	staff.do("focus the retry button", chromedp.Focus(chromedp.CSS(`[data-channel="KAKAO"] button[data-action="retry"]`)))
	eval[bool](staff, `(() => { window.__lostFocus = false; window.__announced = [];
		const a = document.getElementById('announcer');
		new MutationObserver(() => window.__announced.push(document.getElementById('announcer').textContent)).observe(document.body, {subtree: true, childList: true, characterData: true});
		document.addEventListener('focusout', () => setTimeout(() => { if (document.activeElement === document.body) window.__lostFocus = true; }), true);
		return a !== null; })()`)
	staff.do("press Enter", chromedp.KeyEvent("\r"))
	staff.waitJS("the retry ran and failed again", card+`.dataset.status === 'FAILED' && `+card+`.querySelector('[data-retries]').textContent === '1'`, 30*time.Second)
	if !eval[bool](staff, card+`.contains(document.activeElement)`) {
		t.Errorf("focus is on %s after the card re-rendered, want inside the KAKAO card", eval[string](staff, `document.activeElement.outerHTML.slice(0, 120)`))
	}
	if eval[bool](staff, `window.__lostFocus`) {
		t.Error("the focus dropped to <body> during the retry")
	}
	staff.waitJS("the failure announced", `[...window.__announced, document.getElementById('announcer').textContent].some(s => s.includes('카카오톡 채널: 실패'))`, 10*time.Second)

	// "Retry all failed" too: its button is disabled while nothing has failed; the focus stays in
	// the overall section.
	staff.do("focus retry all failed", chromedp.Focus(chromedp.CSS(`button[data-action="retry-failed"]`)))
	staff.do("press Enter", chromedp.KeyEvent("\r"))
	staff.waitJS("the second retry failed again", card+`.dataset.status === 'FAILED' && `+card+`.querySelector('[data-retries]').textContent === '2'`, 30*time.Second)
	if !eval[bool](staff, `document.querySelector('[data-overall-status]').contains(document.activeElement)`) {
		t.Errorf("focus is on %s after retry all failed, want inside the overall section", eval[string](staff, `document.activeElement.outerHTML.slice(0, 120)`))
	}
	if eval[bool](staff, `window.__lostFocus`) {
		t.Error("the focus dropped to <body> during retry all failed")
	}
}

// A page's flash does not stay for the whole distribution: it can be dismissed with a labelled
// button (keyboard), and it fades out by itself; with reduced motion it does not animate.
func TestUXMobileFlashFades(t *testing.T) {
	a := newApp(t)
	b := newBrowser(t)
	m := b.user(a, "marketer@example.com", model.RoleMarketer)
	m.korean()
	// A plain form post, as the create form sends it (whatever the list page's layout).
	create := func(title string) {
		m.do("create "+title, chromedp.Evaluate[chromedp.Void](`(() => { const f = document.createElement('form');
			f.method = 'post'; f.action = '/events';
			for (const [k, v] of [['title', '`+title+`'], ['_csrf', document.querySelector('input[name="_csrf"]').value]]) {
				const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.append(i); }
			document.body.append(f); f.submit(); })()`),
			chromedp.WaitVisible(chromedp.CSS(`[data-flash="ok"]`)))
	}
	create("Flash one")
	if got := eval[string](m, `document.querySelector('[data-flash="ok"]').textContent`); !strings.Contains(got, "이벤트를 만들었습니다") {
		t.Errorf("flash %q", got)
	}
	if got := eval[string](m, `document.querySelector('[data-flash] button[data-action="dismiss-flash"]')?.getAttribute('aria-label') ?? ''`); got != "알림 닫기" {
		t.Errorf("dismiss button label %q", got)
	}
	m.do("dismiss with the keyboard", chromedp.Focus(chromedp.CSS(`[data-flash] button[data-action="dismiss-flash"]`)), chromedp.KeyEvent("\r"))
	m.waitJS("the flash dismissed", `document.querySelector('[data-flash]') === null`, 2*time.Second)

	create("Flash two")
	m.waitLive()
	m.waitJS("the flash gone by itself", `document.querySelector('[data-flash]') === null`, 15*time.Second)

	if _, err := chromedp.Call(m.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: "reduce"}}}); err != nil {
		t.Fatal(err)
	}
	create("Flash three")
	if d := eval[float64](m, `parseFloat(getComputedStyle(document.querySelector('[data-flash]')).animationDuration)`); d > 0.001 {
		t.Errorf("with reduced motion the flash still fades for %gs", d)
	}
	m.waitJS("the flash gone by itself", `document.querySelector('[data-flash]') === null`, 15*time.Second)
}
