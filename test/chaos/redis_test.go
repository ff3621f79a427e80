package chaos

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/testkit/proctest"
)

// distView is the part of GET /api/v1/events/{id}/distribution the tests read.
type distView struct {
	OverallStatus string `json:"overallStatus"`
	Channels      []struct {
		Channel       string  `json:"channel"`
		Status        string  `json:"status"`
		WaitingReason *string `json:"waitingReason"`
	} `json:"channels"`
}

func (a *app) distribution(id string) (distView, int) {
	code, body, err := a.do(http.MethodGet, "/api/v1/events/"+id+"/distribution", a.token, "")
	var d distView
	if err == nil && code == 200 {
		json.Unmarshal(body, &d) //nolint:errcheck
	}
	return d, code
}

// waitOverall polls the API until the distribution's overall status is want.
func (a *app) waitOverall(id, want string, d time.Duration) time.Duration {
	a.t.Helper()
	return proctest.WaitFor(a.t, time.Now().Add(d), id+" "+want, func() (bool, string) {
		v, code := a.distribution(id)
		return v.OverallStatus == want, fmt.Sprintf("%d %+v", code, v)
	})
}

// readyz returns /readyz's status and body.
func (a *app) readyz() (int, string) {
	code, body, err := a.get("/readyz")
	if err != nil {
		return 0, err.Error()
	}
	return code, string(body)
}

// pagesAndAPI are the reads a viewer and an API client make.
func pagesAndAPI(id string) []string {
	return []string{"/", "/events/" + id, "/api/v1/events", "/api/v1/events/" + id + "/distribution"}
}

// R1: Redis stopped. Pages and API are served from Postgres with bounded latency, start and retry
// still work through the API (the workers write Postgres and skip the cache), the live indicator
// says "reconnecting", /readyz stays 200 and reports Redis degraded (the replica keeps serving from
// Postgres, so it stays in the load balancer); Redis back: /readyz ok without restarting the app.
func TestChaosR1RedisStopped(t *testing.T) {
	t.Parallel()
	env, rds := newEnv(t, map[string]string{"SIMULATOR_FAIL": "KAKAO=1", "MAX_ATTEMPTS": "1"})
	a := startApp(t, env)
	a.createEvent("r1-before")
	a.must(http.MethodPost, "/api/v1/events/r1-before/distribution", `{"channels":["NAVER"]}`, http.StatusAccepted)
	a.waitOverall("r1-before", "COMPLETED", 30*time.Second)

	rds.Stop()
	stopped := time.Now()
	ds, failed := a.latencies(50, pagesAndAPI("r1-before")...)
	if p := p99(ds); p > 300*time.Millisecond || failed > 0 {
		t.Errorf("Redis stopped: p99 %s over %d requests, %d failed; want < 300ms and 0", p, len(ds), failed)
	}
	code, body := a.readyz()
	if code != http.StatusOK || !strings.Contains(body, `"redis":"error`) || !strings.Contains(body, `"status":"degraded"`) {
		t.Errorf("/readyz with Redis stopped = %d %s, want 200 degraded naming redis", code, body)
	}

	// The live indicator of a page opened now says the updates are degraded.
	s := a.openStream("/events/r1-before/stream", a.token)
	s.wait(t, 10*time.Second, `"_live":"reconnecting"`)

	// Start and retry still work: KAKAO fails its only attempt, the retry completes it.
	a.createEvent("r1-during")
	a.must(http.MethodPost, "/api/v1/events/r1-during/distribution", `{"channels":["NAVER","KAKAO"]}`, http.StatusAccepted)
	a.waitOverall("r1-during", "PARTIAL_SUCCESS", 30*time.Second)
	a.must(http.MethodPost, "/api/v1/events/r1-during/distribution/channels/KAKAO/retry", "", http.StatusAccepted)
	a.waitOverall("r1-during", "COMPLETED", 30*time.Second)
	outage := time.Since(stopped)

	rds.Start()
	restarted := time.Now()
	rec := proctest.WaitFor(t, time.Now().Add(15*time.Second), "/readyz ok after Redis is back", func() (bool, string) {
		code, body := a.readyz()
		return code == http.StatusOK && strings.Contains(body, `"status":"ok"`), fmt.Sprintf("%d %s", code, body)
	})
	s.wait(t, 15*time.Second, `"_live":"connected"`)
	t.Logf("outage %s; ready %s after Redis restarted (%s)", outage.Round(time.Millisecond), rec.Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))
	record(t, "R1", "Redis stopped: pages/API from Postgres, start/retry work, recovers alone",
		fmt.Sprintf("p99 %s over 50 GETs, %d failed; start+retry ok; /readyz ok %s after restart", p99(ds).Round(time.Millisecond), failed, rec.Round(time.Millisecond)))
}

