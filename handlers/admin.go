package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/auth"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

// AccountAdmin manages users and API tokens for managers (auth.Service). Every change is audited
// with the actor and the client IP.
type AccountAdmin interface {
	Users(ctx context.Context, q string) ([]model.User, error)
	CreateUser(ctx context.Context, email, password string, role model.Role, createdBy string) (model.User, error)
	ChangeRole(ctx context.Context, actor model.Principal, ip string, id int64, role model.Role) (model.User, error)
	SetDisabled(ctx context.Context, actor model.Principal, ip string, id int64, disabled bool) (model.User, error)
	ResetPassword(ctx context.Context, actor model.Principal, ip string, id int64, password string) (model.User, error)
	Tokens(ctx context.Context) ([]db.APIToken, error)
	IssueToken(ctx context.Context, spec db.TokenSpec) (string, db.APIToken, error)
	RevokeToken(ctx context.Context, actor model.Principal, ip string, id int64) (db.APIToken, error)
	// LockedOut says which of users are locked out of logging in; ClearLockout lifts a lockout.
	LockedOut(ctx context.Context, users []model.User) (map[int64]bool, error)
	ClearLockout(ctx context.Context, actor model.Principal, ip string, id int64) (model.User, error)
}

func (h *Handlers) accounts() (AccountAdmin, error) {
	if h.deps.Accounts == nil {
		return nil, model.Errorf(model.EUNAVAILABLE, "account administration is not configured")
	}
	return h.deps.Accounts, nil
}

// Audit serves GET /audit (managers): the audit log, newest first, filtered by actor (substring),
// action, event (id), from and to (YYYY-MM-DD inclusive, the reader's zone); keyset cursor. The
// log is read-only: no route edits or deletes an entry.
func (h *Handlers) Audit(c echo.Context) error {
	store, err := h.reportStore()
	if err != nil {
		return err
	}
	p := NewPage(c, "audit.title")
	var v views.AuditView
	bad := func(msg string) error {
		v.Error = msg
		return Render(c, http.StatusBadRequest, views.Audit(p, v))
	}
	in := map[string]string{}
	for _, q := range []struct {
		name string
		max  int
	}{{"actor", maxFilterLen}, {"action", maxIDLen}, {"event", maxIDLen}, {"from", maxIDLen}, {"to", maxIDLen}, {"cursor", maxCursorLen}} {
		s, err := queryLine(c, q.name, q.max)
		if err != nil {
			return bad(strings.Replace(views.T(p.Lang, "audit.bad_filter"), "%s", userMessage(c, err), 1))
		}
		in[q.name] = s
	}
	v = views.AuditView{
		Actor: strings.TrimSpace(in["actor"]), Action: in["action"],
		EventID: strings.TrimSpace(in["event"]), From: in["from"], To: in["to"],
	}
	f := model.AuditFilter{Actor: v.Actor, Action: v.Action, EventID: v.EventID, Cursor: in["cursor"]}
	loc := Zone(c)
	if v.From != "" {
		t, err := time.ParseInLocation(dateLayout, v.From, loc)
		if err != nil {
			return bad(views.T(p.Lang, "reports.bad_date"))
		}
		f.From = t
	}
	if v.To != "" {
		t, err := time.ParseInLocation(dateLayout, v.To, loc)
		if err != nil {
			return bad(views.T(p.Lang, "reports.bad_date"))
		}
		f.To = t.AddDate(0, 0, 1)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return bad(views.T(p.Lang, "reports.bad_range"))
	}
	page, err := store.FindAudit(c.Request().Context(), f)
	if model.ErrorCode(err) == model.EINVALID {
		return bad(strings.Replace(views.T(p.Lang, "audit.bad_filter"), "%s", userMessage(c, err), 1))
	}
	if err != nil {
		return err
	}
	v.Entries = page.Entries
	vals := url.Values{}
	for k, s := range map[string]string{"actor": v.Actor, "action": v.Action, "event": v.EventID, "from": v.From, "to": v.To} {
		if s != "" {
			vals.Set(k, s)
		}
	}
	if f.Cursor != "" {
		v.FirstURL = "/audit?" + vals.Encode()
	}
	if page.NextCursor != "" {
		vals.Set("cursor", page.NextCursor)
		v.NextURL = "/audit?" + vals.Encode()
	}
	return Render(c, http.StatusOK, views.Audit(p, v))
}

