package live

import "sync"

// Signal tells a subscriber what to re-read. It is a hint, never data.
type Signal struct {
	// EventIDs changed since the previous signal (deduplicated). The slice may be shared with
	// other subscribers: do not modify it. Empty when Resync is set or only State changed.
	EventIDs []string
	// Resync means notifications may have been missed (reconnection, overflow): re-read everything
	// this subscriber shows from the source of truth.
	Resync bool
	// State is the hub's connection state when the signal was sent (StateConnected or
	// StateReconnecting), for the UI's data-live-state.
	State string
}

// Filter selects the event ids a subscription is signalled for. Every subscription gets Resync and
// connection-state signals whatever its filter.
type Filter struct {
	// EventIDs are watched exactly (indexed: cheap however many subscribers watch them).
	EventIDs []string
	// All watches every event (list pages).
	All bool
	// Match, if set, is asked about every changed event id the other fields did not select. It runs
	// on the hub's dispatcher goroutine: keep it fast, non-blocking and safe for concurrent use.
	Match func(eventID string) bool
}

// Subscription receives the signals of one subscriber. It owns no goroutine.
type Subscription struct {
	hub   *Hub
	ids   []string
	all   bool
	match func(string) bool

	ch   chan Signal // capacity one: the pending signal, merged by the dispatcher
	mu   sync.Mutex  // guards sends to ch, closing ch and done
	done bool
}

// Subscribe registers a subscriber. Call it before rendering the state it will keep up to date (see
// the package doc). It is cheap and safe for concurrent use; a subscription made after Stop has its
// channel closed already.
func (h *Hub) Subscribe(f Filter) *Subscription {
	s := &Subscription{hub: h, all: f.All, match: f.Match, ch: make(chan Signal, 1)}
	if !f.All {
		s.ids = dedupe(f.EventIDs)
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		s.close()
		return s
	}
	h.subs[s] = struct{}{}
	switch {
	case s.all:
		h.all[s] = struct{}{}
	default:
		for _, id := range s.ids {
			set := h.byEvent[id]
			if set == nil {
				set = map[*Subscription]struct{}{}
				h.byEvent[id] = set
			}
			set[s] = struct{}{}
		}
		if s.match != nil {
			h.matchers[s] = struct{}{}
		}
	}
	h.mu.Unlock()
	return s
}

// C returns the channel signals arrive on. At most one signal is ever pending; later ones are merged
// into it. The channel is closed by Unsubscribe and by the hub's Stop.
func (s *Subscription) C() <-chan Signal { return s.ch }

// Unsubscribe removes the subscriber and closes its channel. It is idempotent and safe for
// concurrent use.
func (s *Subscription) Unsubscribe() {
	h := s.hub
	h.mu.Lock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		delete(h.all, s)
		delete(h.matchers, s)
		for _, id := range s.ids {
			if set := h.byEvent[id]; set != nil {
				delete(set, s)
				if len(set) == 0 {
					delete(h.byEvent, id)
				}
			}
		}
	}
	h.mu.Unlock()
	s.close()
}

func (s *Subscription) close() {
	s.mu.Lock()
	if !s.done {
		s.done = true
		close(s.ch)
	}
	s.mu.Unlock()
}

// matches reports whether the Match function selects id for a subscriber that was not already
// signalled for it through its exact ids.
func (s *Subscription) matches(id string) bool {
	for _, x := range s.ids {
		if x == id {
			return false // signalled through the index already
		}
	}
	return s.match(id)
}

func dedupe(ids []string) []string {
	seen := make(map[string]struct{}, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}
