package db

// The worker side of the engine: River job kind and enqueueing, claiming a channel for one
// attempt, progress, and recording the attempt's outcome with the rollup.
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

// PublishJobKind is the River job kind of "publish one channel". Its args are a JSON object with
// at least distribution_status_id, event_id, channel and generation; the reconciler matches live
// jobs on (distribution_status_id, channel, generation).
const PublishJobKind = "publish_channel"

// liveJobStates are the River job states in which a job will still run (or is running).
const liveJobStates = `'available', 'running', 'retryable', 'scheduled', 'pending'`

// EnqueueFunc inserts one publish job per row inside tx (River InsertManyTx). trigger says what
// caused the work ("system", "retry:<actor>", "bulk-retry:<actor>", "rescue").
type EnqueueFunc func(ctx context.Context, tx pgx.Tx, rows []model.ChannelState, trigger string) error

// ChannelRun is a channel claimed by a worker for one attempt.
type ChannelRun struct {
	State     model.ChannelState // after marking IN_PROGRESS
	Event     model.Event        // what to publish (Distribution not filled)
	AttemptID int64
	Attempt   int // attempt number in the channel's history (1, 2, ...)
}

// ChannelResult is what a successful publication produced. Empty strings are stored as NULL.
type ChannelResult struct {
	DistributionID     string
	PostID             string
	PostURL            string
	MessageID          string
	EstimatedViews     int
	ImpressionSchedule string // JSON text of the slots; "" = none
}

// ChannelFinish records the outcome of one attempt.
type ChannelFinish struct {
	ChannelStatusID      int64
	DistributionStatusID int64
	Generation           int
	AttemptID            int64 // 0 = no attempt row to close
	// Status is the channel's new status: SUCCESS or FAILED (terminal), or IN_PROGRESS when the
	// attempt failed but the job will run again (retry, snooze, shutdown).
	Status       model.ChannelStatus
	Outcome      string         // attempt outcome (model.Outcome*)
	Result       *ChannelResult // SUCCESS only
	ErrorMessage string         // channel error_message; "" clears it
	AttemptError string         // attempt history error; "" = NULL
	HTTPStatus   int            // 0 = NULL
	// WaitingReason is why the channel waits after this finish ("" = NULL; terminal finishes
	// leave it empty), and the next run is at NextAttemptAt, or NextAttemptIn after the database's
	// now() when NextAttemptAt is nil (both unset = NULL).
	WaitingReason model.WaitingReason
	NextAttemptAt *time.Time
	NextAttemptIn time.Duration
	// OnFinish, when set, runs inside the finish transaction after the rollup (not for a stale
	// finish): what must commit with the new status, such as the failure alert's job.
	OnFinish func(ctx context.Context, tx pgx.Tx, res ChannelFinishResult) error
}

// ChannelFinishResult is the state after FinishChannel.
type ChannelFinishResult struct {
	// Stale is true when the channel row no longer belongs to the attempt's generation (or is
	// already terminal): nothing but the attempt row was written.
	Stale        bool
	Channel      model.ChannelState
	Distribution model.Distribution // with all channels, after the rollup
	Previous     model.OverallStatus
}

