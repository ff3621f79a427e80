// Package live owns the live updates of the dashboard, from a Redis notification to an SSE patch:
// the hub (this file: the one Redis keyspace-notification subscription of a process, signalling
// any number of subscribers), the feeds that read and render once per view, the streams (one per
// browser connection), the SSE writer, the per-user stream cap and the wake-ups on principal
// changes (streams.go names each part). It imports model and views (to render), never handlers,
// web or db: it reads through the small interfaces of streams.go.
//
// A notification is only a hint that a key changed (its payload is a command name): subscribers
// re-read the source of truth when signalled, never trust a signal as data. Notifications are
// fire-and-forget, so every reconnection to Redis is followed by a Resync signal to every subscriber:
// whatever changed while the hub was deaf is healed by re-reading.
//
// The contract for a stream is: subscribe first, then render, then loop.
//
//	sub := hub.Subscribe(live.Filter{EventIDs: []string{id}})
//	defer sub.Unsubscribe()
//	render(full state, hub.State())          // anything changing from here on signals sub
//	for {
//		select {
//		case <-ctx.Done():
//			return
//		case sig, ok := <-sub.C():
//			if !ok { return }                // hub stopped
//			// sig.Resync: re-read everything shown; else re-read sig.EventIDs; show sig.State
//		}
//	}
//
// Rendering before subscribing loses the changes made in between.
//
// Delivery never blocks the hub: each subscriber has a channel of capacity one holding at most one
// pending Signal. When a new signal finds the previous one unread, the two are merged (event ids
// united, Resync sticky, newest State), so a burst of notifications reaches a slow subscriber as one
// signal, and a subscriber that fell far behind gets a single Resync instead of an unbounded queue.
// The hub runs two goroutines (Redis reader, dispatcher) whatever the number of subscribers.
//
// The package does not know the Redis key formats: the cache package supplies the patterns to
// subscribe to and the function that maps a notification channel to an event id.
package live

// One file on purpose: the hub's reader, inbox and dispatcher share one set of locks and counters,
// and the subscribe-render-loop contract above is only checkable with all three in view.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Connection states of the hub, also used as the UI's data-live-state values.
const (
	StateConnected    = "connected"
	StateReconnecting = "reconnecting"
)

// Options configure a Hub. Zero values take the defaults noted on each field.
type Options struct {
	// Patterns are the keyspace-notification patterns to PSUBSCRIBE to, e.g.
	// "__keyspace@0__:event:*" (built by the cache package from the Redis URL's DB index). Required.
	Patterns []string
	// EventIDOf maps a notification channel name to the event id it concerns; ok=false ignores the
	// notification. Called on the reader goroutine. Required.
	EventIDOf func(channel string) (eventID string, ok bool)
	// Coalesce is how long the dispatcher gathers notifications after the first one of a batch
	// before fanning out, so MULTI{HSET,EXPIRE} or a write burst becomes one signal even for fast
	// subscribers. Default 10ms; negative disables (fan out at once).
	Coalesce time.Duration
	// SubscriberBuffer caps the distinct event ids one pending Signal may carry; beyond it the
	// signal collapses into a Resync. Default 64.
	SubscriberBuffer int
	// HealthInterval: when nothing arrived for this long the hub PINGs Redis. Default 1s.
	HealthInterval time.Duration
	// PingTimeout: when nothing (not even the PONG) arrived this long after a PING, the connection
	// is declared dead (hung server, lost network) and replaced. Default 2s.
	PingTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the doubling wait between reconnection attempts.
	// Defaults 50ms and 1s.
	ReconnectMin, ReconnectMax time.Duration
	// StartTimeout bounds how long Start waits for the first subscription confirmation. Default 3s.
	StartTimeout time.Duration
	// MaxPendingEvents caps the distinct event ids the dispatcher holds between two fan-outs;
	// beyond it every subscriber gets a Resync. Default 10,000.
	MaxPendingEvents int
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.Coalesce, 10*time.Millisecond)
	def(&o.HealthInterval, time.Second)
	def(&o.PingTimeout, 2*time.Second)
	def(&o.ReconnectMin, 50*time.Millisecond)
	def(&o.ReconnectMax, time.Second)
	def(&o.StartTimeout, 3*time.Second)
	if o.SubscriberBuffer <= 0 {
		o.SubscriberBuffer = 64
	}
	if o.MaxPendingEvents <= 0 {
		o.MaxPendingEvents = 10_000
	}
	// Dedupe: Redis confirms each pattern argument, and the hub counts confirmations.
	seen := map[string]bool{}
	var ps []string
	for _, p := range o.Patterns {
		if p != "" && !seen[p] {
			seen[p] = true
			ps = append(ps, p)
		}
	}
	o.Patterns = ps
	return o
}

func (o Options) validate() error {
	if len(o.Patterns) == 0 {
		return errors.New("live: no notification patterns")
	}
	if o.EventIDOf == nil {
		return errors.New("live: EventIDOf is required")
	}
	if o.ReconnectMax < o.ReconnectMin {
		return errors.New("live: ReconnectMax is below ReconnectMin")
	}
	return nil
}

