package db

// Token upkeep (issue 14 point 7): the engine's upkeep loop (internal/engine/upkeep.go) renews
// the store accounts' tokens before they expire. Every worker process runs the loop; an account
// is handled by one of them at a time and once per interval across them all:
//
//   - UpkeepCandidates lists the accounts not looked at for an interval (no lock);
//   - UpkeepAccount then locks one with FOR UPDATE SKIP LOCKED (another replica holding it is
//     passed over, never waited for), re-checks that it is still due, decrypts it, lets the
//     caller talk to the platform while the row stays locked (one refresh per account at a
//     time, bounded by the adapter's request timeout), and writes the outcome and
//     upkeep_checked_at in the same transaction. A process killed meanwhile rolls back: nothing
//     changed, and the account is due again at once.
//
// What is stored when: the new credentials only after the platform answered with them, in the
// transaction that holds the lock. A refresh whose answer was lost leaves the old credentials,
// which stay valid until their own expiry (Instagram's refresh issues a token and does not
// revoke the old one; Naver's refresh token is unchanged by a refresh), and the next pass
// refreshes again.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/internal/model"
)

// AccountKey names one channel account.
type AccountKey struct {
	StoreID string
	Channel model.Channel
}

// UpkeepAccount is an account an upkeep pass holds locked: its public fields, its decrypted
// credential JSON (never logged), when its token was issued (the last refresh, else the
// connection) and the database's clock.
type UpkeepAccount struct {
	model.ChannelAccount
	Secret        []byte
	TokenIssuedAt time.Time
	Now           time.Time
}

// UpkeepKind is what an upkeep pass did with one account.
type UpkeepKind int

const (
	// UpkeepSkipped: nothing to do yet (the token is not due, or cannot be refreshed yet).
	UpkeepSkipped UpkeepKind = iota
	// UpkeepRefreshed: the platform renewed the token; Credentials and ExpiresAt are stored.
	UpkeepRefreshed
	// UpkeepNeedsReconnect: the platform says the token is dead; the account is marked.
	UpkeepNeedsReconnect
	// UpkeepFailed: the refresh failed for now (5xx, timeout, an unexpected answer): the status
	// is left alone and the next pass tries again.
	UpkeepFailed
)

// UpkeepOutcome is the caller's verdict on one locked account.
type UpkeepOutcome struct {
	Kind        UpkeepKind
	Credentials []byte     // UpkeepRefreshed: the new credential JSON (sealed before it is written)
	ExpiresAt   *time.Time // UpkeepRefreshed: the account's new expiry (nil = unknown)
	Error       string     // UpkeepNeedsReconnect / UpkeepFailed: the platform's words, no credential
}

