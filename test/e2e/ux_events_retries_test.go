package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
	"github.com/marketing-platform/distribution/internal/testkit"
)

// Issue 15.16 in the browser: staff preview a bulk retry of KAKAO, see the three failed channels
// listed (event, channel, error, when) all checked, uncheck one, confirm: only the two checked are
// retried, and the page links to the events list filtered to them.
func TestUXEventsBulkRetryPicks(t *testing.T) {
	a := newApp(t)
	a.sim.SetFail(map[model.Channel]simulator.FailRule{model.ChannelKakao: {Always: true}})
	ctx := context.Background()
	ids := []string{a.event("Bulk one"), a.event("Bulk two"), a.event("Bulk three")}
	for _, id := range ids {
		if _, err := a.eng.StartDistribution(ctx, id, []model.Channel{model.ChannelKakao}, "e2e"); err != nil {
			t.Fatal(err)
		}
	}
	failed := func() int {
		var n int
		if err := a.db.Pool.QueryRow(ctx, `SELECT count(*) FROM channel_status WHERE status = 'FAILED'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	testkit.Eventually(t, 60*time.Second, "three KAKAO channels failed", func() bool { return failed() == 3 })

	b := newBrowser(t)
	s := b.user(a, "staff@example.com", model.RoleStaff)
	s.do("preview the KAKAO retry",
		chromedp.Navigate(a.url+"/retries"),
		chromedp.WaitVisible(chromedp.CSS(`form[data-action="bulk-retry-preview"]`)),
		chromedp.SetValue(chromedp.CSS(`#r-channel`), "KAKAO"),
		chromedp.Click(chromedp.CSS(`form[data-action="bulk-retry-preview"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`table[data-bulk-candidates]`)),
	)
	s.waitJS("three rows, all checked", `document.querySelectorAll('tr[data-bulk-candidate] input[name="ids"]:checked').length === 3`, 5*time.Second)
	for _, id := range ids {
		if n := count(s, `tr[data-event-ref="`+id+`"][data-channel-ref="KAKAO"] time`); n != 1 {
			t.Errorf("row of %s: %d times", id, n)
		}
	}
	if eval[string](s, `document.querySelector('tr[data-bulk-candidate] td:nth-child(4)').textContent.trim()`) == "" {
		t.Error("no error shown in the preview")
	}
	skip := ids[1]
	s.do("uncheck one", chromedp.Click(chromedp.CSS(`tr[data-event-ref="`+skip+`"] input[name="ids"]`)))
	s.do("retry the checked ones",
		chromedp.Click(chromedp.CSS(`button[data-action="bulk-retry-confirm"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[data-action="bulk-retry-events"]`)),
	)
	retries := func(id string) int {
		var n int
		if err := a.db.Pool.QueryRow(ctx, `SELECT retries FROM channel_status WHERE event_id = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, id := range ids {
		want := 1
		if id == skip {
			want = 0
		}
		if got := retries(id); got != want {
			t.Errorf("%s retried %d times, want %d", id, got, want)
		}
	}
	s.do("see the events", chromedp.Click(chromedp.CSS(`a[data-action="bulk-retry-events"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[data-action="filter"]`)))
	if q := eval[string](s, `location.search`); q != "?channel=KAKAO&status=IN_PROGRESS" {
		t.Errorf("the link opened %q", q)
	}
}