// Hub holds the process's keyspace-notification subscription and its subscribers.
type Hub struct {
	client *redis.Client
	opts   Options
	log    *slog.Logger

	state atomic.Value // string

	// lifecycle
	lifeMu    sync.Mutex
	started   bool
	stopped   bool
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	ps        *redis.PubSub // guarded by lifeMu; replaced when a hung connection is dropped
	firstUp   chan struct{} // closed once the first "connected" has been fanned out
	everUp    bool          // reader goroutine only
	announced bool          // dispatcher goroutine only

	in inbox

	// subscriber index, guarded by mu
	mu       sync.RWMutex
	subs     map[*Subscription]struct{}
	byEvent  map[string]map[*Subscription]struct{}
	all      map[*Subscription]struct{}
	matchers map[*Subscription]struct{}
	closed   bool // hub stopped: new subscriptions are born closed

	stats counters
}

type counters struct {
	notifications, ignored, signals, coalesced, overflows, reconnects, resyncs atomic.Uint64
}

// Stats are counters for tests and diagnostics.
type Stats struct {
	Subscribers   int    // open subscriptions
	Notifications uint64 // keyspace notifications received
	Ignored       uint64 // notifications EventIDOf rejected
	Signals       uint64 // signals placed in an empty subscriber slot
	Coalesced     uint64 // signals merged into one still unread
	Overflows     uint64 // pending signals or batches collapsed into a Resync
	Resyncs       uint64 // Resync signals delivered to subscribers (reconnects and overflows)
	Reconnects    uint64 // confirmed re-subscriptions after a lost connection
}

// NewHub returns a hub reading keyspace notifications through client. Nothing happens before Start.
func NewHub(client *redis.Client, opts Options, logger *slog.Logger) *Hub {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Hub{
		client:   client,
		opts:     opts.withDefaults(),
		log:      logger.With(slog.String("component", "live")),
		firstUp:  make(chan struct{}),
		subs:     map[*Subscription]struct{}{},
		byEvent:  map[string]map[*Subscription]struct{}{},
		all:      map[*Subscription]struct{}{},
		matchers: map[*Subscription]struct{}{},
	}
	h.state.Store(StateReconnecting)
	h.in.init()
	return h
}

// State reports the notification connection: StateConnected or StateReconnecting.
func (h *Hub) State() string { return h.state.Load().(string) }

// Stats returns a snapshot of the hub's counters.
func (h *Hub) Stats() Stats {
	h.mu.RLock()
	n := len(h.subs)
	h.mu.RUnlock()
	return Stats{
		Subscribers:   n,
		Notifications: h.stats.notifications.Load(),
		Ignored:       h.stats.ignored.Load(),
		Signals:       h.stats.signals.Load(),
		Coalesced:     h.stats.coalesced.Load(),
		Overflows:     h.stats.overflows.Load(),
		Resyncs:       h.stats.resyncs.Load(),
		Reconnects:    h.stats.reconnects.Load(),
	}
}

// Start subscribes to the notification patterns and runs the hub until Stop or until ctx is
// cancelled (Stop is still needed then, to close the subscribers' channels). It waits (at most StartTimeout) for Redis to confirm the subscription, but an
// unreachable Redis is not an error: the hub keeps reconnecting, State reports it, and subscribers
// get a Resync once it is back (pages keep working from PostgreSQL meanwhile).
func (h *Hub) Start(ctx context.Context) error {
	if err := h.opts.validate(); err != nil {
		return err
	}
	h.lifeMu.Lock()
	if h.started || h.stopped {
		h.lifeMu.Unlock()
		return errors.New("live: hub already started")
	}
	h.started = true
	runCtx, cancel := context.WithCancel(ctx)
	h.cancel = cancel
	h.ps = h.client.PSubscribe(runCtx) // no patterns yet: no dial, Stop can close it at once
	ps := h.ps
	h.lifeMu.Unlock()

	h.wg.Add(2)
	go func() { defer h.wg.Done(); h.dispatch(runCtx) }()
	go func() { defer h.wg.Done(); h.read(runCtx, ps) }()

	t := time.NewTimer(h.opts.StartTimeout)
	defer t.Stop()
	select {
	case <-h.firstUp:
	case <-t.C:
		h.log.Warn("live: redis notifications not confirmed yet; retrying in the background",
			slog.Duration("waited", h.opts.StartTimeout))
	case <-ctx.Done():
	}
	return nil
}

// Stop ends the subscription, waits for the hub's goroutines and closes every subscriber's channel.
// It is safe to call more than once, and before Start. It returns at once unless the reader is in
// the middle of dialling a hung server, which the client's dial and read timeouts bound.
func (h *Hub) Stop() {
	h.lifeMu.Lock()
	if h.stopped {
		h.lifeMu.Unlock()
		return
	}
	h.stopped = true
	ps := h.ps
	h.ps = nil
	if h.cancel != nil {
		h.cancel()
	}
	h.lifeMu.Unlock()
	if ps != nil {
		// Closing the connection unblocks a pending read at once (a read ignores ctx).
		_ = ps.Close()
	}
	h.wg.Wait()

	h.mu.Lock()
	h.closed = true
	subs := h.subs
	h.subs = map[*Subscription]struct{}{}
	clear(h.byEvent)
	clear(h.all)
	clear(h.matchers)
	h.mu.Unlock()
	for s := range subs {
		s.close()
	}
}

