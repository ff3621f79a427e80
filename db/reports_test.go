package db_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// repOutcome is how one channel of a report fixture ends; "" leaves it PENDING.
type repOutcome struct {
	ch     model.Channel
	status model.ChannelStatus
	views  int
	url    string
}

// repDistribution starts a distribution through the engine's own SQL, finishes its channels
// through ClaimChannel/FinishChannel as a worker would, and back-dates its start to startedAt.
func repDistribution(t testing.TB, d *db.DB, eventID string, startedAt time.Time, outs ...repOutcome) {
	t.Helper()
	ctx := context.Background()
	engEvent(t, d, eventID)
	chans := make([]model.Channel, len(outs))
	for i, o := range outs {
		chans[i] = o.ch
	}
	dist, err := d.StartDistribution(ctx, eventID, chans, "tester", engNoEnqueue)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		if o.status == "" || o.status == model.StatusPending {
			continue
		}
		run, ok, err := d.ClaimChannel(ctx, dist.ID, o.ch, 1, "system")
		if err != nil || !ok {
			t.Fatalf("claim %s: ok=%v err=%v", o.ch, ok, err)
		}
		if o.status == model.StatusInProgress {
			continue
		}
		f := db.ChannelFinish{ChannelStatusID: run.State.ID, DistributionStatusID: dist.ID, Generation: 1,
			AttemptID: run.AttemptID, Status: o.status}
		if o.status == model.StatusSuccess {
			f.Outcome = model.OutcomeSuccess
			f.Result = &db.ChannelResult{DistributionID: "d-" + eventID, PostURL: o.url, EstimatedViews: o.views}
		} else {
			f.Outcome, f.ErrorMessage = model.OutcomeFailed, "boom"
		}
		if _, err := d.FinishChannel(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Pool.Exec(ctx, `UPDATE distribution_status SET started_at = $2 WHERE event_id = $1`, eventID, startedAt); err != nil {
		t.Fatal(err)
	}
}

func TestReportTotalsRowsAndStream(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	day := time.Date(2025, 3, 10, 3, 0, 0, 0, time.UTC)
	repDistribution(t, d, "ev-a", day,
		repOutcome{model.ChannelInstagram, model.StatusSuccess, 1200, "https://instagram.example/p/1"},
		repOutcome{model.ChannelKakao, model.StatusFailed, 0, ""},
		repOutcome{model.ChannelGiniTV, model.StatusSuccess, 30000, ""})
	repDistribution(t, d, "ev-b", day.Add(24*time.Hour),
		repOutcome{model.ChannelInstagram, model.StatusSuccess, 800, "https://instagram.example/p/2"},
		repOutcome{model.ChannelKakao, model.StatusInProgress, 0, ""})
	repDistribution(t, d, "ev-old", day.Add(-30*24*time.Hour),
		repOutcome{model.ChannelInstagram, model.StatusSuccess, 99999, ""})

	f := model.ReportFilter{From: day.Add(-time.Hour), To: day.Add(7 * 24 * time.Hour)}
	rep, err := d.FindReport(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Events != 2 {
		t.Errorf("events = %d, want 2", rep.Events)
	}
	want := map[model.Channel]model.ChannelTotals{
		model.ChannelGiniTV:    {Channel: model.ChannelGiniTV, Distributions: 1, Succeeded: 1, EstimatedViews: 30000},
		model.ChannelInstagram: {Channel: model.ChannelInstagram, Distributions: 2, Succeeded: 2, EstimatedViews: 2000},
		model.ChannelKakao:     {Channel: model.ChannelKakao, Distributions: 2, Failed: 1},
	}
	if len(rep.Channels) != 3 || rep.Channels[0].Channel != model.ChannelGiniTV || rep.Channels[2].Channel != model.ChannelKakao {
		t.Fatalf("channels %+v: want GINITV, INSTAGRAM, KAKAO in display order", rep.Channels)
	}
	for _, got := range rep.Channels {
		if got != want[got.Channel] {
			t.Errorf("%s totals %+v, want %+v", got.Channel, got, want[got.Channel])
		}
	}
	if tot := rep.Total; tot.Distributions != 5 || tot.Succeeded != 3 || tot.Failed != 1 || tot.EstimatedViews != 32000 {
		t.Errorf("total %+v", tot)
	}
	if r, ok := rep.Channels[2].SuccessRate(); !ok || r != 0 {
		t.Errorf("KAKAO success rate %v %v, want 0 (1 failed, 1 in flight)", r, ok)
	}

	// Rows: newest distribution first, channels in display order; pages of 2 chain to all 5.
	var all []model.ReportRow
	f.Limit = 2
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		page, err := d.FindReportRows(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Rows...)
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	got := []string{}
	for _, r := range all {
		got = append(got, r.EventID+"/"+string(r.Channel))
	}
	wantRows := []string{"ev-b/INSTAGRAM", "ev-b/KAKAO", "ev-a/GINITV", "ev-a/INSTAGRAM", "ev-a/KAKAO"}
	if len(got) != len(wantRows) {
		t.Fatalf("rows %v, want %v", got, wantRows)
	}
	for i := range got {
		if got[i] != wantRows[i] {
			t.Fatalf("rows %v, want %v", got, wantRows)
		}
	}
	if all[0].Title != "Event ev-b" || all[0].PostURL == nil || *all[0].PostURL != "https://instagram.example/p/2" {
		t.Errorf("first row %+v", all[0])
	}
	if all[3].OverallStatus != model.OverallPartialSuccess || !all[3].StartedAt.Equal(day) {
		t.Errorf("ev-a row: overall %s started %s", all[3].OverallStatus, all[3].StartedAt)
	}

	// The stream yields exactly the page rows, in the same order.
	f.Cursor = ""
	var streamed []string
	if err := d.StreamReportRows(ctx, f, func(r model.ReportRow) error {
		streamed = append(streamed, r.EventID+"/"+string(r.Channel))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(streamed) != len(got) {
		t.Fatalf("streamed %v, paged %v", streamed, got)
	}
	for i := range got {
		if streamed[i] != got[i] {
			t.Fatalf("streamed %v, paged %v", streamed, got)
		}
	}

	// Channel filter.
	f.Channel = model.ChannelKakao
	rep, err = d.FindReport(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Channels) != 1 || rep.Total.Distributions != 2 || rep.Events != 2 {
		t.Errorf("KAKAO report %+v", rep)
	}

	// Per day in KST: ev-a (03:00 UTC = 12:00 KST on the 10th), ev-b on the 11th.
	f.Channel = ""
	daily, err := d.FindReportDaily(ctx, f, "Asia/Seoul")
	if err != nil {
		t.Fatal(err)
	}
	sum := map[string]int{}
	for _, c := range daily {
		sum[c.Day.Format("2006-01-02")+"/"+string(c.Channel)] = c.Succeeded*100 + c.Failed*10 + c.InFlight
	}
	for k, v := range map[string]int{"2025-03-10/GINITV": 100, "2025-03-10/INSTAGRAM": 100, "2025-03-10/KAKAO": 10,
		"2025-03-11/INSTAGRAM": 100, "2025-03-11/KAKAO": 1} {
		if sum[k] != v {
			t.Errorf("daily %s = %d, want %d (all: %v)", k, sum[k], v, sum)
		}
	}
	if len(sum) != 5 {
		t.Errorf("daily %v: want 5 cells", sum)
	}
}

func TestReportFilterValidation(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	now := time.Now()
	for _, f := range []model.ReportFilter{
		{},
		{From: now, To: now},
		{From: now, To: now.Add(-time.Hour)},
		{From: now, To: now.Add(time.Hour), Channel: "TWITTER"},
	} {
		if _, err := d.FindReport(ctx, f); model.ErrorCode(err) != model.EINVALID {
			t.Errorf("FindReport(%+v) = %v, want invalid", f, err)
		}
	}
	_, err := d.FindReportRows(ctx, model.ReportFilter{From: now, To: now.Add(time.Hour), Cursor: "!!"})
	wantCode(t, err, model.EINVALID)
}

func TestChannelHealth(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	repDistribution(t, d, "h1", time.Now(),
		repOutcome{model.ChannelNaver, model.StatusFailed, 0, ""},
		repOutcome{model.ChannelKakao, model.StatusSuccess, 10, ""})
	repDistribution(t, d, "h2", time.Now(), repOutcome{model.ChannelNaver, model.StatusSuccess, 10, ""})
	// An attempt three hours ago and one outside the window.
	if _, err := d.Pool.Exec(ctx, `UPDATE channel_attempts SET finished_at = now() - interval '3 hours 10 minutes'
		WHERE event_id = 'h2'`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pool.Exec(ctx, `UPDATE channel_attempts SET finished_at = now() - interval '30 hours'
		WHERE event_id = 'h1' AND channel = 'KAKAO'`); err != nil {
		t.Fatal(err)
	}
	buckets, failed, err := d.FindChannelHealth(ctx, 24)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int{}
	for _, b := range buckets {
		got[fmt.Sprintf("%s/%d", b.Channel, b.HoursAgo)] = [2]int{b.Succeeded, b.Failed}
	}
	if len(got) != 2 || got["NAVER/0"] != [2]int{0, 1} || got["NAVER/3"] != [2]int{1, 0} {
		t.Errorf("buckets %v", got)
	}
	if failed[model.ChannelNaver] != 1 || len(failed) != 1 {
		t.Errorf("failed now %v", failed)
	}
}
