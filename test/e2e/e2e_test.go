package e2e

// One file on purpose: the end-to-end scenarios share the app and browser fixtures (newApp, built
// by internal/app; newBrowser, headless Chromium) and read as the user journeys of DESIGN.md.

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marketing-platform/distribution/db"
	service "github.com/marketing-platform/distribution/internal/app"
	"github.com/marketing-platform/distribution/internal/auth"
	"github.com/marketing-platform/distribution/internal/cache"
	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/engine"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/quiethours"
	"github.com/marketing-platform/distribution/internal/simulator"
	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const password = "correct horse battery"

// simStep is the simulator's time per progress step (+20 %): a channel takes 5 steps.
const simStep = 150 * time.Millisecond

// app is the whole service in-process, built by internal/app as serve builds it.
type app struct {
	t     *testing.T
	svc   *service.App
	db    *db.DB
	sim   *simulator.Server
	eng   *engine.Engine
	auth  *auth.Service
	cache *cache.Cache // the engine's and the live hub's Redis
	addr  string
	url   string
	users map[string]bool
}

func newApp(t *testing.T) *app {
	t.Helper()
	return newAppWith(t, nil)
}

// newAppWith is newApp with the configuration adjusted by tweak (nil = none).
func newAppWith(t *testing.T, tweak func(*config.Config)) *app {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	// Production settings, made faster where a browser test would otherwise wait.
	cfg := config.Default()
	cfg.DatabaseURL = dbtest.NewURL(t)
	cfg.RedisURL = dbtest.StartRedis(t).URL
	cfg.Addr = "127.0.0.1:0"
	cfg.SimulatorStep = simStep
	cfg.ChannelPollInterval = 20 * time.Millisecond
	cfg.ChannelBreakerThreshold = -1
	cfg.Workers, cfg.MaxAttempts = 12, 2
	cfg.RetryBaseDelay, cfg.RetryMaxDelay = 20*time.Millisecond, 50*time.Millisecond
	cfg.JobFetchPollInterval = 50 * time.Millisecond
	cfg.MaintenanceStartAtOnce = true
	cfg.PasswordHashMemoryKiB, cfg.PasswordHashTime = 64, 1
	cfg.ShutdownDelay = 0                // no load balancer to drain from
	cfg.KakaoQuietHours = quiethours.Off // KAKAO must not wait for the morning when tests run at Korea's night
	if tweak != nil {
		tweak(&cfg)
	}
	s, err := service.New(cfg, service.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &app{t: t, svc: s, db: s.Store, sim: s.Simulator, eng: s.Engine, auth: s.Auth, cache: s.Cache,
		addr: s.Addr(), url: s.URL(), users: map[string]bool{}}
}

// stopWeb shuts the web server down gracefully (open streams end cleanly, as in a deploy).
func (a *app) stopWeb() {
	if err := a.svc.StopHTTP(); err != nil {
		a.t.Errorf("web server: %v", err)
	}
}

// restartWeb starts a new web server on the same address after stopWeb.
func (a *app) restartWeb() {
	a.t.Helper()
	var ln net.Listener
	testkit.EventuallyErr(a.t, 10*time.Second, "listen again on "+a.addr, func() (err error) {
		ln, err = net.Listen("tcp", a.addr) // the old listener is closing
		return err
	})
	if err := a.svc.StartHTTP(ln); err != nil {
		a.t.Fatal(err)
	}
}

func (a *app) user(email string, role model.Role) {
	a.t.Helper()
	if _, err := a.auth.CreateUser(context.Background(), email, password, role, "e2e"); err != nil {
		a.t.Fatal(err)
	}
}

func (a *app) event(title string) string {
	a.t.Helper()
	e, err := a.db.CreateEvent(context.Background(), model.Event{Title: title, StoreName: "e2e store"}, "e2e")
	if err != nil {
		a.t.Fatal(err)
	}
	return e.ID
}

// browser starts headless Chromium for the test; each user gets its own browser context (cookie
// jar) inside it, and tabs of one user share it.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := "/usr/bin/chromium"
	if _, err := os.Stat(path); err != nil {
		if path, err = exec.LookPath("chromium"); err != nil {
			t.Fatal("chromium is not installed: run `make test-tools` (or apt-get install -y chromium)")
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// An empty Do starts the browser; a first action under a WithTimeout child hung (STACK.md).
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: bctx}
}

// tab is one page of one user.
type tab struct {
	t    *testing.T
	a    *app
	ctx  context.Context
	name string
}

// watchConsole fails the test on a Content-Security-Policy violation or an uncaught exception in
// the tab: Datastar compiles data-* attributes, so either would mean a broken or unsafe page.
func (tb *tab) watchConsole() {
	var (
		mu       sync.Mutex
		problems []string
	)
	go func() {
		for m, err := range chromedp.Console(tb.ctx) {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleException || strings.Contains(m.Text, "Content Security Policy") {
				mu.Lock()
				problems = append(problems, string(m.Type)+": "+m.Text)
				mu.Unlock()
			}
		}
	}()
	tb.t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			tb.t.Errorf("%s: browser console: %s", tb.name, p)
		}
	})
}

