package db

// Administration by managers: listing and changing users, listing and revoking API
// tokens, and reading the audit log. Every change writes its audit row in the same transaction, so
// the log cannot miss a change that happened (nor record one that did not). The audit log has no
// update or delete statement anywhere: it is append-only.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/internal/model"
)

// MaxUsersListed bounds the users page (a dashboard has tens of users, not thousands).
const MaxUsersListed = 1000

// MaxTokensListed bounds the tokens page.
const MaxTokensListed = 1000

// FindUsers lists users by email, optionally only those whose email contains q (case-insensitive),
// at most MaxUsersListed.
func (db *DB) FindUsers(ctx context.Context, q string) ([]model.User, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+userColumns+` FROM users
		WHERE $1 = '' OR email LIKE '%' || $1 || '%'
		ORDER BY email LIMIT $2`, escapeLike(NormalizeEmail(q)), MaxUsersListed)
	if err != nil {
		return nil, fmt.Errorf("find users: %w", err)
	}
	users, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (model.User, error) { return scanUser(row) })
	if err != nil {
		return nil, fmt.Errorf("find users: %w", err)
	}
	return users, nil
}

// UserChange is what UpdateUser changes; zero fields are left alone.
type UserChange struct {
	Role         model.Role
	Disabled     *bool
	PasswordHash string
}

// UpdateUser applies ch to user id and records audit, in one transaction. Disabling a user or
// setting a new password ends every session of the user (they must log in again); a role change
// needs nothing more, because every request re-reads the role with the session (FindSession), and
// the user's API tokens with the token (a token outranking its owner stops working).
// Service accounts have no password (ECONFLICT) and never count as a manager. The last enabled manager can be neither demoted nor disabled (ECONFLICT): someone must be able
// to administer the service. Unknown id: ENOTFOUND.
func (db *DB) UpdateUser(ctx context.Context, id int64, ch UserChange, audit model.AuditEntry) (model.User, error) {
	if ch.Role != "" {
		if _, err := model.ParseRole(string(ch.Role)); err != nil {
			return model.User{}, err
		}
	}
	var u model.User
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		// Lock every enabled manager first (always in id order), so two managers demoting each
		// other at once cannot both succeed and leave nobody in charge.
		mrows, err := tx.Query(ctx, `SELECT id FROM users WHERE role = 'manager' AND NOT disabled AND kind = 'user' ORDER BY id FOR UPDATE`)
		if err != nil {
			return fmt.Errorf("lock managers: %w", err)
		}
		managers, err := pgx.CollectRows(mrows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("lock managers: %w", err)
		}
		before, err := scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return model.Errork(model.ENOTFOUND, "err.user_not_found", "user not found")
		}
		if err != nil {
			return fmt.Errorf("read user: %w", err)
		}
		if before.Service && ch.PasswordHash != "" {
			return model.Errork(model.ECONFLICT, "err.service_account", "%s is a service account: it has no password and never logs in", before.Email)
		}
		losesManager := !before.Service && before.Role == model.RoleManager && !before.Disabled &&
			((ch.Role != "" && ch.Role != model.RoleManager) || (ch.Disabled != nil && *ch.Disabled))
		if losesManager && len(managers) <= 1 {
			return model.Errork(model.ECONFLICT, "err.last_manager", "%s is the last enabled manager; make someone else a manager first", before.Email)
		}
		u, err = scanUser(tx.QueryRow(ctx, `UPDATE users SET
				role = COALESCE(NULLIF($2, ''), role),
				disabled = COALESCE($3, disabled),
				password_hash = COALESCE(NULLIF($4, ''), password_hash),
				updated_at = now()
			WHERE id = $1 RETURNING `+userColumns, id, string(ch.Role), ch.Disabled, ch.PasswordHash))
		if err != nil {
			return fmt.Errorf("update user: %w", err)
		}
		if audit.Detail == "" {
			audit.Detail = describeUserChange(before, u, ch)
		}
		if (ch.Disabled != nil && *ch.Disabled) || ch.PasswordHash != "" {
			if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id); err != nil {
				return fmt.Errorf("end sessions: %w", err)
			}
		}
		// Open streams of the user, in every process, re-check at once (sent on commit).
		if err := notifyPrincipalTx(ctx, tx, id); err != nil {
			return err
		}
		return addAuditTx(ctx, tx, audit)
	})
	if err != nil {
		return model.User{}, wrapAction("update user", err)
	}
	return u, nil
}

