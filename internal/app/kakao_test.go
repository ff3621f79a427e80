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

// TestKakaoSENSChannelsConfig: serve with KAKAO on kakao-sens needs SECRETS_KEY, and then sends
// a store's event as that store's KakaoTalk channel through the simulator's SENS emulation.
func TestKakaoSENSChannelsConfig(t *testing.T) {
	t.Parallel()
	sim := simulator.New(simulator.Config{})
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(sim.Close)
	const secret = "app-test-sens-secret-key-0123456789abcdef"
	sim.RegisterSENSProject("ncp:kkobizmsg:kr:1:sens", "AKAPP", []byte(secret))
	sim.RegisterKakaoChannel("@app-bakery")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sens.key"), []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "channels.json")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`{"allowInsecureLoopback":true,"channels":{"KAKAO":{"protocol":"kakao-sens","url":%q,"serviceId":"ncp:kkobizmsg:kr:1:sens","accessKey":"AKAPP","secretKeyFile":"sens.key"}}}`, ts.URL)), 0o600); err != nil {
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
	a := startApp(t, cfg)
	ring, err := secrets.New(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := a.Store.CreateStore(ctx, model.Store{ID: "s1", Name: "빵집"}, model.AuditEntry{Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	cred, err := model.ParseCredentials(model.ChannelKakao, []byte(`{"senderKey":"sk-app","plusFriendId":"@app-bakery","recipients":["01012345678"]}`))
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
	if _, err := a.Engine.StartDistribution(ctx, e.ID, []model.Channel{model.ChannelKakao}, "test"); err != nil {
		t.Fatal(err)
	}
	waitCompleted(t, a, e.ID)
	if got := sim.KakaoContents("@app-bakery"); len(got) != 1 || !strings.HasPrefix(got[0], "(광고) 봄 세일") {
		t.Errorf("messages %q, want one advertising message", got)
	}
}
