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
	// Progress is the attempt's latest reported progress, written with the finish: the worker
	// coalesces its progress writes, so the last one may not be written yet. It raises the row's
	// progress, never lowers it; a SUCCESS is 100 anyway.
	Progress int
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

// claimSQL is ClaimChannel in one statement (no transaction round trips): the fenced mark
// IN_PROGRESS, attempts left "running" by a vanished worker marked lost, the new attempt row and
// the event to publish. Every part hangs off the claimed row, so a stale job (no row) writes
// nothing. The statement's parts share one snapshot: the new attempt's number counts the attempts
// committed before the statement began. River runs one job per generation at a time, so that is
// every earlier attempt; should two claims of one generation ever race (the second waits on the
// row lock of the first), the second may repeat the first's attempt number and leave its attempt
// "running" until that worker closes it, as each worker closes its own attempt row.
var claimSQL = `WITH cs AS (UPDATE channel_status cs
		SET status = 'IN_PROGRESS', waiting_reason = NULL, next_attempt_at = NULL,
			update_timestamp = now(), updated_at = now()
		WHERE cs.distribution_status_id = $1 AND cs.channel = $2 AND cs.generation = $3
		  AND cs.status IN ('PENDING', 'IN_PROGRESS')
		RETURNING cs.*),
	lost AS (UPDATE channel_attempts a SET outcome = 'lost', finished_at = now(),
			error = 'the worker running this attempt was lost'
		FROM cs WHERE a.channel_status_id = cs.id AND a.outcome = 'running'),
	attempt AS (INSERT INTO channel_attempts (channel_status_id, event_id, channel, attempt, generation, trigger)
		SELECT cs.id, cs.event_id, cs.channel,
			COALESCE((SELECT max(p.attempt) FROM channel_attempts p WHERE p.channel_status_id = cs.id), 0) + 1, $3, $4
		FROM cs
		RETURNING id, attempt)
	SELECT ` + channelColumns + `, attempt.id, attempt.attempt,
		e.title, e.description, e.image_url, e.store_name, e.created_at, e.store_id
	FROM cs CROSS JOIN attempt LEFT JOIN events e ON e.id = cs.event_id`

// ClaimChannel starts one attempt of a job: when the channel row still carries generation and is
// not terminal, it is marked IN_PROGRESS, attempts left "running" by a vanished worker are marked
// lost, and a new attempt row is written, in one statement (claimSQL). ok is false for a stale
// job (nothing written). The claim is the attempt's first status write: the worker's progress
// writes follow it at most one per progressEvery (internal/engine).
func (db *DB) ClaimChannel(ctx context.Context, distID int64, ch model.Channel, generation int, trigger string) (run ChannelRun, ok bool, err error) {
	var (
		cd                        channelDest
		title, desc, image, store *string // NULL when the event is gone: publish what is known
		created                   *time.Time
		storeID                   *string
	)
	dest := append(cd.targets(), &run.AttemptID, &run.Attempt, &title, &desc, &image, &store, &created, &storeID)
	err = db.Pool.QueryRow(ctx, claimSQL, distID, string(ch), generation, trigger).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return ChannelRun{}, false, nil
	}
	if err != nil {
		return ChannelRun{}, false, fmt.Errorf("claim channel %s: %w", ch, err)
	}
	run.State = cd.state()
	run.Event = model.Event{ID: run.State.EventID, Title: deref(title), Description: deref(desc),
		ImageURL: deref(image), StoreName: deref(store), StoreID: deref(storeID)}
	if created != nil {
		run.Event.CreatedAt = *created
	}
	return run, true, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
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

// publishedBeforeCancel lets a success through the fence of a cancel (DESIGN.md "Cancel"): the
// channel was cancelled (FAILED, generation bumped once) while this very attempt ($12, of
// generation $2) was running, and the attempt published anyway. The post exists, so the channel
// ends SUCCESS with it rather than FAILED with a post nobody can see. A retry after the cancel
// (PENDING, or a later generation) closes this door. The attempt row a cancel closed keeps saying
// so (and who) unless it published: then it is a success, and its error says the cancel came
// too late (finishSQL's attempt step).
const publishedBeforeCancel = `($3::text = 'SUCCESS' AND cs.status = 'FAILED' AND cs.generation = $2 + 1
	AND EXISTS (SELECT 1 FROM channel_attempts a WHERE a.id = $12 AND a.channel_status_id = cs.id
		AND a.generation = $2 AND a.outcome = 'cancelled'))`

