package handlers

// One file on purpose: the JSON API is one resource family sharing its strict body decoding, error
// shapes and OpenAPI spec, and reads best top to bottom next to openapi.json.

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
)

// The JSON API under /api/v1 (DESIGN.md "Contracts"). Its wire types are declared here, not in
// model, so the contract (field names, null vs absent, impressionSchedule as an array) is spelled
// in one place and model can change its storage shape freely. openapi.json documents every route;
// keep the two in step (TestOpenAPIMatchesRoutes checks the routes, the tests check the shapes).

// APIPrefix is where the JSON API lives.
const APIPrefix = "/api/v1"

// openAPISpec is the hand-written OpenAPI 3.1 description of the API, served at
// GET /api/v1/openapi.json.
//
//go:embed openapi.json
var openAPISpec []byte

// apiEvent is an event as the API shows it. distribution is null until the event is distributed.
type apiEvent struct {
	ID           string           `json:"id"`
	Title        string           `json:"title"`
	Description  string           `json:"description"`
	ImageURL     string           `json:"imageUrl"`
	StoreName    string           `json:"storeName"`
	StoreID      *string          `json:"storeId"` // null: the event belongs to no store
	CreatedAt    time.Time        `json:"createdAt"`
	Distribution *apiDistribution `json:"distribution"`
	// Schedule is the planned start while the event has no distribution, else null.
	Schedule *apiEventSchedule `json:"schedule"`
}

// apiEventSchedule is an event's schedule inside the event.
type apiEventSchedule struct {
	Channels  []model.Channel `json:"channels"`
	StartAt   time.Time       `json:"startAt"`
	CreatedBy string          `json:"createdBy"`
}

// apiSchedule is the answer of the schedule routes.
type apiSchedule struct {
	EventID string `json:"eventId"`
	apiEventSchedule
}

func apiScheduleOf(s model.Schedule) apiSchedule {
	return apiSchedule{EventID: s.EventID, apiEventSchedule: apiEventSchedule{
		Channels: s.Channels, StartAt: s.StartAt.UTC(), CreatedBy: s.CreatedBy,
	}}
}

// apiDistribution is exactly DESIGN's distribution shape.
type apiDistribution struct {
	EventID       string              `json:"eventId"`
	OverallStatus model.OverallStatus `json:"overallStatus"`
	StartedAt     time.Time           `json:"startedAt"`
	CompletedAt   *time.Time          `json:"completedAt"`
	Channels      []apiChannel        `json:"channels"`
}

// apiChannel is exactly DESIGN's channel shape; absent values are null, numbers are numbers.
type apiChannel struct {
	Channel        model.Channel       `json:"channel"`
	Status         model.ChannelStatus `json:"status"`
	Progress       int                 `json:"progress"`
	DistributionID *string             `json:"distributionId"`
	EstimatedViews *int                `json:"estimatedViews"`
	// MeasuredViews is the platform's own view count (Instagram insights), null while unknown;
	// MeasuredAt when it was read.
	MeasuredViews *int       `json:"measuredViews"`
	MeasuredAt    *time.Time `json:"measuredAt"`
	// ImpressionSchedule is the stored JSON array passed through as is (nil marshals as null).
	ImpressionSchedule json.RawMessage `json:"impressionSchedule"`
	PostURL            *string         `json:"postUrl"`
	PostID             *string         `json:"postId"`
	MessageID          *string         `json:"messageId"`
	ErrorMessage       *string         `json:"errorMessage"`
	Retries            int             `json:"retries"`
	LastRetryAt        *time.Time      `json:"lastRetryAt"`
	CompletedAt        *time.Time      `json:"completedAt"`
	UpdatedAt          time.Time       `json:"updatedAt"`
	// WaitingReason says why a channel that is not running waits (model.WaitingReasons), null
	// while it runs or once it finished; NextAttemptAt is when it runs next, when known.
	WaitingReason *model.WaitingReason `json:"waitingReason"`
	NextAttemptAt *time.Time           `json:"nextAttemptAt"`
}

type apiAttempt struct {
	Channel    model.Channel `json:"channel"`
	Attempt    int           `json:"attempt"`
	Trigger    string        `json:"trigger"`
	StartedAt  time.Time     `json:"startedAt"`
	FinishedAt *time.Time    `json:"finishedAt"`
	Outcome    string        `json:"outcome"`
	Error      *string       `json:"error"`
	HTTPStatus *int          `json:"httpStatus"`
}

