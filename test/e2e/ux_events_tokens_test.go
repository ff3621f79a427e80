package e2e

import (
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/marketing-platform/distribution/internal/model"
)

// Issue 15.17 in the browser: a manager creates an API token and clicks its copy button: the
// token is on the clipboard and left selected, the page says it was copied, and the new token's
// row shows it active with its creator.
func TestUXEventsTokenCopy(t *testing.T) {
	a := newApp(t)
	b := newBrowser(t)
	m := b.user(a, "boss@example.com", model.RoleManager)
	for _, perm := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(m.ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: perm}, Setting: cdpbrowser.PermissionSettingGranted,
			Origin: a.url, BrowserContextID: chromedp.FromContext(m.ctx).BrowserContextID,
		}); err != nil {
			t.Fatalf("grant %s: %v", perm, err)
		}
	}
	m.do("create a token",
		chromedp.Navigate(a.url+"/tokens"),
		chromedp.WaitVisible(chromedp.CSS(`#nt-name`)),
		chromedp.SendKeys(chromedp.CSS(`#nt-name`), "feed"),
		chromedp.Click(chromedp.CSS(`form[data-action="create-token"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-action="copy-token"]`)),
	)
	secret := eval[string](m, `document.getElementById('new-token').value`)
	if len(secret) < 20 {
		t.Fatalf("new token %q", secret)
	}
	// Datastar (a module script) has bound the button once the document has loaded.
	m.waitJS("the page loaded", `document.readyState === 'complete'`, 10*time.Second)
	m.do("copy", chromedp.Click(chromedp.CSS(`button[data-action="copy-token"]`)))
	m.waitJS("the copied note", `document.querySelector('[data-copied="ok"]')?.hidden === false`, 5*time.Second)
	if sel := eval[string](m, `(() => { const i = document.getElementById('new-token'); return i.value.slice(i.selectionStart, i.selectionEnd) })()`); sel != secret {
		t.Errorf("selected text %q, want the token", sel)
	}
	if clip := eval[string](m, `navigator.clipboard.readText()`, chromedp.EvalAwaitPromise); clip != secret {
		t.Errorf("clipboard %q, want the token", clip)
	}
	if n := count(m, `tr[data-token-id] [data-token-status="active"]`); n != 1 {
		t.Errorf("%d active tokens shown, want 1", n)
	}
	if got := eval[string](m, `document.querySelector('tr[data-token-id] [data-token-created-by]').textContent`); got != "boss@example.com" {
		t.Errorf("creator %q", got)
	}
}