// user opens a first tab in a fresh browser context and logs in through the form.
func (b *browser) user(a *app, email string, role model.Role) *tab {
	b.t.Helper()
	a.user(email, role)
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatal(err)
	}
	tb := &tab{t: b.t, a: a, ctx: ctx, name: email}
	tb.watchConsole()
	tb.do("log in",
		chromedp.Navigate(a.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-user-role="`+string(role)+`"]`)),
	)
	// Leave the landing page as open leaves a page: loaded and live. In one CI run the first click
	// after the login (TestUXExcelZoneIsItsOwnSetting, the language button) failed with "Could not
	// find node with given id": the node was dropped between chromedp's query and its click. 60
	// local runs, 40 of them on loaded cores, did not reproduce it; the page still settling after
	// the login's navigation is the likely window, and this closes it.
	tb.waitLive()
	return tb
}

// newTab opens another tab of the same user (same cookies).
func (tb *tab) newTab() *tab {
	tb.t.Helper()
	ctx, cancel := chromedp.NewContext(tb.ctx)
	tb.t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		tb.t.Fatal(err)
	}
	nt := &tab{t: tb.t, a: tb.a, ctx: ctx, name: tb.name + " (another tab)"}
	nt.watchConsole()
	return nt
}

// do runs steps with a deadline.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %s: %v\n%s", tb.name, what, err, tb.dump())
	}
}

// eval evaluates a JavaScript expression.
func eval[T any](tb *tab, js string, opts ...chromedp.EvaluateOption) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, opts...))
	if err != nil {
		tb.t.Fatalf("%s: eval %s: %v", tb.name, js, err)
	}
	return v
}

// waitJS polls a JavaScript predicate until it is true (never sleeps).
func (tb *tab) waitJS(what, predicate string, timeout time.Duration) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, timeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](predicate,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		tb.t.Fatalf("%s: waiting for %s: %v\n%s", tb.name, what, err, tb.dump())
	}
}

// dump is a short description of the page for failure messages.
func (tb *tab) dump() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 3*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + `+
		`[...document.querySelectorAll('[data-live-state],[data-overall-status],[data-channel]')].map(e => e.outerHTML.slice(0, 200) + "\n          text: " + e.textContent.replace(/\s+/g, " ").trim().slice(0, 300)).join("\n")`))
	if err != nil {
		return "(no page dump: " + err.Error() + ")"
	}
	return s
}

func (tb *tab) open(path string) {
	tb.t.Helper()
	tb.do("open "+path, chromedp.Navigate(tb.a.url+path))
	tb.waitLive()
}

// waitLive waits until the page's stream is connected (so Datastar runs and updates flow).
func (tb *tab) waitLive() {
	tb.t.Helper()
	tb.waitJS("the live stream", `document.querySelector('[data-live-state]')?.dataset.liveState === 'connected'`, 10*time.Second)
}

// markNoReload sets a marker that a page load would lose.
func (tb *tab) markNoReload() { eval[bool](tb, `(window.__noReload = true)`) }

func (tb *tab) wantNoReload() {
	tb.t.Helper()
	if !eval[bool](tb, `window.__noReload === true`) {
		tb.t.Fatalf("%s: the page was reloaded", tb.name)
	}
}

// recordProgress remembers every aria-valuenow a bar shows from now on.
func (tb *tab) recordProgress() {
	eval[bool](tb, `(() => {
		window.__seen = new Set();
		const note = () => document.querySelectorAll('[role="progressbar"]').forEach(b => window.__seen.add(+b.getAttribute('aria-valuenow')));
		new MutationObserver(note).observe(document.body, {subtree: true, childList: true, attributes: true});
		note();
		return true;
	})()`)
}

func sel(s string) string { return strings.ReplaceAll(s, `'`, `\'`) }