// apiErrorBody mirrors web's error shape for the one answer that carries more than the error:
// the 409 of a second start, which also returns the existing distribution.
type apiErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func apiUTC(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (h *Handlers) apiEventOf(e model.Event) apiEvent {
	out := apiEvent{
		ID: e.ID, Title: e.Title, Description: e.Description, ImageURL: e.ImageURL, StoreName: e.StoreName,
		CreatedAt: e.CreatedAt.UTC(),
	}
	if e.StoreID != "" {
		out.StoreID = &e.StoreID
	}
	if e.Distribution != nil {
		d := h.apiDistributionOf(*e.Distribution)
		out.Distribution = &d
	} else if e.Schedule != nil {
		s := apiScheduleOf(*e.Schedule).apiEventSchedule
		out.Schedule = &s
	}
	return out
}

func (h *Handlers) apiDistributionOf(d model.Distribution) apiDistribution {
	out := apiDistribution{
		EventID: d.EventID, OverallStatus: d.OverallStatus, StartedAt: d.StartedAt.UTC(),
		CompletedAt: apiUTC(d.CompletedAt), Channels: make([]apiChannel, 0, len(d.Channels)),
	}
	for _, c := range d.Channels {
		out.Channels = append(out.Channels, apiChannel{
			Channel: c.Channel, Status: c.Status, Progress: c.Progress, DistributionID: c.DistributionID,
			EstimatedViews: c.EstimatedViews, ImpressionSchedule: h.apiSchedule(d.EventID, c),
			MeasuredViews: c.MeasuredViews, MeasuredAt: apiUTC(c.MeasuredAt),
			PostURL: c.PostURL, PostID: c.PostID, MessageID: c.MessageID, ErrorMessage: c.ErrorMessage,
			Retries: c.Retries, LastRetryAt: apiUTC(c.LastRetryAt), CompletedAt: apiUTC(c.CompletedAt),
			UpdatedAt: c.UpdatedAt.UTC(), WaitingReason: c.WaitingReason, NextAttemptAt: apiUTC(c.NextAttemptAt),
		})
	}
	return out
}

// apiSchedule returns the stored impression schedule when it is a JSON array, else nil (null).
// A malformed stored value is logged and shown as null rather than breaking the whole answer.
func (h *Handlers) apiSchedule(eventID string, c model.ChannelState) json.RawMessage {
	if c.ImpressionSchedule == nil {
		return nil
	}
	raw := bytes.TrimSpace([]byte(*c.ImpressionSchedule))
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] != '[' || !json.Valid(raw) {
		h.logger.Warn("stored impression schedule is not a JSON array", slog.String("event_id", eventID),
			slog.String("channel", string(c.Channel)))
		return nil
	}
	return raw
}

// apiEventID returns the :id path parameter when it can name an event; EINVALID otherwise, before
// anything reaches SQL or Redis. Echo does not unescape parameters, so "..%2Fx" and "%00" arrive
// as typed and fail the pattern.
func apiEventID(c echo.Context) (string, error) {
	id := c.Param("id")
	if !model.ValidEventID(id) {
		return "", model.Errork(model.EINVALID, "err.event_id", "invalid event id: use 1 to 36 letters, digits, '_' or '-'")
	}
	return id, nil
}

func apiActor(c echo.Context) string {
	p, _ := Principal(c)
	return p.Name
}

// decodeAPIBody reads a request body holding exactly one JSON object into dst. It answers 415
// unless the Content-Type is application/json (or another +json type), 413 past the body limit,
// and 400 for an empty body, malformed JSON, a value of the wrong type (naming the field), a
// field the endpoint does not know (naming it): a misspelt optional field must not be silently
// ignored, or a key given twice in one object (naming it; see duplicateKey).
func decodeAPIBody(c echo.Context, dst any) error {
	req := c.Request()
	mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil || (mt != echo.MIMEApplicationJSON && !(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))) {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
	}
	body, err := io.ReadAll(req.Body) // bounded by the body limit middleware (413)
	if err != nil {
		return apiJSONError(err)
	}
	// JSON text is UTF-8 (RFC 8259 §8.1); Go's decoder would silently turn bad bytes into U+FFFD,
	// storing something the client never sent.
	if !utf8.Valid(body) {
		return model.Errorf(model.EINVALID, "request body is not valid UTF-8")
	}
	if key := duplicateKey(body); key != "" {
		return model.Errorf(model.EINVALID, "duplicate key %q in request body", model.Truncate(key, 40))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return apiJSONError(err)
	}
	// One value only: trailing garbage means the client sent something other than it thinks.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return apiJSONError(err)
		}
		return model.Errorf(model.EINVALID, "request body must hold a single JSON object")
	}
	return nil
}

