package db

// The SQL of the distribution engine and of the start / retry actions (DESIGN.md "Distribution
// engine"). Three rules hold everywhere in this file:
//   - Lock order is parent first: distribution_status FOR UPDATE, then its channel_status rows.
//     Every transaction that changes a channel's terminal state or recomputes the rollup takes the
//     parent lock first, so six channels finishing at once serialise (RELIABILITY W4) and no two
//     transactions wait on each other in opposite orders.
//   - channel_status.generation is the write fence: a worker writes only while the row still
//     carries the generation of its job (RELIABILITY W3). Manual retries and rescues bump it.
//   - Jobs are enqueued inside the same transaction as the rows they drive (EnqueueFunc), so a
//     channel row and its job commit together or not at all.

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

// RetryFilter selects FAILED channels for a bulk retry. Zero fields do not filter. From/To bound
// the time the channel failed (completed_at), From inclusive, To exclusive.
type RetryFilter struct {
	Channel model.Channel
	From    time.Time
	To      time.Time
}

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

// The channel and distribution row mapping is shared with the read side (distributions.go:
// channelColumns/scanChannel, distributionColumns/scanDistribution).

func engCollectChannels(rows pgx.Rows, err error) ([]model.ChannelState, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, collectChannel)
}


// engLoadChannelsTx reads every channel of one distribution in display order.
func engLoadChannelsTx(ctx context.Context, tx pgx.Tx, distID int64) ([]model.ChannelState, error) {
	return engCollectChannels(tx.Query(ctx, `SELECT `+channelColumns+` FROM channel_status cs
		WHERE cs.distribution_status_id = $1 ORDER BY `+channelOrder, distID))
}

// engLockDistributionTx locks the parent row (the first lock of every rollup transaction).
func engLockDistributionTx(ctx context.Context, tx pgx.Tx, where string, arg any) (model.Distribution, error) {
	return scanDistribution(tx.QueryRow(ctx, `SELECT `+distributionColumns+` FROM distribution_status d
		WHERE `+where+` FOR UPDATE`, arg))
}

// engRollupTx recomputes overall_status from all channels of d (whose row the caller has locked)
// and stores it when it changed: completed_at is set when the distribution becomes terminal and
// cleared when it is IN_PROGRESS again. It returns d with its channels and the previous status.
func engRollupTx(ctx context.Context, tx pgx.Tx, d model.Distribution) (model.Distribution, model.OverallStatus, error) {
	prev := d.OverallStatus
	chans, err := engLoadChannelsTx(ctx, tx, d.ID)
	if err != nil {
		return d, prev, fmt.Errorf("load channels: %w", err)
	}
	statuses := make([]model.ChannelStatus, len(chans))
	for i, c := range chans {
		statuses[i] = c.Status
	}
	next := model.Rollup(statuses)
	if next != prev {
		d, err = scanDistribution(tx.QueryRow(ctx, `UPDATE distribution_status d SET
				overall_status = $2::text,
				completed_at = CASE WHEN $2::text = 'IN_PROGRESS' THEN NULL
				                    WHEN d.overall_status = 'IN_PROGRESS' OR d.completed_at IS NULL THEN now()
				                    ELSE d.completed_at END,
				updated_at = now()
			WHERE d.id = $1 RETURNING `+distributionColumns, d.ID, string(next)))
		if err != nil {
			return d, prev, fmt.Errorf("update overall status: %w", err)
		}
	}
	d.Channels = chans
	return d, prev, nil
}

// engReopenTx sets a locked distribution back to IN_PROGRESS after a retry and returns it with
// its channels.
func engReopenTx(ctx context.Context, tx pgx.Tx, distID int64) (model.Distribution, error) {
	d, err := scanDistribution(tx.QueryRow(ctx, `UPDATE distribution_status d
		SET overall_status = 'IN_PROGRESS', completed_at = NULL, updated_at = now()
		WHERE d.id = $1 RETURNING `+distributionColumns, distID))
	if err != nil {
		return d, fmt.Errorf("reopen distribution: %w", err)
	}
	if d.Channels, err = engLoadChannelsTx(ctx, tx, distID); err != nil {
		return d, fmt.Errorf("load channels: %w", err)
	}
	return d, nil
}

