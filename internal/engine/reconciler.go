package engine

import (
	"context"
	"log/slog"
	"time"

	"github.com/marketing-platform/distribution/db"
)

// Reconciler finds channels that nobody will finish (PENDING/IN_PROGRESS, untouched for
// StuckAfter, no live River job for their generation: a job discarded after a crash, a failed
// final status write, a job deleted by hand) and re-drives them once under a new generation, or
// fails them "worker lost" when they were lost MaxLost times. Jobs whose worker process died
// while running them are re-run within seconds by the liveness rescue (liveness.go), and after
// RescueAfter by River's own rescuer as the fallback; this covers what River cannot see: our tables.
//
// Every replica may run one: each channel is re-checked under its distribution's lock at the
// generation it was found with, so a second reconciler finds nothing left to do.
type Reconciler struct {
	e        *Engine
	interval time.Duration

	loop loop
}

// ReconcileReport counts what one pass did.
type ReconcileReport struct {
	Redriven int
	Failed   int
}

// Start runs a pass now and then every interval until Stop.
func (r *Reconciler) Start(ctx context.Context) {
	r.loop.start(ctx, func(ctx context.Context) {
		t := time.NewTicker(r.interval)
		defer t.Stop()
		for {
			if _, err := r.e.ReconcileOnce(ctx); err != nil && ctx.Err() == nil {
				r.e.log.Warn("reconcile pass failed", slog.String("error", err.Error()))
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}

// Stop ends the loop and waits for a running pass.
func (r *Reconciler) Stop() { r.loop.stop() }

// ReconcileOnce runs one reconciler pass (also used by tests and ops tooling).
func (e *Engine) ReconcileOnce(ctx context.Context) (ReconcileReport, error) {
	var rep ReconcileReport
	stuck, err := e.store.FindStuckChannels(ctx, e.cfg.StuckAfter, 100)
	if err != nil {
		return rep, err
	}
	for _, s := range stuck {
		res, err := e.store.RescueChannel(ctx, s.ID, s.Generation, e.cfg.StuckAfter, e.cfg.MaxLost, e.enqueue)
		if err != nil {
			return rep, err
		}
		if res.Action == db.RescueNone {
			continue
		}
		e.metrics.rescues.WithLabelValues(res.Action).Inc()
		switch res.Action {
		case db.RescueRedriven:
			rep.Redriven++
		case db.RescueFailed:
			rep.Failed++
		}
		e.log.Warn("stuck channel reconciled", slog.String("event_id", res.Channel.EventID),
			slog.String("channel", string(res.Channel.Channel)), slog.String("action", res.Action),
			slog.Int("generation", res.Channel.Generation))
		e.cacheChannel(ctx, res.Channel)
		e.noteRollup(res.Previous, res.Distribution)
		e.alertAfter(ctx, res.Channel, res.Previous, res.Distribution)
		e.cacheOverall(ctx, res.Distribution)
	}
	return rep, nil
}
