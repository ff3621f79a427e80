package live

import (
	"bytes"
	"context"
	"io"
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

// Live streams (Datastar SSE). The protocol of every stream (live package doc): subscribe to the
// hub FIRST, then read the state and send it whole, then loop: a signal names events that changed
// (re-read them, patch what differs), a Resync means re-read everything shown, and the hub's
// connection state drives the page's live indicator. While the hub cannot hear Redis the stream
// polls the source of truth instead. Streams hold no database connection while idle, set a write
// deadline before every write (a client that stops reading is dropped, S1), send a keep-alive
// comment when quiet, and re-check the session now and then: a logged-out session gets "offline"
// and the stream host removed (so the browser stops reconnecting); a changed role ends the stream
// so the reconnect renders what the new role may see (S6).

// Timing are the streams' clocks (Config.Timing); zero fields take the defaults, tests shorten them.
type Timing struct {
	Tick           time.Duration // polling while degraded, heartbeat and session check cadence (5 s)
	HeartbeatTicks int           // ticks between keep-alive comments (3)
	SessionTicks   int           // ticks between session checks (6)
	WriteTimeout   time.Duration // per write (10 s)
	CountsEvery    time.Duration // the list's status counts are refreshed at most this often (2 s)
	FeedEvery      time.Duration // a detail feed renders at most this often, latest state wins (5 ms)
	ListEvery      time.Duration // a list feed reads at most this often, changes in between are read together (250 ms)
}

func (t Timing) withDefaults() Timing {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Tick, 5*time.Second)
	def(&t.WriteTimeout, 10*time.Second)
	def(&t.CountsEvery, 2*time.Second)
	def(&t.FeedEvery, 5*time.Millisecond)
	def(&t.ListEvery, 250*time.Millisecond)
	if t.HeartbeatTicks <= 0 {
		t.HeartbeatTicks = 3
	}
	if t.SessionTicks <= 0 {
		t.SessionTicks = 6
	}
	return t
}

// sseConn is one open SSE response.
type sseConn struct {
	ctx context.Context
	rc  *http.ResponseController
	w   io.Writer
	wt  time.Duration // write timeout
}

// openSSE starts the SSE response (STACK.md pitfalls 1 and 4): headers, 200, then the Datastar
// writer (sse.go); the server's WriteTimeout is replaced by a deadline per write.
func openSSE(res http.ResponseWriter, req *http.Request, wt time.Duration) *sseConn {
	hd := res.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no") // reverse proxies must not buffer the stream
	rc := http.NewResponseController(res)
	_ = rc.SetWriteDeadline(time.Now().Add(wt)) // unsupported by test recorders: fine
	res.WriteHeader(http.StatusOK)
	return &sseConn{ctx: req.Context(), rc: rc, w: res, wt: wt}
}

func (s *sseConn) deadline() { _ = s.rc.SetWriteDeadline(time.Now().Add(s.wt)) }

// patch renders comps (each a top-level element with an id) and sends them as one patch.
func (s *sseConn) patch(comps ...templ.Component) error {
	buf, err := render(s.ctx, comps)
	if err != nil {
		return err
	}
	defer releaseBuf(buf)
	if buf.Len() == 0 {
		return nil
	}
	s.deadline()
	if err := writePatch(s.w, buf.Bytes()); err != nil {
		return err
	}
	return s.rc.Flush()
}

// Reply answers a Datastar action with one short SSE response: patch (when not nil), then toast
// (when it has text). Write errors mean the client went away; there is nothing to answer then.
func Reply(res http.ResponseWriter, req *http.Request, patch templ.Component, toast views.Flash) {
	s := openSSE(res, req, Timing{}.withDefaults().WriteTimeout)
	if patch != nil && s.patch(patch) != nil {
		return
	}
	if toast.Text != "" {
		_ = s.toast(toast)
	}
}

// toast appends a message to the layout's polite #toasts region.
func (s *sseConn) toast(f views.Flash) error {
	var buf bytes.Buffer
	if err := views.Toast(f.Kind, f.Text).Render(s.ctx, &buf); err != nil {
		return err
	}
	s.deadline()
	if err := writeAppend(s.w, "#toasts", buf.Bytes()); err != nil {
		return err
	}
	return s.rc.Flush()
}

// live sets the page's $_live signal (the indicator's data-live-state).
func (s *sseConn) live(state string) error {
	s.deadline()
	if err := writeSignals(s.w, map[string]string{"_live": state}); err != nil {
		return err
	}
	return s.rc.Flush()
}

