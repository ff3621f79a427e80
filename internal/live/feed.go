package live

import (
	"bytes"
	"context"
	"sync"
	"time"

	"github.com/a-h/templ"

	"github.com/marketing-platform/distribution/views"
)

// The machinery the detail feeds (feed_detail.go) and the list feeds (feed_list.go) share: the
// set of a kind's feeds, each feed's watchers, its state as of the last patch with the whole page
// rendered on demand in that state, and how a feed hands patches out, stops and ends. What differs
// per kind (the key, what is read, how a state is compared, when a change is worth a read) stays
// in each kind's file.

// fullRenderTTL is how long a feed's whole-page render is reused for joining viewers while the
// state does not change: a burst of connects shares one render, a viewer arriving later gets a
// fresh one (the page shows times and "stuck" badges relative to the render).
const fullRenderTTL = 5 * time.Second

// feedQueue bounds the patches waiting for one stream; beyond it the stream is dropped.
const feedQueue = 32

// feedMsg is one patch of a feed: the SSE event bytes, and the state they bring the page to. Every
// watcher gets the same *feedMsg (read-only), so a queued patch costs a pointer per watcher.
type feedMsg struct {
	b      []byte
	shown  *detailShown // the page's state after the patch (detail feeds); shared, read-only
	readAt time.Time    // when the feed started reading the state the patch shows (detail feeds)
}

// feedWatcher is one stream's place in a feed.
type feedWatcher struct {
	c chan *feedMsg // closed when the feed ends or the watcher fell behind
}

func newFeedWatcher() *feedWatcher {
	return &feedWatcher{c: make(chan *feedMsg, feedQueue)}
}

// feedSet holds the feeds of one kind of one Streams, by key K; S is a feed's state as of a patch
// (a pointer, shared read-only by the streams that join).
type feedSet[K comparable, S comparable] struct {
	h     *Streams
	mu    sync.Mutex // guards feeds and every feed's fields marked so
	feeds map[K]*feed[K, S]
	whole func(p views.Page, key K, sh S) []templ.Component // the whole page in state sh
}

// newFeed makes the feed of key, not yet in the set nor running (the caller subscribes, adds
// and starts it).
func (fs *feedSet[K, S]) newFeed(key K, page views.Page) *feed[K, S] {
	return &feed[K, S]{set: fs, key: key, page: page, ready: make(chan struct{}), watchers: map[*feedWatcher]struct{}{}}
}

// feed is the shared reader and renderer of one key.
type feed[K comparable, S comparable] struct {
	set    *feedSet[K, S]
	key    K
	page   views.Page // what the feed renders with: language and may-retry, nobody's identity
	sub    *Subscription
	ready  chan struct{} // closed once the feed has read its initial state
	err    error         // the initial read's error when it ends the feed, set before ready is closed
	cancel context.CancelFunc

	// Guarded by set.mu.
	joining  int // streams between join's lookup and their watcher (keep the feed alive)
	watchers map[*feedWatcher]struct{}
	done     bool // stopped: no new watcher is added, the set has forgotten the feed
	shown    S    // the state of the last patch (zero while the feed has no good state)
	full     []byte
	fullAt   time.Time
}

// feedSnapshot is what a joining stream starts from: the feed's state and, when already
// rendered, the whole page in that state.
type feedSnapshot[S any] struct {
	shown S
	full  []byte // nil: render it (renderFull)
}

// snapshotLocked is the feed's state for a joining stream (set.mu held: taken with the watcher
// added under one lock, every patch the watcher receives follows it).
func (f *feed[K, S]) snapshotLocked() feedSnapshot[S] {
	snap := feedSnapshot[S]{shown: f.shown}
	if time.Since(f.fullAt) < fullRenderTTL { // times and "stuck" badges in it are as of fullAt
		snap.full = f.full
	}
	return snap
}

// setShown makes sh the feed's state (its initial read).
func (f *feed[K, S]) setShown(sh S) {
	f.set.mu.Lock()
	f.shown = sh
	f.set.mu.Unlock()
}

// renderFull renders the whole page in state sh (a snapshot of this feed) as SSE bytes, and keeps
// them for the next stream that joins while sh is still the feed's state.
func (f *feed[K, S]) renderFull(sh S) ([]byte, error) {
	p := f.page
	p.Now = time.Now()
	b, err := renderPatch(p.Zone, true, f.set.whole(p, f.key, sh)...)
	if err != nil {
		return nil, err
	}
	f.set.mu.Lock()
	if f.shown == sh {
		f.full, f.fullAt = b, time.Now()
	}
	f.set.mu.Unlock()
	return b, nil
}

// leave removes a watcher; the last one out stops the feed, also when it had already been dropped
// for falling behind (broadcast), which would otherwise leave the feed running for nobody.
func (f *feed[K, S]) leave(w *feedWatcher) {
	f.set.mu.Lock()
	defer f.set.mu.Unlock()
	if _, ok := f.watchers[w]; ok {
		delete(f.watchers, w)
		close(w.c)
	}
	if len(f.watchers) == 0 && f.joining == 0 && !f.done {
		f.stopLocked()
	}
}

// stopLocked forgets the feed and stops its goroutine and subscription (set.mu held).
func (f *feed[K, S]) stopLocked() {
	f.done = true
	if f.set.feeds[f.key] == f {
		delete(f.set.feeds, f.key)
	}
	f.cancel()
	f.sub.Unsubscribe()
}

// end closes every watcher (the hub stopped, or the feed's loop returned) and stops the feed.
// It runs only once the loop is done (goFeed, or the loop itself as it returns), so the cancel in
// stopLocked stops nothing that still runs: it only releases the context.
func (f *feed[K, S]) end() {
	f.set.mu.Lock()
	defer f.set.mu.Unlock()
	for w := range f.watchers {
		delete(f.watchers, w)
		close(w.c)
	}
	if !f.done {
		f.stopLocked()
	}
}

// broadcast makes sh the feed's state and hands m to every watcher; one whose queue is full is
// dropped (its browser reconnects and gets the whole page).
func (f *feed[K, S]) broadcast(m *feedMsg, sh S) {
	f.set.mu.Lock()
	defer f.set.mu.Unlock()
	f.shown, f.full = sh, nil
	for w := range f.watchers {
		select {
		case w.c <- m:
		default:
			delete(f.watchers, w)
			close(w.c)
		}
	}
}

// renderPatch renders comps once and frames them as one SSE patch event: nil when a patch
// (whole false) renders nothing; a whole page is framed even when empty.
func renderPatch(loc *time.Location, whole bool, comps ...templ.Component) ([]byte, error) {
	buf, err := views.Render(views.WithZone(context.Background(), loc), comps...)
	if err != nil {
		return nil, err
	}
	defer views.Release(buf)
	if buf.Len() == 0 && !whole {
		return nil, nil
	}
	var ev bytes.Buffer
	if whole {
		ev.Grow(buf.Len() + buf.Len()/8) // a whole page has many lines, each framed with a data prefix
	} else {
		ev.Grow(buf.Len() + 64) // a patch has few lines
	}
	_ = writePatch(&ev, buf.Bytes())
	return ev.Bytes(), nil
}