// doneFlash maps the done= parameter of the 303 after an admin form to its notice. Only these
// keys exist, so a crafted link cannot put words on the page.
var doneFlash = map[string]string{
	"user_created":   "flash.user_created",
	"role_changed":   "flash.role_changed",
	"user_disabled":  "flash.user_disabled",
	"user_enabled":   "flash.user_enabled",
	"password_reset": "flash.password_reset",
	"unlocked":       "flash.lockout_cleared",
	"token_revoked":  "flash.token_revoked",
}

func flashOf(c echo.Context, lang string) views.Flash {
	if key, ok := doneFlash[c.QueryParam("done")]; ok {
		return views.Flash{Kind: views.ToastOK, Text: views.T(lang, key)}
	}
	return views.Flash{}
}

// userFacing reports whether err carries a message meant for the person who filled the form.
func userFacing(err error) bool {
	switch model.ErrorCode(err) {
	case model.EINVALID, model.ECONFLICT, model.ENOTFOUND:
		return true
	}
	return false
}

// Users serves GET /users (managers): query q filters by email.
func (h *Handlers) Users(c echo.Context) error {
	return h.renderUsers(c, http.StatusOK, views.UsersView{Flash: flashOf(c, Lang(c))})
}

func (h *Handlers) renderUsers(c echo.Context, status int, v views.UsersView) error {
	acc, err := h.accounts()
	if err != nil {
		return err
	}
	p := NewPage(c, "users.title")
	q, err := queryLine(c, "q", 0)
	if err != nil {
		return err
	}
	v.Q = model.Truncate(strings.TrimSpace(q), maxFilterLen)
	if v.Users, err = acc.Users(c.Request().Context(), v.Q); err != nil {
		return err
	}
	if v.LockedOut, err = acc.LockedOut(c.Request().Context(), v.Users); err != nil {
		return err
	}
	if p.Principal != nil {
		v.SelfID = p.Principal.UserID
	}
	if v.NewRole == "" {
		v.NewRole = model.RoleMarketer
	}
	return Render(c, status, views.Users(p, v))
}

