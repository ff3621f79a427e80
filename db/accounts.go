package db

// Accounts: users, server-side sessions, API tokens, login throttling and the audit log.
// Every time is taken from the database clock (now()); the auth package passes durations, never instants.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/marketing-platform/distribution/model"
)

// Session is one row of sessions. IDHash is the SHA-256 of the cookie value.
type Session struct {
	IDHash     []byte
	UserID     int64
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	IP         string
	UserAgent  string
	// Stale is true when last_seen_at is more than a minute old (by the DB clock): only then is
	// TouchSession worth a write.
	Stale bool
}

// APIToken is one row of api_tokens (the hash never leaves the store).
type APIToken struct {
	ID         int64
	Name       string
	Role       model.Role
	CreatedBy  string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// NormalizeEmail is the one spelling of an email address the store keeps and looks up.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

const userColumns = `id, email, role, disabled, password_hash, created_at`

func scanUser(row pgx.Row) (model.User, error) {
	var u model.User
	var role string
	err := row.Scan(&u.ID, &u.Email, &role, &u.Disabled, &u.PasswordHash, &u.CreatedAt)
	u.Role = model.Role(role)
	return u, err
}

// CreateUser inserts a user. The email is trimmed and lowercased; a duplicate is ECONFLICT.
func (db *DB) CreateUser(ctx context.Context, email, passwordHash string, role model.Role) (model.User, error) {
	email = NormalizeEmail(email)
	u, err := scanUser(db.Pool.QueryRow(ctx, `
		INSERT INTO users (email, password_hash, role) VALUES ($1, $2, $3)
		RETURNING `+userColumns, email, passwordHash, string(role)))
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "uk_users_email" {
			return model.User{}, model.Errorf(model.ECONFLICT, "a user with email %q already exists", email)
		}
		if errors.As(err, &pgErr) && pgErr.Code == "23514" { // check_violation: role or email shape
			return model.User{}, model.Errorf(model.EINVALID, "invalid user (email must be 3 to 254 characters, role marketer, staff or manager)")
		}
		return model.User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// FindUserByEmail returns the user with that email (normalized), or ENOTFOUND.
func (db *DB) FindUserByEmail(ctx context.Context, email string) (model.User, error) {
	u, err := scanUser(db.Pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, NormalizeEmail(email)))
	if errors.Is(err, pgx.ErrNoRows) {
		return model.User{}, model.Errorf(model.ENOTFOUND, "user not found")
	}
	if err != nil {
		return model.User{}, fmt.Errorf("find user by email: %w", err)
	}
	return u, nil
}

// FindUserByID returns the user, or ENOTFOUND.
func (db *DB) FindUserByID(ctx context.Context, id int64) (model.User, error) {
	u, err := scanUser(db.Pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return model.User{}, model.Errorf(model.ENOTFOUND, "user not found")
	}
	if err != nil {
		return model.User{}, fmt.Errorf("find user by id: %w", err)
	}
	return u, nil
}

// SetUserDisabled disables or re-enables a user; disabling also ends every session of the user.
func (db *DB) SetUserDisabled(ctx context.Context, id int64, disabled bool) error {
	return pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET disabled = $2, updated_at = now() WHERE id = $1`, id, disabled)
		if err != nil {
			return fmt.Errorf("set user disabled: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return model.Errorf(model.ENOTFOUND, "user not found")
		}
		if disabled {
			if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id); err != nil {
				return fmt.Errorf("end sessions of disabled user: %w", err)
			}
		}
		return notifyPrincipalTx(ctx, tx, id)
	})
}

// maxUserAgent bounds a stored User-Agent, in characters.
const maxUserAgent = 512

// CreateSession stores a new session that expires after idle (sliding, see TouchSession) and never
// later than absolute after creation. It also drops the user's already expired sessions.
// userAgent is the client's header, kept as a clue for people: stored as valid UTF-8 on one line,
// at most maxUserAgent characters (a client sending other bytes must still be able to log in).
func (db *DB) CreateSession(ctx context.Context, idHash []byte, userID int64, idle, absolute time.Duration, ip, userAgent string) error {
	userAgent = model.SanitizeLine(userAgent, maxUserAgent)
	return pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO sessions (id, user_id, expires_at, ip, user_agent)
			VALUES ($1, $2, now() + least($3::float8, $4::float8) * interval '1 second', $5, $6)`,
			idHash, userID, idle.Seconds(), absolute.Seconds(), ip, userAgent); err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND expires_at <= now()`, userID); err != nil {
			return fmt.Errorf("prune expired sessions: %w", err)
		}
		return nil
	})
}

// FindSession returns a live session and its user: not expired, created less than maxAge ago,
// and the user not disabled. Anything else is EUNAUTHORIZED.
func (db *DB) FindSession(ctx context.Context, idHash []byte, maxAge time.Duration) (Session, model.User, error) {
	var s Session
	var u model.User
	var role string
	err := db.Pool.QueryRow(ctx, `
		SELECT s.id, s.user_id, s.created_at, s.last_seen_at, s.expires_at, s.ip, s.user_agent,
		       s.last_seen_at < now() - interval '1 minute',
		       u.id, u.email, u.role, u.disabled, u.password_hash, u.created_at
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id = $1 AND s.expires_at > now()
		  AND s.created_at > now() - $2::float8 * interval '1 second'
		  AND NOT u.disabled`, idHash, maxAge.Seconds()).Scan(
		&s.IDHash, &s.UserID, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt, &s.IP, &s.UserAgent, &s.Stale,
		&u.ID, &u.Email, &role, &u.Disabled, &u.PasswordHash, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, model.User{}, model.Errorf(model.EUNAUTHORIZED, "session expired or unknown")
	}
	if err != nil {
		return Session{}, model.User{}, fmt.Errorf("find session: %w", err)
	}
	u.Role = model.Role(role)
	return s, u, nil
}

// TouchSession slides a live session's idle expiry to now()+idle, capped at created_at+absolute.
func (db *DB) TouchSession(ctx context.Context, idHash []byte, idle, absolute time.Duration) error {
	_, err := db.Pool.Exec(ctx, `
		UPDATE sessions SET last_seen_at = now(),
		       expires_at = least(now() + $2::float8 * interval '1 second',
		                          created_at + $3::float8 * interval '1 second')
		WHERE id = $1 AND expires_at > now()`, idHash, idle.Seconds(), absolute.Seconds())
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession removes one session (logout). Deleting an unknown session is not an error.
func (db *DB) DeleteSession(ctx context.Context, idHash []byte) error {
	// One statement (one transaction): the user's open streams hear of it only once it commits.
	if _, err := db.Pool.Exec(ctx, `WITH d AS (DELETE FROM sessions WHERE id = $1 RETURNING user_id)
		SELECT pg_notify('`+PrincipalChannel+`', user_id::text) FROM d`, idHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions removes every session of a user (password change, disable, role change).
func (db *DB) DeleteUserSessions(ctx context.Context, userID int64) error {
	if _, err := db.Pool.Exec(ctx, `WITH d AS (DELETE FROM sessions WHERE user_id = $1)
		SELECT pg_notify('`+PrincipalChannel+`', $1::bigint::text)`, userID); err != nil {
		return fmt.Errorf("delete user sessions: %w", err)
	}
	return nil
}

// CreateToken stores a new API token by the SHA-256 of its secret and returns its id.
func (db *DB) CreateToken(ctx context.Context, name string, role model.Role, hash []byte, createdBy string) (int64, error) {
	var id int64
	err := db.Pool.QueryRow(ctx, `
		INSERT INTO api_tokens (name, role, token_hash, created_by) VALUES ($1, $2, $3, $4)
		RETURNING id`, name, string(role), hash, createdBy).Scan(&id)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23514" {
			return 0, model.Errorf(model.EINVALID, "invalid token (name must be 1 to 100 characters, role marketer, staff or manager)")
		}
		return 0, fmt.Errorf("create token: %w", err)
	}
	return id, nil
}

// FindTokenByHash returns the unrevoked token with that hash, or EUNAUTHORIZED. It records
// last_used_at, but writes at most once a minute per token so busy clients cost no extra writes.
func (db *DB) FindTokenByHash(ctx context.Context, hash []byte) (APIToken, error) {
	var t APIToken
	var role string
	err := db.Pool.QueryRow(ctx, `
		WITH t AS (
			SELECT id, name, role, created_by, created_at, last_used_at, revoked_at
			FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL
		), used AS (
			UPDATE api_tokens a SET last_used_at = now() FROM t
			WHERE a.id = t.id AND (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute')
		)
		SELECT id, name, role, created_by, created_at, last_used_at, revoked_at FROM t`, hash).Scan(
		&t.ID, &t.Name, &role, &t.CreatedBy, &t.CreatedAt, &t.LastUsedAt, &t.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return APIToken{}, model.Errorf(model.EUNAUTHORIZED, "invalid or revoked API token")
	}
	if err != nil {
		return APIToken{}, fmt.Errorf("find token: %w", err)
	}
	t.Role = model.Role(role)
	return t, nil
}

// RevokeToken revokes a token; revoking twice is a no-op, an unknown id is ENOTFOUND.
func (db *DB) RevokeToken(ctx context.Context, id int64) error {
	tag, err := db.Pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return model.Errorf(model.ENOTFOUND, "token not found")
	}
	return nil
}

// ThrottlePolicy says how many failures within Window lock a key, and for how long.
type ThrottlePolicy struct {
	MaxFailures int
	Window      time.Duration
	Lockout     time.Duration
}

// RecordLoginFailure counts one failed login for key ("account:<email>" or "ip:<addr>"). A window
// older than p.Window starts over; reaching p.MaxFailures locks the key for p.Lockout. It reports
// whether the key is now locked.
func (db *DB) RecordLoginFailure(ctx context.Context, key string, p ThrottlePolicy) (locked bool, err error) {
	err = db.Pool.QueryRow(ctx, `
		INSERT INTO login_throttle AS t (key, failures, window_start, locked_until)
		VALUES ($1, 1, now(), CASE WHEN $2::int <= 1 THEN now() + $4::float8 * interval '1 second' END)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN t.window_start <= now() - $3::float8 * interval '1 second' THEN 1 ELSE t.failures + 1 END,
			window_start = CASE WHEN t.window_start <= now() - $3::float8 * interval '1 second' THEN now() ELSE t.window_start END,
			locked_until = CASE
				WHEN (CASE WHEN t.window_start <= now() - $3::float8 * interval '1 second' THEN 1 ELSE t.failures + 1 END) >= $2::int
				THEN now() + $4::float8 * interval '1 second'
				ELSE t.locked_until END
		RETURNING coalesce(locked_until > now(), false)`,
		key, p.MaxFailures, p.Window.Seconds(), p.Lockout.Seconds()).Scan(&locked)
	if err != nil {
		return false, fmt.Errorf("record login failure: %w", err)
	}
	return locked, nil
}

// LoginAllowed reports whether key is not locked out right now.
func (db *DB) LoginAllowed(ctx context.Context, key string) (bool, error) {
	var locked bool
	err := db.Pool.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM login_throttle WHERE key = $1 AND locked_until > now())`, key).Scan(&locked)
	if err != nil {
		return false, fmt.Errorf("check login throttle: %w", err)
	}
	return !locked, nil
}

