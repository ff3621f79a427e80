package handlers_test

// Issue 15, items 4 and 12 and the reports pagination: the viewer's time zone as its own setting
// (day boundaries, displayed times, export times, in the browser and with a token), the Excel
// export read back with excelize, and the reports table's previous/next pages.

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"
	"github.com/xuri/excelize/v2"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/handlers"
	"github.com/marketing-platform/distribution/internal/model"
)

// seoul is DEFAULT_TIMEZONE's default: the zone of a viewer who chose none.
var seoul = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		panic(err)
	}
	return loc
}()

// getAs is GET path with an Accept-Language and, when tok is set, an API token instead of the
// session.
func (c *uiClient) getAs(path, lang, tok string) uiResp {
	c.a.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.a.url+path, nil)
	req.Header.Set("Accept-Language", lang)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return c.do(req)
}

func reportRowIDs(d *goquery.Document) []string {
	var ids []string
	d.Find(`tr[data-report-row]`).Each(func(_ int, s *goquery.Selection) {
		id, _ := s.Attr("data-event-id")
		ch, _ := s.Attr("data-channel")
		ids = append(ids, id+"/"+ch)
	})
	return ids
}

// TestZoneSettingDecidesDaysAndTimes (15.4): an English-reading manager in the default zone
// (Asia/Seoul) gets KST day boundaries for reports and bulk retry and KST times; after choosing UTC
// in the header the same dates mean UTC days. The language never moves the zone.
func TestZoneSettingDecidesDaysAndTimes(t *testing.T) {
	t.Parallel()
	a := newMgrApp(t, 0, nil)
	mgr := a.login("boss@example.com", model.RoleManager)
	// Started 2025-03-01 16:30 UTC = 2025-03-02 01:30 KST; KAKAO failed at the same moment.
	a.exec(`INSERT INTO events (id, title) VALUES ('night', 'Night sale')`)
	a.exec(`INSERT INTO distribution_status (event_id, overall_status, started_at) VALUES ('night', 'FAILED', '2025-03-01T16:30:00Z')`)
	a.exec(`INSERT INTO channel_status (distribution_status_id, event_id, channel, status, progress, retries, completed_at, error_message)
		SELECT id, event_id, 'KAKAO', 'FAILED', 0, 0, '2025-03-01T16:30:00Z', 'boom' FROM distribution_status WHERE event_id = 'night'`)

	rows := func(c *uiClient, day, lang string) (*goquery.Document, int) {
		t.Helper()
		r := c.getAs("/reports?from="+day+"&to="+day, lang, "")
		wantCode(t, "reports "+day, r, http.StatusOK)
		d := r.doc(t)
		return d, d.Find(`tr[data-report-row][data-event-id="night"]`).Length()
	}
	bulk := func(c *uiClient, day string) string {
		t.Helper()
		d := c.getAs("/retries?check=1&channel=KAKAO&from="+day+"&to="+day, "en", "").doc(t)
		n, _ := d.Find(`[data-bulk-count]`).Attr("data-bulk-count")
		return n
	}
	for _, lang := range []string{"en", "ko"} {
		d, n := rows(mgr, "2025-03-02", lang)
		if n != 1 {
			t.Errorf("%s reader in the default zone: the 01:30 KST start is not on 2025-03-02", lang)
		}
		if z, _ := d.Find(`form[data-action="report-filter"] [data-zone-note]`).Attr("data-zone-note"); z != "Asia/Seoul" {
			t.Errorf("%s: zone note %q next to the report dates", lang, z)
		}
		if got := d.Find(`tr[data-event-id="night"] time`).Text(); got != "2025-03-02 01:30:00 KST" {
			t.Errorf("%s: start shown as %q", lang, got)
		}
		if _, n := rows(mgr, "2025-03-01", lang); n != 0 {
			t.Errorf("%s reader in the default zone: the start counted on the UTC day", lang)
		}
	}
	if n := bulk(mgr, "2025-03-02"); n != "1" {
		t.Errorf("bulk retry on the KST day: %s matching, want 1", n)
	}
	d := mgr.getAs("/retries", "en", "").doc(t)
	if z, _ := d.Find(`form[data-action="bulk-retry-preview"] [data-zone-note]`).Attr("data-zone-note"); z != "Asia/Seoul" {
		t.Errorf("bulk retry zone note %q", z)
	}

	// The header's selector: the current zone selected, posting with the CSRF token.
	d = mgr.getAs("/reports", "en", "").doc(t)
	if z, _ := d.Find(`form[data-action="set-zone"] select[name="tz"] option[selected]`).Attr("value"); z != "Asia/Seoul" {
		t.Errorf("header zone %q", z)
	}
	wantCode(t, "no CSRF", mgr.post("/timezone", url.Values{"tz": {"UTC"}, "_csrf": {"forged"}}, false), http.StatusForbidden)
	for _, bad := range []string{"Mars/Olympus", "Local", "", "Asia/Seoul\x00", "../../etc/passwd", strings.Repeat("A", 200), "\xff\xfe"} {
		wantCode(t, "bad zone "+bad, mgr.post("/timezone", url.Values{"tz": {bad}}, false), http.StatusBadRequest)
	}
	wantLocation(t, "set zone", mgr.post("/timezone", url.Values{"tz": {"UTC"}, "next": {"/reports?from=2025-03-01"}}, false), "/reports?from=2025-03-01")

	d, n := rows(mgr, "2025-03-01", "ko")
	if n != 1 {
		t.Error("after choosing UTC, the start is not on the UTC day 2025-03-01")
	}
	if got := d.Find(`tr[data-event-id="night"] time`).Text(); got != "2025-03-01 16:30:00 UTC" {
		t.Errorf("Korean reader in UTC: start shown as %q", got)
	}
	if _, n := rows(mgr, "2025-03-02", "en"); n != 0 {
		t.Error("after choosing UTC, the start still counts on the KST day")
	}
	if n := bulk(mgr, "2025-03-01"); n != "1" {
		t.Errorf("bulk retry on the UTC day: %s matching, want 1", n)
	}
	if n := bulk(mgr, "2025-03-02"); n != "0" {
		t.Errorf("bulk retry on the KST day after choosing UTC: %s matching, want 0", n)
	}
	// Another user, another session: their own zone, the default.
	other := a.login("other@example.com", model.RoleManager)
	if _, n := rows(other, "2025-03-02", "en"); n != 1 {
		t.Error("one user's zone leaked to another")
	}
	// An anonymous browser keeps its choice in a cookie (the login page reads it).
	anon := a.client()
	anon.get("/login")
	wantLocation(t, "anonymous zone", anon.post("/timezone", url.Values{"tz": {"Europe/Berlin"}, "next": {"/login"}}, false), "/login")
	if z, _ := anon.get("/login").doc(t).Find(`select[name="tz"] option[selected]`).Attr("value"); z != "Europe/Berlin" {
		t.Errorf("anonymous zone %q", z)
	}
}

