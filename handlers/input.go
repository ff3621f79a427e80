package handlers

import (
	"github.com/labstack/echo/v4"

	"github.com/marketing-platform/distribution/internal/model"
)

// Single-line text from the query string and from form fields. Everything a handler reads from
// there (search text, filters, ids, cursors, an email) is one line: a NUL, a control character or
// invalid UTF-8 in it is the client's mistake, answered 400 naming the parameter, and never
// reaches PostgreSQL (which refuses NUL and invalid UTF-8 in text with an error that would be a
// 500). Multi-line fields (an event's description) are not read through these.

// Lengths of single-line inputs, in characters.
const (
	maxEmailLen  = 254 // RFC 5321 path limit
	maxFilterLen = 254 // free-text filters (audit actor, users q)
	maxIDLen     = 100 // ids and enum values; longer is never valid
	maxCursorLen = 200 // keyset cursors (base64 of a few numbers and an id)
)

// queryLine returns query parameter name checked as one line of at most max characters (max <= 0:
// no limit here; the store bounds it).
func queryLine(c echo.Context, name string, max int) (string, error) {
	v := c.QueryParam(name)
	if err := model.CheckLine(name, v, max); err != nil {
		return "", err
	}
	return v, nil
}

// formLine returns form field name checked as one line of at most max characters.
func formLine(c echo.Context, name string, max int) (string, error) {
	v := c.FormValue(name)
	if err := model.CheckLine(name, v, max); err != nil {
		return "", err
	}
	return v, nil
}