// ResetLoginFailures forgets the failures of key (after a successful login).
func (db *DB) ResetLoginFailures(ctx context.Context, key string) error {
	if _, err := db.Pool.Exec(ctx, `DELETE FROM login_throttle WHERE key = $1`, key); err != nil {
		return fmt.Errorf("reset login failures: %w", err)
	}
	return nil
}

// PruneAccounts deletes expired sessions and throttle rows idle for longer than olderThan.
func (db *DB) PruneAccounts(ctx context.Context, olderThan time.Duration) error {
	if _, err := db.Pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= now()`); err != nil {
		return fmt.Errorf("prune sessions: %w", err)
	}
	if _, err := db.Pool.Exec(ctx, `
		DELETE FROM login_throttle
		WHERE window_start < now() - $1::float8 * interval '1 second'
		  AND (locked_until IS NULL OR locked_until < now())`, olderThan.Seconds()); err != nil {
		return fmt.Errorf("prune login throttle: %w", err)
	}
	return nil
}

// AddAudit appends one audit entry; At is the DB clock, whatever e.At says.
func (db *DB) AddAudit(ctx context.Context, e model.AuditEntry) error {
	_, err := db.Pool.Exec(ctx, `
		INSERT INTO audit_log (actor, action, event_id, channel, detail, ip)
		VALUES ($1, $2, nullif($3, ''), nullif($4, ''), $5, $6)`,
		e.Actor, e.Action, e.EventID, e.Channel, e.Detail, e.IP)
	if err != nil {
		return fmt.Errorf("add audit entry %q: %w", e.Action, err)
	}
	return nil
}
