package handlers_test

// One file on purpose: the report page, rows, pagination and CSV export tests share newMgrApp's
// engine-made data and the goquery and CSV helpers defined here.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"io"
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

	"github.com/marketing-platform/distribution/handlers"
	service "github.com/marketing-platform/distribution/internal/app"
	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/quiethours"
	"github.com/marketing-platform/distribution/internal/simulator"
	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// newTestService is the service as serve builds it over a fresh database and a private Redis,
// stopped at cleanup. With workers == 0 it is a web replica (ROLE=web: jobs are enqueued, never
// run); otherwise it also runs jobs (ROLE=all) through adapters, with tiny retry delays.
func newTestService(t *testing.T, workers int, adapters func(model.Channel) channels.Adapter) *service.App {
	t.Helper()
	cfg := testServiceConfig(t, workers, dbtest.NewURL(t), dbtest.StartRedis(t).URL)
	opts := []service.Option{service.WithLogger(slog.New(slog.DiscardHandler))}
	if adapters != nil {
		opts = append(opts, service.WithChannelAdapters(adapters))
	}
	return startTestService(t, cfg, opts...)
}

// testServiceConfig is the configuration of newTestService over a fresh database and the Redis at
// redisURL.
func testServiceConfig(tb testing.TB, workers int, dbURL, redisURL string) config.Config {
	tb.Helper()
	cfg := config.Default()
	cfg.DatabaseURL = dbURL
	cfg.RedisURL = redisURL
	cfg.Addr = "127.0.0.1:0"
	cfg.Role = config.RoleWeb
	cfg.PasswordHashMemoryKiB, cfg.PasswordHashTime = 64, 1
	cfg.ShutdownDelay = 0 // no load balancer to drain from
	// Off: KAKAO would wait for the morning when these tests run during Korea's night; the
	// quiet hours are tested with an injected clock (handlers/quiet_test.go, internal/engine).
	cfg.KakaoQuietHours = quiethours.Off
	if workers > 0 {
		cfg.Role, cfg.Workers = config.RoleAll, workers
		cfg.RetryBaseDelay, cfg.RetryMaxDelay = time.Millisecond, 5*time.Millisecond
		cfg.JobFetchPollInterval = 20 * time.Millisecond
		cfg.MaintenanceStartAtOnce = true
		// Off: these tests make channels fail on purpose (KAKAO=always across events), which would
		// open the channel-wide breaker and defer the last attempts by its 30 s cool-down. The
		// breaker is tested on its own (internal/engine TestBreaker*, breaker_test.go, chaos B1).
		cfg.ChannelBreakerThreshold = -1
	}
	return cfg
}

// startTestService builds the service of cfg through internal/app, starts it and stops it at
// cleanup.
func startTestService(tb testing.TB, cfg config.Config, opts ...service.Option) *service.App {
	tb.Helper()
	s, err := service.New(cfg, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			tb.Errorf("stop service: %v", err)
		}
	})
	if err := s.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return s
}

// newMgrApp is the service as serve builds it, manager pages included. With workers > 0 its
// engine runs jobs through adapters.
func newMgrApp(t *testing.T, workers int, adapters func(model.Channel) channels.Adapter) *uiApp {
	t.Helper()
	s := newTestService(t, workers, adapters)
	return &uiApp{t: t, db: s.Store, auth: s.Auth, eng: s.Engine, url: s.URL()}
}