func engAuditTx(ctx context.Context, tx pgx.Tx, actor, action, eventID, channel, detail string) error {
	_, err := tx.Exec(ctx, `INSERT INTO audit_log (actor, action, event_id, channel, detail)
		VALUES ($1, $2, NULLIF($3, ''), NULLIF($4, ''), $5)`, actor, action, eventID, channel, detail)
	if err != nil {
		return fmt.Errorf("write audit log: %w", err)
	}
	return nil
}

// engEventNotFound is the error for an unknown (or malformed) event id.
func engEventNotFound(eventID string) error {
	return model.Errorf(model.ENOTFOUND, "event %q not found", model.Truncate(eventID, 40))
}

// StartDistribution creates the distribution of an event to chans in one transaction: the
// distribution row (IN_PROGRESS), one PENDING channel row per channel (generation 1), their jobs
// (enqueue) and an audit row. A second start of the same event returns *model.AlreadyStartedError with
// the existing distribution and writes nothing; concurrent starts serialise on the unique
// event_id, so exactly one wins.
func (db *DB) StartDistribution(ctx context.Context, eventID string, chans []model.Channel, actor string, enqueue EnqueueFunc) (model.Distribution, error) {
	r := db.StartDistributions(ctx, []StartRequest{{EventID: eventID, Channels: chans, Actor: actor}}, enqueue)[0]
	return r.Distribution, r.Err
}

// StartRequest is one start of StartDistributions.
type StartRequest struct {
	EventID  string
	Channels []model.Channel
	Actor    string
}

// StartResult is the outcome of one StartRequest: the new distribution, or Err as
// StartDistribution returns it.
type StartResult struct {
	Distribution model.Distribution
	Err          error
}

// startSQL is one start in one statement: the event is locked against deletion, the distribution
// inserted unless the event has one (ON CONFLICT DO NOTHING waits for a concurrent inserter to
// commit, then yields no row), its channels and the audit row with it. No row: not started.
var startSQL = `WITH ev AS (SELECT id FROM events WHERE id = $1 FOR SHARE),
	d AS (INSERT INTO distribution_status (event_id, overall_status, started_at)
		SELECT id, 'IN_PROGRESS', now() FROM ev ON CONFLICT (event_id) DO NOTHING RETURNING *),
	cs AS (INSERT INTO channel_status (distribution_status_id, channel, status, progress, event_id,
			retries, generation, update_timestamp)
		SELECT d.id, ch, 'PENDING', 0, d.event_id, 0, 1, now() FROM d, unnest($2::text[]) AS ch
		RETURNING *),
	audit AS (INSERT INTO audit_log (actor, action, event_id, detail)
		SELECT $3, 'distribution.start', d.event_id, $4 FROM d)
	SELECT ` + distributionColumns + `, ` + channelColumns + ` FROM d, cs ORDER BY ` + channelOrder

