package engine

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Scheduled starts. Every worker process runs a scheduler: a loop that claims due schedules one
// at a time and starts each in the claim's own transaction (db.StartDueSchedule: the schedule's
// DELETE, the distribution, its channels, their jobs and the audit row commit together, through
// the same startTx as an immediate start). Why this and not a River job scheduled at startAt:
// the claim is a row lock with SKIP LOCKED, so any number of replicas may run it and each
// schedule starts once; a process killed mid-claim rolls back and the schedule is still due for
// the next pass (another replica, or this one restarted); replacing or removing a schedule is
// one row, with no job to find and cancel; and "due" is the database's now(), never a process
// clock. The cost is a poll: one indexed query per ScheduleInterval per worker process, and the
// loop sleeps only until the next schedule when that is sooner, so a schedule known in advance
// starts within milliseconds of its time.

// scheduleBatch bounds the starts of one pass (the rest go in the next, at once).
const scheduleBatch = 100

// scheduler runs the due-claim loop of one engine.
type scheduler struct {
	e        *Engine
	interval time.Duration

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// Start runs a pass now, then after each pass waits until the next schedule falls due or
// interval passes, whichever is sooner, until Stop.
func (s *scheduler) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTimer(0)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			n, err := s.e.StartDueSchedules(ctx)
			if err != nil && ctx.Err() == nil {
				s.e.log.Warn("scheduled starts pass failed", slog.String("error", err.Error()))
			}
			wait := s.interval
			if n == scheduleBatch {
				wait = 0 // more may be due
			} else if in, ok, err := s.e.store.NextScheduleIn(ctx); err == nil && ok && in < wait {
				wait = max(in, time.Millisecond)
			}
			t.Reset(wait)
		}
	}()
}

// Stop ends the loop and waits for a running pass.
func (s *scheduler) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	s.cancel = nil
}

// StartDueSchedules starts every schedule that has fallen due (at most scheduleBatch per call)
// and returns how many it claimed. A start that fails is left due (its claim rolled back) and
// passed over for the rest of this call; it is tried again on the next.
func (e *Engine) StartDueSchedules(ctx context.Context) (int, error) {
	var (
		skip    []string
		claimed int
		lastErr error
	)
	for claimed < scheduleBatch && ctx.Err() == nil {
		ds, ok, err := e.store.StartDueSchedule(ctx, skip, e.enqueue)
		if err != nil {
			// Which schedule failed is unknown when the claim itself failed; stop this pass.
			if ds.Schedule.EventID == "" {
				return claimed, err
			}
			skip, lastErr = append(skip, ds.Schedule.EventID), err
			continue
		}
		if !ok {
			break
		}
		claimed++
		log := e.log.With(slog.String("event_id", ds.Schedule.EventID), slog.String("actor", ds.Schedule.CreatedBy),
			slog.Time("start_at", ds.Schedule.StartAt))
		if ds.Err != nil {
			e.metrics.scheduled.WithLabelValues("dropped").Inc()
			log.WarnContext(ctx, "due schedule dropped", slog.String("error", ds.Err.Error()))
			continue
		}
		e.metrics.scheduled.WithLabelValues("started").Inc()
		log.InfoContext(ctx, "scheduled distribution started", slog.Int("channels", len(ds.Distribution.Channels)),
			slog.Duration("late", ds.Distribution.StartedAt.Sub(ds.Schedule.StartAt)))
		e.cacheDistribution(ctx, ds.Distribution)
	}
	return claimed, lastErr
}