func apiJSONError(err error) error {
	var (
		he  *echo.HTTPError
		ute *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &he): // the body limit (413)
		return he
	case errors.Is(err, io.EOF):
		return model.Errorf(model.EINVALID, "request body is empty: send a JSON object")
	case errors.As(err, &ute):
		if ute.Field == "" {
			return model.Errorf(model.EINVALID, "request body must be a JSON object")
		}
		return model.Errorf(model.EINVALID, "field %q must be %s", model.Truncate(ute.Field, 40), apiJSONKind(ute.Type.String()))
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name, qerr := strconv.Unquote(field)
		if qerr != nil {
			name = field
		}
		return model.Errorf(model.EINVALID, "unknown field %q in request body", model.Truncate(name, 40))
	}
	return model.Errorf(model.EINVALID, "request body is not valid JSON")
}

func apiJSONKind(goType string) string {
	switch goType {
	case "string":
		return "a string"
	case "[]string":
		return "an array of strings"
	}
	return "of another type"
}

// apiEventInput is the body of POST /api/v1/events.
type apiEventInput struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
	ImageURL    string `json:"imageUrl"`
	StoreName   string `json:"storeName"`
	// StoreID (optional) attaches the event to a store; storeName is then the store's name.
	StoreID string `json:"storeId"`
}

// APICreateEvent serves POST /api/v1/events → 201 with the event (a client's valid id is kept).
func (h *Handlers) APICreateEvent(c echo.Context) error {
	var in apiEventInput
	if err := decodeAPIBody(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	actor := apiActor(c)
	e, err := h.createEvent(ctx, model.Event{
		ID: in.ID, Title: in.Title, Description: in.Description, ImageURL: in.ImageURL, StoreName: in.StoreName,
		StoreID: in.StoreID,
	}, actor, c.RealIP())
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, APIPrefix+"/events/"+e.ID)
	return c.JSON(http.StatusCreated, h.apiEventOf(e))
}

// apiListParams are the query parameters GET /api/v1/events understands.
var apiListParams = []string{"q", "status", "channel", "channel_status", "limit", "cursor"}

// apiEventFilter validates the list's query parameters; unknown parameters are ignored.
func apiEventFilter(c echo.Context) (model.EventFilter, error) {
	qs := c.QueryParams()
	for _, k := range apiListParams {
		if len(qs[k]) > 1 {
			return model.EventFilter{}, model.Errorf(model.EINVALID, "query parameter %s is given more than once", k)
		}
	}
	text, err := queryLine(c, "q", 0) // the store bounds its length
	if err != nil {
		return model.EventFilter{}, err
	}
	cursor, err := queryLine(c, "cursor", 0)
	if err != nil {
		return model.EventFilter{}, err
	}
	f := model.EventFilter{Q: text, Cursor: cursor, Limit: 25}
	if s := qs.Get("status"); s != "" {
		if f.Status = model.OverallStatus(s); !f.Status.ValidFilter() {
			return f, model.Errorf(model.EINVALID, "unknown status %q (want NOT_STARTED, IN_PROGRESS, COMPLETED, FAILED or PARTIAL_SUCCESS)", model.Truncate(s, 40))
		}
	}
	if s := qs.Get("channel"); s != "" {
		ch, err := model.ParseChannel(s)
		if err != nil {
			return f, err
		}
		f.Channel = ch
	}
	if s := qs.Get("channel_status"); s != "" {
		if f.ChannelStatus = model.ChannelStatus(s); !f.ChannelStatus.Valid() {
			return f, model.Errorf(model.EINVALID, "unknown channel_status %q (want PENDING, IN_PROGRESS, SUCCESS or FAILED)", model.Truncate(s, 40))
		}
	}
	if s := qs.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			return f, model.Errorf(model.EINVALID, "limit must be a whole number from 1 to 100")
		}
		f.Limit = n
	}
	return f, nil
}

