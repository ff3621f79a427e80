package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/live"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

// The dashboard's pages and form actions. Every action works as a plain HTML form post (303 back
// to the page with a one-time flash message) and as a Datastar request (an SSE answer patching
// the changed fragment and appending a toast, no reload). Problems a person can act on (already
// started, not FAILED, invalid input) are shown in the page, translated; internal errors go to
// the error handler and are never shown.

// userError reports whether err is a problem to show in the page, with its status
// (model.HTTPStatus). Internal errors and a missing login go to the error handler instead.
func userError(err error) (status int, ok bool) {
	switch code := model.ErrorCode(err); code {
	case "", model.EINTERNAL, model.EUNAUTHORIZED:
		return 0, false
	default:
		if status = model.HTTPStatus(code); status == http.StatusInternalServerError {
			return 0, false // not in the vocabulary
		}
		return status, true
	}
}

func isDatastarRequest(c echo.Context) bool {
	return c.Request().Header.Get("Datastar-Request") == "true"
}

// pageFilter reads the list filters from the query string (the same names as the JSON API, plus
// `before`, the previous page's cursor, and `size`, one of views.ListSizes). A value it cannot use
// is left out of the filter and named in bad: the page explains it next to the filters and lists
// what the rest selects; the live stream simply goes without it (a bad link must not leave the
// page's stream failing and reconnecting).
func pageFilter(c echo.Context) (f model.EventFilter, bad []string) {
	q := c.QueryParams()
	if text, err := queryLine(c, "q", maxListQuery); err != nil {
		bad = append(bad, "q")
	} else {
		f.Q = strings.TrimSpace(text)
	}
	if f.Status = model.OverallStatus(q.Get("status")); f.Status != "" && !f.Status.ValidFilter() {
		bad, f.Status = append(bad, "status"), ""
	}
	if f.Channel = model.Channel(q.Get("channel")); f.Channel != "" && !f.Channel.Valid() {
		bad, f.Channel = append(bad, "channel"), ""
	}
	if f.ChannelStatus = model.ChannelStatus(q.Get("channel_status")); f.ChannelStatus != "" && !f.ChannelStatus.Valid() {
		bad, f.ChannelStatus = append(bad, "channel_status"), ""
	}
	for _, k := range []string{"cursor", "before"} {
		if v := q.Get(k); v != "" && !db.ValidCursor(v) {
			bad = append(bad, k)
		} else if k == "cursor" {
			f.Cursor = v
		} else if f.Cursor == "" {
			f.Before = v
		}
	}
	if s := q.Get("size"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && slices.Contains(views.ListSizes, n) {
			f.Limit = n
		} else {
			bad = append(bad, "size")
		}
	}
	return f, bad
}

// maxListQuery is the longest search text, in characters (as db.FindEvents allows).
const maxListQuery = 200

// EventsList serves GET /: the events list with its filters, counts and the "New event" form.
func (h *Handlers) EventsList(c echo.Context) error {
	return h.renderList(c, http.StatusOK, views.EventForm{}, h.takeFlash(c))
}

func (h *Handlers) renderList(c echo.Context, status int, form views.EventForm, flash views.Flash) error {
	ctx := c.Request().Context()
	p := NewPage(c, "events.title")
	p.Now = time.Now()
	f, bad := pageFilter(c)
	v := views.ListView{Filter: f, Form: form, Flash: flash}
	counts, total, err := h.statusCounts(ctx)
	if err != nil {
		return err
	}
	if p.Stores, err = h.deps.Store.ListStores(ctx); err != nil { // the create form's store select
		return err
	}
	v.Counts, v.Total = counts, total
	page, ferr := h.deps.Store.FindEvents(ctx, f)
	if ferr == nil {
		v.Events, v.NextCursor, v.PrevCursor = page.Events, page.NextCursor, page.PrevCursor
		v.Matching, v.More, ferr = h.listTotal(ctx, f, counts, total)
	}
	switch {
	case ferr != nil:
		st, ok := userError(ferr)
		if !ok {
			return ferr
		}
		v.Error = userMessage(c, ferr)
		if status == http.StatusOK {
			status = st
		}
	case len(bad) > 0:
		// The rest of the filters still apply: the page is usable, and says what it ignored.
		v.Error = views.BadFilterMessage(p.Lang, bad)
		if status == http.StatusOK {
			status = http.StatusBadRequest
		}
	}
	return Render(c, status, views.EventList(p, v))
}

