package channels

// The instagram-graph protocol: Instagram Graph API content publishing, as the store's account.
//
//	POST /{version}/{ig-user-id}/media           image_url, caption, access_token → {"id": container}
//	GET  /{version}/{container-id}?fields=status_code,status   IN_PROGRESS | FINISHED | ERROR | EXPIRED | PUBLISHED
//	POST /{version}/{ig-user-id}/media_publish   creation_id, access_token → {"id": media}
//	GET  /{version}/{media-id}?fields=permalink  → {"permalink": "https://www.instagram.com/p/..."}
//
// Content publishing guide: https://developers.facebook.com/docs/instagram-api/guides/content-publishing/
// IG Container (status_code values, "status" carries the error subcode on ERROR; a container not
// published within 24 hours EXPIRES):
// https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-container
//
// The API has no idempotency key. The container id is therefore kept (Request.Checkpoint) before
// media_publish is called, and every attempt of the same key looks at that container first:
// PUBLISHED means an earlier attempt published and lost the answer, so the media is looked up
// and never published again; FINISHED publishes it; IN_PROGRESS waits; ERROR and EXPIRED make a
// new container.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// Container status codes (IG Container reference above).
const (
	ContainerInProgress = "IN_PROGRESS"
	ContainerFinished   = "FINISHED"
	ContainerError      = "ERROR"
	ContainerExpired    = "EXPIRED"
	ContainerPublished  = "PUBLISHED"
)

// maxCaptionRunes is Instagram's caption limit (2,200 characters, content publishing guide).
const maxCaptionRunes = 2200

// graphThrottleWait is how long a throttled call (codes 4, 17, 32, 613) waits when the answer
// has no Retry-After: Meta's error guide says "wait and retry", without a delay.
const graphThrottleWait = time.Minute

// recentMediaLimit is how many of the account's newest media are searched for a post whose
// media_publish answer was lost.
const recentMediaLimit = 25

// GraphAdapter publishes to Instagram through the Graph API content publishing endpoints.
type GraphAdapter struct {
	ch     model.Channel
	base   string // host root + "/" + version, no trailing slash
	badCfg *Error
	client *http.Client
	opts   Options
	logger *slog.Logger
}

func newGraphAdapter(ch model.Channel, ep Endpoint, client *http.Client, opts Options, logger *slog.Logger) *GraphAdapter {
	g := &GraphAdapter{ch: ch, client: client, opts: opts, logger: logger}
	base, err := checkEndpoint(ep.URL, opts.AllowInsecureLoopback)
	switch {
	case err != nil:
		g.badCfg = permanent(0, "the channel endpoint is misconfigured", err.Error())
	case !validGraphVersion(ep.Version):
		g.badCfg = permanent(0, "the channel endpoint is misconfigured", fmt.Sprintf("instagram-graph version %q is not of the form v23.0", model.Truncate(ep.Version, 40)))
	}
	g.base = base + "/" + ep.Version
	return g
}

// validGraphVersion accepts "v<major>.<minor>".
func validGraphVersion(v string) bool {
	rest, ok := strings.CutPrefix(v, "v")
	major, minor, ok2 := strings.Cut(rest, ".")
	digits := func(s string) bool {
		if s == "" || len(s) > 4 {
			return false
		}
		for _, r := range s {
			if r < '0' || r > '9' {
				return false
			}
		}
		return true
	}
	return ok && ok2 && digits(major) && digits(minor)
}

// parseGraphChannel validates an instagram-graph entry of CHANNELS_CONFIG.
func parseGraphChannel(ch model.Channel, ep channelJSON, allowInsecureLoopback bool) (ChannelConfig, error) {
	if ch != model.ChannelInstagram {
		return ChannelConfig{}, fmt.Errorf("protocol instagram-graph applies to INSTAGRAM only")
	}
	if ep.URL == "" {
		return ChannelConfig{}, errors.New("url is required (https://graph.instagram.com or https://graph.facebook.com)")
	}
	base, err := checkEndpoint(ep.URL, allowInsecureLoopback)
	if err != nil {
		return ChannelConfig{}, err
	}
	if !validGraphVersion(ep.Version) {
		return ChannelConfig{}, fmt.Errorf("version %q: want the Graph API version, e.g. \"v23.0\"", model.Truncate(ep.Version, 40))
	}
	if ep.SecretFile != "" {
		return ChannelConfig{}, errors.New("secretFile applies to protocol partner-v1; instagram-graph publishes with each store's connected account (bin/distribution account set)")
	}
	cc := ChannelConfig{Protocol: ProtocolInstagramGraph, URL: base, Version: ep.Version}
	return withGraphOAuth(cc, ep, allowInsecureLoopback) // oauth_config.go
}

