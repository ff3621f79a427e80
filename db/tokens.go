package db

// API tokens: stored by the SHA-256 of their secret, owned by a user or a service account, listed
// with whether they authenticate now, revoked. Times come from the database clock.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/marketing-platform/distribution/internal/model"
)

// APIToken is one row of api_tokens (the hash never leaves the store) with its owner.
type APIToken struct {
	ID         int64
	Name       string
	Role       model.Role
	CreatedBy  string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	// OwnerID is the user the token belongs to (nil: a legacy token the backfill could not place);
	// OwnerEmail and OwnerService describe that user.
	OwnerID      *int64
	OwnerEmail   string
	OwnerService bool
	// OwnerTimeZone is the owner's time zone ("" = the deployment default): what a token's
	// exports and day boundaries use.
	OwnerTimeZone string
	ExpiresAt     *time.Time
	// ExpiresIn is the time left before ExpiresAt by the DB clock when the row was read (0 when the
	// token never expires), so callers need not trust their own clock.
	ExpiresIn time.Duration
	// Expired: ExpiresAt has passed. Live: the token authenticates now (not revoked, not expired,
	// its owner enabled and holding at least the token's role).
	Expired bool
	Live    bool
}

// TokenSpec is a new API token: who it is for and what it may do.
type TokenSpec struct {
	Name      string
	Role      model.Role
	CreatedBy string // the actor, for the list and the audit log
	// OwnerID is the user the token belongs to; 0 makes it belong to the service account
	// "service:<lowercased name>", created (with the token's role) when missing.
	OwnerID int64
	// ExpiresIn (> 0) makes the token expire this long after now by the DB clock; else ExpiresAt
	// (non-nil) at that instant; neither: it never expires.
	ExpiresIn time.Duration
	ExpiresAt *time.Time
}

// serviceAccountSQL is the users.email of the service account owning the tokens named $1.
const serviceAccountSQL = `'service:' || lower($1::text)`

// CreateToken stores a new API token by the SHA-256 of its secret, owned by the service account
// named after it, and returns its id (see CreateOwnedToken).
func (db *DB) CreateToken(ctx context.Context, name string, role model.Role, hash []byte, createdBy string) (int64, error) {
	t, err := db.CreateOwnedToken(ctx, TokenSpec{Name: name, Role: role, CreatedBy: createdBy}, hash)
	return t.ID, err
}

// CreateOwnedToken stores a new API token by the SHA-256 of its secret. The owner must be enabled
// and hold at least the token's role (ECONFLICT otherwise: such a token would never work); an
// expiry must lie in the future (EINVALID). Unknown owner: ENOTFOUND.
func (db *DB) CreateOwnedToken(ctx context.Context, spec TokenSpec, hash []byte) (APIToken, error) {
	if _, err := model.ParseRole(string(spec.Role)); err != nil {
		return APIToken{}, err
	}
	if spec.ExpiresIn < 0 {
		return APIToken{}, model.Errork(model.EINVALID, "err.expiry_past", "the expiry must lie in the future")
	}
	var t APIToken
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		var owner model.User
		var err error
		if spec.OwnerID == 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO users (email, password_hash, role, kind)
				VALUES (`+serviceAccountSQL+`, '', $2, 'service') ON CONFLICT (email) DO NOTHING`,
				spec.Name, string(spec.Role)); err != nil {
				return fmt.Errorf("create service account: %w", err)
			}
			owner, err = scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users
				WHERE email = `+serviceAccountSQL+` FOR SHARE`, spec.Name))
		} else {
			owner, err = scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 FOR SHARE`, spec.OwnerID))
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return model.Errork(model.ENOTFOUND, "err.user_not_found", "token owner not found")
		}
		if err != nil {
			return fmt.Errorf("read token owner: %w", err)
		}
		switch {
		case spec.OwnerID == 0 && !owner.Service:
			return model.Errork(model.ECONFLICT, "err.token_owner_person", "%s is a person's account, not a service account; choose another token name", owner.Email)
		case owner.Disabled:
			return model.Errork(model.ECONFLICT, "err.token_owner_disabled", "%s is disabled: enable it on /users before giving it a token", owner.Email)
		case !owner.Role.AtLeast(spec.Role):
			return model.Errork(model.ECONFLICT, "err.token_owner_role", "%s has role %s, below the token's role %s: change its role on /users first",
				owner.Email, owner.Role, spec.Role)
		}
		var id int64
		err = tx.QueryRow(ctx, `
			INSERT INTO api_tokens (name, role, token_hash, created_by, owner_id, expires_at)
			SELECT $1, $2, $3, $4, $5, e FROM (SELECT CASE
				WHEN $6::float8 > 0 THEN now() + $6::float8 * interval '1 second'
				ELSE $7::timestamptz END AS e) x
			WHERE e IS NULL OR e > now()
			RETURNING id`, spec.Name, string(spec.Role), hash, spec.CreatedBy, owner.ID,
			spec.ExpiresIn.Seconds(), spec.ExpiresAt).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return model.Errork(model.EINVALID, "err.expiry_past", "the expiry must lie in the future")
		}
		if err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23514" {
				return model.Errork(model.EINVALID, "err.token_invalid", "invalid token (name must be 1 to 100 characters, role marketer, staff or manager)")
			}
			return fmt.Errorf("create token: %w", err)
		}
		t, err = scanToken(tx.QueryRow(ctx, `SELECT `+tokenColumns+` FROM `+tokenFrom+` WHERE t.id = $1`, id))
		if err != nil {
			return fmt.Errorf("read new token: %w", err)
		}
		return nil
	})
	if err != nil {
		return APIToken{}, wrapAction("create token", err)
	}
	return t, nil
}

// FindTokenByHash returns the live token with that hash (see APIToken.Live), or EUNAUTHORIZED. It
// records last_used_at, but writes at most once a minute per token so busy clients cost no extra
// writes.
func (db *DB) FindTokenByHash(ctx context.Context, hash []byte) (APIToken, error) {
	t, err := scanToken(db.Pool.QueryRow(ctx, `
		WITH t AS (
			SELECT `+tokenColumns+` FROM `+tokenFrom+` WHERE t.token_hash = $1 AND `+tokenLiveSQL+`
		), used AS (
			UPDATE api_tokens a SET last_used_at = now() FROM t
			WHERE a.id = t.id AND (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute')
		)
		SELECT * FROM t`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return APIToken{}, model.Errorf(model.EUNAUTHORIZED, "invalid, expired or revoked API token")
	}
	if err != nil {
		return APIToken{}, fmt.Errorf("find token: %w", err)
	}
	return t, nil
}

// RevokeToken revokes a token; revoking twice is a no-op, an unknown id is ENOTFOUND. Open streams
// authenticated by the token re-check at once (see tokenWatchSQL).
func (db *DB) RevokeToken(ctx context.Context, id int64) error {
	tag, err := db.Pool.Exec(ctx, `WITH r AS (
			UPDATE api_tokens t SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING `+tokenWatchSQL+` AS k)
		SELECT pg_notify('`+PrincipalChannel+`', k::text) FROM r`, id)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return model.Errork(model.ENOTFOUND, "err.token_not_found", "token not found")
	}
	return nil
}
