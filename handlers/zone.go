package handlers

// The viewer's time zone (issue 15.4): its own setting, independent of the language. A logged-in
// user's zone is a column on users (an API token uses its owner's); an anonymous browser may keep
// one in a cookie; otherwise DEFAULT_TIMEZONE. It decides every time shown, the day boundaries
// of reports, bulk retry and the audit log, and the times of the CSV and Excel exports. The JSON
// API keeps RFC 3339 UTC.

import (
	"cmp"
	"context"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

// ZoneCookie keeps an anonymous browser's time zone (a logged-in user's is stored with the user).
const ZoneCookie = "tz"

// ZoneStore stores a user's time zone (db.DB): "" returns the user to DEFAULT_TIMEZONE.
type ZoneStore interface {
	SetUserTimeZone(ctx context.Context, userID int64, zone string) error
}

// zoneName is the shape of an IANA zone name (also what the users.time_zone check allows).
var zoneName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+/-]{0,63}$`)

// zoneCache keeps the parsed zones: every request resolves one.
var zoneCache sync.Map // name → *time.Location

// LoadZone parses an IANA time zone name ("Asia/Seoul", "UTC"). "Local" and names of another
// shape are refused: a zone is a name from the tz database, never the server's own setting.
func LoadZone(name string) (*time.Location, error) {
	if loc, ok := zoneCache.Load(name); ok {
		return loc.(*time.Location), nil
	}
	if !zoneName.MatchString(name) || name == "Local" {
		return nil, model.Errorf(model.EINVALID, "unknown time zone")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, model.Errorf(model.EINVALID, "unknown time zone")
	}
	zoneCache.Store(name, loc)
	return loc, nil
}

// Zone returns the request's time zone (set by ZoneContext; Asia/Seoul without it).
func Zone(c echo.Context) *time.Location { return views.ZoneOf(c.Request().Context()) }

// ZoneContext is middleware (after authentication) that puts the viewer's time zone into the
// request context, where pages, exports and templates find it.
func (h *Handlers) ZoneContext(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		c.SetRequest(req.WithContext(views.WithZone(req.Context(), h.resolveZone(c))))
		return next(c)
	}
}

func (h *Handlers) resolveZone(c echo.Context) *time.Location {
	if p, ok := Principal(c); ok {
		if p.TimeZone != "" {
			if loc, err := LoadZone(p.TimeZone); err == nil {
				return loc
			}
		}
	} else if ck, err := c.Cookie(ZoneCookie); err == nil && ck.Value != "" {
		if loc, err := LoadZone(ck.Value); err == nil {
			return loc
		}
	}
	return h.defaultZone()
}

func (h *Handlers) defaultZone() *time.Location {
	if h.deps.DefaultZone != nil {
		return h.deps.DefaultZone
	}
	return views.ZoneOf(context.Background())
}

// SetZone serves POST /timezone (form tz, next): a logged-in user's zone is stored with the user
// (every session and token of theirs follows), an anonymous browser's in a cookie. It returns to
// next, like the language switch.
func (h *Handlers) SetZone(c echo.Context) error {
	name := c.FormValue("tz")
	if _, err := LoadZone(name); err != nil {
		return model.Errork(model.EINVALID, "zone.bad", "unknown time zone")
	}
	p, ok := Principal(c)
	switch {
	case ok && p.UserID != 0:
		if h.deps.Zones == nil {
			return model.Errorf(model.EUNAVAILABLE, "time zone settings are not configured")
		}
		if err := h.deps.Zones.SetUserTimeZone(c.Request().Context(), p.UserID, name); err != nil {
			return err
		}
	case ok:
		return model.Errorf(model.EINVALID, "an API token uses its owner's time zone")
	default:
		SetCookie(c, h.deps.SecureCookies, ZoneCookie, name, langCookieMaxAge, http.SameSiteLaxMode)
	}
	return c.Redirect(http.StatusSeeOther, cmp.Or(SafeNext(c.FormValue("next")), "/"))
}
