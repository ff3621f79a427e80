package engine

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/marketing-platform/distribution/db"
)

// progressEvery is the least time between two status writes of one channel attempt. An adapter
// may report progress as often as it likes (the HTTP adapter on every poll; a fast channel
// reports 100 right before it returns): the worker keeps the latest value, writes it at most once
// per progressEvery (PostgreSQL, then Redis), and hands the last one to the finish, which writes
// it with the outcome. The claim counts as the attempt's first write, so a job that ends within
// progressEvery of its claim writes no progress of its own at all, and its claimed state reaches
// Redis with the finish. A viewer sees a change at most progressEvery late.
const progressEvery = 100 * time.Millisecond

// progressClock is the time source of a progressWriter: the real clock, or a fake in tests.
type progressClock interface {
	Now() time.Time
	// AfterFunc runs f in its own goroutine after d; stop cancels it if it has not started.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// progressWriter coalesces the progress reports of one attempt. report is the adapter's progress
// callback (safe from any goroutine); stop ends the writes and returns the latest progress, for
// the finish to write.
type progressWriter struct {
	clock progressClock
	every time.Duration
	// write stores pct (fenced) and caches the new state; it returns false when nothing reached
	// the cache (the write failed or changed nothing).
	write func(pct int) bool
	// cacheClaim writes the claimed state to the cache (owed until a write has cached a newer one).
	cacheClaim func()

	mu        sync.Mutex
	latest    int         // the highest progress reported (the claimed row's at first)
	written   int         // the highest progress written
	claimOwed bool        // the claimed state has not reached the cache yet
	last      time.Time   // when the last write began (the claim at first)
	timer     func() bool // stops the pending flush; nil when none is pending
	closed    bool
}

func newProgressWriter(clock progressClock, every time.Duration, claimed int, write func(int) bool, cacheClaim func()) *progressWriter {
	p := &progressWriter{clock: clock, every: every, write: write, cacheClaim: cacheClaim,
		latest: claimed, written: claimed, claimOwed: true, last: clock.Now()}
	p.mu.Lock()
	p.timer = clock.AfterFunc(every, p.flush) // the claim reaches the cache by then at the latest
	p.mu.Unlock()
	return p
}

// report records pct and writes it now if the last write is progressEvery old, else at the end
// of the window (one pending flush carries whatever came meanwhile). Lower or repeated values
// are dropped: progress never moves backwards.
func (p *progressWriter) report(pct int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || pct <= p.latest {
		return
	}
	p.latest = pct
	if p.timer != nil {
		return // the pending flush writes it
	}
	if wait := p.every - p.clock.Now().Sub(p.last); wait > 0 {
		p.timer = p.clock.AfterFunc(wait, p.flush)
		return
	}
	p.writeLocked()
}

func (p *progressWriter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timer = nil
	if !p.closed {
		p.writeLocked()
	}
}

// writeLocked writes the latest progress, or the owed claimed state when there is no newer
// progress (p.mu held: writes of one attempt never overlap or reorder).
func (p *progressWriter) writeLocked() {
	if p.latest <= p.written && !p.claimOwed {
		return
	}
	p.last = p.clock.Now()
	if p.latest > p.written {
		p.written = p.latest
		if p.write(p.latest) {
			p.claimOwed = false
			return
		}
	}
	if p.claimOwed {
		p.claimOwed = false
		p.cacheClaim()
	}
}

// stop ends the writes (a flush in flight completes first) and returns the latest progress
// reported, which the caller writes with the finish. Later reports are ignored.
func (p *progressWriter) stop() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.timer != nil {
		p.timer()
		p.timer = nil
	}
	return p.latest
}

// progressFor is the coalescing progress writer of a claimed run: fenced progress writes (a
// stale attempt's change nothing), none once the job context has ended (the finish writes the
// last value).
func (e *Engine) progressFor(ctx context.Context, log *slog.Logger, run db.ChannelRun) *progressWriter {
	write := func(pct int) bool {
		if ctx.Err() != nil {
			return false
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		st, changed, err := e.store.UpdateChannelProgress(pctx, run.State.ID, run.State.Generation, pct)
		if err != nil {
			log.WarnContext(ctx, "progress write failed", slog.String("error", err.Error()))
			return false
		}
		if changed {
			e.cacheChannel(ctx, st)
		}
		return changed
	}
	return newProgressWriter(realClock{}, progressEvery, run.State.Progress, write, func() { e.cacheChannel(ctx, run.State) })
}