// R2: Redis hung (SIGSTOP): every read is bounded by the client's short timeouts and the breaker;
// SIGCONT recovers.
func TestChaosR2RedisHung(t *testing.T) {
	t.Parallel()
	env, rds := newEnv(t, nil)
	a := startApp(t, env)
	a.createEvent("r2")
	a.must(http.MethodPost, "/api/v1/events/r2/distribution", `{"channels":["NAVER","INSTAGRAM"]}`, http.StatusAccepted)
	a.waitOverall("r2", "COMPLETED", 30*time.Second)

	p := rds.Process()
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			p.Signal(syscall.SIGCONT) //nolint:errcheck
		}
	})
	paths := []string{"/api/v1/events", "/api/v1/events/r2", "/api/v1/events/r2/distribution"}
	ds, failed := a.latencies(50, paths...)
	if q := p99(ds); q > 300*time.Millisecond || failed > 0 {
		t.Errorf("Redis hung: p99 %s over %d API GETs, %d failed; want < 300ms and 0", q, len(ds), failed)
	}
	pagesDs, pagesFailed := a.latencies(10, "/", "/events/r2")
	if pagesFailed > 0 {
		t.Errorf("Redis hung: %d page GETs failed", pagesFailed)
	}

	if err := p.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed = true
	rec := proctest.WaitFor(t, time.Now().Add(15*time.Second), "/readyz ok after SIGCONT", func() (bool, string) {
		code, body := a.readyz()
		return code == http.StatusOK && strings.Contains(body, `"status":"ok"`), fmt.Sprintf("%d %s", code, body)
	})
	after, failedAfter := a.latencies(20, paths...)
	if failedAfter > 0 {
		t.Errorf("%d GETs failed after SIGCONT", failedAfter)
	}
	record(t, "R2", "Redis hung (SIGSTOP): requests bounded, no pile-up",
		fmt.Sprintf("API p99 %s over 50 GETs (pages max %s), %d failed; /readyz ok %s after SIGCONT, p99 then %s",
			p99(ds).Round(time.Millisecond), p99(pagesDs).Round(time.Millisecond), failed, rec.Round(time.Millisecond), p99(after).Round(time.Millisecond)))
}

// R3: Redis restarted while a detail page's stream is open: the notification config is lost and a
// change made during the outage is never notified. The app re-applies the config (/readyz says
// notifications ok) and the open stream resyncs from Postgres and shows the change.
func TestChaosR3RedisRestartResyncsStream(t *testing.T) {
	t.Parallel()
	env, rds := newEnv(t, map[string]string{"ROLE": "web"}) // no workers: the state only changes when the test says
	a := startApp(t, env)
	a.createEvent("r3")
	s := a.openStream("/events/r3/stream", a.token)
	s.wait(t, 10*time.Second, `data-action="start-distribution"`)
	s.wait(t, 10*time.Second, `"_live":"connected"`)

	rds.Stop()
	// Started during the outage: Postgres has it, Redis never hears of it.
	a.must(http.MethodPost, "/api/v1/events/r3/distribution", `{"channels":["NAVER","KAKAO"]}`, http.StatusAccepted)
	rds.Start()
	back := time.Now()
	conv := s.wait(t, 20*time.Second, `id="dist-r3"`)
	conv = max(conv, time.Since(back))
	rec := proctest.WaitFor(t, time.Now().Add(15*time.Second), "notifications ok after restart", func() (bool, string) {
		code, body := a.readyz()
		return code == http.StatusOK && strings.Contains(body, `"status":"ok"`), fmt.Sprintf("%d %s", code, body)
	})

	// And live updates flow again after the restart: a second change arrives by notification.
	a.must(http.MethodPost, "/api/v1/events/r3/distribution", `{"channels":["NAVER"]}`, http.StatusConflict)
	record(t, "R3", "Redis restarted: config re-applied, open streams resync from Postgres",
		fmt.Sprintf("stream showed the change %s after Redis restarted; notifications ok in %s", conv.Round(time.Millisecond), rec.Round(time.Millisecond)))
}
