package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/marketing-platform/distribution/internal/model"
)

// Channel circuit breakers shared by every replica (DESIGN.md "Redis"): one state per channel for
// the deployment, changed only by the Lua scripts below so every decision is atomic.
//
//	breaker:{NS:CH}        hash: state (closed | open | half-open), open_until (unix ms of the next
//	                    probe), probe_until (unix ms until which the running probe holds its slot; 0 =
//	                    none), opened_at, seq (call counter). No TTL: a few bytes per channel.
//	breaker:{NS:CH}:calls  sorted set: the channel calls of the last window, scored by unix ms, member
//	                    "<seq>:<s|f>:<eventId>"; PEXPIREd with the window.
//
// NS is the deployment: the PostgreSQL database name (one deployment = one database), so two
// deployments (or parallel test databases) sharing a Redis never share a breaker. The braces are a
// Redis Cluster hash tag: both keys of a channel live in one slot. Times come
// from the caller (the workers' clocks, NTP-synchronised): a replica's skew shifts a probe by that
// much, never more. The engine's per-process fallback (engine.localBreakers) implements the same
// rules in Go; the engine tests run one scenario against both.

// BreakerKey is the hash holding a channel's breaker state in deployment ns.
func BreakerKey(ns string, ch model.Channel) string { return "breaker:{" + ns + ":" + string(ch) + "}" }

// BreakerCallsKey is the sorted set of a channel's recent calls in deployment ns.
func BreakerCallsKey(ns string, ch model.Channel) string { return BreakerKey(ns, ch) + ":calls" }

// maxBreakerCalls bounds the calls remembered per channel (the window's volume past it adds nothing).
const maxBreakerCalls = 1000

// breakerAllowScript: ARGV now_ms, lease_ms. Returns {verdict, until_ms}: verdict "run" (closed),
// "probe" (this caller holds the half-open slot until until_ms) or "wait" (until until_ms).
var breakerAllowScript = redis.NewScript(`
local now, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'state', 'open_until', 'probe_until')
local state = v[1] or 'closed'
if state == 'closed' then return {'run', 0} end
local ou, pu = tonumber(v[2]) or 0, tonumber(v[3]) or 0
if now < ou then return {'wait', ou} end
if now < pu then return {'wait', pu} end
redis.call('HSET', KEYS[1], 'state', 'half-open', 'probe_until', now + lease)
return {'probe', now + lease}`)

// breakerRecordScript: ARGV now_ms, outcome (s|f|n), probe (1|0), event id, window_ms, min_calls,
// failure_percent, min_events, cooldown_ms, max_calls[, count: that many calls of this outcome at
// once, default 1]. Returns {state, open_until_ms, changed}.
var breakerRecordScript = redis.NewScript(`
local now, o, probe, ev = tonumber(ARGV[1]), ARGV[2], ARGV[3] == '1', ARGV[4]
local win, minCalls, pct, minEv, cool, maxN = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local v = redis.call('HMGET', KEYS[1], 'state', 'open_until')
local state, ou = v[1] or 'closed', tonumber(v[2]) or 0
if probe then redis.call('HSET', KEYS[1], 'probe_until', 0) end
if o == 'n' then return {state, ou, 0} end
if probe and state ~= 'closed' then
  if o == 's' then
    redis.call('HSET', KEYS[1], 'state', 'closed', 'open_until', 0)
    redis.call('DEL', KEYS[2])
    return {'closed', 0, 1}
  end
  ou = now + cool
  redis.call('HSET', KEYS[1], 'state', 'open', 'open_until', ou)
  return {'open', ou, 1}
end
local n = math.min(tonumber(ARGV[11]) or 1, maxN)
local seq = redis.call('HINCRBY', KEYS[1], 'seq', n)
for i = seq - n + 1, seq do redis.call('ZADD', KEYS[2], now, i .. ':' .. o .. ':' .. ev) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - win))
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -maxN - 1)
redis.call('PEXPIRE', KEYS[2], win)
if state ~= 'closed' or o ~= 'f' then return {state, ou, 0} end
local calls = redis.call('ZRANGE', KEYS[2], 0, -1)
local fails, nev, seen = 0, 0, {}
for _, m in ipairs(calls) do
  local kind, e = string.match(m, '^%d+:(%a):(.*)$')
  if kind == 'f' then
    fails = fails + 1
    if not seen[e] then seen[e] = true; nev = nev + 1 end
  end
end
if #calls >= minCalls and fails * 100 >= pct * #calls and nev >= minEv then
  ou = now + cool
  redis.call('HSET', KEYS[1], 'state', 'open', 'open_until', ou, 'opened_at', now, 'probe_until', 0)
  return {'open', ou, 1}
end
return {state, ou, 0}`)

// breakerProbeNowScript: ARGV now_ms. An open breaker's next probe becomes due now. Returns
// {state, open_until_ms}.
var breakerProbeNowScript = redis.NewScript(`
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'closed' then return {'closed', 0} end
redis.call('HSET', KEYS[1], 'open_until', ARGV[1])
return {state, tonumber(ARGV[1])}`)

// Breakers is the Redis store of the channels' circuit breakers (engine.BreakerStore). It does
// not use the Cache's own circuit: the engine falls back to per-process state on any error.
type Breakers struct {
	client *redis.Client
	ns     string
}