// Channel returns the channel the adapter publishes to.
func (g *GraphAdapter) Channel() model.Channel { return g.ch }

// NeedsAccount implements AccountAdapter: Instagram publishes as the store's account.
func (g *GraphAdapter) NeedsAccount() bool { return true }

// igCredentials is the INSTAGRAM credential JSON (model.ParseCredentials).
type igCredentials struct {
	IGUserID    string `json:"igUserId"`
	AccessToken string `json:"accessToken"`
}

// ErrNoInstagramAccount is the message of a publication without a connected account.
const ErrNoInstagramAccount = "no connected Instagram account for this store"

// Publish implements Adapter.
func (g *GraphAdapter) Publish(ctx context.Context, req Request, progress func(pct int)) (Result, error) {
	if g.badCfg != nil {
		return Result{}, g.badCfg
	}
	if progress == nil {
		progress = func(int) {}
	}
	cred, cerr := g.credentials(req)
	if cerr != nil {
		return Result{}, cerr
	}
	if cred.IGUserID == "" {
		cred.IGUserID = req.Account.Ref
	}
	ctx, cancel := context.WithTimeout(ctx, g.opts.MaxPublishTime)
	defer cancel()
	c := &graphCall{g: g, parent: ctx, ctx: ctx, token: cred.AccessToken, user: cred.IGUserID}
	last := 0
	report := func(pct int) {
		if pct > last {
			last = pct
			progress(pct)
		}
	}
	res, err := c.publish(req, report)
	if err != nil {
		g.logger.Debug("publish failed", slog.String("channel", string(g.ch)), slog.String("event_id", req.EventID),
			slog.String("kind", err.Kind.String()), slog.Int("http_status", err.HTTPStatus), slog.String("error", err.Error()))
		return Result{}, err
	}
	report(100)
	return res, nil
}

type graphCall struct {
	g      *GraphAdapter
	parent context.Context
	ctx    context.Context
	token  string
	user   string
}

func (c *graphCall) publish(req Request, report func(int)) (Result, *Error) {
	caption := Caption(req)
	containerID := ""
	if req.Checkpoint != nil {
		v, err := req.Checkpoint.Load(c.ctx)
		if err != nil {
			return Result{}, temporary(0, "could not read the saved Instagram container", err.Error())
		}
		containerID = v
	}
	if containerID != "" {
		status, err := c.containerStatus(containerID)
		switch {
		case err != nil && err.graphCode == 100:
			// The container is unknown (deleted, or from another account): start afresh.
			containerID = ""
		case err != nil:
			return Result{}, err.Error
		case status == ContainerPublished:
			// An earlier attempt published and lost the answer: find the post, never publish again.
			return c.withEstimate(c.findPublished(containerID, caption)) // views.go
		case status == ContainerError || status == ContainerExpired:
			containerID = ""
		}
	}
	if containerID == "" {
		id, err := c.createContainer(req.ImageURL, caption)
		if err != nil {
			return Result{}, err.Error
		}
		containerID = id
		if req.Checkpoint != nil {
			if err := req.Checkpoint.Save(c.ctx, containerID); err != nil {
				// Publishing without the id kept could publish twice after a lost answer.
				return Result{}, temporary(0, "could not save the Instagram container before publishing", err.Error())
			}
		}
	}
	report(20)
	if err := c.waitFinished(containerID, report); err != nil {
		return Result{}, err
	}
	report(70)
	mediaID, err := c.mediaPublish(containerID)
	if err != nil {
		return Result{}, err.Error
	}
	report(90)
	return c.withEstimate(c.result(mediaID)) // views.go
}

