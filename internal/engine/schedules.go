package engine

import (
	"context"
	"log/slog"
	"time"

	"github.com/marketing-platform/distribution/db"
)

// Scheduled starts. Every worker process runs a scheduler: a loop that claims due schedules and
// starts them in the claim's own transaction (db.StartDueSchedules: the schedules' DELETE, the
// distributions, their channels, their jobs and the audit rows commit together, through the same
// startTx as immediate starts). Why this and not a River job scheduled at startAt:
// the claim is a row lock with SKIP LOCKED, so any number of replicas may run it and each
// schedule starts once; a process killed mid-claim rolls back and the schedule is still due for
// the next pass (another replica, or this one restarted); replacing or removing a schedule is
// one row, with no job to find and cancel; and "due" is the database's now(), never a process
// clock. The cost is a poll: an empty claim transaction and one min(start_at) query (both on the
// start_at index) per ScheduleInterval per worker process; the loop sleeps only until the next
// schedule when that is sooner, so a schedule known in advance starts within milliseconds of its
// time (a schedule written less than ScheduleInterval ahead may start up to that late).

// scheduleBatch bounds the starts of one pass (the rest go in the next, at once).
const scheduleBatch = 100

// scheduleClaim is how many due schedules one transaction claims and starts (a group commit, as
// concurrent immediate starts get): schedules due at the same moment start together instead of
// one round of transactions after another.
const scheduleClaim = 16

// scheduler runs the due-claim loop of one engine.
type scheduler struct {
	e        *Engine
	interval time.Duration
	loop     loop
}

// Start runs a pass now, then after each pass waits until the next schedule falls due or
// interval passes, whichever is sooner, until Stop.
func (s *scheduler) Start(ctx context.Context) {
	s.loop.start(ctx, func(ctx context.Context) {
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
	})
}

// Stop ends the loop and waits for a running pass.
func (s *scheduler) Stop() { s.loop.stop() }

// StartDueSchedules starts every schedule that has fallen due (at most scheduleBatch per call)
// and returns how many it claimed. Due schedules are claimed and started scheduleClaim at a time
// (one group commit); when such a transaction fails they are tried one by one, and one that still
// fails is left due (its claim rolled back) and passed over for the rest of this call.
func (e *Engine) StartDueSchedules(ctx context.Context) (int, error) {
	var (
		skip    []string
		claimed int
		lastErr error
		single  bool // isolating a failure: one schedule per transaction
	)
	for tries := 0; claimed < scheduleBatch && tries < 2*scheduleBatch && ctx.Err() == nil; tries++ {
		n := min(scheduleClaim, scheduleBatch-claimed)
		if single {
			n = 1
		}
		due, err := e.store.StartDueSchedules(ctx, n, skip, e.enqueue)
		if err != nil {
			switch {
			case len(due) == 0: // the claim itself failed: database trouble, stop this pass
				return claimed, err
			case len(due) > 1:
				single = true
			default:
				skip, lastErr = append(skip, due[0].Schedule.EventID), err
			}
			continue
		}
		if len(due) == 0 {
			break
		}
		claimed += len(due)
		for _, ds := range due {
			e.scheduleStarted(ctx, ds)
		}
	}
	return claimed, lastErr
}

// scheduleStarted logs, counts and caches one claimed schedule's start (after the commit).
func (e *Engine) scheduleStarted(ctx context.Context, ds db.DueStart) {
	log := e.log.With(slog.String("event_id", ds.Schedule.EventID), slog.String("actor", ds.Schedule.CreatedBy),
		slog.Time("start_at", ds.Schedule.StartAt))
	if ds.Err != nil {
		e.metrics.scheduled.WithLabelValues("dropped").Inc()
		log.WarnContext(ctx, "due schedule dropped", slog.String("error", ds.Err.Error()))
		return
	}
	e.metrics.scheduled.WithLabelValues("started").Inc()
	log.InfoContext(ctx, "scheduled distribution started", slog.Int("channels", len(ds.Distribution.Channels)),
		slog.Duration("late", ds.Distribution.StartedAt.Sub(ds.Schedule.StartAt)))
	e.cacheDistribution(ctx, ds.Distribution)
}