// StartDistributions runs several starts in one transaction, each as StartDistribution would (a
// group commit: one round trip for every start's rows, one insert of all their jobs, one commit).
// The starts are independent: when the shared transaction fails, each is run again on its own,
// so one start's trouble is never another's.
func (db *DB) StartDistributions(ctx context.Context, reqs []StartRequest, enqueue EnqueueFunc) []StartResult {
	res := make([]StartResult, len(reqs))
	var todo []int
	names := make([][]string, len(reqs))
	for i, r := range reqs {
		if !model.ValidEventID(r.EventID) {
			res[i].Err = engEventNotFound(r.EventID)
			continue
		}
		chans, err := model.ParseChannels(r.Channels)
		if err != nil {
			res[i].Err = err
			continue
		}
		for _, c := range chans {
			names[i] = append(names[i], string(c))
		}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return res
	}
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, i := range todo {
			b.Queue(startSQL, reqs[i].EventID, names[i], reqs[i].Actor, fmt.Sprintf("channels: %v", names[i]))
		}
		br := tx.SendBatch(ctx, b)
		for _, i := range todo {
			d := &res[i].Distribution
			*d = model.Distribution{}
			var cd channelDest
			rows, err := br.Query()
			if err == nil {
				_, err = pgx.ForEachRow(rows, append(distributionDest(d), cd.targets()...), func() error {
					d.Channels = append(d.Channels, cd.state())
					return nil
				})
			}
			if err != nil {
				br.Close()
				return fmt.Errorf("insert distribution: %w", err)
			}
		}
		if err := br.Close(); err != nil {
			return fmt.Errorf("insert distribution: %w", err)
		}
		var jobs []model.ChannelState
		for _, i := range todo {
			if len(res[i].Distribution.Channels) > 0 {
				jobs = append(jobs, res[i].Distribution.Channels...)
				continue
			}
			res[i].Distribution = model.Distribution{}
			res[i].Err = notStarted(ctx, tx, reqs[i].EventID)
			var ae *model.AlreadyStartedError
			if !errors.As(res[i].Err, &ae) && model.ErrorCode(res[i].Err) != model.ENOTFOUND {
				return res[i].Err
			}
		}
		if len(jobs) == 0 {
			return nil
		}
		if err := enqueue(ctx, tx, jobs, "system"); err != nil {
			return fmt.Errorf("enqueue channel jobs: %w", err)
		}
		return nil
	})
	if err == nil {
		return res
	}
	if len(todo) > 1 {
		for _, i := range todo {
			res[i] = db.StartDistributions(ctx, reqs[i:i+1], enqueue)[0]
		}
		return res
	}
	res[todo[0]] = StartResult{Err: wrapStart(err)}
	return res
}

// notStarted says why a start inserted nothing: there is no such event, or it already has a
// distribution (an *model.AlreadyStartedError carrying it).
func notStarted(ctx context.Context, tx pgx.Tx, eventID string) error {
	existing, err := scanDistribution(tx.QueryRow(ctx, `SELECT `+distributionColumns+`
		FROM distribution_status d WHERE d.event_id = $1`, eventID))
	if errors.Is(err, pgx.ErrNoRows) {
		return engEventNotFound(eventID)
	}
	if err != nil {
		return fmt.Errorf("read existing distribution: %w", err)
	}
	if existing.Channels, err = engLoadChannelsTx(ctx, tx, existing.ID); err != nil {
		return fmt.Errorf("read existing channels: %w", err)
	}
	return &model.AlreadyStartedError{Distribution: existing}
}

func wrapStart(err error) error {
	var me *model.Error
	var ae *model.AlreadyStartedError
	if errors.As(err, &ae) || errors.As(err, &me) {
		return err
	}
	return fmt.Errorf("start distribution: %w", err)
}

// ClaimChannel starts one attempt of a job: when the channel row still carries generation and is
// not terminal, it is marked IN_PROGRESS, attempts left "running" by a vanished worker are marked
// lost, and a new attempt row is written. ok is false for a stale job (nothing written).
func (db *DB) ClaimChannel(ctx context.Context, distID int64, ch model.Channel, generation int, trigger string) (run ChannelRun, ok bool, err error) {
	err = pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		st, err := scanChannel(tx.QueryRow(ctx, `UPDATE channel_status cs
			SET status = 'IN_PROGRESS', update_timestamp = now(), updated_at = now()
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
		d, err := engLockDistributionTx(ctx, tx, "d.id = $1", f.DistributionStatusID)
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
				update_timestamp = now(), updated_at = now()
			WHERE cs.id = $1 AND cs.generation = $2 AND cs.status IN ('PENDING', 'IN_PROGRESS')
			RETURNING `+channelColumns,
			f.ChannelStatusID, f.Generation, string(f.Status), r.DistributionID, r.PostID, r.PostURL,
			r.MessageID, r.EstimatedViews, r.ImpressionSchedule, f.ErrorMessage))
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
		if res.Distribution, res.Previous, err = engRollupTx(ctx, tx, d); err != nil || f.OnFinish == nil {
			return err
		}
		return f.OnFinish(ctx, tx, res)
	})
	if err != nil {
		return ChannelFinishResult{}, fmt.Errorf("finish channel: %w", err)
	}
	return res, nil
}

