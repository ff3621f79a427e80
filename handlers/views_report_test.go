package handlers_test

// Measured views in the reports (page, CSV, Excel) and the JSON API (issue 14 point 6): the
// number when the platform gave one, empty / null while unknown, never 0 in its place.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
)

func TestReportsShowMeasuredViews(t *testing.T) {
	t.Parallel()
	a := newMgrApp(t, 0, nil)
	mgr := a.login("boss@example.com", model.RoleManager)
	a.exec(`INSERT INTO events (id, title) VALUES ('mv-known', 'measured'), ('mv-none', 'not yet')`)
	a.exec(`INSERT INTO distribution_status (event_id, overall_status, started_at, completed_at)
		SELECT id, 'COMPLETED', now() - interval '1 hour', now() FROM events`)
	a.exec(`INSERT INTO channel_status (distribution_status_id, event_id, channel, status, progress, retries, post_id, estimated_views, completed_at)
		SELECT id, event_id, 'INSTAGRAM', 'SUCCESS', 100, 0, 'm-' || event_id, 600, now() FROM distribution_status`)
	a.exec(`UPDATE channel_status SET measured_views = 1234, measured_at = now() WHERE event_id = 'mv-known'`)

	// CSV: the last two columns.
	r := mgr.getAs("/reports/export.csv", "en", "")
	wantCode(t, "csv", r, http.StatusOK)
	recs := parseCSV(t, r.body)
	got := map[string][]string{}
	for _, rec := range recs[1:] {
		got[rec[0]] = rec
	}
	if k := got["mv-known"]; len(k) != 15 || k[8] != "600" || k[13] != "1234" || k[14] == "" {
		t.Errorf("measured row %q: want estimated 600, measured 1234 with its time", k)
	}
	if n := got["mv-none"]; len(n) != 15 || n[8] != "600" || n[13] != "" || n[14] != "" {
		t.Errorf("unmeasured row %q: want the measured cells empty", n)
	}

	// Excel, in Korean: the headers and an empty cell while unknown.
	x := mgr.getAs("/reports/export.xlsx", "ko", "")
	wantCode(t, "xlsx", x, http.StatusOK)
	f, err := excelize.OpenReader(bytes.NewReader([]byte(x.body)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck
	rows, err := f.GetRows(f.GetSheetName(0))
	if err != nil || len(rows) != 3 {
		t.Fatalf("rows %v %v", rows, err)
	}
	if len(rows[0]) != 15 || rows[0][13] != "실제 조회수" || rows[0][14] != "측정 시각" {
		t.Errorf("Korean headers %q", rows[0])
	}
	for _, row := range rows[1:] {
		measured := ""
		if len(row) > 13 {
			measured = row[13]
		}
		switch row[0] {
		case "mv-known":
			if measured != "1234" {
				t.Errorf("xlsx measured %q, want 1234", measured)
			}
		case "mv-none":
			if measured != "" {
				t.Errorf("xlsx measured %q, want an empty cell", measured)
			}
		}
	}
	typ, err := f.GetCellType(f.GetSheetName(0), "N2")
	if err != nil || (typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset) {
		t.Errorf("measured cell type %v %v: want a number", typ, err)
	}

	// The page, in English and Korean.
	for lang, head := range map[string]string{"en": "Measured views", "ko": "실제 조회수"} {
		d := mgr.getAs("/reports", lang, "").doc(t)
		if h := strings.TrimSpace(d.Find(`th[data-col-head="measured-views"]`).Text()); h != head {
			t.Errorf("%s header %q, want %q", lang, h, head)
		}
		known := strings.TrimSpace(d.Find(`tr[data-event-id="mv-known"] td[data-col="measured-views"]`).Text())
		none := strings.TrimSpace(d.Find(`tr[data-event-id="mv-none"] td[data-col="measured-views"]`).Text())
		if known != "1,234" || none != "—" {
			t.Errorf("%s page cells %q / %q: want 1,234 and a dash", lang, known, none)
		}
	}

	// Totals: the measured views of the rows that have one; a dash for a channel without any.
	d := mgr.getAs("/reports", "en", "").doc(t)
	if got := strings.TrimSpace(d.Find(`tr[data-totals-channel="INSTAGRAM"] td[data-col="measured-views"]`).Text()); got != "1,234" {
		t.Errorf("INSTAGRAM measured total %q, want 1,234", got)
	}
	if got := strings.TrimSpace(d.Find(`tr[data-totals-channel="ALL"] td[data-col="views"]`).Text()); got != "1,200" {
		t.Errorf("estimated total %q, want 1,200", got)
	}

	// The channel card: the measured views beside the estimate, only once measured.
	for id, want := range map[string]string{"mv-known": "1,234", "mv-none": ""} {
		d := mgr.getAs("/events/"+id, "ko", "").doc(t)
		if got := strings.TrimSpace(d.Find(`[data-measured-views]`).Text()); got != want {
			t.Errorf("%s card measured %q, want %q", id, got, want)
		}
		if est := strings.TrimSpace(d.Find(`[data-estimated-views]`).Text()); est != "600" {
			t.Errorf("%s card estimated %q", id, est)
		}
	}

	// JSON API: a number, or null.
	tok, _ := a.issueToken(db.TokenSpec{Name: "views-bot", Role: model.RoleManager, CreatedBy: "boss@example.com"})
	for id, want := range map[string]any{"mv-known": float64(1234), "mv-none": nil} {
		resp := a.client().getAs("/api/v1/events/"+id+"/distribution", "en", tok)
		wantCode(t, "api "+id, resp, http.StatusOK)
		var d struct {
			Channels []map[string]any `json:"channels"`
		}
		if err := json.Unmarshal([]byte(resp.body), &d); err != nil || len(d.Channels) != 1 {
			t.Fatalf("api %s: %v %s", id, err, resp.body)
		}
		mv, present := d.Channels[0]["measuredViews"]
		if !present || mv != want {
			t.Errorf("api %s measuredViews %v (present %v), want %v", id, mv, present, want)
		}
	}
}