// Caption is the Instagram caption of a request: title, a blank line, description, cut to 2,200
// characters.
func Caption(req Request) string {
	s := strings.TrimSpace(req.Title)
	if d := strings.TrimSpace(req.Description); d != "" {
		s += "\n\n" + d
	}
	return model.Truncate(s, maxCaptionRunes)
}

// waitFinished polls the container until FINISHED.
func (c *graphCall) waitFinished(id string, report func(int)) *Error {
	pct, failures := 20, 0
	for {
		status, err := c.containerStatus(id)
		if err != nil {
			if err.Kind != Temporary || failures >= c.g.opts.PollRetries || c.ctx.Err() != nil {
				return err.Error
			}
			failures++
		} else {
			failures = 0
			switch status {
			case ContainerFinished:
				return nil
			case ContainerPublished:
				return temporary(0, "the Instagram container was published by another attempt", "container "+id+" is PUBLISHED")
			case ContainerError:
				// A new container is made by the next attempt (the saved one is ERROR).
				return temporary(0, "Instagram could not process the image (container ERROR); a new container is made on the next attempt", "container "+id+" status ERROR")
			case ContainerExpired:
				return temporary(0, "the Instagram container expired before it was published", "container "+id+" status EXPIRED")
			case ContainerInProgress:
				pct = min(pct+10, 65)
				report(pct)
			default:
				return temporary(0, "Instagram sent an unreadable answer", fmt.Sprintf("unknown container status_code %q", sanitize(status)))
			}
		}
		if err := c.wait(c.g.opts.PollInterval); err != nil {
			return err
		}
	}
}

func (c *graphCall) wait(d time.Duration) *Error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.ctx.Done():
		return &Error{Kind: Temporary, Message: "the publication was interrupted", Detail: c.ctx.Err().Error(), cause: c.ctx.Err()}
	}
}

func (c *graphCall) createContainer(imageURL, caption string) (string, *graphErr) {
	form := url.Values{"image_url": {imageURL}, "caption": {caption}, "access_token": {c.token}}
	var out struct {
		ID string `json:"id"`
	}
	if err := c.do(http.MethodPost, "/"+url.PathEscape(c.user)+"/media", nil, form, &out); err != nil {
		return "", err
	}
	if !validGraphID(out.ID) {
		return "", &graphErr{Error: temporary(0, "Instagram sent an unreadable answer", "media container answer without an id")}
	}
	return out.ID, nil
}

func (c *graphCall) containerStatus(id string) (string, *graphErr) {
	var out struct {
		StatusCode string `json:"status_code"`
		Status     string `json:"status"`
	}
	q := url.Values{"fields": {"status_code,status"}}
	if err := c.do(http.MethodGet, "/"+url.PathEscape(id), q, nil, &out); err != nil {
		return "", err
	}
	return out.StatusCode, nil
}

func (c *graphCall) mediaPublish(containerID string) (string, *graphErr) {
	form := url.Values{"creation_id": {containerID}, "access_token": {c.token}}
	var out struct {
		ID string `json:"id"`
	}
	if err := c.do(http.MethodPost, "/"+url.PathEscape(c.user)+"/media_publish", nil, form, &out); err != nil {
		return "", err
	}
	if !validGraphID(out.ID) {
		return "", &graphErr{Error: temporary(0, "Instagram sent an unreadable answer", "media_publish answer without an id")}
	}
	return out.ID, nil
}

// result reads the post's permalink.
func (c *graphCall) result(mediaID string) (Result, *Error) {
	var out struct {
		Permalink string `json:"permalink"`
	}
	if err := c.do(http.MethodGet, "/"+url.PathEscape(mediaID), url.Values{"fields": {"permalink"}}, nil, &out); err != nil {
		// The post exists: a retry finds the container PUBLISHED and looks the media up again.
		return Result{}, err.Error
	}
	return Result{PostID: mediaID, PostURL: safePermalink(out.Permalink)}, nil
}

