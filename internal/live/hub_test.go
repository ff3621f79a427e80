package live

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The key formats belong to the cache package; the tests spell them only to produce notifications.
var testPatterns = []string{"__keyspace@0__:event:*", "__keyspace@0__:distribution:channel:*"}

func testEventIDOf(channel string) (string, bool) {
	_, key, ok := strings.Cut(channel, "__:")
	if !ok {
		return "", false
	}
	if rest, ok := strings.CutPrefix(key, "event:"); ok {
		id, ok := strings.CutSuffix(rest, ":distribution")
		return id, ok && id != ""
	}
	if rest, ok := strings.CutPrefix(key, "distribution:channel:"); ok {
		i := strings.LastIndexByte(rest, ':')
		return rest[:max(i, 0)], i > 0
	}
	return "", false
}

func eventKey(id string) string { return "event:" + id + ":distribution" }

func keyspaceChannel(id, ch string) string { return "distribution:channel:" + id + ":" + ch }

type env struct {
	r      *dbtest.Redis
	client *redis.Client
	hub    *Hub
}

// newEnv starts a private Redis, a client that (like the cache package's) re-applies the
// notification config on every connection, and a started hub.
func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	r := dbtest.StartRedis(t)
	o, err := redis.ParseURL(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	o.DialTimeout = 500 * time.Millisecond
	o.ReadTimeout = 500 * time.Millisecond
	o.WriteTimeout = 500 * time.Millisecond
	o.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		return cn.ConfigSet(ctx, "notify-keyspace-events", "Khgx").Err()
	}
	client := redis.NewClient(o)
	t.Cleanup(func() { client.Close() })

	if opts.Patterns == nil {
		opts.Patterns = testPatterns
	}
	if opts.EventIDOf == nil {
		opts.EventIDOf = testEventIDOf
	}
	h := NewHub(client, opts, testLogger(t))
	t.Cleanup(h.Stop) // runs before client.Close
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &env{r: r, client: client, hub: h}
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// hset writes one field, retrying while the client's pool still holds connections to a dead server.
func (e *env) hset(t *testing.T, key string) {
	t.Helper()
	testkit.EventuallyErr(t, 10*time.Second, "HSET "+key, func() error {
		return e.client.HSet(context.Background(), key, "status", "IN_PROGRESS").Err()
	})
}

// next waits for the next signal on sub.
func next(t *testing.T, sub *Subscription, within time.Duration) Signal {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case sig, ok := <-sub.C():
		if !ok {
			t.Fatal("subscription channel closed")
		}
		return sig
	case <-timer.C:
		t.Fatalf("no signal within %s", within)
		return Signal{}
	}
}

// until reads signals until one satisfies ok.
func until(t *testing.T, sub *Subscription, within time.Duration, what string, ok func(Signal) bool) Signal {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		select {
		case sig, open := <-sub.C():
			if !open {
				t.Fatalf("waiting for %s: subscription channel closed", what)
			}
			if ok(sig) {
				return sig
			}
		case <-timer.C:
			t.Fatalf("no %s within %s", what, within)
		}
	}
}

