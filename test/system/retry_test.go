package system

import (
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// env returns the environment of a serve process on a fresh database and a private Redis,
// with extra on top.
func newEnv(t testing.TB, extra map[string]string) map[string]string {
	t.Helper()
	env := map[string]string{
		"DATABASE_URL": dbtest.NewURL(t),
		"REDIS_URL":    dbtest.StartRedis(t).URL,
	}
	maps.Copy(env, extra)
	return env
}

// TestKakaoFailsThenManualRetry is the whole failure-and-retry story, through the real binary and
// its embedded simulator: with SIMULATOR_FAIL=KAKAO=3 and MAX_ATTEMPTS=3, KAKAO ends FAILED after
// three recorded attempts and the distribution PARTIAL_SUCCESS; one manual retry (a new
// generation, counted by the simulator as KAKAO's 4th submit) completes it: KAKAO SUCCESS,
// retries 1, overall COMPLETED. A retry of a channel that is not FAILED is 409 (D3).
func TestKakaoFailsThenManualRetry(t *testing.T) {
	t.Parallel()
	deadline := time.Now().Add(60 * time.Second)
	env := newEnv(t, map[string]string{
		"SIMULATOR_FAIL":   "KAKAO=3",
		"SIMULATOR_STEP":   "20ms",
		"MAX_ATTEMPTS":     "3",
		"RETRY_BASE_DELAY": "100ms",
	})
	srv := startServe(t, "serve", env)
	store := openStore(t, env["DATABASE_URL"])
	drv := newDriver(t, srv, model.RoleStaff)

	const id = "sys-kakao-3"
	drv.createEvent(id, "KAKAO fails three times")
	started := time.Now()
	drv.start(id, model.AllChannels)

	d := waitDistribution(t, store, id, deadline, "every channel terminal", terminal, srv.Proc)
	t.Logf("first pass terminal in %s: %s", time.Since(started).Round(time.Millisecond), summary(d))
	if d.OverallStatus != model.OverallPartialSuccess {
		t.Fatalf("overall = %s, want PARTIAL_SUCCESS: %s", d.OverallStatus, summary(d))
	}
	if d.CompletedAt == nil {
		t.Error("PARTIAL_SUCCESS without completed_at")
	}
	for _, c := range d.Channels {
		want := model.StatusSuccess
		if c.Channel == model.ChannelKakao {
			want = model.StatusFailed
		}
		if c.Status != want {
			t.Errorf("%s = %s, want %s", c.Channel, c.Status, want)
		}
	}
	kakao := d.Channel(model.ChannelKakao)
	if kakao.ErrorMessage == nil || !strings.Contains(*kakao.ErrorMessage, "3 attempts") {
		t.Errorf("KAKAO error_message = %v, want a readable message naming the 3 attempts", deref(kakao.ErrorMessage))
	} else {
		t.Logf("KAKAO error_message: %q", *kakao.ErrorMessage)
	}
	checkResults(t, d)

	as := attempts(t, store, id)
	ka := attemptsOf(as, model.ChannelKakao)
	wantOutcomes := []string{model.OutcomeRetry, model.OutcomeRetry, model.OutcomeFailed}
	if len(ka) != 3 {
		t.Fatalf("KAKAO has %d attempts, want 3:%s", len(ka), describeAttempts(ka))
	}
	for i, a := range ka {
		if a.Outcome != wantOutcomes[i] || a.HTTPStatus == nil || *a.HTTPStatus != http.StatusServiceUnavailable || a.Error == nil {
			t.Errorf("KAKAO attempt %d: outcome %s, http %v, error %v; want %s with HTTP 503 and an error",
				a.Attempt, a.Outcome, derefInt(a.HTTPStatus), deref(a.Error), wantOutcomes[i])
		}
	}
	for _, ch := range model.AllChannels {
		if ch != model.ChannelKakao && len(attemptsOf(as, ch)) != 1 {
			t.Errorf("%s has %d attempts, want 1:%s", ch, len(attemptsOf(as, ch)), describeAttempts(attemptsOf(as, ch)))
		}
	}

	// A channel that is not FAILED cannot be retried.
	if code, _ := drv.retry(id, model.ChannelNaver); code != http.StatusConflict {
		t.Errorf("retry of a SUCCESS channel = %d, want 409", code)
	}

	// The manual retry reopens the distribution in the same transaction.
	code, rd := drv.retry(id, model.ChannelKakao)
	if code != http.StatusAccepted {
		t.Fatalf("retry KAKAO = %d, want 202", code)
	}
	retried := time.Now()
	if rd.OverallStatus != string(model.OverallInProgress) || rd.CompletedAt != nil {
		t.Errorf("after the retry the answer says overall %s, completed_at %v; want IN_PROGRESS and none", rd.OverallStatus, rd.CompletedAt)
	}
	for _, c := range rd.Channels {
		if c.Channel == string(model.ChannelKakao) && (c.Retries != 1 || c.LastRetryAt == nil || c.Status == string(model.StatusFailed)) {
			t.Errorf("after the retry KAKAO is %s, retries %d, last_retry_at %v; want PENDING/IN_PROGRESS, 1, set", c.Status, c.Retries, c.LastRetryAt)
		}
	}
	// And a second retry of the same channel, no longer FAILED, is refused.
	if code, _ := drv.retry(id, model.ChannelKakao); code != http.StatusConflict {
		t.Errorf("second retry while KAKAO runs = %d, want 409", code)
	}

	d = waitDistribution(t, store, id, deadline, "COMPLETED after the manual retry", func(d model.Distribution) bool {
		return d.OverallStatus == model.OverallCompleted
	}, srv.Proc)
	t.Logf("retry completed in %s", time.Since(retried).Round(time.Millisecond))
	kakao = d.Channel(model.ChannelKakao)
	if kakao.Status != model.StatusSuccess || kakao.Retries != 1 || kakao.LastRetryAt == nil || kakao.ErrorMessage != nil {
		t.Errorf("KAKAO after retry: %s retries %d last_retry_at %v error %v; want SUCCESS, 1, set, none",
			kakao.Status, kakao.Retries, kakao.LastRetryAt, deref(kakao.ErrorMessage))
	}
	if d.CompletedAt == nil {
		t.Error("COMPLETED without completed_at")
	}
	checkResults(t, d)
	as = attempts(t, store, id)
	ka = attemptsOf(as, model.ChannelKakao)
	if len(ka) != 4 || ka[3].Outcome != model.OutcomeSuccess || ka[3].Generation == ka[2].Generation {
		t.Errorf("KAKAO attempts after the retry, want 4 with the last a success under a new generation:%s", describeAttempts(ka))
	} else {
		t.Logf("KAKAO attempt history:%s", describeAttempts(ka))
	}
	checkAttemptInvariants(t, as)

	code, api := drv.getDistribution(srv.base, id)
	if code != http.StatusOK || api.OverallStatus != string(model.OverallCompleted) {
		t.Errorf("GET /api/v1/events/%s/distribution = %d %+v, want 200 COMPLETED", id, code, api)
	}
	code, body := drv.call(srv.base, http.MethodGet, "/api/v1/events/"+id+"/distribution/attempts", nil)
	if code != http.StatusOK || strings.Count(string(body), `"channel":"KAKAO"`) != 4 {
		t.Errorf("GET attempts = %d %s, want 200 with 4 KAKAO attempts", code, body)
	}
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func derefInt(n *int) any {
	if n == nil {
		return nil
	}
	return *n
}
