package live

import (
	"context"
	"sync"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// Principal changes reach open streams at once (RELIABILITY.md S6). The store notifies
// every process (Postgres LISTEN/NOTIFY, db.ListenPrincipalChanges) when a user's role changes,
// the user is disabled, their password is reset, a session of theirs ends or an API token is
// revoked (notified under its owner's id, see watchPrincipal); WatchPrincipalChanges
// hands each notification to this registry, which wakes the open streams of that user. A woken
// stream re-validates its own principal right away (checkSession): a logged-out or disabled
// session goes offline, a changed role ends the stream so the reconnect renders for the new role,
// and a stream whose session is untouched (the user logged out elsewhere) keeps running. The
// periodic check (Timing.SessionTicks) stays as the fallback for notifications missed while the
// listener was reconnecting.

// PrincipalListener delivers the ids of users whose principal changed (db.DB).
type PrincipalListener interface {
	ListenPrincipalChanges(ctx context.Context, fn func(userID int64)) error
}

// WatchPrincipalChanges feeds the principal changes heard by l to this process's open streams,
// until ctx ends. Start it once per web process, next to the HTTP server.
func (h *Streams) WatchPrincipalChanges(ctx context.Context, l PrincipalListener) error {
	return l.ListenPrincipalChanges(ctx, h.revocations().notify)
}

// revocations is the registry of open streams by user id.
type revocations struct {
	mu      sync.Mutex
	streams map[int64]map[chan struct{}]struct{}
}

func newRevocations() *revocations {
	return &revocations{streams: map[int64]map[chan struct{}]struct{}{}}
}

func (h *Streams) revocations() *revocations { return h.revs }

// watch registers a stream of userID. The returned channel receives when the user's principal
// changes (several changes before the stream looks collapse into one), and at expires when that
// is not zero; unwatch must be called when the stream ends.
func (r *revocations) watch(userID int64, expires time.Time) (changed <-chan struct{}, unwatch func()) {
	c := make(chan struct{}, 1)
	wake := func() {
		select {
		case c <- struct{}{}:
		default: // already woken, not yet looked
		}
	}
	stopTimer := func() bool { return false }
	if !expires.IsZero() {
		stopTimer = time.AfterFunc(time.Until(expires), wake).Stop
	}
	r.mu.Lock()
	set := r.streams[userID]
	if set == nil {
		set = map[chan struct{}]struct{}{}
		r.streams[userID] = set
	}
	set[c] = struct{}{}
	r.mu.Unlock()
	return c, func() {
		stopTimer()
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(set, c)
		if len(r.streams[userID]) == 0 {
			delete(r.streams, userID)
		}
	}
}

// notify wakes every stream of userID; it never blocks (the listener's goroutine calls it).
func (r *revocations) notify(userID int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.streams[userID] {
		select {
		case c <- struct{}{}:
		default: // already woken, not yet looked
		}
	}
}

// watchPrincipal registers a stream of principal p: a session's under its user id; a token's under
// its owner's user id (disabling or demoting the owner wakes it), or under minus the token id
// when it has no owner (what the store notifies on revocation, db.tokenWatchSQL), and until the
// token's expiry.
func (h *Streams) watchPrincipal(p model.Principal, ok bool) (changed <-chan struct{}, unwatch func()) {
	switch {
	case !ok:
	case p.UserID != 0:
		return h.revocations().watch(p.UserID, time.Time{})
	case p.TokenID != 0 && p.OwnerID != 0:
		return h.revocations().watch(p.OwnerID, p.TokenExpiry)
	case p.TokenID != 0:
		return h.revocations().watch(-p.TokenID, p.TokenExpiry)
	}
	return nil, func() {}
}

// principalChanged re-validates a woken stream's principal now; it reports whether the stream
// must end (after telling the page to go offline when the session is gone).
func (h *Streams) principalChanged(ctx context.Context, s *sseConn, p model.Principal) (end bool) {
	switch h.checkSession(ctx, p) {
	case sessionGone:
		s.stop()
		return true
	case sessionChanged:
		return true // the reconnect renders for the new role
	}
	return false
}