// TestManagerRoleAccess: every manager page and action is for managers only: anonymous visitors
// are sent to log in, marketers and staff get 403, managers get the page.
func TestManagerRoleAccess(t *testing.T) {
	t.Parallel()
	a := newMgrApp(t, 0, nil)
	clients := map[string]*uiClient{
		"anonymous": a.client(),
		"marketer":  a.login("m@example.com", model.RoleMarketer),
		"staff":     a.login("s@example.com", model.RoleStaff),
		"manager":   a.login("boss@example.com", model.RoleManager),
	}
	clients["anonymous"].get("/login") // a CSRF cookie, so POSTs fail on the role, not the token
	pages := []string{"/reports", "/reports/export.csv", "/audit", "/users", "/tokens"}
	for who, c := range clients {
		for _, path := range pages {
			r := c.get(path)
			switch who {
			case "anonymous":
				wantLocation(t, who+" GET "+path, r, "/login?next="+url.QueryEscape(path))
			case "manager":
				wantCode(t, who+" GET "+path, r, http.StatusOK)
			default:
				wantCode(t, who+" GET "+path, r, http.StatusForbidden)
			}
		}
	}
	posts := []string{"/users", "/users/1/role", "/users/1/disable", "/users/1/enable", "/users/1/password", "/tokens", "/tokens/1/revoke"}
	for _, who := range []string{"anonymous", "marketer", "staff"} {
		for _, path := range posts {
			r := clients[who].post(path, url.Values{"role": {"manager"}, "email": {"x@example.com"}, "password": {"password1"}, "name": {"x"}}, false)
			if who == "anonymous" {
				wantLocation(t, who+" POST "+path, r, "/login")
			} else {
				wantCode(t, who+" POST "+path, r, http.StatusForbidden)
			}
		}
	}
	if n := a.count(`SELECT count(*) FROM users`); n != 3 {
		t.Errorf("%d users: a refused POST created one", n)
	}
	// The audit log has no way to change it.
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		req, _ := http.NewRequest(m, a.url+"/audit", nil)
		if r := clients["manager"].do(req); r.status < 400 {
			t.Errorf("%s /audit = %d", m, r.status)
		}
	}
	// The nav shows the manager links to managers only.
	if n := clients["manager"].get("/").doc(t).Find(`nav a[href="/audit"], nav a[href="/users"], nav a[href="/tokens"], nav a[href="/reports"]`).Length(); n != 4 {
		t.Errorf("manager nav has %d manager links, want 4", n)
	}
	if n := clients["staff"].get("/").doc(t).Find(`nav a[href="/audit"], nav a[href="/users"], nav a[href="/tokens"], nav a[href="/reports"]`).Length(); n != 0 {
		t.Errorf("staff nav has %d manager links", n)
	}
}

func (a *uiApp) count(sql string, args ...any) int {
	a.t.Helper()
	var n int
	if err := a.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		a.t.Fatal(err)
	}
	return n
}

// cellInt reads a formatted number ("30,000") from a totals cell.
func cellInt(t *testing.T, s *goquery.Selection) int {
	t.Helper()
	n, err := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(s.Text()), ",", ""))
	if err != nil {
		t.Fatalf("cell %q is not a number", s.Text())
	}
	return n
}

