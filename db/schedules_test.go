package db_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// dbNow reads the database clock (the clock schedules are measured by).
func dbNow(t testing.TB, d *db.DB) time.Time {
	t.Helper()
	var now time.Time
	if err := d.Pool.QueryRow(context.Background(), `SELECT clock_timestamp()`).Scan(&now); err != nil {
		t.Fatal(err)
	}
	return now
}

func TestScheduleCreateReplaceFindDelete(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	engEvent(t, d, "ev1")
	at := dbNow(t, d).Add(time.Hour).Truncate(time.Second)

	s, replaced, err := d.ScheduleDistribution(ctx, "ev1", []model.Channel{"KAKAO", "NAVER"}, at, "m@x")
	if err != nil || replaced {
		t.Fatalf("create: %v replaced=%v", err, replaced)
	}
	if s.EventID != "ev1" || !s.StartAt.Equal(at) || s.CreatedBy != "m@x" || fmt.Sprint(s.Channels) != "[NAVER KAKAO]" {
		t.Errorf("created %+v (channels in display order)", s)
	}
	got, err := d.FindSchedule(ctx, "ev1")
	if err != nil || !got.StartAt.Equal(at) || fmt.Sprint(got.Channels) != "[NAVER KAKAO]" {
		t.Fatalf("find: %+v %v", got, err)
	}
	ev, err := d.FindEventByID(ctx, "ev1")
	if err != nil || ev.Schedule == nil || !ev.Schedule.StartAt.Equal(at) || ev.Distribution != nil {
		t.Fatalf("event: %+v %v", ev, err)
	}
	page, err := d.FindEvents(ctx, model.EventFilter{})
	if err != nil || len(page.Events) != 1 || page.Events[0].Schedule == nil || page.Events[0].Schedule.CreatedBy != "m@x" {
		t.Fatalf("list: %+v %v", page.Events, err)
	}

	later := at.Add(24 * time.Hour)
	s, replaced, err = d.ScheduleDistribution(ctx, "ev1", model.AllChannels, later, "staff@x")
	if err != nil || !replaced || !s.StartAt.Equal(later) || s.CreatedBy != "staff@x" || len(s.Channels) != 6 {
		t.Fatalf("replace: %+v replaced=%v %v", s, replaced, err)
	}
	if n := engCount(t, d, `SELECT count(*) FROM distribution_schedules`); n != 1 {
		t.Errorf("%d schedule rows after a replace", n)
	}

	if err := d.DeleteSchedule(ctx, "ev1", "staff@x"); err != nil {
		t.Fatal(err)
	}
	engCode(t, d.DeleteSchedule(ctx, "ev1", "staff@x"), model.ENOTFOUND)
	_, err = d.FindSchedule(ctx, "ev1")
	engCode(t, err, model.ENOTFOUND)
	if ev, _ := d.FindEventByID(ctx, "ev1"); ev.Schedule != nil {
		t.Errorf("event still shows %+v", ev.Schedule)
	}
	for action, want := range map[string]int{"distribution.schedule": 1, "distribution.reschedule": 1, "distribution.unschedule": 1} {
		if n := engCount(t, d, `SELECT count(*) FROM audit_log WHERE action = $1 AND event_id = 'ev1'`, action); n != want {
			t.Errorf("%d %s audit rows, want %d", n, action, want)
		}
	}
	if n := engCount(t, d, `SELECT count(*) FROM distribution_status`); n != 0 {
		t.Errorf("%d distributions: scheduling must not start anything", n)
	}
}

// The bounds are measured from the database clock: a minute into the past (a clock difference)
// is accepted and due at once; more is refused; up to 90 days ahead is accepted, more is refused.
func TestScheduleBoundsByDatabaseClock(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	engEvent(t, d, "ev1")
	now := dbNow(t, d)
	for _, tt := range []struct {
		name string
		at   time.Time
		msg  string
	}{
		{"two minutes ago", now.Add(-2 * time.Minute), "startAt is more than a minute in the past"},
		{"91 days ahead", now.Add(91 * 24 * time.Hour), "startAt is more than 90 days ahead"},
		{"year 1", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "startAt is more than a minute in the past"},
	} {
		_, _, err := d.ScheduleDistribution(ctx, "ev1", model.AllChannels, tt.at, "m@x")
		engCode(t, err, model.EINVALID)
		if model.ErrorMessage(err) != tt.msg {
			t.Errorf("%s: %q, want %q", tt.name, model.ErrorMessage(err), tt.msg)
		}
	}
	if n := engCount(t, d, `SELECT count(*) FROM distribution_schedules`); n != 0 {
		t.Fatalf("%d schedules written by refused requests", n)
	}
	for _, at := range []time.Time{now.Add(-30 * time.Second), now.Add(89 * 24 * time.Hour)} {
		if _, _, err := d.ScheduleDistribution(ctx, "ev1", model.AllChannels, at, "m@x"); err != nil {
			t.Errorf("%s: %v", at.Sub(now), err)
		}
	}
}