// engRetrySet is the SET clause of every manual retry: back to PENDING under a new generation.
const engRetrySet = `status = 'PENDING', progress = 0, retries = COALESCE(cs.retries, 0) + 1,
	last_retry_at = now(), generation = cs.generation + 1, error_message = NULL, completed_at = NULL,
	update_timestamp = now(), updated_at = now()`

// RetryChannel resets one FAILED channel of an event's distribution to PENDING (new generation,
// retries+1, last_retry_at), reopens the distribution and enqueues the new job, in one
// transaction. ENOTFOUND when there is no distribution or the channel is not part of it;
// ECONFLICT (nothing written) unless the channel is FAILED.
func (db *DB) RetryChannel(ctx context.Context, eventID string, ch model.Channel, actor string, enqueue EnqueueFunc) (model.Distribution, error) {
	if !ch.Valid() {
		return model.Distribution{}, model.Errorf(model.EINVALID, "unknown channel %q", ch)
	}
	var d model.Distribution
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		parent, err := engLockParentByEventTx(ctx, tx, eventID)
		if err != nil {
			return err
		}
		rows, err := engCollectChannels(tx.Query(ctx, `UPDATE channel_status cs SET `+engRetrySet+`
			WHERE cs.distribution_status_id = $1 AND cs.channel = $2 AND cs.status = 'FAILED'
			RETURNING `+channelColumns, parent.ID, string(ch)))
		if err != nil {
			return fmt.Errorf("reset channel: %w", err)
		}
		if len(rows) == 0 {
			var status string
			err := tx.QueryRow(ctx, `SELECT status FROM channel_status WHERE distribution_status_id = $1 AND channel = $2`,
				parent.ID, string(ch)).Scan(&status)
			if errors.Is(err, pgx.ErrNoRows) {
				return model.Errorf(model.ENOTFOUND, "%s is not part of this distribution", ch)
			}
			if err != nil {
				return fmt.Errorf("read channel: %w", err)
			}
			return model.Errorf(model.ECONFLICT, "%s is %s; only FAILED channels can be retried", ch, status)
		}
		trigger := "retry:" + actor
		if err := enqueue(ctx, tx, rows, trigger); err != nil {
			return fmt.Errorf("enqueue retry job: %w", err)
		}
		if err := engAuditTx(ctx, tx, actor, "channel.retry", eventID, string(ch), ""); err != nil {
			return err
		}
		d, err = engReopenTx(ctx, tx, parent.ID)
		return err
	})
	if err != nil {
		return model.Distribution{}, engWrapAction("retry channel", err)
	}
	return d, nil
}

// RetryFailed retries every FAILED channel of an event's distribution in one transaction and
// returns the distribution and the channels retried. ECONFLICT when none is FAILED.
func (db *DB) RetryFailed(ctx context.Context, eventID, actor string, enqueue EnqueueFunc) (model.Distribution, []model.ChannelState, error) {
	var (
		d    model.Distribution
		rows []model.ChannelState
	)
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		parent, err := engLockParentByEventTx(ctx, tx, eventID)
		if err != nil {
			return err
		}
		rows, err = engCollectChannels(tx.Query(ctx, `WITH upd AS (
				UPDATE channel_status cs SET `+engRetrySet+`
				WHERE cs.distribution_status_id = $1 AND cs.status = 'FAILED' RETURNING cs.*)
			SELECT `+channelColumns+` FROM upd cs ORDER BY `+channelOrder, parent.ID))
		if err != nil {
			return fmt.Errorf("reset channels: %w", err)
		}
		if len(rows) == 0 {
			return model.Errorf(model.ECONFLICT, "no channel of this distribution is FAILED; only FAILED channels can be retried")
		}
		if err := enqueue(ctx, tx, rows, "retry:"+actor); err != nil {
			return fmt.Errorf("enqueue retry jobs: %w", err)
		}
		for _, r := range rows {
			if err := engAuditTx(ctx, tx, actor, "channel.retry", eventID, string(r.Channel), "retry failed channels"); err != nil {
				return err
			}
		}
		d, err = engReopenTx(ctx, tx, parent.ID)
		return err
	})
	if err != nil {
		return model.Distribution{}, nil, engWrapAction("retry failed channels", err)
	}
	return d, rows, nil
}

