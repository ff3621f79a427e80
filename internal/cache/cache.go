// Package cache is the Redis side of the service: the only place the key formats are spelled, the
// writes that follow every Postgres commit, and the read-through that serves status reads from
// Redis and falls back to Postgres. Redis is never the source of truth: when it is down, slow or
// missing a key, reads come from Postgres, and an outage costs a request at most one short
// timeout (a circuit then skips Redis for a second at a time).
package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/marketing-platform/distribution/internal/model"
)

// Source is the source of truth the read-through falls back to (db.DB in production).
type Source interface {
	FindDistribution(ctx context.Context, eventID string) (model.Distribution, error)
}

// ErrUnavailable is returned by writes while the circuit is open (Redis failed within the last
// second); the write was not attempted.
var ErrUnavailable = errors.New("cache: redis unavailable")

const (
	// breakerCooldown is how long Redis is skipped after a failure before one request probes it.
	breakerCooldown = time.Second
	// maxDirty bounds the events remembered as possibly stale after failed writes.
	maxDirty = 10_000
	// purgeBatch is how many stale events one purge deletes.
	purgeBatch = 500
	// warnEvery rate-limits repeated warnings of the same kind.
	warnEvery = 10 * time.Second
)

// Cache reads and writes the distribution keys. It is safe for concurrent use.
type Cache struct {
	client *redis.Client
	log    *slog.Logger
	now    func() time.Time
	mode   NotificationsMode

	// The managed mode's last notifications probe (managed.go).
	probeMu  sync.Mutex
	probeAt  time.Time
	probeErr error

	// openUntil is the circuit: 0 when closed, else the unix nanos until which Redis is skipped.
	openUntil atomic.Int64

	// dirty holds events whose last write failed: their keys may hold an older state, so reads
	// bypass them and the next healthy moment deletes them.
	dirtyMu  sync.Mutex
	dirty    map[string]struct{}
	nDirty   atomic.Int64
	purging  atomic.Bool
	lastWarn sync.Map // kind -> *atomic.Int64 (unix nanos)
}

// New returns a Cache over client (see NewClient; give both the same options).
func New(client *redis.Client, logger *slog.Logger, opts ...Option) *Cache {
	if logger == nil {
		logger = slog.Default()
	}
	return &Cache{
		client: client,
		log:    logger.With(slog.String("component", "cache")),
		now:    time.Now,
		mode:   buildOptions(opts).mode,
		dirty:  map[string]struct{}{},
	}
}

// KeyspacePatterns are the notification patterns for this client's database.
func (c *Cache) KeyspacePatterns() []string { return KeyspacePatterns(c.client.Options().DB) }

// Ping checks that Redis answers. It bypasses the circuit (health checks want the truth) and
// feeds it: a success closes it, a failure opens it.
func (c *Cache) Ping(ctx context.Context) error {
	err := c.client.Ping(ctx).Err()
	c.record(ctx, err)
	if err != nil {
		return fmt.Errorf("redis ping: %w", err)
	}
	return nil
}

// NotificationsState is CheckNotifications bounded by a short timeout of its own (for /readyz).
// In managed mode it probes (see CheckNotifications) at most once per 5 s and otherwise answers
// the last probe's result.
func (c *Cache) NotificationsState() (configured bool, err error) {
	if c.mode == ModeManaged {
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		defer cancel()
		return c.managedState(ctx)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*ioTimeout)
	defer cancel()
	return c.CheckNotifications(ctx)
}

// CheckNotifications reports whether keyspace notifications for our keys are enabled on the
// server.
//
// In config mode it re-applies them when they are not (someone reset them, or a restart lost them
// before any new connection was made). err is ErrNotificationsForbidden (wrapped) when the server
// refuses CONFIG: the setting cannot be checked here and must be made on the server.
//
// In managed mode it sends no CONFIG: it writes a probe key that expires at once and waits (within
// ctx, at most 1 s) for its hset, expire and expired notifications. err is ErrNotificationsNotFlowing when they
// do not all arrive, or a connection error.
func (c *Cache) CheckNotifications(ctx context.Context) (configured bool, err error) {
	if c.mode == ModeManaged {
		if err := c.probeNotifications(ctx); err != nil {
			return false, err
		}
		return true, nil
	}
	changed, err := applyNotifications(ctx, c.client)
	if err != nil {
		if !errors.Is(err, ErrNotificationsForbidden) {
			c.record(ctx, err)
		}
		return false, err
	}
	if changed {
		c.log.Info("keyspace notifications were off; re-applied", slog.String("flags", notifyFlags))
	}
	return true, nil
}

