package live

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"

	"github.com/a-h/templ"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

// Live streams (Datastar SSE). The protocol of every stream (live package doc): subscribe to the
// hub FIRST, then read the state and send it whole, then loop: a signal names events that changed
// (re-read them, patch what differs), a Resync means re-read everything shown, and the hub's
// connection state drives the page's live indicator. While the hub cannot hear Redis the stream
// polls the source of truth instead. Streams hold no database connection while idle, set a write
// deadline before every write (a client that stops reading is dropped, S1), send a keep-alive
// comment when quiet, and re-check the session now and then: a logged-out session gets "offline"
// and the stream host removed (so the browser stops reconnecting); a changed role ends the stream
// so the reconnect renders what the new role may see (S6).

// Timing are the streams' clocks (Config.Timing); zero fields take the defaults, tests shorten them.
type Timing struct {
	Tick           time.Duration // polling while degraded, heartbeat and session check cadence (5 s)
	HeartbeatTicks int           // ticks between keep-alive comments (3)
	SessionTicks   int           // ticks between session checks (6)
	WriteTimeout   time.Duration // per write (10 s)
	CountsEvery    time.Duration // the list's status counts are refreshed at most this often (2 s)
	FeedEvery      time.Duration // a detail feed renders at most this often, latest state wins (5 ms)
	ListEvery      time.Duration // a list feed reads at most this often, changes in between are read together (250 ms)
}

func (t Timing) withDefaults() Timing {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Tick, 5*time.Second)
	def(&t.WriteTimeout, 10*time.Second)
	def(&t.CountsEvery, 2*time.Second)
	def(&t.FeedEvery, 5*time.Millisecond)
	def(&t.ListEvery, 250*time.Millisecond)
	if t.HeartbeatTicks <= 0 {
		t.HeartbeatTicks = 3
	}
	if t.SessionTicks <= 0 {
		t.SessionTicks = 6
	}
	return t
}

// sseConn is one open SSE response.
type sseConn struct {
	ctx context.Context
	rc  *http.ResponseController
	w   io.Writer
	wt  time.Duration // write timeout
}

// openSSE starts the SSE response (STACK.md pitfalls 1 and 4): headers, 200, then the Datastar
// writer (sse.go); the server's WriteTimeout is replaced by a deadline per write.
func openSSE(res http.ResponseWriter, req *http.Request, wt time.Duration) *sseConn {
	hd := res.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no") // reverse proxies must not buffer the stream
	rc := http.NewResponseController(res)
	_ = rc.SetWriteDeadline(time.Now().Add(wt)) // unsupported by test recorders: fine
	res.WriteHeader(http.StatusOK)
	return &sseConn{ctx: req.Context(), rc: rc, w: res, wt: wt}
}

func (s *sseConn) deadline() { _ = s.rc.SetWriteDeadline(time.Now().Add(s.wt)) }

// patch renders comps (each a top-level element with an id) and sends them as one patch.
func (s *sseConn) patch(comps ...templ.Component) error {
	buf, err := views.Render(s.ctx, comps...)
	if err != nil {
		return err
	}
	defer views.Release(buf)
	if buf.Len() == 0 {
		return nil
	}
	s.deadline()
	if err := writePatch(s.w, buf.Bytes()); err != nil {
		return err
	}
	return s.rc.Flush()
}

// Reply answers a Datastar action with one short SSE response: its toast (when it has text). The
// page's cards are not in it: the page's stream is their one writer (handlers' actionSSE). Write
// errors mean the client went away; there is nothing to answer then.
func Reply(res http.ResponseWriter, req *http.Request, toast views.Flash) {
	s := openSSE(res, req, Timing{}.withDefaults().WriteTimeout)
	if toast.Text != "" {
		_ = s.toast(toast)
	}
}

// toast appends a message to the layout's polite #toasts region.
func (s *sseConn) toast(f views.Flash) error {
	var buf bytes.Buffer
	if err := views.Toast(f.Kind, f.Text).Render(s.ctx, &buf); err != nil {
		return err
	}
	s.deadline()
	if err := writeAppend(s.w, "#toasts", buf.Bytes()); err != nil {
		return err
	}
	return s.rc.Flush()
}

// live sets the page's $_live signal (the indicator's data-live-state).
func (s *sseConn) live(state string) error {
	s.deadline()
	if err := writeSignals(s.w, map[string]string{"_live": state}); err != nil {
		return err
	}
	return s.rc.Flush()
}

// heartbeat writes an SSE comment: proxies see traffic, and a vanished client is noticed.
func (s *sseConn) heartbeat() error {
	s.deadline()
	if _, err := io.WriteString(s.w, ": keep-alive\n\n"); err != nil {
		return err
	}
	return s.rc.Flush()
}

// stop tells the page its live updates are over for good and removes the stream's host element,
// which aborts the browser's reconnecting fetch; then the page goes to the login form
// (views.SessionEnded), as it does on a 401 from any request.
func (s *sseConn) stop() {
	if s.live(views.LiveOffline) == nil {
		s.deadline()
		if writeRemove(s.w, "#"+views.StreamHostID) != nil {
			return
		}
		var buf bytes.Buffer
		if views.SessionEnded().Render(s.ctx, &buf) == nil {
			_ = writeAppend(s.w, "body", buf.Bytes())
		}
		_ = s.rc.Flush()
	}
}

