package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// NotificationsMode is how keyspace notifications are set up on the server (REDIS_NOTIFICATIONS).
type NotificationsMode string

const (
	// ModeConfig applies notify-keyspace-events with CONFIG SET on every new connection and checks
	// it with CONFIG GET (the default).
	ModeConfig NotificationsMode = "config"
	// ModeManaged never sends CONFIG (a managed Redis: the operator sets notify-keyspace-events to
	// include NotifyFlags in the provider's console); a probe key checks that notifications flow.
	ModeManaged NotificationsMode = "managed"
)

// NotifyFlags is the notify-keyspace-events value the service needs (see notifyFlags).
const NotifyFlags = notifyFlags

// Option configures NewClient and New.
type Option func(*options)

type options struct{ mode NotificationsMode }

// WithNotificationsMode sets the notifications mode; "" means ModeConfig. Give the same mode to
// NewClient and New.
func WithNotificationsMode(m NotificationsMode) Option {
	return func(o *options) {
		if m != "" {
			o.mode = m
		}
	}
}

func buildOptions(opts []Option) options {
	o := options{mode: ModeConfig}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// ErrNotificationsNotFlowing is the managed mode's health result when a probe key's notifications
// did not arrive in time: notify-keyspace-events on the server lacks some of NotifyFlags (or pub/sub
// is broken). Details go to the log.
var ErrNotificationsNotFlowing = errors.New("notifications not flowing")

// ErrClusterUnsupported is returned by CheckServer for a Redis Cluster node.
var ErrClusterUnsupported = errors.New("REDIS_URL points at a Redis Cluster, which is not supported: " +
	"keyspace notifications are delivered per node and the keys of one event span hash slots; use a single (primary) Redis")

const (
	// probeKeyPrefix names the managed mode's probe keys; the hub's patterns do not match it.
	probeKeyPrefix = "distribution:probe:"
	// probeTimeout bounds one probe.
	probeTimeout = time.Second
	// probeCacheFor is how long a probe result answers NotificationsState (readiness is polled
	// often; a probe costs a connection and three keyspace events).
	probeCacheFor = 5 * time.Second
	// probePoll is how often the probe touches its key so that Redis expires it lazily (active
	// expiry samples keys at random and could take long on a large database).
	probePoll = 5 * time.Millisecond
)

// CheckServer reads INFO cluster and refuses a Redis Cluster node with ErrClusterUnsupported.
// Other errors are connection problems (the caller decides whether to start without Redis).
func (c *Cache) CheckServer(ctx context.Context) error {
	return checkNotCluster(ctx, c.client)
}

func checkNotCluster(ctx context.Context, c redis.Cmdable) error {
	info, err := c.Info(ctx, "cluster").Result()
	if err != nil {
		return fmt.Errorf("redis INFO cluster: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "cluster_enabled:"); ok && v == "1" {
			return ErrClusterUnsupported
		}
	}
	return nil
}

// probeNotifications writes a short-lived probe key and waits for its hset, expire and expired
// keyspace notifications (the h, g and x classes of NotifyFlags, on the K channel). It returns nil
// when all arrived within ctx and probeTimeout, ErrNotificationsNotFlowing when some did not (the missing ones are
// logged), or a connection error.
func (c *Cache) probeNotifications(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout) // whatever the caller's bound
	defer cancel()
	key := probeKeyPrefix + randomID()
	channel := "__keyspace@" + strconv.Itoa(c.client.Options().DB) + "__:" + key
	sub := c.client.Subscribe(ctx, channel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // the subscription confirmation
		return fmt.Errorf("notifications probe: subscribe: %w", err)
	}
	// PEXPIRE 1 ms: the key expires almost at once; the EXISTS below make Redis notice.
	pipe := c.client.Pipeline()
	pipe.HSet(ctx, key, "probe", "1")
	pipe.PExpire(ctx, key, time.Millisecond)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("notifications probe: write: %w", err)
	}
	want := map[string]bool{"hset": false, "expire": false, "expired": false}
	flag := map[string]string{"hset": "h", "expire": "g", "expired": "x"}
	missing := func() []string {
		var out []string
		for _, ev := range []string{"hset", "expire", "expired"} {
			if !want[ev] {
				out = append(out, ev)
			}
		}
		return out
	}
	for len(missing()) > 0 {
		msg, err := sub.ReceiveTimeout(ctx, probePoll)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			var ne interface{ Timeout() bool }
			if !errors.As(err, &ne) || !ne.Timeout() {
				return fmt.Errorf("notifications probe: receive: %w", err)
			}
			// Only a nudge: a failure here shows as the missing events, a dead connection on
			// the subscription.
			c.client.Exists(ctx, key) //nolint:errcheck
			continue
		}
		if m, ok := msg.(*redis.Message); ok && m.Channel == channel {
			if _, known := want[m.Payload]; known {
				want[m.Payload] = true
			}
		}
	}
	if miss := missing(); len(miss) > 0 {
		var flags string
		for _, ev := range miss {
			flags += flag[ev]
		}
		c.warnLimited("probe", "keyspace notifications not flowing: set notify-keyspace-events on the server to include "+notifyFlags,
			slog.Any("missing_events", miss), slog.String("missing_flags", flags))
		return ErrNotificationsNotFlowing
	}
	return nil
}

// managedState is NotificationsState in managed mode: a probe, its result cached for probeCacheFor
// and shared by concurrent callers.
func (c *Cache) managedState(ctx context.Context) (bool, error) {
	c.probeMu.Lock()
	defer c.probeMu.Unlock()
	if now := c.now(); !c.probeAt.IsZero() && now.Sub(c.probeAt) < probeCacheFor {
		return c.probeErr == nil, c.probeErr
	}
	err := c.probeNotifications(ctx)
	if err != nil && !errors.Is(err, ErrNotificationsNotFlowing) {
		c.log.Warn("keyspace notifications probe failed", slog.Any("error", err))
		// Connection errors can name hosts: readiness shows the fixed message; redis's own field
		// says whether Redis is reachable.
		err = ErrNotificationsNotFlowing
	}
	c.probeAt, c.probeErr = c.now(), err
	return err == nil, err
}

func randomID() string {
	b := make([]byte, 8)
	rand.Read(b) //nolint:errcheck
	return hex.EncodeToString(b)
}
