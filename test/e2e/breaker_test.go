package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
	"github.com/marketing-platform/distribution/internal/testkit"
)

// Issue 13's "done": with KAKAO failing the first 3 submits of every event (SIMULATOR_FAIL=KAKAO=3)
// two events' KAKAO channels fail their automatic attempts and open the breaker. Staff clicks
// Retry while it is open: the card says the channel is paused and until when; staff click "probe
// now", and — without a reload — the retry runs as the breaker's probe, KAKAO reaches SUCCESS and
// the event COMPLETED.
func TestBreakerStaffRetryReachesSuccess(t *testing.T) {
	a := newAppWith(t, func(c *config.Config) {
		// The production rules (>= 50 % failed, >= 2 events) with a volume of 6: the two events'
		// 3 + 3 automatic attempts all reach the channel whatever their interleaving (before each
		// call at most 5 are recorded), and the 6th failure opens the breaker. With 5, the breaker
		// could open before the last automatic attempt and defer it (correctly) past the test.
		c.ChannelBreakerThreshold = 6
		// Longer than the test: the pause must still hold when the retry is clicked however slow
		// the machine (a 10 s cool-down let the probe run first under load), and only "probe
		// now" ends it.
		c.BreakerCooldown = 10 * time.Minute
		c.MaxAttempts = 3
	})
	a.sim.SetFail(map[model.Channel]simulator.FailRule{model.ChannelKakao: {First: 3}})
	ctx := context.Background()
	id := a.event("Kakao outage with the breaker")
	other := a.event("Another Kakao event")
	b := newBrowser(t)
	staff := b.user(a, "staff@example.com", model.RoleStaff)

	staff.open("/events/" + id)
	staff.markNoReload()
	staff.do("start", chromedp.Click(chromedp.CSS(`form[data-action="start-distribution"] button[type="submit"]`)))
	if _, err := a.eng.StartDistribution(ctx, other, []model.Channel{model.ChannelKakao}, "e2e"); err != nil {
		t.Fatal(err)
	}
	staff.waitJS("KAKAO FAILED after its automatic attempts",
		`document.querySelector('[data-channel="KAKAO"][data-status="FAILED"] button[data-action="retry"]') !== null`, 60*time.Second)
	testkit.Eventually(t, 60*time.Second, "the other event's KAKAO FAILED", func() bool {
		d, err := a.db.FindDistribution(ctx, other)
		return err == nil && d.OverallStatus == model.OverallFailed
	})
	if st := a.eng.BreakerStatuses(ctx)[model.ChannelKakao.Order()]; st.State != model.BreakerOpen {
		t.Fatalf("KAKAO breaker %+v after 6 failures from 2 events, want open", st)
	}

	staff.do("retry KAKAO", chromedp.Click(chromedp.CSS(`[data-channel="KAKAO"] button[data-action="retry"]`)))
	t.Cleanup(func() { // on failure, what River and the row say about KAKAO
		if !t.Failed() {
			return
		}
		rows, _ := a.db.Pool.Query(ctx, `SELECT id, state, attempt, scheduled_at, args::text, COALESCE(metadata::text, ''), COALESCE(array_to_string(attempted_by, ','), '') FROM river_job WHERE args->>'channel' = 'KAKAO' ORDER BY id`)
		for rows.Next() {
			var id int64
			var st, args, md, by string
			var at int
			var sch time.Time
			_ = rows.Scan(&id, &st, &at, &sch, &args, &md, &by)
			t.Logf("KAKAO job %d %s attempt %d sched %s args %s md %s by %s", id, st, at, sch.Format(time.StampMilli), args, md, by)
		}
		rows.Close()
		var wr, gen string
		_ = a.db.Pool.QueryRow(ctx, `SELECT COALESCE(waiting_reason,'-') || ' ' || status, generation::text FROM channel_status WHERE event_id = $1 AND channel = 'KAKAO'`, id).Scan(&wr, &gen)
		t.Logf("KAKAO row %s gen %s now %s", wr, gen, time.Now().Format(time.StampMilli))
	})
	staff.waitJS("the card says KAKAO is paused until the probe",
		`(() => { const w = document.querySelector('[data-channel="KAKAO"][data-status="PENDING"] [data-waiting="channel_paused"]');
			return w !== null && /\d\d:\d\d:\d\d/.test(w.textContent); })()`, 20*time.Second)
	// Staff need not wait for the probe time: "probe now" in the paused card.
	// Clicked from the page itself: a live patch may replace the card between a CSS lookup and a
	// DevTools click.
	staff.waitJS("probe now clicked", `(() => { const b = document.querySelector('[data-channel="KAKAO"] button[data-action="probe-channel"]');
		if (!b) return false; b.click(); return true; })()`, 10*time.Second)
	staff.waitJS("KAKAO SUCCESS and COMPLETED", allDone("COMPLETED", 6), 60*time.Second)
	staff.wantNoReload()
	var probes int
	if err := a.db.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'channel.probe' AND actor = 'staff@example.com' AND channel = 'KAKAO'`).Scan(&probes); err != nil || probes != 1 {
		t.Errorf("probe audit rows = %d (%v), want 1", probes, err)
	}
	if n := count(staff, `[data-waiting]`); n != 0 {
		t.Errorf("%d waiting lines left on a completed distribution", n)
	}
	attempts, err := a.db.FindAttempts(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	kakao := 0
	for _, at := range attempts {
		if at.Channel == model.ChannelKakao {
			kakao++
		}
	}
	if kakao != 4 {
		t.Errorf("KAKAO attempts = %d, want 3 automatic + the retry (the breaker burnt none)", kakao)
	}
}
