package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/marketing-platform/distribution/internal/model"
)

// Staff's "probe now" for a channel paused by its circuit breaker (issue 13): the next probe is
// due at once, so the first waiting job runs as the probe. Audited by the engine.

// apiBreaker is a channel's breaker as the API shows it.
type apiBreaker struct {
	Channel model.Channel      `json:"channel"`
	State   model.BreakerState `json:"state"`
	// NextProbeAt is when the next probe may run (now after "probe now"), null when closed.
	NextProbeAt *time.Time `json:"nextProbeAt"`
}

func apiBreakerOf(st model.BreakerStatus) apiBreaker {
	out := apiBreaker{Channel: st.Channel, State: st.State}
	if !st.OpenUntil.IsZero() {
		t := st.OpenUntil.UTC()
		out.NextProbeAt = &t
	}
	return out
}

// APIProbeChannel serves POST /api/v1/channels/{ch}/probe → 202 with the breaker; 409 when the
// channel is not paused; 400 for an unknown channel. Any request body is ignored.
func (h *Handlers) APIProbeChannel(c echo.Context) error {
	ch, err := model.ParseChannel(c.Param("ch"))
	if err != nil {
		return err
	}
	st, err := h.deps.Engine.ProbeChannel(c.Request().Context(), ch, apiActor(c), c.RealIP())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, apiBreakerOf(st))
}

// ProbeChannelForm serves POST /channels/{ch}/probe (the reports health strip's button): the
// probe, then 303 back to the reports page, which shows the breaker's new state.
func (h *Handlers) ProbeChannelForm(c echo.Context) error {
	ch, err := model.ParseChannel(c.Param("ch"))
	if err != nil {
		return err
	}
	pr, _ := Principal(c)
	if _, err := h.deps.Engine.ProbeChannel(c.Request().Context(), ch, pr.Name, c.RealIP()); err != nil {
		return err
	}
	to := "/"
	if pr.Role.CanManage() {
		to = "/reports"
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// ProbeChannelCardForm serves POST /events/{id}/channels/{ch}/probe: "probe now" from a channel
// card paused by its breaker (staff and managers), answered like the card's other actions (the
// live fragment and a toast for Datastar, a redirect back otherwise).
func (h *Handlers) ProbeChannelCardForm(c echo.Context) error {
	id, err := eventIDParam(c)
	if err != nil {
		return err
	}
	ch, err := model.ParseChannel(c.Param("ch"))
	if err != nil {
		return err
	}
	pr, _ := Principal(c)
	if _, err := h.deps.Engine.ProbeChannel(c.Request().Context(), ch, pr.Name, c.RealIP()); err != nil {
		return h.actionFailed(c, id, err, userMessage(c, err))
	}
	return h.actionDone(c, id, flashProbed, string(ch))
}