func liveState(hubState string) string {
	if hubState == StateConnected {
		return views.LiveConnected
	}
	return views.LiveReconnecting
}

type sessionCheck int

const (
	sessionOK sessionCheck = iota
	sessionChanged
	sessionGone
)

// checkSession asks whether the stream's principal still holds a live session (or token) with the
// same role. Trouble asking (the database is down) is not a logout: the next check decides.
func (h *Streams) checkSession(ctx context.Context, was model.Principal) sessionCheck {
	a := h.deps.Auth
	if a == nil {
		return sessionOK
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	p, err := a.Revalidate(ctx, was)
	switch code := model.ErrorCode(err); {
	case code == model.EUNAUTHORIZED || code == model.ENOTFOUND:
		return sessionGone
	case err != nil:
		return sessionOK
	case p.UserID != was.UserID || p.TokenID != was.TokenID || p.Role != was.Role:
		return sessionChanged
	}
	return sessionOK
}

// testHookStreamLoop, when set (tests), runs as a stream's loop begins, after its first bytes.
var testHookStreamLoop func()

// liveView is what a stream keeps up to date.
type liveView interface {
	// refresh re-reads ids (everything shown when resync) and patches what changed. Only write
	// errors are returned (they end the stream); read errors are logged and retried later.
	refresh(ctx context.Context, ids []string, resync bool) error
	// tick runs on every stream tick (deferred work such as the list's counts).
	tick(ctx context.Context) error
}

// runStream is the loop every stream shares, started after the full state has been sent. state
// is the hub's connection state the page was last told. The stream ends when evicted is closed (a
// newer stream of the same user took its slot, cap.go).
//
// The loop's goroutine idles for as long as the page is open, and Go never shrinks a stack that
// is more than a quarter full (this one sits under ~5 KB of HTTP middleware). So the loop itself
// only waits and writes ready bytes; everything that reads the database or renders (pgx and templ
// need several KB of stack) runs through offStack, and the goroutine keeps its 8 KB stack instead
// of the 16 KB the deepest call once needed (make bench: -8 KB per open page, x10,000).
//
// changed is the stream's principal watch (watchPrincipal), registered by the caller before the
// first byte went out: a page that saw its stream connect and then logged out is woken even when
// the logout landed before this loop began.
func (h *Streams) runStream(ctx context.Context, who Viewer, s *sseConn, sub *Subscription, v liveView, feed *sharedFeed, state string, evicted, changed <-chan struct{}) error {
	if testHookStreamLoop != nil {
		testHookStreamLoop()
	}
	pr, hasPrincipal := who.Principal, who.OK
	t := time.NewTicker(h.timing.Tick)
	defer t.Stop()
	var feedC <-chan *feedMsg
	if feed != nil {
		feedC = feed.w.c
	}
	for n := 1; ; {
		select {
		case <-ctx.Done():
			return nil
		case <-evicted:
			return nil // the browser reconnects when the tab is visible, taking the oldest slot then
		case <-changed:
			if offStack(func() bool { return h.principalChanged(ctx, s, pr) }) {
				return nil
			}
		case m, ok := <-feedC:
			if !ok {
				return nil // the feed ended, or this stream fell behind: the browser reconnects
			}
			if feed.write(s, m) != nil {
				return nil
			}
		case sig, ok := <-sub.C():
			if !ok {
				return nil // the hub stopped (shutdown): the browser reconnects elsewhere or later
			}
			if sig.State != "" && sig.State != state {
				state = sig.State
				if offStack(func() error { return s.live(liveState(state)) }) != nil {
					return nil
				}
			}
			if sig.Resync || len(sig.EventIDs) > 0 {
				if offStack(func() error { return v.refresh(ctx, sig.EventIDs, sig.Resync) }) != nil {
					return nil
				}
			}
		case <-t.C:
			if offStack(func() bool { return h.streamTick(ctx, s, v, state, n, pr, hasPrincipal) }) {
				return nil
			}
			n++
		}
	}
}

// streamTick is the n-th tick of a stream: polling while the hub is not connected, keep-alives,
// the view's deferred work and the session re-check. True ends the stream.
func (h *Streams) streamTick(ctx context.Context, s *sseConn, v liveView, state string, n int, pr model.Principal, hasPrincipal bool) bool {
	if state != StateConnected {
		// Notifications are down: poll the source of truth until they are back.
		if v.refresh(ctx, nil, true) != nil {
			return true
		}
	} else if n%h.timing.HeartbeatTicks == 0 && s.heartbeat() != nil {
		return true
	}
	if v.tick(ctx) != nil {
		return true
	}
	return hasPrincipal && n%h.timing.SessionTicks == 0 && h.principalChanged(ctx, s, pr)
}

// offStack runs fn on a short-lived goroutine and waits for its result (see runStream); a panic
// in fn panics here, so the recover middleware still sees it.
func offStack[T any](fn func() T) T {
	var (
		res T
		p   any
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { p = recover() }()
		res = fn()
	}()
	<-done
	if p != nil {
		panic(p)
	}
	return res
}
