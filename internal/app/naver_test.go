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

// TestNaverCafeChannelsConfig: serve with NAVER on naver-cafe needs SECRETS_KEY, reads the client
// secret from its file (never logged), and publishes an event of a store as the store's member,
// renewing an expired token with the configured client credentials.
func TestNaverCafeChannelsConfig(t *testing.T) {
	t.Parallel()
	rules, _ := simulator.ParseFail("NAVER=024")
	sim := simulator.New(simulator.Config{Fail: rules})
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(sim.Close)
	sim.RegisterNaverAccount("3100", "7", "AAAA-app-test", "refresh-app-test")
	dir := t.TempDir()
	const clientSecret = "NaverClientSecret9"
	if err := os.WriteFile(filepath.Join(dir, "naver.secret"), []byte(clientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "channels.json")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`{"allowInsecureLoopback":true,"channels":{"NAVER":{"protocol":"naver-cafe","url":%q,"tokenUrl":%q,"clientId":"cid","clientSecretFile":"naver.secret"}}}`, ts.URL, ts.URL+"/oauth2.0/token")), 0o600); err != nil {
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
	var logs syncBuffer
	a := startApp(t, cfg, app.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	ring, err := secrets.New(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := a.Store.CreateStore(ctx, model.Store{ID: "s1", Name: "빵집"}, model.AuditEntry{Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	cred, err := model.ParseCredentials(model.ChannelNaver, []byte(`{"clubId":"3100","menuId":"7","accessToken":"AAAA-app-test","refreshToken":"refresh-app-test"}`))
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
	if _, err := a.Engine.StartDistribution(ctx, e.ID, []model.Channel{model.ChannelNaver}, "test"); err != nil {
		t.Fatal(err)
	}
	waitCompleted(t, a, e.ID)
	if sim.NaverArticles("3100") != 1 || sim.NaverRefreshes() != 1 {
		t.Errorf("articles %d refreshes %d, want 1 and 1", sim.NaverArticles("3100"), sim.NaverRefreshes())
	}
	logs.mu.Lock()
	leaked := strings.Contains(logs.buf.String(), clientSecret)
	logs.mu.Unlock()
	if leaked {
		t.Error("the client secret appears in the log")
	}
}
