package db

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/internal/model"
)

// FindRetryCandidates lists the FAILED channels a bulk retry with f would retry, newest failure
// first, at most limit: what the bulk retry preview shows and lets a person narrow down.
func (db *DB) FindRetryCandidates(ctx context.Context, f RetryFilter, limit int) ([]model.RetryCandidate, error) {
	args := append(retryArgs(f), limit)
	rows, err := db.Pool.Query(ctx, `SELECT cs.id, cs.event_id, coalesce(e.title, ''), cs.channel,
			coalesce(cs.error_message, ''), coalesce(cs.completed_at, cs.updated_at)
		FROM channel_status cs LEFT JOIN events e ON e.id = cs.event_id
		WHERE `+retryWhere+` ORDER BY cs.completed_at DESC NULLS LAST, cs.id DESC LIMIT $7`, args...)
	if err != nil {
		return nil, fmt.Errorf("find channels to retry: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (model.RetryCandidate, error) {
		var c model.RetryCandidate
		var ch string
		err := row.Scan(&c.ID, &c.EventID, &c.EventTitle, &ch, &c.Error, &c.FailedAt)
		c.Channel = model.Channel(ch)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("find channels to retry: %w", err)
	}
	return out, nil
}
