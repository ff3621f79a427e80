package live

import (
	"context"
	"testing"
	"time"
)

// A list feed that heard of a change asks for counts read after it: the shared counts cached a
// moment before the change are not enough (a row at 80 % beside "in progress 0"), counts read
// after it are shared, and a page load still takes the cached counts.
func TestStatusCountsAfterAChange(t *testing.T) {
	t.Parallel()
	store := &countingStore{}
	h := NewStreams(Config{Store: store})
	ctx := context.Background()
	if _, total, _ := h.StatusCounts(ctx); total != 1 {
		t.Fatalf("first count %d", total)
	}
	heard := time.Now() // a distribution started after that count
	if _, total, _ := h.StatusCounts(ctx); total != 1 {
		t.Errorf("a page load recounted: %d", total)
	}
	if _, total, _ := h.statusCounts(ctx, heard); total != 2 {
		t.Errorf("counts for a change heard after the cached count: %d, want a new count", total)
	}
	if _, total, _ := h.statusCounts(ctx, heard); total != 2 || store.calls.Load() != 2 {
		t.Errorf("a second feed that heard the same change recounted: %d (%d counts)", total, store.calls.Load())
	}
}
