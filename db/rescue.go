package db

// Rescue of stuck channels: finding non-terminal channels with no live job for their generation
// and, under the parent lock, re-driving them or failing them as lost.
// The lock order, generation fence and enqueue-in-the-same-transaction rules of distributions.go
// hold here.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/internal/model"
)

// StuckChannel identifies a non-terminal channel that has no live job.
type StuckChannel struct {
	ID         int64
	Generation int
}

// Rescue actions.
const (
	RescueNone     = ""         // nothing to do any more (fixed meanwhile)
	RescueRedriven = "redriven" // new generation, new job
	RescueFailed   = "failed"   // lost too often: FAILED "worker lost"
)

// RescueResult is the outcome of RescueChannel.
type RescueResult struct {
	Action       string
	Channel      model.ChannelState
	Distribution model.Distribution
	Previous     model.OverallStatus
}

// FindStuckChannels lists non-terminal channels untouched for olderThan (by the database clock)
// that have no live job for their current generation: work nobody will ever finish.
func (db *DB) FindStuckChannels(ctx context.Context, olderThan time.Duration, limit int) ([]StuckChannel, error) {
	rows, err := db.Pool.Query(ctx, `SELECT cs.id, cs.generation FROM channel_status cs
		WHERE cs.status IN ('PENDING', 'IN_PROGRESS')
		  AND cs.update_timestamp < now() - make_interval(secs => $1)
		  AND NOT EXISTS (`+liveJobExists+`)
		ORDER BY cs.update_timestamp LIMIT $3`, olderThan.Seconds(), PublishJobKind, limit)
	if err != nil {
		return nil, fmt.Errorf("find stuck channels: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[StuckChannel])
	if err != nil {
		return nil, fmt.Errorf("find stuck channels: %w", err)
	}
	return out, nil
}

// liveJobExists matches a live River job of cs's current generation ($2 = job kind); it uses River's
// GIN index on args.
const liveJobExists = `SELECT 1 FROM river_job j WHERE j.kind = $2 AND j.state IN (` + liveJobStates + `)
	AND j.args @> jsonb_build_object('distribution_status_id', cs.distribution_status_id,
		'channel', cs.channel, 'generation', cs.generation)`

// RescueChannel handles one stuck channel (from FindStuckChannels) in one transaction, after
// re-checking under the parent lock that it is still stuck at generation (so several replicas
// may reconcile at once: the loser finds nothing to do). Attempts left running are marked lost (or
// a lost attempt is recorded); when the channel has now been lost maxLost times since its last
// manual retry it is FAILED "worker lost", otherwise it is re-driven: PENDING, a new generation
// and a new job with trigger "rescue".
func (db *DB) RescueChannel(ctx context.Context, id int64, generation int, olderThan time.Duration, maxLost int, enqueue EnqueueFunc) (RescueResult, error) {
	var res RescueResult
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		var distID int64
		if err := tx.QueryRow(ctx, `SELECT distribution_status_id FROM channel_status WHERE id = $1`, id).Scan(&distID); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			return fmt.Errorf("read channel: %w", err)
		}
		d, err := lockDistributionTx(ctx, tx, "d.id = $1", distID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("lock distribution: %w", err)
		}
		st, err := scanChannel(tx.QueryRow(ctx, `SELECT `+channelColumns+` FROM channel_status cs
			WHERE cs.id = $1 AND cs.generation = $3 AND cs.status IN ('PENDING', 'IN_PROGRESS')
			  AND cs.update_timestamp < now() - make_interval(secs => $4)
			  AND NOT EXISTS (`+liveJobExists+`)
			FOR UPDATE`, id, PublishJobKind, generation, olderThan.Seconds()))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // no longer stuck
		}
		if err != nil {
			return fmt.Errorf("recheck channel: %w", err)
		}
		tag, err := tx.Exec(ctx, `UPDATE channel_attempts SET outcome = 'lost', finished_at = now(),
				error = 'the worker running this attempt was lost'
			WHERE channel_status_id = $1 AND outcome = 'running'`, st.ID)
		if err != nil {
			return fmt.Errorf("mark attempts lost: %w", err)
		}
		if tag.RowsAffected() == 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO channel_attempts
					(channel_status_id, event_id, channel, attempt, generation, trigger, finished_at, outcome, error)
				SELECT $1, $2, $3, COALESCE(max(attempt), 0) + 1, $4, 'rescue', now(), 'lost',
					'the job for this channel disappeared'
				FROM channel_attempts WHERE channel_status_id = $1`, st.ID, st.EventID, string(st.Channel), st.Generation); err != nil {
				return fmt.Errorf("record lost attempt: %w", err)
			}
		}
		lost, err := lostSinceRetryTx(ctx, tx, st)
		if err != nil {
			return err
		}
		if lost >= maxLost {
			res.Action = RescueFailed
			res.Channel, res.Distribution, res.Previous, err = failWorkerLostTx(ctx, tx, st, d, lost)
			return err
		}
		res.Channel, err = scanChannel(tx.QueryRow(ctx, `UPDATE channel_status cs SET status = 'PENDING',
				progress = 0, generation = cs.generation + 1, completed_at = NULL,
				error_message = 'the worker was lost; restarted automatically',
				waiting_reason = 'queued', next_attempt_at = NULL, update_timestamp = now(), updated_at = now()
			WHERE cs.id = $1 RETURNING `+channelColumns, st.ID))
		if err != nil {
			return fmt.Errorf("re-drive channel: %w", err)
		}
		if err := enqueue(ctx, tx, []model.ChannelState{res.Channel}, "rescue"); err != nil {
			return fmt.Errorf("enqueue rescue job: %w", err)
		}
		res.Action = RescueRedriven
		if err := auditTx(ctx, tx, "system", "channel.rescue", st.EventID, string(st.Channel), "re-driven after the worker was lost"); err != nil {
			return err
		}
		res.Distribution, res.Previous, err = rollupTx(ctx, tx, d)
		return err
	})
	if err != nil {
		return RescueResult{}, fmt.Errorf("rescue channel %d: %w", id, err)
	}
	return res, nil
}

// lostSinceRetryTx counts the attempts of a channel lost since its last manual retry: the count
// the MaxLost rule compares (a retry starts the count afresh).
func lostSinceRetryTx(ctx context.Context, tx pgx.Tx, st model.ChannelState) (int, error) {
	var lost int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM channel_attempts
		WHERE channel_status_id = $1 AND outcome = 'lost' AND finished_at >= COALESCE($2, '-infinity'::timestamptz)`,
		st.ID, st.LastRetryAt).Scan(&lost); err != nil {
		return 0, fmt.Errorf("count lost attempts: %w", err)
	}
	return lost, nil
}

