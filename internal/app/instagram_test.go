package app_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/app"
	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/secrets"
	"github.com/marketing-platform/distribution/internal/simulator"
)

// TestInstagramGraphChannelsConfig: serve with INSTAGRAM on instagram-graph needs SECRETS_KEY,
// and then publishes an event of a store as that store's account (the simulator's Graph API).
func TestInstagramGraphChannelsConfig(t *testing.T) {
	t.Parallel()
	sim := simulator.New(simulator.Config{})
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(sim.Close)
	sim.RegisterInstagramAccount("17841", "IGAA-app-test")
	path := filepath.Join(t.TempDir(), "channels.json")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`{"allowInsecureLoopback":true,"channels":{"INSTAGRAM":{"protocol":"instagram-graph","url":%q,"version":"v23.0"}}}`, ts.URL)), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg := testConfig(t, config.RoleAll)
	cfg.ChannelsConfig = path
	if _, err := app.New(cfg, app.WithLogger(slog.New(slog.DiscardHandler))); err == nil || !strings.Contains(err.Error(), "SECRETS_KEY") {
		t.Fatalf("app.New without SECRETS_KEY = %v, want a refusal naming SECRETS_KEY", err)
	}

	key := make([]byte, 32)
	rand.Read(key)
	cfg.Secrets = config.SecretsKeys{Current: key}
	a := startApp(t, cfg, app.WithLogger(slog.New(slog.DiscardHandler)))
	ring, err := secrets.New(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := a.Store.CreateStore(ctx, model.Store{ID: "s1", Name: "빵집"}, model.AuditEntry{Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	cred, err := model.ParseCredentials(model.ChannelInstagram, []byte(`{"igUserId":"17841","accessToken":"IGAA-app-test"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.SetChannelAccount(ctx, "s1", cred, ring, model.AuditEntry{Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	e, err := a.Store.CreateEvent(ctx, model.Event{Title: "봄 세일", StoreID: "s1", ImageURL: "https://img.example.com/a.jpg"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Engine.StartDistribution(ctx, e.ID, []model.Channel{model.ChannelInstagram}, "test"); err != nil {
		t.Fatal(err)
	}
	waitCompleted(t, a, e.ID)
	if sim.InstagramPosts("17841") != 1 {
		t.Errorf("posts %d, want 1", sim.InstagramPosts("17841"))
	}
}
