package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
)

// The README's screenshots, and the checks they stand for: a staff member's list and detail pages
// in Korean and English, on a desktop (1280x900) and a phone (390x844), over a realistic set of
// events (one completed, one with a failed KakaoTalk channel, one scheduled, one not started).
// Each view is in its language, never scrolls sideways and breaks no Korean word. `make screenshots` runs it with E2E_SCREENSHOTS=docs/screenshots, which saves
// {ko,en}-{desktop,phone}-{list,detail}.png there.
func TestUXScreenshots(t *testing.T) {
	a := newApp(t)
	ctx := context.Background()
	done := a.event("봄맞이 할인 — 강남점 오픈 기념 음료 반값")
	failed := a.event("주말 브런치 세트 출시")
	scheduled := a.event("연말 감사 쿠폰 증정")
	a.event("신메뉴 시식회 안내")
	if _, err := a.eng.StartDistribution(ctx, done, model.AllChannels, "e2e"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.db.ScheduleDistribution(ctx, scheduled, model.AllChannels, a.dbNow().Add(26*time.Hour), "e2e"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	s := b.user(a, "staff@example.com", model.RoleStaff)
	s.visit("/events/" + done)
	s.waitJS("the first distribution completed", allDone("COMPLETED", 6), 30*time.Second)
	a.sim.SetFail(map[model.Channel]simulator.FailRule{model.ChannelKakao: {Always: true}})
	if _, err := a.eng.StartDistribution(ctx, failed, model.AllChannels, "e2e"); err != nil {
		t.Fatal(err)
	}
	s.visit("/events/" + failed)
	s.waitJS("five channels done and KAKAO failed", allDone("PARTIAL_SUCCESS", 5)+
		` && document.querySelector('[data-channel="KAKAO"][data-status="FAILED"]') !== null`, 30*time.Second)

	dir := os.Getenv("E2E_SCREENSHOTS")
	for _, lang := range []string{"ko", "en"} {
		s.do("language "+lang, chromedp.Navigate(a.url+"/"),
			chromedp.WaitVisible(chromedp.CSS(`button[name="lang"][value="`+lang+`"]`)),
			chromedp.Click(chromedp.CSS(`button[name="lang"][value="`+lang+`"]`)),
			chromedp.WaitVisible(chromedp.CSS(`html[lang="`+lang+`"]`)))
		for _, screen := range []struct {
			name          string
			width, height int64
		}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
			s.do(screen.name, chromedp.EmulateViewport(screen.width, screen.height))
			for _, page := range []struct{ name, path, ready string }{
				{"list", "/", `document.querySelectorAll('tr[data-event-id]').length === 4`},
				{"detail", "/events/" + failed, `document.querySelector('[data-channel="KAKAO"][data-status="FAILED"] [data-error]') !== null`},
			} {
				where := lang + "-" + screen.name + "-" + page.name
				s.open(page.path)
				s.waitJS(where+": the page's content", page.ready, 10*time.Second)
				if got := eval[string](s, `document.documentElement.lang`); got != lang {
					t.Errorf("%s: page language %q", where, got)
				}
				// The titles are Korean in both languages: no Korean word may break in either.
				if problems := eval[[]string](s, mobileProblemsJS); len(problems) > 0 {
					t.Errorf("%s:\n  %s", where, strings.Join(problems, "\n  "))
				}
				// Every event's title has room (a wide status chip beside it squeezed it to "연…").
				if narrow := eval[[]string](s, `[...document.querySelectorAll('tr[data-event-id] > td:first-child')]
						.filter(td => td.getBoundingClientRect().width < 128).map(td => td.textContent.trim().slice(0, 20))`); len(narrow) > 0 {
					t.Errorf("%s: title cells under 8rem wide: %q", where, narrow)
				}
				if dir != "" {
					s.phoneShot(filepath.Join(dir, where+".png"))
				}
			}
		}
	}
}
