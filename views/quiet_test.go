package views_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/quiethours"
	"github.com/marketing-platform/distribution/views"
)

// The start form's KAKAO note at 23:00 KST (the page's render time) in both languages and in the
// viewer's zone; nothing outside the window or with the quiet hours off.
func TestKakaoPreflightNoteLanguagesAndZone(t *testing.T) {
	t.Parallel()
	night, err := quiethours.Parse(quiethours.Default)
	if err != nil {
		t.Fatal(err)
	}
	ev := model.Event{ID: "ev1", Title: "봄 세일\n<script>"}
	render := func(p views.Page) string {
		p.CSRF = "x"
		var b strings.Builder
		if err := views.EventDetail(p, views.DetailView{Event: ev}).Render(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	at23 := time.Date(2030, 1, 1, 23, 0, 0, 0, quiethours.Seoul)
	for lang, want := range map[string]string{"en": "Quiet hours: KakaoTalk will be sent at 08:00", "ko": "야간 발송 제한: 카카오톡은 08:00에 발송됩니다"} {
		html := render(views.Page{Lang: lang, Now: at23, KakaoQuiet: night})
		if strings.Count(html, `data-preflight="KAKAO" data-reason="quiet_hours"`) != 1 || !strings.Contains(html, want) {
			t.Errorf("%s: no KAKAO note %q", lang, want)
		}
	}
	// A viewer in UTC reads the same instant on their own clock (23:00 the day before).
	if html := render(views.Page{Lang: "en", Now: at23, KakaoQuiet: night, Zone: time.UTC}); !strings.Contains(html, "will be sent at 23:00") {
		t.Error("the note is not in the viewer's zone")
	}
	for name, p := range map[string]views.Page{
		"daytime": {Lang: "en", Now: time.Date(2030, 1, 2, 8, 1, 0, 0, quiethours.Seoul), KakaoQuiet: night},
		"off":     {Lang: "en", Now: at23, KakaoQuiet: quiethours.Off},
	} {
		if strings.Contains(render(p), "data-preflight") {
			t.Errorf("%s: a note", name)
		}
	}
}
