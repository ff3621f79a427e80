package db

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/marketing-platform/distribution/internal/model"
)

// querier is what the unexported helpers run on: *pgxpool.Pool, *pgxpool.Conn and pgx.Tx all
// satisfy it, so exported methods decide whether a helper runs inside a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// scanner is the Scan half of pgx.Row, pgx.Rows and pgx.CollectableRow.
type scanner interface {
	Scan(dest ...any) error
}

// distributionColumns is the select list scanDistribution reads; the table must be aliased d.
const distributionColumns = `d.id, d.event_id, d.overall_status, d.started_at, d.completed_at, d.created_at, d.updated_at,
	d.version`

func scanDistribution(row scanner) (model.Distribution, error) {
	var d model.Distribution
	err := row.Scan(distributionDest(&d)...)
	return d, err
}

// distributionDest are the scan targets of distributionColumns.
func distributionDest(d *model.Distribution) []any {
	return []any{&d.ID, &d.EventID, &d.OverallStatus, &d.StartedAt, &d.CompletedAt, &d.CreatedAt, &d.UpdatedAt, &d.Version}
}

// channelColumns is the select list scanChannel reads; the table must be aliased cs.
const channelColumns = `cs.id, cs.distribution_status_id, cs.event_id, cs.channel, cs.status, cs.progress,
	cs.distribution_id, cs.estimated_views, cs.impression_schedule, cs.post_url, cs.post_id, cs.message_id,
	cs.error_message, cs.retries, cs.last_retry_at, cs.completed_at, cs.update_timestamp, cs.updated_at,
	cs.generation, cs.version, cs.waiting_reason, cs.next_attempt_at, cs.measured_views, cs.measured_at`

// scanChannel reads one channelColumns row. progress and retries are nullable in the ERD; the model
// shows a missing value as 0.
func scanChannel(row scanner) (model.ChannelState, error) {
	var cd channelDest
	err := row.Scan(cd.targets()...)
	return cd.state(), err
}

// channelDest receives one channelColumns row.
type channelDest struct {
	c                 model.ChannelState
	progress, retries *int
}

func (cd *channelDest) targets() []any {
	c := &cd.c
	return []any{&c.ID, &c.DistributionStatusID, &c.EventID, &c.Channel, &c.Status, &cd.progress,
		&c.DistributionID, &c.EstimatedViews, &c.ImpressionSchedule, &c.PostURL, &c.PostID, &c.MessageID,
		&c.ErrorMessage, &cd.retries, &c.LastRetryAt, &c.CompletedAt, &c.UpdateTimestamp, &c.UpdatedAt,
		&c.Generation, &c.Version, &c.WaitingReason, &c.NextAttemptAt, &c.MeasuredViews, &c.MeasuredAt}
}

func (cd *channelDest) state() model.ChannelState {
	c := cd.c
	if cd.progress != nil {
		c.Progress = *cd.progress
	}
	if cd.retries != nil {
		c.Retries = *cd.retries
	}
	return c
}

func collectChannel(row pgx.CollectableRow) (model.ChannelState, error) { return scanChannel(row) }

// channelOrder is the SQL spelling of the display order (model.AllChannels) of a channel_status
// row cs: its 1-based position, built from the model so SQL and Go cannot drift apart.
var channelOrder = func() string {
	quoted := make([]string, len(model.AllChannels))
	for i, c := range model.AllChannels {
		quoted[i] = "'" + string(c) + "'"
	}
	return "array_position(ARRAY[" + strings.Join(quoted, ",") + "]::text[], cs.channel::text)"
}()

// sortChannels orders channel states in display order.
func sortChannels(cs []model.ChannelState) {
	slices.SortStableFunc(cs, func(a, b model.ChannelState) int { return a.Channel.Order() - b.Channel.Order() })
}

