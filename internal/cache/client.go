package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client timeouts (RELIABILITY.md: go-redis defaults stalled a GET 1.7 s on a stopped Redis and 10 s
// on a hung one). Redis is a loopback or same-zone cache: a healthy reply takes well under a
// millisecond, so anything slower than these is treated as an outage and the caller falls back to
// Postgres.
const (
	dialTimeout = 300 * time.Millisecond
	// Under the 300 ms request budget (R2): the one request that meets a hung Redis first waits
	// this long before the breaker opens, plus its own Postgres work.
	ioTimeout   = 200 * time.Millisecond
	poolTimeout = 300 * time.Millisecond
)

// notifyFlags are the keyspace-notification classes our keys need: K keyspace channel, h hash
// commands (HSET), g generic commands (DEL, EXPIRE), x expirations. Our values are all hashes, so
// string commands ($) are not needed.
const notifyFlags = "Khgx"

// ErrNotificationsForbidden means the server refuses CONFIG (a managed Redis): the notification
// setting cannot be applied or checked from here and must be configured on the server
// (notify-keyspace-events containing "Khgx").
var ErrNotificationsForbidden = errors.New("redis refuses CONFIG; set notify-keyspace-events=" + notifyFlags + " on the server and REDIS_NOTIFICATIONS=managed")

// NewClient returns a Redis client for redisURL (redis://, rediss:// or unix://; the DB index is
// honoured) tuned to fail fast: short dial, read, write and pool timeouts, a single dial attempt,
// no command retries, and context deadlines respected. Values set in the URL's query win.
//
// Every new connection — after start, after a dropped connection, after a Redis restart (which
// loses CONFIG SET) — re-applies the keyspace-notification setting before it is used, pub/sub
// connections included. When the server forbids CONFIG the connection is used anyway;
// (*Cache).NotificationsState reports it. With WithNotificationsMode(ModeManaged) no CONFIG is
// ever sent.
func NewClient(redisURL string, options ...Option) (*redis.Client, error) {
	o := buildOptions(options)
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("parse REDIS_URL: %w", err)
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = dialTimeout
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = ioTimeout
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = ioTimeout
	}
	if opts.PoolTimeout == 0 {
		opts.PoolTimeout = poolTimeout
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = -1 // 0 would mean the default of 3
	}
	if opts.DialerRetries == 0 {
		opts.DialerRetries = 1 // the default 5 attempts with 100 ms pauses cost ~0.5 s per dial on a down server
	}
	opts.ContextTimeoutEnabled = true
	opts.DisableIdentity = true // CLIENT SETINFO: one round trip per connection, useless here
	if o.mode != ModeManaged {
		opts.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
			_, err := applyNotifications(ctx, cn)
			if errors.Is(err, ErrNotificationsForbidden) {
				return nil // keep working without live updates; health reports it
			}
			return err
		}
	}
	return redis.NewClient(opts), nil
}

// applyNotifications makes notify-keyspace-events include notifyFlags, keeping any flags already
// set (other users of the server may rely on them). It changes nothing when they are present.
func applyNotifications(ctx context.Context, c redis.Cmdable) (changed bool, err error) {
	cur, err := c.ConfigGet(ctx, "notify-keyspace-events").Result()
	if err != nil {
		return false, configError("CONFIG GET", err)
	}
	have := cur["notify-keyspace-events"]
	missing := missingFlags(have)
	if missing == "" {
		return false, nil
	}
	if err := c.ConfigSet(ctx, "notify-keyspace-events", have+missing).Err(); err != nil {
		return false, configError("CONFIG SET", err)
	}
	return true, nil
}

// missingFlags returns the flags of notifyFlags that have does not provide. 'A' is the alias for
// "g$lshzxetd".
func missingFlags(have string) string {
	var out []byte
	for _, f := range []byte(notifyFlags) {
		if strings.IndexByte(have, f) >= 0 || (f != 'K' && strings.IndexByte(have, 'A') >= 0) {
			continue
		}
		out = append(out, f)
	}
	return string(out)
}

// configError classifies a CONFIG failure: a reply from the server (unknown or renamed command,
// NOPERM from an ACL) means CONFIG is forbidden; anything else is a connection problem.
func configError(cmd string, err error) error {
	var reply redis.Error
	if errors.As(err, &reply) && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("%w (%s: %s)", ErrNotificationsForbidden, cmd, err.Error())
	}
	return fmt.Errorf("%s notify-keyspace-events: %w", cmd, err)
}