// finishSQL is the write of FinishChannel in one statement: the fenced update of the channel row
// ("mine" row when it matched, none when the finish is stale), the attempt row closed (stale or
// not: the history keeps every attempt), and, when $16, the distribution's other channels as
// committed (for the rollup; the caller holds the parent lock, so no other finisher is between
// this statement's snapshot and its commit).
var finishSQL = `WITH cs AS (UPDATE channel_status cs SET
		status = $3::text,
		progress = CASE WHEN $3::text = 'SUCCESS' THEN 100
		                WHEN $11::int > COALESCE(cs.progress, 0) THEN $11::int ELSE cs.progress END,
		distribution_id = CASE WHEN $3::text = 'SUCCESS' THEN NULLIF($4, '') ELSE cs.distribution_id END,
		post_id = CASE WHEN $3::text = 'SUCCESS' THEN NULLIF($5, '') ELSE cs.post_id END,
		post_url = CASE WHEN $3::text = 'SUCCESS' THEN NULLIF($6, '') ELSE cs.post_url END,
		message_id = CASE WHEN $3::text = 'SUCCESS' THEN NULLIF($7, '') ELSE cs.message_id END,
		estimated_views = CASE WHEN $3::text = 'SUCCESS' THEN $8 ELSE cs.estimated_views END,
		impression_schedule = CASE WHEN $3::text = 'SUCCESS' THEN NULLIF($9, '') ELSE cs.impression_schedule END,
		error_message = NULLIF($10, ''),
		completed_at = CASE WHEN $3::text IN ('SUCCESS', 'FAILED') THEN now() ELSE NULL END,
		waiting_reason = NULLIF($18, ''),
		next_attempt_at = CASE WHEN $19::timestamptz IS NOT NULL THEN $19::timestamptz
			WHEN $20::bigint > 0 THEN now() + $20::bigint * interval '1 microsecond' END,
		update_timestamp = now(), updated_at = now()
	WHERE cs.id = $1 AND (cs.generation = $2 AND cs.status IN ('PENDING', 'IN_PROGRESS')
		OR ` + publishedBeforeCancel + `)
	RETURNING cs.*),
	attempt AS (UPDATE channel_attempts SET outcome = $13, finished_at = now(),
			error = CASE WHEN outcome = 'cancelled' THEN error || '; the post was already published'
				ELSE NULLIF($14, '') END,
			http_status = NULLIF($15, 0)
		WHERE id = $12 AND (outcome <> 'cancelled' OR $13 = 'success'))
	SELECT true, ` + channelColumns + ` FROM cs
	UNION ALL
	SELECT false, ` + channelColumns + ` FROM channel_status cs
	WHERE $16 AND cs.distribution_status_id = $17 AND cs.id <> $1`

// FinishChannel records an attempt's outcome in one transaction: fenced update of the channel
// row and attempt row closed (finishSQL) and, for a terminal status (SUCCESS, FAILED), the parent
// locked first (sent with finishSQL, one round trip) and the overall status recomputed. A non-terminal finish (the job runs again)
// changes no terminal state, so it takes no parent lock and leaves the rollup alone (its result
// has no Distribution).
func (db *DB) FinishChannel(ctx context.Context, f ChannelFinish) (ChannelFinishResult, error) {
	var res ChannelFinishResult
	terminal := f.Status.Terminal()
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		var r ChannelResult
		if f.Result != nil {
			r = *f.Result
		}
		// The parent lock (terminal only) and the channel write go in one round trip: the server
		// runs them in order, so the write's snapshot is taken with the lock held.
		b := &pgx.Batch{}
		if terminal {
			b.Queue(`SELECT `+distributionColumns+` FROM distribution_status d WHERE d.id = $1 FOR UPDATE`, f.DistributionStatusID)
		}
		b.Queue(finishSQL,
			f.ChannelStatusID, f.Generation, string(f.Status), r.DistributionID, r.PostID, r.PostURL,
			r.MessageID, r.EstimatedViews, r.ImpressionSchedule, f.ErrorMessage, max(0, min(f.Progress, 100)),
			f.AttemptID, f.Outcome, f.AttemptError, f.HTTPStatus, terminal, f.DistributionStatusID,
			string(f.WaitingReason), f.NextAttemptAt, f.NextAttemptIn.Microseconds())
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		var (
			d      model.Distribution
			gone   bool
			mine   bool
			cd     channelDest
			chans  []model.ChannelState
			stale  = true
			target = append([]any{&mine}, cd.targets()...)
		)
		if terminal {
			var err error
			d, err = scanDistribution(br.QueryRow())
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				gone = true // the distribution is gone (its channels with it: the write matches nothing)
			case err != nil:
				return fmt.Errorf("lock distribution: %w", err)
			}
		}
		rows, err := br.Query()
		if err == nil {
			_, err = pgx.ForEachRow(rows, target, func() error {
				st := cd.state()
				if mine {
					res.Channel, stale = st, false
				}
				chans = append(chans, st)
				return nil
			})
		}
		if err != nil {
			return fmt.Errorf("update channel: %w", err)
		}
		if err := br.Close(); err != nil {
			return fmt.Errorf("update channel: %w", err)
		}
		if stale || gone {
			res = ChannelFinishResult{Stale: true}
			return nil
		}
		if terminal {
			sortChannels(chans)
			if res.Distribution, res.Previous, err = applyRollupTx(ctx, tx, d, chans); err != nil {
				return err
			}
		}
		if f.OnFinish == nil {
			return nil
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

// RateLimitSnoozes counts the attempts of a channel's generation that a rate limit (429) snoozed:
// the engine's budget of such snoozes per job (one job per generation), kept apart from the
// breaker's pauses, which write no attempt.
func (db *DB) RateLimitSnoozes(ctx context.Context, channelStatusID int64, generation int) (int, error) {
	var n int
	err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM channel_attempts
		WHERE channel_status_id = $1 AND generation = $2 AND outcome = 'snoozed'`, channelStatusID, generation).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count rate-limit snoozes: %w", err)
	}
	return n, nil
}