// none asserts nothing is pending on sub. Callers first make sure, through a later notification
// seen by another subscriber, that the hub has dispatched everything that could concern sub.
func none(t *testing.T, sub *Subscription) {
	t.Helper()
	select {
	case sig := <-sub.C():
		t.Fatalf("unexpected signal %+v", sig)
	default:
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	if e.hub.State() != StateConnected {
		t.Fatalf("state after Start = %q", e.hub.State())
	}
	subA := e.hub.Subscribe(Filter{EventIDs: []string{"ev-a", "ev-a"}})
	subB := e.hub.Subscribe(Filter{EventIDs: []string{"ev-b"}})
	subAll := e.hub.Subscribe(Filter{All: true})
	subMatch := e.hub.Subscribe(Filter{Match: func(id string) bool { return strings.HasPrefix(id, "ev-a") }})
	subSentinel := e.hub.Subscribe(Filter{EventIDs: []string{"sentinel"}})
	defer subA.Unsubscribe()

	e.hset(t, eventKey("ev-a"))
	for name, sub := range map[string]*Subscription{"exact": subA, "all": subAll, "match": subMatch} {
		sig := next(t, sub, 2*time.Second)
		if len(sig.EventIDs) != 1 || sig.EventIDs[0] != "ev-a" || sig.Resync || sig.State != StateConnected {
			t.Errorf("%s subscriber got %+v, want ev-a", name, sig)
		}
	}

	// A channel key of the same event reaches the same subscriber.
	e.hset(t, keyspaceChannel("ev-a", "KAKAO"))
	for name, sub := range map[string]*Subscription{"exact": subA, "all": subAll, "match": subMatch} {
		if sig := next(t, sub, 2*time.Second); len(sig.EventIDs) != 1 || sig.EventIDs[0] != "ev-a" {
			t.Errorf("channel key: %s subscriber got %+v", name, sig)
		}
	}

	// Keys outside the formats are ignored.
	e.hset(t, "event:ev-b:other")
	e.hset(t, keyspaceChannel("sentinel", "NAVER"))
	next(t, subSentinel, 2*time.Second)
	none(t, subB)
	none(t, subA)
	none(t, subMatch)
	if sig := next(t, subAll, 2*time.Second); len(sig.EventIDs) != 1 || sig.EventIDs[0] != "sentinel" {
		t.Errorf("all subscriber: got %+v, want only the sentinel", sig)
	}
	st := e.hub.Stats()
	if st.Ignored != 1 || st.Notifications != 4 || st.Subscribers != 5 {
		t.Errorf("stats = %+v", st)
	}

	subB.Unsubscribe()
	subB.Unsubscribe() // idempotent
	if _, open := <-subB.C(); open {
		t.Error("unsubscribed channel still open")
	}
	if got := e.hub.Stats().Subscribers; got != 4 {
		t.Errorf("subscribers after unsubscribe = %d", got)
	}
}

func TestBurstIsCoalescedAndSlowSubscriberBlocksNobody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	slow := e.hub.Subscribe(Filter{EventIDs: []string{"burst"}}) // never read during the burst
	fast := e.hub.Subscribe(Filter{EventIDs: []string{"burst"}})
	other := e.hub.Subscribe(Filter{EventIDs: []string{"other"}})

	var fastSignals int
	fastDone := make(chan struct{})
	go func() {
		defer close(fastDone)
		for range fast.C() {
			fastSignals++
		}
	}()

	const n = 1000
	ctx := context.Background()
	for i := range n {
		if err := e.client.HSet(ctx, eventKey("burst"), "progress", i).Err(); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	e.hset(t, eventKey("other"))
	if sig := next(t, other, 2*time.Second); sig.EventIDs[0] != "other" {
		t.Fatalf("other got %+v", sig)
	}
	t.Logf("other subscriber signalled %s after the burst", time.Since(start))

	// Everything from the burst has been dispatched: the slow subscriber holds exactly one signal.
	sig := next(t, slow, time.Second)
	if len(sig.EventIDs) != 1 || sig.EventIDs[0] != "burst" || sig.Resync {
		t.Errorf("slow subscriber got %+v", sig)
	}
	none(t, slow)

	fast.Unsubscribe()
	<-fastDone
	st := e.hub.Stats()
	t.Logf("fast subscriber got %d signals for %d notifications; stats %+v", fastSignals, n, st)
	if fastSignals < 1 || fastSignals > n {
		t.Errorf("fast subscriber got %d signals", fastSignals)
	}
	if st.Notifications != n+1 {
		t.Errorf("notifications = %d, want %d", st.Notifications, n+1)
	}
}

func TestOverflowCollapsesToResync(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{SubscriberBuffer: 4, Coalesce: -1})
	all := e.hub.Subscribe(Filter{All: true})
	sentinel := e.hub.Subscribe(Filter{EventIDs: []string{"sentinel"}})
	for i := range 10 {
		e.hset(t, eventKey(fmt.Sprintf("ev-%d", i)))
	}
	e.hset(t, eventKey("sentinel"))
	next(t, sentinel, 2*time.Second)
	if sig := next(t, all, time.Second); !sig.Resync || len(sig.EventIDs) != 0 {
		t.Errorf("got %+v, want a bare Resync", sig)
	}
	none(t, all)
	if e.hub.Stats().Overflows == 0 {
		t.Error("overflow not counted")
	}
}

func TestTenThousandSubscribers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	baseline := runtime.NumGoroutine()

	const n, workers = 10_000, 100
	subs := make([]*Subscription, n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				id := fmt.Sprintf("hot-%d", i%3)
				if i%10 == 9 {
					id = fmt.Sprintf("cold-%d", i)
				}
				subs[i] = e.hub.Subscribe(Filter{EventIDs: []string{id}})
			}
		})
	}
	wg.Wait()
	if got := e.hub.Stats().Subscribers; got != n {
		t.Fatalf("subscribers = %d, want %d", got, n)
	}

	start := time.Now()
	e.hset(t, eventKey("hot-1"))
	for i, s := range subs {
		if i%3 == 1 && i%10 != 9 {
			if sig := next(t, s, 5*time.Second); sig.EventIDs[0] != "hot-1" {
				t.Fatalf("subscriber %d got %+v", i, sig)
			}
		}
	}
	t.Logf("fan-out of one notification to %d subscribers took %s", n/3, time.Since(start))

	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				subs[i].Unsubscribe()
				subs[i].Unsubscribe()
			}
		})
	}
	wg.Wait()
	e.hub.mu.RLock()
	st, events := e.hub.Stats().Subscribers, len(e.hub.byEvent)
	e.hub.mu.RUnlock()
	if st != 0 || events != 0 {
		t.Fatalf("after unsubscribe: subscribers %d, indexed events %d", st, events)
	}
	testkit.Eventually(t, 5*time.Second, "goroutines back to baseline", func() bool {
		return runtime.NumGoroutine() <= baseline
	})
}

