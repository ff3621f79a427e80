package handlers

import (
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

// ReportStore is what the manager pages read (db.DB): report totals, rows (a page, or a stream for
// the CSV), per-day outcomes, channel health and the audit log.
type ReportStore interface {
	FindReport(ctx context.Context, f model.ReportFilter) (model.Report, error)
	FindReportRows(ctx context.Context, f model.ReportFilter) (model.ReportPage, error)
	StreamReportRows(ctx context.Context, f model.ReportFilter, fn func(model.ReportRow) error) error
	FindReportDaily(ctx context.Context, f model.ReportFilter, zone string) ([]model.DailyCount, error)
	FindChannelHealth(ctx context.Context, hours int) ([]model.HealthBucket, map[model.Channel]int, error)
	FindAudit(ctx context.Context, f model.AuditFilter) (model.AuditPage, error)
}

// Report limits.
const (
	// DefaultReportDays is the range a report covers when none is given: the last 7 days, today
	// included, in the reader's zone.
	DefaultReportDays = 7
	// MaxReportDays bounds one report (and its per-day chart).
	MaxReportDays = 366
	// ReportHealthHours is the window of the channel health strip.
	ReportHealthHours = 24
	// csvFlushRows is how many CSV rows are buffered before they are sent on.
	csvFlushRows = 256
	// csvWriteWindow is how long a CSV download may take in all (the server's write timeout is
	// shorter; 100k rows need a few seconds on a good connection).
	csvWriteWindow = 10 * time.Minute
	// DefaultReportPageSize is how many per-event rows the reports page shows at once;
	// ReportPageSizes are the sizes a reader may choose (?size=).
	DefaultReportPageSize = 50
)

// ReportPageSizes are the page sizes of the reports table a reader may choose.
var ReportPageSizes = []int{25, 50, 100, 200}

const dateLayout = "2006-01-02"

// reportQuery is a report filter as it came in the URL, parsed in the reader's zone.
type reportQuery struct {
	from, to string // YYYY-MM-DD, inclusive
	channel  model.Channel
	cursor   string
	before   string // the previous page's position (instead of cursor)
	size     int    // rows per page; 0 = the default
	filter   model.ReportFilter
	days     []time.Time // every day of the range, as UTC dates
	zone     string      // the reader's IANA time zone
}

// parseReportQuery reads from, to (inclusive dates in the reader's zone; default the last 7 days)
// and channel. A bad value is an EINVALID error whose message is translated for the reader.
func parseReportQuery(c echo.Context, lang string) (reportQuery, error) {
	loc := Zone(c)
	q := reportQuery{from: strings.TrimSpace(c.QueryParam("from")), to: strings.TrimSpace(c.QueryParam("to")),
		cursor: c.QueryParam("cursor"), before: c.QueryParam("before")}
	today := time.Now().In(loc)
	if q.to == "" {
		q.to = today.Format(dateLayout)
	}
	to, err := time.ParseInLocation(dateLayout, q.to, loc)
	if err != nil {
		return q, model.Errork(model.EINVALID, "reports.bad_date", "dates must look like 2025-01-31")
	}
	if q.from == "" {
		q.from = to.AddDate(0, 0, -(DefaultReportDays - 1)).Format(dateLayout)
	}
	from, err := time.ParseInLocation(dateLayout, q.from, loc)
	if err != nil {
		return q, model.Errork(model.EINVALID, "reports.bad_date", "dates must look like 2025-01-31")
	}
	if from.After(to) {
		return q, model.Errork(model.EINVALID, "reports.bad_range", "the start date must not be after the end date")
	}
	end := to.AddDate(0, 0, 1)
	if end.Sub(from) > MaxReportDays*24*time.Hour+time.Hour {
		return q, model.Errork(model.EINVALID, "reports.long_range", "a report covers at most %d days; choose a shorter range", MaxReportDays)
	}
	if ch := c.QueryParam("channel"); ch != "" {
		if !model.Channel(ch).Valid() {
			return q, model.Errork(model.EINVALID, "reports.bad_channel", "unknown channel")
		}
		q.channel = model.Channel(ch)
	}
	if len(q.cursor) > 200 || len(q.before) > 200 || (q.cursor != "" && q.before != "") {
		return q, model.Errork(model.EINVALID, "reports.bad_cursor", "that page link is no longer valid; start from the first page")
	}
	if s := c.QueryParam("size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || !slices.Contains(ReportPageSizes, n) {
			return q, model.Errork(model.EINVALID, "reports.bad_size", "choose 25, 50, 100 or 200 rows per page")
		}
		if n != DefaultReportPageSize {
			q.size = n
		}
	}
	q.filter = model.ReportFilter{From: from, To: end, Channel: q.channel, Cursor: q.cursor, Before: q.before,
		Limit: cmp.Or(q.size, DefaultReportPageSize)}
	q.zone = loc.String()
	for d := from; d.Before(end); d = d.AddDate(0, 0, 1) {
		q.days = append(q.days, time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC))
	}
	return q, nil
}

