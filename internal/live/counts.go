package live

import (
	"context"
	"sync"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// countsTTL is how long the list's status counts are reused. Counting is a GROUP BY over every
// distribution (about 10 ms at 100,000 events); paying it on every page load and every live
// re-render would dominate the list's latency, and a summary a second or two old is fine: the
// rows themselves are always current.
const countsTTL = 2 * time.Second

// countsCache shares one status count among all requests of a process for countsTTL. Concurrent
// callers of an expired entry wait for the one refresh instead of each running the query.
type countsCache struct {
	mu     sync.Mutex
	at     time.Time
	counts map[model.OverallStatus]int
	total  int
}

// StatusCounts returns the per-status distribution counts and the event total, at most countsTTL old.
func (h *Streams) StatusCounts(ctx context.Context) (map[model.OverallStatus]int, int, error) {
	return h.statusCounts(ctx, time.Now().Add(-countsTTL))
}

// statusCounts returns the counts as read by a count that started after since: the shared ones
// when they are that fresh, else a new count (shared with the callers waiting meanwhile). A list
// feed that heard of a change at t asks for counts since t, so the counts it shows include the
// change; counts cached a moment before it would not (a row at 80 % beside "in progress 0").
func (h *Streams) statusCounts(ctx context.Context, since time.Time) (map[model.OverallStatus]int, int, error) {
	c := &h.counts
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts != nil && c.at.After(since) {
		return c.counts, c.total, nil
	}
	at := time.Now() // the count sees every change committed before it starts
	counts, total, err := h.deps.Store.CountEventsByStatus(ctx)
	if err != nil {
		return nil, 0, err
	}
	c.counts, c.total, c.at = counts, total, at
	return counts, total, nil
}
