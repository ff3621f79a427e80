package channels

// The naver-cafe protocol: an article on a Naver Cafe board, written as the store's Naver member.
//
// Naver closed the blog write API on 2020-05-06 ("5월 6일 이후, API를 이용한 글쓰기 기능이
// 종료된다": http://www.apple-economy.com/news/articleViewAmp.html?idxno=57565, and
// https://member.newspim.com/news/view/20200413000737), so the NAVER channel publishes where a
// public write API remains: the Cafe article API, a Naver Login (OAuth 2.0) API
// (https://developers.naver.com/docs/login/cafe-api/cafe-api.md):
//
//	POST {url}/v1/cafe/{clubid}/menu/{menuid}/articles    Authorization: Bearer <access token>
//	     subject=…&content=…   each value URL-encoded as UTF-8 and then encoded again (the
//	     guide's Java: URLEncoder.encode(URLEncoder.encode(v, "UTF-8"), "MS949"); the second pass
//	     only turns the '%' and '+' of the first into %25 and %2B)
//	→ 200 {"message":{"@type":"response","status":"200","result":{"msgId","cafeUrl","articleId","articleUrl"}}}
//	→ error {"errorMessage": "...", "errorCode": "024"}   (024 = authentication failed)
//
// The access token comes from Naver Login and expires (an hour); it is renewed with the refresh
// token at {tokenUrl} (https://nid.naver.com/oauth2.0/token) with grant_type=refresh_token,
// client_id, client_secret and refresh_token → {"access_token","token_type","expires_in"}, or
// {"error","error_description"} when refused.
//
// Images: the API takes them only as multipart file parts; this adapter sends text and puts the
// event's image URL in the content as a link.
//
// Double posting. The API has no idempotency key and no way to list or find the member's own
// articles, so an answer lost after the POST was written cannot be resolved by asking Naver.
// The adapter therefore writes "submitted" to the publish checkpoint before the POST and clears
// it ("not-sent") when Naver answered with an error (nothing was written) or the request never left. An
// attempt that finds "submitted" fails permanently with words saying the article may already be
// on the board: a person checks the cafe and retries by hand (a manual retry is a new attempt
// generation and posts again). Losing an automatic retry is preferred to two articles.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// NaverAuthFailed is Naver's errorCode for a refused access token ("Authentication failed").
const NaverAuthFailed = "024"

// Checkpoint values: naverSubmitted is kept while an article POST may have reached Naver;
// naverNotSent replaces it when Naver answered with an error or the request never left.
const (
	naverSubmitted = "submitted"
	naverNotSent   = "not-sent"
)

// Bounds of what is sent (the guide gives none; a cafe article is not a novel).
const (
	maxNaverSubject = 200
	maxNaverContent = 20000
	maxClientSecret = 4096
)

// ClientSecret is a Naver Developers application's client secret; it prints as "[redacted]".
type ClientSecret string

func (ClientSecret) String() string   { return "[redacted]" }
func (ClientSecret) GoString() string { return "[redacted]" }

// MarshalText keeps the secret out of JSON and text encodings.
func (ClientSecret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// ReadClientSecretFile reads a client secret file (trimmed, non-empty, one line).
func ReadClientSecretFile(path string) (ClientSecret, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxClientSecret+1))
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(data))
	switch {
	case len(data) > maxClientSecret:
		return "", fmt.Errorf("%s is larger than %d bytes", path, maxClientSecret)
	case s == "":
		return "", fmt.Errorf("%s is empty", path)
	case strings.ContainsAny(s, "\r\n\x00"):
		return "", fmt.Errorf("%s must hold the client secret on one line", path)
	}
	return ClientSecret(s), nil
}

// NaverAdapter publishes articles through the Naver Cafe API.
type NaverAdapter struct {
	ch       model.Channel
	base     string
	tokenURL string
	clientID string
	secret   ClientSecret
	badCfg   *Error
	client   *http.Client
	opts     Options
	logger   *slog.Logger
}

func newNaverAdapter(ch model.Channel, ep Endpoint, client *http.Client, opts Options, logger *slog.Logger) *NaverAdapter {
	n := &NaverAdapter{ch: ch, client: client, opts: opts, logger: logger, clientID: ep.ClientID, secret: ep.ClientSecret}
	base, err := checkEndpoint(ep.URL, opts.AllowInsecureLoopback)
	if err != nil {
		n.badCfg = permanent(0, "the channel endpoint is misconfigured", err.Error())
	}
	tok, err := checkEndpoint(ep.TokenURL, opts.AllowInsecureLoopback)
	if err != nil && n.badCfg == nil {
		n.badCfg = permanent(0, "the channel endpoint is misconfigured", "tokenUrl: "+err.Error())
	}
	n.base, n.tokenURL = base, tok
	return n
}

