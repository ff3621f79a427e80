package engine_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/alerts"
	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/engine"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// A channel ending FAILED and a distribution ending FAILED or PARTIAL_SUCCESS alert the webhook;
// a distribution that completes does not.
func TestFailureAlerts(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		texts []string
	)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m alerts.Message
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &m); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		texts = append(texts, m.Text)
		mu.Unlock()
	}))
	t.Cleanup(ts.Close)
	store := dbtest.New(t)
	n, err := alerts.New(alerts.Config{WebhookURL: ts.URL, Events: store, PublicURL: "https://dist.example.com", RetryBase: 10 * time.Millisecond,
		AllowInsecureLoopback: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	fake := newFake(func(_ context.Context, ch model.Channel, _ int) (channels.Result, error) {
		if ch == model.ChannelKakao {
			return channels.Result{}, &channels.Error{Kind: channels.Permanent, HTTPStatus: 401, Message: "the channel token was revoked"}
		}
		return resultFor(ch), nil
	})
	h := newHarness(t, engine.Config{Workers: 4, Alerts: n}, fake, store)
	h.start("ev-failed", model.ChannelKakao)
	h.start("ev-partial", model.ChannelKakao, model.ChannelNaver)
	h.start("ev-ok", model.ChannelNaver)
	h.waitOverall("ev-failed", "FAILED")
	h.waitOverall("ev-partial", "PARTIAL_SUCCESS")
	h.waitOverall("ev-ok", "COMPLETED")

	jobs := func(eventID string) int {
		return h.count(`SELECT count(*) FROM river_job WHERE kind = $1 AND args->>'event_id' = $2`, alerts.Kind, eventID)
	}
	if got := jobs("ev-failed"); got != 1 {
		t.Errorf("ev-failed: %d alerts, want 1 (channel and distribution failed together)", got)
	}
	if got := jobs("ev-partial"); got < 1 || got > 2 {
		t.Errorf("ev-partial: %d alerts, want 1 or 2", got)
	}
	if got := jobs("ev-ok"); got != 0 {
		t.Errorf("ev-ok: %d alerts, want none", got)
	}
	testkit.Eventually(t, 20*time.Second, "alerts delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		all := strings.Join(texts, "\n---\n")
		return strings.Contains(all, "Distribution FAILED: Event ev-failed (ev-failed)") &&
			strings.Contains(all, "Distribution PARTIAL_SUCCESS: Event ev-partial (ev-partial)") &&
			strings.Contains(all, "https://dist.example.com/events/ev-failed#ch-ev-failed-KAKAO") &&
			strings.Contains(all, "the channel token was revoked")
	})
	// A manual retry that fails again alerts again (new generation).
	if _, err := h.eng.RetryChannel(context.Background(), "ev-failed", model.ChannelKakao, "staff@x"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "second alert", func() bool { return jobs("ev-failed") == 2 && h.overall("ev-failed") == "FAILED" })
}
