package db

// Manual retries: one FAILED channel, every FAILED channel of an event, and bulk retries by filter
// in batches. Each resets channels to PENDING under a new generation and enqueues their jobs.
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

// RetryFilter selects FAILED channels for a bulk retry. Zero fields do not filter. From/To bound
// the time the channel failed (completed_at), From inclusive, To exclusive.
type RetryFilter struct {
	Channel model.Channel
	From    time.Time
	To      time.Time
	// IDs, when not nil, narrows the filter to these channel rows (the ones a person checked
	// in the bulk retry preview); an empty non-nil list matches nothing.
	IDs []int64
	// AccountChannels are the channels that publish as the event's store's account (the engine
	// sets them): their rows are left FAILED, unmatched, when the event has no store or the store
	// no usable account on the channel (none, disconnected, needs_reconnect, expired): a retry
	// could only fail again (the pre-flight check).
	AccountChannels []model.Channel
	// OptionalAccountChannels publish as the store's account when it has one and otherwise their
	// own way (the embedded simulator's routes): their rows are left FAILED only when the event's
	// store has an account on the channel that is not usable.
	OptionalAccountChannels []model.Channel
}

// retrySet is the SET clause of every manual retry: back to PENDING under a new generation.
const retrySet = `status = 'PENDING', progress = 0, retries = COALESCE(cs.retries, 0) + 1,
	last_retry_at = now(), generation = cs.generation + 1, error_message = NULL, completed_at = NULL,
	waiting_reason = 'queued', next_attempt_at = NULL, update_timestamp = now(), updated_at = now()`