// values is the query string of the filter, without the cursor (and without the page size: the
// exports take every row).
func (q reportQuery) values() url.Values {
	v := url.Values{"from": {q.from}, "to": {q.to}}
	if q.channel != "" {
		v.Set("channel", string(q.channel))
	}
	return v
}

// pageValues is values with the chosen page size.
func (q reportQuery) pageValues() url.Values {
	v := q.values()
	if q.size != 0 {
		v.Set("size", strconv.Itoa(q.size))
	}
	return v
}

func (h *Handlers) reportStore() (ReportStore, error) {
	if h.deps.Reports == nil {
		return nil, model.Errorf(model.EUNAVAILABLE, "reports are not configured")
	}
	return h.deps.Reports, nil
}

// Reports serves GET /reports (managers): query from, to (YYYY-MM-DD, inclusive, the reader's
// zone; default the last 7 days), channel, cursor (per-event rows). A bad filter answers 400 with
// the page and the reason.
func (h *Handlers) Reports(c echo.Context) error {
	store, err := h.reportStore()
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	p := NewPage(c, "reports.title")
	q, err := parseReportQuery(c, p.Lang)
	v := views.ReportView{From: q.from, To: q.to, Channel: q.channel, HealthHours: ReportHealthHours,
		PageSize: cmp.Or(q.size, DefaultReportPageSize), PageSizes: ReportPageSizes}
	if err != nil {
		v.Error = userMessage(c, err)
		return Render(c, http.StatusBadRequest, views.Reports(p, v))
	}
	page, err := store.FindReportRows(ctx, q.filter)
	if model.ErrorCode(err) == model.EINVALID { // a stale or forged cursor
		v.Error = views.T(p.Lang, "reports.bad_cursor")
		return Render(c, http.StatusBadRequest, views.Reports(p, v))
	}
	if err != nil {
		return err
	}
	if v.Report, err = store.FindReport(ctx, q.filter); err != nil {
		return err
	}
	if v.Daily, err = store.FindReportDaily(ctx, q.filter, q.zone); err != nil {
		return err
	}
	if v.Health, v.FailedNow, err = store.FindChannelHealth(ctx, ReportHealthHours); err != nil {
		return err
	}
	v.Breakers = h.deps.Engine.BreakerStatuses(ctx)
	v.Rows, v.Days = page.Rows, q.days
	vals := q.values()
	v.ExportURL = "/reports/export.csv?" + vals.Encode()
	v.ExportXLSXURL = "/reports/export.xlsx?" + vals.Encode()
	v.TotalRows = v.Report.Total.Distributions
	if page.PrevCursor != "" {
		v.FirstURL = "/reports?" + q.pageValues().Encode()
		prev := q.pageValues()
		prev.Set("before", page.PrevCursor)
		v.PrevURL = "/reports?" + prev.Encode()
	} else if q.cursor != "" || q.before != "" {
		v.FirstURL = "/reports?" + q.pageValues().Encode()
	}
	if page.NextCursor != "" {
		next := q.pageValues()
		next.Set("cursor", page.NextCursor)
		v.NextURL = "/reports?" + next.Encode()
	}
	return Render(c, http.StatusOK, views.Reports(p, v))
}

