package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/handlers"
	service "github.com/marketing-platform/distribution/internal/app"
	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// countingStore is the real store, counting the list reads made through it.
type countingStore struct {
	handlers.Store
	finds *atomic.Int64
}

func (s countingStore) FindEvents(ctx context.Context, f model.EventFilter) (model.EventPage, error) {
	s.finds.Add(1)
	return s.Store.FindEvents(ctx, f)
}

func isConnected(ev sseEvent) bool {
	return isSignals(ev) && strings.Contains(ev.data, `"_live":"connected"`)
}

// bearerTransport sends every request with an API token.
type bearerTransport string

func (b bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(req)
}

// waitClosed waits for the server to end the stream.
func waitClosed(t *testing.T, r *sseReader, what string) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case _, open := <-r.ch:
			if !open {
				return
			}
		case <-deadline:
			t.Fatalf("%s: still open", what)
		}
	}
}

// announce creates an unstarted event and tells open lists, as POST /events does.
func (a *uiApp) announce(id, title string) {
	a.t.Helper()
	if _, err := a.db.CreateEvent(context.Background(), model.Event{ID: id, Title: title}, "test"); err != nil {
		a.t.Fatal(err)
	}
	if err := a.cache.AnnounceEvent(context.Background(), id); err != nil {
		a.t.Fatal(err)
	}
}

// waitSubscribers polls the hub until it has n subscriptions.
func (a *uiApp) waitSubscribers(n int) {
	a.t.Helper()
	testkit.EventuallyErr(a.t, 10*time.Second, fmt.Sprintf("%d hub subscriptions", n), func() error {
		if got := a.hub.Stats().Subscribers; got != n {
			return fmt.Errorf("hub has %d", got)
		}
		return nil
	})
}

// S7: one user opening more streams (list and detail, distinct filters) than the cap keeps the
// cap open: the oldest are closed, the newest stay live, and another user's stream is untouched.
func TestStreamsCappedPerUser(t *testing.T) {
	t.Parallel()
	const limit = 3
	a := newReplicaWith(t, dbtest.NewURL(t), true, func(c *config.Config) { c.MaxStreamsPerUser = limit })
	a.event("ev1", "Capped", model.ChannelKakao)
	u := a.login("many@example.com", model.RoleMarketer)
	other := a.login("other@example.com", model.RoleMarketer)
	others, _ := other.openStream("/events/stream")
	others.waitFor("other user connected", isConnected)

	var rs []*sseReader
	for i := range limit + 2 {
		path := "/events/ev1/stream"
		if i%2 == 0 { // distinct filters, each showing ev1
			path = "/events/stream?" + url.Values{"q": {"Capped"[:6-i/2]}}.Encode()
		}
		r, res := u.openStream(path)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("stream %d (%s) answered %d", i, path, res.StatusCode)
		}
		r.waitFor(fmt.Sprintf("stream %d connected", i), isConnected)
		rs = append(rs, r)
	}
	for i, r := range rs[:2] {
		waitClosed(t, r, fmt.Sprintf("stream %d of %d over a cap of %d", i, len(rs), limit))
	}
	// An API token's streams are counted by token: the user's and the other user's stay open.
	tok, err := a.auth.CreateToken(context.Background(), "streams", model.RoleMarketer, "test")
	if err != nil {
		t.Fatal(err)
	}
	bearer := a.client()
	bearer.hc.Transport = bearerTransport(tok)
	var ts []*sseReader
	for i := range limit + 1 {
		r, _ := bearer.openStream("/events/stream")
		r.waitFor(fmt.Sprintf("token stream %d connected", i), isConnected)
		ts = append(ts, r)
	}
	waitClosed(t, ts[0], "the token's oldest stream over the cap")

	a.setChannel("ev1", model.ChannelKakao, model.StatusInProgress, 40, "")
	a.putCache("ev1")
	for i, r := range append(append(rs[2:], others), ts[1:]...) {
		r.waitFor(fmt.Sprintf("stream %d: the change", i+2), func(ev sseEvent) bool {
			return isPatch(ev) && strings.Contains(ev.data, `data-status="IN_PROGRESS"`)
		})
	}
}

// S7: list streams of one view share one list read per change, whoever opened them, and the
// feed goes away with its last stream.
func TestListStreamsShareOneRead(t *testing.T) {
	t.Parallel()
	var finds atomic.Int64
	a := newReplicaWith(t, dbtest.NewURL(t), true, nil,
		service.WithEventStoreWrapper(func(s handlers.Store) handlers.Store { return countingStore{s, &finds} }))
	a.event("a1", "Alpha", model.ChannelInstagram)
	var clients []*uiClient
	for i := range 3 {
		clients = append(clients, a.login(fmt.Sprintf("m%d@example.com", i), model.RoleMarketer))
	}
	const n = 6
	before := finds.Load()
	var rs []*sseReader
	for i := range n {
		r, _ := clients[i%len(clients)].openStream("/events/stream?q=+a")
		r.waitFor("the rows", isPatch)
		r.waitFor("connected", isConnected)
		rs = append(rs, r)
	}
	if got := finds.Load() - before; got != 1 {
		t.Errorf("%d list streams of one view read the list %d times to open, want 1", n, got)
	}

	before = finds.Load()
	a.announce("a2", "Another")
	for i, r := range rs {
		r.waitFor(fmt.Sprintf("stream %d: the new event", i), func(ev sseEvent) bool {
			return isPatch(ev) && strings.Contains(ev.data, `data-event-id="a2"`)
		})
	}
	if got := finds.Load() - before; got != 1 {
		t.Errorf("%d list streams of one view read the list %d times for one new event, want 1", n, got)
	}

	// Streams hold one subscription each, and the feed one while a stream is open.
	a.waitSubscribers(n + 1)
	for _, r := range rs {
		r.close()
	}
	a.waitSubscribers(0)
}

