package engine

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// The channels' circuit breaker (issue 13 point 1). It defers work, it never fails it: a job whose
// channel's breaker is open is snoozed until the next half-open probe (River gives the attempt
// back) and its channel keeps its status with waiting reason channel_paused. It opens on evidence
// about the channel, not about one event (model.BreakerRules: volume, failure rate, distinct
// events over a sliding window), counting only channel-side failures (channels.Temporary). One
// state per channel for the deployment lives in Redis (cache.Breakers); while Redis fails, each
// process falls back to its own state (localBreakers, the same rules) so channels keep flowing.

// BreakerStore keeps the breaker state of every channel (cache.Breakers for the deployment,
// localBreakers per process). Times come from the caller.
type BreakerStore interface {
	Allow(ctx context.Context, ch model.Channel, now time.Time, lease time.Duration) (model.BreakerVerdict, error)
	Record(ctx context.Context, ch model.Channel, eventID string, o model.BreakerOutcome, probe bool, now time.Time, r model.BreakerRules) (model.BreakerStatus, bool, error)
	// RecordSuccesses records n successful calls at once (a healthy channel's batch).
	RecordSuccesses(ctx context.Context, ch model.Channel, n int, now time.Time, r model.BreakerRules) (model.BreakerStatus, error)
	ProbeNow(ctx context.Context, ch model.Channel, now time.Time) (model.BreakerStatus, error)
	Status(ctx context.Context, ch model.Channel) (model.BreakerStatus, error)
}

// breakerTimeout bounds one shared-store call; past it the process's own state decides.
const breakerTimeout = 300 * time.Millisecond

// sharedRetryAfter is how long the shared store is skipped after it failed, so jobs do not each
// pay a timeout while Redis is down or hung (as internal/cache's own circuit does).
const sharedRetryAfter = time.Second

// Breaker is the engine's view of the channels' breakers: the shared store, with a per-process
// fallback while the store fails. The zero rules' MinCalls < 0 disables it (every call runs).
type Breaker struct {
	rules    model.BreakerRules
	shared   BreakerStore // nil = per-process only
	local    *localBreakers
	now      func() time.Time
	log      *slog.Logger
	lastWarn atomic.Int64
	// skipUntil is the unix nanos until which the shared store is not tried (0 = try it).
	skipUntil atomic.Int64
	healthy   healthyChannels
}

// A healthy channel's calls skip two shared-store round trips each.
//
// A closed breaker answers "run" to every call, and a success only adds to the volume of the
// window; at a thousand calls a second, asking and recording cost two Redis round trips and
// about 60 µs of Redis a call, a tenth of the engine's drain rate (make bench, engine drain with
// and without the breaker). So a channel that this process saw closed at its last recorded
// outcome, with no channel-side failure of its own within the window, is healthy for healthyFor:
//   - its calls run on that answer without asking;
//   - its successes are held and recorded together (RecordSuccesses) once successBatch old, by
//     the call that finds them so, or with the next outcome that is not a held success (a
//     failure is recorded after them, so the rate it is judged on counts them).
//
// Each record returns the state, which renews or ends the health. What it costs: when another
// replica's failures open the breaker, this process may start calls for up to healthyFor more
// (as calls already running when it opened go on), and the shared volume lags this process's
// successes by up to successBatch (a process that stops loses at most that many successes,
// which only makes the breaker quicker to open). A process that saw the channel fail within the
// window asks and records every call, as a probe does.
const (
	healthyFor   = 250 * time.Millisecond
	successBatch = 100 * time.Millisecond
)

// healthyChannels remembers, per channel, until when calls run without asking (closed and
// healthy at the last recorded outcome), this process's last channel-side failure, and the
// successes held for a batched record.
type healthyChannels struct {
	mu       sync.Mutex
	until    map[model.Channel]time.Time
	lastFail map[model.Channel]time.Time
	held     map[model.Channel]heldSuccesses
}

type heldSuccesses struct {
	n     int
	since time.Time
}