// APIListEvents serves GET /api/v1/events → {"events": [...], "nextCursor": "..." | null}, newest
// first, each event with its distribution (or null).
func (h *Handlers) APIListEvents(c echo.Context) error {
	f, err := apiEventFilter(c)
	if err != nil {
		return err
	}
	page, err := h.deps.Store.FindEvents(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := struct {
		Events     []apiEvent `json:"events"`
		NextCursor *string    `json:"nextCursor"`
	}{Events: make([]apiEvent, 0, len(page.Events))}
	for _, e := range page.Events {
		out.Events = append(out.Events, h.apiEventOf(e))
	}
	if page.NextCursor != "" {
		out.NextCursor = &page.NextCursor
	}
	return c.JSON(http.StatusOK, out)
}

// APIGetEvent serves GET /api/v1/events/{id}.
func (h *Handlers) APIGetEvent(c echo.Context) error {
	id, err := apiEventID(c)
	if err != nil {
		return err
	}
	e, err := h.deps.Store.FindEventByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h.apiEventOf(e))
}

// apiStartInput is the body of POST /api/v1/events/{id}/distribution.
type apiStartInput struct {
	Channels []string `json:"channels"`
}

// APIStartDistribution serves POST /api/v1/events/{id}/distribution → 202 with the distribution.
// A second start answers 409 with the error and the existing distribution.
func (h *Handlers) APIStartDistribution(c echo.Context) error {
	id, err := apiEventID(c)
	if err != nil {
		return err
	}
	var in apiStartInput
	if err := decodeAPIBody(c, &in); err != nil {
		return err
	}
	chans, err := model.ParseChannels(in.Channels)
	if err != nil {
		return err
	}
	d, err := h.deps.Engine.StartDistribution(c.Request().Context(), id, chans, apiActor(c))
	if uerr := (*model.UnavailableError)(nil); errors.As(err, &uerr) {
		return apiUnavailable(c, uerr)
	}
	var started *model.AlreadyStartedError
	if errors.As(err, &started) {
		return c.JSON(http.StatusConflict, struct {
			Error        apiErrorBody    `json:"error"`
			Distribution apiDistribution `json:"distribution"`
		}{
			Error:        apiErrorBody{Code: model.ECONFLICT, Message: "this event's distribution has already started"},
			Distribution: h.apiDistributionOf(started.Distribution),
		})
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, APIPrefix+"/events/"+id+"/distribution")
	return c.JSON(http.StatusAccepted, h.apiDistributionOf(d))
}

// apiUnavailable answers a start or retry the pre-flight check refused: 400 channel_unavailable
// (409 quota_exhausted when only quotas refused) naming each channel, its reason code, detail and,
// for a quota, when it frees up (availableAt). Nothing was written.
func apiUnavailable(c echo.Context, e *model.UnavailableError) error {
	code := e.Code()
	var body struct {
		Error struct {
			Code     string               `json:"code"`
			Message  string               `json:"message"`
			Channels []model.ChannelCheck `json:"channels"`
		} `json:"error"`
	}
	body.Error.Code, body.Error.Message, body.Error.Channels = code, model.ErrorMessage(e), e.Checks
	return c.JSON(model.HTTPStatus(code), body)
}

// apiScheduleInput is the body of PUT /api/v1/events/{id}/schedule.
type apiScheduleInput struct {
	Channels []string `json:"channels"`
	StartAt  string   `json:"startAt"`
}

