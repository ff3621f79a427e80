package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marketing-platform/distribution/internal/model"
)

// typeInto sets an input's value as typing would (an input event, which Datastar's data-bind
// reads), whether or not its form is on screen.
func typeInto(tb *tab, css, value string) {
	tb.t.Helper()
	js := `(() => { const el = document.querySelector('` + sel(css) + `'); if (!el) return false;
		el.value = ` + jsString(value) + `; el.dispatchEvent(new Event('input', {bubbles: true})); return true })()`
	if !eval[bool](tb, js) {
		tb.t.Fatalf("%s: no %s", tb.name, css)
	}
}

// waitAfterSubmit polls predicate across the page load a form post causes: the load replaces
// the document under a running poll, which then fails and is started again on the new page.
func waitAfterSubmit(tb *tab, what, predicate string, timeout time.Duration) {
	tb.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Poll[bool](predicate,
			chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(time.Second)))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			tb.t.Fatalf("%s: waiting for %s: %v\n%s", tb.name, what, err, tb.dump())
		}
	}
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`)
	return `'` + r.Replace(s) + `'`
}

// previewShows is the predicate "the image preview of the form shows src" ("" = shows nothing).
func previewShows(form, src string) string {
	img := `document.querySelector('` + sel(form+` img[data-image-preview]`) + `')`
	if src == "" {
		return `(` + img + `.hidden && !` + img + `.getAttribute('src'))`
	}
	return `(!` + img + `.hidden && ` + img + `.getAttribute('src') === ` + jsString(src) + `)`
}

// Issue 15.15 and 15.18 in the browser: a marketer edits an event from its page (the image field
// previews an https URL as it is typed, not an http one), sees the https image as a thumbnail,
// duplicates the event, and deletes the copy through the confirmation dialog (dismissing it
// first changes nothing). An http image is a link, never an <img>. The create form previews too.
func TestUXEventsEditDuplicateDelete(t *testing.T) {
	a := newApp(t)
	id := a.event("Spring sale")
	b := newBrowser(t)
	m := b.user(a, "marketer@example.com", model.RoleMarketer)

	// The create form's preview (wherever the list page puts the form).
	m.open("/")
	create := `form[data-action="create-event"]`
	m.waitJS("no preview at first", previewShows(create, ""), 5*time.Second)
	typeInto(m, create+` input[name="imageUrl"]`, "https://img.example.test/new.png")
	m.waitJS("the https preview", previewShows(create, "https://img.example.test/new.png"), 5*time.Second)
	typeInto(m, create+` input[name="imageUrl"]`, "http://img.example.test/new.png")
	m.waitJS("no preview of an http image", previewShows(create, ""), 5*time.Second)

	// Edit.
	m.open("/events/" + id)
	if n := count(m, `img[data-event-image]`); n != 0 {
		t.Fatalf("%d images for an event without one", n)
	}
	edit := `form[data-action="edit-event"]`
	m.do("open the edit form", chromedp.Click(chromedp.CSS(`[data-action="open-edit-event"]`)),
		chromedp.WaitVisible(chromedp.CSS(edit+` input[name="title"]`)))
	typeInto(m, edit+` input[name="title"]`, "Summer sale 여름 세일")
	m.do("type the image URL", chromedp.SendKeys(chromedp.CSS(edit+` input[name="imageUrl"]`), "https://img.example.test/summer.png"))
	m.waitJS("the preview of the typed https image", previewShows(edit, "https://img.example.test/summer.png"), 5*time.Second)
	m.do("save", chromedp.Click(chromedp.CSS(edit+` button[data-action="save-event"]`)))
	waitAfterSubmit(m, "the edited page", `document.querySelector('h1')?.textContent === 'Summer sale 여름 세일' && document.querySelector('[data-flash]') !== null`, 10*time.Second)
	m.waitJS("the thumbnail", `document.querySelector('img[data-event-image]')?.getAttribute('src') === 'https://img.example.test/summer.png'`, 5*time.Second)
	e, err := a.db.FindEventByID(context.Background(), id)
	if err != nil || e.Title != "Summer sale 여름 세일" || e.ImageURL != "https://img.example.test/summer.png" || e.StoreName != "e2e store" {
		t.Fatalf("stored event = %+v, %v", e, err)
	}

	// Duplicate.
	m.do("duplicate", chromedp.Click(chromedp.CSS(`button[data-action="duplicate-event"]`)))
	waitAfterSubmit(m, "the copy's page", `location.pathname !== '/events/`+id+`' && location.pathname.startsWith('/events/') && document.querySelector('h1')?.textContent === 'Summer sale 여름 세일'`, 10*time.Second)
	copyID := strings.TrimPrefix(eval[string](m, `location.pathname`), "/events/")
	m.waitLive()
	if count(m, `form[data-action="start-distribution"]`) != 1 || count(m, `img[data-event-image]`) != 1 {
		t.Fatal("the copy is not an unstarted event with the image")
	}

	// Delete the copy: dismiss first, then confirm.
	dlg := `dialog#delete-` + copyID
	isOpen := `document.querySelector('` + sel(dlg) + `')?.open === true`
	m.do("delete", chromedp.Click(chromedp.CSS(`button[data-action="delete-event"]`)))
	m.waitJS("the confirmation", isOpen, 5*time.Second)
	m.do("keep it", chromedp.Click(chromedp.CSS(dlg+` button[data-action="dismiss-delete"]`)))
	m.waitJS("the dialog closed", `!(`+isOpen+`)`, 5*time.Second)
	if _, err := a.db.FindEventByID(context.Background(), copyID); err != nil {
		t.Fatalf("dismissing deleted the copy: %v", err)
	}
	m.do("delete", chromedp.Click(chromedp.CSS(`button[data-action="delete-event"]`)))
	m.waitJS("the confirmation", isOpen, 5*time.Second)
	m.do("confirm", chromedp.Click(chromedp.CSS(dlg+` button[data-action="confirm-delete-event"]`)))
	waitAfterSubmit(m, "the list without the copy", `location.pathname === '/' && document.querySelector('[data-flash]') !== null && `+
		`document.querySelector('[data-event-id="`+id+`"]') !== null && document.querySelector('[data-event-id="`+copyID+`"]') === null`, 10*time.Second)
	if _, err := a.db.FindEventByID(context.Background(), copyID); model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatalf("the copy is still stored: %v", err)
	}

	// An http image is a link, not loaded.
	http := "http://img.example.test/plain.png"
	if _, err := a.db.UpdateEvent(context.Background(), id, model.EventPatch{ImageURL: &http}, model.AuditEntry{Actor: "e2e"}); err != nil {
		t.Fatal(err)
	}
	m.open("/events/" + id)
	if count(m, `img[data-event-image]`) != 0 || count(m, `a[data-event-image-link][href="`+http+`"]`) != 1 {
		t.Fatal("an http image is loaded, or not linked")
	}
	if n := eval[int](m, `[...document.images].filter(i => i.src.startsWith('http://img.')).length`); n != 0 {
		t.Fatalf("%d <img> load the http URL", n)
	}

	// Started from this page, the event offers no edit or delete any more (without a reload).
	m.markNoReload()
	m.do("start", chromedp.Click(chromedp.CSS(`form[data-action="start-distribution"] button[type="submit"]`)))
	m.waitJS("edit and delete hidden once started", `document.querySelector('[data-overall-status]') !== null && `+
		`[...document.querySelectorAll('[data-unstarted-only]')].length === 2 && `+
		`[...document.querySelectorAll('[data-unstarted-only]')].every(e => getComputedStyle(e).display === 'none')`, 15*time.Second)
	m.wantNoReload()
	if count(m, `button[data-action="duplicate-event"]`) != 1 {
		t.Error("no duplicate button on a started event")
	}
}
