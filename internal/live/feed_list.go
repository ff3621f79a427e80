package live

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/a-h/templ"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

// Render-once fan-out for the list stream (RELIABILITY.md S7), the list's equivalent of
// the detail feeds (feed_detail.go). Every open list stream of one view (normalized filter and cursor,
// language, role) shares one feed: one goroutine that holds the hub subscription, re-reads the
// list once per change (at most once per Timing.ListEvery, changes in between are read together),
// renders the changed rows once and hands the same SSE bytes to every stream of the view. The
// feed also refreshes the counts, re-reads everything on a resync and polls while the hub cannot
// hear Redis, so a thousand open lists cost as many reads as there are distinct views, not
// streams. The last stream to leave stops the feed.
//
// Nothing of one viewer reaches another: the feed renders with a page that carries the view's
// language and whether it may retry (no user, no session, no CSRF token: Datastar actions send it
// as a header from the page's $_csrf signal).

// listKey is what makes two list streams render the same bytes. The filter is the one pageFilter
// parsed (trimmed and validated), so equal queries share a feed; mayRetry is everything a page
// renders differently per viewer (retry actions), never the viewer's identity.
type listKey struct {
	f        model.EventFilter
	lang     string
	zone     string // the viewers' time zone (IANA name)
	mayRetry bool
}

// listFeeds holds the list feeds of one Handlers.
type listFeeds struct {
	feedSet[listKey, *listShown]

	dmu   sync.Mutex
	dists map[string]*distRead // recent reads of changed events, shared by the feeds (changedDist)
}

// listFeed is the shared reader and renderer of one list view. Its initial read's error (err)
// ends it: the streams waiting answer with the error, the next stream of the view starts anew.
type listFeed = feed[listKey, *listShown]

func newListFeeds(h *Streams) *listFeeds {
	return &listFeeds{feedSet: feedSet[listKey, *listShown]{h: h, feeds: map[listKey]*listFeed{}, whole: wholeList}, dists: map[string]*distRead{}}
}

// wholeList is the whole list in state sh.
func wholeList(p views.Page, key listKey, sh *listShown) []templ.Component {
	return []templ.Component{views.EventRows(p, sh.events, key.f), views.StatusCounts(p, key.f, sh.counts, sh.total)}
}

// listShown is a list's state as of one patch, shared read-only by the streams that join.
type listShown struct {
	events []model.Event
	counts map[model.OverallStatus]int
	total  int
}

// join adds a watcher to the feed of (filter, page view), starting the feed when it is the first.
// It returns once the feed has read the list, with the state every patch queued for the watcher
// starts from; an error when the feed's initial read failed.
func (fan *listFeeds) join(f model.EventFilter, p views.Page) (*listFeed, *feedWatcher, feedSnapshot[*listShown], error) {
	key := listKey{f: f, lang: p.Lang, zone: p.Loc().String(), mayRetry: p.CanRetry()}
	fan.mu.Lock()
	lf := fan.feeds[key]
	if lf == nil {
		lf = fan.start(key, p.Title, p.Loc())
	}
	lf.joining++
	fan.mu.Unlock()
	<-lf.ready
	if lf.err != nil {
		return nil, nil, feedSnapshot[*listShown]{}, lf.err
	}
	w := newFeedWatcher()
	fan.mu.Lock()
	defer fan.mu.Unlock()
	lf.joining--
	if lf.done {
		close(w.c) // the hub stopped meanwhile: the stream ends after its first write
	} else {
		lf.watchers[w] = struct{}{}
	}
	// Taken with the watcher added under one lock: every patch it receives follows this state.
	return lf, w, lf.snapshotLocked(), nil
}

// start creates, subscribes and runs the feed of key (fan.mu held).
func (fan *listFeeds) start(key listKey, title string, loc *time.Location) *listFeed {
	lf := fan.newFeed(key, views.Page{Lang: key.lang, Title: title, MayRetry: key.mayRetry, Zone: loc})
	v := &listView{h: fan.h, p: lf.page, f: key.f, first: key.f.Cursor == "" && key.f.Before == "", ignored: map[string]struct{}{}}
	v.out = listSink{lf, v} // the sink snapshots the view it patches for
	filter := Filter{All: v.first}
	if !v.first {
		filter.Match = v.watches
	}
	lf.sub = fan.h.deps.Hub.Subscribe(filter) // before the read: nothing between is lost
	fan.feeds[key] = lf
	lf.cancel = fan.h.goFeed(func(ctx context.Context) { fan.run(ctx, lf, v) }, lf.end)
	return lf
}

// listSink renders a list feed's patches once and broadcasts the bytes.
type listSink struct {
	lf *listFeed
	v  *listView // the feed's view, owned by its run
}

func (s listSink) patch(comps ...templ.Component) error {
	b, err := renderPatch(s.lf.page.Zone, false, comps...)
	if b == nil {
		return err
	}
	s.lf.broadcast(&feedMsg{b: b}, s.v.snapshot())
	return nil
}

// snapshot is a copy of the list as the view shows it now.
func (v *listView) snapshot() *listShown {
	return &listShown{events: slices.Clone(v.events), counts: v.counts, total: v.total}
}