// failWorkerLostTx fails a channel lost lost times ("worker lost"), audits it and rolls its
// distribution d (locked by the caller) up: the end of the MaxLost rule, for the reconciler and
// the liveness rescue alike.
func failWorkerLostTx(ctx context.Context, tx pgx.Tx, st model.ChannelState, d model.Distribution, lost int) (model.ChannelState, model.Distribution, model.OverallStatus, error) {
	ch, err := scanChannel(tx.QueryRow(ctx, `UPDATE channel_status cs SET status = 'FAILED',
			error_message = $2, completed_at = now(), waiting_reason = NULL, next_attempt_at = NULL,
			update_timestamp = now(), updated_at = now()
		WHERE cs.id = $1 RETURNING `+channelColumns, st.ID,
		fmt.Sprintf("worker lost: the work on this channel was interrupted %d times; retry it when the service is stable", lost)))
	if err != nil {
		return ch, d, d.OverallStatus, fmt.Errorf("fail channel: %w", err)
	}
	if err := auditTx(ctx, tx, "system", model.AuditRescueFailed, st.EventID, string(st.Channel), "worker lost"); err != nil {
		return ch, d, d.OverallStatus, err
	}
	nd, prev, err := rollupTx(ctx, tx, d)
	return ch, nd, prev, err
}
