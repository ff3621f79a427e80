package handlers

import (
	"cmp"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/marketing-platform/distribution/internal/auth"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

// langCookieMaxAge keeps the language preference for a year.
const langCookieMaxAge = 365 * 24 * time.Hour

// deviceCookieMaxAge keeps a browser known to an account for a year after its last login.
const deviceCookieMaxAge = 365 * 24 * time.Hour

// LoginPage serves GET /login; a visitor who is already logged in goes on to next (or /).
func (h *Handlers) LoginPage(c echo.Context) error {
	next := SafeNext(c.QueryParam("next"))
	if _, ok := Principal(c); ok {
		return c.Redirect(http.StatusSeeOther, cmp.Or(next, "/"))
	}
	return h.renderLogin(c, http.StatusOK, views.LoginForm{Next: next})
}

// Login serves POST /login (fields email, password, next; a plain form post). Success starts a
// new session (any session the browser held is ended first) and redirects 303 to next or /.
// Failure re-renders the form: 401 with one generic message whether or not the account exists,
// 429 while the account or the client IP is locked out.
func (h *Handlers) Login(c echo.Context) error {
	ctx := c.Request().Context()
	next := SafeNext(c.FormValue("next"))
	email, err := formLine(c, "email", maxEmailLen)
	if err != nil {
		return h.renderLogin(c, http.StatusBadRequest, views.LoginForm{Next: next, Error: userMessage(c, err)})
	}
	name := SessionCookieName(h.deps.SecureCookies)
	if ck, err := c.Cookie(name); err == nil && ck.Value != "" {
		if err := h.deps.Auth.Logout(ctx, ck.Value); err != nil {
			return err
		}
	}
	deviceName := DeviceCookieName(h.deps.SecureCookies)
	req := auth.LoginRequest{Email: email, Password: c.FormValue("password"), IP: c.RealIP(), UserAgent: c.Request().UserAgent()}
	if ck, err := c.Cookie(deviceName); err == nil {
		req.DeviceCookie = ck.Value
	}
	res, err := h.deps.Auth.LoginDevice(ctx, req)
	if err != nil {
		form := views.LoginForm{Email: email, Next: next}
		switch code := model.ErrorCode(err); code {
		case model.EUNAUTHORIZED:
			form.Error = views.T(Lang(c), "login.failed")
			return h.renderLogin(c, model.HTTPStatus(code), form)
		case model.ETOOMANY:
			form.Error = views.T(Lang(c), "login.throttled")
			c.Response().Header().Set("Retry-After", "900")
			return h.renderLogin(c, model.HTTPStatus(code), form)
		}
		return err
	}
	SetCookie(c, h.deps.SecureCookies, name, res.Session, h.deps.SessionMaxAge, http.SameSiteLaxMode)
	// The device cookie is sent only with same-site requests (the login form posts same-site) and
	// is kept across logout: it is what spares this browser from lockouts caused by others.
	SetCookie(c, h.deps.SecureCookies, deviceName, res.DeviceCookie, deviceCookieMaxAge, http.SameSiteStrictMode)
	// A new session gets a new CSRF token: the next page load issues one.
	SetCookie(c, h.deps.SecureCookies, CSRFCookieName(h.deps.SecureCookies), "", -1, http.SameSiteStrictMode)
	return c.Redirect(http.StatusSeeOther, cmp.Or(next, "/"))
}

func (h *Handlers) renderLogin(c echo.Context, status int, form views.LoginForm) error {
	p := NewPage(c, "login.title")
	p.Principal = nil // the form is for logging in, whoever the browser was before
	return Render(c, status, views.Login(p, form))
}

// Logout serves POST /logout: the session is deleted server-side, both cookies are cleared, 303 /login.
func (h *Handlers) Logout(c echo.Context) error {
	name := SessionCookieName(h.deps.SecureCookies)
	if ck, err := c.Cookie(name); err == nil && ck.Value != "" {
		if err := h.deps.Auth.Logout(c.Request().Context(), ck.Value); err != nil {
			return err
		}
	}
	SetCookie(c, h.deps.SecureCookies, name, "", -1, http.SameSiteLaxMode)
	SetCookie(c, h.deps.SecureCookies, CSRFCookieName(h.deps.SecureCookies), "", -1, http.SameSiteStrictMode)
	return c.Redirect(http.StatusSeeOther, "/login")
}

// SetLang serves POST /lang (fields lang = ko|en, next): it stores the preference in the lang cookie
// and returns to next. A POST, so that no GET changes state.
func (h *Handlers) SetLang(c echo.Context) error {
	lang := views.ParseLang(c.FormValue("lang"))
	if lang == "" {
		return model.FieldErrorf("lang", "err.field.lang", "%s must be ko or en")
	}
	SetCookie(c, h.deps.SecureCookies, LangCookie, lang, langCookieMaxAge, http.SameSiteLaxMode)
	return c.Redirect(http.StatusSeeOther, cmp.Or(SafeNext(c.FormValue("next")), "/"))
}