// APIPutSchedule serves PUT /api/v1/events/{id}/schedule → 201 with the schedule, or 200 when it
// replaced the event's schedule. 400: bad body, unknown/duplicate/no channel, startAt not RFC 3339,
// more than a minute in the past or more than 90 days ahead (by the database clock); 404 unknown
// event; 409 the distribution has started.
func (h *Handlers) APIPutSchedule(c echo.Context) error {
	id, err := apiEventID(c)
	if err != nil {
		return err
	}
	var in apiScheduleInput
	if err := decodeAPIBody(c, &in); err != nil {
		return err
	}
	chans, err := model.ParseChannels(in.Channels)
	if err != nil {
		return err
	}
	if in.StartAt == "" {
		return model.Errorf(model.EINVALID, "startAt is required: an RFC 3339 time such as 2025-01-02T15:04:05+09:00")
	}
	at, err := time.Parse(time.RFC3339, in.StartAt)
	if err != nil {
		return model.Errorf(model.EINVALID, "startAt must be an RFC 3339 time such as 2025-01-02T15:04:05+09:00")
	}
	ctx := c.Request().Context()
	s, replaced, err := h.deps.Store.ScheduleDistribution(ctx, id, chans, at, apiActor(c))
	if err != nil {
		return err
	}
	h.announceSchedule(ctx, id)
	c.Response().Header().Set(echo.HeaderLocation, APIPrefix+"/events/"+id+"/schedule")
	status := http.StatusCreated
	if replaced {
		status = http.StatusOK
	}
	return c.JSON(status, apiScheduleOf(s))
}

// APIGetSchedule serves GET /api/v1/events/{id}/schedule → 200 with the schedule; 404 when the
// event has none (or does not exist).
func (h *Handlers) APIGetSchedule(c echo.Context) error {
	id, err := apiEventID(c)
	if err != nil {
		return err
	}
	s, err := h.deps.Store.FindSchedule(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiScheduleOf(s))
}

// APIDeleteSchedule serves DELETE /api/v1/events/{id}/schedule → 204 (unscheduled); 404 when the
// event has no schedule (never had one, or it has fallen due and started).
func (h *Handlers) APIDeleteSchedule(c echo.Context) error {
	id, err := apiEventID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := h.deps.Store.DeleteSchedule(ctx, id, apiActor(c)); err != nil {
		return err
	}
	h.announceSchedule(ctx, id)
	return c.NoContent(http.StatusNoContent)
}

// announceSchedule tells open pages that an event's schedule changed (the event's created key is
// the event's change signal while it has no distribution); a failure is logged only.
func (h *Handlers) announceSchedule(ctx context.Context, eventID string) {
	if h.deps.Announce == nil {
		return
	}
	if err := h.deps.Announce.AnnounceEvent(ctx, eventID); err != nil {
		h.logger.WarnContext(ctx, "announce schedule change", slog.String("event_id", eventID), slog.Any("error", err))
	}
}

// APIGetDistribution serves GET /api/v1/events/{id}/distribution: Redis first, Postgres on a miss
// or outage (Deps.Status). 404 when the event has no distribution.
func (h *Handlers) APIGetDistribution(c echo.Context) error {
	id, err := apiEventID(c)
	if err != nil {
		return err
	}
	d, err := h.deps.Status.Distribution(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h.apiDistributionOf(d))
}

// APIRetryChannel serves POST /api/v1/events/{id}/distribution/channels/{ch}/retry → 202 with the
// distribution; 409 unless the channel is FAILED. Any request body is ignored.
func (h *Handlers) APIRetryChannel(c echo.Context) error {
	return h.apiChannelAction(c, h.deps.Engine.RetryChannel)
}

// apiChannelAction answers an API action on one channel of an event's distribution: 202 with the
// distribution after it.
func (h *Handlers) apiChannelAction(c echo.Context, act channelAction) error {
	id, err := apiEventID(c)
	if err != nil {
		return err
	}
	ch, err := model.ParseChannel(c.Param("ch"))
	if err != nil {
		return err
	}
	d, err := act(c.Request().Context(), id, ch, apiActor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, h.apiDistributionOf(d))
}

// APICancelDistribution serves POST /api/v1/events/{id}/distribution/cancel → 202 with the
// distribution: every PENDING or IN_PROGRESS channel FAILED "cancelled by <actor>", its job
// cancelled; 409 when nothing is left to cancel, 404 without a distribution. Any body is ignored.
func (h *Handlers) APICancelDistribution(c echo.Context) error {
	id, err := apiEventID(c)
	if err != nil {
		return err
	}
	d, err := h.deps.Engine.CancelDistribution(c.Request().Context(), id, apiActor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, h.apiDistributionOf(d))
}

// APICancelChannel serves POST /api/v1/events/{id}/distribution/channels/{ch}/cancel → 202 with
// the distribution; 409 unless the channel is PENDING or IN_PROGRESS. Any body is ignored.
func (h *Handlers) APICancelChannel(c echo.Context) error {
	return h.apiChannelAction(c, h.deps.Engine.CancelChannel)
}

