package channels

import (
	"sync"
	"time"
)

// BreakerState is the state of a channel's circuit breaker.
type BreakerState string

const (
	BreakerClosed   BreakerState = "closed"    // calls flow
	BreakerOpen     BreakerState = "open"      // calls are refused until the cool-down ends
	BreakerHalfOpen BreakerState = "half-open" // one probe call is let through
)

// outcome is how a call ended, as far as the breaker cares.
type outcome int

const (
	outcomeSuccess outcome = iota // the channel works: close
	outcomeFailure                // a Temporary failure: count, maybe open
	outcomeNeutral                // RateLimited, Permanent, caller gave up: says nothing about health
)

// breaker stops calls to a channel after threshold consecutive Temporary failures, for
// cooldown; then lets one probe through (half-open): success closes it, failure re-opens it.
// A threshold below 1 disables it.
type breaker struct {
	threshold int
	cooldown  time.Duration
	now       func() time.Time
	onChange  func(from, to BreakerState)

	mu       sync.Mutex
	state    BreakerState
	failures int
	openedAt time.Time
	probing  bool
}

func newBreaker(threshold int, cooldown time.Duration, now func() time.Time, onChange func(from, to BreakerState)) *breaker {
	return &breaker{threshold: threshold, cooldown: cooldown, now: now, onChange: onChange, state: BreakerClosed}
}

// allow reports whether a call may go ahead; when it returns true the caller must call done.
func (b *breaker) allow() bool {
	if b.threshold < 1 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerOpen:
		if b.now().Sub(b.openedAt) < b.cooldown {
			return false
		}
		b.setLocked(BreakerHalfOpen)
		fallthrough
	case BreakerHalfOpen:
		if b.probing {
			return false
		}
		b.probing = true
	}
	return true
}

func (b *breaker) done(o outcome) {
	if b.threshold < 1 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	switch o {
	case outcomeSuccess:
		b.failures = 0
		b.setLocked(BreakerClosed)
	case outcomeFailure:
		b.failures++
		if b.state == BreakerHalfOpen || b.failures >= b.threshold {
			b.openedAt = b.now()
			b.setLocked(BreakerOpen)
		}
	}
}

func (b *breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

func (b *breaker) setLocked(s BreakerState) {
	if b.state != s {
		from := b.state
		b.state = s
		if b.onChange != nil {
			b.onChange(from, s)
		}
	}
}
