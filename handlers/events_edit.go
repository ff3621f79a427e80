package handlers

// Editing, duplicating and deleting events, from the API and from the detail page. Who may do it
// is who may create events (marketers and up). Edits and deletes are refused with 409
// (model.ESTARTED) once the event's distribution has started; the store decides that under the
// event's row lock, so a start racing an edit or a delete is serialised with it (db/events_edit.go).

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

// Flash keys of the event actions.
const (
	flashUpdated    = "updated"
	flashDuplicated = "duplicated"
	flashDeleted    = "deleted"
)

// apiEventPatch is the body of PATCH /api/v1/events/{id}: the create fields but the id, each
// optional (absent or null leaves it as it is).
type apiEventPatch struct {
	Title       *string `json:"title"`
	Description *string `json:"description"`
	ImageURL    *string `json:"imageUrl"`
	StoreName   *string `json:"storeName"`
	// StoreID moves the event to a store (its name becomes storeName); "" detaches it.
	StoreID *string `json:"storeId"`
}

// announce tells open list pages to re-read (a hint, like a new event's); failures are logged.
func (h *Handlers) announce(ctx context.Context, eventID, what string) {
	if h.deps.Announce == nil {
		return
	}
	if err := h.deps.Announce.AnnounceEvent(ctx, eventID); err != nil {
		h.logger.WarnContext(ctx, "announce "+what, slog.String("event_id", eventID), slog.Any("error", err))
	}
}

// APIUpdateEvent serves PATCH /api/v1/events/{id} → 200 with the event.
func (h *Handlers) APIUpdateEvent(c echo.Context) error {
	id, err := apiEventID(c)
	if err != nil {
		return err
	}
	var in apiEventPatch
	if err := decodeAPIBody(c, &in); err != nil {
		return err
	}
	patch := model.EventPatch{Title: in.Title, Description: in.Description, ImageURL: in.ImageURL, StoreName: in.StoreName, StoreID: in.StoreID}
	if patch.Empty() {
		return model.Errorf(model.EINVALID, "nothing to change: send title, description, imageUrl, storeName or storeId")
	}
	ctx := c.Request().Context()
	e, err := h.deps.Store.UpdateEvent(ctx, id, patch, model.AuditEntry{Actor: apiActor(c), IP: c.RealIP()})
	if err != nil {
		return err
	}
	h.announce(ctx, id, "edited event")
	return c.JSON(http.StatusOK, h.apiEventOf(e))
}

// APIDuplicateEvent serves POST /api/v1/events/{id}/duplicate → 201 with the new event.
func (h *Handlers) APIDuplicateEvent(c echo.Context) error {
	id, err := apiEventID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	e, err := h.deps.Store.DuplicateEvent(ctx, id, model.AuditEntry{Actor: apiActor(c), IP: c.RealIP()})
	if err != nil {
		return err
	}
	h.announce(ctx, e.ID, "duplicated event")
	c.Response().Header().Set(echo.HeaderLocation, APIPrefix+"/events/"+e.ID)
	return c.JSON(http.StatusCreated, h.apiEventOf(e))
}

// APIDeleteEvent serves DELETE /api/v1/events/{id} → 204.
func (h *Handlers) APIDeleteEvent(c echo.Context) error {
	id, err := apiEventID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := h.deps.Store.DeleteEvent(ctx, id, model.AuditEntry{Actor: apiActor(c), IP: c.RealIP()}); err != nil {
		return err
	}
	h.announce(ctx, id, "deleted event")
	return c.NoContent(http.StatusNoContent)
}

// eventActionFailed answers a refused edit, duplicate or delete from the detail page: the page
// again with the problem (translated when it is the distribution having started) and, for an
// edit, the form as typed.
func (h *Handlers) eventActionFailed(c echo.Context, id string, err error, form *views.EventForm) error {
	status, ok := userError(err)
	if !ok || model.ErrorCode(err) == model.ENOTFOUND {
		return err
	}
	msg := model.ErrorMessage(err)
	if model.ErrorCode(err) == model.ESTARTED {
		msg = views.T(Lang(c), "action.event_started")
		form = nil
	}
	if form != nil {
		form.Error = msg
		msg = ""
	}
	return h.renderDetailView(c, status, id, views.DetailView{Error: msg, Edit: form})
}

// UpdateEventForm serves POST /events/{id}/edit (fields title, description, imageUrl,
// storeName: the whole form, as the detail page's edit form sends it): 303 back to the event.
func (h *Handlers) UpdateEventForm(c echo.Context) error {
	id, err := eventIDParam(c)
	if err != nil {
		return err
	}
	form := views.EventForm{
		Title: c.FormValue("title"), Description: c.FormValue("description"),
		ImageURL: c.FormValue("imageUrl"), StoreName: c.FormValue("storeName"),
	}
	pr, _ := Principal(c)
	ctx := c.Request().Context()
	patch := model.EventPatch{Title: &form.Title, Description: &form.Description, ImageURL: &form.ImageURL, StoreName: &form.StoreName}
	if params, _ := c.FormParams(); params.Has("storeId") { // the store select (shown when stores exist)
		form.StoreID = params.Get("storeId")
		patch.StoreID = &form.StoreID
		if form.StoreID != "" && !model.ValidEventID(form.StoreID) {
			form.StoreID = ""
			return h.eventActionFailed(c, id, model.Errorf(model.EINVALID, "no such store"), &form)
		}
	}
	if _, err := h.deps.Store.UpdateEvent(ctx, id, patch, model.AuditEntry{Actor: pr.Name, IP: c.RealIP()}); err != nil {
		return h.eventActionFailed(c, id, err, &form)
	}
	h.announce(ctx, id, "edited event")
	h.setFlash(c, flashUpdated, "")
	return c.Redirect(http.StatusSeeOther, views.EventURL(id))
}

// DuplicateEventForm serves POST /events/{id}/duplicate: 303 to the copy's page.
func (h *Handlers) DuplicateEventForm(c echo.Context) error {
	id, err := eventIDParam(c)
	if err != nil {
		return err
	}
	pr, _ := Principal(c)
	ctx := c.Request().Context()
	e, err := h.deps.Store.DuplicateEvent(ctx, id, model.AuditEntry{Actor: pr.Name, IP: c.RealIP()})
	if err != nil {
		return h.eventActionFailed(c, id, err, nil)
	}
	h.announce(ctx, e.ID, "duplicated event")
	h.setFlash(c, flashDuplicated, "")
	return c.Redirect(http.StatusSeeOther, views.EventURL(e.ID))
}

// DeleteEventForm serves POST /events/{id}/delete (the confirmation dialog's "delete"): 303 to
// the events list.
func (h *Handlers) DeleteEventForm(c echo.Context) error {
	id, err := eventIDParam(c)
	if err != nil {
		return err
	}
	pr, _ := Principal(c)
	ctx := c.Request().Context()
	if err := h.deps.Store.DeleteEvent(ctx, id, model.AuditEntry{Actor: pr.Name, IP: c.RealIP()}); err != nil {
		return h.eventActionFailed(c, id, err, nil)
	}
	h.announce(ctx, id, "deleted event")
	h.setFlash(c, flashDeleted, "")
	return c.Redirect(http.StatusSeeOther, "/")
}