// findChannels loads the channels of the given distribution_status ids in one query, keyed by
// distribution_status id, each list in display order.
func findChannels(ctx context.Context, q querier, distributionIDs []int64) (map[int64][]model.ChannelState, error) {
	out := make(map[int64][]model.ChannelState, len(distributionIDs))
	if len(distributionIDs) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT `+channelColumns+` FROM channel_status cs
		WHERE cs.distribution_status_id = ANY($1)`, distributionIDs)
	if err != nil {
		return nil, fmt.Errorf("find channels: %w", err)
	}
	all, err := pgx.CollectRows(rows, collectChannel)
	if err != nil {
		return nil, fmt.Errorf("find channels: %w", err)
	}
	for _, c := range all {
		out[c.DistributionStatusID] = append(out[c.DistributionStatusID], c)
	}
	for id := range out {
		sortChannels(out[id])
	}
	return out, nil
}

// findDistribution loads the distribution of an event with its channels (display order), or
// ENOTFOUND. Inside a transaction both reads see that transaction's state; on the pool they are two
// statements, so channels may be a moment newer than the overall row (never older).
func findDistribution(ctx context.Context, q querier, eventID string) (model.Distribution, error) {
	d, err := scanDistribution(q.QueryRow(ctx, `SELECT `+distributionColumns+`
		FROM distribution_status d WHERE d.event_id = $1`, eventID))
	if errors.Is(err, pgx.ErrNoRows) {
		return model.Distribution{}, model.Errork(model.ENOTFOUND, "action.no_distribution", "event %s has no distribution", eventID)
	}
	if err != nil {
		return model.Distribution{}, fmt.Errorf("find distribution of event %s: %w", eventID, err)
	}
	chs, err := findChannels(ctx, q, []int64{d.ID})
	if err != nil {
		return model.Distribution{}, fmt.Errorf("find distribution of event %s: %w", eventID, err)
	}
	d.Channels = chs[d.ID]
	if d.Channels == nil {
		d.Channels = []model.ChannelState{}
	}
	return d, nil
}

// checkEventID rejects ids that cannot name an event before they reach SQL or Redis.
func checkEventID(id string) error {
	if !model.ValidEventID(id) {
		return model.Errork(model.EINVALID, "err.event_id", "invalid event id: use 1 to 36 letters, digits, '_' or '-'")
	}
	return nil
}

// FindDistribution returns the distribution of an event with its channels in display order;
// ENOTFOUND when the event has none, EINVALID for an id that cannot exist.
func (db *DB) FindDistribution(ctx context.Context, eventID string) (model.Distribution, error) {
	if err := checkEventID(eventID); err != nil {
		return model.Distribution{}, err
	}
	return findDistribution(ctx, db.Pool, eventID)
}

const attemptColumns = `a.id, a.event_id, a.channel, a.attempt, a.generation, a.trigger, a.started_at,
	a.finished_at, a.outcome, a.error, a.http_status`

func scanAttempt(row scanner) (model.Attempt, error) {
	var a model.Attempt
	err := row.Scan(&a.ID, &a.EventID, &a.Channel, &a.Attempt, &a.Generation, &a.Trigger, &a.StartedAt,
		&a.FinishedAt, &a.Outcome, &a.Error, &a.HTTPStatus)
	return a, err
}

func collectAttempt(row pgx.CollectableRow) (model.Attempt, error) { return scanAttempt(row) }

// FindAttempts returns the attempt history of an event's distribution, in channel display order
// then attempt order. ENOTFOUND when the event has no distribution; an empty list when it has one
// but nothing ran yet.
func (db *DB) FindAttempts(ctx context.Context, eventID string) ([]model.Attempt, error) {
	if err := checkEventID(eventID); err != nil {
		return nil, err
	}
	rows, err := db.Pool.Query(ctx, `SELECT `+attemptColumns+` FROM channel_attempts a
		WHERE a.event_id = $1 ORDER BY a.attempt, a.id`, eventID)
	if err != nil {
		return nil, fmt.Errorf("find attempts of event %s: %w", eventID, err)
	}
	attempts, err := pgx.CollectRows(rows, collectAttempt)
	if err != nil {
		return nil, fmt.Errorf("find attempts of event %s: %w", eventID, err)
	}
	if len(attempts) == 0 {
		var exists bool
		if err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM distribution_status WHERE event_id = $1)`,
			eventID).Scan(&exists); err != nil {
			return nil, fmt.Errorf("find attempts of event %s: %w", eventID, err)
		}
		if !exists {
			return nil, model.Errork(model.ENOTFOUND, "action.no_distribution", "event %s has no distribution", eventID)
		}
		return []model.Attempt{}, nil
	}
	slices.SortStableFunc(attempts, func(a, b model.Attempt) int { return a.Channel.Order() - b.Channel.Order() })
	return attempts, nil
}