// hold keeps a success of healthy ch for a batched record (true), or, when ch is not healthy or
// its held successes are successBatch old, takes them: n counts them with this one (false).
func (h *healthyChannels) hold(ch model.Channel, now time.Time) (n int, held bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.init()
	x := h.held[ch]
	if now.Before(h.until[ch]) && (x.n == 0 || now.Sub(x.since) < successBatch) {
		if x.n == 0 {
			x.since = now
		}
		x.n++
		h.held[ch] = x
		return 0, true
	}
	delete(h.held, ch)
	return x.n + 1, false
}

// take returns and forgets ch's held successes.
func (h *healthyChannels) take(ch model.Channel) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.held[ch].n
	delete(h.held, ch)
	return n
}

// runs reports whether ch's calls may go ahead without asking the shared store at now.
func (h *healthyChannels) runs(ch model.Channel, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return now.Before(h.until[ch])
}

// note records an outcome recorded in the shared store and the state it returned.
func (h *healthyChannels) note(ch model.Channel, o model.BreakerOutcome, st model.BreakerStatus, now time.Time, window time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.init()
	if o == model.BreakerFailure {
		h.lastFail[ch] = now
	}
	if st.State != model.BreakerClosed || now.Sub(h.lastFail[ch]) < window {
		delete(h.until, ch)
		return
	}
	h.until[ch] = now.Add(healthyFor)
}

// init makes the maps of the zero value (h.mu held).
func (h *healthyChannels) init() {
	if h.until == nil {
		h.until, h.lastFail, h.held = map[model.Channel]time.Time{}, map[model.Channel]time.Time{}, map[model.Channel]heldSuccesses{}
	}
}

// forget ends ch's health: its next call asks (the shared store failed, or a person probed).
func (h *healthyChannels) forget(ch model.Channel) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.until, ch)
}

// useShared reports whether to try the shared store now.
func (b *Breaker) useShared() bool {
	return b.shared != nil && time.Now().UnixNano() >= b.skipUntil.Load()
}

// sharedFailed notes a failed shared-store call: the process's own state decides for a while.
func (b *Breaker) sharedFailed(msg string, err error) {
	b.skipUntil.Store(time.Now().Add(sharedRetryAfter).UnixNano())
	b.warn(msg, err)
}

// NewBreaker returns the breakers with rules (zero fields take model.DefaultBreakerRules) over
// shared (nil: per-process state only). now defaults to time.Now.
func NewBreaker(rules model.BreakerRules, shared BreakerStore, logger *slog.Logger, now func() time.Time) *Breaker {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Breaker{rules: rules.WithDefaults(), shared: shared, local: newLocalBreakers(), now: now,
		log: logger.With(slog.String("component", "breaker"))}
}

// Rules returns the rules in force.
func (b *Breaker) Rules() model.BreakerRules { return b.rules }

// breakerTicket is one Allow's answer, remembering which store gave it so the outcome goes back
// to the same one.
type breakerTicket struct {
	model.BreakerVerdict
	local bool
}

func (b *Breaker) warn(msg string, err error) {
	now := time.Now().UnixNano()
	last := b.lastWarn.Load()
	if now-last < int64(10*time.Second) || !b.lastWarn.CompareAndSwap(last, now) {
		return
	}
	b.log.Warn(msg, slog.String("error", err.Error()))
}

func storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), breakerTimeout)
}

// allow asks whether a call to ch may go ahead.
func (b *Breaker) allow(ctx context.Context, ch model.Channel) breakerTicket {
	if b == nil || !b.rules.Enabled() {
		return breakerTicket{BreakerVerdict: model.BreakerVerdict{Run: true}}
	}
	now := b.now()
	if b.useShared() {
		if b.healthy.runs(ch, now) {
			return breakerTicket{BreakerVerdict: model.BreakerVerdict{Run: true}}
		}
		sctx, cancel := storeCtx(ctx)
		v, err := b.shared.Allow(sctx, ch, now, b.rules.ProbeLease)
		cancel()
		if err == nil {
			return breakerTicket{BreakerVerdict: v}
		}
		b.sharedFailed("shared circuit breaker unavailable; deciding with this process's own state", err)
	}
	v, _ := b.local.Allow(ctx, ch, now, b.rules.ProbeLease)
	return breakerTicket{BreakerVerdict: v, local: true}
}

