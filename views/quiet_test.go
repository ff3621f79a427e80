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

// The start form's KAKAO note in both languages and in the viewer's zone; nothing without quiet
// hours in the render context.
func TestKakaoPreflightNoteLanguagesAndZone(t *testing.T) {
	t.Parallel()
	until := time.Date(2030, 1, 2, 8, 0, 0, 0, quiethours.Seoul)
	ev := model.Event{ID: "ev1", Title: "봄 세일\n<script>"}
	render := func(ctx context.Context, lang string) string {
		var b strings.Builder
		if err := views.EventDetail(views.Page{Lang: lang, CSRF: "x"}, views.DetailView{Event: ev}).Render(ctx, &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	quiet := views.WithKakaoQuiet(context.Background(), until)
	for lang, want := range map[string]string{"en": "Quiet hours: KakaoTalk will be sent at 08:00", "ko": "야간 발송 제한: 카카오톡은 08:00에 발송됩니다"} {
		html := render(quiet, lang)
		if strings.Count(html, `data-preflight="KAKAO" data-reason="quiet_hours"`) != 1 || !strings.Contains(html, want) {
			t.Errorf("%s: no KAKAO note %q", lang, want)
		}
	}
	// A viewer in UTC reads the same instant on their own clock (23:00 the day before).
	if html := render(views.WithZone(quiet, time.UTC), "en"); !strings.Contains(html, "will be sent at 23:00") {
		t.Error("the note is not in the viewer's zone")
	}
	if html := render(context.Background(), "en"); strings.Contains(html, "data-preflight") {
		t.Error("a note without quiet hours")
	}
	if html := render(views.WithKakaoQuiet(context.Background(), time.Time{}), "en"); strings.Contains(html, "data-preflight") {
		t.Error("a note for a zero end")
	}
}
