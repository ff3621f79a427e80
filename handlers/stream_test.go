package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

func isPatch(ev sseEvent) bool   { return ev.event == "datastar-patch-elements" }
func isSignals(ev sseEvent) bool { return ev.event == "datastar-patch-signals" }

// putCache writes the event's current Postgres state to Redis, as the engine does after a commit.
func (a *uiApp) putCache(id string) {
	a.t.Helper()
	d, err := a.db.FindDistribution(context.Background(), id)
	if err != nil {
		a.t.Fatal(err)
	}
	if err := a.cache.PutDistribution(context.Background(), d); err != nil {
		a.t.Fatal(err)
	}
}

// The detail stream: full state first, then only what changed, pushed by a Redis notification.
func TestEventStream(t *testing.T) {
	t.Parallel()
	a := newUIApp(t, true)
	a.event("ev1", "Live", model.ChannelKakao, model.ChannelNaver)
	a.event("ev2", "Not started")
	staff := a.login("s@example.com", model.RoleStaff)

	wantCode(t, "unknown event", staff.get("/events/nope/stream"), http.StatusNotFound)
	wantCode(t, "bad id", staff.get("/events/bad*id/stream"), http.StatusBadRequest)

	s, res := staff.openStream("/events/ev1/stream")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream answered %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	first := patchDoc(t, s.waitFor("the full fragment", isPatch))
	if first.Find(`#dist-ev1 [data-overall-status="IN_PROGRESS"]`).Length() != 1 || first.Find(`#dist-ev1 [data-channel]`).Length() != 2 {
		t.Fatal("first patch is not the whole distribution")
	}
	s.waitFor("connected", func(ev sseEvent) bool { return isSignals(ev) && strings.Contains(ev.data, `"_live":"connected"`) })

	// A worker fails KAKAO: Postgres, then Redis; the notification makes the stream re-read.
	a.setChannel("ev1", model.ChannelKakao, model.StatusFailed, 60, "token expired")
	a.putCache("ev1")
	want := strconv.FormatInt(a.channel("ev1", model.ChannelKakao).UpdatedAt.UnixMilli(), 10)
	ev := s.waitFor("the FAILED card", func(ev sseEvent) bool { return isPatch(ev) && strings.Contains(ev.data, `data-status="FAILED"`) })
	d := patchDoc(t, ev)
	card := d.Find(`#ch-ev1-KAKAO[data-channel="KAKAO"][data-status="FAILED"]`)
	if got, _ := card.Attr("data-updated-at"); got != want {
		t.Errorf("data-updated-at %q, want %q", got, want)
	}
	if card.Find(`button[data-action="retry"]`).Length() != 1 {
		t.Error("staff card without retry button")
	}
	if d.Find(`#ch-ev1-NAVER`).Length() != 0 {
		t.Error("an unchanged card was re-sent")
	}
	if d.Find(`#overall-ev1`).Length() != 1 || d.Find(`#attempts-ev1`).Length() != 1 {
		t.Error("a status change did not refresh the overall section and the history")
	}
	if !strings.Contains(d.Find(`#announcer`).Text(), "KakaoTalk Channel: Failed") {
		t.Errorf("announcement %q", d.Find(`#announcer`).Text())
	}

	// A retry from another tab (Datastar POST): the engine writes Postgres then Redis.
	staff.get("/events/ev1")
	r := staff.post("/events/ev1/channels/KAKAO/retry", nil, true)
	wantCode(t, "retry", r, http.StatusOK)
	ev = s.waitFor("the retried card", func(ev sseEvent) bool {
		return isPatch(ev) && strings.Contains(ev.data, `id="ch-ev1-KAKAO"`) && strings.Contains(ev.data, `data-status="PENDING"`)
	})
	if patchDoc(t, ev).Find(`#ch-ev1-KAKAO [data-retries]`).Text() != "1" {
		t.Error("retries not updated")
	}

	// An event without distribution: the start form, replaced by the distribution once started.
	s2, _ := staff.openStream("/events/ev2/stream")
	if patchDoc(t, s2.waitFor("start form", isPatch)).Find(`form[data-action="start-distribution"]`).Length() != 1 {
		t.Fatal("no start form")
	}
	if _, err := a.eng.StartDistribution(context.Background(), "ev2", []model.Channel{model.ChannelGiniTV}, "test"); err != nil {
		t.Fatal(err)
	}
	ev = s2.waitFor("started distribution", func(ev sseEvent) bool { return isPatch(ev) && strings.Contains(ev.data, `id="dist-ev2"`) })
	if patchDoc(t, ev).Find(`#dist-ev2 [data-channel="GINITV"]`).Length() != 1 {
		t.Error("started distribution not patched in")
	}
}