// ClaimChannel starts one attempt of a job: when the channel row still carries generation and is
// not terminal, it is marked IN_PROGRESS, attempts left "running" by a vanished worker are marked
// lost, and a new attempt row is written. ok is false for a stale job (nothing written).
func (db *DB) ClaimChannel(ctx context.Context, distID int64, ch model.Channel, generation int, trigger string) (run ChannelRun, ok bool, err error) {
	err = pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		st, err := scanChannel(tx.QueryRow(ctx, `UPDATE channel_status cs
			SET status = 'IN_PROGRESS', waiting_reason = NULL, next_attempt_at = NULL,
				update_timestamp = now(), updated_at = now()
			WHERE cs.distribution_status_id = $1 AND cs.channel = $2 AND cs.generation = $3
			  AND cs.status IN ('PENDING', 'IN_PROGRESS')
			RETURNING `+channelColumns, distID, string(ch), generation))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("mark in progress: %w", err)
		}
		ok = true
		run.State = st
		if _, err := tx.Exec(ctx, `UPDATE channel_attempts SET outcome = 'lost', finished_at = now(),
				error = 'the worker running this attempt was lost'
			WHERE channel_status_id = $1 AND outcome = 'running'`, st.ID); err != nil {
			return fmt.Errorf("close abandoned attempts: %w", err)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO channel_attempts
				(channel_status_id, event_id, channel, attempt, generation, trigger)
			SELECT $1, $2, $3, COALESCE(max(attempt), 0) + 1, $4, $5
			FROM channel_attempts WHERE channel_status_id = $1
			RETURNING id, attempt`, st.ID, st.EventID, string(ch), generation, trigger).Scan(&run.AttemptID, &run.Attempt); err != nil {
			return fmt.Errorf("insert attempt: %w", err)
		}
		run.Event.ID = st.EventID
		err = tx.QueryRow(ctx, `SELECT title, description, image_url, store_name, created_at FROM events WHERE id = $1`,
			st.EventID).Scan(&run.Event.Title, &run.Event.Description, &run.Event.ImageURL, &run.Event.StoreName, &run.Event.CreatedAt)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("read event: %w", err)
		}
		return nil
	})
	if err != nil {
		return ChannelRun{}, false, fmt.Errorf("claim channel %s: %w", ch, err)
	}
	return run, ok, nil
}

// UpdateChannelProgress raises a channel's progress to pct (never lowers it) when the row still
// carries generation and is IN_PROGRESS. ok is false when nothing changed.
func (db *DB) UpdateChannelProgress(ctx context.Context, channelStatusID int64, generation, pct int) (model.ChannelState, bool, error) {
	pct = max(0, min(pct, 100))
	st, err := scanChannel(db.Pool.QueryRow(ctx, `UPDATE channel_status cs
		SET progress = GREATEST(COALESCE(cs.progress, 0), $3), update_timestamp = now(), updated_at = now()
		WHERE cs.id = $1 AND cs.generation = $2 AND cs.status = 'IN_PROGRESS' AND COALESCE(cs.progress, 0) < $3
		RETURNING `+channelColumns, channelStatusID, generation, pct))
	if errors.Is(err, pgx.ErrNoRows) {
		return model.ChannelState{}, false, nil
	}
	if err != nil {
		return model.ChannelState{}, false, fmt.Errorf("update progress: %w", err)
	}
	return st, true, nil
}

// FinishChannel records an attempt's outcome in one transaction: parent locked first, fenced
// update of the channel row, attempt row closed, overall status recomputed.
func (db *DB) FinishChannel(ctx context.Context, f ChannelFinish) (ChannelFinishResult, error) {
	var res ChannelFinishResult
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		d, err := lockDistributionTx(ctx, tx, "d.id = $1", f.DistributionStatusID)
		if errors.Is(err, pgx.ErrNoRows) {
			res.Stale = true // the distribution is gone
			return nil
		}
		if err != nil {
			return fmt.Errorf("lock distribution: %w", err)
		}
		var r ChannelResult
		if f.Result != nil {
			r = *f.Result
		}
		st, err := scanChannel(tx.QueryRow(ctx, `UPDATE channel_status cs SET
				status = $3::text,
				progress = CASE WHEN $3::text = 'SUCCESS' THEN 100 ELSE cs.progress END,
				distribution_id = CASE WHEN $3::text = 'SUCCESS' THEN NULLIF($4, '') ELSE cs.distribution_id END,
				post_id = CASE WHEN $3::text = 'SUCCESS' THEN NULLIF($5, '') ELSE cs.post_id END,
				post_url = CASE WHEN $3::text = 'SUCCESS' THEN NULLIF($6, '') ELSE cs.post_url END,
				message_id = CASE WHEN $3::text = 'SUCCESS' THEN NULLIF($7, '') ELSE cs.message_id END,
				estimated_views = CASE WHEN $3::text = 'SUCCESS' THEN $8 ELSE cs.estimated_views END,
				impression_schedule = CASE WHEN $3::text = 'SUCCESS' THEN NULLIF($9, '') ELSE cs.impression_schedule END,
				error_message = NULLIF($10, ''),
				completed_at = CASE WHEN $3::text IN ('SUCCESS', 'FAILED') THEN now() ELSE NULL END,
				waiting_reason = NULLIF($11, ''),
				next_attempt_at = CASE WHEN $12::timestamptz IS NOT NULL THEN $12::timestamptz
					WHEN $13::bigint > 0 THEN now() + $13::bigint * interval '1 microsecond' END,
				update_timestamp = now(), updated_at = now()
			WHERE cs.id = $1 AND cs.generation = $2 AND cs.status IN ('PENDING', 'IN_PROGRESS')
			RETURNING `+channelColumns,
			f.ChannelStatusID, f.Generation, string(f.Status), r.DistributionID, r.PostID, r.PostURL,
			r.MessageID, r.EstimatedViews, r.ImpressionSchedule, f.ErrorMessage,
			string(f.WaitingReason), f.NextAttemptAt, f.NextAttemptIn.Microseconds()))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			res.Stale = true
		case err != nil:
			return fmt.Errorf("update channel: %w", err)
		}
		if f.AttemptID != 0 {
			if _, err := tx.Exec(ctx, `UPDATE channel_attempts SET outcome = $2, finished_at = now(),
					error = NULLIF($3, ''), http_status = NULLIF($4, 0)
				WHERE id = $1`, f.AttemptID, f.Outcome, f.AttemptError, f.HTTPStatus); err != nil {
				return fmt.Errorf("close attempt: %w", err)
			}
		}
		if res.Stale {
			return nil
		}
		res.Channel = st
		if res.Distribution, res.Previous, err = rollupTx(ctx, tx, d); err != nil || f.OnFinish == nil {
			return err
		}
		return f.OnFinish(ctx, tx, res)
	})
	if err != nil {
		return ChannelFinishResult{}, fmt.Errorf("finish channel: %w", err)
	}
	return res, nil
}

// PauseChannel records that a job waits without running (the channel's circuit breaker is open):
// reason and until on the row, when it still carries generation and is not terminal; the status is
// left as it is (a fresh job's channel stays PENDING) and no attempt is written. A row that already
// says so is left alone (changed false: a waiting job checks again every few seconds). ok is false
// for a stale job (nothing written).
func (db *DB) PauseChannel(ctx context.Context, distID int64, ch model.Channel, generation int, reason model.WaitingReason, until time.Time) (st model.ChannelState, changed, ok bool, err error) {
	st, err = scanChannel(db.Pool.QueryRow(ctx, `UPDATE channel_status cs
		SET waiting_reason = $4, next_attempt_at = $5, update_timestamp = now(), updated_at = now()
		WHERE cs.distribution_status_id = $1 AND cs.channel = $2 AND cs.generation = $3
		  AND cs.status IN ('PENDING', 'IN_PROGRESS')
		  AND (cs.waiting_reason IS DISTINCT FROM $4 OR cs.next_attempt_at IS DISTINCT FROM $5)
		RETURNING `+channelColumns, distID, string(ch), generation, string(reason), until))
	switch {
	case err == nil:
		return st, true, true, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return model.ChannelState{}, false, false, fmt.Errorf("pause channel %s: %w", ch, err)
	}
	err = db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM channel_status WHERE distribution_status_id = $1
		AND channel = $2 AND generation = $3 AND status IN ('PENDING', 'IN_PROGRESS'))`, distID, string(ch), generation).Scan(&ok)
	if err != nil {
		return model.ChannelState{}, false, false, fmt.Errorf("pause channel %s: %w", ch, err)
	}
	return model.ChannelState{}, false, ok, nil
}