// read owns the PubSub: it receives notifications, keeps the connection healthy and tracks state.
//
// Why not ChannelWithSubscriptions: its goroutine swallows every Receive error (it retries every
// 100ms without telling anyone), so the hub could not show "reconnecting", and its health check
// only notices a failing PING write, never a hung server. Here the same go-redis machinery is used
// directly: a failed read makes PubSub drop the connection and redial (releaseConn -> reconnect),
// every new connection re-sends PSUBSCRIBE for all patterns before anything else is written, so the
// first replies on it are the confirmations; a timed-out read is not a bad connection, so quiet
// periods cost nothing.
func (h *Hub) read(ctx context.Context, ps *redis.PubSub) {
	// Stop closes the PubSub too (to interrupt a read); this covers a cancelled ctx.
	defer func() { _ = ps.Close() }()
	n := len(h.opts.Patterns)
	if err := ps.PSubscribe(ctx, h.opts.Patterns...); err != nil && ctx.Err() == nil {
		// Patterns are recorded even when the dial failed: the next Receive redials and resubscribes.
		h.lost(err)
	}
	var (
		backoff   = h.opts.ReconnectMin
		lastRx    = time.Now()
		pingSent  bool
		confirmed = 0 // psubscribe confirmations seen on the current connection, 0 = unknown
	)
	for {
		if ctx.Err() != nil {
			return
		}
		msg, err := ps.ReceiveTimeout(ctx, h.opts.HealthInterval)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
				return
			}
			if isTimeout(err) {
				// A quiet connection (or a dial to a hung server timing out).
				quiet := time.Since(lastRx)
				switch {
				case quiet >= h.opts.HealthInterval+h.opts.PingTimeout:
					// Writes are accepted but nothing comes back: replace the connection.
					h.lost(fmt.Errorf("redis silent for %s", quiet.Round(time.Millisecond)))
					confirmed = 0
					pingSent = false
					lastRx = time.Now()
					if ps = h.replace(ctx, ps); ps == nil {
						return
					}
				case quiet >= h.opts.HealthInterval && !pingSent:
					pingSent = true
					if err := ps.Ping(ctx); err != nil && ctx.Err() == nil {
						h.lost(err)
						confirmed = 0
					}
				}
				continue
			}
			// A broken connection: go-redis has already closed it and tried one redial; wait, then
			// let the next Receive dial again.
			h.lost(err)
			confirmed = 0
			pingSent = false
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, h.opts.ReconnectMax)
			continue
		}
		lastRx = time.Now()
		pingSent = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "psubscribe" {
				continue
			}
			confirmed = m.Count
			if confirmed >= n {
				backoff = h.opts.ReconnectMin
				h.up()
			}
		case *redis.Message:
			if confirmed == 0 {
				// Data without confirmations after an error: the connection survived the error
				// (e.g. an unparsable reply), but something may have been lost with it.
				confirmed = n
				h.up()
			}
			h.stats.notifications.Add(1)
			id, ok := h.opts.EventIDOf(m.Channel)
			if !ok {
				h.stats.ignored.Add(1)
				continue
			}
			h.in.addEvent(id, h.opts.MaxPendingEvents, &h.stats)
		case *redis.Pong:
			if confirmed == 0 {
				confirmed = n
				h.up()
			}
		}
	}
}

// replace closes a PubSub whose connection hung and subscribes on a fresh one. It returns nil
// when the hub is stopping.
func (h *Hub) replace(ctx context.Context, old *redis.PubSub) *redis.PubSub {
	_ = old.Close()
	ps := h.client.PSubscribe(ctx) // no dial yet
	h.lifeMu.Lock()
	if h.stopped {
		h.lifeMu.Unlock()
		_ = ps.Close()
		return nil
	}
	h.ps = ps
	h.lifeMu.Unlock()
	// Dials (bounded by the client's dial/read timeouts); a failure is retried by the next Receive.
	_ = ps.PSubscribe(ctx, h.opts.Patterns...)
	return ps
}

// up records a confirmed subscription. Every transition into connected is followed by a Resync:
// notifications sent while the hub was not subscribed are lost for good.
func (h *Hub) up() {
	if h.State() == StateConnected {
		return
	}
	h.state.Store(StateConnected)
	if h.everUp {
		h.stats.reconnects.Add(1)
		h.log.Info("live: redis notifications resubscribed; resyncing subscribers")
	} else {
		h.everUp = true
		h.log.Info("live: redis notifications subscribed")
	}
	h.in.setState(true)
}

func (h *Hub) lost(err error) {
	if h.State() == StateReconnecting {
		h.log.Debug("live: redis notifications still unavailable", slog.String("error", err.Error()))
		return
	}
	h.state.Store(StateReconnecting)
	h.log.Warn("live: redis notifications lost; reconnecting", slog.String("error", err.Error()))
	h.in.setState(false)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// sleep waits d or until ctx is done; it reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
