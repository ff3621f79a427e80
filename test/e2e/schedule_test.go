package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marketing-platform/distribution/internal/model"
)

// dbNow reads the database clock, which schedules are measured by.
func (a *app) dbNow() time.Time {
	a.t.Helper()
	var now time.Time
	if err := a.db.Pool.QueryRow(context.Background(), `SELECT clock_timestamp()`).Scan(&now); err != nil {
		a.t.Fatal(err)
	}
	return now
}

// Staff schedule a start with the detail page's form ("at", read in the viewer's zone: the
// default Asia/Seoul, whatever the language), see it on the page and as a chip on the list, and unschedule it; the list drops the
// chip live. Then a schedule a couple of seconds ahead (by the database clock), written through
// the API from the open page, shows up on it and fires: the distribution starts and completes on
// the page without a reload, its attempts triggered by the schedule.
func TestScheduleFromThePage(t *testing.T) {
	a := newApp(t)
	later := a.event("Scheduled sale")
	soon := a.event("Starts by itself")
	b := newBrowser(t)
	staff := b.user(a, "staff@example.com", model.RoleStaff)

	staff.open("/events/" + later)
	staff.markNoReload()
	at := a.dbNow().Add(10 * time.Minute).UTC().Truncate(time.Second)
	staff.do("schedule with the form",
		chromedp.Click(chromedp.CSS(`form[data-action="start-distribution"] input[name="channels"][value="INSTAGRAM"]`)), // uncheck
		chromedp.Click(chromedp.CSS(`form[data-action="start-distribution"] input[name="when"][value="at"]`)),
	)
	eval[bool](staff, `(document.querySelector('form[data-action="start-distribution"] input[name="at"]').value = '`+at.In(seoul).Format("2006-01-02T15:04:05")+`') !== ''`)
	staff.do("submit", chromedp.Click(chromedp.CSS(`form[data-action="start-distribution"] button[type="submit"]`)))
	staff.waitJS("the schedule on the page", `document.querySelector('#schedule [data-schedule]')?.dataset.startAt === '`+at.Format(time.RFC3339)+`'`, 10*time.Second)
	staff.wantNoReload()
	if got := eval[string](staff, `document.querySelector('#schedule').textContent`); !strings.Contains(got, "KST") || strings.Contains(got, "Instagram") {
		t.Errorf("schedule box %q: want the time in KST and the five channels asked for", got)
	}
	if n := count(staff, `[data-overall-status]`); n != 0 {
		t.Fatal("scheduling started the distribution")
	}

	list := staff.newTab()
	list.open("/")
	list.markNoReload()
	list.waitJS("the chip on the list", `document.querySelector('tr[data-event-id="`+later+`"] [data-schedule]')?.dataset.startAt === '`+at.Format(time.RFC3339)+`'`, 5*time.Second)

	staff.do("unschedule", chromedp.Click(chromedp.CSS(`button[data-action="unschedule"]`)))
	staff.waitJS("the schedule gone", `document.querySelector('[data-schedule]') === null && document.querySelector('form[data-action="start-distribution"]') !== null`, 10*time.Second)
	list.waitJS("the chip gone from the list, live", `document.querySelector('tr[data-event-id="`+later+`"] [data-schedule]') === null`, 10*time.Second)
	list.wantNoReload()
	staff.wantNoReload()
	if _, err := a.db.FindSchedule(context.Background(), later); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("still scheduled after unschedule: %v", err)
	}

	// A schedule that fires while its page is open.
	staff.open("/events/" + soon)
	staff.markNoReload()
	startAt := a.dbNow().Add(2 * time.Second).UTC()
	status := eval[int](staff, fmt.Sprintf(`fetch('/api/v1/events/%s/schedule', {method: 'PUT',
		headers: {'Content-Type': 'application/json', 'X-CSRF-Token': JSON.parse(document.body.dataset.signals)._csrf},
		body: JSON.stringify({channels: ['NAVER', 'KAKAO'], startAt: '%s'})}).then(r => r.status)`, soon, startAt.Format(time.RFC3339Nano)),
		chromedp.EvalAwaitPromise)
	if status != 201 {
		t.Fatalf("PUT schedule from the page: %d", status)
	}
	staff.waitJS("the distribution starting live", `document.querySelector('[data-overall-status]') !== null`, 15*time.Second)
	staff.waitJS("COMPLETED", allDone("COMPLETED", 2), 30*time.Second)
	staff.wantNoReload()
	if n := count(staff, `[data-schedule], form[data-action="start-distribution"]`); n != 0 {
		t.Errorf("the started page still shows %d schedule or start-form elements", n)
	}
	var started time.Time
	if err := a.db.Pool.QueryRow(context.Background(), `SELECT started_at FROM distribution_status WHERE event_id = $1`, soon).Scan(&started); err != nil {
		t.Fatal(err)
	}
	if started.Before(startAt) {
		t.Errorf("started at %s, before its startAt %s", started, startAt)
	}
	staff.waitJS("the attempts name the schedule", `[...document.querySelectorAll('#attempts-`+soon+` tr[data-attempt]')].some(r => r.querySelector('[data-trigger]')?.textContent === 'staff@example.com · scheduled')`, 10*time.Second)
}
