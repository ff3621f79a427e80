package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit"
)

// seoul is DEFAULT_TIMEZONE's default: the zone of a viewer who chose none.
var seoul = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		panic(err)
	}
	return loc
}()

// TestUXExcelZoneIsItsOwnSetting (issue 15.4): an English-reading manager sees times in the
// default zone (Asia/Seoul), not UTC; choosing another zone in the header changes every time on
// the page and in the live stream, the language untouched; the report's date filter names it.
func TestUXExcelZoneIsItsOwnSetting(t *testing.T) {
	a := newApp(t)
	b := newBrowser(t)
	mgr := b.user(a, "boss@example.com", model.RoleManager)
	mgr.do("switch to English", chromedp.Click(chromedp.CSS(`form[action="/lang"] button[value="en"]`)),
		chromedp.WaitReady(chromedp.CSS(`html[lang="en"] [data-user-role]`)))

	ctx := context.Background()
	done := a.event("Zone sale")
	if _, err := a.eng.StartDistribution(ctx, done, []model.Channel{model.ChannelNaver}, "e2e"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "the distribution finished", func() bool {
		var open int
		if err := a.db.Pool.QueryRow(ctx, `SELECT count(*) FROM distribution_status WHERE overall_status = 'IN_PROGRESS'`).Scan(&open); err != nil {
			t.Fatal(err)
		}
		return open == 0
	})
	completed := `(document.querySelector('[data-overall-status] [data-completed-at] time')?.textContent ?? '')`
	mgr.open("/events/" + done)
	mgr.waitJS("the completed time in KST", completed+`.endsWith(' KST')`, 10*time.Second)
	if z := eval[string](mgr, `document.querySelector('#zone-select').value`); z != "Asia/Seoul" {
		t.Fatalf("header zone %q, want Asia/Seoul", z)
	}

	mgr.do("choose America/New_York", chromedp.SetValue(chromedp.CSS(`#zone-select`), "America/New_York"),
		chromedp.Click(chromedp.CSS(`form[data-action="set-zone"] button[type="submit"]`)),
		chromedp.WaitReady(chromedp.CSS(`#zone-select option[value="America/New_York"][selected]`)))
	mgr.waitJS("the page again, in New York time", `location.pathname === '/events/`+done+`' && `+completed+`.match(/ E[SD]T$/) !== null`, 10*time.Second)
	mgr.waitLive()
	if lang := eval[string](mgr, `document.documentElement.lang`); lang != "en" {
		t.Errorf("changing the zone changed the language to %q", lang)
	}

	// The live stream renders in the chosen zone too: a distribution started while the page is
	// open arrives with its times in New York time.
	live := a.event("Live zone sale")
	mgr.open("/events/" + live)
	if _, err := a.eng.StartDistribution(ctx, live, []model.Channel{model.ChannelGiniTV}, "e2e"); err != nil {
		t.Fatal(err)
	}
	mgr.waitJS("the live completed time in New York time", completed+`.match(/ E[SD]T$/) !== null`, 30*time.Second)

	// The report's date filter names the zone; its rows' times follow it.
	mgr.do("open reports", chromedp.Navigate(a.url+"/reports"))
	mgr.waitJS("the zone note", `document.querySelector('form[data-action="report-filter"] [data-zone-note]')?.dataset.zoneNote === 'America/New_York'`, 10*time.Second)
	mgr.waitJS("report times in New York time", `[...document.querySelectorAll('tr[data-report-row] time')].length === 2 && [...document.querySelectorAll('tr[data-report-row] time')].every(e => / E[SD]T$/.test(e.textContent))`, 10*time.Second)
	mgr.screenshot(filepath.Join(os.TempDir(), "ux-excel-zone-reports.png"))
}
