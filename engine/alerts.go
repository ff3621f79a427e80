package engine

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/riverqueue/river"

	"github.com/marketing-platform/distribution/alerts"
	"github.com/marketing-platform/distribution/model"
)

// Failure alerts (issue 5): when a finish commits a channel FAILED, or turns the distribution
// FAILED or PARTIAL_SUCCESS, an alert_webhook job is enqueued right after the commit (the finish
// transactions live in db and take no hook). The window between commit and enqueue is a few
// milliseconds; a crash inside it loses that one alert, never a status. The job is unique per
// (event, channel, generation, outcome), so a repeated enqueue cannot alert twice.

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

// alert enqueues the alert a committed finish calls for, if any. Failures are logged only: the
// status is already committed and must not be retried for the sake of an alert.
func (e *Engine) alert(ctx context.Context, ch model.ChannelState, prev model.OverallStatus, d model.Distribution) {
	if e.cfg.Alerts == nil {
		return
	}
	args, ok := alerts.For(ch, prev, d)
	if !ok {
		return
	}
	ictx, cancel := dbCtx(ctx)
	defer cancel()
	if _, err := e.river.Insert(ictx, args, nil); err != nil {
		e.log.Error("enqueue failure alert", slog.String("event_id", args.EventID),
			slog.String("channel", string(args.Channel)), slog.String("error", err.Error()))
	}
}
