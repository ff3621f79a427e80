package db

// Measured views (issue 14 point 6): the engine's upkeep loop reads the platform's own view
// count of the posts published in the last MeasureWithin (Instagram media insights) and stores
// it in channel_status.measured_views with measured_at. Each post is measured by one pass at a
// time across every replica (a transaction-scoped advisory lock taken with try: a post another
// pass holds is passed over) and once per interval (measured_at); no row lock is held while
// the platform is asked, so nothing that writes the channel row ever waits for it.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/internal/model"
)

// MeasureWithin is how long after its publication a post's views are measured.
const MeasureWithin = 7 * 24 * time.Hour

// measureLockClass is the first key of the measurement's advisory locks (the second is the
// channel row's id, folded into an int).
const measureLockClass = 21

// PostToMeasure is a published post whose views are due to be measured.
type PostToMeasure struct {
	ChannelStatusID int64
	EventID         string
	StoreID         string
	Channel         model.Channel
	PostID          string
}

// measureDue is the condition of a post due for a measurement: a successful post of ch ($1)
// with a store, published within MeasureWithin, not measured for the interval ($2).
const measureDue = `cs.channel = $1 AND cs.status = 'SUCCESS' AND cs.post_id IS NOT NULL AND e.store_id IS NOT NULL
	AND cs.completed_at > now() - ` + "'168 hours'::interval" + `
	AND (cs.measured_at IS NULL OR cs.measured_at <= now() - $2::interval)`

// PostsToMeasure lists up to limit posts of ch due for a measurement, never measured first.
func (db *DB) PostsToMeasure(ctx context.Context, ch model.Channel, every time.Duration, limit int) ([]PostToMeasure, error) {
	rows, err := db.Pool.Query(ctx, `SELECT cs.id, cs.event_id, e.store_id, cs.channel, cs.post_id
		FROM channel_status cs JOIN events e ON e.id = cs.event_id
		WHERE `+measureDue+` ORDER BY cs.measured_at NULLS FIRST, cs.completed_at DESC LIMIT $3`, string(ch), every, limit)
	if err != nil {
		return nil, fmt.Errorf("find posts to measure: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (PostToMeasure, error) {
		var p PostToMeasure
		err := row.Scan(&p.ChannelStatusID, &p.EventID, &p.StoreID, &p.Channel, &p.PostID)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("find posts to measure: %w", err)
	}
	return out, nil
}

// MeasurePost claims p (still due, no other pass on it), runs measure and, when it reports
// ok, stores its views (nil = the platform has no number yet: measured_views stays NULL) with
// measured_at = now(). It returns the channel row after the write; claimed is false when the
// post was not due or another pass held it. A measure that is not ok changes nothing.
func (db *DB) MeasurePost(ctx context.Context, p PostToMeasure, every time.Duration,
	measure func(ctx context.Context) (views *int, ok bool)) (st model.ChannelState, claimed bool, err error) {
	err = pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		var due bool
		err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($3, (cs.id % 2147483647)::int) AND `+measureDue+`
			FROM channel_status cs JOIN events e ON e.id = cs.event_id WHERE cs.id = $4`,
			string(p.Channel), every, measureLockClass, p.ChannelStatusID).Scan(&due)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil || !due {
			return err
		}
		claimed = true
		views, ok := measure(ctx)
		if !ok {
			return nil
		}
		if views != nil && *views < 0 {
			views = nil
		}
		st, err = scanChannel(tx.QueryRow(ctx, `UPDATE channel_status cs SET measured_views = $2, measured_at = now()
			WHERE cs.id = $1 RETURNING `+channelColumns, p.ChannelStatusID, views))
		return err
	})
	if err != nil {
		return model.ChannelState{}, false, fmt.Errorf("measure the views of %s post of event %s: %w", p.Channel, p.EventID, err)
	}
	return st, claimed, nil
}
