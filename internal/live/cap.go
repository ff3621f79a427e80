package live

import (
	"sync"

	"github.com/marketing-platform/distribution/internal/model"
)

// Streams cannot multiply the database's work (RELIABILITY.md S7): every principal (a
// user, or an API token) holds at most Deps.MaxStreamsPerUser open streams, list and detail
// together, in this process.
//
// Beyond the cap the principal's OLDEST stream is closed, rather than the new one refused with
// 429: a person with many tabs must never be locked out of the tab they are looking at, and the
// oldest stream is most likely a tab in the background. Datastar pauses the streams of hidden
// tabs and reconnects them when the tab is shown again, so a closed background tab comes back by
// itself (taking the slot of the then-oldest one). Only someone with more visible tabs than the
// cap sees them take turns being live. A client that opens streams in a loop gains nothing: it
// keeps at most the cap open, and each of them shares its read with every other stream of the
// same view (feed_list.go, feed_detail.go).

// DefaultMaxStreamsPerUser is the cap when Deps.MaxStreamsPerUser is zero.
const DefaultMaxStreamsPerUser = 32

// streamOwner is whose streams are counted together.
type streamOwner struct {
	userID, tokenID int64
}

// streamSlot is one open stream's place in its owner's list.
type streamSlot struct {
	evict chan struct{} // closed when a newer stream of the owner took the slot
}

// streamSlots is the registry of open streams by owner, oldest first.
type streamSlots struct {
	mu   sync.Mutex
	open map[streamOwner][]*streamSlot
}

func newStreamSlots() *streamSlots {
	return &streamSlots{open: map[streamOwner][]*streamSlot{}}
}

// acquire registers a new stream of o and closes the oldest ones beyond max. The returned
// channel is closed when this stream is evicted in turn; release must be called when it ends.
func (r *streamSlots) acquire(o streamOwner, max int) (evicted <-chan struct{}, release func()) {
	s := &streamSlot{evict: make(chan struct{})}
	r.mu.Lock()
	list := append(r.open[o], s)
	for len(list) > max {
		close(list[0].evict)
		list[0] = nil
		list = list[1:]
	}
	r.open[o] = list
	r.mu.Unlock()
	return s.evict, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		list := r.open[o]
		for i, x := range list {
			if x == s {
				list = append(list[:i:i], list[i+1:]...) // a copy: evictions hold no alias
				break
			}
		}
		if len(list) == 0 {
			delete(r.open, o)
		} else {
			r.open[o] = list
		}
	}
}

// streamSlot takes a stream slot for principal p (tokens are counted by token id); without a
// principal (routes are authenticated, so never in practice) the stream is not counted.
func (h *Streams) streamSlot(p model.Principal, ok bool) (evicted <-chan struct{}, release func()) {
	if !ok || (p.UserID == 0 && p.TokenID == 0) {
		return nil, func() {}
	}
	return h.slots.acquire(streamOwner{userID: p.UserID, tokenID: p.TokenID}, h.deps.MaxStreamsPerUser)
}