// The write side of the engine (starts.go, runs.go, retries.go, rescue.go) and the helpers below
// keep three rules (DESIGN.md "Distribution engine"):
//   - Lock order is parent first: distribution_status FOR UPDATE, then its channel_status rows.
//     Every transaction that changes a channel's terminal state or recomputes the rollup takes the
//     parent lock first, so six channels finishing at once serialise (RELIABILITY W4) and no two
//     transactions wait on each other in opposite orders.
//   - channel_status.generation is the write fence: a worker writes only while the row still
//     carries the generation of its job (RELIABILITY W3). Manual retries and rescues bump it.
//   - Jobs are enqueued inside the same transaction as the rows they drive (EnqueueFunc), so a
//     channel row and its job commit together or not at all.

// collectChannelStates maps channel rows with the read side's channelColumns/scanChannel.
func collectChannelStates(rows pgx.Rows, err error) ([]model.ChannelState, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, collectChannel)
}

// loadChannelsTx reads every channel of one distribution in display order.
func loadChannelsTx(ctx context.Context, tx pgx.Tx, distID int64) ([]model.ChannelState, error) {
	return collectChannelStates(tx.Query(ctx, `SELECT `+channelColumns+` FROM channel_status cs
		WHERE cs.distribution_status_id = $1 ORDER BY `+channelOrder, distID))
}

// lockDistributionTx locks the parent row (the first lock of every rollup transaction).
func lockDistributionTx(ctx context.Context, tx pgx.Tx, where string, arg any) (model.Distribution, error) {
	return scanDistribution(tx.QueryRow(ctx, `SELECT `+distributionColumns+` FROM distribution_status d
		WHERE `+where+` FOR UPDATE`, arg))
}

// rollupTx recomputes overall_status from all channels of d (whose row the caller has locked)
// and stores it when it changed: completed_at is set when the distribution becomes terminal and
// cleared when it is IN_PROGRESS again. It returns d with its channels and the previous status.
func rollupTx(ctx context.Context, tx pgx.Tx, d model.Distribution) (model.Distribution, model.OverallStatus, error) {
	chans, err := loadChannelsTx(ctx, tx, d.ID)
	if err != nil {
		return d, d.OverallStatus, fmt.Errorf("load channels: %w", err)
	}
	return applyRollupTx(ctx, tx, d, chans)
}

// applyRollupTx is rollupTx over chans, every channel of d (display order) as read after d's lock.
func applyRollupTx(ctx context.Context, tx pgx.Tx, d model.Distribution, chans []model.ChannelState) (model.Distribution, model.OverallStatus, error) {
	prev := d.OverallStatus
	var err error
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

// reopenTx sets a locked distribution back to IN_PROGRESS after a retry and returns it with
// its channels.
func reopenTx(ctx context.Context, tx pgx.Tx, distID int64) (model.Distribution, error) {
	d, err := scanDistribution(tx.QueryRow(ctx, `UPDATE distribution_status d
		SET overall_status = 'IN_PROGRESS', completed_at = NULL, updated_at = now()
		WHERE d.id = $1 RETURNING `+distributionColumns, distID))
	if err != nil {
		return d, fmt.Errorf("reopen distribution: %w", err)
	}
	if d.Channels, err = loadChannelsTx(ctx, tx, distID); err != nil {
		return d, fmt.Errorf("load channels: %w", err)
	}
	return d, nil
}

func auditTx(ctx context.Context, tx pgx.Tx, actor, action, eventID, channel, detail string) error {
	_, err := tx.Exec(ctx, `INSERT INTO audit_log (actor, action, event_id, channel, detail)
		VALUES ($1, $2, NULLIF($3, ''), NULLIF($4, ''), $5)`, actor, action, eventID, channel, detail)
	if err != nil {
		return fmt.Errorf("write audit log: %w", err)
	}
	return nil
}

// eventNotFound is the error for an unknown (or malformed) event id.
func eventNotFound(eventID string) error {
	return model.Errork(model.ENOTFOUND, "err.event_not_found", "event %q not found", model.Truncate(eventID, 40))
}
