package model

import (
	"fmt"
	"strings"
	"time"
)

// Pre-flight reasons (issue 14): why a channel cannot be started or retried for an event now.
// They are stable codes: the API's `channels[].reason`, the page's data-reason hook.
const (
	PreflightNoStore        = "no_store"             // the event has no store; the channel publishes as a store's account
	PreflightNoAccount      = "no_account"           // the store has no connected account on the channel
	PreflightNeedsReconnect = "needs_reconnect"      // the account's token was refused: connect it again
	PreflightExpired        = "account_expired"      // the account's token expired
	PreflightImageHTTPS     = "image_required_https" // Instagram fetches the image itself: an https URL is required
	PreflightQuota          = "quota_exhausted"      // the account's publishing quota is used up until AvailableAt
)

// Error codes of a refused start.
const (
	// ECHANNELUNAVAILABLE (400): a requested channel cannot be published for this event (no store,
	// no account, an account to reconnect, an image Instagram cannot fetch); nothing was written.
	ECHANNELUNAVAILABLE = "channel_unavailable"
	// EQUOTAEXHAUSTED (409): the account's publishing quota is used up; it frees up at availableAt.
	EQUOTAEXHAUSTED = "quota_exhausted"
)

// ChannelCheck is the pre-flight answer for one channel of one event.
type ChannelCheck struct {
	Channel Channel `json:"channel"`
	// OK: the channel can be started (perhaps to wait: WaitsUntil).
	OK bool `json:"ok"`
	// Reason is one of the Preflight* codes when not OK, "" otherwise.
	Reason string `json:"reason,omitempty"`
	// Detail is an English sentence for the API and logs (never a credential).
	Detail string `json:"detail,omitempty"`
	// AvailableAt is when a quota_exhausted channel frees up.
	AvailableAt *time.Time `json:"availableAt,omitempty"`
	// WaitsUntil: the start is accepted but the channel waits until then (KakaoTalk quiet hours).
	WaitsUntil *time.Time `json:"waitsUntil,omitempty"`
}

// UnavailableError refuses a start or retry naming the channels that cannot go (their checks).
// Its code is EQUOTAEXHAUSTED when every refusal is a quota, ECHANNELUNAVAILABLE otherwise.
type UnavailableError struct {
	Checks []ChannelCheck // the refused channels only
}

// Code is the error code of the refusal.
func (e *UnavailableError) Code() string {
	for _, c := range e.Checks {
		if c.Reason != PreflightQuota {
			return ECHANNELUNAVAILABLE
		}
	}
	return EQUOTAEXHAUSTED
}

func (e *UnavailableError) Error() string { return e.Code() + ": " + e.message() }

func (e *UnavailableError) message() string {
	parts := make([]string, len(e.Checks))
	for i, c := range e.Checks {
		parts[i] = fmt.Sprintf("%s: %s (%s)", c.Channel, c.Detail, c.Reason)
		if c.AvailableAt != nil {
			parts[i] += "; available at " + c.AvailableAt.UTC().Format(time.RFC3339)
		}
	}
	return "channel cannot be published now: " + strings.Join(parts, "; ")
}

// Unwrap lets ErrorCode / ErrorMessage and the pages see the refusal as an application error.
func (e *UnavailableError) Unwrap() error {
	chans := make([]string, len(e.Checks))
	for i, c := range e.Checks {
		chans[i] = string(c.Channel)
	}
	return &Error{Code: e.Code(), Message: e.message(), Key: "err.channel_unavailable", Args: []any{strings.Join(chans, ", ")}}
}