// findPublished finds the media a PUBLISHED container became: the Graph API does not link them,
// so the account's newest media are searched for the caption we sent (GET /{ig-user-id}/media,
// https://developers.facebook.com/docs/graph-api/reference/shadow-ig-user/media/).
func (c *graphCall) findPublished(containerID, caption string) (Result, *Error) {
	var out struct {
		Data []struct {
			ID        string `json:"id"`
			Caption   string `json:"caption"`
			Permalink string `json:"permalink"`
		} `json:"data"`
	}
	q := url.Values{"fields": {"id,caption,permalink,timestamp"}, "limit": {fmt.Sprint(recentMediaLimit)}}
	if err := c.do(http.MethodGet, "/"+url.PathEscape(c.user)+"/media", q, nil, &out); err != nil {
		return Result{}, err.Error
	}
	for _, m := range out.Data { // newest first
		if m.Caption == caption && validGraphID(m.ID) {
			return Result{PostID: m.ID, PostURL: safePermalink(m.Permalink)}, nil
		}
	}
	return Result{}, permanent(0, "Instagram reports the post as published, but it is not among the account's recent posts; check the account before retrying (a retry posts again)",
		"container "+containerID+" is PUBLISHED; no recent media with the same caption")
}

func validGraphID(id string) bool { return id != "" && len(id) <= maxPublicationIDLen }

// safePermalink keeps an https permalink, "" otherwise.
func safePermalink(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || len(s) > 2000 {
		return ""
	}
	return s
}

// graphErr is an Error with the Graph error code kept for the adapter's own decisions.
type graphErr struct {
	*Error
	graphCode int
}

// do is one bounded Graph request: GET with query (the access token added), POST with a form
// body. A 2xx JSON answer is decoded into out.
func (c *graphCall) do(method, path string, query, form url.Values, out any) *graphErr {
	rctx, cancel := context.WithTimeout(c.ctx, c.g.opts.RequestTimeout)
	defer cancel()
	u := c.g.base + path
	var body io.Reader = http.NoBody
	if method == http.MethodGet {
		if query == nil {
			query = url.Values{}
		}
		query.Set("access_token", c.token)
		u += "?" + query.Encode()
	} else {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(rctx, method, u, body)
	if err != nil {
		return &graphErr{Error: permanent(0, "the channel endpoint is misconfigured", "cannot build the request")}
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.g.opts.UserAgent)
	resp, err := c.g.client.Do(req)
	if err != nil {
		if c.ctx.Err() != nil {
			return &graphErr{Error: &Error{Kind: Temporary, Message: "the publication was interrupted", Detail: c.ctx.Err().Error(), cause: c.ctx.Err()}}
		}
		// The URL carries the access token: keep it out of the detail.
		return &graphErr{Error: networkError(redactURLError(err), rctx)}
	}
	defer resp.Body.Close()
	limit := c.g.opts.MaxBodyBytes
	if resp.ContentLength > limit {
		return &graphErr{Error: tooLarge(resp.StatusCode, limit)}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		if c.ctx.Err() != nil {
			return &graphErr{Error: &Error{Kind: Temporary, Message: "the publication was interrupted", Detail: c.ctx.Err().Error(), cause: c.ctx.Err()}}
		}
		return &graphErr{Error: networkError(redactURLError(err), rctx)}
	}
	if int64(len(data)) > limit {
		return &graphErr{Error: tooLarge(resp.StatusCode, limit)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e, code := GraphError(resp.StatusCode, resp.Header, data, c.g.opts.Now())
		return &graphErr{Error: e, graphCode: code}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &graphErr{Error: temporary(resp.StatusCode, "Instagram sent an unreadable answer", "invalid JSON: "+sanitize(err.Error()))}
	}
	return nil
}

// redactURLError drops the request URL (which holds the access token) from a client error.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s request: %w", ue.Op, ue.Err)
	}
	return err
}

// graphErrorBody is the Graph API error object:
// https://developers.facebook.com/docs/graph-api/guides/error-handling
type graphErrorBody struct {
	Message     string `json:"message"`
	Type        string `json:"type"`
	Code        int    `json:"code"`
	Subcode     int    `json:"error_subcode"`
	IsTransient bool   `json:"is_transient"`
	UserTitle   string `json:"error_user_title"`
	UserMessage string `json:"error_user_msg"`
	FBTraceID   string `json:"fbtrace_id"`
}