func engLockParentByEventTx(ctx context.Context, tx pgx.Tx, eventID string) (model.Distribution, error) {
	if !model.ValidEventID(eventID) {
		return model.Distribution{}, engEventNotFound(eventID)
	}
	d, err := engLockDistributionTx(ctx, tx, "d.event_id = $1", eventID)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, model.Errorf(model.ENOTFOUND, "event %q has no distribution", eventID)
	}
	if err != nil {
		return d, fmt.Errorf("lock distribution: %w", err)
	}
	return d, nil
}

func engWrapAction(what string, err error) error {
	var me *model.Error
	if errors.As(err, &me) {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// engRetryWhere is the filter of a bulk retry; $1 channel ("" = any), $2 from, $3 to (NULL = open).
const engRetryWhere = `cs.status = 'FAILED' AND ($1 = '' OR cs.channel = $1)
	AND ($2::timestamptz IS NULL OR cs.completed_at >= $2) AND ($3::timestamptz IS NULL OR cs.completed_at < $3)`

func engRetryArgs(f RetryFilter) []any {
	var from, to *time.Time
	if !f.From.IsZero() {
		from = &f.From
	}
	if !f.To.IsZero() {
		to = &f.To
	}
	return []any{string(f.Channel), from, to}
}

// CountRetryMatching counts the FAILED channels a bulk retry with f would retry (the preview).
func (db *DB) CountRetryMatching(ctx context.Context, f RetryFilter) (int, error) {
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM channel_status cs WHERE `+engRetryWhere,
		engRetryArgs(f)...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count channels to retry: %w", err)
	}
	return n, nil
}

// RetryMatchingBatch retries up to limit FAILED channels matching f whose id is above afterID, in
// one transaction (parents locked in id order, then channels reset, jobs enqueued, audit rows).
// It returns the channels retried, the distributions they reopened, and the highest id seen (the
// next call's afterID); an empty result means there is nothing more.
func (db *DB) RetryMatchingBatch(ctx context.Context, f RetryFilter, afterID int64, limit int, actor string, enqueue EnqueueFunc) ([]model.ChannelState, []model.Distribution, int64, error) {
	var (
		rows  []model.ChannelState
		dists []model.Distribution
		last  = afterID
	)
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		args := append(engRetryArgs(f), afterID, limit)
		var ids, parents []int64
		cand, err := tx.Query(ctx, `SELECT cs.id, cs.distribution_status_id FROM channel_status cs
			WHERE `+engRetryWhere+` AND cs.id > $4 ORDER BY cs.id LIMIT $5`, args...)
		if err != nil {
			return fmt.Errorf("select channels: %w", err)
		}
		type pair struct{ ID, Parent int64 }
		pairs, err := pgx.CollectRows(cand, pgx.RowToStructByPos[pair])
		if err != nil {
			return fmt.Errorf("select channels: %w", err)
		}
		if len(pairs) == 0 {
			return nil
		}
		for _, p := range pairs {
			ids = append(ids, p.ID)
			parents = append(parents, p.Parent)
			last = max(last, p.ID)
		}
		// Lock the parents first, in id order, so concurrent bulk retries cannot deadlock.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM distribution_status WHERE id = ANY($1) ORDER BY id FOR UPDATE`, parents); err != nil {
			return fmt.Errorf("lock distributions: %w", err)
		}
		rows, err = engCollectChannels(tx.Query(ctx, `UPDATE channel_status cs SET `+engRetrySet+`
			WHERE cs.id = ANY($1) AND cs.status = 'FAILED' RETURNING `+channelColumns, ids))
		if err != nil {
			return fmt.Errorf("reset channels: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		if err := enqueue(ctx, tx, rows, "bulk-retry:"+actor); err != nil {
			return fmt.Errorf("enqueue retry jobs: %w", err)
		}
		reopened := map[int64]bool{}
		for _, r := range rows {
			if err := engAuditTx(ctx, tx, actor, "channel.bulk_retry", r.EventID, string(r.Channel), "bulk retry"); err != nil {
				return err
			}
			if reopened[r.DistributionStatusID] {
				continue
			}
			reopened[r.DistributionStatusID] = true
			d, err := engReopenTx(ctx, tx, r.DistributionStatusID)
			if err != nil {
				return err
			}
			dists = append(dists, d)
		}
		return nil
	})
	if err != nil {
		return nil, nil, afterID, fmt.Errorf("bulk retry: %w", err)
	}
	return rows, dists, last, nil
}

