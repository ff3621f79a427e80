package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// deadWorker registers a worker the way a process does (its liveness lock held by a session of
// its own, then its row) and then closes that session, as PostgreSQL does when the process dies.
func deadWorker(t testing.TB, d *db.DB, id string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, d.Session.Config().ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	var key int32
	if err := conn.QueryRow(ctx, `SELECT nextval('worker_lock_key_seq')::int`).Scan(&key); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1::int, $2::int)`, db.WorkerLockNamespace, key); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO worker_processes (id, lock_key) VALUES ($1, $2)`, id, key); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// runningJob inserts the River job of channel c as River's fetch leaves it: running, attempt 1,
// attempted by worker.
func runningJob(t testing.TB, d *db.DB, c model.ChannelState, worker string) int64 {
	t.Helper()
	var id int64
	if err := d.Pool.QueryRow(context.Background(), `INSERT INTO river_job
			(args, kind, max_attempts, queue, state, scheduled_at, attempt, attempted_at, attempted_by)
		VALUES (jsonb_build_object('distribution_status_id', $1::bigint, 'channel', $2::text, 'generation', $3::int,
			'event_id', $4::text), $5, 3, 'channels', 'running', now(), 1, now(), ARRAY[$6::text])
		RETURNING id`, c.DistributionStatusID, string(c.Channel), c.Generation, c.EventID, db.PublishJobKind, worker).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

type jobRow struct {
	State   string
	Attempt int
	Errors  int
}

func readJob(t testing.TB, d *db.DB, id int64) jobRow {
	t.Helper()
	var j jobRow
	if err := d.Pool.QueryRow(context.Background(), `SELECT state::text, attempt, COALESCE(cardinality(errors), 0)
		FROM river_job WHERE id = $1`, id).Scan(&j.State, &j.Attempt, &j.Errors); err != nil {
		t.Fatal(err)
	}
	return j
}

// waitDeadJobs polls FindDeadWorkerJobs (grace 0) until it returns want jobs: a closed session's
// lock goes a moment after the client closed it.
func waitDeadJobs(t testing.TB, d *db.DB, want int) []db.DeadWorkerJob {
	t.Helper()
	var jobs []db.DeadWorkerJob
	testkit.Eventually(t, 10*time.Second, "dead worker jobs", func() bool {
		var err error
		jobs, err = d.FindDeadWorkerJobs(context.Background(), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(jobs) == want
	})
	return jobs
}

// A running job of a worker whose liveness lock is gone is re-run at once, at the same generation
// (same idempotency key), its attempt recorded lost; a live worker's running job is not touched;
// a second rescuer changes nothing; a channel lost MaxLost times fails "worker lost".
func TestRescueDeadWorkerJob(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	dist := engStart(t, d, "ev-live", model.ChannelInstagram, model.ChannelNaver)
	insta, naver := dist.Channels[0], dist.Channels[1]

	live, err := d.RegisterWorker(ctx, "live-worker", "host-a", 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = live.Release(context.Background()) })
	deadWorker(t, d, "dead-worker")

	deadJob := runningJob(t, d, insta, "dead-worker")
	liveJob := runningJob(t, d, naver, "live-worker")
	for _, c := range []model.ChannelState{insta, naver} {
		if _, ok, err := d.ClaimChannel(ctx, dist.ID, c.Channel, 1, "system"); err != nil || !ok {
			t.Fatalf("claim %s: %v %v", c.Channel, ok, err)
		}
		if _, _, err := d.UpdateChannelProgress(ctx, c.ID, 1, 40); err != nil {
			t.Fatal(err)
		}
	}

	jobs := waitDeadJobs(t, d, 1)
	if jobs[0].JobID != deadJob || jobs[0].WorkerID != "dead-worker" {
		t.Fatalf("dead jobs = %+v, want only job %d of dead-worker", jobs, deadJob)
	}
	// Within the grace the dead worker's jobs wait (a live process may take its lock back).
	if jobs, err := d.FindDeadWorkerJobs(ctx, time.Hour, 100); err != nil || len(jobs) != 0 {
		t.Fatalf("within the grace: %+v %v", jobs, err)
	}

	res, err := d.RescueWorkerJob(ctx, deadJob, "dead-worker", 2)
	if err != nil || res.Action != db.RescueResumed {
		t.Fatalf("rescue: %+v %v", res, err)
	}
	c := res.Channel
	if c.Status != model.StatusPending || c.Generation != 1 || c.Retries != insta.Retries || c.Progress != 0 || c.ErrorMessage == nil {
		t.Fatalf("rescued channel = %+v, want PENDING at generation 1, same retries (same idempotency key)", c)
	}
	if res.Distribution.OverallStatus != model.OverallInProgress {
		t.Fatalf("overall = %s", res.Distribution.OverallStatus)
	}
	if j := readJob(t, d, deadJob); j.State != "available" || j.Attempt != 0 || j.Errors != 1 {
		t.Fatalf("rescued job = %+v, want available now with its attempt given back and the death in errors", j)
	}
	if n := engCount(t, d, `SELECT count(*) FROM river_job WHERE id = $1 AND scheduled_at <= now()`, deadJob); n != 1 {
		t.Fatal("rescued job is not runnable now")
	}
	if n := engCount(t, d, `SELECT count(*) FROM channel_attempts WHERE channel_status_id = $1 AND outcome = 'lost'`, insta.ID); n != 1 {
		t.Fatalf("lost attempts = %d, want 1", n)
	}
	if n := engCount(t, d, `SELECT count(*) FROM audit_log WHERE action = $1 AND channel = 'INSTAGRAM'`, model.AuditRescue); n != 1 {
		t.Fatalf("rescue audit rows = %d", n)
	}

	// The live worker's job and channel are untouched.
	if j := readJob(t, d, liveJob); j.State != "running" || j.Attempt != 1 || j.Errors != 0 {
		t.Fatalf("live worker's job = %+v, want running, untouched", j)
	}
	got, err := d.FindDistribution(ctx, "ev-live")
	if err != nil {
		t.Fatal(err)
	}
	if n := got.Channels[1]; n.Status != model.StatusInProgress || n.Progress != 40 {
		t.Fatalf("live worker's channel = %s/%d, want IN_PROGRESS/40", n.Status, n.Progress)
	}
	if n := engCount(t, d, `SELECT count(*) FROM channel_attempts WHERE channel_status_id = $1 AND outcome = 'running'`, naver.ID); n != 1 {
		t.Fatalf("live worker's running attempts = %d, want 1", n)
	}

	// A second rescuer (another replica) finds nothing left to do.
	if res, err := d.RescueWorkerJob(ctx, deadJob, "dead-worker", 2); err != nil || res.Action != db.RescueNone {
		t.Fatalf("second rescue: %+v %v", res, err)
	}
	if jobs, err := d.FindDeadWorkerJobs(ctx, 0, 100); err != nil || len(jobs) != 0 {
		t.Fatalf("after the rescue: %+v %v", jobs, err)
	}

	// The re-run is fetched by a process that dies too: lost twice, FAILED "worker lost".
	if _, err := d.Pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = attempt + 1, attempted_at = now(),
		attempted_by = array_append(attempted_by, 'dead-worker-2') WHERE id = $1`, deadJob); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := d.ClaimChannel(ctx, dist.ID, insta.Channel, 1, "system"); err != nil || !ok {
		t.Fatalf("claim again: %v %v", ok, err)
	}
	deadWorker(t, d, "dead-worker-2")
	waitDeadJobs(t, d, 1)
	res, err = d.RescueWorkerJob(ctx, deadJob, "dead-worker-2", 2)
	if err != nil || res.Action != db.RescueFailed {
		t.Fatalf("second death: %+v %v", res, err)
	}
	if res.Channel.Status != model.StatusFailed || res.Channel.ErrorMessage == nil || res.Channel.CompletedAt == nil {
		t.Fatalf("failed channel = %+v", res.Channel)
	}
	if j := readJob(t, d, deadJob); j.State != "cancelled" {
		t.Fatalf("job of a channel lost twice = %+v, want cancelled", j)
	}
}

// A live worker whose connection dropped is seen lost, takes its lock back (Keep), and its
// running job is never rescued.
func TestWorkerLeaseReconnects(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	dist := engStart(t, d, "ev-lease", model.ChannelKakao)
	lease, err := d.RegisterWorker(ctx, "flaky-worker", "host-b", 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lease.Release(context.Background()) })
	job := runningJob(t, d, dist.Channels[0], "flaky-worker")

	if reconnected, err := lease.Keep(ctx); err != nil || reconnected {
		t.Fatalf("Keep on a healthy lease: %v %v", reconnected, err)
	}
	// The server ends the lease's session (a dropped connection): the one in this test's database.
	// Every test database numbers its lock keys from 1, so without the database the kill would also
	// end the leases of tests running beside this one (it did: "terminating connection due to
	// administrator command" in TestRescueDeadWorkerJobRaceAndFinished).
	if _, err := d.Pool.Exec(ctx, `SELECT pg_terminate_backend(pid, 5000) FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 2 AND classid::bigint = $1 AND objid::bigint = $2
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		db.WorkerLockNamespace, lease.LockKey()); err != nil {
		t.Fatal(err)
	}
	lost := func() int {
		return engCount(t, d, `SELECT count(*) FROM worker_processes WHERE id = 'flaky-worker' AND lost_at IS NOT NULL`)
	}
	testkit.Eventually(t, 10*time.Second, "the worker seen lost", func() bool {
		if _, err := d.FindDeadWorkerJobs(ctx, time.Hour, 100); err != nil {
			t.Fatal(err)
		}
		return lost() == 1
	})

	reconnected, err := lease.Keep(ctx)
	if err != nil || !reconnected {
		t.Fatalf("Keep after the drop: %v %v, want reconnected", reconnected, err)
	}
	if lost() != 0 {
		t.Fatal("lost_at not cleared after the lease was taken back")
	}
	if jobs, err := d.FindDeadWorkerJobs(ctx, 0, 100); err != nil || len(jobs) != 0 {
		t.Fatalf("jobs of a worker that took its lease back: %+v %v", jobs, err)
	}
	if j := readJob(t, d, job); j.State != "running" {
		t.Fatalf("job = %+v, want still running", j)
	}

	// A graceful release with a job still running keeps the row (the job gets rescued); without
	// one it is deleted.
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if n := engCount(t, d, `SELECT count(*) FROM worker_processes WHERE id = 'flaky-worker'`); n != 1 {
		t.Fatalf("rows after release with a running job = %d, want 1", n)
	}
	waitDeadJobs(t, d, 1)
}

