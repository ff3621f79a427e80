package channels

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/partnersig"
)

// Publication statuses of the protocol (see package simulator for the protocol).
const (
	pubInProgress = "IN_PROGRESS"
	pubSuccess    = "SUCCESS"
	pubFailed     = "FAILED"
)

// wirePublication is the protocol's publication object (submit and status answers).
type wirePublication struct {
	ID       string      `json:"id"`
	Status   string      `json:"status"`
	Progress int         `json:"progress"`
	Result   *wireResult `json:"result"`
	Error    *apiError   `json:"error"`
}

type wireSubmit struct {
	EventID     string `json:"eventId"`
	Title       string `json:"title"`
	Description string `json:"description"`
	ImageURL    string `json:"imageUrl"`
	StoreName   string `json:"storeName"`
}

const maxPublicationIDLen = 200

// HTTPAdapter publishes to one channel over the channel protocol: submit with an idempotency
// key, then poll the publication's status until SUCCESS or FAILED. The six channels share it;
// their differences are the result fields (channelFields).
type HTTPAdapter struct {
	ch     model.Channel
	base   string            // endpoint root without trailing slash
	badCfg *Error            // set when the endpoint is unusable: every Publish fails with it
	secret partnersig.Secret // partner v1 shared secret; nil = unsigned (tests only)
	client *http.Client
	opts   Options
	logger *slog.Logger
}

// Channel returns the channel the adapter publishes to.
func (a *HTTPAdapter) Channel() model.Channel { return a.ch }

// Publish implements Adapter.
func (a *HTTPAdapter) Publish(ctx context.Context, req Request, progress func(pct int)) (Result, error) {
	if a.badCfg != nil {
		return Result{}, a.badCfg
	}
	if req.IdempotencyKey == "" {
		return Result{}, permanent(0, "internal error: the publication has no idempotency key", "")
	}
	if progress == nil {
		progress = func(int) {}
	}
	res, err := a.publish(ctx, req, progress)
	if err != nil {
		a.logger.Debug("publish failed", slog.String("channel", string(a.ch)), slog.String("event_id", req.EventID),
			slog.String("kind", err.Kind.String()), slog.Int("http_status", err.HTTPStatus), slog.String("error", err.Error()))
		return Result{}, err
	}
	return res, nil
}

// call is one Publish in flight.
type call struct {
	a      *HTTPAdapter
	parent context.Context // the caller's context
	ctx    context.Context // parent bounded by MaxPublishTime
}

func (a *HTTPAdapter) publish(parent context.Context, req Request, progress func(int)) (Result, *Error) {
	ctx, cancel := context.WithTimeout(parent, a.opts.MaxPublishTime)
	defer cancel()
	c := &call{a: a, parent: parent, ctx: ctx}

	pub, err := c.submit(req)
	if err != nil {
		return Result{}, err
	}
	last := 0
	report := func(pct int) {
		pct = min(max(pct, 0), 100)
		if pct > last {
			last = pct
			progress(pct)
		}
	}
	for {
		switch pub.Status {
		case pubSuccess:
			res, err := toResult(a.ch, pub.Result)
			if err != nil {
				return Result{}, err
			}
			report(100)
			return res, nil
		case pubFailed:
			return Result{}, failedError(pub.Error)
		case pubInProgress:
			report(pub.Progress)
		default:
			return Result{}, temporary(0, "the channel sent an unreadable answer", fmt.Sprintf("unknown publication status %q", sanitize(pub.Status)))
		}
		if err := c.wait(a.opts.PollInterval); err != nil {
			return Result{}, err
		}
		if pub, err = c.poll(pub.ID); err != nil {
			return Result{}, err
		}
	}
}

// failedError maps a FAILED publication: Temporary when the channel flags it retryable.
func failedError(e *apiError) *Error {
	msg, retryable := "", false
	if e != nil {
		msg, retryable = sanitize(e.Message), e.Retryable
	}
	text := "the channel could not publish the post"
	if msg != "" {
		text += ": " + msg
	}
	if retryable {
		return temporary(0, text, "publication FAILED (retryable)")
	}
	return permanent(0, text, "publication FAILED")
}

func (c *call) submit(req Request) (wirePublication, *Error) {
	title, description := kakaoAd(c.a.ch, req.Title, req.Description) // KakaoTalk's ad rules (kakao_ad.go)
	body, err := json.Marshal(wireSubmit{
		EventID: req.EventID, Title: title, Description: description,
		ImageURL: req.ImageURL, StoreName: req.StoreName,
	})
	if err != nil {
		return wirePublication{}, permanent(0, "internal error: cannot encode the post", err.Error())
	}
	u := c.a.base + "/v1/channels/" + url.PathEscape(string(c.a.ch)) + "/publications"
	hdr := http.Header{"Idempotency-Key": {req.IdempotencyKey}, "Content-Type": {"application/json"}}
	return c.exchange(http.MethodPost, u, hdr, body)
}

