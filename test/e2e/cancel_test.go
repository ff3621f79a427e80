package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
	"github.com/marketing-platform/distribution/internal/testkit"
)

// Issue 13.3 in the browser. Every channel hangs in the simulator (a slow channel), so all six
// are IN_PROGRESS. A marketer opens a channel's cancel, thinks better of it (the dialog closes,
// nothing changes), then cancels NAVER for real, then the whole distribution through the detail
// page's button and its confirmation: the cards turn Cancelled live, without a reload, on their
// page and on a staff member's page in Korean (취소됨); the abandoned calls leave no post. Staff then
// retry one cancelled channel, which publishes.
func TestCancelDistributionLive(t *testing.T) {
	a := newApp(t)
	id := a.event("Cancel while publishing")
	b := newBrowser(t)
	mk := b.user(a, "marketer@example.com", model.RoleMarketer)
	staff := b.user(a, "staff@example.com", model.RoleStaff)

	for _, ch := range model.AllChannels {
		a.sim.MustInject(ch, simulator.Hang())
	}
	if _, err := a.eng.StartDistribution(context.Background(), id, model.AllChannels, "e2e"); err != nil {
		t.Fatal(err)
	}
	mk.open("/events/" + id)
	mk.markNoReload()
	staff.do("switch to Korean", chromedp.Click(chromedp.CSS(`form[action="/lang"] button[value="ko"]`)),
		chromedp.WaitReady(chromedp.CSS(`html[lang="ko"] [data-user-role]`)))
	staff.open("/events/" + id)
	if lang := eval[string](staff, `document.documentElement.lang`); lang != "ko" {
		t.Fatalf("staff page in %q, want ko", lang)
	}
	staff.markNoReload()
	allRunning := `document.querySelectorAll('[data-channel][data-status="IN_PROGRESS"]').length === 6`
	mk.waitJS("six channels running", allRunning, 30*time.Second)

	dialog := func(ch model.Channel) string { return fmt.Sprintf(`dialog#cancel-%s-%s`, id, ch) }
	isOpen := func(css string) string { return `document.querySelector('` + sel(css) + `')?.open === true` }

	// Second thoughts: the confirmation closes and nothing is cancelled.
	mk.do("open NAVER's cancel", chromedp.Click(chromedp.CSS(`[data-channel="NAVER"] button[data-action="cancel"]`)))
	mk.waitJS("the confirmation dialog", isOpen(dialog(model.ChannelNaver)), 5*time.Second)
	mk.do("keep going", chromedp.Click(chromedp.CSS(dialog(model.ChannelNaver)+` button[data-action="dismiss-cancel"]`)))
	mk.waitJS("the dialog closed", `!(`+isOpen(dialog(model.ChannelNaver))+`)`, 5*time.Second)
	if n := count(mk, `[data-channel][data-status="IN_PROGRESS"]`); n != 6 {
		t.Fatalf("dismissing the confirmation changed something: %d running", n)
	}

	// One channel.
	mk.do("open NAVER's cancel", chromedp.Click(chromedp.CSS(`[data-channel="NAVER"] button[data-action="cancel"]`)))
	mk.waitJS("the confirmation dialog", isOpen(dialog(model.ChannelNaver)), 5*time.Second)
	mk.do("confirm", chromedp.Click(chromedp.CSS(dialog(model.ChannelNaver)+` button[data-action="confirm-cancel"]`)))
	mk.waitJS("NAVER cancelled", `document.querySelector('[data-channel="NAVER"][data-status="FAILED"] [data-status-label]')?.textContent.trim() === 'Cancelled'`, 15*time.Second)
	if n := count(mk, `[data-channel][data-status="IN_PROGRESS"]`); n != 5 {
		t.Errorf("cancelling NAVER stopped other channels too: %d running", n)
	}

	// The whole distribution.
	mk.do("cancel the distribution", chromedp.Click(chromedp.CSS(`button[data-action="cancel-distribution"]`)))
	mk.waitJS("the confirmation dialog", isOpen(`dialog#cancel-all-`+id), 5*time.Second)
	mk.do("confirm", chromedp.Click(chromedp.CSS(`dialog#cancel-all-`+id+` button[data-action="confirm-cancel-distribution"]`)))
	cancelled := func(label string) string {
		return `[...document.querySelectorAll('[data-channel][data-status="FAILED"] [data-status-label]')].filter(e => e.textContent.trim() === '` + label + `').length === 6 && ` +
			`document.querySelector('[data-overall-status="FAILED"]') !== null`
	}
	mk.waitJS("every card Cancelled", cancelled("Cancelled"), 15*time.Second)
	mk.waitJS("the toast", `document.querySelector('#toasts [data-toast="ok"]') !== null`, 5*time.Second)
	staff.waitJS("every card 취소됨 on the other viewer's page", cancelled("취소됨"), 15*time.Second)
	if n := count(mk, `button[data-action="cancel"], button[data-action="cancel-distribution"]`); n != 0 {
		t.Errorf("%d cancel buttons left after everything was cancelled", n)
	}
	if n := count(staff, `#attempts-`+id+` tr[data-outcome="cancelled"]`); n != 6 {
		t.Errorf("attempt history shows %d cancelled attempts, want 6", n)
	}
	mk.wantNoReload()
	staff.wantNoReload()

	// The abandoned calls: every job returned (cancelled: its hanging submit ended when the client
	// went away), and none made a post.
	testkit.EventuallyErr(t, 20*time.Second, "six publish jobs cancelled", func() error {
		var n int
		if err := a.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job
			WHERE args->>'event_id' = $1 AND state = 'cancelled'`, id).Scan(&n); err != nil {
			return err
		}
		if n != 6 {
			return fmt.Errorf("%d of 6 jobs cancelled", n)
		}
		return nil
	})
	for _, ch := range model.AllChannels {
		if n := a.sim.Posts(ch, id); n != 0 {
			t.Errorf("%s: %d posts after the cancel", ch, n)
		}
	}

	// A cancelled channel is retried like a failed one, and publishes.
	staff.do("retry KAKAO", chromedp.Click(chromedp.CSS(`[data-channel="KAKAO"] button[data-action="retry"]`)))
	staff.waitJS("KAKAO published", `document.querySelector('[data-channel="KAKAO"][data-status="SUCCESS"] [role="progressbar"][aria-valuenow="100"]') !== null && `+
		`document.querySelector('[data-overall-status="PARTIAL_SUCCESS"]') !== null`, 30*time.Second)
	mk.waitJS("the marketer sees it live", `document.querySelector('[data-channel="KAKAO"][data-status="SUCCESS"]') !== null`, 15*time.Second)
	if n := a.sim.Posts(model.ChannelKakao, id); n != 1 {
		t.Errorf("KAKAO posts after the retry = %d, want 1", n)
	}
	staff.wantNoReload()
}
