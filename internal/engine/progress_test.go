package engine

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"
)

// fakeClock is a progressClock that moves only when told: timers fire inside advance, in order.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[int]*fakeTimer
	next   int
}

type fakeTimer struct {
	at time.Time
	f  func()
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), timers: map[int]*fakeTimer{}}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.next
	c.next++
	c.timers[id] = &fakeTimer{at: c.now.Add(d), f: f}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.timers[id]
		delete(c.timers, id)
		return ok
	}
}

func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// advance moves the clock by d, firing every timer that falls due, at its own time.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		var ids []int
		for id, t := range c.timers {
			if !t.at.After(end) {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			break
		}
		sort.Slice(ids, func(i, j int) bool { return c.timers[ids[i]].at.Before(c.timers[ids[j]].at) })
		t := c.timers[ids[0]]
		delete(c.timers, ids[0])
		c.now = t.at
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	c.now = end
	c.mu.Unlock()
}

// progressLog records what a progressWriter wrote, with the fake time of each write.
type progressLog struct {
	clock   *fakeClock
	start   time.Time
	writes  []string // "pct@ms"
	pcts    []int
	at      []time.Time
	claims  []string // "@ms" of the claimed state's cache writes
	changed bool     // what write reports (the row changed and reached the cache)
}

func newProgressLog(clock *fakeClock) *progressLog {
	return &progressLog{clock: clock, start: clock.Now(), changed: true}
}

func (l *progressLog) ms() int64 { return l.clock.Now().Sub(l.start).Milliseconds() }

func (l *progressLog) write(pct int) bool {
	l.writes = append(l.writes, fmt.Sprintf("%d@%d", pct, l.ms()))
	l.at = append(l.at, l.clock.Now())
	l.pcts = append(l.pcts, pct)
	return l.changed
}

func (l *progressLog) cacheClaim() { l.claims = append(l.claims, fmt.Sprintf("@%d", l.ms())) }

func TestProgressWritesCoalesced(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	log := newProgressLog(clock)
	p := newProgressWriter(clock, 100*time.Millisecond, 0, log.write, log.cacheClaim)

	// Within the claim's window: kept, written once when it ends (the claim counts as a write).
	p.report(10)
	clock.advance(20 * time.Millisecond)
	p.report(20)
	p.report(30)
	p.report(25) // lower: never backwards
	clock.advance(80 * time.Millisecond)
	// The next window: reports at 150 and 160 ms, one write at 200 ms.
	clock.advance(50 * time.Millisecond)
	p.report(40)
	clock.advance(10 * time.Millisecond)
	p.report(50)
	clock.advance(40 * time.Millisecond)
	// Quiet for longer than a window: the next report is written at once.
	clock.advance(250 * time.Millisecond)
	p.report(60)
	clock.advance(10 * time.Millisecond)
	p.report(70) // pending when the adapter returns
	clock.advance(40 * time.Millisecond)
	if got := p.stop(); got != 70 {
		t.Fatalf("stop = %d, want 70 (the latest, for the finish to write)", got)
	}
	clock.advance(time.Second)
	p.report(90) // after stop: ignored
	clock.advance(time.Second)

	if got, want := fmt.Sprint(log.writes), "[30@100 50@200 60@450]"; got != want {
		t.Fatalf("writes = %s, want %s", got, want)
	}
	// The first progress write carried the claimed state to the cache.
	if len(log.claims) != 0 {
		t.Fatalf("claimed state cached separately: %v", log.claims)
	}
	if n := clock.pending(); n != 0 {
		t.Fatalf("%d timers left after stop", n)
	}
}

func TestProgressClaimCachedOnce(t *testing.T) {
	t.Parallel()
	// No progress: the claimed state reaches the cache one window after the claim, once.
	clock := newFakeClock()
	log := newProgressLog(clock)
	p := newProgressWriter(clock, 100*time.Millisecond, 0, log.write, log.cacheClaim)
	clock.advance(time.Second)
	if fmt.Sprint(log.claims) != "[@100]" || len(log.writes) != 0 {
		t.Fatalf("claims %v writes %v, want one claim write at 100 ms", log.claims, log.writes)
	}
	if got := p.stop(); got != 0 {
		t.Fatalf("stop = %d", got)
	}

	// A job that ends within the window writes nothing: the finish carries the state.
	clock = newFakeClock()
	log = newProgressLog(clock)
	p = newProgressWriter(clock, 100*time.Millisecond, 20, log.write, log.cacheClaim)
	p.report(100)
	clock.advance(50 * time.Millisecond)
	if got := p.stop(); got != 100 {
		t.Fatalf("stop = %d, want 100", got)
	}
	clock.advance(time.Second)
	if len(log.claims)+len(log.writes) != 0 {
		t.Fatalf("claims %v writes %v, want none", log.claims, log.writes)
	}

	// A progress write that changed nothing (the row already had more) still caches the claim.
	clock = newFakeClock()
	log = newProgressLog(clock)
	log.changed = false
	p = newProgressWriter(clock, 100*time.Millisecond, 0, log.write, log.cacheClaim)
	p.report(10)
	clock.advance(time.Second)
	p.stop()
	if fmt.Sprint(log.writes) != "[10@100]" || fmt.Sprint(log.claims) != "[@100]" {
		t.Fatalf("claims %v writes %v", log.claims, log.writes)
	}
}

// Any pattern of reports: consecutive writes are at least a window apart (and the first a window
// after the claim), each writes a new higher value, and stop returns the highest reported.
func TestProgressWritesAtMostOncePerWindow(t *testing.T) {
	t.Parallel()
	const every = 100 * time.Millisecond
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 1))
		clock := newFakeClock()
		log := newProgressLog(clock)
		claimed := r.IntN(30)
		p := newProgressWriter(clock, every, claimed, log.write, log.cacheClaim)
		highest := claimed
		for range 1 + r.IntN(60) {
			clock.advance(time.Duration(r.IntN(60)) * time.Millisecond)
			pct := r.IntN(101)
			highest = max(highest, pct)
			p.report(pct)
		}
		if got := p.stop(); got != highest {
			t.Fatalf("seed %d: stop = %d, want %d", seed, got, highest)
		}
		prev := log.start
		for i, at := range log.at {
			if at.Sub(prev) < every {
				t.Fatalf("seed %d: writes %v closer than %s", seed, log.writes, every)
			}
			prev = at
			if i > 0 && log.pcts[i] <= log.pcts[i-1] || log.pcts[i] <= claimed {
				t.Fatalf("seed %d: writes %v not increasing", seed, log.writes)
			}
		}
	}
}
