package engine

import (
	"context"

	"github.com/marketing-platform/distribution/internal/model"
)

// Ticket is one Allow's answer (tests drive the breaker as runChannel does).
type Ticket = breakerTicket

// Allow is runChannel's question to the breaker.
func (b *Breaker) Allow(ctx context.Context, ch model.Channel) Ticket { return b.allow(ctx, ch) }

// Done is runChannel's report of the call's outcome.
func (b *Breaker) Done(ctx context.Context, t Ticket, ch model.Channel, eventID string, o model.BreakerOutcome) (model.BreakerStatus, bool) {
	return b.done(ctx, t, ch, eventID, o)
}

// Local reports whether the ticket came from the per-process fallback.
func (t Ticket) Local() bool { return t.local }
