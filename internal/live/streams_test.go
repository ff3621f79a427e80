package live

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

// oneEvent is a store holding one event with a distribution of one channel.
type oneEvent struct{ d model.Distribution }

func (s oneEvent) FindEventByID(_ context.Context, id string) (model.Event, error) {
	d := s.d
	return model.Event{ID: id, Title: "t", Distribution: &d}, nil
}
func (oneEvent) FindEvents(context.Context, model.EventFilter) (model.EventPage, error) {
	return model.EventPage{}, nil
}
func (oneEvent) FindAttempts(context.Context, string) ([]model.Attempt, error) { return nil, nil }
func (oneEvent) CountEventsByStatus(context.Context) (map[model.OverallStatus]int, int, error) {
	return nil, 0, nil
}
func (s oneEvent) Distribution(context.Context, string) (model.Distribution, error) { return s.d, nil }

// Feeds belong to Streams: Stop ends every feed goroutine and the streams it fed (the browsers
// reconnect), and a stream arriving after Stop ends at once instead of leaving a feed behind.
// goleak (TestMain) checks that nothing outlives the test.
func TestStopEndsFeedsAndStreams(t *testing.T) {
	e := newEnv(t, Options{})
	store := oneEvent{d: model.Distribution{EventID: "ev1", OverallStatus: model.OverallInProgress, Channels: []model.ChannelState{
		{EventID: "ev1", Channel: model.ChannelKakao, Status: model.StatusInProgress, Progress: 10, UpdatedAt: time.Now()},
	}}}
	st := NewStreams(Config{Hub: e.hub, Store: store, Status: store})
	if err := st.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			st.Stop()
		}
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := views.Page{Lang: "en", Title: "t", MayRetry: true}
		if r.URL.Path == "/list" {
			_ = st.ServeList(w, r, model.EventFilter{}, p, Viewer{})
			return
		}
		_ = st.ServeEvent(w, r, "ev1", p, Viewer{})
	}))
	t.Cleanup(srv.Close)

	open := func(path string) *bufio.Reader { br, _ := openLive(t, srv.URL+path); return br }
	streams := []*bufio.Reader{open("/ev1"), open("/ev1"), open("/list")}
	st.Stop()
	stopped = true
	for i, br := range streams {
		for { // the rest of what was queued, then EOF (the 10 s request deadline fails instead)
			if _, err := br.ReadString('\n'); err != nil {
				if !strings.Contains(err.Error(), "EOF") {
					t.Errorf("stream %d: %v, want its end", i, err)
				}
				break
			}
		}
	}
	st.details.mu.Lock()
	n := len(st.details.feeds)
	st.details.mu.Unlock()
	st.lists.mu.Lock()
	n += len(st.lists.feeds)
	st.lists.mu.Unlock()
	if n != 0 {
		t.Errorf("%d feeds left after Stop", n)
	}
}

// openLive opens the stream at url and reads up to its live state (the stream is then in its
// loop); the returned cancel ends the request, which also ends with the test.
func openLive(t *testing.T, url string) (*bufio.Reader, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	br := bufio.NewReader(res.Body)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: stream ended before the live state: %v", url, err)
		}
		if strings.Contains(line, `"_live"`) {
			return br, cancel
		}
	}
}

// loggedOut is a Revalidator whose sessions end when told.
type loggedOut struct{ gone atomic.Bool }

func (l *loggedOut) Revalidate(_ context.Context, p model.Principal) (model.Principal, error) {
	if l.gone.Load() {
		return model.Principal{}, model.Errorf(model.EUNAUTHORIZED, "logged out")
	}
	return p, nil
}

// S6: a logout that lands after the page saw its stream connect, but before the stream's loop
// began, still ends the stream at once, detail and list alike. The principal is watched from
// before the first byte; it used to be watched from the loop's start, and such a logout waited
// for the periodic session check (a minute here, 30 s by default), as TestStreamEndsOnPrincipalChange
// (handlers) once saw under load. Not parallel: it sets the package's loop hook.
func TestLogoutBeforeTheLoopEndsTheStream(t *testing.T) {
	e := newEnv(t, Options{})
	store := oneEvent{d: model.Distribution{EventID: "ev1", OverallStatus: model.OverallInProgress, Channels: []model.ChannelState{
		{EventID: "ev1", Channel: model.ChannelKakao, Status: model.StatusInProgress, Progress: 10, UpdatedAt: time.Now()},
	}}}
	auth := &loggedOut{}
	st := NewStreams(Config{Hub: e.hub, Store: store, Status: store, Auth: auth, Timing: Timing{Tick: 10 * time.Second}})
	if err := st.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Stop)
	const user = 7
	who := Viewer{Principal: model.Principal{UserID: user, Role: model.RoleStaff}, OK: true}
	testHookStreamLoop = func() { // the page has the live state; the user logs out now
		auth.gone.Store(true)
		st.revocations().notify(user)
	}
	t.Cleanup(func() { testHookStreamLoop = nil })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := views.Page{Lang: "en", Title: "t", MayRetry: true}
		if r.URL.Path == "/list" {
			_ = st.ServeList(w, r, model.EventFilter{}, p, who)
			return
		}
		_ = st.ServeEvent(w, r, "ev1", p, who)
	}))
	t.Cleanup(srv.Close)

	for _, path := range []string{"/ev1", "/list"} {
		auth.gone.Store(false)
		br, _ := openLive(t, srv.URL+path)
		ended := make(chan error, 1)
		go func() {
			for {
				if _, err := br.ReadString('\n'); err != nil {
					ended <- err
					return
				}
			}
		}()
		select {
		case err := <-ended:
			if !strings.Contains(err.Error(), "EOF") {
				t.Errorf("%s: %v, want the stream's end", path, err)
			}
		case <-time.After(5 * time.Second): // the session check ticks every 60 s here
			t.Fatalf("%s: the stream is still open 5 s after its user logged out", path)
		}
	}
}
