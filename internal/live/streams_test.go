package live

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
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
