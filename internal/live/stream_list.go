package live

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/a-h/templ"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

// The events list's stream: a viewer joins its view's feed (feed_list.go) and patches the rows
// that changed.

// ServeList serves the live rows of the list page with filter f (GET /events/stream?q&status&
// channel&channel_status&cursor, parsed and validated by the caller) to who, rendered as page p. The first page also watches for events it does not show yet
// (a distribution started on an event that belongs on it); other pages watch their rows only.
// Every stream of one view shares the view's feed (feed_list.go): one read and one render per
// change, however many streams are open.
func (h *Streams) ServeList(res http.ResponseWriter, req *http.Request, f model.EventFilter, p views.Page, who Viewer) error {
	evicted, release := h.streamSlot(who.Principal, who.OK)
	defer release()
	defer h.open.opened(StreamList)()
	changed, unwatch := h.watchPrincipal(who.Principal, who.OK) // revoke.go: before the first byte (runStream)
	defer unwatch()
	// The rows come from the feed (which also resyncs and polls for the view); the stream's own
	// subscription carries the hub's connection state only.
	sub := h.deps.Hub.Subscribe(Filter{})
	defer sub.Unsubscribe()
	lf, w, snap, err := h.lists.join(f, p)
	if err != nil {
		return err
	}
	defer lf.leave(w)

	// The whole list as the feed last rendered it, off this goroutine's stack (runStream).
	state := h.deps.Hub.State()
	var s *sseConn
	err = offStack(func() error {
		full := snap.full
		if full == nil {
			var err error
			if full, err = lf.renderFull(snap.shown); err != nil {
				return err
			}
		}
		s = openSSE(res, req, h.timing.WriteTimeout)
		if s.writeShared(full) != nil || s.live(liveState(state)) != nil {
			s = nil // the client is gone
		}
		return nil
	})
	if err != nil || s == nil {
		return err
	}
	return h.runStream(req.Context(), who, s, sub, listFollower{}, &sharedFeed{w: w}, state, evicted, changed)
}

// listView keeps the rows of one list view current (run by the view's feed, feed_list.go).
type listView struct {
	h     *Streams
	p     views.Page
	f     model.EventFilter
	first bool
	out   patcher // the feed's sink

	visible     atomic.Pointer[map[string]struct{}] // read by the hub's dispatcher (Match)
	events      []model.Event
	index       map[string]int
	keys        map[string]string
	ignored     map[string]struct{} // ids known not to be on the first page
	countsDirty bool
	dirtySince  time.Time // when the feed heard of the latest change that may have moved the counts
	lastCounts  time.Time
	counts      map[model.OverallStatus]int // as last sent (read-only)
	total       int
	heard       time.Time // when the feed heard of the latest change it is reading (mayEnter)
}

// watches tells the hub which changes a later page (not the first) needs: until the page is read
// every change is let through, so nothing between Subscribe and the read is lost; then only the
// rows shown.
func (v *listView) watches(id string) bool {
	m := v.visible.Load()
	if m == nil {
		return true
	}
	_, ok := (*m)[id]
	return ok
}

const maxIgnored = 10_000

func rowKey(e model.Event) string {
	if e.Distribution == nil {
		if sc := e.Schedule; sc != nil {
			return "schedule|" + strconv.FormatInt(sc.StartAt.UnixMicro(), 10)
		}
		return ""
	}
	var b strings.Builder
	b.WriteString(overallKey(*e.Distribution))
	for _, c := range e.Distribution.Channels {
		b.WriteString(";")
		b.WriteString(string(c.Channel))
		b.WriteString(channelKey(c))
	}
	return b.String()
}

func (v *listView) record(events []model.Event) {
	v.events = events
	v.index = make(map[string]int, len(events))
	v.keys = make(map[string]string, len(events))
	vis := make(map[string]struct{}, len(events))
	for i, e := range events {
		v.index[e.ID] = i
		v.keys[e.ID] = rowKey(e)
		vis[e.ID] = struct{}{}
	}
	v.visible.Store(&vis)
}

// show sends the whole list body and the counts.
func (v *listView) show(events []model.Event, counts map[model.OverallStatus]int, total int) error {
	v.p.Now = time.Now()
	v.record(events)
	v.countsDirty, v.lastCounts = false, time.Now()
	v.counts, v.total = counts, total
	return v.out.patch(views.EventRows(v.p, events, v.f), views.StatusCounts(v.p, v.f, counts, total))
}

