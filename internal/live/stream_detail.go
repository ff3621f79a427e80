package live

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

// The detail page's stream: a viewer joins its event's feed (feed_detail.go) or, alone,
// reads and patches the cards that changed.

// ServeEvent serves the live part of event id's detail page to who, rendered as page p (its
// language and the viewer's retry rights). An error before the stream starts (no such event) is
// the caller's to answer; once streaming, it ends with nil.
func (h *Streams) ServeEvent(res http.ResponseWriter, req *http.Request, id string, p views.Page, who Viewer) error {
	evicted, release := h.streamSlot(who.Principal, who.OK)
	defer release()
	defer h.open.opened(StreamDetail)()
	changed, unwatch := h.watchPrincipal(who.Principal, who.OK) // revoke.go: before the first byte (runStream)
	defer unwatch()
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
	return h.runStream(req.Context(), who, v.s, sub, v, &sharedFeed{w: w, after: readAt, v: v}, state, evicted, changed)
}

// startShared opens the stream and sends the feed's whole-page render of snap and the live
// state; false when the client is gone.
func (v *detailView) startShared(res http.ResponseWriter, req *http.Request, f *detailFeed, snap feedSnapshot[*detailShown], state string) bool {
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

// readEvent reads what a detail page shows from the source of truth; ENOTFOUND when there is no
// such event.
func (h *Streams) readEvent(ctx context.Context, id string) (views.DistState, error) {
	st := views.DistState{EventID: id}
	ev, err := h.deps.Store.FindEventByID(ctx, id)
	if err != nil || ev.Distribution == nil {
		st.Schedule = ev.Schedule
		return st, err
	}
	ev.Distribution.FillChannelEventIDs()
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
	// schedule is the planned start while not started (read-only).
	schedule *model.Schedule
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

// sameSchedule: a page showing schedule a would show b.
func sameSchedule(a, b *model.Schedule) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.StartAt.Equal(b.StartAt) && a.CreatedBy == b.CreatedBy && slices.Equal(a.Channels, b.Channels)
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
		v.schedule = st.Schedule
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
		// Not started: what can change is the schedule (written, replaced or removed; each
		// announces the event), read from the source of truth.
		st, err := h.readEvent(ctx, v.id)
		if err != nil {
			if model.ErrorCode(err) != model.ENOTFOUND {
				h.logger.Warn("stream: read event", slog.String("event_id", v.id), slog.Any("error", err))
			}
			return nil
		}
		if st.Distribution == nil && !v.started && sameSchedule(st.Schedule, v.schedule) {
			return nil
		}
		return v.full(st)
	}
	if err != nil {
		h.logger.Warn("stream: read distribution", slog.String("event_id", v.id), slog.Any("error", err))
		return nil
	}
	d.FillChannelEventIDs()
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