// parseNaverChannel validates a naver-cafe entry of CHANNELS_CONFIG.
func parseNaverChannel(ch model.Channel, ep channelJSON, allowInsecureLoopback bool) (ChannelConfig, error) {
	if ch != model.ChannelNaver {
		return ChannelConfig{}, errors.New("protocol naver-cafe applies to NAVER only")
	}
	if ep.URL == "" {
		return ChannelConfig{}, errors.New("url is required (the Naver Open API root, https://openapi.naver.com)")
	}
	base, err := checkEndpoint(ep.URL, allowInsecureLoopback)
	if err != nil {
		return ChannelConfig{}, err
	}
	if ep.TokenURL == "" {
		return ChannelConfig{}, errors.New("tokenUrl is required (Naver Login's token endpoint, https://nid.naver.com/oauth2.0/token)")
	}
	tok, err := checkEndpoint(ep.TokenURL, allowInsecureLoopback)
	if err != nil {
		return ChannelConfig{}, fmt.Errorf("tokenUrl: %w", err)
	}
	if err := model.CheckLine("clientId", ep.ClientID, 200); err != nil || strings.TrimSpace(ep.ClientID) == "" {
		return ChannelConfig{}, errors.New("clientId is required: the Client ID of the Naver Developers application (one line)")
	}
	if strings.TrimSpace(ep.ClientSecretFile) == "" {
		return ChannelConfig{}, errors.New("clientSecretFile is required: the file holding the application's Client Secret")
	}
	if ep.SecretFile != "" || ep.Version != "" {
		return ChannelConfig{}, errors.New("secretFile and version do not apply to protocol naver-cafe (it takes url, tokenUrl, clientId and clientSecretFile)")
	}
	cc := ChannelConfig{Protocol: ProtocolNaverCafe, URL: base, TokenURL: tok, ClientID: strings.TrimSpace(ep.ClientID), ClientSecretFile: ep.ClientSecretFile}
	return withAuthorizeURL(cc, ep, allowInsecureLoopback) // oauth_config.go
}

// Channel returns the channel the adapter publishes to.
func (n *NaverAdapter) Channel() model.Channel { return n.ch }

// NeedsAccount implements AccountAdapter: the article is written by the store's Naver member.
func (n *NaverAdapter) NeedsAccount() bool { return true }

// naverCredentials is the NAVER credential JSON (model.ParseCredentials).
type naverCredentials struct {
	ClubID       string `json:"clubId"`
	MenuID       string `json:"menuId"`
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	ExpiresAt    string `json:"expiresAt,omitempty"`
	Members      *int64 `json:"members,omitempty"` // views.go
}

// ErrNoNaverAccount is the message of a publication without a connected account.
const ErrNoNaverAccount = "no connected Naver Cafe account for this store"

// Publish implements Adapter.
func (n *NaverAdapter) Publish(ctx context.Context, req Request, progress func(pct int)) (Result, error) {
	if n.badCfg != nil {
		return Result{}, n.badCfg
	}
	if progress == nil {
		progress = func(int) {}
	}
	cred, cerr := accountCredentials(req, n.ch, ErrNoNaverAccount, "Naver Cafe credentials", "credential JSON without clubId, menuId or accessToken",
		func(c naverCredentials) bool { return c.AccessToken != "" && c.ClubID != "" && c.MenuID != "" })
	if cerr != nil {
		return Result{}, cerr
	}
	ctx, cancel := context.WithTimeout(ctx, n.opts.MaxPublishTime)
	defer cancel()
	c := &naverCall{n: n, ctx: ctx, req: req, cred: cred}
	res, err := c.publish(progress)
	if err != nil {
		n.logger.Debug("publish failed", slog.String("channel", string(n.ch)), slog.String("event_id", req.EventID),
			slog.String("kind", err.Kind.String()), slog.Int("http_status", err.HTTPStatus), slog.String("error", err.Error()))
		return Result{}, err
	}
	progress(100)
	res.EstimatedViews = naverEstimatedViews(cred) // views.go
	return res, nil
}

type naverCall struct {
	n         *NaverAdapter
	ctx       context.Context
	req       Request
	cred      naverCredentials
	refreshed bool // one refresh per attempt
}