// parseGraphError reads {"error":{...}}; ok is false when the body is not that shape (an HTML
// error page, a proxy's text, nothing).
func parseGraphError(body []byte) (graphErrorBody, bool) {
	var v struct {
		Error *json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &v) != nil || v.Error == nil {
		return graphErrorBody{}, false
	}
	var e graphErrorBody
	if json.Unmarshal(*v.Error, &e) != nil {
		// Fields of unexpected types: keep what a lenient read gives.
		var loose map[string]any
		if json.Unmarshal(*v.Error, &loose) != nil {
			return graphErrorBody{}, false
		}
		if m, ok := loose["message"].(string); ok {
			e.Message = m
		}
		if c, ok := loose["code"].(float64); ok {
			e.Code = int(c)
		}
		if t, ok := loose["fbtrace_id"].(string); ok {
			e.FBTraceID = t
		}
	}
	return e, true
}

// GraphError classifies a non-2xx Graph API answer (Meta's error handling guide,
// https://developers.facebook.com/docs/graph-api/guides/error-handling, and its rate limiting
// page https://developers.facebook.com/docs/graph-api/overview/rate-limiting):
//
//   - code 190 (access token expired, revoked or invalid, any subcode) → NeedsReconnect: only a
//     new token helps, so nothing is retried automatically;
//   - codes 4 (app), 17 (user), 32 (page) and 613 (call rate) are throttling → RateLimited: wait,
//     no attempt burned (Retry-After when given, else a minute);
//   - is_transient, codes 1 and 2 (unknown / service: "temporary issue due to downtime") and
//     HTTP 5xx → Temporary;
//   - anything else → Permanent.
//
// Meta answers most of these with HTTP 400, so the body decides, not the status. The detail keeps
// the code, subcode and fbtrace_id. It also returns the Graph code (0 when there is none).
func GraphError(status int, hdr http.Header, body []byte, now time.Time) (*Error, int) {
	ge, ok := parseGraphError(body)
	if !ok {
		e := statusError(status, hdr, nil, now)
		e.Message = strings.Replace(e.Message, "the channel", "Instagram", 1)
		return e, 0
	}
	msg := sanitize(ge.Message)
	detail := fmt.Sprintf("HTTP %d: Graph error code %d", status, ge.Code)
	if ge.Subcode != 0 {
		detail += fmt.Sprintf(" subcode %d", ge.Subcode)
	}
	if t := sanitize(ge.Type); t != "" {
		detail += " (" + model.Truncate(t, 60) + ")"
	}
	if msg != "" {
		detail += ": " + msg
	}
	if tr := sanitize(ge.FBTraceID); tr != "" {
		detail += "; fbtrace_id " + model.Truncate(tr, 60)
	}
	words := ""
	if msg != "" {
		words = ": " + msg
	}
	switch {
	case ge.Code == 190:
		return &Error{Kind: NeedsReconnect, HTTPStatus: status, Detail: detail,
			Message: "the store's Instagram access has expired or was revoked; reconnect the Instagram account" + words}, ge.Code
	case ge.Code == 4 || ge.Code == 17 || ge.Code == 32 || ge.Code == 613:
		wait := graphThrottleWait
		if v := hdr.Get("Retry-After"); v != "" {
			wait = retryAfter(v, now)
		}
		return &Error{Kind: RateLimited, HTTPStatus: status, RetryAfter: wait, Detail: detail,
			Message: fmt.Sprintf("Instagram is limiting requests (code %d); trying again in %s", ge.Code, wait)}, ge.Code
	case ge.IsTransient || ge.Code == 1 || ge.Code == 2 || status >= 500:
		return temporary(status, "Instagram is having a temporary problem"+words, detail), ge.Code
	}
	return permanent(status, "Instagram rejected the post"+words, detail), ge.Code
}

var _ AccountAdapter = (*GraphAdapter)(nil)

// credentials reads the Instagram account of req (an IG user id and its access token).
func (g *GraphAdapter) credentials(req Request) (igCredentials, *Error) {
	return accountCredentials(req, g.ch, ErrNoInstagramAccount, "Instagram credentials", "credential JSON without accessToken",
		func(c igCredentials) bool { return c.AccessToken != "" })
}
