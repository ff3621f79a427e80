package db

// Publish checkpoints and the accounts the engine publishes with (issue 14, instagram-graph).

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/internal/model"
)

// LoadCheckpoint returns the value kept for (channel row, idempotency key), "" when none.
func (db *DB) LoadCheckpoint(ctx context.Context, channelStatusID int64, key string) (string, error) {
	var v string
	err := db.Pool.QueryRow(ctx, `SELECT value FROM publish_checkpoints WHERE channel_status_id = $1 AND idempotency_key = $2`,
		channelStatusID, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("load publish checkpoint: %w", err)
	}
	return v, nil
}

// SaveCheckpoint keeps value for (channel row, idempotency key), replacing an earlier one.
func (db *DB) SaveCheckpoint(ctx context.Context, channelStatusID int64, key, value string) error {
	_, err := db.Pool.Exec(ctx, `INSERT INTO publish_checkpoints (channel_status_id, idempotency_key, value)
		VALUES ($1, $2, $3)
		ON CONFLICT (channel_status_id, idempotency_key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
		channelStatusID, key, value)
	if err != nil {
		return fmt.Errorf("save publish checkpoint: %w", err)
	}
	return nil
}

// EventAccount returns the decrypted credentials and public fields of the account on ch of the
// store eventID belongs to. ok is false when the event has no store or the store has no account
// on ch.
func (db *DB) EventAccount(ctx context.Context, eventID string, ch model.Channel, s Sealer) (secret []byte, a model.ChannelAccount, ok bool, err error) {
	var storeID *string
	err = db.Pool.QueryRow(ctx, `SELECT store_id FROM events WHERE id = $1`, eventID).Scan(&storeID)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && storeID == nil) {
		return nil, model.ChannelAccount{}, false, nil
	}
	if err != nil {
		return nil, model.ChannelAccount{}, false, fmt.Errorf("find the store of event %s: %w", eventID, err)
	}
	secret, a, err = db.AccountCredentials(ctx, *storeID, ch, s)
	if model.ErrorCode(err) == model.ENOTFOUND {
		return nil, model.ChannelAccount{}, false, nil
	}
	if err != nil {
		return nil, model.ChannelAccount{}, false, err
	}
	return secret, a, true, nil
}

// EventAccountStatus is the status of the account on ch of the store eventID belongs to; ok is
// false when there is none. It reads no credentials.
func (db *DB) EventAccountStatus(ctx context.Context, eventID string, ch model.Channel) (model.AccountStatus, bool, error) {
	var st model.AccountStatus
	err := db.Pool.QueryRow(ctx, `SELECT a.status FROM events e JOIN channel_accounts a ON a.store_id = e.store_id
		WHERE e.id = $1 AND a.channel = $2`, eventID, string(ch)).Scan(&st)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("find the %s account of event %s: %w", ch, eventID, err)
	}
	return st, true, nil
}

// MarkAccountNeedsReconnect sets storeID's account on ch to needs_reconnect with lastError (the
// platform's words, never a credential).
func (db *DB) MarkAccountNeedsReconnect(ctx context.Context, storeID string, ch model.Channel, lastError string) error {
	return db.MarkAccountNeedsReconnectThen(ctx, storeID, ch, lastError, nil)
}

// MarkAccountNeedsReconnectThen is MarkAccountNeedsReconnect calling then in its transaction when
// the account was not needs_reconnect already (the account alert: once per account however many
// jobs find the token dead at once, since the row lock orders them and the later ones see the
// status the first one wrote). An account that does not exist is no error and calls nothing.
func (db *DB) MarkAccountNeedsReconnectThen(ctx context.Context, storeID string, ch model.Channel, lastError string,
	then func(ctx context.Context, tx pgx.Tx, a model.ChannelAccount, lastError string) error) error {
	lastError = model.SanitizeLine(lastError, 500)
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		var prev model.AccountStatus
		err := tx.QueryRow(ctx, `WITH old AS (
				SELECT status FROM channel_accounts WHERE store_id = $1 AND channel = $2 FOR UPDATE)
			UPDATE channel_accounts a SET status = 'needs_reconnect', last_error = $3, updated_at = now()
			FROM old WHERE a.store_id = $1 AND a.channel = $2
			RETURNING old.status`, storeID, string(ch), lastError).Scan(&prev)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil || prev == model.AccountNeedsReconnect || then == nil {
			return err
		}
		return then(ctx, tx, model.ChannelAccount{StoreID: storeID, Channel: ch, Status: model.AccountNeedsReconnect, LastError: lastError}, lastError)
	})
	if err != nil {
		return fmt.Errorf("mark the %s account of store %s as needing a reconnect: %w", ch, storeID, err)
	}
	return nil
}
