package views

import "strings"

// FaviconURL is the icon every page links (static.FaviconName under /static/).
const FaviconURL = "/static/favicon.svg"

// sessionEndedHandler runs on every Datastar fetch event of a signed-in page: a 401 from a stream
// or an action means the session is gone (logged out in another tab, expired, disabled), so the
// page goes to the login form, which returns here afterwards. The expression is a constant; the
// path comes from the browser's own location.
const sessionEndedHandler = `evt.detail.type === 'error' && evt.detail.argsRaw.status === '401' && ` + sessionEndedGo

// sessionEndedGo navigates to the login form with the current page as next.
const sessionEndedGo = `location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search))`

// navCurrent reports whether the page at path (query included) belongs to the navigation link
// href: the events link covers the list and the event pages.
func navCurrent(path, href string) bool {
	path, _, _ = strings.Cut(path, "?")
	if href == "/" {
		return path == "/" || strings.HasPrefix(path, "/events/")
	}
	return path == href || strings.HasPrefix(path, href+"/")
}
