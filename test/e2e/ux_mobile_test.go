package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
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

// mobileManager logs a manager in, switches to Korean and makes the tab a 390x844 phone.
func mobileManager(t *testing.T, a *app, b *browser) *tab {
	t.Helper()
	m := b.user(a, "manager@example.com", model.RoleManager)
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
	b := newBrowser(t)
	m := mobileManager(t, a, b)

	m.visit("/events/" + failed)
	m.waitJS("five channels done and KAKAO failed", allDone("PARTIAL_SUCCESS", 5)+
		` && document.querySelector('[data-channel="KAKAO"][data-status="FAILED"]') !== null`, 30*time.Second)
	// The attempt history is there, with its 시도 column.
	m.waitJS("the attempt history", `document.querySelectorAll('[id^="attempts-"] tbody tr').length > 0`, 10*time.Second)

	for _, path := range []string{"/events/" + failed, "/", "/reports", "/audit", "/users", "/tokens", "/retries"} {
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
		if n := count(m, `nav[data-main-nav] a`); n != 6 {
			t.Errorf("%s: %d nav links, want 6 for a manager", path, n)
		}
	}

	// The failed channel comes first on a phone; the desktop keeps the display order.
	m.visit("/events/" + failed)
	order := `(() => { const top = ch => document.querySelector('[data-channel="' + ch + '"]').getBoundingClientRect().top;
		return ['URIDONGNETV', 'RINGOBIZ', 'GINITV', 'INSTAGRAM', 'NAVER'].every(ch => top('KAKAO') < top(ch)); })()`
	if !eval[bool](m, order) {
		t.Error("the FAILED channel is not above the successful ones at 390x844")
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
