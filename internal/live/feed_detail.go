package live

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/a-h/templ"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

// Render-once fan-out for the detail stream. Every open detail page of one event (per language and
// per "may retry" view) shares one feed: one goroutine that holds the hub subscription for the
// event, re-reads the state once per change, renders the changed fragments once, and hands the same
// SSE bytes to every stream watching. Streams keep their own full render on (re)connect, their
// own write deadline, and are dropped when they cannot keep up (the browser reconnects and gets the
// full state). Each feed renders at most once per Timing.FeedEvery; the latest state wins.
//
// The fragments carry nothing of a viewer: forms inside them (a failed channel's retry button)
// send the CSRF token as a header from the page's $_csrf signal, so the bytes are the same for
// every viewer of (event, language, may retry).

type feedKey struct {
	eventID  string
	lang     string
	zone     string // the viewers' time zone (IANA name): times are rendered in it
	canRetry bool
	// canManage: managers' cards link a channel whose account needs reconnecting to its store.
	canManage bool
}

// detailFeeds holds the feeds of one Handlers.
type detailFeeds struct {
	feedSet[feedKey, *detailShown]
}

// detailFeed is the shared reader and renderer of one (event, page view). Its state is nil while
// the feed has no good state (no such event, database trouble): each stream then reads its own.
type detailFeed = feed[feedKey, *detailShown]

func newDetailFeeds(h *Streams) *detailFeeds {
	return &detailFeeds{feedSet[feedKey, *detailShown]{h: h, feeds: map[feedKey]*detailFeed{}, whole: wholeDetail}}
}

// wholeDetail is the whole detail page in state sh.
func wholeDetail(p views.Page, key feedKey, sh *detailShown) []templ.Component {
	return []templ.Component{views.Dist(p, views.DistState{EventID: key.eventID, Distribution: sh.dist, Attempts: sh.attempts, Schedule: sh.schedule})}
}

// join adds a watcher to the feed of (event, page view), starting the feed when it is the first.
// It returns after the feed has subscribed and read its initial state, with the feed's current
// state: every patch queued for the watcher is of that state or newer (re-applying one is
// harmless: a patch morphs elements to a state), and a stream that reads its own full state
// afterwards misses nothing either.
func (fo *detailFeeds) join(id string, p views.Page) (*detailFeed, *feedWatcher, feedSnapshot[*detailShown]) {
	key := feedKey{eventID: id, lang: p.Lang, zone: p.Loc().String(), canRetry: p.CanRetry(), canManage: p.CanManage()}
	w := newFeedWatcher()
	fo.mu.Lock()
	f := fo.feeds[key]
	if f == nil {
		// KakaoQuiet is the deployment's (one value for every viewer): the pre-flight notes.
		f = fo.newFeed(key, views.Page{Lang: key.lang, Title: p.Title, MayRetry: key.canRetry, MayManage: key.canManage, Zone: p.Loc(), KakaoQuiet: p.KakaoQuiet, Preflight: p.Preflight})
		f.sub = fo.h.deps.Hub.Subscribe(Filter{EventIDs: []string{id}})
		fo.feeds[key] = f
		f.cancel = fo.h.goFeed(func(ctx context.Context) { fo.run(ctx, f) }, f.end)
	}
	// Added at once (a feed in the set is not stopped); the watcher keeps the feed alive while
	// it reads its initial state.
	f.watchers[w] = struct{}{}
	fo.mu.Unlock()
	<-f.ready
	fo.mu.Lock()
	snap := f.snapshotLocked()
	fo.mu.Unlock()
	return f, w, snap
}

// feedSink renders a feed's patches once and broadcasts the bytes.
type feedSink struct {
	f      *detailFeed
	v      *detailView
	readAt time.Time
	sent   int // patches broadcast so far
}

func (s *feedSink) patch(comps ...templ.Component) error {
	b, err := renderPatch(s.f.page.Zone, false, comps...)
	if b == nil {
		return err
	}
	s.sent++
	sh := s.v.snapshot()
	s.f.broadcast(&feedMsg{b: b, shown: sh, readAt: s.readAt}, sh)
	return nil
}