// listTotal is how many events the list's filters select: from the shared status counts when
// only a status filters it, else counted (up to a bound, more = true past it) and kept for
// countsTTL per filter, like the counts.
func (h *Handlers) listTotal(ctx context.Context, f model.EventFilter, counts map[model.OverallStatus]int, total int) (int, bool, error) {
	if f.Q == "" && f.Channel == "" && f.ChannelStatus == "" {
		if f.Status == "" {
			return total, false, nil
		}
		return views.ListStatusCount(counts, total, f.Status), false, nil
	}
	return h.totals.count(ctx, model.EventFilter{Q: f.Q, Status: f.Status, Channel: f.Channel, ChannelStatus: f.ChannelStatus}, h.deps.Store.CountEvents)
}

// totalsTTL is how long a filtered list's total is reused; totalsMax bounds the filters kept.
const (
	totalsTTL = 2 * time.Second
	totalsMax = 256
)

// listTotals caches the totals of filtered lists (a count per filter per totalsTTL at most).
type listTotals struct {
	mu sync.Mutex
	m  map[model.EventFilter]listTotalEntry
}

type listTotalEntry struct {
	at   time.Time
	n    int
	more bool
}

func (t *listTotals) count(ctx context.Context, f model.EventFilter, count func(context.Context, model.EventFilter) (int, bool, error)) (int, bool, error) {
	t.mu.Lock()
	e, ok := t.m[f]
	t.mu.Unlock()
	if ok && time.Since(e.at) < totalsTTL {
		return e.n, e.more, nil
	}
	at := time.Now()
	n, more, err := count(ctx, f)
	if err != nil {
		return 0, false, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil || len(t.m) >= totalsMax {
		t.m = map[model.EventFilter]listTotalEntry{}
	}
	t.m[f] = listTotalEntry{at: at, n: n, more: more}
	return n, more, nil
}

// CreateEventForm serves POST /events (fields title, description, imageUrl, storeName, storeId): a plain
// form post; success is 303 to the new event's page, invalid input re-renders the list with the
// form open and the message.
func (h *Handlers) CreateEventForm(c echo.Context) error {
	ctx := c.Request().Context()
	pr, _ := Principal(c)
	form := views.EventForm{
		Title:       c.FormValue("title"),
		Description: c.FormValue("description"),
		ImageURL:    c.FormValue("imageUrl"),
		StoreName:   c.FormValue("storeName"),
		StoreID:     c.FormValue("storeId"), // the store select (shown when stores exist)
	}
	ev, err := h.createEvent(ctx, model.Event{Title: form.Title, Description: form.Description,
		ImageURL: form.ImageURL, StoreName: form.StoreName, StoreID: form.StoreID}, pr.Name, c.RealIP())
	if err != nil {
		status, ok := userError(err)
		if !ok {
			return err
		}
		form.Error = userMessage(c, err)
		return h.renderList(c, status, form, views.Flash{})
	}
	h.setFlash(c, flashCreated, "")
	return c.Redirect(http.StatusSeeOther, views.EventURL(ev.ID))
}

// EventDetail serves GET /events/{id}: the event, its distribution and attempt history, or the
// start form when it has none.
func (h *Handlers) EventDetail(c echo.Context) error {
	return h.renderDetail(c, http.StatusOK, c.Param("id"), h.takeFlash(c), "")
}

func (h *Handlers) renderDetail(c echo.Context, status int, id string, flash views.Flash, errMsg string) error {
	return h.renderDetailView(c, status, id, views.DetailView{Flash: flash, Error: errMsg})
}

// renderDetailView renders the detail page of event id with v's flash, error and edit form.
func (h *Handlers) renderDetailView(c echo.Context, status int, id string, v views.DetailView) error {
	ctx := c.Request().Context()
	ev, err := h.deps.Store.FindEventByID(ctx, id)
	if err != nil {
		return err
	}
	var attempts []model.Attempt
	if ev.Distribution != nil {
		ev.Distribution.FillChannelEventIDs()
		if attempts, err = h.deps.Store.FindAttempts(ctx, id); err != nil {
			return err
		}
	}
	p := NewPage(c, "events.title")
	p.Title, p.Now = ev.Title, time.Now()
	p.KakaoQuiet = h.deps.KakaoQuietHours // pre-flight notes
	p.Preflight = h.preflight
	if ev.Distribution == nil { // the edit form's store select
		if p.Stores, err = h.deps.Store.ListStores(ctx); err != nil {
			return err
		}
	}
	v.Event, v.Attempts = ev, attempts
	return Render(c, status, views.EventDetail(p, v))
}

// preflight is the start form's pre-flight check of every channel (views.Page.Preflight); a check
// that fails shows nothing refused (the start itself checks again).
func (h *Handlers) preflight(ctx context.Context, eventID string) map[model.Channel]model.ChannelCheck {
	if h.deps.Engine == nil {
		return nil
	}
	checks, err := h.deps.Engine.Preflight(ctx, eventID, model.AllChannels)
	if err != nil {
		return nil
	}
	out := make(map[model.Channel]model.ChannelCheck, len(checks))
	for _, c := range checks {
		out[c.Channel] = c
	}
	return out
}

func eventIDParam(c echo.Context) (string, error) {
	id := c.Param("id")
	if !model.ValidEventID(id) {
		return "", model.Errork(model.EINVALID, "err.event_id", "invalid event id: use 1 to 36 letters, digits, '_' or '-'")
	}
	return id, nil
}

// StartDistributionForm serves POST /events/{id}/distribution (field channels, repeated; when =
// "now" (default) or "at" with at = a datetime-local value, read in the viewer's time zone):
// start now, or schedule the start. Starting now a scheduled event replaces its schedule.
func (h *Handlers) StartDistributionForm(c echo.Context) error {
	id, err := eventIDParam(c)
	if err != nil {
		return err
	}
	lang := Lang(c)
	params, err := c.FormParams()
	if err != nil {
		return model.Errork(model.EINVALID, "err.unreadable_form", "unreadable form")
	}
	chans, err := model.ParseChannels(params["channels"])
	if err != nil {
		return h.actionFailed(c, id, err, userMessage(c, err))
	}
	when, err := formLine(c, "when", maxIDLen)
	if err != nil {
		return err
	}
	pr, _ := Principal(c)
	ctx := c.Request().Context()
	switch when {
	case "", "now":
	case "at":
		at, err := formStartAt(c, lang)
		if err != nil {
			return h.actionFailed(c, id, err, userMessage(c, err))
		}
		if _, _, err := h.deps.Store.ScheduleDistribution(ctx, id, chans, at, pr.Name); err != nil {
			return h.actionFailed(c, id, err, userMessage(c, err))
		}
		h.announceSchedule(ctx, id)
		return h.actionDone(c, id, flashScheduled, "")
	default:
		return model.FieldErrorf("when", "err.field.when", "%s must be now or at")
	}
	if _, err := h.deps.Engine.StartDistribution(ctx, id, chans, pr.Name); err != nil {
		return h.actionFailed(c, id, err, userMessage(c, err))
	}
	return h.actionDone(c, id, flashStarted, "")
}

// formStartAt reads the form field at, an <input type="datetime-local"> value
// ("2006-01-02T15:04", seconds optional), as a time in the viewer's zone (views.Location).
func formStartAt(c echo.Context, lang string) (time.Time, error) {
	v, err := formLine(c, "at", 40)
	if err != nil {
		return time.Time{}, err
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, Zone(c)); err == nil {
			return t, nil
		}
	}
	return time.Time{}, model.Errork(model.EINVALID, "action.schedule_when", "enter the date and time to start at")
}