func (v *listView) reloadAll(ctx context.Context) error {
	page, err := v.h.deps.Store.FindEvents(ctx, v.f)
	if err != nil {
		v.h.logger.Warn("stream: read events", slog.Any("error", err))
		return nil
	}
	counts, total, err := v.h.StatusCounts(ctx)
	if err != nil {
		v.h.logger.Warn("stream: count events", slog.Any("error", err))
		return nil
	}
	clear(v.ignored)
	return v.show(page.Events, counts, total)
}

func sameIDs(a, b []model.Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID {
			return false
		}
	}
	return true
}

func (v *listView) refresh(ctx context.Context, ids []string, resync bool) error {
	if resync {
		return v.reloadAll(ctx)
	}
	var shown, unknown []string
	for _, id := range ids {
		if _, ok := v.index[id]; ok {
			shown = append(shown, id)
		} else if _, ok := v.ignored[id]; v.first && !ok {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 && !v.mayEnter(ctx, unknown) {
		v.dirtyCounts() // not on this filtered list, but counted by the chips
		unknown = nil   // none of them can be on this filtered list: no list read (feed_list.go)
	}
	if len(unknown) > 0 {
		// Something not shown changed: it may now belong on the first page.
		page, err := v.h.deps.Store.FindEvents(ctx, v.f)
		if err != nil {
			v.h.logger.Warn("stream: read events", slog.Any("error", err))
			return nil
		}
		if len(v.ignored) > maxIgnored {
			clear(v.ignored)
		}
		onPage := map[string]bool{}
		for _, e := range page.Events {
			onPage[e.ID] = true
		}
		for _, id := range unknown {
			if !onPage[id] {
				v.ignored[id] = struct{}{}
			}
		}
		v.p.Now = time.Now()
		v.dirtyCounts() // an event not shown changed: it may have changed status
		if !sameIDs(page.Events, v.events) {
			v.record(page.Events)
			return v.out.patch(views.EventRows(v.p, page.Events, v.f))
		}
		return v.patchRows(page.Events)
	}
	if len(shown) == 0 {
		return nil
	}
	fresh := make([]model.Event, 0, len(shown))
	for _, id := range shown {
		e := v.events[v.index[id]]
		d, err := v.h.deps.Status.Distribution(ctx, id)
		switch {
		case model.ErrorCode(err) == model.ENOTFOUND:
			// Not started: its schedule may have changed (each change announces the event).
			e.Distribution = nil
			if ev, err := v.h.deps.Store.FindEventByID(ctx, id); err == nil {
				e.Schedule = ev.Schedule
			}
		case err != nil:
			v.h.logger.Warn("stream: read distribution", slog.String("event_id", id), slog.Any("error", err))
			continue
		default:
			d.FillChannelEventIDs()
			e.Distribution = &d
		}
		fresh = append(fresh, e)
	}
	return v.patchRows(fresh)
}

// patchRows patches the rows of events (fresh copies of shown ones) whose display changed.
func (v *listView) patchRows(events []model.Event) error {
	v.p.Now = time.Now()
	var (
		comps    []templ.Component
		announce []string
	)
	for _, e := range events {
		i, ok := v.index[e.ID]
		if !ok || v.keys[e.ID] == rowKey(e) {
			continue
		}
		before := v.events[i].Distribution
		if e.Distribution != nil && (before == nil || before.OverallStatus != e.Distribution.OverallStatus) {
			v.dirtyCounts()
			announce = append(announce, e.Title+": "+views.OverallName(v.p.Lang, e.Distribution.OverallStatus))
		}
		v.events[i] = e
		v.keys[e.ID] = rowKey(e)
		comps = append(comps, views.EventRow(v.p, e))
	}
	if len(announce) > 0 {
		comps = append(comps, views.Announcer(strings.Join(announce, "; ")))
	}
	return v.out.patch(comps...)
}

// dirtyCounts notes that the change being read may have moved the status counts.
func (v *listView) dirtyCounts() {
	v.countsDirty = true
	if v.heard.After(v.dirtySince) {
		v.dirtySince = v.heard
	}
}

// tick refreshes the counts when a status changed, at most every countsEvery, with counts read
// after the change was heard (the shared counts when they are that fresh).
func (v *listView) tick(ctx context.Context) error {
	if !v.countsDirty || time.Since(v.lastCounts) < v.h.timing.CountsEvery {
		return nil
	}
	counts, total, err := v.h.statusCounts(ctx, v.dirtySince)
	if err != nil {
		v.h.logger.Warn("stream: count events", slog.Any("error", err))
		return nil
	}
	v.countsDirty, v.lastCounts = false, time.Now()
	v.counts, v.total = counts, total
	return v.out.patch(views.StatusCounts(v.p, v.f, counts, total))
}
