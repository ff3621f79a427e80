package live

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
)

// countingStore answers CountEventsByStatus and counts the calls; the rest of Store is unused.
type countingStore struct {
	Store
	calls atomic.Int32
}

func (s *countingStore) CountEventsByStatus(context.Context) (map[model.OverallStatus]int, int, error) {
	n := int(s.calls.Add(1))
	return map[model.OverallStatus]int{model.OverallCompleted: n}, n, nil
}

func TestStatusCountsAreSharedForAMoment(t *testing.T) {
	t.Parallel()
	store := &countingStore{}
	h := NewStreams(Config{Store: store})
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, total, err := h.StatusCounts(context.Background()); err != nil || total != 1 {
				t.Errorf("StatusCounts = %d, %v; want the first count", total, err)
			}
		}()
	}
	wg.Wait()
	if n := store.calls.Load(); n != 1 {
		t.Fatalf("50 concurrent page loads ran the count %d times, want 1", n)
	}
	// Expired: the next load counts again.
	h.counts.mu.Lock()
	h.counts.at = h.counts.at.Add(-countsTTL)
	h.counts.mu.Unlock()
	if _, total, _ := h.StatusCounts(context.Background()); total != 2 || store.calls.Load() != 2 {
		t.Fatalf("after expiry total = %d with %d calls, want a fresh count", total, store.calls.Load())
	}
}
