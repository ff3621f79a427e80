package handlers_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	service "github.com/marketing-platform/distribution/internal/app"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/quiethours"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// newQuietApp is newAPIApp (web role: jobs are queued, never run) with KAKAO_QUIET_HOURS = window.
func newQuietApp(t *testing.T, window string) *apiApp {
	t.Helper()
	cfg := testServiceConfig(t, 0, dbtest.NewURL(t), dbtest.StartRedis(t).URL)
	w, err := quiethours.Parse(window)
	if err != nil {
		t.Fatal(err)
	}
	cfg.KakaoQuietHours = w
	s := startTestService(t, cfg, service.WithLogger(slog.New(slog.DiscardHandler)))
	a := &apiApp{t: t, app: s, db: s.Store, srv: s.Web(), auth: s.Auth, tokens: map[model.Role]string{}}
	for _, r := range []model.Role{model.RoleMarketer, model.RoleStaff} {
		tok, err := s.Auth.CreateToken(context.Background(), string(r)+"-bot", r, "test")
		if err != nil {
			t.Fatal(err)
		}
		a.tokens[r] = tok
	}
	return a
}

// Pre-flight (issue 14.5): during KakaoTalk's quiet hours the detail page's start form says next to
// the KAKAO checkbox, and a failed KAKAO card next to its retry button, when KakaoTalk will be sent
// (the window's end, Korea's clock, shown in the viewer's zone); no other channel gets a note, and
// the start and the retry are accepted (the channel waits). Outside the window there is no note.
func TestKakaoQuietHoursPreflightNote(t *testing.T) {
	t.Parallel()
	// Windows around the real clock (the service reads it): one we are in, one we are not.
	now := time.Now().In(quiethours.Seoul)
	in := now.Add(-time.Hour).Format("15:04") + "-" + now.Add(time.Hour).Format("15:04")
	out := now.Add(2*time.Hour).Format("15:04") + "-" + now.Add(3*time.Hour).Format("15:04")
	sendsAt := now.Add(time.Hour).Format("15:04")

	notes := func(t *testing.T, a *apiApp, send func(method, path, body string, hdr map[string]string) apiResp, id string) *goquery.Selection {
		t.Helper()
		page := send(http.MethodGet, "/events/"+id, "", nil)
		wantStatus(t, page, http.StatusOK)
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(page.raw))
		if err != nil {
			t.Fatal(err)
		}
		return doc.Find(`[data-preflight]`)
	}

	t.Run("in the window", func(t *testing.T) {
		t.Parallel()
		a := newQuietApp(t, in)
		send, _ := sessionClient(t, a, "staff@example.com", model.RoleStaff)
		a.event("ev-new")
		n := notes(t, a, send, "ev-new")
		if n.Length() != 1 || n.AttrOr("data-preflight", "") != "KAKAO" || n.AttrOr("data-reason", "") != "quiet_hours" ||
			!strings.Contains(n.Text(), "KakaoTalk will be sent at "+sendsAt) {
			t.Fatalf("start form notes: %d %q", n.Length(), n.Text())
		}
		if n.Closest(`form[data-action="start-distribution"] label`).Find(`input[name="channels"][value="KAKAO"]`).Length() != 1 {
			t.Fatal("the note is not next to the KAKAO checkbox")
		}

		// The start is accepted during quiet hours; the failed KAKAO card's retry carries the note.
		a.start("ev-run", model.ChannelKakao, model.ChannelNaver)
		a.fail("ev-run", model.ChannelKakao)
		a.fail("ev-run", model.ChannelNaver)
		n = notes(t, a, send, "ev-run")
		if n.Length() != 1 || n.Closest(`article[data-channel="KAKAO"] form`).Find(`button[data-action="retry"]`).Length() != 1 ||
			!strings.Contains(n.Text(), sendsAt) {
			t.Fatalf("retry notes: %d %q", n.Length(), n.Text())
		}
		r := a.as(model.RoleStaff, http.MethodPost, "/api/v1/events/ev-run/distribution/channels/KAKAO/retry", nil)
		if r.status/100 != 2 {
			t.Fatalf("retry during quiet hours: %d %s", r.status, r.raw)
		}
	})

	t.Run("outside the window", func(t *testing.T) {
		t.Parallel()
		a := newQuietApp(t, out)
		send, _ := sessionClient(t, a, "staff@example.com", model.RoleStaff)
		a.event("ev-new")
		if n := notes(t, a, send, "ev-new"); n.Length() != 0 {
			t.Fatalf("note outside the window: %q", n.Text())
		}
	})
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		a := newQuietApp(t, "off")
		send, _ := sessionClient(t, a, "staff@example.com", model.RoleStaff)
		a.event("ev-new")
		if n := notes(t, a, send, "ev-new"); n.Length() != 0 {
			t.Fatalf("note with quiet hours off: %q", n.Text())
		}
	})
}