// UnscheduleForm serves POST /events/{id}/unschedule (staff and managers): the event's schedule
// is removed; nothing starts.
func (h *Handlers) UnscheduleForm(c echo.Context) error {
	id, err := eventIDParam(c)
	if err != nil {
		return err
	}
	pr, _ := Principal(c)
	ctx := c.Request().Context()
	if err := h.deps.Store.DeleteSchedule(ctx, id, pr.Name); err != nil {
		msg := userMessage(c, err)
		if model.ErrorCode(err) == model.ENOTFOUND {
			if _, ferr := h.deps.Store.FindEventByID(ctx, id); ferr != nil {
				return ferr // no such event: the error page's 404
			}
			msg = views.T(Lang(c), "action.no_schedule")
		}
		return h.actionFailed(c, id, err, msg)
	}
	h.announceSchedule(ctx, id)
	return h.actionDone(c, id, flashUnscheduled, "")
}

// RetryChannelForm serves POST /events/{id}/channels/{ch}/retry (staff and managers).
func (h *Handlers) RetryChannelForm(c echo.Context) error {
	return h.channelActionForm(c, h.deps.Engine.RetryChannel, "action.not_failed", flashRetried)
}

// channelAction is an engine action on one channel of an event's distribution by actor.
type channelAction func(ctx context.Context, eventID string, ch model.Channel, actor string) (model.Distribution, error)