func TestScheduleRejectsBadInputWithoutWriting(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	engEvent(t, d, "ev1")
	at := dbNow(t, d).Add(time.Hour)
	for _, tt := range []struct {
		name  string
		event string
		chans []model.Channel
		code  string
	}{
		{"unknown event", "nope", model.AllChannels, model.ENOTFOUND},
		{"malformed event id", "../x", model.AllChannels, model.ENOTFOUND},
		{"no channels", "ev1", nil, model.EINVALID},
		{"unknown channel", "ev1", []model.Channel{"TIKTOK"}, model.EINVALID},
		{"duplicate channel", "ev1", []model.Channel{"KAKAO", "KAKAO"}, model.EINVALID},
		{"NUL in a channel", "ev1", []model.Channel{"KAKAO\x00"}, model.EINVALID},
		{"line break in a channel", "ev1", []model.Channel{"KAKAO\r\nNAVER"}, model.EINVALID},
		{"invalid UTF-8 in a channel", "ev1", []model.Channel{"KAKAO\xff"}, model.EINVALID},
	} {
		_, _, err := d.ScheduleDistribution(ctx, tt.event, tt.chans, at, "m@x")
		if got := model.ErrorCode(err); got != tt.code {
			t.Errorf("%s: code %q (%v), want %q", tt.name, got, err, tt.code)
		}
	}
	if n := engCount(t, d, `SELECT count(*) FROM distribution_schedules`) + engCount(t, d, `SELECT count(*) FROM audit_log`); n != 0 {
		t.Fatalf("%d rows written by refused requests", n)
	}
}

// An event with a distribution cannot be scheduled (409); starting now a scheduled event starts
// it and removes the schedule in the same transaction.
func TestScheduleAndStartNowExcludeEachOther(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	engStart(t, d, "started")
	at := dbNow(t, d).Add(time.Hour)
	_, _, err := d.ScheduleDistribution(ctx, "started", model.AllChannels, at, "m@x")
	engCode(t, err, model.ECONFLICT)

	engEvent(t, d, "planned")
	if _, _, err := d.ScheduleDistribution(ctx, "planned", []model.Channel{model.ChannelKakao}, at, "m@x"); err != nil {
		t.Fatal(err)
	}
	rec := &engRecorder{}
	dist, err := d.StartDistribution(ctx, "planned", []model.Channel{model.ChannelNaver}, "now@x", rec.enqueue)
	if err != nil {
		t.Fatal(err)
	}
	if len(dist.Channels) != 1 || dist.Channels[0].Channel != model.ChannelNaver || rec.trig[0] != "system" {
		t.Errorf("start now started %+v with triggers %v: want the channels asked for now", dist.Channels, rec.trig)
	}
	if _, err := d.FindSchedule(ctx, "planned"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("the schedule survived the start: %v", err)
	}
	if ev, _ := d.FindEventByID(ctx, "planned"); ev.Schedule != nil || ev.Distribution == nil {
		t.Errorf("event shows schedule %+v, distribution %v", ev.Schedule, ev.Distribution != nil)
	}
}

// Schedule writes and immediate starts of one event race 20 times: whatever the order, the
// event ends with a distribution and no schedule, or a schedule and no distribution; never both.
func TestScheduleRacesStartNow(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	at := dbNow(t, d).Add(time.Hour)
	for i := range 20 {
		id := fmt.Sprintf("race%d", i)
		engEvent(t, d, id)
		var wg sync.WaitGroup
		wg.Go(func() {
			_, _, err := d.ScheduleDistribution(ctx, id, model.AllChannels, at, "m@x")
			if err != nil && model.ErrorCode(err) != model.ECONFLICT {
				t.Errorf("schedule: %v", err)
			}
		})
		wg.Go(func() {
			if _, err := d.StartDistribution(ctx, id, model.AllChannels, "m@x", engNoEnqueue); err != nil {
				t.Errorf("start: %v", err)
			}
		})
		wg.Wait()
	}
	if n := engCount(t, d, `SELECT count(*) FROM distribution_schedules s JOIN distribution_status d USING (event_id)`); n != 0 {
		t.Fatalf("%d events have both a schedule and a distribution", n)
	}
	if n := engCount(t, d, `SELECT count(*) FROM distribution_status`); n != 20 {
		t.Fatalf("%d distributions, want 20", n)
	}
}