// CreateUser serves POST /users (managers; fields email, role, password).
func (h *Handlers) CreateUser(c echo.Context) error {
	acc, err := h.accounts()
	if err != nil {
		return err
	}
	actor, _ := Principal(c)
	email, role := strings.TrimSpace(c.FormValue("email")), model.Role(c.FormValue("role"))
	_, err = acc.CreateUser(c.Request().Context(), email, c.FormValue("password"), role, actor.Name)
	if userFacing(err) {
		return h.renderUsers(c, model.HTTPStatus(model.ErrorCode(err)), views.UsersView{Error: userMessage(c, err), NewEmail: email, NewRole: role})
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/users?done=user_created")
}

// userAction runs one change to the user named by :id and answers 303 to /users with a notice, or
// the users page with the reason it was refused.
func (h *Handlers) userAction(c echo.Context, done string, do func(ctx context.Context, acc AccountAdmin, actor model.Principal, ip string, id int64) error) error {
	acc, err := h.accounts()
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return h.renderUsers(c, http.StatusNotFound, views.UsersView{Error: views.T(Lang(c), "users.bad_id")})
	}
	actor, _ := Principal(c)
	err = do(c.Request().Context(), acc, actor, c.RealIP(), id)
	if userFacing(err) {
		return h.renderUsers(c, model.HTTPStatus(model.ErrorCode(err)), views.UsersView{Error: userMessage(c, err)})
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/users?done="+done)
}

// ChangeUserRole serves POST /users/:id/role (managers; field role). The new role applies to the
// user's very next request, open sessions included (the session re-reads it every request).
func (h *Handlers) ChangeUserRole(c echo.Context) error {
	return h.userAction(c, "role_changed", func(ctx context.Context, acc AccountAdmin, actor model.Principal, ip string, id int64) error {
		_, err := acc.ChangeRole(ctx, actor, ip, id, model.Role(c.FormValue("role")))
		return err
	})
}

// DisableUser serves POST /users/:id/disable (managers): every session of the user ends at once.
func (h *Handlers) DisableUser(c echo.Context) error {
	return h.userAction(c, "user_disabled", func(ctx context.Context, acc AccountAdmin, actor model.Principal, ip string, id int64) error {
		_, err := acc.SetDisabled(ctx, actor, ip, id, true)
		return err
	})
}

// EnableUser serves POST /users/:id/enable (managers).
func (h *Handlers) EnableUser(c echo.Context) error {
	return h.userAction(c, "user_enabled", func(ctx context.Context, acc AccountAdmin, actor model.Principal, ip string, id int64) error {
		_, err := acc.SetDisabled(ctx, actor, ip, id, false)
		return err
	})
}

// ResetUserPassword serves POST /users/:id/password (managers; field password): the user's
// sessions end; they log in with the new password.
func (h *Handlers) ResetUserPassword(c echo.Context) error {
	return h.userAction(c, "password_reset", func(ctx context.Context, acc AccountAdmin, actor model.Principal, ip string, id int64) error {
		_, err := acc.ResetPassword(ctx, actor, ip, id, c.FormValue("password"))
		return err
	})
}

// ClearUserLockout serves POST /users/:id/unlock (managers): failed logins counted against the
// user's account, from any address, are forgotten, so the user can log in from anywhere again.
func (h *Handlers) ClearUserLockout(c echo.Context) error {
	return h.userAction(c, "unlocked", func(ctx context.Context, acc AccountAdmin, actor model.Principal, ip string, id int64) error {
		_, err := acc.ClearLockout(ctx, actor, ip, id)
		return err
	})
}

// Tokens serves GET /tokens (managers).
func (h *Handlers) Tokens(c echo.Context) error {
	return h.renderTokens(c, http.StatusOK, views.TokensView{Flash: flashOf(c, Lang(c))})
}

func (h *Handlers) renderTokens(c echo.Context, status int, v views.TokensView) error {
	acc, err := h.accounts()
	if err != nil {
		return err
	}
	tokens, err := acc.Tokens(c.Request().Context())
	if err != nil {
		return err
	}
	for _, t := range tokens {
		v.Tokens = append(v.Tokens, views.TokenRow{ID: t.ID, Name: t.Name, Role: t.Role, CreatedBy: t.CreatedBy,
			CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt,
			Owner: t.OwnerEmail, OwnerService: t.OwnerService, ExpiresAt: t.ExpiresAt, Expired: t.Expired,
			OwnerBlocked: t.RevokedAt == nil && !t.Expired && !t.Live})
	}
	return Render(c, status, views.Tokens(NewPage(c, "tokens.title"), v))
}

// CreateToken serves POST /tokens (managers; fields name, role, expires: empty, a duration such
// as 720h or 30d, or the last day YYYY-MM-DD in the reader's zone). The token belongs to the
// manager who creates it: it stops working when they are disabled or lose its role. The answer is
// the tokens page showing the new token's secret once (not a redirect: the secret must not travel
// in a URL, and only its hash is stored, so it cannot be shown again).
func (h *Handlers) CreateToken(c echo.Context) error {
	acc, err := h.accounts()
	if err != nil {
		return err
	}
	actor, _ := Principal(c)
	spec := db.TokenSpec{Name: strings.TrimSpace(c.FormValue("name")), Role: model.Role(c.FormValue("role")),
		CreatedBy: actor.Name, OwnerID: actor.UserID}
	if spec.OwnerID == 0 { // a manager's token minting another: it belongs to the same owner
		spec.OwnerID = actor.OwnerID
	}
	expires := strings.TrimSpace(c.FormValue("expires"))
	spec.ExpiresIn, spec.ExpiresAt, err = auth.ParseExpiry(expires, Zone(c))
	var secret string
	if err == nil {
		secret, _, err = acc.IssueToken(c.Request().Context(), spec)
	}
	if userFacing(err) {
		return h.renderTokens(c, model.HTTPStatus(model.ErrorCode(err)), views.TokensView{Error: userMessage(c, err),
			NewName: spec.Name, NewRole: spec.Role, NewExpires: expires})
	}
	if err != nil {
		return err
	}
	return h.renderTokens(c, http.StatusCreated, views.TokensView{NewToken: secret, NewTokenName: spec.Name})
}

// RevokeToken serves POST /tokens/:id/revoke (managers): the token's next request is refused.
func (h *Handlers) RevokeToken(c echo.Context) error {
	acc, err := h.accounts()
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return model.Errork(model.ENOTFOUND, "err.token_not_found", "token not found")
	}
	actor, _ := Principal(c)
	_, err = acc.RevokeToken(c.Request().Context(), actor, c.RealIP(), id)
	if userFacing(err) {
		return h.renderTokens(c, model.HTTPStatus(model.ErrorCode(err)), views.TokensView{Error: userMessage(c, err)})
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/tokens?done=token_revoked")
}