// poll gets the publication's status, retrying transient failures up to PollRetries times.
func (c *call) poll(id string) (wirePublication, *Error) {
	u := c.a.base + "/v1/channels/" + url.PathEscape(string(c.a.ch)) + "/publications/" + url.PathEscape(id)
	for attempt := 0; ; attempt++ {
		pub, err := c.exchange(http.MethodGet, u, nil, nil)
		if err == nil {
			return pub, nil
		}
		if err.HTTPStatus == http.StatusNotFound {
			// The channel forgot the publication (e.g. it restarted): resubmitting with the same
			// idempotency key is the way forward, so let the engine retry.
			return wirePublication{}, temporary(err.HTTPStatus, "the channel lost track of the publication", err.Detail)
		}
		if c.ctx.Err() != nil || err.Kind != Temporary || attempt >= c.a.opts.PollRetries {
			return wirePublication{}, err
		}
		if err := c.wait(time.Duration(attempt+1) * c.a.opts.PollInterval); err != nil {
			return wirePublication{}, err
		}
	}
}

// wait sleeps d unless the publication's context ends first.
func (c *call) wait(d time.Duration) *Error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.ctx.Done():
		return c.ctxError()
	}
}

// ctxError explains why the publication's context ended.
func (c *call) ctxError() *Error {
	if err := c.parent.Err(); err != nil {
		return &Error{Kind: Temporary, Message: "the publication was interrupted", Detail: err.Error(), cause: err}
	}
	return &Error{Kind: Temporary, Message: "the channel did not finish the publication in time",
		Detail: fmt.Sprintf("still in progress after %s", c.a.opts.MaxPublishTime), cause: c.ctx.Err()}
}

// exchange does one bounded HTTP request and decodes a publication from a 2xx answer.
func (c *call) exchange(method, u string, hdr http.Header, body []byte) (wirePublication, *Error) {
	rctx, cancel := context.WithTimeout(c.ctx, c.a.opts.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, method, u, bytes.NewReader(body))
	if err != nil {
		return wirePublication{}, permanent(0, "the channel endpoint is misconfigured", err.Error())
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.a.opts.UserAgent)
	if c.a.secret != nil {
		// Signed per exchange, so a retried poll carries a fresh timestamp.
		ts, sig := partnersig.Sign(c.a.secret, c.a.opts.Now(), method, req.URL.EscapedPath(), body)
		req.Header.Set(partnersig.HeaderTimestamp, ts)
		req.Header.Set(partnersig.HeaderSignature, sig)
	}

	resp, err := c.a.client.Do(req)
	if err != nil {
		if c.ctx.Err() != nil {
			return wirePublication{}, c.ctxError()
		}
		return wirePublication{}, networkError(err, rctx)
	}
	defer resp.Body.Close() // not drained on purpose: an oversized body closes the connection
	limit := c.a.opts.MaxBodyBytes
	if resp.ContentLength > limit {
		return wirePublication{}, tooLarge(resp.StatusCode, limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		if c.ctx.Err() != nil {
			return wirePublication{}, c.ctxError()
		}
		return wirePublication{}, networkError(err, rctx)
	}
	if int64(len(data)) > limit {
		return wirePublication{}, tooLarge(resp.StatusCode, limit)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return wirePublication{}, statusError(resp.StatusCode, resp.Header, data, c.a.opts.Now())
	}
	var pub wirePublication
	if err := json.Unmarshal(data, &pub); err != nil {
		return wirePublication{}, temporary(resp.StatusCode, "the channel sent an unreadable answer", "invalid JSON: "+err.Error())
	}
	if pub.ID == "" || len(pub.ID) > maxPublicationIDLen {
		return wirePublication{}, temporary(resp.StatusCode, "the channel sent an unreadable answer", "missing or oversized publication id")
	}
	return pub, nil
}

func tooLarge(status int, limit int64) *Error {
	return temporary(status, "the channel's response was too large", fmt.Sprintf("response body over %d bytes", limit))
}

// errUnconfigured builds the error of a channel without an endpoint.
func errUnconfigured(ch model.Channel) *Error {
	return permanent(0, fmt.Sprintf("the channel %s is not configured", ch), "no endpoint in CHANNELS_CONFIG")
}

var _ Adapter = (*HTTPAdapter)(nil)