// S7: viewers of one filter with other languages or retry rights get their own feed: nobody sees
// another's text, and no CSRF token is in a shared row.
func TestListFeedKeepsViewersApart(t *testing.T) {
	t.Parallel()
	var finds atomic.Int64
	a := newReplicaWith(t, dbtest.NewURL(t), true, nil,
		service.WithEventStoreWrapper(func(s handlers.Store) handlers.Store { return countingStore{s, &finds} }))
	a.event("a1", "Alpha", model.ChannelInstagram)
	type viewer struct {
		lang string
		role model.Role
	}
	viewers := []viewer{{"en", model.RoleMarketer}, {"en", model.RoleMarketer}, {"ko", model.RoleMarketer}, {"en", model.RoleStaff}}
	var rs []*sseReader
	for i, v := range viewers {
		c := a.login(fmt.Sprintf("v%d@example.com", i), v.role)
		u, _ := url.Parse(a.url)
		c.hc.Jar.SetCookies(u, []*http.Cookie{{Name: handlers.LangCookie, Value: v.lang}})
		r, _ := c.openStream("/events/stream")
		r.waitFor("connected", isConnected)
		rs = append(rs, r)
	}

	before := finds.Load()
	a.announce("a2", "Another")
	for i, r := range rs {
		r.waitFor(fmt.Sprintf("viewer %d: the new event", i), func(ev sseEvent) bool {
			return isPatch(ev) && strings.Contains(ev.data, `data-event-id="a2"`)
		})
	}
	if got := finds.Load() - before; got != 3 {
		t.Errorf("4 list streams of 3 views (language, role) read the list %d times for one change, want 3", got)
	}

	a.setChannel("a1", model.ChannelInstagram, model.StatusInProgress, 60, "")
	a.putCache("a1")
	for i, r := range rs {
		ev := r.waitFor(fmt.Sprintf("viewer %d: the a1 row", i), func(ev sseEvent) bool {
			return isPatch(ev) && strings.Contains(ev.data, `id="ev-a1"`)
		})
		if strings.Contains(ev.data, `name="_csrf"`) {
			t.Errorf("viewer %d: a shared row carries a CSRF token", i)
		}
		ko := strings.Contains(ev.data, "진행 중")
		en := strings.Contains(ev.data, "In progress")
		if want := viewers[i].lang == "ko"; ko != want || en == want {
			t.Errorf("viewer %d (%s): Korean text %v, English text %v", i, viewers[i].lang, ko, en)
		}
	}
}

// S7: a filtered list does not re-read itself for new or changed events its filters rule out
// (the change's distribution is read once for every feed), yet still takes in one that now
// belongs on it.
func TestFilteredListSkipsEventsItCannotShow(t *testing.T) {
	t.Parallel()
	var finds atomic.Int64
	a := newReplicaWith(t, dbtest.NewURL(t), true, nil,
		service.WithEventStoreWrapper(func(s handlers.Store) handlers.Store { return countingStore{s, &finds} }))
	a.event("a1", "Alpha", model.ChannelInstagram)
	c := a.login("m@example.com", model.RoleMarketer)
	all, _ := c.openStream("/events/stream")
	all.waitFor("connected", isConnected)
	failed, _ := c.openStream("/events/stream?status=FAILED")
	failed.waitFor("connected", isConnected)

	before := finds.Load()
	for i := range 3 { // unstarted events: never on a FAILED list
		id := fmt.Sprintf("new%d", i)
		a.announce(id, "New")
		all.waitFor(id, func(ev sseEvent) bool { return isPatch(ev) && strings.Contains(ev.data, `data-event-id="`+id+`"`) })
	}
	a.setChannel("a1", model.ChannelInstagram, model.StatusFailed, 10, "boom")
	a.putCache("a1")
	failed.waitFor("a1 on the FAILED list", func(ev sseEvent) bool {
		return isPatch(ev) && strings.Contains(ev.data, `id="event-rows"`) && strings.Contains(ev.data, `data-event-id="a1"`)
	})
	all.waitFor("a1 failed", func(ev sseEvent) bool { return isPatch(ev) && strings.Contains(ev.data, `data-overall="FAILED"`) })
	// The unfiltered list read once per new event; the FAILED list once, for a1.
	if got := finds.Load() - before; got != 3+1 {
		t.Errorf("list reads %d, want 4 (3 by the unfiltered list, 1 by the FAILED list)", got)
	}
}
