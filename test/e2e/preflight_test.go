package e2e

import (
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
)

// The pre-flight check in Chromium (issue 14, points 3 and 5): INSTAGRAM speaks instagram-graph,
// and an event without a store cannot publish there, so its start form shows the INSTAGRAM
// checkbox disabled and unchecked with the reason next to it, in Korean, while the other
// channels stay available.
func TestUXPreflightDisabledChannel(t *testing.T) {
	sim := simulator.New(simulator.Config{})
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(sim.Close)
	path := filepath.Join(t.TempDir(), "channels.json")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`{"allowInsecureLoopback":true,"channels":{"INSTAGRAM":{"protocol":"instagram-graph","url":%q,"version":"v23.0"}}}`, ts.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	a := newAppWith(t, func(c *config.Config) {
		c.ChannelsConfig = path
		c.Secrets = config.SecretsKeys{Current: key}
	})
	id := a.event("봄 세일 (매장 없음)")
	b := newBrowser(t)
	m := b.user(a, "marketer@example.com", model.RoleMarketer)
	m.open("/events/" + id)
	m.do("switch to Korean", chromedp.Click(chromedp.CSS(`form[action="/lang"] button[value="ko"]`)),
		chromedp.WaitReady(chromedp.CSS(`html[lang="ko"] form[data-action="start-distribution"]`)))

	state := eval[string](m, `(() => { const i = document.querySelector('form[data-action="start-distribution"] input[name="channels"][value="INSTAGRAM"]');
		return i ? (i.disabled ? 'disabled' : 'enabled') + (i.checked ? ',checked' : ',unchecked') : 'missing'; })()`)
	if state != "disabled,unchecked" {
		t.Fatalf("INSTAGRAM checkbox is %s, want disabled,unchecked", state)
	}
	reason := eval[string](m, `(document.querySelector('label [data-preflight="INSTAGRAM"][data-reason="no_store"]') || {}).textContent || ''`)
	if !strings.Contains(reason, "이벤트에 매장이 없습니다") {
		t.Fatalf("reason next to INSTAGRAM = %q, want the Korean no-store reason", reason)
	}
	if n := count(m, `form[data-action="start-distribution"] input[name="channels"]:disabled`); n != 1 {
		t.Fatalf("%d disabled channels, want only INSTAGRAM", n)
	}
}