// done records the outcome of a call allowed by t; changed reports that it opened or closed the
// breaker (st is the state after it).
func (b *Breaker) done(ctx context.Context, t breakerTicket, ch model.Channel, eventID string, o model.BreakerOutcome) (st model.BreakerStatus, changed bool) {
	if b == nil || !b.rules.Enabled() {
		return model.BreakerStatus{Channel: ch, State: model.BreakerClosed}, false
	}
	now := b.now()
	if !t.local && b.shared != nil {
		// Always tried: the outcome of a shared verdict (a probe's above all) belongs there. A
		// healthy channel's successes go in batches (healthyChannels).
		sctx, cancel := storeCtx(ctx)
		defer cancel()
		var err error
		if o == model.BreakerSuccess && !t.Probe {
			n, held := b.healthy.hold(ch, now)
			if held {
				return model.BreakerStatus{Channel: ch, State: model.BreakerClosed}, false
			}
			st, err = b.shared.RecordSuccesses(sctx, ch, n, now, b.rules)
		} else {
			if n := b.healthy.take(ch); n > 0 {
				if _, err := b.shared.RecordSuccesses(sctx, ch, n, now, b.rules); err != nil {
					b.warn("could not record a healthy channel's successes in the shared circuit breaker", err)
				}
			}
			st, changed, err = b.shared.Record(sctx, ch, eventID, o, t.Probe, now, b.rules)
		}
		if err == nil {
			b.healthy.note(ch, o, st, now, b.rules.Window)
			b.logChange(st, changed)
			return st, changed
		}
		b.healthy.forget(ch)
		b.sharedFailed("shared circuit breaker unavailable; recording in this process's own state", err)
	}
	st, changed, _ = b.local.Record(ctx, ch, eventID, o, t.Probe && t.local, now, b.rules)
	b.logChange(st, changed)
	return st, changed
}

func (b *Breaker) logChange(st model.BreakerStatus, changed bool) {
	if changed {
		b.log.Warn("circuit breaker changed", slog.String("channel", string(st.Channel)), slog.String("to", string(st.State)),
			slog.Time("next_probe", st.OpenUntil))
	}
}

// ProbeNow makes a paused channel's next probe due now, in the shared store and this process's.
func (b *Breaker) ProbeNow(ctx context.Context, ch model.Channel) (model.BreakerStatus, error) {
	now := b.now()
	b.healthy.forget(ch)
	st, _ := b.local.ProbeNow(ctx, ch, now)
	if b.shared == nil {
		return st, nil
	}
	sctx, cancel := storeCtx(ctx)
	defer cancel()
	return b.shared.ProbeNow(sctx, ch, now)
}

// Status returns ch's breaker: the shared state, or this process's while the store fails.
func (b *Breaker) Status(ctx context.Context, ch model.Channel) model.BreakerStatus {
	if b.useShared() && b.rules.Enabled() {
		sctx, cancel := storeCtx(ctx)
		st, err := b.shared.Status(sctx, ch)
		cancel()
		if err == nil {
			return st
		}
		b.sharedFailed("shared circuit breaker unavailable; reporting this process's own state", err)
	}
	st, _ := b.local.Status(ctx, ch)
	return st
}

// Statuses returns every channel's breaker in display order.
func (b *Breaker) Statuses(ctx context.Context) []model.BreakerStatus {
	out := make([]model.BreakerStatus, len(model.AllChannels))
	for i, ch := range model.AllChannels {
		out[i] = b.Status(ctx, ch)
	}
	return out
}

// localBreakers is the per-process BreakerStore: the rules of cache.Breakers' scripts in Go.
type localBreakers struct {
	mu sync.Mutex
	m  map[model.Channel]*localBreaker
}

type localCall struct {
	at     time.Time
	failed bool
	event  string
}

