package chaos

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/testkit/proctest"
)

// breakerState is the state a replica's /metrics reports for ch's circuit breaker.
func (a *app) breakerState(ch string) string {
	code, body, err := a.get("/metrics")
	if err != nil || code != 200 {
		return fmt.Sprintf("metrics: %d %v", code, err)
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		rest, ok := strings.CutPrefix(line, `distribution_channel_breaker_state{channel="`+ch+`",state="`)
		if ok && strings.HasSuffix(line, " 1") {
			state, _, _ := strings.Cut(rest, `"`)
			return state
		}
	}
	return "none"
}

// attempts counts the attempts of one channel of an event.
func (a *app) attempts(id, ch string) int {
	a.t.Helper()
	var v struct {
		Attempts []struct {
			Channel string `json:"channel"`
		} `json:"attempts"`
	}
	if err := json.Unmarshal(a.must(http.MethodGet, "/api/v1/events/"+id+"/distribution/attempts", "", http.StatusOK), &v); err != nil {
		a.t.Fatal(err)
	}
	n := 0
	for _, at := range v.Attempts {
		if at.Channel == ch {
			n++
		}
	}
	return n
}

// channelOf returns one channel of an event's distribution as the API shows it.
func (a *app) channelOf(id, ch string) (status, reason string) {
	d, _ := a.distribution(id)
	for _, c := range d.Channels {
		if c.Channel == ch {
			if c.WaitingReason != nil {
				reason = *c.WaitingReason
			}
			return c.Status, reason
		}
	}
	return "", ""
}

// B1: the breaker opens on evidence about the channel, never on one event's, and its state is one
// for the deployment. Two replicas share PostgreSQL and Redis; KAKAO always answers 503. One
// event's six failed attempts (>= 5 calls, 100 % failed) leave the breaker closed; the second
// event's first failure makes the evidence channel-wide and both replicas report it open; a
// brand-new event's KAKAO then waits PENDING "channel_paused" without any attempt (it is never
// failed by the breaker).
func TestChaosB1BreakerOpensOnChannelWideEvidence(t *testing.T) {
	t.Parallel()
	env, _ := newEnv(t, map[string]string{"SIMULATOR_FAIL": "KAKAO=always", "MAX_ATTEMPTS": "6",
		"RETRY_BASE_DELAY": "10ms", "RETRY_MAX_DELAY": "50ms", "BREAKER_COOLDOWN": "1h", "SIMULATOR_STEP": "10ms"})
	r1 := startApp(t, env)
	r2 := startApp(t, env)

	r1.createEvent("b1-one")
	r1.must(http.MethodPost, "/api/v1/events/b1-one/distribution", `{"channels":["KAKAO","NAVER"]}`, http.StatusAccepted)
	r1.waitOverall("b1-one", "PARTIAL_SUCCESS", 90*time.Second)
	if n := r1.attempts("b1-one", "KAKAO"); n != 6 {
		t.Fatalf("b1-one KAKAO attempts = %d, want 6 (MAX_ATTEMPTS)", n)
	}
	for i, r := range []*app{r1, r2} {
		if st := r.breakerState("KAKAO"); st != "closed" {
			t.Fatalf("replica %d: KAKAO breaker %s after one event's 6 failures, want closed", i+1, st)
		}
	}

	r2.createEvent("b1-two")
	r2.must(http.MethodPost, "/api/v1/events/b1-two/distribution", `{"channels":["KAKAO"]}`, http.StatusAccepted)
	for i, r := range []*app{r1, r2} {
		proctest.WaitFor(t, time.Now().Add(60*time.Second), fmt.Sprintf("replica %d reports KAKAO open", i+1), func() (bool, string) {
			st := r.breakerState("KAKAO")
			return st == "open", st
		})
	}
	calls := r1.attempts("b1-two", "KAKAO")
	if calls < 1 || calls > 2 {
		t.Errorf("b1-two KAKAO attempts = %d when the breaker opened, want 1 (2 if two ran at once)", calls)
	}
	if st, _ := r1.channelOf("b1-two", "KAKAO"); st == "FAILED" {
		t.Errorf("b1-two KAKAO FAILED: the breaker must defer it")
	}

	r1.createEvent("b1-new")
	r1.must(http.MethodPost, "/api/v1/events/b1-new/distribution", `{"channels":["KAKAO"]}`, http.StatusAccepted)
	proctest.WaitFor(t, time.Now().Add(30*time.Second), "b1-new KAKAO paused by the breaker", func() (bool, string) {
		st, reason := r2.channelOf("b1-new", "KAKAO")
		return st == "PENDING" && reason == "channel_paused", st + " " + reason
	})
	if n := r2.attempts("b1-new", "KAKAO"); n != 0 {
		t.Fatalf("b1-new KAKAO attempts = %d while paused, want 0", n)
	}
	record(t, "B1", "breaker opens only on channel-wide evidence (two events); an open breaker defers, shared by replicas",
		fmt.Sprintf("one event: 6 failures, closed; 2nd event: open after %d call, on both replicas; new event: PENDING channel_paused, 0 attempts", calls))
}
