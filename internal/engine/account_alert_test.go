package engine_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/alerts"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit"
)

// TestPublishNeedsReconnectAlertsOnce: a token found dead while publishing (Instagram error 190)
// sends the account alert with the store's deep link, as the token upkeep does; once (the
// concurrent case: db TestMarkAccountNeedsReconnectThenOnce).
func TestPublishNeedsReconnectAlertsOnce(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		msgs []alerts.AccountMessage
	)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m alerts.AccountMessage
		if json.Unmarshal(b, &m) == nil && m.Event == alerts.EventAccountNeedsReconnect {
			mu.Lock()
			msgs = append(msgs, m)
			mu.Unlock()
		}
	}))
	t.Cleanup(ts.Close)
	n, err := alerts.New(alerts.Config{WebhookURL: ts.URL, PublicURL: "https://dist.example.com", RetryBase: 10 * time.Millisecond,
		AllowInsecureLoopback: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	h := upkeepIG(t, "INSTAGRAM=190", n)
	h.connectIG("s-pub", "4001", "IGSIM-pub", time.Hour, 50*24*time.Hour)
	h.startEvent(model.ChannelInstagram, "pub-1", "가을 세일", "", "https://img.example.com/a.jpg", "s-pub")
	h.waitOverall("pub-1", "FAILED")
	if a, _ := h.storeAccount("s-pub", model.ChannelInstagram); a.Status != model.AccountNeedsReconnect {
		t.Fatalf("account %+v: want needs_reconnect", a)
	}
	testkit.Eventually(t, 20*time.Second, "the account alert delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(msgs) >= 1
	})
	if n := h.count(`SELECT count(*) FROM river_job WHERE kind = $1`, alerts.AccountKind); n != 1 {
		t.Errorf("%d account alert jobs, want 1", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(msgs[0].Text, "https://dist.example.com/stores/s-pub") {
		t.Errorf("alert %q: want the store's deep link", msgs[0].Text)
	}
}