// The list stream: rows shown are patched when their event changes; on the first page, an event
// that now belongs there (its distribution started) brings a new list body.
func TestEventsStream(t *testing.T) {
	t.Parallel()
	a := newUIApp(t, true)
	a.event("a1", "Alpha", model.ChannelInstagram)
	a.event("b1", "Bravo")
	c := a.login("m@example.com", model.RoleMarketer)

	// A bad filter value is left out (the page explains it): the stream serves the rest.
	bs, _ := c.openStream("/events/stream?status=BOGUS")
	if patchDoc(t, bs.waitFor("the rows of a bad filter", isPatch)).Find(`#event-rows tr[data-event-id]`).Length() != 2 {
		t.Error("bad filter: the stream does not serve the list without it")
	}

	s, _ := c.openStream("/events/stream?datastar=%7B%7D")
	d := patchDoc(t, s.waitFor("the rows", isPatch))
	if d.Find(`#event-rows tr[data-event-id]`).Length() != 2 || d.Find(`#status-counts`).Length() != 1 {
		t.Fatal("first patch lacks the rows or the counts")
	}

	a.setChannel("a1", model.ChannelInstagram, model.StatusInProgress, 60, "")
	a.putCache("a1")
	ev := s.waitFor("a1 row", func(ev sseEvent) bool { return isPatch(ev) && strings.Contains(ev.data, `id="ev-a1"`) })
	if patchDoc(t, ev).Find(`#ev-a1 [data-channel="INSTAGRAM"][data-status="IN_PROGRESS"] [role="progressbar"][aria-valuenow="60"]`).Length() != 1 {
		t.Error("a1 row not updated")
	}

	if _, err := a.eng.StartDistribution(context.Background(), "b1", []model.Channel{model.ChannelKakao}, "test"); err != nil {
		t.Fatal(err)
	}
	ev = s.waitFor("b1 row", func(ev sseEvent) bool { return isPatch(ev) && strings.Contains(ev.data, `id="ev-b1"`) })
	if patchDoc(t, ev).Find(`#ev-b1 [data-channel="KAKAO"][data-status="PENDING"]`).Length() != 1 {
		t.Error("b1 row not updated")
	}

	// A new event whose distribution starts shows up on the first page.
	a.event("c1", "Charlie", model.ChannelNaver)
	ev = s.waitFor("new body", func(ev sseEvent) bool { return isPatch(ev) && strings.Contains(ev.data, `id="event-rows"`) })
	if patchDoc(t, ev).Find(`#event-rows tr[data-event-id="c1"]`).Length() != 1 {
		t.Error("new event not added")
	}

	// An event created by another user (not started: it has no distribution key) appears live too.
	other := a.login("o@example.com", model.RoleMarketer)
	if r := other.post("/events", url.Values{"title": {"Delta, created elsewhere"}}, false); r.status != http.StatusSeeOther {
		t.Fatalf("create event: %d", r.status)
	}
	ev = s.waitFor("created event", func(ev sseEvent) bool {
		return isPatch(ev) && strings.Contains(ev.data, `id="event-rows"`) && strings.Contains(ev.data, "Delta, created elsewhere")
	})
	if patchDoc(t, ev).Find(`#event-rows tr[data-event-id] a[data-action="start-link"]`).Length() == 0 {
		t.Error("the new, unstarted event has no start link")
	}

	// A filtered stream ignores what the filter excludes on later pages, but still serves its rows.
	s2, _ := c.openStream("/events/stream?" + url.Values{"q": {"Alpha"}}.Encode())
	if patchDoc(t, s2.waitFor("filtered rows", isPatch)).Find(`tr[data-event-id]`).Length() != 1 {
		t.Error("filtered stream rows")
	}
}

// S6: a stream notices a logout (offline, host removed so the browser stops reconnecting) and a
// role change (ends, so the reconnect renders for the new role), on short stream clocks.
func TestStreamEndsWithSession(t *testing.T) {
	t.Parallel()
	a := newReplicaWith(t, dbtest.NewURL(t), true, func(c *config.Config) {
		c.StreamTiming = config.StreamTiming{Tick: 50 * time.Millisecond, HeartbeatTicks: 2, SessionTicks: 2, CountsEvery: 50 * time.Millisecond}
	})
	a.event("ev1", "x", model.ChannelKakao)

	c := a.login("s@example.com", model.RoleStaff)
	s, _ := c.openStream("/events/ev1/stream")
	s.waitFor("connected", func(ev sseEvent) bool { return isSignals(ev) && strings.Contains(ev.data, "connected") })
	wantLocation(t, "logout", c.post("/logout", nil, false), "/login")
	s.waitFor("offline", func(ev sseEvent) bool { return isSignals(ev) && strings.Contains(ev.data, `"_live":"offline"`) })
	ev := s.waitFor("host removed", isPatch)
	if !strings.Contains(ev.data, "selector #live-stream") || !strings.Contains(ev.data, "mode remove") {
		t.Errorf("not a removal of the stream host: %q", ev.data)
	}
	if _, open := <-s.ch; open {
		for range s.ch {
		}
	}

	c2 := a.login("s2@example.com", model.RoleStaff)
	s2, _ := c2.openStream("/events/ev1/stream")
	s2.waitFor("connected", func(ev sseEvent) bool { return isSignals(ev) && strings.Contains(ev.data, "connected") })
	a.exec(`UPDATE users SET role = 'marketer' WHERE email = 's2@example.com'`)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, open := <-s2.ch:
			if !open {
				return // ended: the browser reconnects and renders for a marketer
			}
			if isSignals(ev) && strings.Contains(ev.data, "offline") {
				t.Fatal("a role change is not a logout")
			}
		case <-deadline:
			t.Fatal("stream kept running after the role changed")
		}
	}
}
