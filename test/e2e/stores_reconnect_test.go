package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/secrets"
	"github.com/marketing-platform/distribution/internal/simulator"
	"github.com/marketing-platform/distribution/internal/testkit"
)

// Issue 14's reconnect path in Chromium: a store's Instagram (instagram-graph on the simulator,
// SIMULATOR_FAIL INSTAGRAM=190) fails after one attempt and the API's retry answers 409
// needs_reconnect; the manager follows the card's reconnect link, connects again through the
// simulator's Business Login consent page, lands on the store page connected, and the retry
// publishes with a permalink.
func TestUXStoreReconnectInstagram(t *testing.T) {
	const igUser, oldToken = "17841400000000077", "IGAA-e2e-old-token"
	rules, err := simulator.ParseFail("INSTAGRAM=190")
	if err != nil {
		t.Fatal(err)
	}
	sim := simulator.New(simulator.Config{Fail: rules})
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(sim.Close)
	sim.RegisterOAuthClient(model.ChannelInstagram, "ig-e2e-app", "ig-e2e-app-secret")
	sim.RegisterInstagramAccount(igUser, oldToken)

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ig.secret"), []byte("ig-e2e-app-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "channels.json")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`{"allowInsecureLoopback":true,"channels":{"INSTAGRAM":{"protocol":"instagram-graph",
		"url":%[1]q,"version":"v23.0","authorizeUrl":%[2]q,"tokenUrl":%[3]q,"clientId":"ig-e2e-app","clientSecretFile":"ig.secret"}}}`,
		ts.URL, ts.URL+"/oauth/authorize", ts.URL+"/oauth/access_token")), 0o600); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	a := newAppWith(t, func(c *config.Config) {
		c.ChannelsConfig = path
		c.Secrets = config.SecretsKeys{Current: key}
	})
	ctx := context.Background()
	ring, err := secrets.New(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.db.CreateStore(ctx, model.Store{ID: "s1", Name: "행복베이커리"}, model.AuditEntry{Actor: "e2e"}); err != nil {
		t.Fatal(err)
	}
	cred, err := model.ParseCredentials(model.ChannelInstagram, []byte(`{"igUserId":"`+igUser+`","accessToken":"`+oldToken+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.db.SetChannelAccount(ctx, "s1", cred, ring, model.AuditEntry{Actor: "e2e"}); err != nil {
		t.Fatal(err)
	}
	ev, err := a.db.CreateEvent(ctx, model.Event{Title: "봄 세일", StoreID: "s1", ImageURL: "https://img.example.com/a.jpg"}, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := a.auth.CreateToken(ctx, "e2e-staff", model.RoleStaff, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	api := func(method, p string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, a.url+p, strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		return res.StatusCode, m
	}
	channel := func() model.ChannelState {
		d, err := a.db.FindDistribution(ctx, ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		return *d.Channel(model.ChannelInstagram)
	}

	if _, err := a.eng.StartDistribution(ctx, ev.ID, []model.Channel{model.ChannelInstagram}, "e2e"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "INSTAGRAM FAILED", func() bool { return channel().Status == model.StatusFailed })
	if atts, _ := a.db.FindAttempts(ctx, ev.ID); len(atts) != 1 {
		t.Fatalf("%d attempts, want exactly one (no automatic retry of a dead token)", len(atts))
	}
	retry := "/api/v1/events/" + ev.ID + "/distribution/channels/INSTAGRAM/retry"
	if status, m := api(http.MethodPost, retry); status != http.StatusConflict || m["error"].(map[string]any)["code"] != "needs_reconnect" {
		t.Fatalf("retry before reconnecting: %d %v, want 409 needs_reconnect", status, m)
	}

	b := newBrowser(t)
	m := b.user(a, "manager@example.com", model.RoleManager)
	m.open("/events/" + ev.ID)
	link := `[data-channel="INSTAGRAM"][data-status="FAILED"] a[data-action="reconnect"][href="/stores/s1"]`
	m.do("follow the card's reconnect link", chromedp.WaitVisible(chromedp.CSS(link)), chromedp.Click(chromedp.CSS(link)),
		chromedp.WaitVisible(chromedp.CSS(`[data-account-channel="INSTAGRAM"] [data-account-status="needs_reconnect"]`)))
	m.do("connect again", chromedp.Click(chromedp.CSS(`[data-account-channel="INSTAGRAM"] button[data-action="connect-account"]`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-consent-page="INSTAGRAM"] button[data-consent="allow"]`)))
	if got := eval[string](m, `location.origin`); got != ts.URL {
		t.Fatalf("consent page at %s, want the simulator %s", got, ts.URL)
	}
	m.do("allow on the platform", chromedp.Click(chromedp.CSS(`button[data-consent="allow"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-account-channel="INSTAGRAM"] [data-account-status="connected"]`)))
	if got := eval[string](m, `location.pathname + location.search`); got != "/stores/s1?done=reconnected" {
		t.Errorf("landed on %s", got)
	}
	if n := eval[int](m, `document.querySelectorAll('[data-form-error]').length`); n != 0 {
		t.Errorf("%d error boxes on the store page", n)
	}

	if status, m := api(http.MethodPost, retry); status >= 300 {
		t.Fatalf("retry after reconnecting: %d %v", status, m)
	}
	testkit.Eventually(t, 30*time.Second, "INSTAGRAM SUCCESS", func() bool { return channel().Status == model.StatusSuccess })
	if c := channel(); c.PostURL == nil || !strings.HasPrefix(*c.PostURL, "https://www.instagram.com/p/") {
		t.Fatalf("no permalink: %+v", c.PostURL)
	}
	if n := sim.InstagramPosts(igUser); n != 1 {
		t.Errorf("%d posts, want 1", n)
	}
	m.open("/events/" + ev.ID)
	m.waitJS("the card shows SUCCESS", `!!document.querySelector('[data-channel="INSTAGRAM"][data-status="SUCCESS"]')`, 15*time.Second)
}
