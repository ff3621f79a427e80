package auth

// Administration by managers: users and API tokens, every change audited with who did it
// and from where, and the re-check live streams use so a role change, a disable or a revocation
// reaches connections that are already open.

import (
	"context"
	"encoding/hex"
	"fmt"
	"unicode/utf8"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
)

// Users lists the users whose email contains q (all when q is empty), by email.
func (s *Service) Users(ctx context.Context, q string) ([]model.User, error) {
	return s.store.FindUsers(ctx, q)
}

// Tokens lists the API tokens, live ones first (secrets are never stored, so never shown).
func (s *Service) Tokens(ctx context.Context) ([]db.APIToken, error) {
	return s.store.FindTokens(ctx)
}

// ChangeRole gives user id a new role. It takes effect on the user's next request, including on
// sessions already open (every request re-reads the role). Demoting the last manager is ECONFLICT.
func (s *Service) ChangeRole(ctx context.Context, actor model.Principal, ip string, id int64, role model.Role) (model.User, error) {
	if _, err := model.ParseRole(string(role)); err != nil {
		return model.User{}, err
	}
	return s.store.UpdateUser(ctx, id, db.UserChange{Role: role},
		model.AuditEntry{Actor: actor.Name, Action: model.AuditUserRole, IP: ip})
}

// SetDisabled disables (ending every session of the user at once) or re-enables user id. Nobody can
// disable their own account, and the last manager cannot be disabled (ECONFLICT).
func (s *Service) SetDisabled(ctx context.Context, actor model.Principal, ip string, id int64, disabled bool) (model.User, error) {
	if disabled && actor.UserID == id {
		return model.User{}, model.Errork(model.ECONFLICT, "err.disable_self", "you cannot disable your own account")
	}
	action := model.AuditUserEnable
	if disabled {
		action = model.AuditUserDisable
	}
	return s.store.UpdateUser(ctx, id, db.UserChange{Disabled: &disabled},
		model.AuditEntry{Actor: actor.Name, Action: action, IP: ip})
}

// ResetPassword sets a new password for user id and ends the user's sessions.
func (s *Service) ResetPassword(ctx context.Context, actor model.Principal, ip string, id int64, password string) (model.User, error) {
	if err := checkPassword(password); err != nil {
		return model.User{}, err
	}
	h, err := s.hash(ctx, password)
	if err != nil {
		return model.User{}, fmt.Errorf("reset password: %w", err)
	}
	return s.store.UpdateUser(ctx, id, db.UserChange{PasswordHash: h},
		model.AuditEntry{Actor: actor.Name, Action: model.AuditUserPassword, IP: ip})
}

// RevokeToken revokes API token id: its next request is refused. Revoking twice is a no-op.
func (s *Service) RevokeToken(ctx context.Context, actor model.Principal, ip string, id int64) (db.APIToken, error) {
	return s.store.RevokeTokenAudited(ctx, id, model.AuditEntry{Actor: actor.Name, Action: model.AuditTokenRevoke, IP: ip})
}

// Revalidate re-reads a principal taken from a request that is still running (a live stream): the
// session must still exist and its user be enabled, and the role returned is the user's current
// one; a token must be live (not revoked or expired, its owner enabled and holding the token's
// role). Anything else is EUNAUTHORIZED. Streams call it every few
// seconds and close when it fails or when the role no longer grants what the stream shows.
func (s *Service) Revalidate(ctx context.Context, p model.Principal) (model.Principal, error) {
	gone := model.Errorf(model.EUNAUTHORIZED, "session ended")
	switch {
	case p.SessionID != "":
		idHash, err := hex.DecodeString(p.SessionID)
		if err != nil {
			return model.Principal{}, gone
		}
		_, user, err := s.store.FindSession(ctx, idHash, s.cfg.AbsoluteTimeout)
		if err != nil {
			return model.Principal{}, err
		}
		return principalOfUser(user, idHash), nil
	case p.TokenID != 0:
		ok, err := s.store.TokenActive(ctx, p.TokenID)
		if err != nil {
			return model.Principal{}, err
		}
		if !ok {
			return model.Principal{}, model.Errorf(model.EUNAUTHORIZED, "invalid, expired or revoked API token")
		}
		return p, nil
	}
	return model.Principal{}, gone
}

// checkPassword applies the password rules of CreateUser.
func checkPassword(password string) error {
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return model.FieldErrorf("password", "err.field.password_short", "%s must be at least %d characters", MinPasswordLen)
	}
	if len(password) > maxPasswordLen {
		return model.FieldErrorf("password", "err.field.password_long", "%s must be at most %d bytes", maxPasswordLen)
	}
	return nil
}

// ClearLockout lifts the login lockout of user id: failures counted against the account and
// against any address trying it are forgotten (device cookie counters are not: they only ever lock
// the browser that failed). Audited with the actor and the number of locks lifted.
func (s *Service) ClearLockout(ctx context.Context, actor model.Principal, ip string, id int64) (model.User, error) {
	return s.store.ClearLockout(ctx, id, model.AuditEntry{Actor: actor.Name, Action: model.AuditUserUnlock, IP: ip})
}

// LockedOut reports which of users are locked out of logging in right now (by user id), for the
// users page.
func (s *Service) LockedOut(ctx context.Context, users []model.User) (map[int64]bool, error) {
	emails := make([]string, len(users))
	for i, u := range users {
		emails[i] = u.Email
	}
	locked, err := s.store.LockedOutEmails(ctx, emails)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]bool, len(locked))
	for _, u := range users {
		if locked[u.Email] {
			out[u.ID] = true
		}
	}
	return out, nil
}