func count(tb *tab, css string) int {
	tb.t.Helper()
	return eval[int](tb, `document.querySelectorAll('`+sel(css)+`').length`)
}

// allDone is the predicate "the distribution shows overall status want and every bar at 100".
func allDone(status string, channels int) string {
	return fmt.Sprintf(`document.querySelector('[data-overall-status="%s"]') !== null && `+
		`[...document.querySelectorAll('[data-channel] [role="progressbar"]')].filter(b => b.getAttribute('aria-valuenow') === '100').length === %d`, status, channels)
}

// A marketer logs in, creates an event, starts its distribution and watches the six bars move
// and reach 100 without a reload; a second tab and the list see the same changes live.
func TestCreateStartAndWatchLive(t *testing.T) {
	a := newApp(t)
	b := newBrowser(t)
	m := b.user(a, "marketer@example.com", model.RoleMarketer)

	m.waitLive()
	m.do("create an event",
		chromedp.Click(chromedp.CSS(`details summary`)),
		chromedp.WaitVisible(chromedp.CSS(`form[data-action="create-event"] input[name="title"]`)),
		chromedp.SendKeys(chromedp.CSS(`form[data-action="create-event"] input[name="title"]`), "Spring <sale> & more"),
		chromedp.SendKeys(chromedp.CSS(`form[data-action="create-event"] input[name="storeName"]`), "Gangnam store"),
		chromedp.Click(chromedp.CSS(`form[data-action="create-event"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[data-action="start-distribution"]`)),
	)
	path := eval[string](m, `location.pathname`)
	id := strings.TrimPrefix(path, "/events/")
	if h1 := eval[string](m, `document.querySelector('h1').textContent`); h1 != "Spring <sale> & more" {
		t.Fatalf("title %q", h1)
	}
	if n := count(m, `form[data-action="start-distribution"] input[name="channels"]:checked`); n != 6 {
		t.Fatalf("%d channels checked by default", n)
	}
	m.waitLive()

	// A second tab on the same event, and the list in a third.
	m2 := m.newTab()
	m2.open(path)
	m2.markNoReload()
	list := m.newTab()
	list.open("/")
	list.markNoReload()

	m.markNoReload()
	m.recordProgress()
	m.do("start", chromedp.Click(chromedp.CSS(`form[data-action="start-distribution"] button[type="submit"]`)))
	m.waitJS("the toast", `document.querySelector('#toasts [data-toast="ok"]') !== null`, 10*time.Second)
	m.waitJS("six bars at 100 and COMPLETED", allDone("COMPLETED", 6), 30*time.Second)
	m.wantNoReload()
	if !eval[bool](m, `[...window.__seen].some(v => v > 0 && v < 100)`) {
		t.Errorf("the bars never showed progress between 0 and 100: %v", eval[[]int](m, `[...window.__seen]`))
	}
	if n := count(m, `button[data-action="retry"], button[data-action="retry-failed"]`); n != 0 {
		t.Errorf("a marketer sees %d retry buttons", n)
	}
	if n := count(m, `[data-channel="INSTAGRAM"] a[data-post-link][href^="https://www.instagram.com/"]`); n != 1 {
		t.Error("no Instagram post link")
	}

	m2.waitJS("the second tab completes live", allDone("COMPLETED", 6), 10*time.Second)
	m2.wantNoReload()
	list.waitJS("the list row completes live",
		fmt.Sprintf(`document.querySelectorAll('tr[data-event-id="%s"] [data-channel][data-status="SUCCESS"] [role="progressbar"][aria-valuenow="100"]').length === 6`, id), 10*time.Second)
	list.wantNoReload()
	if got := eval[string](list, `document.querySelector('#announcer').textContent`); !strings.Contains(got, "Completed") {
		t.Errorf("list announcement %q", got)
	}
}