// WakePausedJobs makes the waiting publish jobs of ch runnable now: River jobs not yet due whose
// channel row (same distribution and generation) waits with reason. A long snooze leaves a job
// 'scheduled', a short one (under River's scheduler interval, 5 s) 'available' with a future
// scheduled_at; both become available now. It returns how many were woken. This is the
// transition River's own JobRetry makes, done in one statement so a job that has meanwhile run
// is never touched.
func (db *DB) WakePausedJobs(ctx context.Context, ch model.Channel, reason model.WaitingReason) (int, error) {
	tag, err := db.Pool.Exec(ctx, `UPDATE river_job j SET state = 'available', scheduled_at = now()
		FROM channel_status cs
		WHERE j.kind = $1 AND j.args->>'channel' = $2
		  AND (j.state = 'scheduled' OR (j.state = 'available' AND j.scheduled_at > now()))
		  AND cs.distribution_status_id = (j.args->>'distribution_status_id')::bigint
		  AND cs.channel = $2 AND cs.generation = (j.args->>'generation')::int
		  AND cs.waiting_reason = $3 AND cs.status IN ('PENDING', 'IN_PROGRESS')`,
		PublishJobKind, string(ch), string(reason))
	if err != nil {
		return 0, fmt.Errorf("wake paused %s jobs: %w", ch, err)
	}
	return int(tag.RowsAffected()), nil
}
