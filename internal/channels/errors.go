package channels

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/partnersig"
)

// Retry-After bounds for 429 answers.
const (
	defaultRetryAfter = 30 * time.Second
	maxRetryAfter     = 10 * time.Minute
	minRetryAfter     = time.Second
	maxMessageLen     = 200
)

func temporary(status int, msg, detail string) *Error {
	return &Error{Kind: Temporary, HTTPStatus: status, Message: msg, Detail: detail}
}

func permanent(status int, msg, detail string) *Error {
	return &Error{Kind: Permanent, HTTPStatus: status, Message: msg, Detail: detail}
}

// apiError is the protocol's error object: {"error":{"code","message","retryable"}}.
type apiError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
}

// bodyMessage extracts a short, printable message from an error body: the protocol's
// error.message, a top-level message, a string error, or "" when there is none.
func bodyMessage(body []byte) string {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	var e apiError
	if len(v.Error) > 0 && json.Unmarshal(v.Error, &e) == nil && e.Message != "" {
		return sanitize(e.Message)
	}
	var s string
	if len(v.Error) > 0 && json.Unmarshal(v.Error, &s) == nil && s != "" {
		return sanitize(s)
	}
	return sanitize(v.Message)
}

// sanitize makes channel-provided text safe to store and show: valid UTF-8, no control
// characters, collapsed spaces, at most maxMessageLen runes.
func sanitize(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	return model.Truncate(s, maxMessageLen)
}

// statusError maps a non-2xx answer to an Error.
func statusError(status int, hdr http.Header, body []byte, now time.Time) *Error {
	msg := bodyMessage(body)
	detail := fmt.Sprintf("HTTP %d", status)
	if msg != "" {
		detail += ": " + msg
	}
	switch {
	case status >= 300 && status < 400:
		return permanent(status, "the channel endpoint redirected; redirects are not followed",
			fmt.Sprintf("HTTP %d to %s", status, sanitize(hdr.Get("Location"))))
	case status == http.StatusTooManyRequests:
		e := &Error{Kind: RateLimited, HTTPStatus: status, RetryAfter: retryAfter(hdr.Get("Retry-After"), now), Detail: detail}
		e.Message = fmt.Sprintf("the channel is rate limiting requests; trying again in %s", e.RetryAfter)
		return e
	case status == http.StatusUnauthorized && signatureRejected(body):
		// Retrying cannot help: the configuration (the secret) or this host's clock must change.
		return permanent(status, "the channel refused our request signature: the shared secret (secretFile in CHANNELS_CONFIG) does not match the channel's, or this server's clock is wrong", detail)
	case status == http.StatusRequestTimeout:
		return temporary(status, "the channel did not answer in time", detail)
	case status >= 400 && status < 500:
		m := "the channel rejected the post"
		if msg != "" {
			m += ": " + msg
		} else {
			m += fmt.Sprintf(" (HTTP %d)", status)
		}
		return permanent(status, m, detail)
	case status >= 500:
		return temporary(status, fmt.Sprintf("the channel is having problems (HTTP %d)", status), detail)
	}
	return temporary(status, fmt.Sprintf("the channel gave an unexpected answer (HTTP %d)", status), detail)
}

// signatureRejected reports whether a 401 body is a partner v1 signature or timestamp rejection.
func signatureRejected(body []byte) bool {
	var v struct {
		Error apiError `json:"error"`
	}
	if json.Unmarshal(body, &v) != nil {
		return false
	}
	switch v.Error.Code {
	case partnersig.CodeMissing, partnersig.CodeInvalid, partnersig.CodeTimestamp:
		return true
	}
	return false
}

// retryAfter parses a Retry-After header (delay-seconds or HTTP-date), defaulting to 30 s and
// bounded to [1 s, 10 min].
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	d := defaultRetryAfter
	if v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			if n >= 0 {
				d = time.Duration(min(n, int64(maxRetryAfter/time.Second))) * time.Second
			}
		} else if t, err := http.ParseTime(v); err == nil {
			d = t.Sub(now)
		}
	}
	return min(max(d, minRetryAfter), maxRetryAfter)
}

// networkError maps a failed HTTP exchange (no usable answer) to an Error. reqCtx is the
// per-request context, to tell our own request timeout from other causes.
func networkError(err error, reqCtx context.Context) *Error {
	var blocked *blockedAddrError
	switch {
	case errors.As(err, &blocked):
		return permanent(0, "the channel endpoint points to a private or local network address, which is not allowed", blocked.Error())
	case errors.Is(reqCtx.Err(), context.DeadlineExceeded), isTimeout(err):
		return temporary(0, "the channel did not answer in time", err.Error())
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
		return temporary(0, "the connection to the channel was interrupted", err.Error())
	case errors.Is(err, syscall.ECONNREFUSED):
		return temporary(0, "could not reach the channel (connection refused)", err.Error())
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return temporary(0, "could not reach the channel (name not found)", err.Error())
	}
	return temporary(0, "could not reach the channel", err.Error())
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