// NewBreakers returns the shared breaker store of deployment ns (the database name) on client.
func NewBreakers(client *redis.Client, ns string) *Breakers { return &Breakers{client: client, ns: ns} }

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(n int64) time.Time {
	if n <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

// replyPair reads a {string, integer[, integer]} script reply.
func replyPair(v any) (string, int64, int64, error) {
	a, ok := v.([]any)
	if !ok || len(a) < 2 {
		return "", 0, 0, fmt.Errorf("breaker script: unexpected reply %T", v)
	}
	s, _ := a[0].(string)
	n, _ := a[1].(int64)
	var c int64
	if len(a) > 2 {
		c, _ = a[2].(int64)
	}
	return s, n, c, nil
}

// Allow decides whether a call to ch may go ahead at now; a probe holds its slot for lease.
func (b *Breakers) Allow(ctx context.Context, ch model.Channel, now time.Time, lease time.Duration) (model.BreakerVerdict, error) {
	v, err := breakerAllowScript.Run(ctx, b.client, []string{BreakerKey(b.ns, ch)}, ms(now), lease.Milliseconds()).Result()
	if err != nil {
		return model.BreakerVerdict{}, fmt.Errorf("breaker allow %s: %w", ch, err)
	}
	verdict, until, _, err := replyPair(v)
	if err != nil {
		return model.BreakerVerdict{}, err
	}
	switch verdict {
	case "run":
		return model.BreakerVerdict{Run: true}, nil
	case "probe":
		return model.BreakerVerdict{Run: true, Probe: true, Until: fromMS(until)}, nil
	case "wait":
		return model.BreakerVerdict{Until: fromMS(until)}, nil
	}
	return model.BreakerVerdict{}, fmt.Errorf("breaker allow %s: unexpected verdict %q", ch, verdict)
}

// Record feeds the outcome of a call of eventID to ch (probe: the call held the half-open slot)
// and returns the state after it, changed when this call opened or closed the breaker.
func (b *Breakers) Record(ctx context.Context, ch model.Channel, eventID string, o model.BreakerOutcome, probe bool, now time.Time, r model.BreakerRules) (model.BreakerStatus, bool, error) {
	return b.record(ctx, ch, eventID, o, probe, 1, now, r)
}

// RecordSuccesses feeds n successful calls to ch at once (engine: the successes of a healthy
// channel, recorded in batches) and returns the state after them.
func (b *Breakers) RecordSuccesses(ctx context.Context, ch model.Channel, n int, now time.Time, r model.BreakerRules) (model.BreakerStatus, error) {
	st, _, err := b.record(ctx, ch, "", model.BreakerSuccess, false, max(n, 1), now, r)
	return st, err
}

// record runs breakerRecordScript for n calls with outcome o.
func (b *Breakers) record(ctx context.Context, ch model.Channel, eventID string, o model.BreakerOutcome, probe bool, n int, now time.Time, r model.BreakerRules) (model.BreakerStatus, bool, error) {
	p := "0"
	if probe {
		p = "1"
	}
	v, err := breakerRecordScript.Run(ctx, b.client, []string{BreakerKey(b.ns, ch), BreakerCallsKey(b.ns, ch)},
		ms(now), string(o), p, eventID, r.Window.Milliseconds(), r.MinCalls, r.FailurePercent, r.MinEvents,
		r.Cooldown.Milliseconds(), maxBreakerCalls, n).Result()
	if err != nil {
		return model.BreakerStatus{}, false, fmt.Errorf("breaker record %s: %w", ch, err)
	}
	state, until, changed, err := replyPair(v)
	if err != nil {
		return model.BreakerStatus{}, false, err
	}
	return model.BreakerStatus{Channel: ch, State: model.BreakerState(state), OpenUntil: fromMS(until)}, changed == 1, nil
}

// ProbeNow makes an open breaker's next probe due at now (staff's "probe now").
func (b *Breakers) ProbeNow(ctx context.Context, ch model.Channel, now time.Time) (model.BreakerStatus, error) {
	v, err := breakerProbeNowScript.Run(ctx, b.client, []string{BreakerKey(b.ns, ch)}, ms(now)).Result()
	if err != nil {
		return model.BreakerStatus{}, fmt.Errorf("breaker probe now %s: %w", ch, err)
	}
	state, until, _, err := replyPair(v)
	if err != nil {
		return model.BreakerStatus{}, err
	}
	return model.BreakerStatus{Channel: ch, State: model.BreakerState(state), OpenUntil: fromMS(until)}, nil
}

// Status reads ch's breaker. A half-open breaker reports the running probe's lease end (or now's
// due probe) as OpenUntil.
func (b *Breakers) Status(ctx context.Context, ch model.Channel) (model.BreakerStatus, error) {
	v, err := b.client.HMGet(ctx, BreakerKey(b.ns, ch), "state", "open_until", "probe_until").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return model.BreakerStatus{}, fmt.Errorf("breaker status %s: %w", ch, err)
	}
	st := model.BreakerStatus{Channel: ch, State: model.BreakerClosed}
	str := func(i int) string {
		if i < len(v) {
			s, _ := v[i].(string)
			return s
		}
		return ""
	}
	if s := str(0); s != "" {
		st.State = model.BreakerState(s)
	}
	if st.State == model.BreakerClosed {
		return st, nil
	}
	ou, _ := strconv.ParseInt(str(1), 10, 64)
	pu, _ := strconv.ParseInt(str(2), 10, 64)
	st.OpenUntil = fromMS(max(ou, pu))
	return st, nil
}