// FindStuckChannels lists non-terminal channels untouched for olderThan (by the database clock)
// that have no live job for their current generation: work nobody will ever finish.
func (db *DB) FindStuckChannels(ctx context.Context, olderThan time.Duration, limit int) ([]StuckChannel, error) {
	rows, err := db.Pool.Query(ctx, `SELECT cs.id, cs.generation FROM channel_status cs
		WHERE cs.status IN ('PENDING', 'IN_PROGRESS')
		  AND cs.update_timestamp < now() - make_interval(secs => $1)
		  AND NOT EXISTS (`+engLiveJob+`)
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

// engLiveJob matches a live River job of cs's current generation ($2 = job kind); it uses River's
// GIN index on args.
const engLiveJob = `SELECT 1 FROM river_job j WHERE j.kind = $2 AND j.state IN (` + liveJobStates + `)
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
		d, err := engLockDistributionTx(ctx, tx, "d.id = $1", distID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("lock distribution: %w", err)
		}
		st, err := scanChannel(tx.QueryRow(ctx, `SELECT `+channelColumns+` FROM channel_status cs
			WHERE cs.id = $1 AND cs.generation = $3 AND cs.status IN ('PENDING', 'IN_PROGRESS')
			  AND cs.update_timestamp < now() - make_interval(secs => $4)
			  AND NOT EXISTS (`+engLiveJob+`)
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
		var lost int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM channel_attempts
			WHERE channel_status_id = $1 AND outcome = 'lost' AND finished_at >= COALESCE($2, '-infinity'::timestamptz)`,
			st.ID, st.LastRetryAt).Scan(&lost); err != nil {
			return fmt.Errorf("count lost attempts: %w", err)
		}
		if lost >= maxLost {
			res.Channel, err = scanChannel(tx.QueryRow(ctx, `UPDATE channel_status cs SET status = 'FAILED',
					error_message = $2, completed_at = now(), update_timestamp = now(), updated_at = now()
				WHERE cs.id = $1 RETURNING `+channelColumns, st.ID,
				fmt.Sprintf("worker lost: the work on this channel was interrupted %d times; retry it when the service is stable", lost)))
			if err != nil {
				return fmt.Errorf("fail channel: %w", err)
			}
			res.Action = RescueFailed
			if err := engAuditTx(ctx, tx, "system", "channel.rescue_failed", st.EventID, string(st.Channel), "worker lost"); err != nil {
				return err
			}
			res.Distribution, res.Previous, err = engRollupTx(ctx, tx, d)
			return err
		}
		res.Channel, err = scanChannel(tx.QueryRow(ctx, `UPDATE channel_status cs SET status = 'PENDING',
				progress = 0, generation = cs.generation + 1, completed_at = NULL,
				error_message = 'the worker was lost; restarted automatically',
				update_timestamp = now(), updated_at = now()
			WHERE cs.id = $1 RETURNING `+channelColumns, st.ID))
		if err != nil {
			return fmt.Errorf("re-drive channel: %w", err)
		}
		if err := enqueue(ctx, tx, []model.ChannelState{res.Channel}, "rescue"); err != nil {
			return fmt.Errorf("enqueue rescue job: %w", err)
		}
		res.Action = RescueRedriven
		if err := engAuditTx(ctx, tx, "system", "channel.rescue", st.EventID, string(st.Channel), "re-driven after the worker was lost"); err != nil {
			return err
		}
		res.Distribution, res.Previous, err = engRollupTx(ctx, tx, d)
		return err
	})
	if err != nil {
		return RescueResult{}, fmt.Errorf("rescue channel %d: %w", id, err)
	}
	return res, nil
}
