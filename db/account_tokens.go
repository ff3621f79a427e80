package db

import (
	"context"
	"fmt"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// UpdateAccountCredentials replaces the credentials of storeID's account on ch after the
// platform renewed its tokens (the naver-cafe refresh): sealed with s under its current key and
// bound to the row, expires_at set to expiresAt and the status back to connected (or expiring).
// It writes no audit entry: nobody changed the connection, the token was renewed. ENOTFOUND
// when the account no longer exists (disconnected meanwhile: the new token is dropped).
// ifUpdatedAt, when not zero, is the updated_at of the credentials the token was renewed from:
// an account set again meanwhile (`account set`) is not overwritten (ENOTFOUND, new token dropped).
func (db *DB) UpdateAccountCredentials(ctx context.Context, storeID string, ch model.Channel, secret []byte, expiresAt *time.Time, ifUpdatedAt time.Time, s Sealer) error {
	if err := checkStoreID(storeID); err != nil {
		return err
	}
	sealed, keyID, err := s.Seal(secret, accountAAD(storeID, ch))
	if err != nil {
		return fmt.Errorf("encrypt credentials: %w", err)
	}
	var guard *time.Time
	if !ifUpdatedAt.IsZero() {
		guard = &ifUpdatedAt
	}
	var now time.Time
	if err := db.Pool.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
		return fmt.Errorf("update %s credentials of store %s: %w", ch, storeID, err)
	}
	tag, err := db.Pool.Exec(ctx, `UPDATE channel_accounts SET credentials = $3, key_id = $4, expires_at = $5,
			status = $6, last_error = '', updated_at = now()
		WHERE store_id = $1 AND channel = $2 AND status <> 'disconnected' AND ($7::timestamptz IS NULL OR updated_at = $7)`,
		storeID, string(ch), sealed, keyID, expiresAt, string(accountStatusAt(expiresAt, now)), guard)
	if err != nil {
		return fmt.Errorf("update %s credentials of store %s: %w", ch, storeID, err)
	}
	if tag.RowsAffected() == 0 {
		return model.Errorf(model.ENOTFOUND, "store %s has no connected %s account with those credentials (set again meanwhile?)", storeID, ch)
	}
	return nil
}
