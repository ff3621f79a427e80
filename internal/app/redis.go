package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/marketing-platform/distribution/internal/cache"
	"github.com/marketing-platform/distribution/internal/config"
)

// redisCheckTimeout bounds the start-time Redis checks.
const redisCheckTimeout = 2 * time.Second

// checkRedis runs Start's Redis checks. A Redis Cluster is refused (keyspace notifications are per
// node and one event's keys span hash slots). In managed notifications mode a probe checks that
// notifications flow; when they do not, the service starts anyway (reads fall back to re-reading,
// /readyz reports it) and the log says what the operator must set. An unreachable Redis is only
// logged here: the cache falls back to Postgres, and the hub reports its own failure.
func (a *App) checkRedis(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, redisCheckTimeout)
	defer cancel()
	if err := a.Cache.CheckServer(ctx); errors.Is(err, cache.ErrClusterUnsupported) {
		return fmt.Errorf("REDIS_URL: %w", err)
	} else if err != nil {
		a.log.Warn("redis: start-time checks skipped", slog.Any("error", err))
		return nil
	}
	if a.Config.RedisNotifications != config.RedisNotificationsManaged {
		return nil
	}
	// NotificationsState: its own short bound, and its result answers the first /readyz.
	if _, err := a.Cache.NotificationsState(); err != nil {
		a.log.Error("redis: keyspace notifications not flowing; live updates need notify-keyspace-events on the server to include "+cache.NotifyFlags,
			slog.String("REDIS_NOTIFICATIONS", config.RedisNotificationsManaged), slog.Any("error", err))
	}
	return nil
}
