package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/engine"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// RELIABILITY W5 at engine level: a worker process died while running INSTAGRAM of ev2 (its
// liveness session closed, its River job left running). A live engine re-runs that job within a
// few liveness intervals, not after RESCUE_AFTER (an hour here), with the killed attempt's
// idempotency key; meanwhile another live engine's running job (NAVER of ev1) is never touched.
func TestLivenessRescuesDeadWorkersJobs(t *testing.T) {
	t.Parallel()
	store := dbtest.New(t)
	ctx := context.Background()

	// Engine A is alive and busy: NAVER of ev1 blocks until released.
	entered, release := make(chan struct{}, 1), make(chan struct{})
	busy := newFake(func(ctx context.Context, ch model.Channel, _ int) (channels.Result, error) {
		entered <- struct{}{}
		select {
		case <-release:
			return resultFor(ch), nil
		case <-ctx.Done():
			return channels.Result{}, &channels.Error{Kind: channels.Temporary, Message: "cancelled"}
		}
	})
	long := engine.Config{JobTimeout: time.Hour, RescueAfter: time.Hour, LivenessInterval: 50 * time.Millisecond}
	cfgA := long
	cfgA.Workers = 1
	a := newHarness(t, cfgA, busy, store)
	a.start("ev1", model.ChannelNaver)
	select {
	case <-entered:
	case <-time.After(20 * time.Second):
		t.Fatal("engine A never ran NAVER")
	}

	// A dead process's job: ev2 INSTAGRAM claimed and running under a worker whose session ended.
	if _, err := store.Pool.Exec(ctx, `INSERT INTO events (id, title) VALUES ('ev2', 'Event ev2')`); err != nil {
		t.Fatal(err)
	}
	d2, err := store.StartDistribution(ctx, "ev2", []model.Channel{model.ChannelInstagram}, "m@x",
		func(context.Context, pgx.Tx, []model.ChannelState, string) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	deadJobOf(t, store, d2.Channels[0], "dead-process")

	fast := newFake(nil)
	cfgB := long
	cfgB.Workers = 2
	b := newHarness(t, cfgB, fast, store)
	b.waitOverall("ev2", "COMPLETED")
	if got := b.attempts("ev2", model.ChannelInstagram); fmt.Sprint(got) != "[system/lost/- system/success/-]" {
		t.Fatalf("ev2 INSTAGRAM attempts = %v, want the killed attempt lost, then a success", got)
	}
	if keys := fast.keysOf(model.ChannelInstagram); len(keys) != 1 || keys[0] != fmt.Sprintf("%d:INSTAGRAM:r0", d2.ID) {
		t.Fatalf("INSTAGRAM keys = %v, want the killed attempt's key once", keys)
	}
	if n := b.counter("distribution_channel_rescues_total", map[string]string{"action": db.RescueResumed}) +
		a.counter("distribution_channel_rescues_total", map[string]string{"action": db.RescueResumed}); n != 1 {
		t.Fatalf("resumed rescues = %v, want 1", n)
	}

	// Engine A's job was running all along and was not taken from it.
	var state, worker string
	if err := store.Pool.QueryRow(ctx, `SELECT state::text, attempted_by[cardinality(attempted_by)] FROM river_job
		WHERE args->>'event_id' = 'ev1'`).Scan(&state, &worker); err != nil {
		t.Fatal(err)
	}
	if state != "running" || worker != a.eng.WorkerID() || worker == "" {
		t.Fatalf("ev1 job = %s by %q, want running by engine A (%q)", state, worker, a.eng.WorkerID())
	}
	if got := a.attempts("ev1", model.ChannelNaver); fmt.Sprint(got) != "[system/running/-]" {
		t.Fatalf("ev1 NAVER attempts = %v, want its one attempt still running", got)
	}
	close(release)
	a.waitOverall("ev1", "COMPLETED")
	if n := busy.count(model.ChannelNaver) + fast.count(model.ChannelNaver); n != 1 {
		t.Fatalf("NAVER calls = %d, want 1", n)
	}
}

// A worker process's id is its River client id, fresh per engine (a restarted process never
// reuses the id of the one that died), and registered while the engine runs.
func TestWorkerIDIsFreshAndRegistered(t *testing.T) {
	t.Parallel()
	store := dbtest.New(t)
	a := newHarness(t, engine.Config{Workers: 1}, nil, store)
	b := newHarness(t, engine.Config{Workers: 1}, nil, store)
	web := newHarness(t, engine.Config{}, nil, store)
	if a.eng.WorkerID() == "" || a.eng.WorkerID() == b.eng.WorkerID() || a.eng.River().ID() != a.eng.WorkerID() {
		t.Fatalf("worker ids %q and %q (River %q), want distinct, = River's client id", a.eng.WorkerID(), b.eng.WorkerID(), a.eng.River().ID())
	}
	if web.eng.WorkerID() != "" {
		t.Fatalf("insert-only engine has worker id %q", web.eng.WorkerID())
	}
	if n := a.count(`SELECT count(*) FROM worker_processes WHERE id IN ($1, $2) AND lost_at IS NULL`, a.eng.WorkerID(), b.eng.WorkerID()); n != 2 {
		t.Fatalf("registered live workers = %d, want 2", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.eng.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// A graceful stop with nothing running forgets the worker.
	testkit.Eventually(t, 5*time.Second, "worker row gone after stop", func() bool {
		return a.count(`SELECT count(*) FROM worker_processes WHERE id = $1`, a.eng.WorkerID()) == 0
	})
	// Started again, it registers again (the harness stops it at cleanup).
	if err := a.eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if n := a.count(`SELECT count(*) FROM worker_processes WHERE id = $1 AND lost_at IS NULL`, a.eng.WorkerID()); n != 1 {
		t.Fatalf("registered after a second start = %d, want 1", n)
	}
}

// deadJobOf claims channel c and leaves its River job running under worker, a process whose
// liveness session held its lock and then ended (as when the process is killed).
func deadJobOf(t testing.TB, store *db.DB, c model.ChannelState, worker string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, store.Session.Config().ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1::int, k) FROM (SELECT nextval('worker_lock_key_seq')::int AS k) s`,
		db.WorkerLockNamespace); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO worker_processes (id, lock_key)
		SELECT $1, objid::int FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory' AND objsubid = 2`, worker); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Pool.Exec(ctx, `INSERT INTO river_job
			(args, kind, max_attempts, queue, state, scheduled_at, attempt, attempted_at, attempted_by)
		VALUES (jsonb_build_object('distribution_status_id', $1::bigint, 'event_id', $2::text, 'channel', $3::text,
			'generation', $4::int, 'trigger', 'system'), $5, 3, $6, 'running', now(), 1, now(), ARRAY[$7::text])`,
		c.DistributionStatusID, c.EventID, string(c.Channel), c.Generation, db.PublishJobKind, engine.QueueChannels, worker); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := store.ClaimChannel(ctx, c.DistributionStatusID, c.Channel, c.Generation, "system"); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