// APIRetryFailed serves POST /api/v1/events/{id}/distribution/retry-failed → 202 {"channels": [...]};
// 409 when no channel is FAILED. Any request body is ignored.
func (h *Handlers) APIRetryFailed(c echo.Context) error {
	id, err := apiEventID(c)
	if err != nil {
		return err
	}
	chans, skipped, err := h.deps.Engine.RetryFailedChecked(c.Request().Context(), id, apiActor(c))
	if uerr := (*model.UnavailableError)(nil); errors.As(err, &uerr) {
		return apiUnavailable(c, uerr)
	}
	if err != nil {
		return err
	}
	if chans == nil {
		chans = []model.Channel{}
	}
	return c.JSON(http.StatusAccepted, struct {
		Channels []model.Channel      `json:"channels"`
		Skipped  []model.ChannelCheck `json:"skipped,omitempty"` // refused by the pre-flight check, left FAILED
	}{chans, skipped})
}

// apiRetryFilterInput is the body of POST /api/v1/retries and /api/v1/retries/preview.
type apiRetryFilterInput struct {
	Channel string `json:"channel"`
	From    string `json:"from"`
	To      string `json:"to"`
}

func apiRetryFilter(c echo.Context) (db.RetryFilter, error) {
	var in apiRetryFilterInput
	if err := decodeAPIBody(c, &in); err != nil {
		return db.RetryFilter{}, err
	}
	var f db.RetryFilter
	if in.Channel != "" {
		ch, err := model.ParseChannel(in.Channel)
		if err != nil {
			return f, err
		}
		f.Channel = ch
	}
	for _, t := range []struct {
		name, value string
		dst         *time.Time
	}{{"from", in.From, &f.From}, {"to", in.To, &f.To}} {
		if t.value == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, t.value)
		if err != nil {
			return f, model.Errorf(model.EINVALID, "%s must be an RFC 3339 time such as 2025-01-02T15:04:05Z", t.name)
		}
		*t.dst = v
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, model.Errork(model.EINVALID, "err.time_range_empty", "the time range is empty: from must be before to")
	}
	return f, nil
}

// APIPreviewRetries serves POST /api/v1/retries/preview → 200 {"count": n}: how many FAILED
// channels a bulk retry with this filter would retry. Writes nothing.
func (h *Handlers) APIPreviewRetries(c echo.Context) error {
	f, err := apiRetryFilter(c)
	if err != nil {
		return err
	}
	n, err := h.deps.Engine.RetryMatching(c.Request().Context(), f, apiActor(c), true)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]int{"count": n})
}

// APIRetryMatching serves POST /api/v1/retries → 202 {"count": n}: every FAILED channel matching
// the filter (channel, failed in [from, to)) is retried, up to the engine's bulk limit per call.
func (h *Handlers) APIRetryMatching(c echo.Context) error {
	f, err := apiRetryFilter(c)
	if err != nil {
		return err
	}
	n, err := h.deps.Engine.RetryMatching(c.Request().Context(), f, apiActor(c), false)
	if err != nil {
		return fmt.Errorf("bulk retry (%d channels retried before the failure): %w", n, err)
	}
	return c.JSON(http.StatusAccepted, map[string]int{"count": n})
}

// APIAttempts serves GET /api/v1/events/{id}/distribution/attempts → {"attempts": [...]}.
func (h *Handlers) APIAttempts(c echo.Context) error {
	id, err := apiEventID(c)
	if err != nil {
		return err
	}
	as, err := h.deps.Store.FindAttempts(c.Request().Context(), id)
	if err != nil {
		return err
	}
	out := make([]apiAttempt, 0, len(as))
	for _, a := range as {
		out = append(out, apiAttempt{
			Channel: a.Channel, Attempt: a.Attempt, Trigger: a.Trigger, StartedAt: a.StartedAt.UTC(),
			FinishedAt: apiUTC(a.FinishedAt), Outcome: a.Outcome, Error: a.Error, HTTPStatus: a.HTTPStatus,
		})
	}
	return c.JSON(http.StatusOK, map[string][]apiAttempt{"attempts": out})
}

// APIOpenAPI serves GET /api/v1/openapi.json, the OpenAPI 3.1 description of this API. It needs a
// login or token like every other route.
func (h *Handlers) APIOpenAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPISpec)
}
