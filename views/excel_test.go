package views_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

// TestZoneIsTheViewersNotTheLanguages (issue 15.4): times render in the zone of the render
// context, whatever the language; the header offers the zone, selected.
func TestZoneIsTheViewersNotTheLanguages(t *testing.T) {
	t.Parallel()
	ok := dist("ev1", model.OverallCompleted, map[model.Channel]model.ChannelStatus{model.ChannelKakao: model.StatusSuccess})
	ok.CompletedAt = ptr(t0.Add(time.Minute))
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		lang string
		loc  *time.Location
		want string
	}{
		{"en", time.UTC, "2025-03-01 15:05:05 UTC"},
		{"ko", time.UTC, "2025-03-01 15:05:05 UTC"},
		{"en", ny, "2025-03-01 10:05:05 EST"},
		{"ko", nil, "2025-03-02 00:05:05 KST"},
	} {
		var buf bytes.Buffer
		c := views.EventDetail(page(tc.lang, model.RoleStaff), views.DetailView{Event: model.Event{ID: "ev1", Title: "x", Distribution: ok}})
		if err := c.Render(views.WithZone(context.Background(), tc.loc), &buf); err != nil {
			t.Fatal(err)
		}
		d := doc(t, buf.String())
		if got := d.Find(`[data-completed-at] time`).Text(); got != tc.want {
			t.Errorf("%s in %v: %q, want %q", tc.lang, tc.loc, got, tc.want)
		}
		wantZone := "Asia/Seoul"
		if tc.loc != nil {
			wantZone = tc.loc.String()
		}
		if got, _ := d.Find(`form[data-action="set-zone"] select[name="tz"] option[selected]`).Attr("value"); got != wantZone {
			t.Errorf("%s in %v: header zone %q, want %q", tc.lang, tc.loc, got, wantZone)
		}
	}
}
