package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/marketing-platform/distribution/db"
)

// liveness keeps this worker process's lease (a session advisory lock PostgreSQL releases when
// the process dies, db/liveness.go) and, every interval, re-runs at once the running publish jobs
// of worker processes whose lease is gone: a kill -9 costs seconds, not RESCUE_AFTER. River's
// time-based rescuer stays as the fallback (a process that never registered, a lease table
// cleaned meanwhile). Every worker process runs one; each rescue re-checks the job under its
// distribution's lock, so two replicas never rescue a job twice.
type liveness struct {
	e        *Engine
	id       string
	interval time.Duration
	grace    time.Duration

	loop  loop
	mu    sync.Mutex // guards lease
	lease *db.WorkerLease
}

// newWorkerID is a River client id that no other process start ever had: host, pid and random bits.
func newWorkerID() string {
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, host)
	if host == "" {
		host = "unknown_host"
	}
	if len(host) > 50 {
		host = host[:50]
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return host + "_" + strconv.Itoa(os.Getpid()) + "_" + hex.EncodeToString(b[:])
}

// start registers the lease (before River runs a job under this id) and starts the loop.
func (l *liveness) start(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	host, _ := os.Hostname()
	lease, err := l.e.store.RegisterWorker(ctx, l.id, host, os.Getpid())
	if err != nil {
		return err
	}
	l.lease = lease
	l.loop.start(ctx, func(ctx context.Context) {
		t := time.NewTicker(l.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			l.pass(ctx, lease)
		}
	})
	return nil
}

// pass keeps this process's lease, then rescues the jobs of dead ones; each step is bounded, so a
// hung connection cannot stall the loop.
func (l *liveness) pass(ctx context.Context, lease *db.WorkerLease) {
	bound := max(l.interval, 5*time.Second)
	kctx, cancel := context.WithTimeout(ctx, bound)
	reconnected, err := lease.Keep(kctx)
	cancel()
	switch {
	case err != nil && ctx.Err() == nil:
		l.e.log.Warn("worker liveness lease lost; other workers may re-run this process's jobs",
			slog.String("worker_id", l.id), slog.String("error", err.Error()))
	case reconnected:
		l.e.log.Warn("worker liveness lease taken again after its connection was lost", slog.String("worker_id", l.id))
	}
	rctx, cancel := context.WithTimeout(ctx, 2*bound)
	defer cancel()
	if _, err := l.e.RescueDeadWorkers(rctx); err != nil && ctx.Err() == nil {
		l.e.log.Warn("dead worker rescue failed", slog.String("error", err.Error()))
	}
}

// stopLoop ends the loop (the lease is still held).
func (l *liveness) stopLoop() { l.loop.stop() }

// release gives the lease up after River has stopped.
func (l *liveness) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lease == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.lease.Release(ctx); err != nil {
		l.e.log.Warn("worker liveness release failed", slog.String("error", err.Error()))
	}
	l.lease = nil
}

// WorkerID is this process's worker id (its River client id); "" for an insert-only engine.
func (e *Engine) WorkerID() string {
	if e.liveness == nil {
		return ""
	}
	return e.liveness.id
}

// RescueDeadWorkers runs one liveness pass: running publish jobs of worker processes whose lease
// has been gone for LivenessGrace run again now (same generation, same idempotency key), or their
// channel fails "worker lost" when it was lost MaxLost times (also used by tests).
func (e *Engine) RescueDeadWorkers(ctx context.Context) (ReconcileReport, error) {
	var rep ReconcileReport
	jobs, err := e.store.FindDeadWorkerJobs(ctx, e.cfg.LivenessGrace, 100)
	if err != nil {
		return rep, err
	}
	for _, j := range jobs {
		res, err := e.store.RescueWorkerJob(ctx, j.JobID, j.WorkerID, e.cfg.MaxLost)
		if err != nil {
			return rep, err
		}
		if res.Action == db.RescueNone {
			continue
		}
		e.metrics.rescues.WithLabelValues(res.Action).Inc()
		if res.Action == db.RescueRequeued {
			e.log.Info("job of a dead worker re-queued (its channel had moved on)", slog.Int64("job_id", j.JobID),
				slog.String("dead_worker", j.WorkerID))
			continue
		}
		switch res.Action {
		case db.RescueResumed:
			rep.Redriven++
		case db.RescueFailed:
			rep.Failed++
		}
		e.log.Warn("channel of a dead worker rescued", slog.String("event_id", res.Channel.EventID),
			slog.String("channel", string(res.Channel.Channel)), slog.String("action", res.Action),
			slog.String("dead_worker", j.WorkerID), slog.Int64("job_id", j.JobID))
		e.cacheChannel(ctx, res.Channel)
		e.noteRollup(res.Previous, res.Distribution)
		e.alertAfter(ctx, res.Channel, res.Previous, res.Distribution)
		e.cacheOverall(ctx, res.Distribution)
	}
	return rep, nil
}
