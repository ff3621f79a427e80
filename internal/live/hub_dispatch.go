package live

import (
	"context"
	"slices"
	"sync"
	"time"
)

// The hub's delivery side: notifications collect in an inbox, and one goroutine hands each
// subscriber the merged signal of what changed (a batch per coalescing window).

// inbox hands the reader's findings to the dispatcher without ever blocking the reader: a bounded
// set of dirty event ids plus sticky resync/state flags, and a wake-up token.
type inbox struct {
	mu       sync.Mutex
	ids      map[string]struct{}
	order    []string
	firstAt  time.Time
	resync   bool
	stateNew bool
	wake     chan struct{}
}

func (in *inbox) init() {
	in.ids = map[string]struct{}{}
	in.wake = make(chan struct{}, 1)
}

func (in *inbox) poke() {
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

func (in *inbox) addEvent(id string, max int, st *counters) {
	in.mu.Lock()
	if !in.resync {
		if _, ok := in.ids[id]; !ok {
			if len(in.order) >= max {
				st.overflows.Add(1)
				in.resync = true
				clear(in.ids)
				in.order = nil
			} else {
				if len(in.order) == 0 {
					in.firstAt = time.Now()
				}
				in.ids[id] = struct{}{}
				in.order = append(in.order, id)
			}
		}
	}
	in.mu.Unlock()
	in.poke()
}

func (in *inbox) setState(resync bool) {
	in.mu.Lock()
	in.stateNew = true
	if resync {
		in.resync = true
		clear(in.ids)
		in.order = nil
	}
	in.mu.Unlock()
	in.poke()
}

type batch struct {
	ids      []string
	resync   bool
	stateNew bool
}

// take empties the inbox, unless only event ids are pending and their coalescing window is still
// open: then it returns how long to wait.
func (in *inbox) take(window time.Duration) (batch, time.Duration) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.resync && !in.stateNew && len(in.order) > 0 && window > 0 {
		if wait := time.Until(in.firstAt.Add(window)); wait > 0 {
			return batch{}, wait
		}
	}
	b := batch{ids: in.order, resync: in.resync, stateNew: in.stateNew}
	in.order = nil
	clear(in.ids)
	in.resync, in.stateNew = false, false
	return b, 0
}

// dispatch fans batches out to subscribers.
func (h *Hub) dispatch(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.in.wake:
		}
		for {
			b, wait := h.in.take(h.opts.Coalesce)
			if wait == 0 {
				h.deliverBatch(b)
				break
			}
			if !sleep(ctx, wait) {
				return
			}
		}
	}
}

func (h *Hub) deliverBatch(b batch) {
	if len(b.ids) == 0 && !b.resync && !b.stateNew {
		return
	}
	state := h.State()
	h.mu.RLock()
	defer h.mu.RUnlock()
	if b.resync || b.stateNew {
		sig := Signal{Resync: b.resync, State: state}
		for s := range h.subs {
			h.deliver(s, sig)
		}
		if state == StateConnected && !h.announced {
			// Start returns after this: subscribers made later see no stale first-connect signal.
			h.announced = true
			close(h.firstUp)
		}
		if b.resync {
			return // a Resync covers every id
		}
	}
	if len(b.ids) == 0 {
		return
	}
	if len(h.all) > 0 {
		sig := Signal{EventIDs: b.ids, State: state}
		for s := range h.all {
			h.deliver(s, sig)
		}
	}
	for _, id := range b.ids {
		set := h.byEvent[id]
		matched := len(h.matchers) > 0
		if len(set) == 0 && !matched {
			continue
		}
		sig := Signal{EventIDs: []string{id}, State: state} // shared by every subscriber of id
		for s := range set {
			h.deliver(s, sig)
		}
		for s := range h.matchers {
			if s.matches(id) {
				h.deliver(s, sig)
			}
		}
	}
}

// deliver puts sig in s's slot, merging it with the unread signal there. The dispatcher is the only
// sender and holds s.mu, so after taking the unread value out the slot is free for the merged one.
func (h *Hub) deliver(s *Subscription, sig Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	pendingResync := false
	select {
	case old := <-s.ch:
		h.stats.coalesced.Add(1)
		pendingResync = old.Resync
		sig = merge(old, sig)
	default:
		h.stats.signals.Add(1)
	}
	if len(sig.EventIDs) > h.opts.SubscriberBuffer {
		h.stats.overflows.Add(1)
		sig = Signal{Resync: true, State: sig.State}
	}
	if sig.Resync && !pendingResync { // a Resync merged into an unread one is the same resync
		h.stats.resyncs.Add(1)
	}
	s.ch <- sig // cannot block: capacity one, emptied above, no other sender
}

func merge(old, cur Signal) Signal {
	out := Signal{State: cur.State, Resync: old.Resync || cur.Resync}
	if out.Resync {
		return out
	}
	ids := old.EventIDs
	for _, id := range cur.EventIDs {
		if !slices.Contains(ids, id) {
			if len(ids) == len(old.EventIDs) {
				ids = slices.Clone(old.EventIDs) // old's slice may be shared with other subscribers
			}
			ids = append(ids, id)
		}
	}
	out.EventIDs = ids
	return out
}
