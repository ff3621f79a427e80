package live

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/marketing-platform/distribution/internal/model"
)

// The live path, from a Redis notification to a browser's SSE patch, has one name per part:
//
//   - the hub (hub.go, subscription.go): the process's one keyspace-notification subscription,
//     signalling subscribers which events changed;
//   - a feed (feed_detail.go, feed_list.go): one goroutine per view (an event's detail, or a list
//     filter) and language and may-retry, that reads and renders each change once and hands the
//     same bytes to every stream of the view;
//   - a stream (stream.go): one browser connection: the full state on connect, then the feed's
//     patches, the hub's connection state, keep-alives and session checks;
//   - the SSE writer (sse.go), the per-user stream cap (cap.go), the wake-ups on principal
//     changes (revoke.go) and the shared status counts (counts.go).
//
// Streams owns all of it but the hub: feeds run under the context Start received and Stop ends
// them and waits, so no feed goroutine outlives the service.

// Store is what the streams read from the source of truth (db.DB).
type Store interface {
	FindEventByID(ctx context.Context, id string) (model.Event, error)
	FindEvents(ctx context.Context, f model.EventFilter) (model.EventPage, error)
	FindAttempts(ctx context.Context, eventID string) ([]model.Attempt, error)
	CountEventsByStatus(ctx context.Context) (map[model.OverallStatus]int, int, error)
}

// StatusReader reads a distribution's current state: Redis first, Postgres on a miss or outage
// (cache.Cache.Distribution over the db). ENOTFOUND when the event has no distribution.
type StatusReader interface {
	Distribution(ctx context.Context, eventID string) (model.Distribution, error)
}

// Revalidator re-reads the principal of a running request (auth.Service.Revalidate): the session
// must still exist (or the token not be revoked); the role returned is the current one. Streams
// use it to notice a logout or a role change while they are open.
type Revalidator interface {
	Revalidate(ctx context.Context, p model.Principal) (model.Principal, error)
}

// Hub is what streams and feeds need of the hub (*Hub).
type HubSubscriber interface {
	Subscribe(f Filter) *Subscription
	State() string
}

// Config are the collaborators of Streams. Zero optional fields take defaults.
type Config struct {
	Hub    HubSubscriber // required
	Store  Store         // required
	Status StatusReader  // required
	Auth   Revalidator   // nil: sessions are not re-checked while a stream is open
	// MaxStreamsPerUser caps the open streams of one user or token in this process; beyond it
	// their oldest stream is closed (cap.go). Zero means DefaultMaxStreamsPerUser.
	MaxStreamsPerUser int
	// Timing are the streams' clocks; zero fields take the defaults (tests shorten them).
	Timing Timing
	Logger *slog.Logger
}

// Streams serves the live streams of one process and owns their feeds.
type Streams struct {
	deps    Config
	timing  Timing
	logger  *slog.Logger
	counts  countsCache  // the list's status counts, shared for a moment (counts.go)
	revs    *revocations // open streams by user, ended when their principal changes (revoke.go)
	slots   *streamSlots // open streams by user or token, at most MaxStreamsPerUser (cap.go)
	details *detailFeeds // one read and render per change for the detail streams of a view (feed_detail.go)
	lists   *listFeeds   // one read and render per change for the list streams of a view (feed_list.go)
	open    openStreams  // open streams by kind (metrics.go)

	mu      sync.Mutex
	ctx     context.Context // feeds run under it; nil until Start, done after Stop
	cancel  context.CancelFunc
	feedsWG sync.WaitGroup
}

// NewStreams returns the streams over cfg; Start them before serving.
func NewStreams(cfg Config) *Streams {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxStreamsPerUser <= 0 {
		cfg.MaxStreamsPerUser = DefaultMaxStreamsPerUser
	}
	st := &Streams{deps: cfg, timing: cfg.Timing.withDefaults(), logger: cfg.Logger.With(slog.String("component", "live")), revs: newRevocations(), slots: newStreamSlots()}
	st.details = newDetailFeeds(st)
	st.lists = newListFeeds(st)
	return st
}

// Start lets streams run: their feeds live under ctx until Stop.
func (st *Streams) Start(ctx context.Context) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ctx != nil {
		return errors.New("live: streams already started")
	}
	st.ctx, st.cancel = context.WithCancel(ctx)
	return nil
}

// Stop ends every feed and waits for their goroutines; the streams they fed end with them (the
// browsers reconnect elsewhere or later). Stop the HTTP server first, the hub after.
func (st *Streams) Stop() {
	st.mu.Lock()
	cancel := st.cancel
	st.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	st.feedsWG.Wait()
}

// goFeed runs a feed's loop under the owner's context and then end (which closes the feed's
// watchers, so their streams end too). Before Start or after Stop the loop gets a context that is
// already done: the feed reads nothing and ends at once.
func (st *Streams) goFeed(run func(ctx context.Context), end func()) context.CancelFunc {
	st.mu.Lock()
	defer st.mu.Unlock()
	parent := st.ctx
	if parent == nil {
		var cancel context.CancelFunc
		parent, cancel = context.WithCancel(context.Background())
		cancel()
	}
	ctx, cancel := context.WithCancel(parent)
	st.feedsWG.Add(1)
	go func() {
		defer st.feedsWG.Done()
		run(ctx)
		end()
	}()
	return cancel
}

// Viewer is who a stream is for: the principal the request authenticated (OK false without one)
// and the page props it renders with (language, title, may-retry).
type Viewer struct {
	Principal model.Principal
	OK        bool
}
