package views_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

func TestFormatNumbers(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567", 1234567890: "1,234,567,890"} {
		for _, lang := range []string{"en", "ko"} {
			if got := views.FormatInt(lang, n); got != want {
				t.Errorf("FormatInt(%s, %d) = %q, want %q", lang, n, got, want)
			}
		}
	}
	if got := views.FormatPercent("ko", 0.95238); got != "95.2%" {
		t.Errorf("FormatPercent = %q", got)
	}
}

func TestStuckBadge(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	render := func(cs model.ChannelState, lang string) string {
		var b bytes.Buffer
		if err := views.StuckBadge(lang, cs, now).Render(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	stuck := model.ChannelState{Channel: model.ChannelKakao, Status: model.StatusInProgress, UpdateTimestamp: now.Add(-10 * time.Minute)}
	d := doc(t, render(stuck, "en"))
	if d.Find(`span[data-stuck="true"]`).Length() != 1 || d.Text() == "" {
		t.Errorf("stuck channel: %q", render(stuck, "en"))
	}
	if title, _ := d.Find("span").Attr("title"); title != "No change for more than 5 minutes" {
		t.Errorf("title %q", title)
	}
	if got := doc(t, render(stuck, "ko")).Find("span").Text(); got == "" || got == "stuck.badge" {
		t.Errorf("Korean badge %q", got)
	}
	fresh := stuck
	fresh.UpdateTimestamp = now.Add(-time.Minute)
	done := stuck
	done.Status = model.StatusSuccess
	for _, cs := range []model.ChannelState{fresh, done} {
		if got := render(cs, "en"); got != "" {
			t.Errorf("%s/%s renders %q, want nothing", cs.Status, now.Sub(cs.UpdateTimestamp), got)
		}
	}
}
