package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/app"
	"github.com/marketing-platform/distribution/internal/cache"
	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

func readyz(t *testing.T, a *app.App) (int, map[string]string) {
	t.Helper()
	res, err := http.Get(a.URL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, body
}

// TestManagedRedisNotifications: REDIS_NOTIFICATIONS=managed against a Redis that refuses CONFIG.
// With notify-keyspace-events preset on the server the app is ready; without it the app still
// starts and serves, and /readyz's notifications field says they are not flowing.
func TestManagedRedisNotifications(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		flags string
		want  string
	}{
		"preset": {cache.NotifyFlags, "ok"},
		"unset":  {"", "error: notifications not flowing"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t, config.RoleWeb)
			cfg.RedisURL = dbtest.StartRedisWith(t, "--rename-command", "CONFIG", "", "--notify-keyspace-events", tc.flags).URL
			cfg.RedisNotifications = config.RedisNotificationsManaged
			a := startApp(t, cfg)
			_, body := readyz(t, a)
			if body["notifications"] != tc.want || body["redis"] != "ok" || body["postgres"] != "ok" {
				t.Fatalf("readyz = %v; want notifications %q, redis and postgres ok", body, tc.want)
			}
			res, err := http.Get(a.URL() + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("healthz = %d", res.StatusCode)
			}
		})
	}
}

// TestStartRefusesRedisCluster: a cluster-enabled Redis is refused at start, naming REDIS_URL and
// the reason.
func TestStartRefusesRedisCluster(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, config.RoleWorker)
	cfg.RedisURL = dbtest.StartRedisWith(t, "--cluster-enabled", "yes").URL
	a, err := app.New(cfg, app.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	err = a.Start(context.Background())
	stop(t, a)
	if !errors.Is(err, cache.ErrClusterUnsupported) || !strings.Contains(err.Error(), "REDIS_URL") || !strings.Contains(err.Error(), "Cluster") {
		t.Fatalf("Start = %v; want the Redis Cluster refusal naming REDIS_URL", err)
	}
}