// describeUserChange is the audit detail of a user change: whose account, and what changed.
func describeUserChange(before, after model.User, ch UserChange) string {
	d := after.Email
	if ch.Role != "" {
		d += fmt.Sprintf(" role %s -> %s", before.Role, after.Role)
	}
	if ch.Disabled != nil {
		if *ch.Disabled {
			d += " disabled"
		} else {
			d += " enabled"
		}
	}
	if ch.PasswordHash != "" {
		d += " password reset"
	}
	return d
}

// tokenFrom joins a token (t) to its owner (o); tokenColumns is what scanToken reads from it.
const (
	tokenFrom    = `api_tokens t LEFT JOIN users o ON o.id = t.owner_id`
	tokenColumns = `t.id, t.name, t.role, t.created_by, t.created_at, t.last_used_at, t.revoked_at,
		t.owner_id, coalesce(o.email, '') AS owner_email, coalesce(o.kind = 'service', false) AS owner_service, coalesce(o.time_zone, '') AS owner_time_zone,
		t.expires_at, coalesce(extract(epoch FROM t.expires_at - now())::float8, 0) AS expires_in,
		coalesce(t.expires_at <= now(), false) AS expired, ` + tokenLiveSQL + ` AS live`
	// tokenLiveSQL: the token authenticates now. Not revoked, not expired, and its owner enabled
	// with at least the token's role (a staff token dies when its owner becomes a marketer, and
	// lives on when they become a manager). Legacy tokens without an owner skip the owner test.
	tokenLiveSQL = `(t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
		AND (t.owner_id IS NULL OR (NOT o.disabled
			AND array_position(ARRAY['marketer', 'staff', 'manager'], o.role) >= array_position(ARRAY['marketer', 'staff', 'manager'], t.role))))`
	// tokenWatchSQL is the principal-change key under which a token's open streams listen: its
	// owner's user id (so disabling or demoting the owner wakes them), or minus the token id when
	// it has no owner.
	tokenWatchSQL = `coalesce(t.owner_id, -t.id)`
)

func scanToken(row scanner) (APIToken, error) {
	var (
		t         APIToken
		role      string
		expiresIn float64
	)
	err := row.Scan(&t.ID, &t.Name, &role, &t.CreatedBy, &t.CreatedAt, &t.LastUsedAt, &t.RevokedAt,
		&t.OwnerID, &t.OwnerEmail, &t.OwnerService, &t.OwnerTimeZone, &t.ExpiresAt, &expiresIn, &t.Expired, &t.Live)
	t.Role = model.Role(role)
	if t.ExpiresAt != nil && expiresIn > 0 {
		t.ExpiresIn = time.Duration(expiresIn * float64(time.Second))
	}
	return t, err
}

// FindTokens lists API tokens with their owners, live ones first, newest first, at most
// MaxTokensListed.
func (db *DB) FindTokens(ctx context.Context) ([]APIToken, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+tokenColumns+` FROM `+tokenFrom+`
		ORDER BY t.revoked_at IS NOT NULL, t.created_at DESC, t.id DESC LIMIT $1`, MaxTokensListed)
	if err != nil {
		return nil, fmt.Errorf("find tokens: %w", err)
	}
	tokens, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (APIToken, error) { return scanToken(row) })
	if err != nil {
		return nil, fmt.Errorf("find tokens: %w", err)
	}
	return tokens, nil
}

// TokenActive reports whether token id is live now (see APIToken.Live): live streams re-check it.
func (db *DB) TokenActive(ctx context.Context, id int64) (bool, error) {
	var ok bool
	if err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+tokenFrom+` WHERE t.id = $1 AND `+tokenLiveSQL+`)`,
		id).Scan(&ok); err != nil {
		return false, fmt.Errorf("check token: %w", err)
	}
	return ok, nil
}

