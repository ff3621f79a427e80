package model

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Error codes: the one vocabulary every layer speaks. HTTPStatus maps them to HTTP statuses.
const (
	EINVALID      = "invalid"      // 400
	EUNAUTHORIZED = "unauthorized" // 401
	EFORBIDDEN    = "forbidden"    // 403
	ENOTFOUND     = "not_found"    // 404
	ECONFLICT     = "conflict"     // 409
	ETOOLARGE     = "too_large"    // 413
	ETOOMANY      = "too_many"     // 429
	EUNAVAILABLE  = "unavailable"  // 503
	EINTERNAL     = "internal"     // 500

	// ESTARTED is a 409 of its own: the event's distribution has started, so the event can no
	// longer be edited or deleted (a stable code clients can tell from other conflicts).
	ESTARTED = "already_started"

	// ENEEDSRECONNECT is a 409 of its own: the channel cannot be retried until the store's
	// account on it is connected again (its token expired or was revoked).
	ENEEDSRECONNECT = "needs_reconnect"
)

// httpStatus is the one error code → HTTP status map: JSON API errors, HTML error pages, forms
// re-rendered with a problem and Datastar toasts all answer with it. It lives here, not in web,
// because handlers (imported by web) need it too.
var httpStatus = map[string]int{
	EINVALID:      http.StatusBadRequest,
	EUNAUTHORIZED: http.StatusUnauthorized,
	EFORBIDDEN:    http.StatusForbidden,
	ENOTFOUND:     http.StatusNotFound,
	ECONFLICT:     http.StatusConflict,
	ETOOLARGE:     http.StatusRequestEntityTooLarge,
	ETOOMANY:      http.StatusTooManyRequests,
	EUNAVAILABLE:  http.StatusServiceUnavailable,
	EINTERNAL:     http.StatusInternalServerError,
	ESTARTED:      http.StatusConflict,

	ENEEDSRECONNECT: http.StatusConflict,

	ECHANNELUNAVAILABLE: http.StatusBadRequest, // preflight.go
	EQUOTAEXHAUSTED:     http.StatusConflict,
}

// HTTPStatus returns the HTTP status of an error code; an unknown code is a 500.
func HTTPStatus(code string) int {
	if s, ok := httpStatus[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// CodeOfHTTPStatus is HTTPStatus backwards: the code of an HTTP status raised outside the
// vocabulary (echo's routing, body limit, CSRF), ok false when no code maps to it.
func CodeOfHTTPStatus(status int) (code string, ok bool) {
	for c, s := range httpStatus {
		// ECONFLICT is the code of a plain 409, EINVALID of a plain 400.
		if s == status && (s != http.StatusConflict || c == ECONFLICT) && (s != http.StatusBadRequest || c == EINVALID) {
			return c, true
		}
	}
	return "", false
}

// Error is an application error whose Message is safe to show to the user.
type Error struct {
	Code    string
	Message string // English: the JSON API's message, logs
	// Key names the error's text in the UI catalogue and Args are that text's arguments, so a
	// page shows the error in its reader's language ("" when the error has no text of its own:
	// pages then show the generic text of its code). An argument of a model type (Channel, Role,
	// ChannelStatus, Field...) is shown by its display name.
	Key  string
	Args []any
	// Field is the input the error is about (its JSON or form name), "" when none: a page names
	// it by its label, before Args.
	Field string
	// Also are further problems found in the same input (a form's other fields): pages show
	// them after this one, the API answers with this one alone.
	Also []*Error
}

// JoinErrors returns nil for no errors, else the first with the other application errors in
// its Also (the first error of a request is what the API reports, unchanged).
func JoinErrors(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	first, ok := errs[0].(*Error)
	if !ok {
		return errs[0]
	}
	joined := *first
	for _, err := range errs[1:] {
		if e, ok := err.(*Error); ok {
			joined.Also = append(joined.Also, e)
		}
	}
	return &joined
}

// Field is an input's JSON or form name as an error argument: pages show its label.
type Field string

// Fields are several inputs' names as one error argument ("status, channel"); pages show their
// labels.
type Fields []string

func (f Fields) String() string { return strings.Join(f, ", ") }

// Errork returns an *Error with a catalogue key: Message is format with args (English, for the
// API), a page shows the text of key in its reader's language with the same args.
func Errork(code, key, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Key: key, Args: args}
}

// FieldErrorf returns an invalid-input error about field: Message is format with field and then
// args (so format starts with the field's %s), a page shows the text of key with the field's
// label and then args.
func FieldErrorf(field, key, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Message: fmt.Sprintf(format, append([]any{field}, args...)...),
		Key: key, Args: args, Field: field}
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with a formatted, user-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL otherwise, "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-safe message of err; internal errors get a generic text.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// AlreadyStartedError is the answer to starting an event that already has a distribution. It
// unwraps to an ECONFLICT error, and carries the existing distribution so the API can return it
// with the 409.
type AlreadyStartedError struct {
	Distribution Distribution
}

func (e *AlreadyStartedError) Error() string {
	return ECONFLICT + ": distribution already started"
}

// Unwrap lets ErrorCode / ErrorMessage see the conflict.
func (e *AlreadyStartedError) Unwrap() error {
	return Errork(ECONFLICT, "action.already_started", "distribution already started")
}