func TestRedisRestartResyncs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	subs := []*Subscription{
		e.hub.Subscribe(Filter{EventIDs: []string{"ev-1"}}),
		e.hub.Subscribe(Filter{EventIDs: []string{"ev-2"}}),
		e.hub.Subscribe(Filter{All: true}),
	}

	e.r.Stop()
	for _, s := range subs {
		until(t, s, 5*time.Second, "reconnecting state", func(s Signal) bool { return s.State == StateReconnecting })
	}
	if got := e.hub.State(); got != StateReconnecting {
		t.Fatalf("state while Redis is down = %q", got)
	}

	e.r.Start() // a fresh server: notify-keyspace-events is back to off until OnConnect sets it
	for _, s := range subs {
		until(t, s, 10*time.Second, "resync after reconnect", func(s Signal) bool {
			return s.Resync && s.State == StateConnected
		})
	}
	if got := e.hub.State(); got != StateConnected {
		t.Fatalf("state after restart = %q", got)
	}
	if got := e.hub.Stats().Reconnects; got != 1 {
		t.Errorf("reconnects = %d, want 1", got)
	}

	e.hset(t, eventKey("ev-1"))
	if sig := until(t, subs[0], 2*time.Second, "notification after restart", func(s Signal) bool {
		return len(s.EventIDs) > 0
	}); sig.EventIDs[0] != "ev-1" {
		t.Errorf("got %+v", sig)
	}
	until(t, subs[2], 2*time.Second, "notification after restart (all)", func(s Signal) bool { return len(s.EventIDs) > 0 })
}

func TestHungRedisIsDetected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{HealthInterval: 100 * time.Millisecond, PingTimeout: 200 * time.Millisecond})
	sub := e.hub.Subscribe(Filter{EventIDs: []string{"ev-1"}})
	p := e.r.Process()
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			p.Signal(syscall.SIGCONT) //nolint:errcheck
		}
	})
	until(t, sub, 5*time.Second, "reconnecting state", func(s Signal) bool { return s.State == StateReconnecting })
	if err := p.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed = true
	until(t, sub, 10*time.Second, "resync after the server resumed", func(s Signal) bool {
		return s.Resync && s.State == StateConnected
	})
	e.hset(t, eventKey("ev-1"))
	until(t, sub, 2*time.Second, "notification", func(s Signal) bool { return len(s.EventIDs) > 0 })
}

func TestStartWithRedisDown(t *testing.T) {
	t.Parallel()
	r := dbtest.StartRedis(t)
	r.Stop()
	o, err := redis.ParseURL(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	o.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		return cn.ConfigSet(ctx, "notify-keyspace-events", "Khgx").Err()
	}
	client := redis.NewClient(o)
	defer client.Close()
	h := NewHub(client, Options{Patterns: testPatterns, EventIDOf: testEventIDOf, StartTimeout: 100 * time.Millisecond}, nil)
	defer h.Stop()
	if err := h.Start(context.Background()); err != nil {
		t.Fatalf("Start with Redis down: %v", err)
	}
	if got := h.State(); got != StateReconnecting {
		t.Fatalf("state = %q", got)
	}
	sub := h.Subscribe(Filter{EventIDs: []string{"ev-1"}})
	r.Start()
	until(t, sub, 10*time.Second, "resync once Redis is up", func(s Signal) bool {
		return s.Resync && s.State == StateConnected
	})
}

func TestStopIsPromptAndClosesSubscribers(t *testing.T) {
	t.Parallel()
	for _, down := range []bool{false, true} {
		t.Run(fmt.Sprintf("redis_down=%v", down), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, Options{})
			sub := e.hub.Subscribe(Filter{All: true})
			if down {
				e.r.Stop()
				until(t, sub, 5*time.Second, "reconnecting", func(s Signal) bool { return s.State == StateReconnecting })
			}
			start := time.Now()
			e.hub.Stop()
			if d := time.Since(start); d > time.Second {
				t.Errorf("Stop took %s", d)
			}
			closedWithin(t, sub, time.Second)
			closedWithin(t, e.hub.Subscribe(Filter{All: true}), time.Second) // born closed
			e.hub.Stop()                                                     // idempotent
		})
	}
}

// closedWithin drains sub until its channel is closed.
func closedWithin(t *testing.T, sub *Subscription, within time.Duration) {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		select {
		case _, open := <-sub.C():
			if !open {
				return
			}
		case <-timer.C:
			t.Fatalf("subscription channel not closed within %s", within)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{})
	defer client.Close()
	h := NewHub(client, Options{}, nil)
	if err := h.Start(context.Background()); err == nil {
		t.Fatal("Start without patterns succeeded")
	}
	h.Stop()
}
