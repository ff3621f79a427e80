package model

import "time"

// WaitingReason says why a channel that is not running waits (channel_status.waiting_reason,
// the API's "waitingReason"). A running or finished channel has none (nil).
type WaitingReason string

const (
	// WaitQueued: the job is queued and waits for a free worker (after a start, a retry, a rescue).
	WaitQueued WaitingReason = "queued"
	// WaitRetryBackoff: an attempt failed; the automatic retry runs at next_attempt_at.
	WaitRetryBackoff WaitingReason = "retry_backoff"
	// WaitRateLimited: the channel answered 429; the job runs again after its Retry-After.
	WaitRateLimited WaitingReason = "rate_limited"
	// WaitChannelPaused: the channel's circuit breaker is open; the job runs at its next probe.
	WaitChannelPaused WaitingReason = "channel_paused"
	// WaitQuietHours: the channel does not accept this kind of message now (KakaoTalk's quiet hours).
	WaitQuietHours WaitingReason = "quiet_hours"
	// WaitScheduled: the distribution is scheduled to start at next_attempt_at.
	WaitScheduled WaitingReason = "scheduled"
)

// WaitingReasons lists every reason (the database CHECK and the views' catalogue follow it).
var WaitingReasons = []WaitingReason{WaitQueued, WaitRetryBackoff, WaitRateLimited, WaitChannelPaused, WaitQuietHours, WaitScheduled}

// Valid reports whether r is a known reason.
func (r WaitingReason) Valid() bool {
	for _, k := range WaitingReasons {
		if r == k {
			return true
		}
	}
	return false
}

// BreakerState is the state of a channel's circuit breaker, one per channel for the deployment.
type BreakerState string

const (
	BreakerClosed   BreakerState = "closed"    // calls flow
	BreakerOpen     BreakerState = "open"      // calls wait until the next probe
	BreakerHalfOpen BreakerState = "half-open" // one probe call is let through; the others wait
)

// BreakerStates lists the states (the metric reports one series per state).
var BreakerStates = []BreakerState{BreakerClosed, BreakerOpen, BreakerHalfOpen}

// BreakerRules decide when a channel's breaker opens: at least MinCalls channel calls in the last
// Window, at least FailurePercent % of them failed on the channel's side (5xx, timeouts, resets),
// from at least MinEvents distinct events. An open breaker lets one probe through Cooldown after
// it opened; a probe holds its slot at most ProbeLease (a probe whose worker died frees it then).
type BreakerRules struct {
	MinCalls       int // negative = no breaker
	FailurePercent int
	MinEvents      int
	Window         time.Duration
	Cooldown       time.Duration
	ProbeLease     time.Duration
}

// DefaultBreakerRules are the rules of an empty environment (DESIGN.md "Environment").
func DefaultBreakerRules() BreakerRules {
	return BreakerRules{MinCalls: 5, FailurePercent: 50, MinEvents: 2, Window: time.Minute, Cooldown: 30 * time.Second, ProbeLease: 3 * time.Minute}
}

// WithDefaults fills zero fields from DefaultBreakerRules.
func (r BreakerRules) WithDefaults() BreakerRules {
	d := DefaultBreakerRules()
	if r.MinCalls == 0 {
		r.MinCalls = d.MinCalls
	}
	if r.FailurePercent <= 0 {
		r.FailurePercent = d.FailurePercent
	}
	if r.MinEvents <= 0 {
		r.MinEvents = d.MinEvents
	}
	if r.Window <= 0 {
		r.Window = d.Window
	}
	if r.Cooldown <= 0 {
		r.Cooldown = d.Cooldown
	}
	if r.ProbeLease <= 0 {
		r.ProbeLease = d.ProbeLease
	}
	return r
}

// Enabled reports whether the rules describe a breaker at all.
func (r BreakerRules) Enabled() bool { return r.MinCalls >= 0 }

// BreakerOutcome is how a channel call ended, as far as the breaker cares.
type BreakerOutcome string

const (
	BreakerSuccess BreakerOutcome = "s" // the channel works
	BreakerFailure BreakerOutcome = "f" // a channel-side failure: 5xx, timeout, reset
	BreakerNeutral BreakerOutcome = "n" // 4xx, 429, the caller gave up: says nothing about the channel
)

// BreakerVerdict answers "may this job call the channel now?": Run (Probe when it is the one
// half-open probe), or wait until Until.
type BreakerVerdict struct {
	Run   bool
	Probe bool
	Until time.Time // the wait's end (next probe time) when !Run; the probe's lease end when Probe
}

// BreakerStatus is a channel's breaker as the health strip and the metric show it.
type BreakerStatus struct {
	Channel   Channel
	State     BreakerState
	OpenUntil time.Time // the next probe time while open or half-open; zero when closed
}

// Paused reports whether calls to the channel are waiting.
func (s BreakerStatus) Paused() bool { return s.State == BreakerOpen || s.State == BreakerHalfOpen }