// RetryChannel resets one FAILED channel of an event's distribution to PENDING (new generation,
// retries+1, last_retry_at), reopens the distribution and enqueues the new job, in one
// transaction. ENOTFOUND when there is no distribution or the channel is not part of it;
// ECONFLICT (nothing written) unless the channel is FAILED.
func (db *DB) RetryChannel(ctx context.Context, eventID string, ch model.Channel, actor string, enqueue EnqueueFunc) (model.Distribution, error) {
	if !ch.Valid() {
		return model.Distribution{}, model.Errork(model.EINVALID, "err.unknown_channel", "unknown channel %q", string(ch))
	}
	var d model.Distribution
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		parent, err := lockParentByEventTx(ctx, tx, eventID)
		if err != nil {
			return err
		}
		rows, err := collectChannelStates(tx.Query(ctx, `UPDATE channel_status cs SET `+retrySet+`
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
				return model.Errork(model.ENOTFOUND, "err.not_in_distribution", "%s is not part of this distribution", ch)
			}
			if err != nil {
				return fmt.Errorf("read channel: %w", err)
			}
			return model.Errork(model.ECONFLICT, "action.not_failed", "%s is %s; only FAILED channels can be retried", ch, model.ChannelStatus(status))
		}
		trigger := "retry:" + actor
		if err := enqueue(ctx, tx, rows, trigger); err != nil {
			return fmt.Errorf("enqueue retry job: %w", err)
		}
		if err := auditTx(ctx, tx, actor, "channel.retry", eventID, string(ch), ""); err != nil {
			return err
		}
		d, err = reopenTx(ctx, tx, parent.ID)
		return err
	})
	if err != nil {
		return model.Distribution{}, wrapAction("retry channel", err)
	}
	return d, nil
}

// RetryFailed retries every FAILED channel of an event's distribution in one transaction and
// returns the distribution and the channels retried. ECONFLICT when none is FAILED.
func (db *DB) RetryFailed(ctx context.Context, eventID, actor string, enqueue EnqueueFunc) (model.Distribution, []model.ChannelState, error) {
	return db.RetryFailedExcept(ctx, eventID, actor, nil, enqueue)
}

// RetryFailedExcept is RetryFailed leaving the channels of skip FAILED (the pre-flight check
// refused them: their store account must be connected first).
func (db *DB) RetryFailedExcept(ctx context.Context, eventID, actor string, skip []model.Channel, enqueue EnqueueFunc) (model.Distribution, []model.ChannelState, error) {
	skipped := make([]string, len(skip))
	for i, ch := range skip {
		skipped[i] = string(ch)
	}
	var (
		d    model.Distribution
		rows []model.ChannelState
	)
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		parent, err := lockParentByEventTx(ctx, tx, eventID)
		if err != nil {
			return err
		}
		rows, err = collectChannelStates(tx.Query(ctx, `WITH upd AS (
				UPDATE channel_status cs SET `+retrySet+`
				WHERE cs.distribution_status_id = $1 AND cs.status = 'FAILED' AND NOT (cs.channel = ANY($2::text[])) RETURNING cs.*)
			SELECT `+channelColumns+` FROM upd cs ORDER BY `+channelOrder, parent.ID, skipped))
		if err != nil {
			return fmt.Errorf("reset channels: %w", err)
		}
		if len(rows) == 0 {
			return model.Errork(model.ECONFLICT, "action.no_failed", "no channel of this distribution is FAILED; only FAILED channels can be retried")
		}
		if err := enqueue(ctx, tx, rows, "retry:"+actor); err != nil {
			return fmt.Errorf("enqueue retry jobs: %w", err)
		}
		for _, r := range rows {
			if err := auditTx(ctx, tx, actor, "channel.retry", eventID, string(r.Channel), "retry failed channels"); err != nil {
				return err
			}
		}
		d, err = reopenTx(ctx, tx, parent.ID)
		return err
	})
	if err != nil {
		return model.Distribution{}, nil, wrapAction("retry failed channels", err)
	}
	return d, rows, nil
}

func lockParentByEventTx(ctx context.Context, tx pgx.Tx, eventID string) (model.Distribution, error) {
	if !model.ValidEventID(eventID) {
		return model.Distribution{}, eventNotFound(eventID)
	}
	d, err := lockDistributionTx(ctx, tx, "d.event_id = $1", eventID)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, model.Errork(model.ENOTFOUND, "action.no_distribution", "event %q has no distribution", eventID)
	}
	if err != nil {
		return d, fmt.Errorf("lock distribution: %w", err)
	}
	return d, nil
}

// retryWhere is the filter of a bulk retry; $1 channel ("" = any), $2 from, $3 to (NULL = open),
// $4 channel row ids (NULL = any), $5 the channels that need a usable store account, $6 those
// whose store account is optional (left only when an account exists and is not usable).
const retryWhere = `cs.status = 'FAILED' AND ($1 = '' OR cs.channel = $1)
	AND ($2::timestamptz IS NULL OR cs.completed_at >= $2) AND ($3::timestamptz IS NULL OR cs.completed_at < $3)
	AND ($4::bigint[] IS NULL OR cs.id = ANY($4))
	AND NOT (cs.channel = ANY($5::text[]) AND NOT EXISTS (SELECT 1 FROM events e JOIN channel_accounts a
		ON a.store_id = e.store_id AND a.channel = cs.channel WHERE e.id = cs.event_id
		AND a.status IN ('connected', 'expiring') AND (a.expires_at IS NULL OR a.expires_at > now())))
	AND NOT (cs.channel = ANY($6::text[]) AND EXISTS (SELECT 1 FROM events e JOIN channel_accounts a
		ON a.store_id = e.store_id AND a.channel = cs.channel WHERE e.id = cs.event_id
		AND NOT (a.status IN ('connected', 'expiring') AND (a.expires_at IS NULL OR a.expires_at > now()))))`

func retryArgs(f RetryFilter) []any {
	var from, to *time.Time
	if !f.From.IsZero() {
		from = &f.From
	}
	if !f.To.IsZero() {
		to = &f.To
	}
	ids := f.IDs
	if ids != nil && len(ids) == 0 {
		ids = []int64{0} // no row has id 0: nothing matches (nil would mean "any")
	}
	names := func(chans []model.Channel) []string {
		out := make([]string, len(chans))
		for i, ch := range chans {
			out[i] = string(ch)
		}
		return out
	}
	return []any{string(f.Channel), from, to, ids, names(f.AccountChannels), names(f.OptionalAccountChannels)}
}

// CountRetryMatching counts the FAILED channels a bulk retry with f would retry (the preview).
func (db *DB) CountRetryMatching(ctx context.Context, f RetryFilter) (int, error) {
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM channel_status cs WHERE `+retryWhere,
		retryArgs(f)...).Scan(&n); err != nil {
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
		args := append(retryArgs(f), afterID, limit)
		var ids, parents []int64
		cand, err := tx.Query(ctx, `SELECT cs.id, cs.distribution_status_id FROM channel_status cs
			WHERE `+retryWhere+` AND cs.id > $7 ORDER BY cs.id LIMIT $8`, args...)
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
		rows, err = collectChannelStates(tx.Query(ctx, `UPDATE channel_status cs SET `+retrySet+`
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
			if err := auditTx(ctx, tx, actor, "channel.bulk_retry", r.EventID, string(r.Channel), "bulk retry"); err != nil {
				return err
			}
			if reopened[r.DistributionStatusID] {
				continue
			}
			reopened[r.DistributionStatusID] = true
			d, err := reopenTx(ctx, tx, r.DistributionStatusID)
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