// RevokeTokenAudited revokes token id and records audit in one transaction, and returns the token.
// Open streams authenticated by it re-check at once. Revoking twice is a no-op that records
// nothing; an unknown id is ENOTFOUND.
func (db *DB) RevokeTokenAudited(ctx context.Context, id int64, audit model.AuditEntry) (APIToken, error) {
	var t APIToken
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		var err error
		t, err = scanToken(tx.QueryRow(ctx, `SELECT `+tokenColumns+` FROM `+tokenFrom+` WHERE t.id = $1 FOR UPDATE OF t`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return model.Errork(model.ENOTFOUND, "err.token_not_found", "token not found")
		}
		if err != nil {
			return fmt.Errorf("read token: %w", err)
		}
		if t.RevokedAt != nil {
			return nil
		}
		if _, err := tx.Exec(ctx, `WITH r AS (
				UPDATE api_tokens t SET revoked_at = now() WHERE id = $1 RETURNING `+tokenWatchSQL+` AS k)
			SELECT pg_notify('`+PrincipalChannel+`', k::text) FROM r`, id); err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		if t, err = scanToken(tx.QueryRow(ctx, `SELECT `+tokenColumns+` FROM `+tokenFrom+` WHERE t.id = $1`, id)); err != nil {
			return fmt.Errorf("read revoked token: %w", err)
		}
		if audit.Detail == "" {
			audit.Detail = fmt.Sprintf("%s role=%s", t.Name, t.Role)
		}
		return addAuditTx(ctx, tx, audit)
	})
	if err != nil {
		return APIToken{}, wrapAction("revoke token", err)
	}
	return t, nil
}

func addAuditTx(ctx context.Context, tx pgx.Tx, e model.AuditEntry) error {
	if _, err := tx.Exec(ctx, `INSERT INTO audit_log (actor, action, event_id, channel, detail, ip)
		VALUES ($1, $2, NULLIF($3, ''), NULLIF($4, ''), $5, $6)`,
		e.Actor, e.Action, e.EventID, e.Channel, e.Detail, e.IP); err != nil {
		return fmt.Errorf("add audit entry %q: %w", e.Action, err)
	}
	return nil
}

// Audit page sizes.
const (
	DefaultAuditLimit = 50
	MaxAuditLimit     = 200
)

// FindAudit returns one keyset page of the audit log, newest first, filtered by f.
func (db *DB) FindAudit(ctx context.Context, f model.AuditFilter) (model.AuditPage, error) {
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = DefaultAuditLimit
	case limit > MaxAuditLimit:
		limit = MaxAuditLimit
	}
	if f.EventID != "" && !model.ValidEventID(f.EventID) {
		return model.AuditPage{}, model.Errork(model.EINVALID, "err.event_id", "invalid event id: use 1 to 36 letters, digits, '_' or '-'")
	}
	if len(f.Actor) > 254 || len(f.Action) > 100 {
		return model.AuditPage{}, model.Errork(model.EINVALID, "err.filter_long", "filter text is too long")
	}
	var (
		afterAt *time.Time
		afterID int64
	)
	if f.Cursor != "" {
		at, n, err := decodeKeys(f.Cursor, 1)
		if err != nil {
			return model.AuditPage{}, err
		}
		afterAt, afterID = &at, n[0]
	}
	var from, to *time.Time
	if !f.From.IsZero() {
		from = &f.From
	}
	if !f.To.IsZero() {
		to = &f.To
	}
	rows, err := db.Pool.Query(ctx, `SELECT id, at, actor, action, COALESCE(event_id, ''), COALESCE(channel, ''), detail, ip
		FROM audit_log a
		WHERE ($1 = '' OR a.actor ILIKE '%' || $1 || '%')
		  AND ($2 = '' OR a.action = $2)
		  AND ($3 = '' OR a.event_id = $3)
		  AND ($4::timestamptz IS NULL OR a.at >= $4)
		  AND ($5::timestamptz IS NULL OR a.at < $5)
		  AND ($6::timestamptz IS NULL OR (a.at, a.id) < ($6, $7))
		ORDER BY a.at DESC, a.id DESC LIMIT $8`,
		escapeLike(f.Actor), f.Action, f.EventID, from, to, afterAt, afterID, limit+1)
	if err != nil {
		return model.AuditPage{}, fmt.Errorf("find audit entries: %w", err)
	}
	entries, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (model.AuditEntry, error) {
		var e model.AuditEntry
		err := row.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.EventID, &e.Channel, &e.Detail, &e.IP)
		return e, err
	})
	if err != nil {
		return model.AuditPage{}, fmt.Errorf("find audit entries: %w", err)
	}
	page := model.AuditPage{Entries: entries}
	if len(entries) > limit {
		page.Entries = entries[:limit]
		last := page.Entries[limit-1]
		page.NextCursor = encodeKeys(last.At, last.ID)
	}
	return page, nil
}