func (fo *detailFeeds) run(ctx context.Context, f *detailFeed) {
	h := fo.h
	v := &detailView{h: h, p: f.page, id: f.key.eventID}
	sink := &feedSink{f: f, v: v}
	v.out = sink
	// Initial state, from the source of truth: what the feed compares the first change with and
	// what joining streams are sent whole. Without it (no such event, database trouble) each
	// stream reads its own, and answers as the read does.
	sink.readAt = time.Now()
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	st, err := h.readEvent(rctx, f.key.eventID)
	cancel()
	if err != nil && ctx.Err() == nil && model.ErrorCode(err) != model.ENOTFOUND {
		h.logger.Warn("feed: initial read", slog.String("event_id", f.key.eventID), slog.Any("error", err))
	}
	v.p.Now = time.Now()
	v.record(st)
	if err == nil {
		f.setShown(v.snapshot())
	}
	close(f.ready)

	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case sig, ok := <-f.sub.C():
			if !ok {
				f.end()
				return
			}
			if !sig.Resync && len(sig.EventIDs) == 0 {
				continue // connection state only: each stream shows it
			}
		}
		if wait := h.timing.FeedEvery - time.Since(last); wait > 0 {
			// Inside the throttle window: wait only when there is something new to render. A
			// signal the last render already covered (it was read while the signal was pending)
			// would otherwise hold the next real change back by a whole window, every time.
			if !v.stale(ctx) {
				continue
			}
			wait = h.timing.FeedEvery - time.Since(last)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		// Only a render counts against the throttle: a re-read that finds nothing new (the EXPIRE
		// notification of the writer's MULTI, a signal for what the last render already showed)
		// must not hold back the next real change by feedEvery.
		start, sent := time.Now(), sink.sent
		sink.readAt = start
		_ = v.refresh(ctx, nil, false)
		if sink.sent != sent {
			last = start
		}
	}
}

// snapshot is a copy of what the view shows, shared read-only by the streams that adopt it.
func (v *detailView) snapshot() *detailShown {
	c := *v.detailShown
	c.chans = slices.Clone(v.chans)
	return &c
}

// adoptIfSame shares sh (a feed's state) when it equals the view's own, so an idle page holds no
// state of its own.
func (v *detailView) adoptIfSame(sh *detailShown) {
	if sh != nil && !v.shared && v.detailShown.same(sh) {
		v.adopt(sh)
	}
}

// same reports whether a page showing a would show b.
func (a *detailShown) same(b *detailShown) bool {
	if a.started != b.started || !sameSchedule(a.schedule, b.schedule) || a.overall != b.overall || len(a.chans) != len(b.chans) || len(a.attempts) != len(b.attempts) {
		return false
	}
	for i := range a.chans {
		x, y := a.chans[i], b.chans[i]
		if x.stuck != y.stuck || x.c.Channel != y.c.Channel || !sameCard(x.c, y.c) || !sameMark(x.c, y.c) {
			return false
		}
	}
	for i := range a.attempts {
		x, y := a.attempts[i], b.attempts[i]
		if x.ID != y.ID || x.Outcome != y.Outcome || (x.FinishedAt == nil) != (y.FinishedAt == nil) {
			return false
		}
	}
	return true
}

// adopt takes over the state a feed's patch brought the page to (for stuck checks and resyncs);
// it is copied only when the stream changes it itself (own).
func (v *detailView) adopt(s *detailShown) {
	v.detailShown, v.shared = s, true
}

// own makes the view's state private before the stream changes it.
func (v *detailView) own() {
	if v.shared {
		v.detailShown, v.shared = v.snapshot(), false
	}
}

// writeShared writes a feed's bytes (the same for every viewer of the feed).
func (s *sseConn) writeShared(b []byte) error {
	s.deadline()
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	return s.rc.Flush()
}

// stale reports whether the distribution differs from what the view last rendered (read errors
// count as different: the refresh logs them).
func (v *detailView) stale(ctx context.Context) bool {
	d, err := v.h.deps.Status.Distribution(ctx, v.id)
	if err != nil || !v.started || len(d.Channels) != len(v.chans) || overallKey(d) != v.overall {
		return true
	}
	for _, c := range d.Channels {
		if was := v.card(c.Channel); was == nil || !sameCard(was.c, c) {
			return true
		}
	}
	return false
}