// PutDistribution writes the event key and every channel key of d in one script call, renewing TTLs.
// Call it after the Postgres commit that produced d. A key already holding a newer version (a
// later commit whose write landed first) keeps it; see version.go.
func (c *Cache) PutDistribution(ctx context.Context, d model.Distribution) error {
	// With its channels, this write replaces every key of the event: it is no longer dirty.
	return c.write(ctx, d.EventID, len(d.Channels) > 0, distributionWrites(d, true, modeWrite)...)
}

// PutOverall writes the event key only (overall status and times; the channel list too when d
// carries channels).
func (c *Cache) PutOverall(ctx context.Context, d model.Distribution) error {
	return c.write(ctx, d.EventID, false, eventWrite(d, len(d.Channels) > 0, modeWrite))
}

// PutChannelOverall writes one channel key and the event key (as PutOverall) in one script call:
// what a channel's finish changed, in one round trip.
func (c *Cache) PutChannelOverall(ctx context.Context, ch model.ChannelState, d model.Distribution) error {
	return c.write(ctx, ch.EventID, false, channelWrite(ch.EventID, ch, modeWrite), eventWrite(d, len(d.Channels) > 0, modeWrite))
}

// PutChannel writes one channel key. ch.EventID and ch.Channel name it.
func (c *Cache) PutChannel(ctx context.Context, ch model.ChannelState) error {
	return c.write(ctx, ch.EventID, false, channelWrite(ch.EventID, ch, modeWrite))
}

// DeleteDistribution removes the event key and every channel key of an event.
func (c *Cache) DeleteDistribution(ctx context.Context, eventID string) error {
	return c.writeWith(ctx, eventID, true, func(ctx context.Context) error { return c.client.Del(ctx, allKeys(eventID)...).Err() })
}

// eventWrite and channelWrite write one key unless Redis holds a newer version (version.go);
// distributionWrites writes the event key and each channel's.
func eventWrite(d model.Distribution, withChannels bool, mode string) versioned {
	return versioned{EventKey(d.EventID), int(EventTTL.Seconds()), d.ID, d.Version, mode, eventFields(d, withChannels)}
}

func channelWrite(eventID string, ch model.ChannelState, mode string) versioned {
	return versioned{ChannelKey(eventID, ch.Channel), int(ChannelTTL.Seconds()), ch.ID, ch.Version, mode, channelFields(ch)}
}

func distributionWrites(d model.Distribution, withChannels bool, mode string) []versioned {
	ws := []versioned{eventWrite(d, withChannels, mode)}
	for _, ch := range d.Channels {
		ws = append(ws, channelWrite(d.EventID, ch, mode))
	}
	return ws
}

func allKeys(eventID string) []string {
	keys := []string{EventKey(eventID)}
	for _, ch := range model.AllChannels {
		keys = append(keys, ChannelKey(eventID, ch))
	}
	return keys
}

// write writes ws for an event in one script call (versionedScript; atomic).
func (c *Cache) write(ctx context.Context, eventID string, complete bool, ws ...versioned) error {
	return c.writeWith(ctx, eventID, complete, func(ctx context.Context) error { return runVersioned(ctx, c.client, ws) })
}

// writeWith runs one atomic write for an event (do: one script call or one MULTI). A failed write
// leaves whatever the keys held before, which may now be older than Postgres: the event is marked
// dirty so it is not served from Redis and its keys are deleted once Redis answers again.
// complete says a success replaces every key of the event (which cleans it).
func (c *Cache) writeWith(ctx context.Context, eventID string, complete bool, do func(context.Context) error) error {
	if !model.ValidEventID(eventID) {
		return model.Errorf(model.EINVALID, "cache: invalid event id")
	}
	if !c.allow() {
		c.markDirty(eventID)
		return ErrUnavailable
	}
	err := do(ctx)
	c.record(ctx, err)
	if err != nil {
		c.markDirty(eventID)
		return fmt.Errorf("cache: write event %s: %w", eventID, err)
	}
	if complete {
		c.clearDirty(eventID)
	}
	c.purgeDirty(ctx)
	return nil
}

// Distribution returns the distribution of an event from Redis when every key is there, and from
// src otherwise, refilling Redis afterwards. It never fails because of Redis: errors are logged and
// the read falls back to src. src's errors (ENOTFOUND, EINVALID) pass through.
//
// A cached state whose overall status contradicts its channels (model.Rollup) is treated as stale:
// writes from concurrent channel jobs can land out of order, and this is where it heals.
func (c *Cache) Distribution(ctx context.Context, eventID string, src Source) (model.Distribution, error) {
	if !model.ValidEventID(eventID) {
		return src.FindDistribution(ctx, eventID) // the source names the problem; Redis never sees it
	}
	force := c.isDirty(eventID)
	if !force && c.allow() {
		d, res, err := c.read(ctx, eventID)
		c.record(ctx, err)
		switch {
		case err != nil && isOutage(ctx, err):
			c.log.Debug("redis read failed; reading postgres", slog.String("event_id", eventID), slog.String("error", err.Error()))
		case err != nil: // an error reply, e.g. WRONGTYPE: something else wrote our key
			c.warnLimited("decode", "unreadable cache entry; replacing it from postgres", slog.String("event_id", eventID), slog.String("error", err.Error()))
			force = true
		case res == hit:
			return d, nil
		case res == bad:
			force = true
		}
	}
	d, err := src.FindDistribution(ctx, eventID)
	if err != nil {
		return d, err
	}
	c.refill(ctx, d, force)
	return d, nil
}

