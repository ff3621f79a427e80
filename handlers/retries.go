package handlers

import (
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

// Bulk retry (staff and managers): GET /retries shows the filter and, once submitted, how many
// FAILED channels match; POST /retries retries them. Dates are days in the reader's time zone,
// both ends inclusive.

// bulkFilter reads channel, from and to (YYYY-MM-DD) from the request.
func bulkFilter(c echo.Context, lang string) (views.BulkRetryView, db.RetryFilter, error) {
	v := views.BulkRetryView{From: strings.TrimSpace(c.FormValue("from")), To: strings.TrimSpace(c.FormValue("to"))}
	var f db.RetryFilter
	if s := c.FormValue("channel"); s != "" {
		ch, err := model.ParseChannel(s)
		if err != nil {
			return v, f, err
		}
		v.Channel, f.Channel = ch, ch
	}
	loc := Zone(c)
	parse := func(s string) (time.Time, error) {
		if s == "" {
			return time.Time{}, nil
		}
		t, err := time.ParseInLocation(time.DateOnly, s, loc)
		if err != nil {
			return time.Time{}, model.Errork(model.EINVALID, "retries.bad_date", "dates must look like 2025-01-31")
		}
		return t, nil
	}
	from, err := parse(v.From)
	if err != nil {
		return v, f, err
	}
	to, err := parse(v.To)
	if err != nil {
		return v, f, err
	}
	f.From = from
	if !to.IsZero() {
		f.To = to.AddDate(0, 0, 1) // the whole last day
	}
	return v, f, nil
}

// BulkRetryPage serves GET /retries (query channel, from, to, check=1 to count).
func (h *Handlers) BulkRetryPage(c echo.Context) error {
	return h.renderBulk(c, http.StatusOK, h.takeFlash(c))
}

func (h *Handlers) renderBulk(c echo.Context, status int, flash views.Flash) error {
	lang := Lang(c)
	v, f, err := bulkFilter(c, lang)
	v.Flash = flash
	v.Checked = c.QueryParam("check") != "" || c.Request().Method == http.MethodPost
	if err == nil && v.Checked {
		v.Count, err = h.deps.Engine.RetryMatching(c.Request().Context(), f, "", true)
		if err == nil && v.Count > 0 {
			v.Candidates, err = h.deps.Store.FindRetryCandidates(c.Request().Context(), f, bulkRetryLimit)
		}
	}
	v.Retried = flash.Text != "" // the page's one flash is a bulk retry's
	if err != nil {
		st, ok := userError(err)
		if !ok {
			return err
		}
		v.Error = userMessage(c, err)
		if status == http.StatusOK {
			status = st
		}
	}
	v.Limit = bulkRetryLimit
	p := NewPage(c, "retries.title")
	return Render(c, status, views.BulkRetry(p, v))
}

// bulkRetryLimit is the engine's default cap of channels per bulk retry call (shown to people).
const bulkRetryLimit = 1000

// BulkRetryForm serves POST /retries (fields channel, from, to): retries every FAILED channel
// matching, then 303 back to the filtered page with the number retried.
func (h *Handlers) BulkRetryForm(c echo.Context) error {
	lang := Lang(c)
	v, f, err := bulkFilter(c, lang)
	if err != nil {
		if _, ok := userError(err); !ok {
			return err
		}
		return h.renderBulk(c, http.StatusBadRequest, views.Flash{})
	}
	// The preview's checkboxes: only the checked channels (select=1 says the list was shown, so
	// none checked retries nothing rather than everything).
	if c.FormValue("select") != "" {
		params, perr := c.FormParams()
		if perr != nil {
			return model.Errorf(model.EINVALID, "unreadable form")
		}
		f.IDs = []int64{}
		for _, s := range params["ids"] {
			id, err := strconv.ParseInt(s, 10, 64)
			if err != nil || id <= 0 {
				return model.Errorf(model.EINVALID, "ids must be channel numbers")
			}
			f.IDs = append(f.IDs, id)
		}
		if len(f.IDs) == 0 {
			return h.renderBulkError(c, http.StatusBadRequest, views.T(lang, "retries.none_selected"))
		}
	}
	pr, _ := Principal(c)
	n, err := h.deps.Engine.RetryMatching(c.Request().Context(), f, pr.Name, false)
	if err != nil && n == 0 {
		if status, ok := userError(err); ok {
			return h.renderBulk(c, status, views.Flash{})
		}
		return err
	}
	if err != nil {
		h.logger.WarnContext(c.Request().Context(), "bulk retry stopped early", slog.Int("retried", n), slog.Any("error", err))
	}
	h.setFlash(c, flashBulk, strconv.Itoa(n))
	q := url.Values{"check": {"1"}}
	if v.Channel != "" {
		q.Set("channel", string(v.Channel))
	}
	if v.From != "" {
		q.Set("from", v.From)
	}
	if v.To != "" {
		q.Set("to", v.To)
	}
	return c.Redirect(http.StatusSeeOther, "/retries?"+q.Encode())
}

// renderBulkError shows the bulk retry page with a problem of the confirmation itself.
func (h *Handlers) renderBulkError(c echo.Context, status int, msg string) error {
	v, f, err := bulkFilter(c, Lang(c))
	if err != nil {
		return err
	}
	v.Checked, v.Error, v.Limit = true, msg, bulkRetryLimit
	ctx := c.Request().Context()
	if v.Count, err = h.deps.Engine.RetryMatching(ctx, f, "", true); err != nil {
		return err
	}
	if v.Candidates, err = h.deps.Store.FindRetryCandidates(ctx, f, bulkRetryLimit); err != nil {
		return err
	}
	return Render(c, status, views.BulkRetry(NewPage(c, "retries.title"), v))
}
