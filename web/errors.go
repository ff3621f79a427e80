package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/handlers"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

// codeOf maps HTTP statuses raised by echo itself (routing, body limit, CSRF) back to codes.
func codeOf(status int) string {
	switch status {
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusUnsupportedMediaType:
		return model.EINVALID
	}
	if code, ok := model.CodeOfHTTPStatus(status); ok {
		return code
	}
	if status >= 500 {
		return model.EINTERNAL
	}
	return model.EINVALID
}

// apiError is the body of every 4xx/5xx JSON answer: {"error": {"code": "...", "message": "..."}}.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field names the request field an invalid-input error is about (its JSON name), when the
	// error is about one.
	Field string `json:"field,omitempty"`
}

// classify returns the status, code and user-safe message of err. Only *model.Error messages and
// echo's own 4xx texts reach users; anything else is "internal error".
func classify(err error) (status int, code, msg string) {
	var me *model.Error
	var he *echo.HTTPError
	switch {
	case db.Unavailable(err):
		return http.StatusServiceUnavailable, model.EUNAVAILABLE, "the database is unavailable; try again in a few seconds"
	case errors.As(err, &me):
		return model.HTTPStatus(me.Code), me.Code, me.Message
	case errors.As(err, &he):
		status = he.Code
		msg = http.StatusText(status)
		if m, ok := he.Message.(string); ok && status < 500 {
			msg = m
		}
		if status == http.StatusRequestEntityTooLarge {
			msg = "request body is too large"
		}
		if status >= 500 {
			msg = "internal error"
		}
		return status, codeOf(status), msg
	}
	return http.StatusInternalServerError, model.EINTERNAL, "internal error"
}

// pageMessage is err as the person reading lang sees it under the heading of an error page or in
// a Datastar answer: the catalogue text of an application error, never an internal error's text
// ("" when the heading says all). msg is the API's English message of errors raised outside the
// vocabulary (echo's routing, body limit), shown to English readers only.
func pageMessage(lang string, err error, status int, msg string) string {
	if status >= 500 {
		return ""
	}
	if me := (*model.Error)(nil); errors.As(err, &me) {
		return views.ErrorText(lang, err)
	}
	if lang == views.LangEN {
		return msg
	}
	return ""
}

const errorHandledKey = "web.error_handled"

// handleError is echo's HTTPErrorHandler: the one place errors become responses. Internal errors
// are logged with the request id and never shown.
func (s *Server) handleError(err error, c echo.Context) {
	// The request logger hands errors here first and then returns them up the chain, so echo
	// calls this again with the same error: answer once.
	if c.Get(errorHandledKey) != nil {
		return
	}
	c.Set(errorHandledKey, true)
	req := c.Request()
	if c.Response().Committed {
		if !errors.Is(err, context.Canceled) {
			s.logger.Warn("error after response started", slog.String("request_id", requestID(c)),
				slog.String("path", req.URL.Path), slog.Any("error", err))
		}
		return
	}
	if errors.Is(err, context.Canceled) && req.Context().Err() != nil {
		return // the client went away; nobody is listening
	}
	status, code, msg := classify(err)
	if status == http.StatusServiceUnavailable {
		c.Response().Header().Set(echo.HeaderRetryAfter, "5")
	}
	if status >= 500 {
		s.logger.Error("request failed", slog.String("request_id", requestID(c)),
			slog.String("method", req.Method), slog.String("path", req.URL.Path), slog.Any("error", err))
	}
	var werr error
	switch {
	case req.Method == http.MethodHead:
		werr = c.NoContent(status)
	case isMachine(req.URL.Path):
		if status == http.StatusUnauthorized {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="distribution"`)
		}
		body := apiErrorBody{Code: code, Message: msg}
		if me := (*model.Error)(nil); errors.As(err, &me) {
			body.Field = me.Field
		}
		werr = c.JSON(status, apiError{Error: body})
	case isDatastar(c):
		// A toast patch is future work; a plain status line is enough for fetch() to report.
		lang := handlers.Lang(c)
		text := pageMessage(lang, err, status, msg)
		if text == "" {
			text = views.ErrorInfo{Status: status}.Heading(lang)
		}
		werr = c.String(status, text)
	default:
		p := handlers.NewPage(c, "error.title")
		info := views.ErrorInfo{Status: status, Message: pageMessage(p.Lang, err, status, msg)}
		p.Title = info.Heading(p.Lang)
		werr = handlers.Render(c, status, views.ErrorPage(p, info))
	}
	if werr != nil {
		s.logger.Error("write error response", slog.String("request_id", requestID(c)), slog.Any("error", fmt.Errorf("%w (while answering %v)", werr, err)))
	}
}
