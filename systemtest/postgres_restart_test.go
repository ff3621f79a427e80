package systemtest

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/dbtest"
	"github.com/marketing-platform/distribution/model"
)

// probeLog records the answers of a web endpoint polled during a fault.
type probeLog struct {
	mu    sync.Mutex
	codes map[string]map[int]int // path -> status -> count (0 = transport error)
	// late5xx counts 5xx answers of reads that should never fail, after the fault ended.
	late5xx []string
}

// TestPostgresRestartMidDistribution is RELIABILITY P1 with a private PostgreSQL server:
// `pg_ctl restart -m fast` while six channels are publishing (the simulator is its own process,
// 10 s per publication), then PostgreSQL down for 3 s while the publications finish (their results cannot be
// recorded until it is back). In-flight transactions roll back, the pool reconnects, and every channel
// ends SUCCESS (or FAILED: never stuck) with exactly one post each. The web process is polled all
// along: distribution reads are served (from Redis while Postgres is away) and nothing answers
// 5xx once Postgres is back; /readyz reports the outage and recovers.
func TestPostgresRestartMidDistribution(t *testing.T) {
	t.Parallel()
	deadline := time.Now().Add(100 * time.Second)
	pg := startPostgres(t)
	sim := startSimulator(t, "simulator", map[string]string{"SIMULATOR_STEP": "2s"})
	sims := allTo(sim)
	env := map[string]string{
		"DATABASE_URL":     pg.URL("distribution"),
		"REDIS_URL":        dbtest.StartRedis(t).URL,
		"CHANNELS_CONFIG":  channelsConfig(t, sims),
		"JOB_TIMEOUT":      "30s",
		"RESCUE_AFTER":     "40s",
		"RETRY_BASE_DELAY": "200ms",
	}
	srv := startServe(t, "serve", env)
	store := openStore(t, env["DATABASE_URL"])
	drv := newDriver(t, srv, store, model.RoleMarketer)

	const id = "sys-p1-pg-restart"
	drv.createEvent(id, "Postgres restarts mid-distribution")
	drv.start(id, model.AllChannels)
	d := waitDistribution(t, store, id, time.Now().Add(20*time.Second), "every channel mid-publication", inFlight, srv.proc)

	// Poll the web process during the fault: readiness and (with the API) the distribution read.
	probes := &probeLog{codes: map[string]map[int]int{}}
	var pgBack time.Time
	var backMu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	paths := []string{"/readyz", "/healthz"}
	if drv.useAPI {
		paths = append(paths, "/api/v1/events/"+id+"/distribution")
	}
	for _, path := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond): // a client polling every 100 ms
				}
				code, body, err := httpGet(srv.base+path, drv.token)
				if err != nil {
					code = 0
				}
				probes.mu.Lock()
				if probes.codes[path] == nil {
					probes.codes[path] = map[int]int{}
				}
				probes.codes[path][code]++
				backMu.Lock()
				late := !pgBack.IsZero() && time.Since(pgBack) > 2*time.Second
				backMu.Unlock()
				if late && (code >= 500 || code == 0) {
					probes.late5xx = append(probes.late5xx, fmt.Sprintf("%s %d %s %v", path, code, body, err))
				}
				probes.mu.Unlock()
			}
		}()
	}

	t.Logf("restarting PostgreSQL with %s", summary(d))
	took := pg.restart()
	t.Logf("pg_ctl restart -m fast took %s", took.Round(time.Millisecond))

	// A longer outage: down for 3 s from 80 %, so the publications finish while Postgres is away
	// and the workers cannot record the results.
	d = waitDistribution(t, store, id, time.Now().Add(20*time.Second), "every channel at 80 %", func(d model.Distribution) bool {
		return allChannels(d, func(c model.ChannelState) bool { return c.Progress >= 80 })
	}, srv.proc)
	t.Logf("stopping PostgreSQL for 3 s with %s", summary(d))
	pg.stop()
	time.Sleep(3 * time.Second) // the outage itself, not a synchronisation
	pg.start()
	backMu.Lock()
	pgBack = time.Now()
	backMu.Unlock()

	d = waitDistribution(t, store, id, deadline, "every channel terminal after the restart", terminal, srv.proc)
	recovered := time.Since(pgBack)
	// Keep probing a little after the end, so "no 5xx once Postgres is back" covers a quiet period too.
	waitFor(t, time.Now().Add(10*time.Second), "readiness after the restart", func() (bool, string) {
		code, body, err := httpGet(srv.base+"/readyz", "")
		return err == nil && code == http.StatusOK && time.Since(pgBack) > 3*time.Second, fmt.Sprintf("%d %s %v", code, body, err)
	}, srv.proc)
	close(stop)
	wg.Wait()
	t.Logf("every channel terminal %s after Postgres was back: %s", recovered.Round(time.Millisecond), summary(d))
	t.Logf("answers while polling every 100 ms (status: count; 0 = no answer): %v", probes.codes)

	for _, c := range d.Channels {
		if c.Status != model.StatusSuccess {
			t.Errorf("%s ended %s (error %v); the channel itself never failed, so SUCCESS was expected", c.Channel, c.Status, deref(c.ErrorMessage))
		}
	}
	if d.OverallStatus != model.OverallCompleted {
		t.Errorf("overall = %s, want COMPLETED", d.OverallStatus)
	}
	checkResults(t, d)
	checkOnePostEach(t, sims, d)
	as := attempts(t, store, id)
	checkAttemptInvariants(t, as)
	t.Logf("attempts:%s", describeAttempts(as))
	t.Logf("serve log: %d lines name a failed progress write, %d a terminated connection (57P01), %d a failed reconcile",
		srv.logCount("progress write failed"), srv.logCount("57P01"), srv.logCount("reconcile pass failed"))
	for _, l := range probes.late5xx {
		t.Errorf("5xx or no answer more than 2 s after Postgres was back: %s", l)
	}
	if n := probes.codes["/healthz"][http.StatusOK]; n == 0 || len(probes.codes["/healthz"]) != 1 {
		t.Errorf("/healthz must answer 200 throughout (it checks nothing): %v", probes.codes["/healthz"])
	}
	if drv.useAPI {
		api := probes.codes["/api/v1/events/"+id+"/distribution"]
		if bad := api[0] + api[500] + api[502] + api[503] + api[504]; bad > 0 {
			t.Errorf("distribution reads failed %d times during the restart (Redis holds the state; want 0): %v", bad, api)
		}
	}
}
