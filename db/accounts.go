package db

// Accounts: users, server-side sessions, login throttling and the audit log (API tokens: tokens.go).
// Every time is taken from the database clock (now()); the auth package passes durations, never instants.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/marketing-platform/distribution/internal/model"
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

// NormalizeEmail is the one spelling of an email address the store keeps and looks up.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

const userColumns = `id, email, role, disabled, password_hash, created_at, kind = 'service', time_zone`

func scanUser(row pgx.Row) (model.User, error) {
	var u model.User
	var role string
	err := row.Scan(&u.ID, &u.Email, &role, &u.Disabled, &u.PasswordHash, &u.CreatedAt, &u.Service, &u.TimeZone)
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
			return model.User{}, model.Errork(model.ECONFLICT, "err.user_exists", "a user with email %q already exists", email)
		}
		if errors.As(err, &pgErr) && pgErr.Code == "23514" { // check_violation: role or email shape
			return model.User{}, model.Errork(model.EINVALID, "err.user_invalid", "invalid user (email must be 3 to 254 characters, role marketer, staff or manager)")
		}
		return model.User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// FindUserByEmail returns the person with that email (normalized), or ENOTFOUND. Service accounts
// are never found: this is the login's lookup, and they have no password.
func (db *DB) FindUserByEmail(ctx context.Context, email string) (model.User, error) {
	u, err := scanUser(db.Pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1 AND kind = 'user'`, NormalizeEmail(email)))
	if errors.Is(err, pgx.ErrNoRows) {
		return model.User{}, model.Errork(model.ENOTFOUND, "err.user_not_found", "user not found")
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
		return model.User{}, model.Errork(model.ENOTFOUND, "err.user_not_found", "user not found")
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
			return model.Errork(model.ENOTFOUND, "err.user_not_found", "user not found")
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
		       u.id, u.email, u.role, u.disabled, u.password_hash, u.created_at, u.time_zone
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id = $1 AND s.expires_at > now()
		  AND s.created_at > now() - $2::float8 * interval '1 second'
		  AND NOT u.disabled`, idHash, maxAge.Seconds()).Scan(
		&s.IDHash, &s.UserID, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt, &s.IP, &s.UserAgent, &s.Stale,
		&u.ID, &u.Email, &role, &u.Disabled, &u.PasswordHash, &u.CreatedAt, &u.TimeZone)
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

// ThrottlePolicy says how many failures within Window lock a key, and for how long.
type ThrottlePolicy struct {
	MaxFailures int
	Window      time.Duration
	Lockout     time.Duration
}

// ThrottleKey is one counter a login attempt is charged to, with its policy.
type ThrottleKey struct {
	Key    string // "account:<email>", "ip:<addr>", "acctip:<ip key>|<email>" or "device:<nonce>"
	Policy ThrottlePolicy
}

// ReserveLoginAttempt charges one attempt to every key before the password is verified, in one
// transaction: either every key has room and each counts the attempt, or none is charged and ok is
// false (the attempt is throttled). Counting before verifying is what makes the limit hold under
// concurrency: each upsert waits for the row lock of the one before it and sees its count, so
// MaxFailures concurrent attempts get through and the rest are refused. A window older than
// p.Window starts over; the attempt that reaches p.MaxFailures locks the key for p.Lockout, and a
// locked key refuses attempts until locked_until, whatever its window. A successful login hands
// the reservation back (ReleaseLoginAttempt, ResetLoginFailures). locked lists the keys this attempt
// locked (for the log).
func (db *DB) ReserveLoginAttempt(ctx context.Context, keys []ThrottleKey) (ok bool, locked []string, err error) {
	keys = slices.Clone(keys)
	// One order for every transaction, so two attempts charging the same keys cannot deadlock.
	slices.SortFunc(keys, func(a, b ThrottleKey) int { return strings.Compare(a.Key, b.Key) })
	errRefused := errors.New("throttled")
	err = pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		for _, k := range keys {
			var nowLocked bool
			err := tx.QueryRow(ctx, `
				INSERT INTO login_throttle AS t (key, failures, window_start, locked_until)
				VALUES ($1, 1, now(), CASE WHEN $2::int <= 1 THEN now() + $4::float8 * interval '1 second' END)
				ON CONFLICT (key) DO UPDATE SET
					failures = CASE WHEN t.window_start <= now() - $3::float8 * interval '1 second' THEN 1 ELSE t.failures + 1 END,
					window_start = CASE WHEN t.window_start <= now() - $3::float8 * interval '1 second' THEN now() ELSE t.window_start END,
					locked_until = CASE
						WHEN (CASE WHEN t.window_start <= now() - $3::float8 * interval '1 second' THEN 1 ELSE t.failures + 1 END) >= $2::int
						THEN now() + $4::float8 * interval '1 second'
						END
				WHERE t.locked_until IS NULL OR t.locked_until <= now()
				RETURNING locked_until IS NOT NULL`,
				k.Key, k.Policy.MaxFailures, k.Policy.Window.Seconds(), k.Policy.Lockout.Seconds()).Scan(&nowLocked)
			if errors.Is(err, pgx.ErrNoRows) { // locked: the WHERE refused the update
				return errRefused
			}
			if err != nil {
				return fmt.Errorf("reserve login attempt: %w", err)
			}
			if nowLocked {
				locked = append(locked, k.Key)
			}
		}
		return nil
	})
	if errors.Is(err, errRefused) {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	return true, locked, nil
}

