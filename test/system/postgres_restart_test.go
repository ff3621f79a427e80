package system

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
	"github.com/marketing-platform/distribution/internal/testkit/proctest"
)

// outageGrace is how long after Postgres is back a 5xx is still blamed on the outage (pools
// hand out a dead connection or two; River reconnects its listener).
const outageGrace = 2 * time.Second

// prober polls web endpoints every 100 ms, like a dashboard or a client would, and records every
// answer with its time, so failures can be set against the outage windows afterwards.
type prober struct {
	mu      sync.Mutex
	answers []probeAnswer
	outages [][2]time.Time // [down, back]; back is zero while down
	stop    chan struct{}
	wg      sync.WaitGroup
}

type probeAnswer struct {
	at   time.Time
	path string
	code int // 0 = no answer
	note string
}

func startProber(base, token string, paths ...string) *prober {
	p := &prober{stop: make(chan struct{})}
	for _, path := range paths {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				select {
				case <-p.stop:
					return
				case <-time.After(100 * time.Millisecond): // a client polling every 100 ms
				}
				code, body, err := httpGet(base+path, token)
				note := string(body)
				if err != nil {
					code, note = 0, err.Error()
				}
				p.mu.Lock()
				p.answers = append(p.answers, probeAnswer{at: time.Now(), path: path, code: code, note: note})
				p.mu.Unlock()
			}
		}()
	}
	return p
}

func (p *prober) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.outages = append(p.outages, [2]time.Time{time.Now()})
}

func (p *prober) back() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.outages[len(p.outages)-1][1] = time.Now()
}

func (p *prober) finish() {
	close(p.stop)
	p.wg.Wait()
}

// during reports whether t falls in an outage window (extended by outageGrace).
func (p *prober) during(t time.Time) bool {
	for _, o := range p.outages {
		if !t.Before(o[0]) && (o[1].IsZero() || t.Before(o[1].Add(outageGrace))) {
			return true
		}
	}
	return false
}

// codes counts answers per path and status, split into inside and outside the outages.
func (p *prober) codes() (inside, outside map[string]map[int]int) {
	inside, outside = map[string]map[int]int{}, map[string]map[int]int{}
	for _, a := range p.answers {
		m := outside
		if p.during(a.at) {
			m = inside
		}
		if m[a.path] == nil {
			m[a.path] = map[int]int{}
		}
		m[a.path][a.code]++
	}
	return inside, outside
}

// TestPostgresRestartMidDistribution is RELIABILITY P1 with a private PostgreSQL server:
// `pg_ctl restart -m fast` while six channels are publishing (the simulator is its own process,
// 10 s per publication), then PostgreSQL down for 3 s while the publications finish (their
// results cannot be recorded until it is back). In-flight transactions roll back, the pool
// reconnects, and every channel ends SUCCESS (or FAILED: never stuck) with exactly one post each.
// The web process is polled all along: no 5xx and no hang outside the outages (no 5xx storm
// after recovery), /healthz always 200, /readyz 503 during the outage and 200 after.
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
	drv := newDriver(t, srv, model.RoleMarketer)

	const id = "sys-p1-pg-restart"
	drv.createEvent(id, "Postgres restarts mid-distribution")
	drv.start(id, model.AllChannels)
	d := waitDistribution(t, store, id, time.Now().Add(20*time.Second), "every channel mid-publication", inFlight, srv.Proc)

	probe := startProber(srv.base, drv.token, "/readyz", "/healthz", "/api/v1/events/"+id+"/distribution")

	t.Logf("restarting PostgreSQL with %s", summary(d))
	probe.down()
	took := pg.restart()
	probe.back()
	t.Logf("pg_ctl restart -m fast took %s", took.Round(time.Millisecond))

	d = waitDistribution(t, store, id, time.Now().Add(20*time.Second), "every channel at 80 %", func(d model.Distribution) bool {
		return allChannels(d, func(c model.ChannelState) bool { return c.Progress >= 80 })
	}, srv.Proc)
	t.Logf("stopping PostgreSQL for 3 s with %s", summary(d))
	probe.down()
	pg.stop()
	time.Sleep(3 * time.Second) // the outage itself, not a synchronisation
	pg.start()
	probe.back()
	pgBack := time.Now()

	d = waitDistribution(t, store, id, deadline, "every channel terminal after the outage", terminal, srv.Proc)
	t.Logf("every channel terminal %s after Postgres was back: %s", time.Since(pgBack).Round(time.Millisecond), summary(d))
	// Keep probing a while after the end, so "no 5xx after recovery" covers a quiet period too.
	proctest.WaitFor(t, time.Now().Add(10*time.Second), "readiness after the outage", func() (bool, string) {
		code, body, err := httpGet(srv.base+"/readyz", "")
		return err == nil && code == http.StatusOK && time.Since(pgBack) > 3*time.Second, fmt.Sprintf("%d %s %v", code, body, err)
	}, srv.Proc)
	probe.finish()

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
		srv.LogCount("progress write failed"), srv.LogCount("57P01"), srv.LogCount("reconcile pass failed"))

	inside, outside := probe.codes()
	t.Logf("answers during the outages (+%s) by status (0 = no answer): %v", outageGrace, inside)
	t.Logf("answers outside the outages: %v", outside)
	for _, a := range probe.answers {
		if !probe.during(a.at) && (a.code == 0 || a.code >= 500) {
			t.Errorf("%s answered %d outside the outages (%s after the last one): %.200s", a.path, a.code,
				a.at.Sub(pgBack).Round(time.Millisecond), a.note)
		}
	}
	if hz := inside["/healthz"]; len(hz) != 1 || hz[http.StatusOK] == 0 {
		t.Errorf("/healthz must answer 200 throughout (it checks nothing): %v", hz)
	}
	if rz := inside["/readyz"]; rz[http.StatusServiceUnavailable] == 0 {
		t.Errorf("/readyz never reported the outage: %v", rz)
	}
}
