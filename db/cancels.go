package db

// Cancel (DESIGN.md "Cancel"): every PENDING or IN_PROGRESS channel of a distribution, or one of
// them, becomes FAILED "cancelled by <actor>" under a new generation, its River jobs are cancelled
// in the same transaction, and the overall status rolls up. The lock order, generation fence and
// jobs-in-the-same-transaction rules of distributions.go hold here.

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/internal/model"
)

// CancelJobsFunc cancels River jobs by id inside tx (River JobCancelTx): a queued job is cancelled
// at once; a running one is marked, and on commit its process is told (LISTEN/NOTIFY, or its
// poll) to cancel the job's context, wherever it runs.
type CancelJobsFunc func(ctx context.Context, tx pgx.Tx, jobIDs []int64) error

// CancelDistribution cancels every PENDING or IN_PROGRESS channel of an event's distribution in
// one transaction and returns the distribution (rolled up) and the channels cancelled. ENOTFOUND
// when the event has no distribution; ECONFLICT (nothing written) when no channel is left to cancel.
func (db *DB) CancelDistribution(ctx context.Context, eventID, actor string, cancelJobs CancelJobsFunc) (model.Distribution, []model.ChannelState, error) {
	d, rows, err := db.cancel(ctx, eventID, "", actor, cancelJobs)
	if err != nil {
		return model.Distribution{}, nil, wrapAction("cancel distribution", err)
	}
	return d, rows, nil
}

// CancelChannel cancels one channel of an event's distribution: ENOTFOUND when there is no
// distribution or the channel is not part of it; ECONFLICT (nothing written) unless the channel is
// PENDING or IN_PROGRESS; EINVALID for an unknown channel.
func (db *DB) CancelChannel(ctx context.Context, eventID string, ch model.Channel, actor string, cancelJobs CancelJobsFunc) (model.Distribution, error) {
	if !ch.Valid() {
		return model.Distribution{}, model.Errork(model.EINVALID, "err.unknown_channel", "unknown channel %q", string(ch))
	}
	d, _, err := db.cancel(ctx, eventID, ch, actor, cancelJobs)
	if err != nil {
		return model.Distribution{}, wrapAction("cancel channel", err)
	}
	return d, nil
}

// cancel is both cancels; ch "" means every channel.
func (db *DB) cancel(ctx context.Context, eventID string, ch model.Channel, actor string, cancelJobs CancelJobsFunc) (model.Distribution, []model.ChannelState, error) {
	var (
		d    model.Distribution
		rows []model.ChannelState
	)
	msg := model.CancelMessage(actor)
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		parent, err := lockParentByEventTx(ctx, tx, eventID)
		if err != nil {
			return err
		}
		// The new generation fences the running job out: its progress and its late failure write
		// nothing (FinishChannel lets only a success through, see there).
		rows, err = collectChannelStates(tx.Query(ctx, `WITH upd AS (
				UPDATE channel_status cs SET status = 'FAILED', generation = cs.generation + 1,
					error_message = $3, completed_at = now(), waiting_reason = NULL, next_attempt_at = NULL,
					update_timestamp = now(), updated_at = now()
				WHERE cs.distribution_status_id = $1 AND ($2 = '' OR cs.channel = $2)
				  AND cs.status IN ('PENDING', 'IN_PROGRESS')
				RETURNING cs.*)
			SELECT `+channelColumns+` FROM upd cs ORDER BY `+channelOrder, parent.ID, string(ch), msg))
		if err != nil {
			return fmt.Errorf("cancel channels: %w", err)
		}
		if len(rows) == 0 {
			if ch == "" {
				return model.Errork(model.ECONFLICT, "action.nothing_to_cancel", "nothing left to cancel: no channel of this distribution is PENDING or IN_PROGRESS")
			}
			var status string
			err := tx.QueryRow(ctx, `SELECT status FROM channel_status WHERE distribution_status_id = $1 AND channel = $2`,
				parent.ID, string(ch)).Scan(&status)
			if errors.Is(err, pgx.ErrNoRows) {
				return model.Errork(model.ENOTFOUND, "err.not_in_distribution", "%s is not part of this distribution", ch)
			}
			if err != nil {
				return fmt.Errorf("read channel: %w", err)
			}
			return model.Errork(model.ECONFLICT, "action.not_cancellable", "%s is %s; only PENDING or IN_PROGRESS channels can be cancelled", ch, model.ChannelStatus(status))
		}
		ids := make([]int64, len(rows))
		names := make([]string, len(rows))
		oldGens := make([]int, len(rows))
		for i, r := range rows {
			ids[i], names[i], oldGens[i] = r.ID, string(r.Channel), r.Generation-1
		}
		// Live jobs of the generations just fenced out.
		jrows, err := tx.Query(ctx, `SELECT j.id FROM river_job j, unnest($3::text[], $4::int[]) AS c(channel, generation)
			WHERE j.kind = $1 AND j.state IN (`+liveJobStates+`)
			  AND j.args @> jsonb_build_object('distribution_status_id', $2::bigint, 'channel', c.channel, 'generation', c.generation)
			ORDER BY j.id`, PublishJobKind, parent.ID, names, oldGens)
		if err != nil {
			return fmt.Errorf("find jobs: %w", err)
		}
		jobIDs, err := pgx.CollectRows(jrows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("find jobs: %w", err)
		}
		if len(jobIDs) > 0 {
			if err := cancelJobs(ctx, tx, jobIDs); err != nil {
				return fmt.Errorf("cancel jobs: %w", err)
			}
		}
		// The attempt history says who cancelled: the running attempt is closed as cancelled, and a
		// channel with none running gets a cancelled row of its own.
		if _, err := tx.Exec(ctx, `WITH closed AS (
				UPDATE channel_attempts SET outcome = 'cancelled', finished_at = now(), error = $2
				WHERE channel_status_id = ANY($1) AND outcome = 'running' RETURNING channel_status_id)
			INSERT INTO channel_attempts (channel_status_id, event_id, channel, attempt, generation, trigger,
					started_at, finished_at, outcome, error)
			SELECT cs.id, cs.event_id, cs.channel,
				(SELECT COALESCE(max(a.attempt), 0) + 1 FROM channel_attempts a WHERE a.channel_status_id = cs.id),
				cs.generation - 1, $3, now(), now(), 'cancelled', $2
			FROM channel_status cs WHERE cs.id = ANY($1) AND cs.id NOT IN (SELECT channel_status_id FROM closed)`,
			ids, msg, "cancel:"+actor); err != nil {
			return fmt.Errorf("record cancel attempts: %w", err)
		}
		detail := "cancel channel"
		if ch == "" {
			detail = "cancel distribution"
		}
		for _, r := range rows {
			if err := auditTx(ctx, tx, actor, "channel.cancel", eventID, string(r.Channel), detail); err != nil {
				return err
			}
		}
		d, _, err = rollupTx(ctx, tx, parent)
		return err
	})
	if err != nil {
		return model.Distribution{}, nil, err
	}
	return d, rows, nil
}
