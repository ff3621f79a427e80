package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/quiethours"
)

// KakaoTalk's quiet hours in Chromium (issue 14): during the window the start form says when
// KakaoTalk will be sent; the start is accepted, the five other channels publish, and the KAKAO
// card waits PENDING saying "Quiet hours: sending at …" (the window's end), with no attempt.
func TestQuietHoursKakaoWaitsInBrowser(t *testing.T) {
	// A window around the real clock (the service reads it), ending an hour from now.
	now := time.Now().In(quiethours.Seoul)
	end := now.Add(time.Hour)
	a := newAppWith(t, func(c *config.Config) {
		w, err := quiethours.Parse(now.Add(-time.Hour).Format("15:04") + "-" + end.Format("15:04"))
		if err != nil {
			t.Fatal(err)
		}
		c.KakaoQuietHours = w
	})
	id := a.event("봄 세일 (quiet hours)")
	b := newBrowser(t)
	staff := b.user(a, "staff@example.com", model.RoleStaff)
	staff.open("/events/" + id)
	staff.markNoReload()

	note := eval[string](staff, `(document.querySelector('label [data-preflight="KAKAO"][data-reason="quiet_hours"]') || {}).textContent || ''`)
	if !strings.Contains(note, "KakaoTalk will be sent at "+end.Format("15:04")) {
		t.Fatalf("start form note = %q", note)
	}
	if n := count(staff, `[data-preflight]`); n != 1 {
		t.Fatalf("%d pre-flight notes, want the KAKAO one", n)
	}
	staff.do("start", chromedp.Click(chromedp.CSS(`form[data-action="start-distribution"] button[type="submit"]`)))
	staff.waitJS("five channels SUCCESS, KAKAO waiting for the end of quiet hours",
		`document.querySelectorAll('[data-channel][data-status="SUCCESS"]').length === 5 &&
		 (() => { const w = document.querySelector('[data-channel="KAKAO"][data-status="PENDING"] [data-waiting="quiet_hours"]');
			return w !== null && w.textContent.includes('Quiet hours: sending at `+end.Format("15:04")+`'); })()`, 60*time.Second)
	staff.wantNoReload()
	if got := a.sim.Posts(model.ChannelKakao, id); got != 0 {
		t.Fatalf("KAKAO posted %d times during quiet hours", got)
	}
	var attempts int
	if err := a.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM channel_attempts WHERE event_id = $1 AND channel = 'KAKAO'`, id).Scan(&attempts); err != nil || attempts != 0 {
		t.Fatalf("KAKAO attempts = %d (%v), want none", attempts, err)
	}
}
