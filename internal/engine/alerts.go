package engine

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/alerts"
	"github.com/marketing-platform/distribution/internal/model"
)

// Failure alerts, so a failure is heard of without watching the dashboard: when a finish commits a
// channel FAILED, or turns the distribution FAILED or PARTIAL_SUCCESS, an alert_webhook job is
// inserted in the finish transaction itself (ChannelFinish.OnFinish), so the alert commits with the
// status or not at all. The insert runs under a savepoint: if it fails, the status still commits
// and the failure is logged (an alert never holds a status back). The job is unique per (event,
// channel, generation, outcome), so a repeated finish cannot alert twice.

// alertWorkers is how many alert deliveries one worker process runs at once.
const alertWorkers = 2

// setupAlerts registers the alert worker (every engine with Config.Alerts, insert-only ones too,
// since River refuses to insert kinds it does not know) and gives working engines its queue.
func (e *Engine) setupAlerts(workers *river.Workers, rc *river.Config) error {
	if e.cfg.Alerts == nil {
		return nil
	}
	if err := e.cfg.Alerts.Register(workers); err != nil {
		return fmt.Errorf("engine: register alert worker: %w", err)
	}
	if rc.Queues != nil {
		rc.Queues[alerts.Queue] = river.QueueConfig{MaxWorkers: alertWorkers}
	}
	return nil
}

// alertTx inserts, in the finish transaction tx, the alert the finish calls for, if any.
func (e *Engine) alertTx(ctx context.Context, tx pgx.Tx, res db.ChannelFinishResult) error {
	if e.cfg.Alerts == nil {
		return nil
	}
	args, ok := alerts.For(res.Channel, res.Previous, res.Distribution)
	if !ok {
		return nil
	}
	e.alertFailed(args, e.insertInSavepoint(ctx, tx, args))
	return nil
}

// insertInSavepoint inserts job args in tx under a savepoint: an insert that fails leaves the
// transaction usable, so the status it carries still commits.
func (e *Engine) insertInSavepoint(ctx context.Context, tx pgx.Tx, args river.JobArgs) error {
	return pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
		_, err := e.river.InsertTx(ctx, sp, args, nil)
		return err
	})
}

func (e *Engine) alertFailed(args alerts.Args, err error) {
	if err != nil {
		e.log.Error("enqueue failure alert", slog.String("event_id", args.EventID),
			slog.String("channel", string(args.Channel)), slog.String("error", err.Error()))
	}
}

// alertAfter inserts the alert a committed rescue calls for, right after its commit (the
// reconciler's rescue transaction takes no hook; a crash in between loses that one alert, never
// a status). Failures are logged only.
func (e *Engine) alertAfter(ctx context.Context, ch model.ChannelState, prev model.OverallStatus, d model.Distribution) {
	if e.cfg.Alerts == nil {
		return
	}
	args, ok := alerts.For(ch, prev, d)
	if !ok {
		return
	}
	ictx, cancel := dbCtx(ctx)
	defer cancel()
	_, err := e.river.Insert(ictx, args, nil)
	e.alertFailed(args, err)
}