type localBreaker struct {
	state      model.BreakerState
	openUntil  time.Time
	probeUntil time.Time
	calls      []localCall
}

func newLocalBreakers() *localBreakers { return &localBreakers{m: map[model.Channel]*localBreaker{}} }

func (l *localBreakers) get(ch model.Channel) *localBreaker {
	b, ok := l.m[ch]
	if !ok {
		b = &localBreaker{state: model.BreakerClosed}
		l.m[ch] = b
	}
	return b
}

func (l *localBreakers) Allow(_ context.Context, ch model.Channel, now time.Time, lease time.Duration) (model.BreakerVerdict, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.get(ch)
	switch {
	case b.state == model.BreakerClosed:
		return model.BreakerVerdict{Run: true}, nil
	case now.Before(b.openUntil):
		return model.BreakerVerdict{Until: b.openUntil}, nil
	case now.Before(b.probeUntil):
		return model.BreakerVerdict{Until: b.probeUntil}, nil
	}
	b.state, b.probeUntil = model.BreakerHalfOpen, now.Add(lease)
	return model.BreakerVerdict{Run: true, Probe: true, Until: b.probeUntil}, nil
}

func (l *localBreakers) Record(_ context.Context, ch model.Channel, eventID string, o model.BreakerOutcome, probe bool, now time.Time, r model.BreakerRules) (model.BreakerStatus, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.get(ch)
	st := func(changed bool) (model.BreakerStatus, bool, error) {
		return model.BreakerStatus{Channel: ch, State: b.state, OpenUntil: b.openUntil}, changed, nil
	}
	if probe {
		b.probeUntil = time.Time{}
	}
	if o == model.BreakerNeutral {
		return st(false)
	}
	if probe && b.state != model.BreakerClosed {
		if o == model.BreakerSuccess {
			b.state, b.openUntil, b.calls = model.BreakerClosed, time.Time{}, nil
			return st(true)
		}
		b.state, b.openUntil = model.BreakerOpen, now.Add(r.Cooldown)
		return st(true)
	}
	b.calls = append(b.calls, localCall{at: now, failed: o == model.BreakerFailure, event: eventID})
	cut := now.Add(-r.Window)
	i := 0
	for i < len(b.calls) && b.calls[i].at.Before(cut) {
		i++
	}
	b.calls = b.calls[i:]
	if n := len(b.calls) - maxLocalCalls; n > 0 {
		b.calls = b.calls[n:]
	}
	if b.state != model.BreakerClosed || o != model.BreakerFailure {
		return st(false)
	}
	if windowTrips(b.calls, r) {
		b.state, b.openUntil, b.probeUntil = model.BreakerOpen, now.Add(r.Cooldown), time.Time{}
		return st(true)
	}
	return st(false)
}

// maxLocalCalls mirrors cache's maxBreakerCalls.
const maxLocalCalls = 1000

// windowTrips applies the opening rule to the calls of the window.
func windowTrips(calls []localCall, r model.BreakerRules) bool {
	fails := 0
	events := map[string]bool{}
	for _, c := range calls {
		if c.failed {
			fails++
			events[c.event] = true
		}
	}
	return len(calls) >= r.MinCalls && fails*100 >= r.FailurePercent*len(calls) && len(events) >= r.MinEvents
}

func (l *localBreakers) ProbeNow(_ context.Context, ch model.Channel, now time.Time) (model.BreakerStatus, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.get(ch)
	if b.state != model.BreakerClosed {
		b.openUntil = now
	}
	return model.BreakerStatus{Channel: ch, State: b.state, OpenUntil: b.openUntil}, nil
}

func (l *localBreakers) Status(_ context.Context, ch model.Channel) (model.BreakerStatus, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.get(ch)
	st := model.BreakerStatus{Channel: ch, State: b.state}
	if b.state != model.BreakerClosed {
		st.OpenUntil = b.openUntil
		if b.probeUntil.After(st.OpenUntil) {
			st.OpenUntil = b.probeUntil
		}
	}
	return st, nil
}
