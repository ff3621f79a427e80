package system

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/internal/testkit/proctest"
)

// TestScaleOut shows web and workers scaling out as one binary (DESIGN.md "Scale-out"), with three
// serve processes on one Postgres and one Redis: web
// (ROLE=web, runs no jobs; the client talks to it), worker (ROLE=worker) and all (ROLE=all),
// each worker process running at most 3 jobs at once. Ten distributions of six channels started
// through the web process all complete; the jobs were shared by both worker processes; every
// (event, channel) was submitted and posted exactly once and its attempts never overlapped (one
// job per channel at a time); and the state written by the workers is what the other web process
// serves (its API, and the Redis keys every web process reads and is notified about).
func TestScaleOut(t *testing.T) {
	t.Parallel()
	deadline := time.Now().Add(90 * time.Second)
	sim := startSimulator(t, "simulator", map[string]string{"SIMULATOR_STEP": "200ms"}) // 1 s per publication
	sims := allTo(sim)
	env := newEnv(t, map[string]string{
		"CHANNELS_CONFIG":  channelsConfig(t, sims),
		"WORKERS":          "3",
		"RETRY_BASE_DELAY": "200ms",
	})
	withRole := func(role string) map[string]string {
		e := map[string]string{"ROLE": role}
		for k, v := range env {
			if _, ok := e[k]; !ok {
				e[k] = v
			}
		}
		return e
	}
	web := startServe(t, "serve-web", withRole("web"))
	worker := startServe(t, "serve-worker", withRole("worker"))
	all := startServe(t, "serve-all", withRole("all"))
	procs := []*proctest.Proc{web.Proc, worker.Proc, all.Proc}
	store := openStore(t, env["DATABASE_URL"])
	drv := newDriver(t, web, model.RoleMarketer)

	ids := make([]string, 10)
	for i := range ids {
		ids[i] = fmt.Sprintf("sys-scale-%02d", i)
		drv.createEvent(ids[i], fmt.Sprintf("scale-out %d", i))
	}
	started := time.Now()
	for _, id := range ids {
		drv.start(id, model.AllChannels)
	}
	proctest.WaitFor(t, deadline, "10 distributions terminal", func() (bool, string) {
		ctx, cancel := qctx()
		defer cancel()
		var done int
		err := store.Pool.QueryRow(ctx, `SELECT count(*) FROM distribution_status
			WHERE event_id = ANY($1) AND overall_status <> 'IN_PROGRESS'`, ids).Scan(&done)
		if err != nil {
			return false, err.Error()
		}
		return done == len(ids), fmt.Sprintf("%d of %d terminal", done, len(ids))
	}, procs...)
	t.Logf("60 channels on 2 worker processes (3 jobs each at most) done in %s", time.Since(started).Round(time.Millisecond))

	stats := sim.stats(t)
	for _, id := range ids {
		d, err := distribution(store, id)
		if err != nil {
			t.Fatal(err)
		}
		if d.OverallStatus != model.OverallCompleted {
			t.Errorf("%s: %s", id, summary(d))
		}
		checkResults(t, d)
		for _, ch := range model.AllChannels {
			if n := stats.Posts[id][ch]; n != 1 {
				t.Errorf("%s %s: %d posts, want 1", id, ch, n)
			}
		}
		as := attempts(t, store, id)
		checkAttemptInvariants(t, as)
		for _, ch := range model.AllChannels {
			if list := attemptsOf(as, ch); len(list) != 1 {
				t.Errorf("%s %s ran %d times in a fault-free run, want once:%s", id, ch, len(list), describeAttempts(list))
			}
		}
	}
	for _, ch := range model.AllChannels {
		if st := stats.Channels[ch]; st.Submits != len(ids) || st.Posts != len(ids) {
			t.Errorf("simulator %s: %d submits, %d posts; want %d each", ch, st.Submits, st.Posts, len(ids))
		}
	}

	// Who ran the jobs: River records the client of every attempt.
	ranBy := jobsByClient(t, store)
	t.Logf("publish jobs per River client: %v", ranBy)
	if len(ranBy) != 2 {
		t.Errorf("jobs ran on %d clients, want both worker processes (and never the web-only one): %v", len(ranBy), ranBy)
	}

	// Every web process serves what the workers wrote: Redis comes to hold COMPLETED for every
	// event (it is written just after the Postgres commit, and a late write of an older state never
	// replaces a newer one), and the ROLE=all process's API says so too.
	rdb := redisClient(t, env["REDIS_URL"])
	for _, id := range ids {
		testkit.EventuallyErr(t, 5*time.Second, "Redis event:"+id+":distribution COMPLETED", func() error {
			ctx, cancel := qctx()
			defer cancel()
			got, err := rdb.HGet(ctx, "event:"+id+":distribution", "overall_status").Result()
			if err == nil && got != string(model.OverallCompleted) {
				err = fmt.Errorf("overall_status = %q", got)
			}
			return err
		})
		for _, base := range []string{web.base, all.base} {
			code, d := drv.getDistribution(base, id)
			if code != http.StatusOK || d.OverallStatus != string(model.OverallCompleted) {
				t.Errorf("GET %s/api/v1/events/%s/distribution = %d %+v, want 200 COMPLETED", base, id, code, d)
			}
		}
	}
	for _, s := range []*server{web, all} {
		code, body, err := httpGet(s.base+"/readyz", "")
		if err != nil || code != http.StatusOK || !strings.Contains(string(body), `"notifications":"ok"`) {
			t.Errorf("%s /readyz = %d %s %v, want 200 with notifications ok", s.Name, code, body, err)
		}
	}
}

// jobsByClient counts finished publish jobs by the River client that ran their last attempt.
func jobsByClient(t testing.TB, store *db.DB) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := store.Pool.Query(ctx, `SELECT attempted_by[array_upper(attempted_by, 1)], count(*)
		FROM river_job WHERE kind = $1 GROUP BY 1`, db.PublishJobKind)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var who *string
		var n int
		if err := rows.Scan(&who, &n); err != nil {
			t.Fatal(err)
		}
		key := "<never ran>"
		if who != nil {
			key = *who
		}
		out[key] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func redisClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}
