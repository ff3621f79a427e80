package chaos

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/internal/testkit/proctest"
)

// SC1 (schedules with replicas and crashes): a schedule falls due by the database clock and
// becomes exactly one distribution, started like an immediate start by its creator (trigger
// "schedule:<creator>"), (1) when 8 schedules fall due at the same moment with two `serve`
// processes claiming, (2) when one of the two is killed -9 as 4 more fall due, and (3) when the
// only process is killed -9 before its schedules fall due and started again after: nothing starts
// while no process runs, then each starts once. The figure is the delay from startAt to the
// distribution's started_at (both by the database clock).
func TestChaosSC1ScheduleFiresOnceWithReplicasAndRestart(t *testing.T) {
	t.Parallel()
	env, _ := newEnv(t, nil)
	a := startApp(t, env)
	b := startApp(t, env)
	ctx := context.Background()
	pg, err := pgx.Connect(ctx, env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(ctx)
	dbNow := func() time.Time {
		var ts time.Time
		if err := pg.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&ts); err != nil {
			t.Fatal(err)
		}
		return ts
	}
	scalar := func(sql string, args ...any) int {
		var n int
		if err := pg.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// schedule creates the events and schedules each on one of apps (round robin) at startAt.
	schedule := func(prefix string, n int, startAt time.Time, apps ...*app) []string {
		var ids []string
		for i := range n {
			id := fmt.Sprintf("%s%d", prefix, i)
			x := apps[i%len(apps)]
			x.createEvent(id)
			x.must(http.MethodPut, "/api/v1/events/"+id+"/schedule",
				fmt.Sprintf(`{"channels":["NAVER","KAKAO"],"startAt":%q}`, startAt.UTC().Format(time.RFC3339Nano)), http.StatusCreated)
			ids = append(ids, id)
		}
		return ids
	}
	// once checks that each event started exactly once, as its schedule's creator, and returns
	// the delays from startAt to started_at (the start transaction's now()) and to the first
	// attempt (a worker running the first channel job), sorted.
	once := func(ids []string, startAt time.Time) (delays, firstRun []time.Duration) {
		t.Helper()
		for _, id := range ids {
			// An attempt killed with its replica is recorded 'lost' and re-run (same idempotency
			// key) by the liveness rescue; every other attempt is the schedule's, one per channel.
			if n := scalar(`SELECT count(*) FROM channel_attempts WHERE event_id = $1 AND outcome <> 'lost' AND trigger = 'schedule:token:chaos-staff'`, id); n != 2 {
				t.Errorf("%s: %d attempts (not lost) triggered by the schedule, want 2 (one per channel)", id, n)
			}
			if n := scalar(`SELECT count(*) FROM channel_attempts WHERE event_id = $1 AND outcome <> 'lost'`, id); n != 2 {
				t.Errorf("%s: %d attempts (not lost), want 2", id, n)
			}
			if n := scalar(`SELECT count(*) FROM channel_attempts WHERE event_id = $1 AND outcome = 'success'`, id); n != 2 {
				t.Errorf("%s: %d successful attempts, want 2", id, n)
			}
			if n := scalar(`SELECT count(*) FROM river_job WHERE args->>'event_id' = $1`, id); n != 2 {
				t.Errorf("%s: %d jobs, want 2", id, n)
			}
			if n := scalar(`SELECT count(*) FROM audit_log WHERE event_id = $1 AND action = 'distribution.start' AND actor = 'token:chaos-staff'`, id); n != 1 {
				t.Errorf("%s: %d start audit rows by the creator, want 1", id, n)
			}
			var started time.Time
			if err := pg.QueryRow(ctx, `SELECT started_at FROM distribution_status WHERE event_id = $1`, id).Scan(&started); err != nil {
				t.Fatal(err)
			}
			if started.Before(startAt) {
				t.Errorf("%s started at %s, before its startAt %s", id, started, startAt)
			}
			delays = append(delays, started.Sub(startAt))
			var run time.Time
			if err := pg.QueryRow(ctx, `SELECT min(started_at) FROM channel_attempts WHERE event_id = $1`, id).Scan(&run); err != nil {
				t.Fatal(err)
			}
			firstRun = append(firstRun, run.Sub(startAt))
		}
		if n := scalar(`SELECT count(*) FROM distribution_schedules WHERE event_id = ANY($1)`, ids); n != 0 {
			t.Errorf("%d schedules left", n)
		}
		slices.Sort(delays)
		slices.Sort(firstRun)
		return delays, firstRun
	}

	// (1) 8 due together, two replicas claiming.
	at1 := dbNow().Add(3 * time.Second)
	ids1 := schedule("sc1-", 8, at1, a, b)
	for _, id := range ids1 {
		a.waitOverall(id, "COMPLETED", 60*time.Second)
	}
	d1, r1 := once(ids1, at1)
	byA, byB := a.scheduledStarts(), b.scheduledStarts()
	if byA+byB != len(ids1) { // each claim counted once, by the process that committed it
		t.Errorf("the replicas claimed %d + %d schedules, want %d", byA, byB, len(ids1))
	}

	// (2) 4 more due as replica b is killed -9 at their startAt.
	at2 := dbNow().Add(3 * time.Second)
	ids2 := schedule("sc2-", 4, at2, a, b)
	proctest.WaitFor(t, time.Now().Add(30*time.Second), "the database clock to reach startAt", func() (bool, string) {
		return !dbNow().Before(at2), ""
	})
	b.proc.Kill()
	for _, id := range ids2 {
		a.waitOverall(id, "COMPLETED", 60*time.Second)
	}
	d2, r2 := once(ids2, at2)

	// (3) the only process killed before its schedules fall due, started again after.
	at3 := dbNow().Add(2 * time.Second)
	ids3 := schedule("sc3-", 3, at3, a)
	a.proc.Kill()
	proctest.WaitFor(t, time.Now().Add(30*time.Second), "the database clock past startAt + 1 s", func() (bool, string) {
		return dbNow().After(at3.Add(time.Second)), ""
	})
	if n := scalar(`SELECT count(*) FROM distribution_status WHERE event_id = ANY($1)`, ids3); n != 0 {
		t.Fatalf("%d distributions started with no process running", n)
	}
	launched := dbNow()
	a2 := startApp(t, env)
	for _, id := range ids3 {
		a2.waitOverall(id, "COMPLETED", 60*time.Second)
	}
	once(ids3, at3)
	var firstStart time.Time
	if err := pg.QueryRow(ctx, `SELECT min(started_at) FROM distribution_status WHERE event_id = ANY($1)`, ids3).Scan(&firstStart); err != nil {
		t.Fatal(err)
	}

	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	record(t, "SC1", "a schedule starts once at startAt (DB clock): two replicas, one killed -9, or a restart",
		fmt.Sprintf("8 due together on 2 replicas: 8 starts (%d + %d claimed per replica), startAt→started_at p50 %s, max %s, startAt→first channel attempt p50 %s, max %s; "+
			"4 due as a replica is killed -9: 4 starts, started_at max %s, first attempt max %s; "+
			"3 due while no process ran: 0 starts until a restart, then 3, %s after the new process was launched (boot and migrations included)",
			byA, byB, ms(d1[len(d1)/2]), ms(d1[len(d1)-1]), ms(r1[len(r1)/2]), ms(r1[len(r1)-1]),
			ms(d2[len(d2)-1]), ms(r2[len(r2)-1]), ms(firstStart.Sub(launched))))
}

var scheduledStartsRe = regexp.MustCompile(`(?m)^distribution_scheduled_starts_total\{outcome="started"\} (\d+)`)

// scheduledStarts scrapes how many due schedules this process started.
func (a *app) scheduledStarts() int {
	a.t.Helper()
	code, body, err := a.get("/metrics")
	if err != nil || code != 200 {
		a.t.Fatalf("metrics: %d %v", code, err)
	}
	m := scheduledStartsRe.FindSubmatch(body)
	if m == nil {
		return 0 // no scheduled start yet: the series is not exported
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}