// ReleaseLoginAttempt hands back one attempt reserved on key (the login succeeded), lifting the
// lock that attempt may have set when the count falls below p.MaxFailures again.
func (db *DB) ReleaseLoginAttempt(ctx context.Context, key string, p ThrottlePolicy) error {
	if _, err := db.Pool.Exec(ctx, `
		UPDATE login_throttle SET failures = failures - 1,
			locked_until = CASE WHEN failures - 1 < $2::int THEN NULL ELSE locked_until END
		WHERE key = $1 AND failures > 0`, key, p.MaxFailures); err != nil {
		return fmt.Errorf("release login attempt: %w", err)
	}
	return nil
}

// acctIPKeyOf matches the "acctip:<ip key>|<email>" rows of the email in $1 (an ip key never holds
// "|", an email may).
const acctIPKeyOf = `(key LIKE 'acctip:%' AND substr(key, strpos(key, '|') + 1) = $1)`

// LockedOutEmails returns which of emails are locked out right now, per account or for some address.
func (db *DB) LockedOutEmails(ctx context.Context, emails []string) (map[string]bool, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT DISTINCT CASE WHEN key LIKE 'account:%' THEN substr(key, 9) ELSE substr(key, strpos(key, '|') + 1) END
		FROM login_throttle
		WHERE locked_until > now() AND (key LIKE 'account:%' OR key LIKE 'acctip:%')
		  AND CASE WHEN key LIKE 'account:%' THEN substr(key, 9) ELSE substr(key, strpos(key, '|') + 1) END = ANY($1)`, emails)
	if err != nil {
		return nil, fmt.Errorf("find locked out accounts: %w", err)
	}
	locked, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("find locked out accounts: %w", err)
	}
	m := make(map[string]bool, len(locked))
	for _, e := range locked {
		m[e] = true
	}
	return m, nil
}

// ClearLockout forgets every failure counted against user id's account, per account and per
// (address, account), and records audit (its Detail, when empty, says how many locks were lifted),
// in one transaction. Device counters are left alone: they lock only a browser that failed itself.
// Unknown id: ENOTFOUND.
func (db *DB) ClearLockout(ctx context.Context, id int64, audit model.AuditEntry) (model.User, error) {
	var u model.User
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return model.Errork(model.ENOTFOUND, "err.user_not_found", "user not found")
		}
		if err != nil {
			return fmt.Errorf("read user: %w", err)
		}
		var lifted int
		if err := tx.QueryRow(ctx, `WITH d AS (
				DELETE FROM login_throttle WHERE key = 'account:' || $1 OR `+acctIPKeyOf+` RETURNING locked_until)
			SELECT count(*) FILTER (WHERE locked_until > now()) FROM d`, u.Email).Scan(&lifted); err != nil {
			return fmt.Errorf("clear lockout: %w", err)
		}
		if audit.Detail == "" {
			audit.Detail = fmt.Sprintf("%s: %d lockouts cleared", u.Email, lifted)
		}
		return addAuditTx(ctx, tx, audit)
	})
	return u, err
}

// ServerKey returns the secret named name, generating it (32 random bytes) the first time any
// replica asks. Replicas racing to create it all end up with the one that was stored first.
func (db *DB) ServerKey(ctx context.Context, name string) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("server key %s: %w", name, err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO server_keys (name, key) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
		return nil, fmt.Errorf("server key %s: %w", name, err)
	}
	var key []byte
	if err := db.Pool.QueryRow(ctx, `SELECT key FROM server_keys WHERE name = $1`, name).Scan(&key); err != nil {
		return nil, fmt.Errorf("server key %s: %w", name, err)
	}
	return key, nil
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

// PruneAudit deletes audit entries older than retention (AUDIT_RETENTION) and returns how many.
func (db *DB) PruneAudit(ctx context.Context, retention time.Duration) (int64, error) {
	tag, err := db.Pool.Exec(ctx, `DELETE FROM audit_log WHERE at < now() - $1::float8 * interval '1 second'`, retention.Seconds())
	if err != nil {
		return 0, fmt.Errorf("prune audit log: %w", err)
	}
	return tag.RowsAffected(), nil
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

// AddThrottledAudit records one refused (throttled) login from e.IP. All those from one address
// within window share one row of action e.Action whose detail counts them ("N throttled attempts")
// and whose actor is the last account tried, so a flood of refused attempts costs the audit log one
// row per address and window, not one per request. An advisory lock per address makes concurrent
// refusals update that row instead of racing to insert their own.
func (db *DB) AddThrottledAudit(ctx context.Context, e model.AuditEntry, window time.Duration) error {
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('audit_throttled:' || $1, 0))`, e.IP); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
			UPDATE audit_log SET actor = $3,
				detail = (coalesce(substring(detail from '^[0-9]+')::bigint, 1) + 1)::text || ' throttled attempts'
			WHERE id = (SELECT id FROM audit_log WHERE action = $1 AND ip = $2
			            AND at > now() - $4::float8 * interval '1 second' ORDER BY at DESC, id DESC LIMIT 1)`,
			e.Action, e.IP, e.Actor, window.Seconds())
		if err != nil || tag.RowsAffected() > 0 {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO audit_log (actor, action, detail, ip) VALUES ($1, $2, '1 throttled attempts', $3)`,
			e.Actor, e.Action, e.IP)
		return err
	})
	if err != nil {
		return fmt.Errorf("add throttled login audit: %w", err)
	}
	return nil
}