type readResult int

const (
	hit  readResult = iota
	miss            // a key is absent: refill the absent keys
	bad             // a key is unreadable or contradicts the others: overwrite from the source
)

// read fetches the event key and all six channel keys in one round trip.
func (c *Cache) read(ctx context.Context, eventID string) (model.Distribution, readResult, error) {
	var (
		ev  *redis.MapStringStringCmd
		chs = make(map[model.Channel]*redis.MapStringStringCmd, len(model.AllChannels))
	)
	_, err := c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		ev = p.HGetAll(ctx, EventKey(eventID))
		for _, ch := range model.AllChannels {
			chs[ch] = p.HGetAll(ctx, ChannelKey(eventID, ch))
		}
		return nil
	})
	if err != nil {
		return model.Distribution{}, miss, err
	}
	if len(ev.Val()) == 0 {
		return model.Distribution{}, miss, nil
	}
	d, listed, err := decodeEvent(eventID, ev.Val())
	if err != nil {
		c.warnLimited("decode", "unreadable cache entry; overwriting from postgres", slog.String("key", EventKey(eventID)), slog.String("error", err.Error()))
		return model.Distribution{}, bad, nil
	}
	// Display order, whatever order the list was written in.
	d.Channels = make([]model.ChannelState, 0, len(listed))
	statuses := make([]model.ChannelStatus, 0, len(listed))
	for _, ch := range model.AllChannels {
		if !containsChannel(listed, ch) {
			continue
		}
		m := chs[ch].Val()
		if len(m) == 0 {
			return model.Distribution{}, miss, nil
		}
		state, err := decodeChannel(eventID, ch, m)
		if err != nil {
			c.warnLimited("decode", "unreadable cache entry; overwriting from postgres", slog.String("key", ChannelKey(eventID, ch)), slog.String("error", err.Error()))
			return model.Distribution{}, bad, nil
		}
		d.Channels = append(d.Channels, state)
		statuses = append(statuses, state.Status)
	}
	if model.Rollup(statuses) != d.OverallStatus {
		return model.Distribution{}, bad, nil
	}
	return d, hit, nil
}

func containsChannel(list []model.Channel, ch model.Channel) bool {
	for _, c := range list {
		if c == ch {
			return true
		}
	}
	return false
}

// refill writes what the source returned back to Redis, key by key, never over a newer version
// (a writer may have put a newer state since the source was read). Normally a key holding the same
// version is left as it is (its TTL renewed); when force (the cached state was stale or unreadable)
// such keys are rewritten too, and keys of another type or without a version are replaced. A source
// state that itself contradicts the rollup (read between two statements of a writer) is not forced in.
func (c *Cache) refill(ctx context.Context, d model.Distribution, force bool) {
	if force {
		statuses := make([]model.ChannelStatus, len(d.Channels))
		for i, ch := range d.Channels {
			statuses[i] = ch.Status
		}
		if model.Rollup(statuses) != d.OverallStatus {
			return
		}
		// Replace, not update: the old keys may have the wrong type or fields we no longer write.
		// Keys of channels outside the distribution are deleted. Best effort: a failure re-marks
		// the event dirty.
		_ = c.writeWith(ctx, d.EventID, true, func(ctx context.Context) error {
			_, err := c.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
				var stray []string
				for _, ch := range model.AllChannels {
					if d.Channel(ch) == nil {
						stray = append(stray, ChannelKey(d.EventID, ch))
					}
				}
				if len(stray) > 0 {
					p.Del(ctx, stray...)
				}
				queueVersioned(ctx, p, distributionWrites(d, true, modeReplace))
				return nil
			})
			return err
		})
		return
	}
	if !c.allow() {
		return
	}
	err := runVersioned(ctx, c.client, distributionWrites(d, true, modeWrite))
	c.record(ctx, err)
	switch {
	case err == nil:
	case isOutage(ctx, err):
		c.log.Debug("cache refill failed", slog.String("event_id", d.EventID), slog.String("error", err.Error()))
	default: // an error reply (EVAL refused?): the cache will not fill, every read pays Postgres
		c.warnLimited("refill", "cache refill refused by redis", slog.String("event_id", d.EventID), slog.String("error", err.Error()))
	}
}