func (fan *listFeeds) run(ctx context.Context, lf *listFeed, v *listView) {
	h := fan.h
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	page, err := h.deps.Store.FindEvents(rctx, v.f)
	var (
		counts map[model.OverallStatus]int
		total  int
	)
	if err == nil {
		counts, total, err = h.StatusCounts(rctx)
	}
	cancel()
	if err != nil {
		// The streams waiting answer with the error (as a stream reading its own list did); the
		// next stream of this view starts a new feed.
		fan.mu.Lock()
		lf.stopLocked()
		fan.mu.Unlock()
		lf.err = err
		close(lf.ready)
		return
	}
	v.p.Now = time.Now()
	v.record(page.Events)
	v.counts, v.total, v.lastCounts = counts, total, time.Now()
	lf.setShown(v.snapshot())
	close(lf.ready)

	state := h.deps.Hub.State()
	t := time.NewTicker(h.timing.Tick)
	defer t.Stop()
	var (
		ids     []string
		resync  bool
		last    time.Time
		heardAt time.Time // when the latest signal in ids arrived
	)
	merge := func(sig Signal) {
		heardAt = time.Now()
		if sig.State != "" {
			state = sig.State
		}
		resync = resync || sig.Resync
		ids = append(ids, sig.EventIDs...)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case sig, ok := <-lf.sub.C():
			if !ok {
				lf.end()
				return
			}
			merge(sig)
		case <-t.C:
			if state != StateConnected {
				resync = true // notifications are down: poll the source of truth until they are back
			} else if err := v.tick(ctx); err != nil {
				h.logger.Warn("list feed: counts", slog.Any("error", err))
			}
		}
		if !resync && len(ids) == 0 {
			continue
		}
		if wait := h.timing.ListEvery - time.Since(last); wait > 0 {
			// Changes arriving within listEvery of the last read are read together: a list read
			// per feed per window, however fast events change.
			tm := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				tm.Stop()
				return
			case <-tm.C:
			}
			select { // what the hub merged meanwhile joins this read
			case sig, ok := <-lf.sub.C():
				if !ok {
					lf.end()
					return
				}
				merge(sig)
			default:
			}
		}
		last = time.Now()
		v.heard = heardAt
		slices.Sort(ids)
		if err := v.refresh(ctx, slices.Compact(ids), resync); err != nil {
			h.logger.Warn("list feed: render", slog.Any("error", err))
		}
		if err := v.tick(ctx); err != nil { // the counts follow the rows (at most every CountsEvery)
			h.logger.Warn("list feed: counts", slog.Any("error", err))
		}
		ids, resync = ids[:0], false
	}
}

// mayEnter reports whether any of the changed events ids, not shown, may now belong on the list.
// A list without status, channel or channel-status filters always re-reads (as does one searching
// text: the database decides). A filtered list first asks what the events look like now, with one
// read per event shared by every feed that heard of the change (changedDist), and re-reads the
// list only when one passes its filters (mayShow): 50 filtered lists do not each run their list
// query for every new event that none of them can show.
func (v *listView) mayEnter(ctx context.Context, ids []string) bool {
	f := v.f
	if f.Status == "" && f.Channel == "" && f.ChannelStatus == "" {
		return true
	}
	for _, id := range ids {
		d, err := v.h.lists.changedDist(ctx, id, v.heard)
		if err != nil || mayShow(f, d) {
			return true // unsure: read the list
		}
	}
	return false
}

// mayShow reports whether an event whose distribution is d (nil: not started) passes f's status,
// channel and channel-status filters as db.FindEvents applies them (the text search aside).
func mayShow(f model.EventFilter, d *model.Distribution) bool {
	if f.Status == "" && f.Channel == "" && f.ChannelStatus == "" {
		return true
	}
	if f.Status == model.OverallNotStarted {
		return d == nil && f.Channel == "" && f.ChannelStatus == ""
	}
	if d == nil || (f.Status != "" && d.OverallStatus != f.Status) {
		return false
	}
	if f.Channel == "" && f.ChannelStatus == "" {
		return true
	}
	for _, c := range d.Channels { // one channel row passing both, as the query's EXISTS
		if (f.Channel == "" || c.Channel == f.Channel) && (f.ChannelStatus == "" || c.Status == f.ChannelStatus) {
			return true
		}
	}
	return false
}

// distRead is one read of a changed event's distribution, shared by the feeds.
type distRead struct {
	at   time.Time     // when the read started
	done chan struct{} // closed when d and err are set
	d    *model.Distribution
	err  error
}

// Reads of changed events are forgotten after distReadKeep once more than distReadMax are held.
const (
	distReadMax  = 1024
	distReadKeep = 10 * time.Second
)

// changedDist returns event id's distribution (nil when it has none) as read after heard, the
// moment the caller heard of its change: a read that started after that has seen the change, so
// every feed hearing of one change shares one read.
func (fan *listFeeds) changedDist(ctx context.Context, id string, heard time.Time) (*model.Distribution, error) {
	fan.dmu.Lock()
	r := fan.dists[id]
	if r != nil && !r.at.Before(heard) {
		fan.dmu.Unlock()
		select {
		case <-r.done:
			return r.d, r.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if len(fan.dists) >= distReadMax {
		cutoff := time.Now().Add(-distReadKeep)
		for k, x := range fan.dists {
			if x.at.Before(cutoff) {
				delete(fan.dists, k)
			}
		}
	}
	r = &distRead{at: time.Now(), done: make(chan struct{})}
	fan.dists[id] = r
	fan.dmu.Unlock()
	d, err := fan.h.deps.Status.Distribution(ctx, id)
	switch {
	case err == nil:
		r.d = &d
	case model.ErrorCode(err) != model.ENOTFOUND:
		r.err = err
	}
	close(r.done)
	return r.d, r.err
}

// listFollower is a list stream's own view: the feed reads, renders and resyncs for it, so the
// stream keeps nothing and reads nothing (it writes the feed's patches, the live state and
// keep-alives).
type listFollower struct{}

func (listFollower) refresh(context.Context, []string, bool) error { return nil }
func (listFollower) tick(context.Context) error                    { return nil }
