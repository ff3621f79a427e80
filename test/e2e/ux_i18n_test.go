package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/marketing-platform/distribution/internal/model"
)

// TestUXI18nKoreanErrors: a marketer reading Korean submits the create form with an empty title
// and an image URL that is not a web address, and reads both problems in Korean naming each field
// by its label (then the one left once the title is fixed); an unknown event is a Korean 404 page.
func TestUXI18nKoreanErrors(t *testing.T) {
	a := newApp(t)
	b := newBrowser(t)
	m := b.user(a, "i18n@example.com", model.RoleMarketer)
	m.do("switch to Korean", chromedp.Click(chromedp.CSS(`form[action="/lang"] button[value="ko"]`)),
		chromedp.WaitReady(chromedp.CSS(`html[lang="ko"] [data-user-role]`)))
	m.open("/")

	formError := func() string {
		return strings.TrimSpace(eval[string](m, `document.querySelector('#event-form-error')?.textContent ?? ''`))
	}
	title := `form[data-action="create-event"] input[name="title"]`
	image := `form[data-action="create-event"] input[name="imageUrl"]`
	submit := `form[data-action="create-event"] button[type="submit"]`

	// Spaces satisfy the browser's "required" but not the server: the title is empty once trimmed.
	m.do("submit an empty title and a bad image URL",
		chromedp.Click(chromedp.CSS(`details summary`)),
		chromedp.WaitVisible(chromedp.CSS(title)),
		chromedp.SetValue(chromedp.CSS(title), "   "),
		chromedp.SetValue(chromedp.CSS(image), "ftp://example.com/a.png"),
		chromedp.Click(chromedp.CSS(submit)),
		chromedp.WaitVisible(chromedp.CSS(`#event-form-error`)),
	)
	m.waitLive() // the answer page has loaded and runs (its nodes are settled)
	if got, want := formError(), "제목 항목을 입력하세요. 이미지 URL 항목은 http:// 또는 https://로 시작하는 웹 주소여야 합니다."; got != want {
		t.Errorf("form error %q, want %q", got, want)
	}
	if lang := eval[string](m, `document.documentElement.lang`); lang != "ko" {
		t.Errorf("page in %q after the error, want ko", lang)
	}
	if v := eval[string](m, `document.querySelector('`+sel(image)+`').value`); v != "ftp://example.com/a.png" {
		t.Errorf("image URL not kept: %q", v)
	}

	// The title fixed, the image URL is the one problem left. The answer is a new page: the old
	// error goes first, so the one waited for is the new one.
	eval[bool](m, `(document.querySelector('#event-form-error').remove(), true)`)
	m.do("submit a bad image URL",
		chromedp.SetValue(chromedp.CSS(title), "봄맞이 세일"),
		chromedp.Click(chromedp.CSS(submit)),
		chromedp.WaitVisible(chromedp.CSS(`#event-form-error`)),
	)
	m.waitLive()
	if got := formError(); got != "이미지 URL 항목은 http:// 또는 https://로 시작하는 웹 주소여야 합니다." || strings.Contains(got, "imageUrl") {
		t.Errorf("bad image URL: form error %q", got)
	}
	if v := eval[string](m, `document.querySelector('`+sel(title)+`').value`); v != "봄맞이 세일" {
		t.Errorf("title not kept: %q", v)
	}

	m.do("open an unknown event", chromedp.Navigate(a.url+"/events/no-such-event"),
		chromedp.WaitReady(chromedp.CSS(`main`)))
	page := eval[string](m, `document.querySelector('main').textContent.replace(/\s+/g, ' ')`)
	for _, want := range []string{"페이지를 찾을 수 없습니다", "“no-such-event” 이벤트를 찾을 수 없습니다."} {
		if !strings.Contains(page, want) {
			t.Errorf("404 page %q does not say %q", page, want)
		}
	}
	if strings.Contains(page, "not found") {
		t.Errorf("404 page in English: %q", page)
	}
}