// channelActionForm answers a page form's action on one channel: the card's live answer and its
// flash, or the failure in the viewer's words (conflictKey says which state refused it).
func (h *Handlers) channelActionForm(c echo.Context, act channelAction, conflictKey, flash string) error {
	id, err := eventIDParam(c)
	if err != nil {
		return err
	}
	ch, err := model.ParseChannel(c.Param("ch"))
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	pr, _ := Principal(c)
	if _, err := act(ctx, id, ch, pr.Name); err != nil {
		lang := Lang(c)
		msg := userMessage(c, err)
		switch model.ErrorCode(err) {
		case model.ECONFLICT:
			if d, rerr := h.deps.Status.Distribution(ctx, id); rerr == nil {
				if cs := d.Channel(ch); cs != nil {
					msg = fmt.Sprintf(views.T(lang, conflictKey), ch.Name(lang), views.ChannelStatusName(lang, *cs))
				}
			}
		case model.ENOTFOUND:
			if _, ferr := h.deps.Store.FindEventByID(ctx, id); ferr == nil {
				msg = views.T(lang, "action.no_distribution")
			}
		}
		return h.actionFailed(c, id, err, msg)
	}
	return h.actionDone(c, id, flash, string(ch))
}

// RetryFailedForm serves POST /events/{id}/retry-failed (staff and managers).
func (h *Handlers) RetryFailedForm(c echo.Context) error {
	id, err := eventIDParam(c)
	if err != nil {
		return err
	}
	pr, _ := Principal(c)
	chans, skipped, err := h.deps.Engine.RetryFailedChecked(c.Request().Context(), id, pr.Name)
	if err != nil {
		lang := Lang(c)
		msg := userMessage(c, err)
		switch model.ErrorCode(err) {
		case model.ECONFLICT:
			msg = views.T(lang, "action.no_failed")
		case model.ENOTFOUND:
			if _, ferr := h.deps.Store.FindEventByID(c.Request().Context(), id); ferr == nil {
				msg = views.T(lang, "action.no_distribution")
			}
		}
		return h.actionFailed(c, id, err, msg)
	}
	arg := strconv.Itoa(len(chans))
	for i, s := range skipped { // "2;INSTAGRAM": the pre-flight check left these FAILED
		arg += map[bool]string{true: ";", false: ","}[i == 0] + string(s.Channel)
	}
	return h.actionDone(c, id, flashRetriedFailed, arg)
}

// CancelChannelForm serves POST /events/{id}/channels/{ch}/cancel (marketers, staff, managers).
func (h *Handlers) CancelChannelForm(c echo.Context) error {
	return h.channelActionForm(c, h.deps.Engine.CancelChannel, "action.not_cancellable", flashCancelled)
}

// CancelDistributionForm serves POST /events/{id}/cancel (marketers, staff, managers).
func (h *Handlers) CancelDistributionForm(c echo.Context) error {
	id, err := eventIDParam(c)
	if err != nil {
		return err
	}
	pr, _ := Principal(c)
	if _, err := h.deps.Engine.CancelDistribution(c.Request().Context(), id, pr.Name); err != nil {
		lang := Lang(c)
		msg := userMessage(c, err)
		switch model.ErrorCode(err) {
		case model.ECONFLICT:
			msg = views.T(lang, "action.nothing_to_cancel")
		case model.ENOTFOUND:
			if _, ferr := h.deps.Store.FindEventByID(c.Request().Context(), id); ferr == nil {
				msg = views.T(lang, "action.no_distribution")
			}
		}
		return h.actionFailed(c, id, err, msg)
	}
	return h.actionDone(c, id, flashCancelledAll, "")
}

// actionDone answers a successful action: a Datastar request gets the fresh fragment and a toast,
// a plain form post a 303 back to the event with a flash message.
func (h *Handlers) actionDone(c echo.Context, eventID, flashKey, flashArg string) error {
	if isDatastarRequest(c) {
		f, _ := flashMessage(Lang(c), flashKey, flashArg)
		return h.actionSSE(c, eventID, f)
	}
	h.setFlash(c, flashKey, flashArg)
	return c.Redirect(http.StatusSeeOther, views.EventURL(eventID))
}

// actionFailed answers a failed action. Internal errors go to the error handler. A problem the
// person can act on is shown in the page: as a toast (Datastar, status 200 so the browser applies
// it) or in the re-rendered event page with the error's status (plain form post). An unknown event
// is the error page's 404.
func (h *Handlers) actionFailed(c echo.Context, eventID string, err error, msg string) error {
	status, ok := userError(err)
	if !ok {
		return err
	}
	if isDatastarRequest(c) {
		return h.actionSSE(c, eventID, views.Flash{Kind: views.ToastError, Text: msg})
	}
	return h.renderDetail(c, status, eventID, views.Flash{}, msg)
}

