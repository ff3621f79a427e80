// Package channels reaches the six distribution channels: one adapter per channel behind the
// Adapter interface, speaking HTTP to the channel's endpoint (or the simulator) with bounded
// timeouts, bounded reads, no redirects and an idempotency key per attempt generation. The
// circuit breaker is the engine's (engine.Breaker): it needs one state for the deployment.
package channels

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// Request is one publication of an event to one channel.
type Request struct {
	EventID     string
	Channel     model.Channel
	Title       string
	Description string
	ImageURL    string
	StoreName   string
	// IdempotencyKey identifies (distribution, channel, attempt generation): resubmitting with the
	// same key returns the same post instead of publishing twice.
	IdempotencyKey string
	// Account is the store's account on the channel, for protocols that publish as the store
	// (AccountAdapter.NeedsAccount); nil otherwise.
	Account *Account
	// Checkpoint keeps protocol state across the attempts of one idempotency key (the Instagram
	// container id); nil = nothing kept (every attempt starts afresh).
	Checkpoint Checkpoint
}

// Account is a store's connected account on a channel: the platform's account id and the
// decrypted credential JSON (model.ParseCredentials). Never logged.
type Account struct {
	StoreID     string
	Ref         string
	Credentials []byte
	// SaveCredentials, when set, replaces the account's stored credentials (sealed again) after
	// the platform renewed a token (naver-cafe); expiresAt is the new token's expiry, nil unknown.
	SaveCredentials func(ctx context.Context, credentials []byte, expiresAt *time.Time) error
}

// String keeps the credentials out of logs and %v.
func (a *Account) String() string {
	if a == nil {
		return "<nil>"
	}
	return "Account{" + a.StoreID + "/" + a.Ref + ", credentials [redacted]}"
}

// GoString is String, for %#v.
func (a *Account) GoString() string { return a.String() }

// Checkpoint stores one value per idempotency key durably (the engine: a table row), written
// before the step it protects, so a retry after a lost answer resumes instead of repeating.
type Checkpoint interface {
	Load(ctx context.Context) (string, error) // "" when nothing is stored
	Save(ctx context.Context, value string) error
}

// AccountAdapter is an Adapter whose protocol publishes as a store's account: the engine loads
// the event's store's account and puts it in Request.Account.
type AccountAdapter interface {
	Adapter
	NeedsAccount() bool
}

// Result is what a successful publication produced; which fields are set depends on the channel
// (DESIGN.md "The six channels").
type Result struct {
	DistributionID     string
	PostID             string
	PostURL            string
	MessageID          string
	EstimatedViews     int
	ImpressionSchedule []model.ImpressionSlot
}

// accountCredentials decodes the store account's credentials of a protocol that publishes as the
// store (instagram-graph, naver-cafe, kakao-sens): no account is a permanent failure with
// noAccount; credentials that do not decode or lack what complete requires need the account to
// be connected again (what names them, detail says what is missing).
func accountCredentials[T any](req Request, ch model.Channel, noAccount, what, detail string, complete func(T) bool) (T, *Error) {
	var cred T
	if req.Account == nil {
		return cred, permanent(0, noAccount, "the event has no store, or its store has no "+string(ch)+" account")
	}
	if err := json.Unmarshal(req.Account.Credentials, &cred); err != nil || !complete(cred) {
		return cred, &Error{Kind: NeedsReconnect, Message: "the store's " + what + " are unreadable; connect the account again", Detail: detail}
	}
	return cred, nil
}

// Adapter publishes to one channel. Publish submits the request, then follows the channel's
// asynchronous status until it is done, calling progress (0..100, never decreasing) along the way.
// It returns a *Error for every failure the channel reported or the network caused.
type Adapter interface {
	Publish(ctx context.Context, req Request, progress func(pct int)) (Result, error)
}

// ErrorKind says how the engine should react to a failure.
type ErrorKind int

const (
	// Temporary failures (timeouts, 5xx, resets) are retried with backoff; they are the only
	// failures the engine's circuit breaker counts.
	Temporary ErrorKind = iota
	// Permanent failures (4xx other than 429) fail the channel at once.
	Permanent
	// RateLimited (429) is retried after RetryAfter without burning an attempt.
	RateLimited
	// NeedsReconnect means the account's credentials are dead (Instagram error 190): the channel
	// fails at once without automatic retries and the account must be connected again.
	NeedsReconnect
)

// Error is a channel failure. Message is plain words a marketer understands; Detail is the raw
// technical detail (status line, body excerpt) shown expandable.
type Error struct {
	Kind       ErrorKind
	HTTPStatus int // 0 when no response was received
	RetryAfter time.Duration
	Message    string
	Detail     string
	// cause is the underlying error when there is one worth matching with errors.Is (e.g.
	// context.Canceled when the caller gave up, so the engine can tell shutdown from failure).
	cause error
}

// Error is the message with its detail in brackets, saying each thing once: the detail of an
// HTTP answer ("HTTP 503: maintenance") replaces the status the message already ends with
// ("… (HTTP 503)"), and the channel's own words are not repeated when the message quotes them.
func (e *Error) Error() string {
	msg, detail := e.Message, e.Detail
	if detail == "" || strings.Contains(msg, detail) {
		return msg
	}
	if e.HTTPStatus != 0 {
		status := fmt.Sprintf("HTTP %d", e.HTTPStatus)
		if strings.HasPrefix(detail, status) {
			msg = strings.TrimSuffix(msg, " ("+status+")")
			if words, ok := strings.CutPrefix(detail, status+": "); ok && strings.Contains(msg, words) {
				detail = status
			}
		}
	}
	return fmt.Sprintf("%s (%s)", msg, detail)
}

// Unwrap returns the underlying cause, if any (context.Canceled / context.DeadlineExceeded when
// the caller's context ended the publication).
func (e *Error) Unwrap() error { return e.cause }

func (k ErrorKind) String() string {
	switch k {
	case Temporary:
		return "temporary"
	case Permanent:
		return "permanent"
	case RateLimited:
		return "rate_limited"
	case NeedsReconnect:
		return "needs_reconnect"
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}
