package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/app"
	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/partnersig"
	"github.com/marketing-platform/distribution/internal/simulator"
)

const partnerTestSecret = "b7e2c9a4f1d8063e5a2c7b9d4f1e8a3c6b0d5e2f9a4c7b1e8d3f6a0c5b2e9d47"

// TestPartnerEmbeddedSimulatorSignsAndSays: without CHANNELS_CONFIG the service warns once that
// it publishes to the simulator, /readyz says so, and the embedded simulator checks partner v1
// signatures made with the secrets generated at start (a distribution completes; an unsigned
// request is refused).
func TestPartnerEmbeddedSimulatorSignsAndSays(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	a := startApp(t, testConfig(t, config.RoleAll), app.WithLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	code, ready := getJSON(t, a.URL()+"/readyz")
	if code != http.StatusOK || ready["status"] != "ok" || ready["channels"] != "simulator" {
		t.Fatalf("readyz = %d %v, want 200 with channels simulator", code, ready)
	}
	warns := 0
	for _, r := range logs.records(t) {
		if r["level"] == "WARN" && strings.Contains(fmt.Sprint(r["msg"]), "publishes to the embedded simulator") {
			warns++
		}
	}
	if warns != 1 {
		t.Errorf("%d warnings about the simulator, want 1", warns)
	}

	ctx := context.Background()
	e, err := a.Store.CreateEvent(ctx, model.Event{Title: "signed", StoreName: "app test"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	chs := []model.Channel{model.ChannelUridongneTV, model.ChannelRingoBiz, model.ChannelGiniTV}
	if _, err := a.Engine.StartDistribution(ctx, e.ID, chs, "test"); err != nil {
		t.Fatal(err)
	}
	waitCompleted(t, a, e.ID)
	for _, ch := range chs {
		if st := a.Simulator.Stats(ch); st.Posts != 1 || st.Unauthorized != 0 {
			t.Errorf("%s: simulator stats %+v, want one post and nothing refused", ch, st)
		}
	}
	ts := httptest.NewServer(a.Simulator.Handler())
	defer ts.Close()
	res, err := http.Post(ts.URL+"/v1/channels/GINITV/publications", "application/json", strings.NewReader(`{"eventId":"x","title":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned request to the embedded simulator = %d, want 401", res.StatusCode)
	}
}

// TestPartnerChannelsConfig: with CHANNELS_CONFIG, /readyz says "configured" and the adapters sign
// with the secretFile; a config without secretFile or naming an unimplemented protocol is refused
// at start, naming the channel and the problem.
func TestPartnerChannelsConfig(t *testing.T) {
	t.Parallel()
	sim := simulator.New(simulator.Config{Secrets: map[model.Channel]partnersig.Secret{model.ChannelRingoBiz: partnersig.Secret(partnerTestSecret)}})
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(sim.Close)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("ringo.secret", partnerTestSecret+"\n")

	cfg := testConfig(t, config.RoleAll)
	cfg.ChannelsConfig = write("ok.json", fmt.Sprintf(`{"allowInsecureLoopback":true,"channels":{"RINGOBIZ":{"protocol":"partner-v1","url":%q,"secretFile":"ringo.secret"}}}`, ts.URL))
	var logs syncBuffer
	a := startApp(t, cfg, app.WithLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if code, ready := getJSON(t, a.URL()+"/readyz"); code != http.StatusOK || ready["channels"] != "configured" {
		t.Fatalf("readyz = %d %v, want channels configured", code, ready)
	}
	ctx := context.Background()
	e, err := a.Store.CreateEvent(ctx, model.Event{Title: "configured", StoreName: "app test"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Engine.StartDistribution(ctx, e.ID, []model.Channel{model.ChannelRingoBiz}, "test"); err != nil {
		t.Fatal(err)
	}
	waitCompleted(t, a, e.ID)
	if sim.Posts(model.ChannelRingoBiz, e.ID) != 1 || sim.Stats(model.ChannelRingoBiz).Unauthorized != 0 {
		t.Errorf("simulator: %d posts, stats %+v", sim.Posts(model.ChannelRingoBiz, e.ID), sim.Stats(model.ChannelRingoBiz))
	}
	if strings.Contains(logs.buf.String(), partnerTestSecret) {
		t.Error("the shared secret appears in the log")
	}

	for _, tc := range []struct{ content, want string }{
		{fmt.Sprintf(`{"allowInsecureLoopback":true,"channels":{"RINGOBIZ":{"url":%q}}}`, ts.URL), "channel RINGOBIZ: secretFile is required"},
		{`{"channels":{"NAVER":{"protocol":"naver-cafe","url":"https://openapi.naver.com"}}}`, "channel NAVER: tokenUrl is required"},
	} {
		cfg := testConfig(t, config.RoleAll)
		cfg.ChannelsConfig = write("bad.json", tc.content)
		if _, err := app.New(cfg, app.WithLogger(slog.New(slog.DiscardHandler))); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("app.New(%s) = %v, want %q", tc.content, err, tc.want)
		}
	}
}