// csvHeader is the CSV export's first line (after the BOM).
var csvHeader = []string{"event", "title", "channel", "status", "post_url", "post_id", "message_id",
	"distribution_id", "estimated_views", "retries", "last_error", "started_at", "completed_at",
	// Appended, so readers of the older columns by position keep working (issue 14 point 6).
	"measured_views", "measured_at"}

// csvCell neutralises spreadsheet formulas (CSV injection, OWASP): a cell starting with = + - @,
// a tab or a carriage return is prefixed with an apostrophe, so Excel shows it as text.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func csvStr(s *string) string {
	if s == nil {
		return ""
	}
	return csvCell(*s)
}

// exportQuery is the report store and the filter of an export: the page's query (from, to,
// channel) without its paging, since an export holds every row.
func (h *Handlers) exportQuery(c echo.Context) (ReportStore, reportQuery, error) {
	store, err := h.reportStore()
	if err != nil {
		return nil, reportQuery{}, err
	}
	q, err := parseReportQuery(c, Lang(c))
	if err != nil {
		return nil, reportQuery{}, err
	}
	q.filter.Cursor, q.filter.Before = "", ""
	return store, q, nil
}

// ExportCSV serves GET /reports/export.csv (managers): every row of the report with the same
// filter (from, to, channel; no paging), streamed as the database yields it (constant memory),
// UTF-8 with a BOM so Excel reads Korean text, formulas neutralised. Times are RFC 3339 in the
// reader's zone.
func (h *Handlers) ExportCSV(c echo.Context) error {
	store, q, err := h.exportQuery(c)
	if err != nil {
		return err
	}
	loc := Zone(c)
	name := "distribution-report_" + q.from + "_" + q.to
	if q.channel != "" {
		name += "_" + string(q.channel)
	}
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	res.Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`.csv"`)
	// Downloads of many rows outlast the server's write timeout; each flush still has to finish.
	_ = http.NewResponseController(res).SetWriteDeadline(time.Now().Add(csvWriteWindow))
	res.WriteHeader(http.StatusOK)
	if _, err := res.Write([]byte("\xEF\xBB\xBF")); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	w := csv.NewWriter(res)
	if err := w.Write(csvHeader); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	n := 0
	ts := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.In(loc).Format(time.RFC3339)
	}
	err = store.StreamReportRows(c.Request().Context(), q.filter, func(r model.ReportRow) error {
		est := ""
		if r.EstimatedViews != nil {
			est = strconv.Itoa(*r.EstimatedViews)
		}
		started := r.StartedAt
		if err := w.Write([]string{
			csvCell(r.EventID), csvCell(r.Title), string(r.Channel), string(r.Status),
			csvStr(r.PostURL), csvStr(r.PostID), csvStr(r.MessageID), csvStr(r.DistributionID),
			est, strconv.Itoa(r.Retries), csvStr(r.ErrorMessage), ts(&started), ts(r.CompletedAt),
			measuredText(r.MeasuredViews), ts(r.MeasuredAt),
		}); err != nil {
			return err
		}
		if n++; n%csvFlushRows == 0 {
			w.Flush()
			if err := w.Error(); err != nil {
				return err
			}
			res.Flush()
		}
		return nil
	})
	w.Flush()
	if err == nil {
		err = w.Error()
	}
	if err != nil {
		// The status line is sent, so no error page can follow. Abort the connection instead of
		// ending the chunked body cleanly: the browser then reports a failed download rather than
		// saving a silently truncated file.
		h.logger.WarnContext(c.Request().Context(), "csv export aborted", slog.Int("rows", n), slog.Any("error", err))
		panic(http.ErrAbortHandler)
	}
	return nil
}
