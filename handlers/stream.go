package handlers

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/marketing-platform/distribution/internal/live"
	"github.com/marketing-platform/distribution/internal/model"
)

// The live streams: these handlers parse and authorize the request, and internal/live serves
// the stream (hub, feeds, stream loop, SSE writing, revocation, per-user cap).

// EventStream serves GET /events/{id}/stream: the live part of the detail page.
func (h *Handlers) EventStream(c echo.Context) error {
	id, err := eventIDParam(c)
	if err != nil {
		return err
	}
	if h.deps.Live == nil {
		return c.NoContent(http.StatusNoContent) // no live updates configured: Datastar stops
	}
	p := NewPage(c, "events.title")
	p.KakaoQuiet = h.deps.KakaoQuietHours // pre-flight notes, computed at each render
	p.Preflight = h.preflight
	return h.deps.Live.ServeEvent(c.Response(), c.Request(), id, p, viewer(c))
}

// EventsStream serves GET /events/stream?q&status&channel&channel_status&cursor: the live rows of
// the list page with the same query.
func (h *Handlers) EventsStream(c echo.Context) error {
	f, _ := pageFilter(c) // what the page could not use it ignored too, and said so
	if h.deps.Live == nil {
		return c.NoContent(http.StatusNoContent)
	}
	return h.deps.Live.ServeList(c.Response(), c.Request(), f, NewPage(c, "events.title"), viewer(c))
}

func viewer(c echo.Context) live.Viewer {
	p, ok := Principal(c)
	return live.Viewer{Principal: p, OK: ok}
}

// statusCounts returns the per-status distribution counts and the event total: shared for a
// moment with the live list streams when they run (live.Streams.StatusCounts).
func (h *Handlers) statusCounts(ctx context.Context) (map[model.OverallStatus]int, int, error) {
	if h.deps.Live != nil {
		return h.deps.Live.StatusCounts(ctx)
	}
	return h.deps.Store.CountEventsByStatus(ctx)
}
