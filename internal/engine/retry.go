package engine

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// RetryPolicy schedules automatic retries of a failed attempt: Base·2^(attempt-1) with ±20 %
// jitter, never more than Max. It implements river.ClientRetryPolicy; Delay and NextAt are pure
// functions of their inputs (and Rand), so tests pin the clock and the jitter.
type RetryPolicy struct {
	Base time.Duration
	Max  time.Duration
	// Now is the clock (default time.Now); Rand returns a number in [0, 1) (default math/rand/v2,
	// safe for concurrent use).
	Now  func() time.Time
	Rand func() float64

	// planned holds the times Plan promised, by (job id, attempt), until River asks NextRetry.
	planned sync.Map
}

type plannedKey struct {
	id      int64
	attempt int
}

// NextRetry is called by River after attempt job.Attempt failed. Snoozes and shutdown
// interruptions do not count: River gives their attempt back (job.Attempt is decremented).
func (p *RetryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	// A planned time already past (a delay of a few milliseconds) would be refused by River, which
	// then applies its own policy: compute a fresh one instead.
	if t, ok := p.planned.LoadAndDelete(plannedKey{job.ID, job.Attempt}); ok && t.(time.Time).After(time.Now()) {
		return t.(time.Time)
	}
	return p.nextRetry(job)
}

// Plan computes the next retry of a job whose attempt is failing, before River asks: the worker
// records it as the channel's next_attempt_at, and NextRetry then answers River the same time
// (jitter included).
func (p *RetryPolicy) Plan(job *rivertype.JobRow) time.Time {
	t := p.nextRetry(job)
	p.planned.Store(plannedKey{job.ID, job.Attempt}, t)
	return t
}

func (p *RetryPolicy) nextRetry(job *rivertype.JobRow) time.Time {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	return p.NextAt(now(), job.Attempt)
}

// NextAt returns when the retry after the failed attempt number attempt (1-based) should run.
func (p *RetryPolicy) NextAt(now time.Time, attempt int) time.Time { return now.Add(p.Delay(attempt)) }

// Delay returns the wait after the failed attempt number attempt (1-based).
func (p *RetryPolicy) Delay(attempt int) time.Duration {
	attempt = max(attempt, 1)
	d := float64(p.Base) * math.Pow(2, float64(attempt-1))
	r := rand.Float64
	if p.Rand != nil {
		r = p.Rand
	}
	d *= 0.8 + 0.4*r() // ±20 %
	if d > float64(p.Max) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(p.Max)
	}
	return max(time.Duration(d), time.Millisecond)
}