// TestReportMatchesEngine runs real distributions through the engine and the channel simulator
// (KAKAO always fails) and checks the report's totals, rows and CSV against what the engine wrote.
func TestReportMatchesEngine(t *testing.T) {
	t.Parallel()
	rules, err := simulator.ParseFail("KAKAO=always")
	if err != nil {
		t.Fatal(err)
	}
	sim := simulator.New(simulator.Config{Step: 2 * time.Millisecond, Fail: rules})
	base, stop, err := sim.StartLocal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	reg := channels.NewSimulatorRegistry(base, channels.Options{PollInterval: 5 * time.Millisecond})
	t.Cleanup(reg.Close)
	a := newMgrApp(t, 8, reg.Adapter)
	mgr := a.login("boss@example.com", model.RoleManager)

	events := map[string][]model.Channel{
		"rep-all":   model.AllChannels,
		"rep-kakao": {model.ChannelKakao},
		"rep-ig":    {model.ChannelInstagram, model.ChannelNaver},
	}
	for id, chans := range events {
		a.event(id, "리포트 "+id, chans...)
	}
	testkit.Eventually(t, 30*time.Second, "distributions finished", func() bool {
		return a.count(`SELECT count(*) FROM distribution_status WHERE overall_status = 'IN_PROGRESS'`) == 0
	})

	// What the engine wrote, summed per channel.
	type sums struct{ dists, ok, failed, views int }
	want := map[string]*sums{"ALL": {}}
	rowsWant := 0
	for id := range events {
		d, err := a.db.FindDistribution(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range d.Channels {
			rowsWant++
			for _, k := range []string{string(c.Channel), "ALL"} {
				if want[k] == nil {
					want[k] = &sums{}
				}
				s := want[k]
				s.dists++
				switch c.Status {
				case model.StatusSuccess:
					s.ok++
					s.views += *c.EstimatedViews
				case model.StatusFailed:
					s.failed++
				}
			}
		}
	}
	if want["KAKAO"].failed != 2 || want["ALL"].ok != 7 {
		t.Fatalf("engine outcome %+v %+v: want KAKAO failed twice, 7 successes", *want["KAKAO"], *want["ALL"])
	}

	r := mgr.get("/reports")
	wantCode(t, "reports", r, http.StatusOK)
	doc := r.doc(t)
	seen := 0
	doc.Find(`[data-report-totals] tr[data-totals-channel]`).Each(func(_ int, row *goquery.Selection) {
		seen++
		ch, _ := row.Attr("data-totals-channel")
		w := want[ch]
		if w == nil {
			t.Errorf("totals line for %s, which has no rows", ch)
			return
		}
		got := sums{cellInt(t, row.Find(`[data-col="distributions"]`)), cellInt(t, row.Find(`[data-col="succeeded"]`)),
			cellInt(t, row.Find(`[data-col="failed"]`)), cellInt(t, row.Find(`[data-col="views"]`))}
		if got != *w {
			t.Errorf("%s totals %+v, engine wrote %+v", ch, got, *w)
		}
	})
	if seen != len(want) {
		t.Errorf("%d totals lines, want %d", seen, len(want))
	}
	if got := doc.Find(`tr[data-totals-channel="ALL"] [data-col="events"]`).Text(); got != "3 events" {
		t.Errorf("events %q", got)
	}
	if got := doc.Find(`tr[data-totals-channel="KAKAO"] [data-col="success_rate"]`).Text(); got != "0.0%" {
		t.Errorf("KAKAO success rate %q", got)
	}
	if n := doc.Find(`tr[data-report-row]`).Length(); n != rowsWant {
		t.Errorf("%d rows, want %d", n, rowsWant)
	}
	// Post links: the simulator's https URLs are links; message ids shown; TV schedules summarised.
	if n := doc.Find(`tr[data-report-row][data-channel="INSTAGRAM"] a[data-post-link][href^="https://"]`).Length(); n != 2 {
		t.Errorf("%d INSTAGRAM post links, want 2", n)
	}
	if n := doc.Find(`tr[data-report-row][data-channel="KAKAO"][data-status="FAILED"]`).Length(); n != 2 {
		t.Errorf("%d failed KAKAO rows, want 2", n)
	}
	if s := doc.Find(`tr[data-report-row][data-event-id="rep-all"][data-channel="GINITV"] details summary`).Text(); !strings.Contains(s, "slots") {
		t.Errorf("GINITV schedule summary %q", s)
	}
	// Charts: three SVGs with a name and a table alternative.
	for _, id := range []string{"chart-views", "chart-daily", "chart-health"} {
		fig := doc.Find(`figure[data-chart="` + id + `"]`)
		if fig.Find(`svg[role="img"][aria-labelledby]`).Length() != 1 || fig.Find(`details table`).Length() != 1 {
			t.Errorf("chart %s lacks its svg role=img or its table alternative", id)
		}
	}
	if n := doc.Find(`figure[data-chart="chart-views"] svg rect`).Length(); n != 6 {
		t.Errorf("views chart has %d bars, want 6", n)
	}
	// Staff see "retry all failed" for KAKAO leading to the bulk retry page.
	if href, _ := doc.Find(`a[data-action="retry-channel-failed"][data-channel="KAKAO"]`).Attr("href"); href != "/retries?check=1&channel=KAKAO" {
		t.Errorf("retry link %q", href)
	}

	// The channel filter narrows everything to one channel.
	kd := mgr.get("/reports?channel=KAKAO").doc(t)
	if n := kd.Find(`tr[data-report-row]`).Length(); n != 2 || kd.Find(`tr[data-totals-channel="KAKAO"]`).Length() != 1 ||
		kd.Find(`tr[data-totals-channel="INSTAGRAM"]`).Length() != 0 {
		t.Errorf("KAKAO filter: %d rows", n)
	}

	// The CSV holds exactly the same rows.
	href, _ := doc.Find(`a[data-action="export-csv"]`).Attr("href")
	rc := mgr.get(href)
	wantCode(t, "export", rc, http.StatusOK)
	recs := parseCSV(t, rc.body)
	if len(recs) != rowsWant+1 {
		t.Errorf("CSV has %d rows, want %d", len(recs)-1, rowsWant)
	}
	views := 0
	for _, rec := range recs[1:] {
		if rec[3] == "SUCCESS" {
			n, err := strconv.Atoi(rec[8])
			if err != nil {
				t.Fatalf("estimated_views %q", rec[8])
			}
			views += n
		}
		if !strings.HasPrefix(rec[1], "리포트 ") {
			t.Errorf("title %q", rec[1])
		}
	}
	if views != want["ALL"].views {
		t.Errorf("CSV views %d, engine wrote %d", views, want["ALL"].views)
	}
}

// parseCSV checks the BOM and parses the rest.
func parseCSV(t *testing.T, body string) [][]string {
	t.Helper()
	rest, ok := strings.CutPrefix(body, "\xEF\xBB\xBF")
	if !ok {
		t.Fatalf("CSV does not start with a UTF-8 BOM: %q", body[:min(20, len(body))])
	}
	recs, err := csv.NewReader(strings.NewReader(rest)).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v", err)
	}
	if len(recs) == 0 || strings.Join(recs[0], ",") != "event,title,channel,status,post_url,post_id,message_id,distribution_id,estimated_views,retries,last_error,started_at,completed_at,measured_views,measured_at" {
		t.Fatalf("CSV header %v", recs)
	}
	return recs
}