// MarkExpiringAccounts shows as expiring every connected account whose expiry is within
// ExpiringWithin, and as connected again an expiring one whose expiry moved away (set again by
// hand). It returns how many changed.
func (db *DB) MarkExpiringAccounts(ctx context.Context) (int, error) {
	tag, err := db.Pool.Exec(ctx, `UPDATE channel_accounts SET
			status = CASE WHEN status = 'connected' THEN 'expiring' ELSE 'connected' END, updated_at = now()
		WHERE (status = 'connected' AND expires_at < now() + $1::interval)
		   OR (status = 'expiring' AND (expires_at IS NULL OR expires_at >= now() + $1::interval))`, ExpiringWithin)
	if err != nil {
		return 0, fmt.Errorf("mark expiring accounts: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// upkeepDue is the condition of an account an upkeep pass may look at: a channel the caller
// refreshes, still usable, and not looked at for the interval ($2).
const upkeepDue = `channel = ANY($1) AND status IN ('connected', 'expiring')
	AND (upkeep_checked_at IS NULL OR upkeep_checked_at <= now() - $2::interval)`

// UpkeepCandidates lists up to limit accounts on chans that no upkeep pass looked at for every,
// the longest unchecked first. Nothing is locked: UpkeepAccount claims each.
func (db *DB) UpkeepCandidates(ctx context.Context, chans []model.Channel, every time.Duration, limit int) ([]AccountKey, error) {
	names := make([]string, len(chans))
	for i, c := range chans {
		names[i] = string(c)
	}
	rows, err := db.Pool.Query(ctx, `SELECT store_id, channel FROM channel_accounts WHERE `+upkeepDue+`
		ORDER BY upkeep_checked_at NULLS FIRST, store_id, channel LIMIT $3`, names, every, limit)
	if err != nil {
		return nil, fmt.Errorf("find accounts for token upkeep: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AccountKey, error) {
		var k AccountKey
		err := row.Scan(&k.StoreID, &k.Channel)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("find accounts for token upkeep: %w", err)
	}
	return keys, nil
}

// ReconnectHook runs in the transaction that marks an account needs_reconnect (the engine
// inserts the failure webhook's job there, so the alert commits with the status or not at all).
type ReconnectHook func(ctx context.Context, tx pgx.Tx, a model.ChannelAccount, lastError string) error

// UpkeepAccount claims key's account when it is still due (upkeepDue with every) and no other
// pass holds it, hands it decrypted to decide (which may call the platform: the row stays
// locked meanwhile) and writes decide's outcome, with upkeep_checked_at, in the same transaction:
//
//   - UpkeepRefreshed: the credentials sealed with s, the expiry, status connected (or expiring
//     when the new expiry is still near), last error cleared, refreshed_at; audited as "system"
//     (the detail names the store, account and new status, never a credential);
//   - UpkeepNeedsReconnect: status needs_reconnect with the error, audited, and onReconnect run
//     in the transaction;
//   - UpkeepFailed and UpkeepSkipped: the status is left as it is.
//
// claimed is false when the account was not due, was held by another pass or is gone.
func (db *DB) UpkeepAccount(ctx context.Context, key AccountKey, every time.Duration, s Sealer,
	decide func(ctx context.Context, a UpkeepAccount) UpkeepOutcome, onReconnect ReconnectHook) (out UpkeepOutcome, claimed bool, err error) {
	err = pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		var (
			a      UpkeepAccount
			sealed []byte
			keyID  string
		)
		err := tx.QueryRow(ctx, `SELECT `+accountColumns+`, credentials, key_id,
				greatest(connected_at, coalesce(refreshed_at, connected_at)), now()
			FROM channel_accounts WHERE store_id = $3 AND channel = $4 AND `+upkeepDue+`
			FOR UPDATE SKIP LOCKED`, []string{string(key.Channel)}, every, key.StoreID, string(key.Channel)).
			Scan(&a.StoreID, &a.Channel, &a.AccountRef, &a.Status, &a.ExpiresAt, &a.LastError,
				&a.ConnectedBy, &a.ConnectedAt, &a.UpdatedAt, &sealed, &keyID, &a.TokenIssuedAt, &a.Now)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		claimed = true
		if a.Secret, err = s.Open(sealed, keyID, accountAAD(a.StoreID, a.Channel)); err != nil {
			// Not the platform's fault and not fixed by a reconnect of ours: left for a person
			// (the key configuration), looked at again next interval.
			out = UpkeepOutcome{Kind: UpkeepFailed, Error: "the credentials cannot be decrypted (key " + keyID + ")"}
		} else {
			out = decide(ctx, a)
		}
		return db.applyUpkeep(ctx, tx, a, out, s, onReconnect)
	})
	if err != nil {
		return UpkeepOutcome{}, false, fmt.Errorf("token upkeep of the %s account of store %s: %w", key.Channel, key.StoreID, err)
	}
	return out, claimed, nil
}

func (db *DB) applyUpkeep(ctx context.Context, tx pgx.Tx, a UpkeepAccount, out UpkeepOutcome, s Sealer, onReconnect ReconnectHook) error {
	switch out.Kind {
	case UpkeepRefreshed:
		sealed, keyID, err := s.Seal(out.Credentials, accountAAD(a.StoreID, a.Channel))
		if err != nil {
			return fmt.Errorf("encrypt credentials: %w", err)
		}
		status := accountStatusAt(out.ExpiresAt, a.Now)
		if _, err := tx.Exec(ctx, `UPDATE channel_accounts SET credentials = $3, key_id = $4, expires_at = $5,
				status = $6, last_error = '', refreshed_at = now(), upkeep_checked_at = now(), updated_at = now()
			WHERE store_id = $1 AND channel = $2`, a.StoreID, string(a.Channel), sealed, keyID, out.ExpiresAt, string(status)); err != nil {
			return err
		}
		detail := "store " + a.StoreID + ", account " + a.AccountRef + ", token renewed, " + string(status)
		if out.ExpiresAt != nil {
			detail += " until " + out.ExpiresAt.UTC().Format(time.RFC3339)
		}
		return addAuditTx(ctx, tx, model.AuditEntry{Actor: "system", Action: model.AuditAccountRefresh, Channel: string(a.Channel), Detail: detail})
	case UpkeepNeedsReconnect:
		msg := model.SanitizeLine(out.Error, 500) // the platform's words: no NUL or line breaks stored
		if _, err := tx.Exec(ctx, `UPDATE channel_accounts SET status = 'needs_reconnect', last_error = $3,
				upkeep_checked_at = now(), updated_at = now()
			WHERE store_id = $1 AND channel = $2`, a.StoreID, string(a.Channel), msg); err != nil {
			return err
		}
		if err := addAuditTx(ctx, tx, model.AuditEntry{Actor: "system", Action: model.AuditAccountNeedsReconnect, Channel: string(a.Channel),
			Detail: "store " + a.StoreID + ", account " + a.AccountRef + ": the token could not be renewed: " + model.Truncate(msg, 300)}); err != nil {
			return err
		}
		if onReconnect != nil {
			acct := a.ChannelAccount
			acct.Status, acct.LastError = model.AccountNeedsReconnect, msg
			return onReconnect(ctx, tx, acct, msg)
		}
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE channel_accounts SET upkeep_checked_at = now() WHERE store_id = $1 AND channel = $2`,
		a.StoreID, string(a.Channel))
	return err
}