// Two replicas rescue the same dead worker's jobs at once: each job is taken back exactly once.
// A job whose channel had already been finished when its worker died (killed between the status
// commit and River's completion) is only re-queued, to end as stale: the channel is not touched.
func TestRescueDeadWorkerJobRaceAndFinished(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	dist := engStart(t, d, "ev-race", model.ChannelGiniTV, model.ChannelKakao)
	gini, kakao := dist.Channels[0], dist.Channels[1]
	deadWorker(t, d, "dead-racer")
	giniJob := runningJob(t, d, gini, "dead-racer")
	kakaoJob := runningJob(t, d, kakao, "dead-racer")
	for _, c := range []model.ChannelState{gini, kakao} {
		if _, ok, err := d.ClaimChannel(ctx, dist.ID, c.Channel, 1, "system"); err != nil || !ok {
			t.Fatalf("claim %s: %v %v", c.Channel, ok, err)
		}
	}
	if _, err := d.FinishChannel(ctx, engFinish(kakao, model.StatusSuccess, 0)); err != nil {
		t.Fatal(err)
	}
	waitDeadJobs(t, d, 2)

	const replicas = 8
	type outcome struct {
		action string
		err    error
	}
	results := make(chan outcome, replicas)
	start := make(chan struct{})
	for range replicas {
		go func() {
			<-start
			res, err := d.RescueWorkerJob(ctx, giniJob, "dead-racer", 2)
			results <- outcome{res.Action, err}
		}()
	}
	close(start)
	resumed := 0
	for range replicas {
		o := <-results
		if o.err != nil {
			t.Fatal(o.err)
		}
		switch o.action {
		case db.RescueResumed:
			resumed++
		case db.RescueNone:
		default:
			t.Fatalf("unexpected action %q", o.action)
		}
	}
	if resumed != 1 {
		t.Fatalf("%d replicas resumed the job, want exactly 1", resumed)
	}
	if j := readJob(t, d, giniJob); j.State != "available" || j.Errors != 1 {
		t.Fatalf("GINITV job = %+v, want available with one error entry", j)
	}
	if n := engCount(t, d, `SELECT count(*) FROM channel_attempts WHERE channel_status_id = $1 AND outcome = 'lost'`, gini.ID); n != 1 {
		t.Fatalf("GINITV lost attempts = %d, want 1", n)
	}

	res, err := d.RescueWorkerJob(ctx, kakaoJob, "dead-racer", 2)
	if err != nil || res.Action != db.RescueRequeued {
		t.Fatalf("rescue of a finished channel's job: %+v %v, want requeued", res, err)
	}
	if j := readJob(t, d, kakaoJob); j.State != "available" {
		t.Fatalf("KAKAO job = %+v, want available (it ends as stale)", j)
	}
	got, err := d.FindDistribution(ctx, "ev-race")
	if err != nil {
		t.Fatal(err)
	}
	if k := got.Channels[1]; k.Channel != model.ChannelKakao || k.Status != model.StatusSuccess || k.Progress != 100 {
		t.Fatalf("KAKAO = %s %s/%d, want SUCCESS/100 untouched", k.Channel, k.Status, k.Progress)
	}
	if n := engCount(t, d, `SELECT count(*) FROM channel_attempts WHERE channel_status_id = $1 AND outcome = 'lost'`, kakao.ID); n != 0 {
		t.Fatalf("KAKAO lost attempts = %d, want 0", n)
	}
}