// TestReportRowsAndCSVContent pins the rendering of awkward values on the page and in the CSV:
// Korean text, commas, quotes and newlines round-trip; formulas are neutralised; only https post
// URLs become links; numbers get thousands separators.
func TestReportRowsAndCSVContent(t *testing.T) {
	t.Parallel()
	a := newMgrApp(t, 0, nil)
	mgr := a.login("boss@example.com", model.RoleManager)
	titles := map[string]string{
		"t-ko":    "봄 세일, \"최대\" 50%\n둘째 줄",
		"t-eq":    "=HYPERLINK(\"http://evil\")",
		"t-plus":  "+1+1",
		"t-minus": "-2",
		"t-at":    "@SUM(A1)",
	}
	for id, title := range titles {
		a.event(id, strings.ReplaceAll(title, "\n", " "), model.ChannelInstagram)
		// Titles are one line since the input check; rows stored before it may hold a newline.
		a.exec(`UPDATE events SET title = $2 WHERE id = $1`, id, title)
	}
	a.exec(`UPDATE channel_status SET status = 'SUCCESS', progress = 100, completed_at = now(), estimated_views = 1234567,
		post_url = 'https://instagram.example/p/' || event_id, post_id = '=1+1', message_id = NULL`)
	a.exec(`UPDATE channel_status SET post_url = 'http://insecure.example/p' WHERE event_id = 't-plus'`)
	a.exec(`UPDATE channel_status SET post_url = 'javascript:alert(1)' WHERE event_id = 't-minus'`)
	a.exec(`UPDATE distribution_status SET overall_status = 'COMPLETED', completed_at = now()`)
	a.exec(`UPDATE channel_status SET error_message = E'\tcmd' WHERE event_id = 't-eq'`)
	a.exec(`UPDATE channel_status SET error_message = E'\rcmd' WHERE event_id = 't-at'`)

	doc := mgr.get("/reports").doc(t)
	row := func(id string) *goquery.Selection { return doc.Find(`tr[data-report-row][data-event-id="` + id + `"]`) }
	if href, _ := row("t-ko").Find(`a[data-post-link]`).Attr("href"); href != "https://instagram.example/p/t-ko" {
		t.Errorf("https post link %q", href)
	}
	for _, id := range []string{"t-plus", "t-minus"} {
		if row(id).Find(`a[data-post-link]`).Length() != 0 || row(id).Find(`[data-post-url-text]`).Length() != 1 {
			t.Errorf("%s: a non-https post URL must be plain text", id)
		}
	}
	if got := row("t-ko").Find(`[data-col="views"]`).Text(); got != "1,234,567" {
		t.Errorf("views %q", got)
	}
	if got := doc.Find(`tr[data-totals-channel="ALL"] [data-col="views"]`).Text(); got != "6,172,835" {
		t.Errorf("total views %q", got)
	}

	r := mgr.get("/reports/export.csv")
	wantCode(t, "export", r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	today := time.Now().In(seoul).Format("2006-01-02") // days in the default zone
	week := time.Now().In(seoul).AddDate(0, 0, -6).Format("2006-01-02")
	if cd := r.header.Get("Content-Disposition"); cd != `attachment; filename="distribution-report_`+week+`_`+today+`.csv"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	recs := parseCSV(t, r.body)
	if len(recs) != len(titles)+1 {
		t.Fatalf("%d CSV rows, want %d", len(recs)-1, len(titles))
	}
	got := map[string][]string{}
	for _, rec := range recs[1:] {
		got[rec[0]] = rec
	}
	for id, title := range titles {
		want := title
		if strings.ContainsRune("=+-@\t\r", rune(title[0])) {
			want = "'" + title
		}
		if id == "t-ko" {
			want = "봄 세일, \"최대\" 50%\n둘째 줄"
		}
		// encoding/csv turns \r\n inside quotes into \n; our titles have none.
		if got[id][1] != want {
			t.Errorf("%s title %q, want %q", id, got[id][1], want)
		}
		if got[id][5] != "'=1+1" {
			t.Errorf("%s post_id %q: formula not neutralised", id, got[id][5])
		}
		if want := map[string]string{"t-eq": "'\tcmd", "t-at": "'\rcmd"}[id]; got[id][10] != want {
			t.Errorf("%s last_error %q, want %q", id, got[id][10], want)
		}
		if got[id][8] != "1234567" {
			t.Errorf("%s estimated_views %q", id, got[id][8])
		}
		if _, err := time.Parse(time.RFC3339, got[id][11]); err != nil {
			t.Errorf("%s started_at %q", id, got[id][11])
		}
	}
	// A Korean reader gets KST times.
	kr := mgr.getLang("/reports/export.csv", "ko")
	krecs := parseCSV(t, kr.body)
	if !strings.HasSuffix(krecs[1][11], "+09:00") {
		t.Errorf("Korean reader's started_at %q, want KST", krecs[1][11])
	}
}

func (c *uiClient) getLang(path, lang string) uiResp {
	c.a.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.a.url+path, nil)
	req.Header.Set("Accept-Language", lang)
	return c.do(req)
}

func TestReportBadFilter(t *testing.T) {
	t.Parallel()
	a := newMgrApp(t, 0, nil)
	mgr := a.login("boss@example.com", model.RoleManager)
	for q, msg := range map[string]string{
		"from=2025-13-01":                 "Dates must look like 2025-01-31.",
		"to=yesterday":                    "Dates must look like 2025-01-31.",
		"from=2025-03-10&to=2025-03-01":   "The start date must not be after the end date.",
		"from=2020-01-01&to=2025-01-01":   "A report covers at most 366 days; choose a shorter range.",
		"channel=TWITTER":                 "Unknown channel.",
		"cursor=garbage":                  "That page link is no longer valid; start from the first page.",
		"from=%3Cscript%3E&to=2025-01-01": "Dates must look like 2025-01-31.",
	} {
		r := mgr.get("/reports?" + q)
		wantCode(t, q, r, http.StatusBadRequest)
		if got := r.doc(t).Find(`[data-report-error]`).Text(); got != msg {
			t.Errorf("%s: error %q, want %q", q, got, msg)
		}
		if strings.Contains(r.body, "<script>") {
			t.Errorf("%s: unescaped input", q)
		}
	}
	ko := mgr.getLang("/reports?from=bad", "ko")
	if got := ko.doc(t).Find(`[data-report-error]`).Text(); got != "날짜는 2025-01-31 형식이어야 합니다." {
		t.Errorf("Korean error %q", got)
	}
	wantCode(t, "export bad date", mgr.get("/reports/export.csv?from=2025-02-30"), http.StatusBadRequest)
	// A full year is fine.
	wantCode(t, "a year", mgr.get("/reports?from=2024-01-01&to=2024-12-31"), http.StatusOK)
}

// TestReportPagination: the per-event rows are keyset pages; following "next" visits every row once.
func TestReportPagination(t *testing.T) {
	t.Parallel()
	a := newMgrApp(t, 0, nil)
	mgr := a.login("boss@example.com", model.RoleManager)
	a.exec(`INSERT INTO events (id, title) SELECT 'p' || i, 'Event ' || i FROM generate_series(1, 90) i`)
	a.exec(`INSERT INTO distribution_status (event_id, overall_status, started_at)
		SELECT 'p' || i, 'IN_PROGRESS', now() - i * interval '1 minute' FROM generate_series(1, 90) i`)
	a.exec(`INSERT INTO channel_status (distribution_status_id, event_id, channel, status, progress, retries)
		SELECT d.id, d.event_id, ch, 'PENDING', 0, 0 FROM distribution_status d,
		unnest(ARRAY['URIDONGNETV','RINGOBIZ','GINITV','INSTAGRAM','NAVER','KAKAO']) ch`)
	seen := map[string]bool{}
	path, pages := "/reports?size=200", 0 // the largest page size: 3 pages of 200
	for path != "" {
		pages++
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		doc := mgr.get(path).doc(t)
		doc.Find(`tr[data-report-row]`).Each(func(_ int, s *goquery.Selection) {
			id, _ := s.Attr("data-event-id")
			ch, _ := s.Attr("data-channel")
			if seen[id+ch] {
				t.Errorf("row %s/%s twice", id, ch)
			}
			seen[id+ch] = true
		})
		path, _ = doc.Find(`a[data-action="next-page"]`).Attr("href")
	}
	if len(seen) != 540 || pages != 3 {
		t.Errorf("%d rows on %d pages, want 540 on 3", len(seen), pages)
	}
}

// streamStore yields rows one by one and blocks after the first until released, to prove the CSV
// handler sends rows as it reads them rather than collecting them first.
type streamStore struct {
	handlers.ReportStore
	n       int
	release chan struct{}
}

func (s *streamStore) StreamReportRows(ctx context.Context, _ model.ReportFilter, fn func(model.ReportRow) error) error {
	for i := range s.n {
		r := model.ReportRow{Title: "row " + strconv.Itoa(i)}
		r.EventID, r.Channel, r.Status = "ev"+strconv.Itoa(i), model.ChannelKakao, model.StatusSuccess
		if err := fn(r); err != nil {
			return err
		}
		if i == 300 {
			select {
			case <-s.release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

func TestExportCSVStreams(t *testing.T) {
	t.Parallel()
	store := &streamStore{n: 100_000, release: make(chan struct{})}
	h := handlers.New(handlers.Deps{Reports: store, Logger: slog.New(slog.DiscardHandler)})
	e := echo.New()
	e.GET("/export", h.ExportCSV)
	ts := httptest.NewServer(e)
	t.Cleanup(ts.Close)
	res, err := http.Get(ts.URL + "/export")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	// The first rows arrive while the store is still blocked after row 300.
	buf := make([]byte, 4096)
	if _, err := io.ReadAtLeast(res.Body, buf, len(buf)); err != nil {
		t.Fatalf("no rows before the store finished: %v", err)
	}
	close(store.release)
	rest, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(append(buf, rest...)[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != store.n+1 || recs[store.n][1] != "row 99999" {
		t.Fatalf("%d records", len(recs))
	}
}

// TestExportCSV100kRows exports 100,002 rows from the real store through the real app: every row
// arrives, in report order (TestExportCSVStreams shows they are sent as they are read).
func TestExportCSV100kRows(t *testing.T) {
	if testing.Short() {
		t.Skip("100k rows")
	}
	t.Parallel()
	a := newMgrApp(t, 0, nil)
	mgr := a.login("boss@example.com", model.RoleManager)
	a.exec(`INSERT INTO events (id, title) SELECT 'big' || i, '대량 이벤트 ' || i FROM generate_series(1, 16667) i`)
	a.exec(`INSERT INTO distribution_status (event_id, overall_status, started_at)
		SELECT 'big' || i, 'COMPLETED', now() - i * interval '1 second' FROM generate_series(1, 16667) i`)
	a.exec(`INSERT INTO channel_status (distribution_status_id, event_id, channel, status, progress, retries, estimated_views, post_url)
		SELECT d.id, d.event_id, ch, 'SUCCESS', 100, 0, 1000, 'https://example.com/' || d.event_id || '/' || ch
		FROM distribution_status d, unnest(ARRAY['URIDONGNETV','RINGOBIZ','GINITV','INSTAGRAM','NAVER','KAKAO']) ch`)
	req, _ := http.NewRequest(http.MethodGet, a.url+"/reports/export.csv", nil)
	res, err := mgr.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	br := bufio.NewReaderSize(res.Body, 64<<10)
	if bom, _ := br.Peek(3); string(bom) != "\xEF\xBB\xBF" {
		t.Fatal("no BOM")
	}
	br.Discard(3) //nolint:errcheck
	r := csv.NewReader(br)
	rows, first := 0, ""
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rows == 1 {
			first = rec[0] + "/" + rec[2]
		}
		rows++
	}
	if rows != 100_002+1 || first != "big1/URIDONGNETV" {
		t.Errorf("%d lines (want 100,003 with the header), first row %s", rows, first)
	}
}
