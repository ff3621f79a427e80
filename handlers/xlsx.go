package handlers

// The Excel export of a report (issue 15.12): the CSV stays the machines' format (raw values,
// RFC 4180, formulas neutralised with an apostrophe); people open this one. Ids are text cells
// (a 19-digit Instagram post id keeps every digit), counts are numbers, times are real date cells
// in the reader's time zone, headers are in the reader's language, the header row is frozen.
// Every value from data is written as a literal string cell: nothing is ever a formula.

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/xuri/excelize/v2"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

// MaxXLSXRows bounds one Excel export (the CSV has every row): the file is built whole before it
// is sent (a zip needs its directory at the end), so its size and CPU are bounded here.
const MaxXLSXRows = 200_000

// XLSXContentType is the media type of an .xlsx workbook.
const XLSXContentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// xlsxColumns are the export's columns: catalogue key of the header, and width in characters.
var xlsxColumns = []struct {
	key   string
	width float64
}{
	{"xlsx.event", 24}, {"xlsx.title", 40}, {"xlsx.channel", 14}, {"xlsx.status", 12},
	{"xlsx.post_url", 40}, {"xlsx.post_id", 22}, {"xlsx.message_id", 22}, {"xlsx.distribution_id", 22},
	{"xlsx.views", 14}, {"xlsx.retries", 10}, {"xlsx.last_error", 40}, {"xlsx.started_at", 20},
	{"xlsx.completed_at", 20}, {"xlsx.measured_views", 16}, {"xlsx.measured_at", 20},
}

// xlsxText makes s safe for a worksheet cell: invalid UTF-8 becomes U+FFFD, and control
// characters XML cannot carry (NUL and the other C0 controls but tab and line feed; a carriage
// return is dropped, so CRLF reads as one line break) and the noncharacters U+FFFE/U+FFFF go.
func xlsxText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n':
			return r
		case r < 0x20, r == 0xFFFE, r == 0xFFFF:
			return -1
		}
		return r
	}, s)
}

// xlsxStr is a nullable text cell (nil: an empty cell).
func xlsxStr(s *string) any {
	if s == nil {
		return nil
	}
	return xlsxText(*s)
}

// ExportXLSX serves GET /reports/export.xlsx (managers): every row of the report with the same
// filter as the CSV (from, to, channel), as an Excel workbook built with excelize's stream writer.
// A report of more than MaxXLSXRows rows is refused (400) with a pointer to the CSV.
func (h *Handlers) ExportXLSX(c echo.Context) error {
	store, q, err := h.exportQuery(c)
	if err != nil {
		return err
	}
	lang := Lang(c)
	ctx := c.Request().Context()
	rep, err := store.FindReport(ctx, q.filter)
	if err != nil {
		return err
	}
	if rep.Total.Distributions > MaxXLSXRows {
		return model.Errork(model.EINVALID, "xlsx.too_many", "this report has more than %d rows, too many for one Excel file: choose a shorter range or a channel, or download the CSV", MaxXLSXRows)
	}
	loc := Zone(c)

	f := excelize.NewFile()
	defer f.Close() //nolint:errcheck // removes the stream writer's temporary files
	sheet := views.T(lang, "xlsx.sheet")
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	headStyle, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true},
		Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"E5E7EB"}}})
	if err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	dateFmt := "yyyy-mm-dd hh:mm:ss"
	dateStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &dateFmt})
	if err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	textStyle, err := f.NewStyle(&excelize.Style{NumFmt: 49}) // "@": the cell stays text when edited
	if err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	for i, col := range xlsxColumns {
		if err := sw.SetColWidth(i+1, i+1, col.width); err != nil {
			return fmt.Errorf("xlsx: %w", err)
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	head := make([]any, len(xlsxColumns))
	for i, col := range xlsxColumns {
		head[i] = excelize.Cell{StyleID: headStyle, Value: views.T(lang, col.key)}
	}
	if err := sw.SetRow("A1", head); err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	text := func(v any) excelize.Cell { return excelize.Cell{StyleID: textStyle, Value: v} }
	date := func(t *time.Time) any {
		if t == nil || t.IsZero() {
			return nil
		}
		return excelize.Cell{StyleID: dateStyle, Value: t.In(loc)}
	}
	n := 1
	err = store.StreamReportRows(ctx, q.filter, func(r model.ReportRow) error {
		if n > MaxXLSXRows { // rows added since the count: the file stays within its bound
			return nil
		}
		var est any
		if r.EstimatedViews != nil {
			est = *r.EstimatedViews
		}
		started := r.StartedAt
		n++
		cell, err := excelize.CoordinatesToCellName(1, n)
		if err != nil {
			return err
		}
		return sw.SetRow(cell, []any{
			text(xlsxText(r.EventID)), text(xlsxText(r.Title)), r.Channel.Name(lang), views.StatusName(lang, r.Status),
			text(xlsxStr(r.PostURL)), text(xlsxStr(r.PostID)), text(xlsxStr(r.MessageID)), text(xlsxStr(r.DistributionID)),
			est, r.Retries, text(xlsxStr(r.ErrorMessage)), date(&started), date(r.CompletedAt),
			measuredCell(r.MeasuredViews), date(r.MeasuredAt), // empty while unknown, never 0
		})
	})
	if err != nil {
		return fmt.Errorf("xlsx rows: %w", err)
	}
	if err := sw.Flush(); err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	name := "distribution-report_" + q.from + "_" + q.to
	if q.channel != "" {
		name += "_" + string(q.channel)
	}
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, XLSXContentType)
	res.Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`.xlsx"`)
	res.Header().Set("X-Content-Type-Options", "nosniff")
	_ = http.NewResponseController(res).SetWriteDeadline(time.Now().Add(csvWriteWindow))
	res.WriteHeader(http.StatusOK)
	if err := f.Write(res); err != nil {
		// The status line is sent: abort the connection so the browser reports a failed download.
		h.logger.WarnContext(ctx, "xlsx export aborted", "error", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}