// Several schedules fall due at once and four claimers run concurrently (as replicas do), each
// claiming up to 3 per transaction: each due schedule starts exactly one distribution, with trigger "schedule:<creator>" and the
// creator as the audit actor; a schedule not due yet is left alone.
func TestStartDueScheduleOnceWithConcurrentClaimers(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	const due = 12
	now := dbNow(t, d)
	for i := range due {
		id := fmt.Sprintf("due%02d", i)
		engEvent(t, d, id)
		if _, _, err := d.ScheduleDistribution(ctx, id, []model.Channel{model.ChannelKakao, model.ChannelNaver}, now.Add(-10*time.Second), "sched@x"); err != nil {
			t.Fatal(err)
		}
	}
	engEvent(t, d, "later")
	if _, _, err := d.ScheduleDistribution(ctx, "later", model.AllChannels, now.Add(time.Hour), "sched@x"); err != nil {
		t.Fatal(err)
	}

	rec := &engRecorder{}
	var (
		mu      sync.Mutex
		started []string
		wg      sync.WaitGroup
		gate    = make(chan struct{})
	)
	for range 4 {
		wg.Go(func() {
			<-gate
			for {
				due, err := d.StartDueSchedules(ctx, 3, nil, rec.enqueue)
				if err != nil {
					t.Error(err)
					return
				}
				if len(due) == 0 {
					return
				}
				for _, ds := range due {
					if ds.Err != nil || ds.Distribution.EventID != ds.Schedule.EventID {
						t.Errorf("%s: %+v", ds.Schedule.EventID, ds)
					}
					mu.Lock()
					started = append(started, ds.Distribution.EventID)
					mu.Unlock()
				}
			}
		})
	}
	close(gate)
	wg.Wait()
	slices.Sort(started)
	if len(started) != due || len(slices.Compact(slices.Clone(started))) != due {
		t.Fatalf("started %v: want each of the %d due events once", started, due)
	}
	if n := engCount(t, d, `SELECT count(*) FROM distribution_status`); n != due {
		t.Errorf("%d distributions, want %d", n, due)
	}
	if n := engCount(t, d, `SELECT count(*) FROM distribution_schedules`); n != 1 {
		t.Errorf("%d schedules left, want 1 (not due yet)", n)
	}
	if len(rec.rows) != 2*due {
		t.Errorf("%d jobs enqueued, want %d", len(rec.rows), 2*due)
	}
	for _, tr := range rec.trig {
		if tr != "schedule:sched@x" {
			t.Errorf("trigger %q", tr)
		}
	}
	if n := engCount(t, d, `SELECT count(*) FROM audit_log WHERE action = 'distribution.start' AND actor = 'sched@x'
		AND detail LIKE '%trigger: schedule:sched@x'`); n != due {
		t.Errorf("%d start audit rows by the creator, want %d", n, due)
	}
	if due, err := d.StartDueSchedules(ctx, 10, nil, rec.enqueue); len(due) != 0 || err != nil {
		t.Errorf("a claim after all started: %v %v", due, err)
	}
	in, ok, err := d.NextScheduleIn(ctx)
	if err != nil || !ok || in < 59*time.Minute || in > time.Hour {
		t.Errorf("next schedule in %s (%v, %v), want about an hour", in, ok, err)
	}
}

// A failing start (the job insert fails) rolls the claim back: the schedules stay due for the next
// pass, and the answer names them; skip lets the caller pass over one to the others.
func TestStartDueScheduleFailureKeepsTheSchedule(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	now := dbNow(t, d)
	for _, id := range []string{"a", "b"} {
		engEvent(t, d, id)
		if _, _, err := d.ScheduleDistribution(ctx, id, model.AllChannels, now.Add(-time.Second), "m@x"); err != nil {
			t.Fatal(err)
		}
	}
	boom := errors.New("queue down")
	failed, err := d.StartDueSchedules(ctx, 10, nil, func(context.Context, pgx.Tx, []model.ChannelState, string) error { return boom })
	if !errors.Is(err, boom) || len(failed) != 2 || failed[0].Schedule.EventID != "a" || failed[1].Distribution.ID != 0 {
		t.Fatalf("err = %v, claimed %+v", err, failed)
	}
	if n := engCount(t, d, `SELECT count(*) FROM distribution_schedules`); n != 2 {
		t.Fatalf("%d schedules after a failed start, want 2", n)
	}
	if n := engCount(t, d, `SELECT count(*) FROM distribution_status`); n != 0 {
		t.Fatalf("%d distributions after a failed start", n)
	}
	due, err := d.StartDueSchedules(ctx, 10, []string{"a"}, engNoEnqueue)
	if err != nil || len(due) != 1 || due[0].Distribution.EventID != "b" {
		t.Fatalf("skip a: %+v %v", due, err)
	}
}