func (c *naverCall) publish(progress func(int)) (Result, *Error) {
	cp := c.req.Checkpoint
	if cp != nil {
		v, err := cp.Load(c.ctx)
		if err != nil {
			return Result{}, temporary(0, "could not read the saved Naver Cafe state", err.Error())
		}
		if v == naverSubmitted {
			return Result{}, permanent(0, "an earlier attempt sent this article to the Naver Cafe and its answer was lost; it may already be on the board. Check the cafe before retrying: a retry posts it again",
				"checkpoint \"submitted\" without an answer; the Cafe API offers no way to look the article up")
		}
	}
	if c.cred.RefreshToken != "" && c.expired() {
		if err := c.refresh(); err != nil {
			return Result{}, err
		}
	}
	progress(10)
	for {
		res, sent, err := c.postArticle()
		if err == nil {
			return res, nil
		}
		if !sent && cp != nil {
			// Nothing can have been written: the next attempt may post.
			if cerr := cp.Save(c.ctx, naverNotSent); cerr != nil {
				return Result{}, temporary(0, "could not clear the saved Naver Cafe state", cerr.Error())
			}
		}
		if err.auth && !c.refreshed && c.cred.RefreshToken != "" {
			if rerr := c.refresh(); rerr != nil {
				return Result{}, rerr
			}
			progress(40)
			continue
		}
		if err.auth {
			err.Kind = NeedsReconnect
			err.Message = "the store's Naver login has expired or was revoked and could not be renewed; reconnect the Naver Cafe account" + strings.TrimPrefix(err.Message, naverAuthWords)
		}
		return Result{}, err.Error
	}
}

// expired reports whether the saved access token's expiresAt has passed (a minute's margin).
func (c *naverCall) expired() bool {
	if c.cred.ExpiresAt == "" {
		return false
	}
	t, err := time.Parse(time.RFC3339, c.cred.ExpiresAt)
	return err == nil && !t.After(c.n.opts.Now().Add(time.Minute))
}

// NaverContent is the article body: the description as HTML paragraphs (escaped, line breaks
// kept) and the image as a link; the subject is the title. Both are cut to their bounds.
func NaverContent(req Request) (subject, content string) {
	subject = model.Truncate(strings.Join(strings.Fields(strings.ToValidUTF8(req.Title, "")), " "), maxNaverSubject)
	desc := strings.ToValidUTF8(strings.ReplaceAll(strings.TrimSpace(req.Description), "\x00", ""), "")
	var b strings.Builder
	if desc != "" {
		b.WriteString("<p>")
		b.WriteString(strings.ReplaceAll(html.EscapeString(strings.ReplaceAll(desc, "\r\n", "\n")), "\n", "<br>"))
		b.WriteString("</p>")
	}
	if u := safePermalink(req.ImageURL); u != "" {
		e := html.EscapeString(u)
		b.WriteString(`<p><a href="` + e + `">` + e + `</a></p>`)
	}
	content = b.String()
	if content == "" {
		content = "<p>" + html.EscapeString(subject) + "</p>"
	}
	return subject, model.Truncate(content, maxNaverContent)
}

// naverEncode is one form value as the Cafe API guide encodes it: URL-encoded UTF-8, encoded
// again.
func naverEncode(v string) string { return url.QueryEscape(url.QueryEscape(v)) }

type naverErr struct {
	*Error
	auth bool // 401 / errorCode 024: a refresh may help
}

const naverAuthWords = "Naver refused the login token"

// postArticle writes the article. sent is false when Naver answered with an error or the
// request never left this host: no article exists.
func (c *naverCall) postArticle() (Result, bool, *naverErr) {
	subject, content := NaverContent(c.req)
	body := "subject=" + naverEncode(subject) + "&content=" + naverEncode(content)
	u := c.n.base + "/v1/cafe/" + url.PathEscape(c.cred.ClubID) + "/menu/" + url.PathEscape(c.cred.MenuID) + "/articles"
	if c.req.Checkpoint != nil {
		if err := c.req.Checkpoint.Save(c.ctx, naverSubmitted); err != nil {
			return Result{}, false, &naverErr{Error: temporary(0, "could not save the Naver Cafe state before posting", err.Error())}
		}
	}
	rctx, cancel := context.WithTimeout(c.ctx, c.n.opts.RequestTimeout)
	defer cancel()
	var wrote atomic.Bool
	rctx = httptrace.WithClientTrace(rctx, &httptrace.ClientTrace{WroteHeaders: func() { wrote.Store(true) }})
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return Result{}, false, &naverErr{Error: permanent(0, "the channel endpoint is misconfigured", "cannot build the request")}
	}
	req.Header.Set("Authorization", "Bearer "+c.cred.AccessToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.n.opts.UserAgent)
	status, hdr, data, nerr := c.n.exchange(c.ctx, rctx, req)
	if nerr != nil {
		return Result{}, wrote.Load(), &naverErr{Error: nerr}
	}
	if status < 200 || status > 299 {
		e, auth := NaverError(status, hdr, data, c.n.opts.Now())
		return Result{}, false, &naverErr{Error: e, auth: auth}
	}
	res, ok := parseNaverArticle(data)
	if !ok {
		// Naver said 2xx: the article is most likely there. Keep "submitted".
		return Result{}, true, &naverErr{Error: permanent(status, "Naver accepted the article but sent an unreadable answer; check the cafe board before retrying (a retry posts again)",
			"HTTP "+strconv.Itoa(status)+": answer without message.result.articleId: "+sanitize(string(data)))}
	}
	return res, true, nil
}