// actionSSE answers a Datastar action with its toast only. The page's cards are written by one
// writer, the page's live stream, which sends each state once and in order: a fragment in this
// answer, read a moment earlier, could land after the stream had already shown a newer state
// (a retry's job paused by the breaker within milliseconds) and put the older one back for good,
// since the stream would not send the newer state again. The action's own change reaches the
// page through the stream like any other.
func (h *Handlers) actionSSE(c echo.Context, _ string, toast views.Flash) error {
	live.Reply(c.Response(), c.Request(), toast)
	return nil
}

// Flash messages: a one-time message after a plain form post, carried by a short-lived cookie
// holding a key from a fixed set and an argument that is validated again when read, so the
// cookie can never inject text into the page.
const (
	flashCookie        = "flash"
	flashCreated       = "created"
	flashStarted       = "started"
	flashRetried       = "retried"        // arg: channel code
	flashRetriedFailed = "retried_failed" // arg: number of channels
	flashBulk          = "bulk"           // arg: number of channels
	flashScheduled     = "scheduled"
	flashUnscheduled   = "unscheduled"
	flashCancelled     = "cancelled" // arg: channel code
	flashCancelledAll  = "cancelled_all"
	flashProbed        = "probed" // arg: channel code
)

func (h *Handlers) setFlash(c echo.Context, key, arg string) {
	SetCookie(c, h.deps.SecureCookies, flashCookie, url.QueryEscape(key+":"+arg), time.Minute, http.SameSiteLaxMode)
}

// takeFlash reads and clears the flash cookie.
func (h *Handlers) takeFlash(c echo.Context) views.Flash {
	ck, err := c.Cookie(flashCookie)
	if err != nil || ck.Value == "" {
		return views.Flash{}
	}
	SetCookie(c, h.deps.SecureCookies, flashCookie, "", -1, http.SameSiteLaxMode)
	raw, err := url.QueryUnescape(ck.Value)
	if err != nil {
		return views.Flash{}
	}
	key, arg, _ := strings.Cut(raw, ":")
	f, _ := flashMessage(Lang(c), key, arg)
	return f
}

func flashMessage(lang, key, arg string) (views.Flash, bool) {
	ok := views.Flash{Kind: views.ToastOK}
	switch key {
	case flashCreated, flashStarted, flashScheduled, flashUnscheduled, flashCancelledAll,
		flashUpdated, flashDuplicated, flashDeleted: // events_edit.go
		ok.Text = views.T(lang, "flash."+key)
	case flashRetried:
		ch := model.Channel(arg)
		if !ch.Valid() {
			return views.Flash{}, false
		}
		ok.Text = fmt.Sprintf(views.T(lang, "flash.retried"), ch.Name(lang))
	case flashCancelled:
		ch := model.Channel(arg)
		if !ch.Valid() {
			return views.Flash{}, false
		}
		ok.Text = fmt.Sprintf(views.T(lang, "flash.cancelled"), ch.Name(lang))
	case flashProbed:
		if !model.Channel(arg).Valid() {
			return views.Flash{}, false
		}
		ok.Text = views.T(lang, "breaker.probed")
	case flashRetriedFailed, flashBulk:
		count, rest, hasSkipped := strings.Cut(arg, ";")
		n, err := strconv.Atoi(count)
		if err != nil || n < 0 || (hasSkipped && key != flashRetriedFailed) {
			return views.Flash{}, false
		}
		ok.Text = views.Tn(lang, "flash."+key, n)
		if hasSkipped { // the channels the pre-flight check left FAILED, by name
			var names []string
			for _, ch := range strings.Split(rest, ",") {
				if !model.Channel(ch).Valid() {
					return views.Flash{}, false
				}
				names = append(names, model.Channel(ch).Name(lang))
			}
			ok.Text += " " + fmt.Sprintf(views.T(lang, "flash.retry_skipped"), strings.Join(names, ", "))
		}
	default:
		return views.Flash{}, false
	}
	return ok, true
}

// createEvent creates an event for the page and the API alike: the row, then (after the commit)
// its audit entry and the live announcement. Once the event exists, a failed audit write or
// announcement is logged, not returned.
func (h *Handlers) createEvent(ctx context.Context, e model.Event, actor, ip string) (model.Event, error) {
	ev, err := h.deps.Store.CreateEventAudited(ctx, e, model.AuditEntry{Actor: actor, IP: ip})
	if err != nil {
		return ev, err
	}
	if h.deps.Announce != nil {
		if err := h.deps.Announce.AnnounceEvent(ctx, ev.ID); err != nil {
			h.logger.WarnContext(ctx, "announce new event", slog.String("event_id", ev.ID), slog.Any("error", err))
		}
	}
	return ev, nil
}
