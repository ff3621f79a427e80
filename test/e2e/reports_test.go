package e2e

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
	"github.com/marketing-platform/distribution/internal/testkit"
)

// newBrowserTrustingTestTLS is newBrowser for a test that links to a local https server with a
// self-signed certificate (the post a report links to).
func newBrowserTrustingTestTLS(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath("/usr/bin/chromium"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatal("chromium is not installed: run `make test-tools` (or apt-get install -y chromium)")
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: bctx}
}

// A manager logs in, opens Reports, sees totals, rows and charts that match the distributions,
// downloads the CSV (BOM, Korean title intact, one line per row) and follows a post link.
func TestManagerReports(t *testing.T) {
	a := newApp(t)
	post := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>The post</title><h1 id="post">`+r.URL.Path+`</h1>`)
	}))
	t.Cleanup(post.Close)

	a.sim.MustInject(model.ChannelKakao, simulator.Reject("token expired"))
	spring := a.event("봄 세일, \"리포트\"")
	autumn := a.event("Autumn sale")
	ctx := context.Background()
	if _, err := a.eng.StartDistribution(ctx, spring, []model.Channel{model.ChannelInstagram, model.ChannelNaver, model.ChannelKakao}, "e2e"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.eng.StartDistribution(ctx, autumn, []model.Channel{model.ChannelGiniTV}, "e2e"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "distributions finished", func() bool {
		var open int
		if err := a.db.Pool.QueryRow(ctx, `SELECT count(*) FROM distribution_status WHERE overall_status = 'IN_PROGRESS'`).Scan(&open); err != nil {
			t.Fatal(err)
		}
		return open == 0
	})
	// The simulator's post URLs are on the internet; point one at the local https server.
	if _, err := a.db.Pool.Exec(ctx, `UPDATE channel_status SET post_url = $2 WHERE event_id = $1 AND channel = 'INSTAGRAM'`,
		spring, post.URL+"/p/spring"); err != nil {
		t.Fatal(err)
	}

	b := newBrowserTrustingTestTLS(t)
	m := b.user(a, "boss@example.com", model.RoleManager)
	m.do("open reports", chromedp.Navigate(a.url+"/reports"), chromedp.WaitVisible(chromedp.CSS(`[data-report-totals]`)))
	if n := count(m, `tr[data-report-row]`); n != 4 {
		t.Fatalf("%d report rows, want 4\n%s", n, m.dump())
	}
	if got := eval[string](m, `document.querySelector('tr[data-totals-channel="ALL"] [data-col="distributions"]').textContent`); got != "4" {
		t.Errorf("total distributions %q", got)
	}
	if got := eval[string](m, `document.querySelector('tr[data-totals-channel="ALL"] [data-col="failed"]').textContent`); got != "1" {
		t.Errorf("total failed %q", got)
	}
	if n := count(m, `tr[data-report-row][data-channel="KAKAO"][data-status="FAILED"]`); n != 1 {
		t.Errorf("%d failed KAKAO rows", n)
	}
	if n := count(m, `figure[data-chart] svg[role="img"]`); n != 3 {
		t.Errorf("%d charts", n)
	}
	if os.Getenv("E2E_SCREENSHOTS") != "" {
		m.screenshot(filepath.Join(os.Getenv("E2E_SCREENSHOTS"), "reports.png"))
	}

	// Download the CSV into a folder of our own.
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(m.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, BrowserContextID: chromedp.FromContext(m.ctx).BrowserContextID,
		DownloadPath: dir, EventsEnabled: new(true),
	}); err != nil {
		t.Fatal(err)
	}
	// The file can exist under its final name before Chromium has written all of it: wait for the
	// browser's "download completed" event, not for the file.
	completed := make(chan struct{})
	var once sync.Once
	chromedp.ListenBrowser(m.ctx, func(ev any) {
		if e, ok := ev.(*cdpbrowser.EventDownloadProgress); ok && e.State == cdpbrowser.DownloadProgressStateCompleted {
			once.Do(func() { close(completed) })
		}
	})
	m.do("download the CSV", chromedp.Click(chromedp.CSS(`a[data-action="export-csv"]`)))
	select {
	case <-completed:
	case <-time.After(15 * time.Second):
		entries, _ := os.ReadDir(dir)
		t.Fatalf("the CSV download did not complete; folder has %v", entries)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "distribution-report_*.csv"))
	if len(matches) != 1 {
		t.Fatalf("downloaded files: %v", matches)
	}
	file := matches[0]
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	body, ok := strings.CutPrefix(string(raw), "\xEF\xBB\xBF")
	if !ok {
		t.Fatal("the CSV has no UTF-8 BOM")
	}
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 || recs[0][0] != "event" {
		t.Fatalf("CSV %v", recs)
	}
	titles := map[string]int{}
	for _, r := range recs[1:] {
		titles[r[1]]++
	}
	if titles[`봄 세일, "리포트"`] != 3 || titles["Autumn sale"] != 1 {
		t.Errorf("CSV titles %v", titles)
	}

	// Follow the post link.
	m.do("follow the post link",
		chromedp.Click(chromedp.CSS(`tr[data-report-row][data-event-id="`+spring+`"][data-channel="INSTAGRAM"] a[data-post-link]`)),
		chromedp.WaitVisible(chromedp.CSS(`#post`)),
	)
	if got := eval[string](m, `location.href`); got != post.URL+"/p/spring" {
		t.Errorf("post link led to %q", got)
	}
}