// exchange sends req and reads a bounded body. The error is a network failure or a body too large.
func (n *NaverAdapter) exchange(parent, rctx context.Context, req *http.Request) (int, http.Header, []byte, *Error) {
	resp, err := n.client.Do(req)
	if err != nil {
		if parent.Err() != nil {
			return 0, nil, nil, &Error{Kind: Temporary, Message: "the publication was interrupted", Detail: parent.Err().Error(), cause: parent.Err()}
		}
		return 0, nil, nil, networkError(redactURLError(err), rctx)
	}
	defer resp.Body.Close()
	limit := n.opts.MaxBodyBytes
	if resp.ContentLength > limit {
		return 0, nil, nil, tooLarge(resp.StatusCode, limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		if parent.Err() != nil {
			return 0, nil, nil, &Error{Kind: Temporary, Message: "the publication was interrupted", Detail: parent.Err().Error(), cause: parent.Err()}
		}
		return 0, nil, nil, networkError(redactURLError(err), rctx)
	}
	if int64(len(data)) > limit {
		return 0, nil, nil, tooLarge(resp.StatusCode, limit)
	}
	return resp.StatusCode, resp.Header, data, nil
}

// parseNaverArticle reads the success body; articleId may be a number or a string.
func parseNaverArticle(data []byte) (Result, bool) {
	var v struct {
		Message struct {
			Result struct {
				ArticleID  json.RawMessage `json:"articleId"`
				ArticleURL string          `json:"articleUrl"`
			} `json:"result"`
		} `json:"message"`
	}
	if json.Unmarshal(data, &v) != nil {
		return Result{}, false
	}
	raw := strings.TrimSpace(string(v.Message.Result.ArticleID))
	id := ""
	var s string
	var num json.Number
	if json.Unmarshal([]byte(raw), &s) == nil {
		id = s
	} else if json.Unmarshal([]byte(raw), &num) == nil {
		id = num.String()
	}
	id = sanitize(id)
	if !validGraphID(id) {
		return Result{}, false
	}
	return Result{PostID: id, PostURL: safePermalink(v.Message.Result.ArticleURL)}, true
}

// naverErrorBody is Naver's Open API error: {"errorMessage","errorCode"}.
type naverErrorBody struct {
	Message string `json:"errorMessage"`
	Code    string `json:"errorCode"`
}

// NaverError classifies a non-2xx Cafe API answer and reports whether it is an authentication
// failure (HTTP 401 or errorCode 024: a refreshed token may help):
//
//   - 401 / 024 → NeedsReconnect (unless the caller's refresh succeeds first);
//   - 429 → RateLimited (Retry-After when given, else 30 s), no attempt burned;
//   - 5xx → Temporary;
//   - anything else (403 not a member / no permission, 400, 404 ...) → Permanent.
//
// The detail keeps the status and errorCode.
func NaverError(status int, hdr http.Header, body []byte, now time.Time) (*Error, bool) {
	var eb naverErrorBody
	if json.Unmarshal(body, &eb) != nil {
		var loose map[string]any
		if json.Unmarshal(body, &loose) == nil {
			if s, ok := loose["errorMessage"].(string); ok {
				eb.Message = s
			}
			switch c := loose["errorCode"].(type) {
			case string:
				eb.Code = c
			case float64:
				eb.Code = fmt.Sprintf("%03d", int(c))
			}
		}
	}
	code, msg := model.Truncate(sanitize(eb.Code), 20), sanitize(eb.Message)
	if code == "" && msg == "" {
		e := statusError(status, hdr, nil, now)
		e.Message = strings.Replace(e.Message, "the channel", "Naver Cafe", 1)
		return e, status == http.StatusUnauthorized
	}
	detail := fmt.Sprintf("HTTP %d: errorCode %s", status, code)
	if code == "" {
		detail = fmt.Sprintf("HTTP %d", status)
	}
	words := ""
	if msg != "" {
		detail += ": " + msg
		words = ": " + msg
	}
	switch {
	case status == http.StatusUnauthorized || code == NaverAuthFailed:
		return &Error{Kind: Permanent, HTTPStatus: status, Detail: detail, Message: naverAuthWords + words}, true
	case status == http.StatusTooManyRequests || code == "429":
		wait := retryAfter(hdr.Get("Retry-After"), now)
		return &Error{Kind: RateLimited, HTTPStatus: status, RetryAfter: wait, Detail: detail,
			Message: fmt.Sprintf("Naver Cafe is limiting requests; trying again in %s", wait)}, false
	case status >= 500:
		return temporary(status, "Naver Cafe is having a temporary problem"+words, detail), false
	case status == http.StatusForbidden:
		return permanent(status, "Naver Cafe refused the article (is the member in the cafe and allowed to write on this board?)"+words, detail), false
	}
	return permanent(status, "Naver Cafe rejected the article"+words, detail), false
}

// refresh renews the access token with the refresh token and stores the new credentials.
func (c *naverCall) refresh() *Error {
	c.refreshed = true
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {c.n.clientID}, "client_secret": {string(c.n.secret)}, "refresh_token": {c.cred.RefreshToken}}
	rctx, cancel := context.WithTimeout(c.ctx, c.n.opts.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.n.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return permanent(0, "the channel endpoint is misconfigured", "cannot build the token request")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.n.opts.UserAgent)
	status, hdr, data, nerr := c.n.exchange(c.ctx, rctx, req)
	if nerr != nil {
		nerr.Message = "could not renew the Naver login: " + nerr.Message
		return nerr
	}
	var out struct {
		AccessToken  string          `json:"access_token"`
		RefreshToken string          `json:"refresh_token"`
		ExpiresIn    json.RawMessage `json:"expires_in"`
		Error        string          `json:"error"`
		Description  string          `json:"error_description"`
	}
	jerr := json.Unmarshal(data, &out)
	switch {
	case status >= 500 || status == http.StatusTooManyRequests:
		e := statusError(status, hdr, nil, c.n.opts.Now())
		e.Message = "could not renew the Naver login: " + strings.Replace(e.Message, "the channel", "Naver Login", 1)
		return e
	case status < 200 || status > 299 || jerr != nil || out.AccessToken == "" || len(out.AccessToken) > 4096 || strings.ContainsAny(out.AccessToken, "\r\n\x00 "):
		detail := fmt.Sprintf("token endpoint HTTP %d", status)
		if e := sanitize(out.Error); e != "" {
			detail += ": " + model.Truncate(e, 60)
		}
		if d := sanitize(out.Description); d != "" {
			detail += " (" + d + ")"
		}
		if jerr != nil {
			detail += ": unreadable answer"
		}
		return &Error{Kind: NeedsReconnect, HTTPStatus: status, Detail: detail,
			Message: "the store's Naver login has expired and Naver refused to renew it; reconnect the Naver Cafe account"}
	}
	c.cred.AccessToken = out.AccessToken
	if rt := strings.TrimSpace(out.RefreshToken); rt != "" && len(rt) <= 4096 {
		c.cred.RefreshToken = rt
	}
	c.cred.ExpiresAt = ""
	if secs := expiresIn(out.ExpiresIn); secs > 0 {
		c.cred.ExpiresAt = c.n.opts.Now().Add(time.Duration(secs) * time.Second).UTC().Format(time.RFC3339)
	}
	if save := c.req.Account.SaveCredentials; save != nil {
		blob, err := json.Marshal(c.cred)
		if err == nil {
			// The access token's hour is kept in the credentials (expiresAt, refreshed before
			// use); the account itself lives as long as its refresh token, so the account's
			// expiry is left unknown rather than shown as "expiring" every hour.
			err = save(c.ctx, blob, nil)
		}
		if err != nil {
			// The new token works for this attempt; the next one refreshes again.
			c.n.logger.Warn("could not store the renewed Naver token", slog.String("channel", string(c.n.ch)),
				slog.String("store_id", c.req.Account.StoreID), slog.String("error", err.Error()))
		}
	}
	return nil
}

// expiresIn reads expires_in, a number or a string of digits (Naver sends "3600").
func expiresIn(raw json.RawMessage) int64 {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(raw)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n > 10*365*86400 {
		return 0
	}
	return n
}

var _ AccountAdapter = (*NaverAdapter)(nil)
