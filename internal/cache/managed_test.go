package cache_test

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/marketing-platform/distribution/internal/cache"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// managedCache starts a Redis that refuses CONFIG (renamed away, as managed offerings do) with the
// extra server args, and returns a managed-mode Cache over it.
func managedCache(t *testing.T, args ...string) (*cache.Cache, *dbtest.Redis) {
	t.Helper()
	r := dbtest.StartRedisWith(t, append([]string{"--rename-command", "CONFIG", ""}, args...)...)
	mode := cache.WithNotificationsMode(cache.ModeManaged)
	client, err := cache.NewClient(r.URL, mode)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return cache.New(client, quietLogger(), mode), r
}

func TestManagedNotificationsFlow(t *testing.T) {
	t.Parallel()
	c, r := managedCache(t, "--notify-keyspace-events", cache.NotifyFlags)
	ctx := context.Background()
	// Connections work (no CONFIG is sent, so none fails on the renamed command)...
	if err := c.PutChannel(ctx, model.ChannelState{EventID: "ev-1", Channel: model.ChannelKakao, Status: model.StatusPending}); err != nil {
		t.Fatalf("write: %v", err)
	}
	// ...and the probe sees its notifications.
	if ok, err := c.CheckNotifications(ctx); !ok || err != nil {
		t.Fatalf("CheckNotifications = %v, %v; want true, nil", ok, err)
	}
	if ok, err := c.NotificationsState(); !ok || err != nil {
		t.Fatalf("NotificationsState = %v, %v; want true, nil", ok, err)
	}
	// The probe key is gone (it expires at once) and the server's setting is untouched.
	admin := redis.NewClient(&redis.Options{Network: "unix", Addr: r.Sock, MaxRetries: -1})
	t.Cleanup(func() { admin.Close() })
	if keys, err := admin.Keys(ctx, "distribution:probe:*").Result(); err != nil || len(keys) != 0 {
		t.Fatalf("probe keys left: %v, %v", keys, err)
	}
}

func TestManagedNotificationsNotFlowing(t *testing.T) {
	t.Parallel()
	for name, flags := range map[string]string{
		"off":        "",    // the operator set nothing
		"no expired": "Khg", // x missing: expirations would go unseen
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, _ := managedCache(t, "--notify-keyspace-events", flags)
			ctx := context.Background()
			ok, err := c.NotificationsState()
			if ok || !errors.Is(err, cache.ErrNotificationsNotFlowing) || err.Error() != "notifications not flowing" {
				t.Fatalf("NotificationsState = %v, %v; want false, ErrNotificationsNotFlowing", ok, err)
			}
			// The cache still serves.
			if err := c.PutChannel(ctx, model.ChannelState{EventID: "ev-1", Channel: model.ChannelKakao, Status: model.StatusPending}); err != nil {
				t.Fatalf("write: %v", err)
			}
			if err := c.Ping(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConfigModeStillAppliesNotifications(t *testing.T) {
	t.Parallel()
	r := dbtest.StartRedis(t)
	client, err := cache.NewClient(r.URL, cache.WithNotificationsMode(cache.ModeConfig))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c := cache.New(client, quietLogger())
	ctx := context.Background()
	if ok, err := c.CheckNotifications(ctx); !ok || err != nil {
		t.Fatalf("CheckNotifications = %v, %v", ok, err)
	}
	got, err := client.ConfigGet(ctx, "notify-keyspace-events").Result()
	if err != nil || got["notify-keyspace-events"] == "" {
		t.Fatalf("notify-keyspace-events = %v, %v; want it applied", got, err)
	}
}

func TestCheckServerRefusesCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := dbtest.StartRedisWith(t, "--cluster-enabled", "yes")
	client, err := cache.NewClient(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if err := cache.New(client, quietLogger()).CheckServer(ctx); !errors.Is(err, cache.ErrClusterUnsupported) {
		t.Fatalf("CheckServer on a cluster node = %v; want ErrClusterUnsupported", err)
	}

	plain := dbtest.StartRedis(t)
	pc, err := cache.NewClient(plain.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	if err := cache.New(pc, quietLogger()).CheckServer(ctx); err != nil {
		t.Fatalf("CheckServer on a plain Redis = %v", err)
	}
}

// TestManagedStateIsCached: readiness polls NotificationsState often; within a few seconds it
// answers the last probe's result instead of probing again, while CheckNotifications always probes.
func TestManagedStateIsCached(t *testing.T) {
	t.Parallel()
	r := dbtest.StartRedisWith(t, "--notify-keyspace-events", cache.NotifyFlags) // CONFIG left on for the test's admin
	mode := cache.WithNotificationsMode(cache.ModeManaged)
	client, err := cache.NewClient(r.URL, mode)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c := cache.New(client, quietLogger(), mode)
	ctx := context.Background()
	if ok, err := c.NotificationsState(); !ok || err != nil {
		t.Fatalf("NotificationsState = %v, %v", ok, err)
	}
	admin := redis.NewClient(&redis.Options{Network: "unix", Addr: r.Sock, MaxRetries: -1})
	t.Cleanup(func() { admin.Close() })
	if err := admin.ConfigSet(ctx, "notify-keyspace-events", "").Err(); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.NotificationsState(); !ok || err != nil {
		t.Fatalf("NotificationsState right after a probe = %v, %v; want the cached ok", ok, err)
	}
	if ok, err := c.CheckNotifications(ctx); ok || !errors.Is(err, cache.ErrNotificationsNotFlowing) {
		t.Fatalf("CheckNotifications = %v, %v; want ErrNotificationsNotFlowing", ok, err)
	}
	// Managed mode never re-applies the setting.
	if got, err := admin.ConfigGet(ctx, "notify-keyspace-events").Result(); err != nil || got["notify-keyspace-events"] != "" {
		t.Fatalf("notify-keyspace-events = %v, %v; want it left alone", got, err)
	}
}