// heartbeat writes an SSE comment: proxies see traffic, and a vanished client is noticed.
func (s *sseConn) heartbeat() error {
	s.deadline()
	if _, err := io.WriteString(s.w, ": keep-alive\n\n"); err != nil {
		return err
	}
	return s.rc.Flush()
}

// stop tells the page its live updates are over for good and removes the stream's host element,
// which aborts the browser's reconnecting fetch.
func (s *sseConn) stop() {
	if s.live(views.LiveOffline) == nil {
		s.deadline()
		if writeRemove(s.w, "#"+views.StreamHostID) == nil {
			_ = s.rc.Flush()
		}
	}
}

func liveState(hubState string) string {
	if hubState == StateConnected {
		return views.LiveConnected
	}
	return views.LiveReconnecting
}

type sessionCheck int

const (
	sessionOK sessionCheck = iota
	sessionChanged
	sessionGone
)

// checkSession asks whether the stream's principal still holds a live session (or token) with the
// same role. Trouble asking (the database is down) is not a logout: the next check decides.
func (h *Streams) checkSession(ctx context.Context, was model.Principal) sessionCheck {
	a := h.deps.Auth
	if a == nil {
		return sessionOK
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	p, err := a.Revalidate(ctx, was)
	switch code := model.ErrorCode(err); {
	case code == model.EUNAUTHORIZED || code == model.ENOTFOUND:
		return sessionGone
	case err != nil:
		return sessionOK
	case p.UserID != was.UserID || p.TokenID != was.TokenID || p.Role != was.Role:
		return sessionChanged
	}
	return sessionOK
}

// liveView is what a stream keeps up to date.
type liveView interface {
	// refresh re-reads ids (everything shown when resync) and patches what changed. Only write
	// errors are returned (they end the stream); read errors are logged and retried later.
	refresh(ctx context.Context, ids []string, resync bool) error
	// tick runs on every stream tick (deferred work such as the list's counts).
	tick(ctx context.Context) error
}

// runStream is the loop every stream shares, started after the full state has been sent. state
// is the hub's connection state the page was last told. The stream ends when evicted is closed (a
// newer stream of the same user took its slot, cap.go).
//
// The loop's goroutine idles for as long as the page is open, and Go never shrinks a stack that
// is more than a quarter full (this one sits under ~5 KB of HTTP middleware). So the loop itself
// only waits and writes ready bytes; everything that reads the database or renders (pgx and templ
// need several KB of stack) runs through offStack, and the goroutine keeps its 8 KB stack instead
// of the 16 KB the deepest call once needed (make bench: -8 KB per open page, x10,000).
func (h *Streams) runStream(ctx context.Context, who Viewer, s *sseConn, sub *Subscription, v liveView, feed *sharedFeed, state string, evicted <-chan struct{}) error {
	pr, hasPrincipal := who.Principal, who.OK
	changed, unwatch := h.watchPrincipal(pr, hasPrincipal) // revoke.go: S6 without waiting for a tick
	defer unwatch()
	t := time.NewTicker(h.timing.Tick)
	defer t.Stop()
	var feedC <-chan *feedMsg
	if feed != nil {
		feedC = feed.w.c
	}
	for n := 1; ; {
		select {
		case <-ctx.Done():
			return nil
		case <-evicted:
			return nil // the browser reconnects when the tab is visible, taking the oldest slot then
		case <-changed:
			if offStack(func() bool { return h.principalChanged(ctx, s, pr) }) {
				return nil
			}
		case m, ok := <-feedC:
			if !ok {
				return nil // the feed ended, or this stream fell behind: the browser reconnects
			}
			if feed.write(s, m) != nil {
				return nil
			}
		case sig, ok := <-sub.C():
			if !ok {
				return nil // the hub stopped (shutdown): the browser reconnects elsewhere or later
			}
			if sig.State != "" && sig.State != state {
				state = sig.State
				if offStack(func() error { return s.live(liveState(state)) }) != nil {
					return nil
				}
			}
			if sig.Resync || len(sig.EventIDs) > 0 {
				if offStack(func() error { return v.refresh(ctx, sig.EventIDs, sig.Resync) }) != nil {
					return nil
				}
			}
		case <-t.C:
			if offStack(func() bool { return h.streamTick(ctx, s, v, state, n, pr, hasPrincipal) }) {
				return nil
			}
			n++
		}
	}
}

// streamTick is the n-th tick of a stream: polling while the hub is not connected, keep-alives,
// the view's deferred work and the session re-check. True ends the stream.
func (h *Streams) streamTick(ctx context.Context, s *sseConn, v liveView, state string, n int, pr model.Principal, hasPrincipal bool) bool {
	if state != StateConnected {
		// Notifications are down: poll the source of truth until they are back.
		if v.refresh(ctx, nil, true) != nil {
			return true
		}
	} else if n%h.timing.HeartbeatTicks == 0 && s.heartbeat() != nil {
		return true
	}
	if v.tick(ctx) != nil {
		return true
	}
	return hasPrincipal && n%h.timing.SessionTicks == 0 && h.principalChanged(ctx, s, pr)
}

// offStack runs fn on a short-lived goroutine and waits for its result (see runStream); a panic
// in fn panics here, so the recover middleware still sees it.
func offStack[T any](fn func() T) T {
	var (
		res T
		p   any
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { p = recover() }()
		res = fn()
	}()
	<-done
	if p != nil {
		panic(p)
	}
	return res
}

// ServeEvent serves the live part of event id's detail page to who, rendered as page p (its
// language and the viewer's retry rights). An error before the stream starts (no such event) is
// the caller's to answer; once streaming, it ends with nil.
func (h *Streams) ServeEvent(res http.ResponseWriter, req *http.Request, id string, p views.Page, who Viewer) error {
	evicted, release := h.streamSlot(who.Principal, who.OK)
	defer release()
	// Changes of the event come from the shared feed (rendered once for every page of the event);
	// the stream's own subscription carries the hub's connection state and resyncs only.
	sub := h.deps.Hub.Subscribe(Filter{})
	defer sub.Unsubscribe()
	v := &detailView{h: h, p: p, id: id}
	f, w, snap := h.details.join(id, v.p)
	defer f.leave(w)

	// The whole page is sent as the feed last rendered it (one read and one render for every
	// viewer who connects, however many), unless the feed has no good state: then this stream
	// reads and renders its own. Either runs off this goroutine's stack (runStream says why).
	readAt, state := time.Now(), h.deps.Hub.State()
	var sent bool
	err := offStack(func() (err error) {
		if snap.shown == nil {
			sent, err = v.start(res, req, state)
			return err
		}
		readAt = time.Time{} // every patch queued since joining is newer than snap
		sent = v.startShared(res, req, f, snap, state)
		return nil
	})
	if err != nil || !sent {
		return err
	}
	v.adoptIfSame(snap.shown)
	return h.runStream(req.Context(), who, v.s, sub, v, &sharedFeed{w: w, after: readAt, v: v}, state, evicted)
}

// startShared opens the stream and sends the feed's whole-page render of snap and the live
// state; false when the client is gone.
func (v *detailView) startShared(res http.ResponseWriter, req *http.Request, f *detailFeed, snap feedSnapshot, state string) bool {
	full := snap.full
	if full == nil {
		var err error
		if full, err = f.renderFull(snap.shown); err != nil {
			v.h.logger.Warn("feed: render", slog.String("event_id", v.id), slog.Any("error", err))
			return false
		}
	}
	v.s = openSSE(res, req, v.h.timing.WriteTimeout)
	v.out = v.s
	v.adopt(snap.shown)
	v.p.Now = time.Now()
	return v.s.writeShared(full) == nil && v.s.live(liveState(state)) == nil
}

// start reads the event, opens the stream and sends the whole detail and the live state; false
// when the client is gone.
func (v *detailView) start(res http.ResponseWriter, req *http.Request, state string) (bool, error) {
	st, err := v.h.readEvent(req.Context(), v.id)
	if err != nil {
		return false, err
	}
	v.s = openSSE(res, req, v.h.timing.WriteTimeout)
	v.out = v.s
	return v.full(st) == nil && v.s.live(liveState(state)) == nil, nil
}

// fixChannelEventIDs makes sure every channel names its event (fragment ids are built from it).
func fixChannelEventIDs(d *model.Distribution) {
	for i := range d.Channels {
		if d.Channels[i].EventID == "" {
			d.Channels[i].EventID = d.EventID
		}
	}
}

// readEvent reads what a detail page shows from the source of truth; ENOTFOUND when there is no
// such event.
func (h *Streams) readEvent(ctx context.Context, id string) (views.DistState, error) {
	st := views.DistState{EventID: id}
	ev, err := h.deps.Store.FindEventByID(ctx, id)
	if err != nil || ev.Distribution == nil {
		return st, err
	}
	fixChannelEventIDs(ev.Distribution)
	st.Distribution = ev.Distribution
	st.Attempts, err = h.deps.Store.FindAttempts(ctx, id)
	return st, err
}

// sharedFeed is a stream's end of its feed (an event's, or a list view's).
type sharedFeed struct {
	w     *feedWatcher
	after time.Time   // patches of states read before the stream's own full read are not needed
	v     *detailView // nil for a list stream
}

// write sends one feed patch to the stream.
func (sf *sharedFeed) write(s *sseConn, m *feedMsg) error {
	if m.readAt.Before(sf.after) {
		return nil
	}
	if sf.v != nil {
		sf.v.adopt(m.shown)
	}
	return s.writeShared(m.b)
}

// detailView keeps one event's detail page current: the whole distribution when it appears, then
// only the channel cards that changed, the overall section and the attempt history when a status
// changes, and a polite announcement of each status change.
type detailView struct {
	h   *Streams
	p   views.Page
	id  string
	s   *sseConn
	out patcher // s, or a feed's sink

	*detailShown
	shared bool // detailShown belongs to a feed's patch: copy before changing (own)
}

// detailShown is what a detail page shows, to tell what a new state changes. It is kept per
// open page (and shared with a feed's patches), so it stays small: one entry per channel.
type detailShown struct {
	started  bool
	dist     *model.Distribution // as last read (read-only), for a full render from this state
	attempts []model.Attempt
	overall  string
	chans    []shownChannel
}

// shownChannel is a channel card as shown.
type shownChannel struct {
	c     model.ChannelState
	stuck bool
}

// card is the channel's card as shown, or nil.
func (d *detailShown) card(ch model.Channel) *shownChannel {
	for i := range d.chans {
		if d.chans[i].c.Channel == ch {
			return &d.chans[i]
		}
	}
	return nil
}

// sameCard: the card of a would look as the card of b (status, progress, last change).
func sameCard(a, b model.ChannelState) bool {
	return a.Status == b.Status && a.Progress == b.Progress && a.UpdatedAt.UnixMicro() == b.UpdatedAt.UnixMicro()
}

// sameMark: nothing that the attempt history and overall section show differs between a and b.
func sameMark(a, b model.ChannelState) bool {
	return a.Status == b.Status && a.Retries == b.Retries && deref(a.ErrorMessage) == deref(b.ErrorMessage)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// patcher sends rendered components to one page (sseConn) or to every page of a feed.
type patcher interface {
	patch(comps ...templ.Component) error
}

func channelKey(c model.ChannelState) string {
	return string(c.Status) + "|" + strconv.Itoa(c.Progress) + "|" + strconv.FormatInt(c.UpdatedAt.UnixMicro(), 10)
}

func overallKey(d model.Distribution) string {
	k := string(d.OverallStatus)
	if d.CompletedAt != nil {
		k += "|" + strconv.FormatInt(d.CompletedAt.UnixMicro(), 10)
	}
	return k
}

func (v *detailView) record(st views.DistState) {
	v.detailShown, v.shared = &detailShown{}, false
	v.started = st.Distribution != nil
	v.dist, v.attempts = st.Distribution, st.Attempts
	if st.Distribution == nil {
		v.overall = ""
		return
	}
	v.overall = overallKey(*st.Distribution)
	v.chans = make([]shownChannel, 0, len(st.Distribution.Channels))
	for _, c := range st.Distribution.Channels {
		v.remember(c)
	}
}

// remember records c as shown (the view must be its own: own).
func (v *detailView) remember(c model.ChannelState) {
	sc := shownChannel{c: c, stuck: model.Stuck(c, v.p.Now)}
	if p := v.card(c.Channel); p != nil {
		*p = sc
		return
	}
	v.chans = append(v.chans, sc)
}

func (v *detailView) full(st views.DistState) error {
	v.p.Now = time.Now()
	v.record(st)
	return v.out.patch(views.Dist(v.p, st))
}

// tick re-sends the card of a channel that became stuck (no change for too long) since it was
// shown: nothing else would, precisely because nothing changes.
func (v *detailView) tick(context.Context) error {
	v.p.Now = time.Now()
	var comps []templ.Component
	for i, sc := range v.chans {
		if s := model.Stuck(sc.c, v.p.Now); s != sc.stuck {
			v.own()
			v.chans[i].stuck = s
			comps = append(comps, views.ChannelCard(v.p, sc.c, views.LastAttempt(v.attempts, sc.c.Channel)))
		}
	}
	return v.out.patch(comps...)
}

func (v *detailView) refresh(ctx context.Context, _ []string, _ bool) error {
	h := v.h
	d, err := h.deps.Status.Distribution(ctx, v.id)
	if model.ErrorCode(err) == model.ENOTFOUND {
		if !v.started {
			return nil
		}
		return v.full(views.DistState{EventID: v.id})
	}
	if err != nil {
		h.logger.Warn("stream: read distribution", slog.String("event_id", v.id), slog.Any("error", err))
		return nil
	}
	fixChannelEventIDs(&d)
	v.p.Now = time.Now()
	if !v.started || len(d.Channels) != len(v.chans) {
		st := views.DistState{EventID: v.id, Distribution: &d}
		if st.Attempts, err = h.deps.Store.FindAttempts(ctx, v.id); err != nil {
			h.logger.Warn("stream: read attempts", slog.String("event_id", v.id), slog.Any("error", err))
		}
		return v.full(st)
	}
	var (
		changed     []model.ChannelState
		significant bool
		announce    []string
	)
	for _, c := range d.Channels {
		was := v.card(c.Channel)
		if was != nil && sameCard(was.c, c) {
			continue
		}
		changed = append(changed, c)
		if was == nil || !sameMark(was.c, c) {
			significant = true
		}
		if was == nil || was.c.Status != c.Status {
			announce = append(announce, c.Channel.Name(v.p.Lang)+": "+views.StatusName(v.p.Lang, c.Status))
		}
	}
	ov := overallKey(d)
	if len(changed) == 0 && ov == v.overall {
		return nil
	}
	v.own()
	if significant {
		if as, err := h.deps.Store.FindAttempts(ctx, v.id); err != nil {
			h.logger.Warn("stream: read attempts", slog.String("event_id", v.id), slog.Any("error", err))
		} else {
			v.attempts = as
		}
	}
	v.dist = &d
	var comps []templ.Component
	for _, c := range changed {
		comps = append(comps, views.ChannelCard(v.p, c, views.LastAttempt(v.attempts, c.Channel)))
		v.remember(c)
	}
	if ov != v.overall || significant {
		comps = append(comps, views.Overall(v.p, d))
		if ov != v.overall {
			announce = append(announce, views.T(v.p.Lang, "detail.overall")+": "+views.OverallName(v.p.Lang, d.OverallStatus))
		}
		v.overall = ov
	}
	if significant {
		comps = append(comps, views.AttemptHistory(v.p, v.id, v.attempts))
	}
	if len(announce) > 0 {
		comps = append(comps, views.Announcer(strings.Join(announce, "; ")))
	}
	return v.out.patch(comps...)
}

// ServeList serves the live rows of the list page with filter f (GET /events/stream?q&status&
// channel&channel_status&cursor, parsed and validated by the caller) to who, rendered as page p. The first page also watches for events it does not show yet
// (a distribution started on an event that belongs on it); other pages watch their rows only.
// Every stream of one view shares the view's feed (feed_list.go): one read and one render per
// change, however many streams are open.
func (h *Streams) ServeList(res http.ResponseWriter, req *http.Request, f model.EventFilter, p views.Page, who Viewer) error {
	evicted, release := h.streamSlot(who.Principal, who.OK)
	defer release()
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
	return h.runStream(req.Context(), who, s, sub, listFollower{}, &sharedFeed{w: w}, state, evicted)
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
		unknown = nil // none of them can be on this filtered list: no list read (feed_list.go)
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
		if !sameIDs(page.Events, v.events) {
			v.record(page.Events)
			v.countsDirty = true
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
			e.Distribution = nil
		case err != nil:
			v.h.logger.Warn("stream: read distribution", slog.String("event_id", id), slog.Any("error", err))
			continue
		default:
			fixChannelEventIDs(&d)
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
			v.countsDirty = true
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

// tick refreshes the counts when a status changed, at most every countsEvery.
func (v *listView) tick(ctx context.Context) error {
	if !v.countsDirty || time.Since(v.lastCounts) < v.h.timing.CountsEvery {
		return nil
	}
	counts, total, err := v.h.StatusCounts(ctx)
	if err != nil {
		v.h.logger.Warn("stream: count events", slog.Any("error", err))
		return nil
	}
	v.countsDirty, v.lastCounts = false, time.Now()
	v.counts, v.total = counts, total
	return v.out.patch(views.StatusCounts(v.p, v.f, counts, total))
}