// TestZoneInCSVWithSessionAndToken (15.4): CSV times are in the viewer's zone: a session's user's,
// a token's owner's, else DEFAULT_TIMEZONE; the JSON API stays UTC.
func TestZoneInCSVWithSessionAndToken(t *testing.T) {
	t.Parallel()
	a := newMgrApp(t, 0, nil)
	mgr := a.login("boss@example.com", model.RoleManager)
	a.exec(`INSERT INTO events (id, title) VALUES ('ev1', 'x')`)
	a.exec(`INSERT INTO distribution_status (event_id, overall_status, started_at) VALUES ('ev1', 'IN_PROGRESS', now() - interval '1 hour')`)
	a.exec(`INSERT INTO channel_status (distribution_status_id, event_id, channel, status, progress, retries)
		SELECT id, event_id, 'NAVER', 'PENDING', 0, 0 FROM distribution_status`)
	started := func(r uiResp) string {
		t.Helper()
		wantCode(t, "csv", r, http.StatusOK)
		recs := parseCSV(t, r.body)
		if len(recs) != 2 {
			t.Fatalf("%d CSV rows", len(recs)-1)
		}
		return recs[1][11]
	}
	wantSuffix := func(what, got, suffix string) {
		t.Helper()
		if _, err := time.Parse(time.RFC3339, got); err != nil || !strings.HasSuffix(got, suffix) {
			t.Errorf("%s: started_at %q, want a time ending %s", what, got, suffix)
		}
	}
	wantSuffix("English session, default zone", started(mgr.getAs("/reports/export.csv", "en", "")), "+09:00")
	ownerID, err := strconv.ParseInt(a.userID("boss@example.com"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := a.issueToken(db.TokenSpec{Name: "boss-bot", Role: model.RoleManager, OwnerID: ownerID, CreatedBy: "boss@example.com"})
	svc, _ := a.issueToken(db.TokenSpec{Name: "svc-bot", Role: model.RoleManager, CreatedBy: "boss@example.com"})
	wantSuffix("token, owner in the default zone", started(a.client().getAs("/reports/export.csv", "en", tok)), "+09:00")

	wantLocation(t, "set zone", mgr.post("/timezone", url.Values{"tz": {"Asia/Kolkata"}}, false), "/")
	wantSuffix("session in Asia/Kolkata", started(mgr.getAs("/reports/export.csv", "ko", "")), "+05:30")
	wantSuffix("token of the owner in Asia/Kolkata", started(a.client().getAs("/reports/export.csv", "ko", tok)), "+05:30")
	wantSuffix("service account's token", started(a.client().getAs("/reports/export.csv", "en", svc)), "+09:00")

	// The JSON API keeps RFC 3339 UTC.
	api := a.client().getAs("/api/v1/events/ev1/distribution", "en", tok)
	wantCode(t, "api", api, http.StatusOK)
	if !strings.Contains(api.body, `"startedAt":"`) || !strings.Contains(api.body, `Z"`) || strings.Contains(api.body, "+05:30") {
		t.Errorf("API times not UTC: %s", api.body)
	}
}

// xlsxSetup inserts the Excel test's rows: hostile titles, a 19-digit post id, numbers, times.
func xlsxSetup(a *uiApp) {
	a.exec(`INSERT INTO events (id, title) VALUES
		('x-id', '-30% 세일'), ('x-hl', '=HYPERLINK("http://evil.example","click")'), ('x-eq', '=1+2'),
		('x-bad', E'a\u0001b' || chr(9) || 'c' || chr(13) || chr(10) || 'd'), ('x-ko', '봄 세일 "최대" 50%')`)
	a.exec(`INSERT INTO distribution_status (event_id, overall_status, started_at)
		SELECT id, 'PARTIAL_SUCCESS', '2025-03-01T16:30:00Z'::timestamptz + (row_number() OVER (ORDER BY id)) * interval '1 minute' FROM events`)
	a.exec(`INSERT INTO channel_status (distribution_status_id, event_id, channel, status, progress, retries, estimated_views,
			post_id, message_id, post_url, error_message, completed_at)
		SELECT id, event_id, 'INSTAGRAM', 'SUCCESS', 100, 2, 1234567, '3613970102938475612', '00012', 'https://instagram.example/p/1',
			'+cmd', '2025-03-01T17:00:00Z' FROM distribution_status`)
}

// TestExportXLSX (15.12): the Excel export read back with excelize: ids exact as text, numbers
// numeric, times date cells in the viewer's zone, headers in the reader's language, the header
// row frozen, column widths, and nothing from data ever a formula; hostile text keeps the file
// readable.
func TestExportXLSX(t *testing.T) {
	t.Parallel()
	a := newMgrApp(t, 0, nil)
	mgr := a.login("boss@example.com", model.RoleManager)
	staff := a.login("s@example.com", model.RoleStaff)
	xlsxSetup(a)
	const q = "?from=2025-02-25&to=2025-03-05"

	wantCode(t, "staff", staff.get("/reports/export.xlsx"+q), http.StatusForbidden)
	wantCode(t, "bad date", mgr.get("/reports/export.xlsx?from=2025-02-30"), http.StatusBadRequest)
	if href, _ := mgr.get("/reports" + q).doc(t).Find(`a[data-action="export-xlsx"]`).Attr("href"); href != "/reports/export.xlsx"+q {
		t.Errorf("download link %q", href)
	}

	open := func(lang string) (*excelize.File, string) {
		t.Helper()
		r := mgr.getAs("/reports/export.xlsx"+q, lang, "")
		wantCode(t, "xlsx "+lang, r, http.StatusOK)
		if ct := r.header.Get("Content-Type"); ct != handlers.XLSXContentType {
			t.Errorf("Content-Type %q", ct)
		}
		if cd := r.header.Get("Content-Disposition"); cd != `attachment; filename="distribution-report_2025-02-25_2025-03-05.xlsx"` {
			t.Errorf("Content-Disposition %q", cd)
		}
		f, err := excelize.OpenReader(bytes.NewReader([]byte(r.body)))
		if err != nil {
			t.Fatalf("the file does not open: %v", err)
		}
		t.Cleanup(func() { f.Close() }) //nolint:errcheck
		return f, f.GetSheetName(0)
	}

	f, sheet := open("en")
	rows, err := f.GetRows(sheet)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 {
		t.Fatalf("%d rows, want a header and 5", len(rows))
	}
	if rows[0][0] != "Event ID" || rows[0][5] != "Post ID" || rows[0][11] != "Started" {
		t.Errorf("English headers %q", rows[0])
	}
	byID := map[string]int{} // event id → row number (1-based)
	for i, r := range rows[1:] {
		byID[r[0]] = i + 2
	}
	cell := func(col string, row int) string { return col + itoa(row) }
	wantTitles := map[string]string{"x-id": "-30% 세일", "x-hl": `=HYPERLINK("http://evil.example","click")`, "x-eq": "=1+2",
		"x-bad": "ab\tc\nd", "x-ko": `봄 세일 "최대" 50%`}
	for id, want := range wantTitles {
		row, ok := byID[id]
		if !ok {
			t.Fatalf("no row for %s", id)
		}
		if got, _ := f.GetCellValue(sheet, cell("B", row)); got != want {
			t.Errorf("%s title %q, want %q", id, got, want)
		}
		for _, col := range []string{"A", "B", "F", "K"} {
			if fo, _ := f.GetCellFormula(sheet, cell(col, row)); fo != "" {
				t.Errorf("%s %s%d is a formula %q", id, col, row, fo)
			}
		}
		if typ, _ := f.GetCellType(sheet, cell("B", row)); typ != excelize.CellTypeInlineString {
			t.Errorf("%s title cell type %v, want a literal string", id, typ)
		}
		// The 19-digit post id keeps every digit, as text; a leading-zero id keeps its zeros.
		if got, _ := f.GetCellValue(sheet, cell("F", row)); got != "3613970102938475612" {
			t.Errorf("%s post id %q", id, got)
		}
		if typ, _ := f.GetCellType(sheet, cell("F", row)); typ != excelize.CellTypeInlineString {
			t.Errorf("%s post id type %v, want text", id, typ)
		}
		if got, _ := f.GetCellValue(sheet, cell("G", row)); got != "00012" {
			t.Errorf("%s message id %q", id, got)
		}
		if got, _ := f.GetCellValue(sheet, cell("K", row)); got != "+cmd" {
			t.Errorf("%s last error %q: the CSV's apostrophe does not belong here", id, got)
		}
		for col, want := range map[string]string{"I": "1234567", "J": "2"} {
			raw, _ := f.GetCellValue(sheet, cell(col, row), excelize.Options{RawCellValue: true})
			typ, _ := f.GetCellType(sheet, cell(col, row))
			if raw != want || (typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset) {
				t.Errorf("%s %s: %q type %v, want the number %s", id, col, raw, typ, want)
			}
		}
	}
	// Times: real date cells (a number with a date format) in the reader's zone (default Seoul).
	row := byID["x-bad"]
	raw, _ := f.GetCellValue(sheet, cell("M", row), excelize.Options{RawCellValue: true})
	serial, err := excelize.ExcelDateToTime(parseFloat(t, raw), false)
	if err != nil || !serial.Equal(time.Date(2025, 3, 2, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("completed_at serial %q = %v, want 2025-03-02 02:00 (KST wall clock)", raw, serial)
	}
	if got, _ := f.GetCellValue(sheet, cell("M", row)); got != "2025-03-02 02:00:00" {
		t.Errorf("completed_at shown %q", got)
	}
	style, _ := f.GetCellStyle(sheet, cell("L", row))
	st, err := f.GetStyle(style)
	if err != nil || st.CustomNumFmt == nil || !strings.Contains(*st.CustomNumFmt, "yyyy") {
		t.Errorf("started_at style %+v %v: not a date format", st, err)
	}
	panes, err := f.GetPanes(sheet)
	if err != nil || !panes.Freeze || panes.YSplit != 1 || panes.TopLeftCell != "A2" {
		t.Errorf("panes %+v %v: header row not frozen", panes, err)
	}
	if w, _ := f.GetColWidth(sheet, "B"); w < 30 {
		t.Errorf("title column width %v", w)
	}

	// Korean reader: Korean headers and sheet name; a zone change moves the date cells.
	wantLocation(t, "set zone", mgr.post("/timezone", url.Values{"tz": {"UTC"}}, false), "/")
	kf, ks := open("ko")
	krows, _ := kf.GetRows(ks)
	if ks != "리포트" || krows[0][0] != "이벤트 ID" || krows[0][5] != "게시물 ID" || krows[0][11] != "시작 시각" {
		t.Errorf("Korean sheet %q headers %q", ks, krows[0])
	}
	for i, r := range krows[1:] {
		if r[0] == "x-bad" {
			if got, _ := kf.GetCellValue(ks, "M"+itoa(i+2)); got != "2025-03-01 17:00:00" {
				t.Errorf("completed_at in UTC shown %q", got)
			}
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func parseFloat(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return f
}

// TestReportPagesPrevNext (15.14, reports): the report rows come in pages of 50 by default with
// the total, rel="next" and rel="prev" links that walk forward and back to the same pages, and a
// page size choice.
func TestReportPagesPrevNext(t *testing.T) {
	t.Parallel()
	a := newMgrApp(t, 0, nil)
	mgr := a.login("boss@example.com", model.RoleManager)
	a.exec(`INSERT INTO events (id, title) SELECT 'p' || i, 'Event ' || i FROM generate_series(1, 20) i`)
	a.exec(`INSERT INTO distribution_status (event_id, overall_status, started_at)
		SELECT 'p' || i, 'IN_PROGRESS', now() - (i / 2) * interval '1 minute' FROM generate_series(1, 20) i`) // ties on started_at
	a.exec(`INSERT INTO channel_status (distribution_status_id, event_id, channel, status, progress, retries)
		SELECT d.id, d.event_id, ch, 'PENDING', 0, 0 FROM distribution_status d,
		unnest(ARRAY['URIDONGNETV','RINGOBIZ','GINITV','INSTAGRAM','NAVER','KAKAO']) ch`)
	type page struct {
		ids        []string
		prev, next string
		total      string
	}
	get := func(path string) page {
		t.Helper()
		r := mgr.get(path)
		wantCode(t, path, r, http.StatusOK)
		d := r.doc(t)
		var p page
		p.ids = reportRowIDs(d)
		p.prev, _ = d.Find(`a[rel="prev"][data-action="prev-page"]`).Attr("href")
		p.next, _ = d.Find(`a[rel="next"][data-action="next-page"]`).Attr("href")
		p.total, _ = d.Find(`[data-report-total]`).Attr("data-report-total")
		return p
	}
	p1 := get("/reports")
	if len(p1.ids) != 50 || p1.prev != "" || p1.next == "" || p1.total != "120" {
		t.Fatalf("first page: %d rows, prev %q, next %q, total %q", len(p1.ids), p1.prev, p1.next, p1.total)
	}
	p2 := get(p1.next)
	p3 := get(p2.next)
	if len(p2.ids) != 50 || p2.prev == "" || len(p3.ids) != 20 || p3.next != "" || p3.prev == "" {
		t.Fatalf("pages 2 and 3: %d rows prev %q, %d rows next %q", len(p2.ids), p2.prev, len(p3.ids), p3.next)
	}
	seen := map[string]bool{}
	for _, id := range append(append(append([]string{}, p1.ids...), p2.ids...), p3.ids...) {
		if seen[id] {
			t.Errorf("row %s on two pages", id)
		}
		seen[id] = true
	}
	if len(seen) != 120 {
		t.Errorf("%d distinct rows, want 120", len(seen))
	}
	back2 := get(p3.prev)
	if strings.Join(back2.ids, ",") != strings.Join(p2.ids, ",") || back2.prev == "" || back2.next == "" {
		t.Errorf("previous from page 3 is not page 2 (%d rows, prev %q, next %q)", len(back2.ids), back2.prev, back2.next)
	}
	back1 := get(back2.prev)
	if strings.Join(back1.ids, ",") != strings.Join(p1.ids, ",") || back1.prev != "" {
		t.Errorf("previous from page 2 is not page 1 (%d rows, prev %q)", len(back1.ids), back1.prev)
	}
	if fwd := get(back2.next); strings.Join(fwd.ids, ",") != strings.Join(p3.ids, ",") {
		t.Error("next from the page reached backwards is not page 3")
	}

	small := get("/reports?size=25")
	if len(small.ids) != 25 || !strings.Contains(small.next, "size=25") {
		t.Errorf("size 25: %d rows, next %q", len(small.ids), small.next)
	}
	if p := get(small.next); len(p.ids) != 25 || !strings.Contains(p.prev, "size=25") {
		t.Errorf("size 25 page 2: %d rows, prev %q", len(p.ids), p.prev)
	}
	for _, bad := range []string{"size=7", "size=abc", "size=100000", "before=garbage", "cursor=x&before=y"} {
		wantCode(t, bad, mgr.get("/reports?"+bad), http.StatusBadRequest)
	}
}

// bigReport claims more rows than one Excel file may hold; it must never be streamed.
type bigReport struct{ handlers.ReportStore }

func (bigReport) FindReport(context.Context, model.ReportFilter) (model.Report, error) {
	return model.Report{Total: model.ChannelTotals{Distributions: handlers.MaxXLSXRows + 1}}, nil
}

// TestExportXLSXBounded (15.12): a report over MaxXLSXRows rows is refused before any row is read,
// with a message pointing to the CSV.
func TestExportXLSXBounded(t *testing.T) {
	t.Parallel()
	h := handlers.New(handlers.Deps{Reports: bigReport{}, Logger: slog.New(slog.DiscardHandler)})
	e := echo.New()
	rec := httptest.NewRecorder()
	err := h.ExportXLSX(e.NewContext(httptest.NewRequest(http.MethodGet, "/export", nil), rec))
	if model.ErrorCode(err) != model.EINVALID || !strings.Contains(model.ErrorMessage(err), "CSV") || rec.Body.Len() != 0 {
		t.Errorf("error %v, body %d bytes: want EINVALID pointing to the CSV, nothing written", err, rec.Body.Len())
	}
}