func (tb *tab) screenshot(file string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		tb.t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatal(err)
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// A channel fails (the simulator refuses KAKAO), shows its error, and a staff member retries it
// with one click: it succeeds and the distribution completes. A marketer sees no retry button and
// a forged retry POST from their browser is refused.
func TestFailedChannelRetry(t *testing.T) {
	a := newApp(t)
	id := a.event("Kakao outage")
	b := newBrowser(t)
	staff := b.user(a, "staff@example.com", model.RoleStaff)
	mk := b.user(a, "marketer@example.com", model.RoleMarketer)

	a.sim.SetFail(map[model.Channel]simulator.FailRule{model.ChannelKakao: {Always: true}})
	staff.open("/events/" + id)
	staff.markNoReload()
	staff.do("start", chromedp.Click(chromedp.CSS(`form[data-action="start-distribution"] button[type="submit"]`)))
	staff.waitJS("KAKAO FAILED with its error",
		`document.querySelector('[data-channel="KAKAO"][data-status="FAILED"] [data-error]') !== null`, 30*time.Second)
	staff.waitJS("the others done", allDone("PARTIAL_SUCCESS", 5), 30*time.Second)
	if msg := eval[string](staff, `document.querySelector('[data-channel="KAKAO"] [data-error-message]').textContent`); !strings.Contains(msg, "503") && !strings.Contains(strings.ToLower(msg), "unavailable") {
		t.Errorf("KAKAO error %q", msg)
	}
	if n := count(staff, `button[data-action="retry"]`); n != 1 {
		t.Fatalf("%d retry buttons, want 1 (in KAKAO)", n)
	}

	mk.open("/events/" + id)
	if n := count(mk, `[data-channel="KAKAO"][data-status="FAILED"]`); n != 1 {
		t.Fatal("the marketer does not see the failure")
	}
	if n := count(mk, `button[data-action="retry"], button[data-action="retry-failed"]`); n != 0 {
		t.Errorf("a marketer sees %d retry buttons", n)
	}
	status := eval[int](mk, `fetch('/events/`+id+`/channels/KAKAO/retry', {method: 'POST',
		headers: {'Content-Type': 'application/x-www-form-urlencoded'},
		body: '_csrf=' + encodeURIComponent(document.querySelector('input[name="_csrf"]').value)}).then(r => r.status)`,
		chromedp.EvalAwaitPromise)
	if status != http.StatusForbidden {
		t.Errorf("forged retry by a marketer: %d, want 403", status)
	}

	a.sim.SetFail(nil)
	// The retry form (a fragment shared by every staff viewer) holds no token: Datastar sends the
	// page's own from the $_csrf signal as the X-CSRF-Token header. Record what the action sends.
	_ = eval[bool](staff, `(() => { const f = window.fetch; window.sentCSRF = [];
		window.fetch = (u, o) => { window.sentCSRF.push(((o || {}).headers || {})['X-CSRF-Token'] || ''); return f(u, o); };
		return true; })()`)
	staff.do("retry KAKAO", chromedp.Click(chromedp.CSS(`[data-channel="KAKAO"] button[data-action="retry"]`)))
	staff.waitJS("the retry toast", `document.querySelector('#toasts [data-toast="ok"]') !== null`, 10*time.Second)
	if ok := eval[bool](staff, `window.sentCSRF.length > 0 && window.sentCSRF.every(t => t !== '' && t === JSON.parse(document.body.dataset.signals)._csrf)`); !ok {
		t.Errorf("the retry action did not send the page's CSRF token as X-CSRF-Token: %s", eval[string](staff, `JSON.stringify(window.sentCSRF)`))
	}
	staff.waitJS("KAKAO SUCCESS and COMPLETED", allDone("COMPLETED", 6), 30*time.Second)
	staff.wantNoReload()
	if got := eval[string](staff, `document.querySelector('[data-channel="KAKAO"] [data-retries]').textContent`); got != "1" {
		t.Errorf("KAKAO retries shown %q", got)
	}
	if n := count(staff, `#attempts-`+id+` tr[data-attempt^="KAKAO-"]`); n < 3 {
		t.Errorf("KAKAO attempt history has %d rows", n)
	}
	mk.waitJS("the marketer's page completes live", allDone("COMPLETED", 6), 10*time.Second)
}

// The web server restarts (a deploy) in the middle of a distribution: the page shows it lost the
// stream, reconnects by itself and converges to the truth without a reload.
func TestServerRestartRecovers(t *testing.T) {
	a := newApp(t)
	id := a.event("Deploy during distribution")
	b := newBrowser(t)
	m := b.user(a, "marketer@example.com", model.RoleMarketer)
	m.open("/events/" + id)
	m.markNoReload()
	m.do("start", chromedp.Click(chromedp.CSS(`form[data-action="start-distribution"] button[type="submit"]`)))
	m.waitJS("the distribution", `document.querySelector('[data-overall-status]') !== null`, 10*time.Second)

	a.stopWeb()
	m.waitJS("reconnecting while the server is down", `document.querySelector('[data-live-state]').dataset.liveState === 'reconnecting'`, 10*time.Second)
	a.restartWeb()
	m.waitLive()
	m.waitJS("COMPLETED after the restart", allDone("COMPLETED", 6), 30*time.Second)
	m.wantNoReload()
}

// A page whose session ended (logged out in another tab) stops its stream and goes to the login
// form, which returns to the page (issue 15 item 8; before, it stayed "offline" and still showed
// the person as signed in). TestUXMobileSessionEndGoesToLogin covers each way a page learns it.
func TestLoggedOutPageGoesOffline(t *testing.T) {
	a := newApp(t)
	id := a.event("Session ends")
	b := newBrowser(t)
	m := b.user(a, "marketer@example.com", model.RoleMarketer)
	m.open("/events/" + id)
	other := m.newTab()
	other.open("/")
	other.do("log out", chromedp.Click(chromedp.CSS(`button[data-action="logout"]`)), chromedp.WaitVisible(chromedp.CSS(`#email`)))

	a.stopWeb() // the open stream ends; its reconnect is refused (401)
	a.restartWeb()
	m.waitNav("the login form", `location.pathname === '/login' && new URLSearchParams(location.search).get('next') === '/events/`+id+`'`, 15*time.Second)
	if n := count(m, `#live-stream`); n != 0 {
		t.Error("the login form holds a stream host (the browser keeps reconnecting)")
	}
}

// An action refused without an answer the page can apply (here: the person lost the staff role
// behind the page's back, so the retry POST gets 403; a 401 goes to the login form instead) still
// tells the person, in a toast, without a reload.
func TestRefusedActionShowsToast(t *testing.T) {
	a := newApp(t)
	id := a.event("Refused retry")
	a.sim.SetFail(map[model.Channel]simulator.FailRule{model.ChannelKakao: {Always: true}})
	if _, err := a.eng.StartDistribution(context.Background(), id, []model.Channel{model.ChannelKakao}, "e2e"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	staff := b.user(a, "staff@example.com", model.RoleStaff)
	staff.open("/events/" + id)
	staff.waitJS("KAKAO FAILED", `document.querySelector('[data-channel="KAKAO"][data-status="FAILED"] button[data-action="retry"]') !== null`, 30*time.Second)
	staff.markNoReload()
	// Straight in the database: no change notification reaches the open stream.
	if _, err := a.db.Pool.Exec(context.Background(), `UPDATE users SET role = 'marketer' WHERE email = 'staff@example.com'`); err != nil {
		t.Fatal(err)
	}

	staff.do("retry", chromedp.Click(chromedp.CSS(`[data-channel="KAKAO"] button[data-action="retry"]`)))
	staff.waitJS("the error toast", `document.querySelector('#toasts [data-toast="error"]')?.textContent.includes('Reload the page')`, 10*time.Second)
	staff.wantNoReload()
}

// Filters and search narrow the list, and stay in the URL.
func TestFiltersNarrowTheList(t *testing.T) {
	a := newApp(t)
	a.event("Alpha bakery opening")
	a.event("Bravo cafe")
	started := a.event("Charlie gym")
	if _, err := a.eng.StartDistribution(context.Background(), started, []model.Channel{model.ChannelNaver}, "e2e"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	m := b.user(a, "marketer@example.com", model.RoleMarketer)
	m.waitLive()
	if n := count(m, `tr[data-event-id]`); n != 3 {
		t.Fatalf("%d rows", n)
	}
	m.do("search",
		chromedp.SendKeys(chromedp.CSS(`form[data-action="filter"] input[name="q"]`), "bakery"),
		chromedp.Submit(chromedp.CSS(`form[data-action="filter"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[data-action="filter"] input[name="q"][value="bakery"]`)),
	)
	if n := count(m, `tr[data-event-id]`); n != 1 {
		t.Errorf("search: %d rows", n)
	}
	if q := eval[string](m, `location.search`); !strings.Contains(q, "q=bakery") {
		t.Errorf("search not in the URL: %q", q)
	}
	m.open("/?channel=NAVER")
	if n := count(m, `tr[data-event-id="`+started+`"]`); n != 1 || count(m, `tr[data-event-id]`) != 1 {
		t.Errorf("channel filter: %d rows", count(m, `tr[data-event-id]`))
	}
	m.waitJS("the NAVER row completes live", `document.querySelector('tr[data-event-id="`+started+`"] [data-overall="COMPLETED"]') !== null`, 30*time.Second)
	m.open("/?status=FAILED")
	if n := count(m, `tr[data-event-id]`); n != 0 {
		t.Errorf("status filter: %d rows", n)
	}
}