// allow reports whether to try Redis now. While the circuit is open it answers no; once the
// cooldown has passed exactly one caller gets yes (the probe) and the others keep skipping until
// the probe succeeds or the next cooldown passes.
func (c *Cache) allow() bool {
	until := c.openUntil.Load()
	if until == 0 {
		return true
	}
	now := c.now().UnixNano()
	if now < until {
		return false
	}
	return c.openUntil.CompareAndSwap(until, now+int64(breakerCooldown))
}

// record feeds the outcome of a Redis call to the circuit. Only failures of Redis itself count:
// error replies (WRONGTYPE, NOSCRIPT...) and the caller's own cancellation do not.
func (c *Cache) record(ctx context.Context, err error) {
	if err == nil || !isOutage(ctx, err) {
		if err == nil && c.openUntil.Swap(0) != 0 {
			c.log.Info("redis is back; reading and writing it again")
		}
		return
	}
	if c.openUntil.Swap(c.now().Add(breakerCooldown).UnixNano()) == 0 {
		c.log.Warn("redis unavailable; serving from postgres and retrying every second", slog.String("error", err.Error()))
	}
}

func isOutage(ctx context.Context, err error) bool {
	var reply redis.Error
	if errors.As(err, &reply) {
		return false
	}
	if ctx.Err() != nil {
		return false // the caller gave up or its deadline passed: not Redis's fault
	}
	return true
}

func (c *Cache) markDirty(eventID string) {
	c.dirtyMu.Lock()
	defer c.dirtyMu.Unlock()
	if _, ok := c.dirty[eventID]; ok {
		return
	}
	if len(c.dirty) >= maxDirty {
		c.warnLimited("dirty", "too many cache writes failed; some entries may stay stale until their TTL")
		return
	}
	c.dirty[eventID] = struct{}{}
	c.nDirty.Store(int64(len(c.dirty)))
}

func (c *Cache) isDirty(eventID string) bool {
	if c.nDirty.Load() == 0 {
		return false
	}
	c.dirtyMu.Lock()
	defer c.dirtyMu.Unlock()
	_, ok := c.dirty[eventID]
	return ok
}

func (c *Cache) clearDirty(eventID string) {
	if c.nDirty.Load() == 0 {
		return
	}
	c.dirtyMu.Lock()
	defer c.dirtyMu.Unlock()
	delete(c.dirty, eventID)
	c.nDirty.Store(int64(len(c.dirty)))
}

// purgeDirty deletes the keys of events whose writes failed, now that Redis answers; readers then
// refill them from Postgres. One caller at a time, a batch at a time.
func (c *Cache) purgeDirty(ctx context.Context) {
	if c.nDirty.Load() == 0 || !c.purging.CompareAndSwap(false, true) {
		return
	}
	defer c.purging.Store(false)
	c.dirtyMu.Lock()
	batch := make([]string, 0, min(len(c.dirty), purgeBatch))
	for id := range c.dirty {
		if len(batch) == purgeBatch {
			break
		}
		batch = append(batch, id)
	}
	c.dirtyMu.Unlock()

	var keys []string
	for _, id := range batch {
		keys = append(keys, allKeys(id)...)
	}
	err := c.client.Del(ctx, keys...).Err()
	c.record(ctx, err)
	if err != nil {
		return
	}
	c.dirtyMu.Lock()
	for _, id := range batch {
		delete(c.dirty, id)
	}
	c.nDirty.Store(int64(len(c.dirty)))
	c.dirtyMu.Unlock()
	c.log.Info("deleted possibly stale cache entries", slog.Int("events", len(batch)))
}

// warnLimited logs a warning at most once per warnEvery for each kind.
func (c *Cache) warnLimited(kind, msg string, attrs ...any) {
	v, _ := c.lastWarn.LoadOrStore(kind, new(atomic.Int64))
	last := v.(*atomic.Int64)
	now := c.now().UnixNano()
	prev := last.Load()
	if prev != 0 && now-prev < int64(warnEvery) {
		return
	}
	if last.CompareAndSwap(prev, now) {
		c.log.Warn(msg, attrs...)
	}
}

// AnnounceEvent signals that an event was created (an HSET on its created key, which fires a
// keyspace notification), so open lists show it before it has a distribution. Like every cache
// write it follows the Postgres commit, and a Redis failure only delays the live update.
func (c *Cache) AnnounceEvent(ctx context.Context, eventID string) error {
	if !c.allow() {
		return ErrUnavailable
	}
	_, err := c.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, CreatedKey(eventID), "created", "1")
		p.Expire(ctx, CreatedKey(eventID), CreatedTTL)
		return nil
	})
	c.record(ctx, err)
	if err != nil {
		return fmt.Errorf("announce event %s: %w", eventID, err)
	}
	return nil
}
