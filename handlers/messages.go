package handlers

import (
	"github.com/labstack/echo/v4"

	"github.com/marketing-platform/distribution/views"
)

// userMessage is err as a person reads it on a page (a form's problem, a toast, an error page):
// the catalogue text of the error's key in the viewer's language, naming inputs by their labels.
// The JSON API answers with the error's English Message and code instead (web.classify).
func userMessage(c echo.Context, err error) string { return views.ErrorText(Lang(c), err) }
