package db

// OAuth states of the stores pages' account connections (migration 0020) and the disconnect.
// Every time is the database clock's (RELIABILITY C1).

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/internal/model"
)

// CreateOAuthState stores a flow's state, valid for ttl from now (the database clock), and drops
// the states already expired. ENOTFOUND when the store does not exist.
func (db *DB) CreateOAuthState(ctx context.Context, s model.OAuthState, ttl time.Duration) error {
	if err := checkStoreID(s.StoreID); err != nil {
		return err
	}
	if len(s.StateHash) != 32 || s.UserID <= 0 || !s.Channel.Valid() {
		return model.Errorf(model.EINVALID, "invalid OAuth state")
	}
	return pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM oauth_states WHERE expires_at <= now()`); err != nil {
			return fmt.Errorf("drop expired OAuth states: %w", err)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO oauth_states (state_hash, user_id, session_id, store_id, channel,
				redirect_uri, club_id, menu_id, reconnect, expires_at)
			SELECT $1, $2, $3, s.id, $5, $6, $7, $8, $9, now() + $10::float8 * interval '1 second'
			FROM stores s WHERE s.id = $4`,
			s.StateHash, s.UserID, s.SessionID, s.StoreID, string(s.Channel), s.RedirectURI, s.ClubID, s.MenuID,
			s.Reconnect, ttl.Seconds())
		if err != nil {
			return fmt.Errorf("store OAuth state: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return model.Errorf(model.ENOTFOUND, "store %s not found", s.StoreID)
		}
		return nil
	})
}

// TakeOAuthState removes and returns the unexpired state whose hash is stateHash and that
// belongs to userID's session sessionID: a state is used at most once, and only by the manager
// (and browser session) that started the flow. ENOTFOUND otherwise (unknown, expired, already
// used, or another person's or session's: the state then stays for its owner).
func (db *DB) TakeOAuthState(ctx context.Context, stateHash []byte, userID int64, sessionID string) (model.OAuthState, error) {
	var s model.OAuthState
	var ch string
	err := db.Pool.QueryRow(ctx, `DELETE FROM oauth_states
		WHERE state_hash = $1 AND user_id = $2 AND session_id = $3 AND expires_at > now()
		RETURNING state_hash, user_id, session_id, store_id, channel, redirect_uri, club_id, menu_id, reconnect, expires_at`,
		stateHash, userID, sessionID).Scan(&s.StateHash, &s.UserID, &s.SessionID, &s.StoreID, &ch, &s.RedirectURI,
		&s.ClubID, &s.MenuID, &s.Reconnect, &s.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return model.OAuthState{}, model.Errorf(model.ENOTFOUND, "unknown, expired or already used OAuth state")
	}
	if err != nil {
		return model.OAuthState{}, fmt.Errorf("take OAuth state: %w", err)
	}
	s.Channel = model.Channel(ch)
	return s, nil
}

// DisconnectChannelAccount removes the credentials of storeID's account on ch (the row stays,
// status disconnected, so the page shows who disconnected it) with its audit entry (Action
// account.disconnect, no credentials) in one transaction. ENOTFOUND without an account.
func (db *DB) DisconnectChannelAccount(ctx context.Context, storeID string, ch model.Channel, audit model.AuditEntry) (model.ChannelAccount, error) {
	if err := checkStoreID(storeID); err != nil {
		return model.ChannelAccount{}, err
	}
	var out model.ChannelAccount
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE channel_accounts SET credentials = '\x'::bytea, key_id = '', expires_at = NULL,
				status = 'disconnected', last_error = '', connected_by = $3, connected_at = now(), updated_at = now()
			WHERE store_id = $1 AND channel = $2
			RETURNING `+accountColumns, storeID, string(ch), audit.Actor)
		if err != nil {
			return err
		}
		out, err = pgx.CollectExactlyOneRow(rows, collectAccount)
		if errors.Is(err, pgx.ErrNoRows) {
			return model.Errorf(model.ENOTFOUND, "store %s has no %s account", storeID, ch)
		}
		if err != nil {
			return err
		}
		audit.Action, audit.Channel = model.AuditAccountDisconnect, string(ch)
		audit.Detail = "store " + storeID + ", account " + out.AccountRef + ", disconnected"
		return addAuditTx(ctx, tx, audit)
	})
	if err != nil {
		return model.ChannelAccount{}, wrapAction("disconnect channel account", err)
	}
	return out, nil
}
