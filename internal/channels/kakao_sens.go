package channels

// The kakao-sens protocol: KakaoTalk 브랜드 메시지 (brand message), free-form TEXT type, through
// NAVER Cloud SENS, a Kakao BizMessage dealer, sent as the store's KakaoTalk channel. (The
// protocol name stays "kakao-sens" so CHANNELS_CONFIG files keep working.)
//
//	POST /brandmessage/v2/services/{serviceId}/messages
//	     {"plusFriendId","messageType":"TEXT","targeting":"I"|"M"|"N","messages":[{"to","countryCode","content"}]}
//	     → 202 {"requestId","requestTime","statusCode":"202","statusName":"success","messages":[{"messageId","to","requestStatusCode","requestStatusName"}]}
//	GET  /brandmessage/v2/services/{serviceId}/messages?requestId=&pageSize=[&nextToken=]   (메시지 발송 목록 조회)
//	GET  /brandmessage/v2/services/{serviceId}/messages?requestStartTime=&requestEndTime=&plusFriendId=&pageSize=
//	GET  /brandmessage/v2/services/{serviceId}/messages/{messageId}                       (메시지 발송 결과 조회)
//
// Pages read (NAVER Cloud API guide, stored copies of 2026-04..10):
//   - 메시지 발송 (send): https://api.ncloud-docs.com/docs/sens-brandmessage-send
//     (en: https://api.ncloud-docs.com/docs/en/sens-brandmessage-send): the path, plusFriendId
//     (channel id, required), messageType (required; TEXT | IMAGE | WIDE_IMAGE | WIDE_ITEM_LIST |
//     COMMERCE | CAROUSEL_COMMERCE | CAROUSEL_FEED | PREMIUM_VIDEO), targeting (optional):
//     M = users who consented to the company's advertising (KakaoTalk consent), N = M minus the
//     channel's friends, I = the request's recipients ∩ the channel's friends; M and N only for
//     channels whose brand message subscription is complete, and they use the channel's 080
//     opt-out number; night-time sending restricted 20:50 to 08:00 (our quiet hours, package
//     quiethours). The stored copies are cut after the first body rows: the messages[] fields
//     (to, countryCode, content), the TEXT content limit and the response body could NOT be
//     read there. We send to/countryCode/content as SENS's other Kakao APIs (알림톡, 친구톡) do,
//     and read the answer as 친구톡's (requestId, messages[].messageId, requestStatusCode A000 /
//     requestStatusName success|fail). Two third-party clients of this API (the ncloud-mcp-server
//     and bizgo developer pages) give TEXT content ≤ 1,300 characters and targeting default I; we
//     always send targeting explicitly. No isAd field appears on the page: a brand message is
//     advertising by definition (BrandMessage Overview,
//     https://guide.ncloud-docs.com/docs/sens-bmoverview), so none is sent.
//   - 메시지 발송 목록 조회 (list): https://api.ncloud-docs.com/docs/sens-brandmessage-list:
//     requestId, or requestStartTime+requestEndTime (≤ 31 days) or completeStartTime+completeEndTime
//     (≤ 24 h), "YYYY-MM-DD HH:mm:ss 형식(URL 인코딩 필요)" (its curl example writes a "T"
//     instead: we follow the table; the time zone is not stated, KST is assumed); plusFriendId
//     (required without requestId), messageId, requestStatusName, messageStatusName, to,
//     nextToken (page token), pageSize. Requests of the last 30 days.
//   - 메시지 발송 결과 조회 (one message): https://api.ncloud-docs.com/docs/sens-brandmessage-get
//     (en: https://api.ncloud-docs.com/docs/en/sens-brandmessage-get): requestId, messageId,
//     requestTime, completeTime, plusFriendId, messageType, to, content, requestStatusCode,
//     requestStatusName, requestStatusDesc, messageStatus…. Statuses (BrandMessage Message,
//     https://guide.ncloud-docs.com/docs/sens-bmmessage): 요청 상태 성공|실패 (request
//     success|fail), 수신 상태 성공|처리중|실패 (message success|processing|fail); the list takes
//     messageStatusName, so the names are success|processing|fail as in 친구톡.
//   - Common headers and signature (SENS 개요, https://api.ncloud-docs.com/docs/sens-overview):
//     https://sens.apigw.ntruss.com; x-ncp-apigw-timestamp (ms, 5-minute window),
//     x-ncp-iam-access-key, x-ncp-apigw-signature-v2 = base64(HmacSHA256(secretKey,
//     "{METHOD} {path?query}\n{timestamp}\n{accessKey}")): unchanged from 친구톡.
//
// Why not 친구톡 any more: SENS's release note (https://guide.ncloud-docs.com/docs/sens-releasenote)
// lists "친구톡 서비스 종료" on 2026-02-12 (the gov region's,
// https://guide-gov.ncloud-docs.com/docs/sens-releasenote, on 2026-03-19) after "브랜드 메시지 제공"
// on 2025-12-02; the API guide no longer lists 친구톡 among SENS's message types.
//
// SENS documents no idempotency key for brand messages. Before the send, the checkpoint keeps
// "sending@<unix ms>"; after it, the requestId. A retry with a requestId follows that request; a
// retry with "sending@" looks the store's requests up by time (plusFriendId, from the saved time
// to now, every page) for one with our content, so a send whose answer was lost is followed,
// never sent again.
//
// Recipients: a store's KAKAO account lists phone numbers: credentials {"senderKey",
// "plusFriendId": "@store", "recipients": ["01012345678", ...], "targeting": "I"|"M"|"N"}
// (plusFriendId, the channel's id registered in the SENS project, defaults to the senderKey;
// targeting defaults to I, the only mode that needs neither the brand message subscription nor
// an 080 number, and the old 친구톡 audience: listed numbers that are friends of the channel).
// Estimated views are the number of recipients.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/partnersig"
)

// ProtocolKakaoSENS is KakaoTalk brand messages through NAVER Cloud SENS (kakao_sens.go).
const ProtocolKakaoSENS Protocol = "kakao-sens"

// SENS header names (SENS 개요, above).
const (
	SENSHeaderTimestamp = "x-ncp-apigw-timestamp"
	SENSHeaderAccessKey = "x-ncp-iam-access-key"
	SENSHeaderSignature = "x-ncp-apigw-signature-v2"
)

// maxBrandTextRunes is the TEXT brand message's content limit (1,300 characters: see the header,
// the official page's copy is cut before it).
const maxBrandTextRunes = 1300

// sensListPageSize is the pageSize of our list reads (the list's largest page; a request has
// at most maxSENSRecipients messages).
const sensListPageSize = 100

// maxSENSListPages bounds the pages one look-up by time reads.
const maxSENSListPages = 20

// Brand message targeting codes (메시지 발송, above).
const (
	KakaoTargetingFriends    = "I" // the recipients who are friends of the channel
	KakaoTargetingConsented  = "M" // every recipient who consented to the company's advertising
	KakaoTargetingNonFriends = "N" // consented recipients who are not friends of the channel
)

// ValidKakaoTargeting reports whether t is a brand message targeting code.
func ValidKakaoTargeting(t string) bool {
	return t == KakaoTargetingFriends || t == KakaoTargetingConsented || t == KakaoTargetingNonFriends
}

// maxSENSRecipients is how many messages one SENS request carries (100 per request).
const maxSENSRecipients = 100

// sensThrottleWait is the wait of a throttled call without Retry-After.
const sensThrottleWait = 30 * time.Second

const sensSendingPrefix = "sending@"

// SENSSignature signs one SENS request: base64(HmacSHA256(secret, method+" "+uri+"\n"+timestamp+"\n"+accessKey)),
// uri being the path with its query.
func SENSSignature(secret []byte, method, uri, timestamp, accessKey string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(method + " " + uri + "\n" + timestamp + "\n" + accessKey))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SENSAdapter sends KAKAO messages as NAVER Cloud SENS brand messages.
type SENSAdapter struct {
	ch        model.Channel
	base      string
	serviceID string
	accessKey string
	secret    partnersig.Secret
	badCfg    *Error
	client    *http.Client
	opts      Options
	logger    *slog.Logger
}

func newSENSAdapter(ch model.Channel, ep Endpoint, client *http.Client, opts Options, logger *slog.Logger) *SENSAdapter {
	a := &SENSAdapter{ch: ch, serviceID: ep.ServiceID, accessKey: ep.AccessKey, secret: ep.Secret, client: client, opts: opts, logger: logger}
	base, err := checkEndpoint(ep.URL, opts.AllowInsecureLoopback)
	switch {
	case err != nil:
		a.badCfg = permanent(0, "the channel endpoint is misconfigured", err.Error())
	case ep.ServiceID == "" || ep.AccessKey == "" || len(ep.Secret) == 0:
		a.badCfg = permanent(0, "the channel endpoint is misconfigured", "kakao-sens needs serviceId, accessKey and secretKeyFile")
	}
	a.base = base
	return a
}

// parseSENSChannel validates a kakao-sens entry of CHANNELS_CONFIG.
func parseSENSChannel(ch model.Channel, ep channelJSON, allowInsecureLoopback bool) (ChannelConfig, error) {
	if ch != model.ChannelKakao {
		return ChannelConfig{}, errors.New("protocol kakao-sens applies to KAKAO only")
	}
	if ep.URL == "" {
		return ChannelConfig{}, errors.New("url is required (https://sens.apigw.ntruss.com)")
	}
	base, err := checkEndpoint(ep.URL, allowInsecureLoopback)
	if err != nil {
		return ChannelConfig{}, err
	}
	if ep.Version != "" || ep.SecretFile != "" {
		return ChannelConfig{}, errors.New("version and secretFile do not apply to kakao-sens (it takes serviceId, accessKey and secretKeyFile)")
	}
	if !validSENSField(ep.ServiceID) {
		return ChannelConfig{}, errors.New("serviceId is required: the Biz Message service id of the SENS project (ncp:kkobizmsg:kr:...)")
	}
	if !validSENSField(ep.AccessKey) {
		return ChannelConfig{}, errors.New("accessKey is required: the NAVER Cloud access key id")
	}
	if strings.TrimSpace(ep.SecretKeyFile) == "" {
		return ChannelConfig{}, errors.New("secretKeyFile is required: the file holding the secret key of accessKey")
	}
	return ChannelConfig{Protocol: ProtocolKakaoSENS, URL: base, ServiceID: ep.ServiceID, AccessKey: ep.AccessKey, SecretFile: ep.SecretKeyFile}, nil
}

func validSENSField(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r > '~' || r == '/' || r == '?' || r == '#' {
			return false
		}
	}
	return true
}

// Channel returns the channel the adapter publishes to.
func (a *SENSAdapter) Channel() model.Channel { return a.ch }

// NeedsAccount implements AccountAdapter: messages go out as the store's Kakao channel.
func (a *SENSAdapter) NeedsAccount() bool { return true }

// KakaoCredentials is the KAKAO credential JSON of a kakao-sens account.
type KakaoCredentials struct {
	PlusFriendID string   `json:"plusFriendId"`
	SenderKey    string   `json:"senderKey"`
	Recipients   []string `json:"recipients"`
	// Targeting is the brand message targeting code, I (default), M or N.
	Targeting string `json:"targeting,omitempty"`
}

// ErrNoKakaoAccount is the message of a publication without a connected account.
const ErrNoKakaoAccount = "no connected KakaoTalk channel for this store"

// BrandMessageContent is the TEXT brand message of a request: the advertising title ("(광고)"),
// the description ending with the opt-out line (kakao_ad.go), cut to 1,300 characters keeping
// the opt-out line. The brand message pages we could read do not say that SENS or Kakao adds
// "(광고)" or an opt-out line to a free-form TEXT message (Kakao shows its own "채널 차단" and,
// for M/N targeting, the channel's 080 number), so the text carries both, as the law asks of
// every advertising message.
func BrandMessageContent(req Request) string {
	title, desc := kakaoAd(model.ChannelKakao, strings.TrimSpace(req.Title), strings.TrimSpace(req.Description))
	s := title + "\n\n" + desc
	if n := len([]rune(s)); n > maxBrandTextRunes {
		body := strings.TrimSuffix(s, "\n\n"+KakaoOptOut)
		keep := maxBrandTextRunes - len([]rune("\n\n"+KakaoOptOut))
		s = model.Truncate(body, keep) + "\n\n" + KakaoOptOut
	}
	return s
}

// Publish implements Adapter.
func (a *SENSAdapter) Publish(ctx context.Context, req Request, progress func(pct int)) (Result, error) {
	if a.badCfg != nil {
		return Result{}, a.badCfg
	}
	if progress == nil {
		progress = func(int) {}
	}
	cred, cerr := accountCredentials(req, a.ch, ErrNoKakaoAccount, "KakaoTalk channel settings", "credential JSON unreadable",
		func(KakaoCredentials) bool { return true })
	if cerr != nil {
		return Result{}, cerr
	}
	if cred.PlusFriendID == "" {
		cred.PlusFriendID = req.Account.Ref
	}
	switch {
	case cred.Targeting == "":
		cred.Targeting = KakaoTargetingFriends
	case !ValidKakaoTargeting(cred.Targeting):
		return Result{}, permanent(0, "the store's KakaoTalk channel has an unknown targeting; set I, M or N with `account set`", "targeting must be I, M or N")
	}
	if cred.PlusFriendID == "" || len(cred.Recipients) == 0 {
		return Result{}, permanent(0, "the store's KakaoTalk channel has no recipients; set plusFriendId and recipients with `account set`", "credentials without plusFriendId or recipients")
	}
	if len(cred.Recipients) > maxSENSRecipients {
		return Result{}, permanent(0, fmt.Sprintf("the store's KakaoTalk channel lists more than %d recipients", maxSENSRecipients), fmt.Sprintf("%d recipients", len(cred.Recipients)))
	}
	recipients := make([]string, 0, len(cred.Recipients))
	for i, r := range cred.Recipients {
		n, ok := phoneNumber(r)
		if !ok {
			// The number itself is personal data: the error names its position only.
			return Result{}, permanent(0, fmt.Sprintf("recipient %d of the store's KakaoTalk channel is not a phone number", i+1), "recipients must be 9 to 15 digits (dashes and spaces allowed)")
		}
		recipients = append(recipients, n)
	}
	ctx, cancel := context.WithTimeout(ctx, a.opts.MaxPublishTime)
	defer cancel()
	c := &sensCall{a: a, ctx: ctx, friend: cred.PlusFriendID, targeting: cred.Targeting}
	res, err := c.publish(req, recipients, progress)
	if err != nil {
		a.logger.Debug("publish failed", slog.String("channel", string(a.ch)), slog.String("event_id", req.EventID),
			slog.String("kind", err.Kind.String()), slog.Int("http_status", err.HTTPStatus), slog.String("error", err.Error()))
		return Result{}, err
	}
	progress(100)
	return res, nil
}

// phoneNumber keeps the digits of a recipient number written with dashes or spaces.
func phoneNumber(s string) (string, bool) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '-' || r == ' ':
		default:
			return "", false
		}
	}
	n := b.String()
	return n, len(n) >= 9 && len(n) <= 15
}

type sensCall struct {
	a         *SENSAdapter
	ctx       context.Context
	friend    string
	targeting string
}

// sensMessage is one message of a SENS answer.
type sensMessage struct {
	MessageID         string `json:"messageId"`
	To                string `json:"to"`
	Content           string `json:"content"`
	PlusFriendID      string `json:"plusFriendId"`
	RequestStatusCode string `json:"requestStatusCode"`
	RequestStatusName string `json:"requestStatusName"`
	RequestStatusDesc string `json:"requestStatusDesc"`
	MessageStatusName string `json:"messageStatusName"` // processing | success | fail
	MessageStatusCode string `json:"messageStatusCode"`
	MessageStatusDesc string `json:"messageStatusDesc"`
	RequestID         string `json:"requestId"`
}

// sensList is a send's answer and a list page (nextToken: the next page, "" = the last).
type sensList struct {
	RequestID  string        `json:"requestId"`
	StatusCode string        `json:"statusCode"`
	StatusName string        `json:"statusName"`
	Messages   []sensMessage `json:"messages"`
	NextToken  string        `json:"nextToken"`
}

func (c *sensCall) publish(req Request, recipients []string, progress func(int)) (Result, *Error) {
	content := BrandMessageContent(req)
	saved := ""
	if req.Checkpoint != nil {
		v, err := req.Checkpoint.Load(c.ctx)
		if err != nil {
			return Result{}, temporary(0, "could not read the saved KakaoTalk request", err.Error())
		}
		saved = v
	}
	requestID := ""
	switch {
	case strings.HasPrefix(saved, sensSendingPrefix):
		// An earlier attempt sent (or tried to) and lost the answer: look for it before sending.
		ms, _ := strconv.ParseInt(strings.TrimPrefix(saved, sensSendingPrefix), 10, 64)
		id, err := c.findSent(time.UnixMilli(ms), content)
		if err != nil {
			return Result{}, err
		}
		requestID = id
		if id != "" && req.Checkpoint != nil {
			if err := req.Checkpoint.Save(c.ctx, id); err != nil {
				return Result{}, temporary(0, "could not save the KakaoTalk request id", err.Error())
			}
		}
	case saved != "":
		requestID = saved
	}
	if requestID == "" {
		if req.Checkpoint != nil {
			mark := sensSendingPrefix + strconv.FormatInt(c.a.opts.Now().Add(-time.Minute).UnixMilli(), 10)
			if err := req.Checkpoint.Save(c.ctx, mark); err != nil {
				return Result{}, temporary(0, "could not save the KakaoTalk send before sending", err.Error())
			}
		}
		id, err := c.send(content, recipients)
		if err != nil {
			return Result{}, err
		}
		requestID = id
		if req.Checkpoint != nil {
			if err := req.Checkpoint.Save(c.ctx, requestID); err != nil {
				return Result{}, temporary(0, "could not save the KakaoTalk request id", err.Error())
			}
		}
	}
	progress(30)
	return c.follow(requestID, len(recipients), progress)
}

func (c *sensCall) path() string {
	return "/brandmessage/v2/services/" + url.PathEscape(c.a.serviceID) + "/messages"
}

// sensSendBody is a free-form TEXT brand message send (https://api.ncloud-docs.com/docs/sens-brandmessage-send).
type sensSendBody struct {
	PlusFriendID string            `json:"plusFriendId"`
	MessageType  string            `json:"messageType"`
	Targeting    string            `json:"targeting"`
	Messages     []sensSendMessage `json:"messages"`
}

// sensSendMessage is one recipient's message (fields as in SENS's other Kakao APIs: the brand
// message page's copy is cut before them, see the header).
type sensSendMessage struct {
	To          string `json:"to"`
	CountryCode string `json:"countryCode"`
	Content     string `json:"content"`
}

func (c *sensCall) send(content string, recipients []string) (string, *Error) {
	body := sensSendBody{PlusFriendID: c.friend, MessageType: "TEXT", Targeting: c.targeting}
	for _, to := range recipients {
		body.Messages = append(body.Messages, sensSendMessage{To: to, CountryCode: "82", Content: content})
	}
	data, _ := json.Marshal(body)
	var out sensList
	if err := c.do(http.MethodPost, c.path(), data, &out); err != nil {
		return "", err
	}
	if !validGraphID(out.RequestID) {
		return "", temporary(0, "KakaoTalk (SENS) sent an unreadable answer", "send answer without a requestId")
	}
	return out.RequestID, nil
}

// list is the 메시지 발송 목록 조회 (https://api.ncloud-docs.com/docs/sens-brandmessage-list):
// every page of q, at most maxSENSListPages.
func (c *sensCall) list(q url.Values) (sensList, *Error) {
	var all sensList
	q.Set("pageSize", strconv.Itoa(sensListPageSize))
	for page := 0; ; page++ {
		var out sensList
		if err := c.do(http.MethodGet, c.path()+"?"+q.Encode(), nil, &out); err != nil {
			return sensList{}, err
		}
		if page == 0 {
			all = out
		} else {
			all.Messages = append(all.Messages, out.Messages...)
		}
		if out.NextToken == "" || page+1 >= maxSENSListPages {
			all.NextToken = ""
			return all, nil
		}
		q.Set("nextToken", out.NextToken)
	}
}

// sensListTimeLayout is the list's time format, "YYYY-MM-DD HH:mm:ss" (sens-brandmessage-list).
const sensListTimeLayout = "2006-01-02 15:04:05"

// findSent finds the request an earlier attempt sent with content since from ("" = none).
func (c *sensCall) findSent(from time.Time, content string) (string, *Error) {
	kst := time.FixedZone("KST", 9*3600)
	q := url.Values{"plusFriendId": {c.friend}, "requestStartTime": {from.In(kst).Format(sensListTimeLayout)},
		"requestEndTime": {c.a.opts.Now().Add(time.Minute).In(kst).Format(sensListTimeLayout)}}
	out, err := c.list(q)
	if err != nil {
		return "", err
	}
	for _, m := range out.Messages {
		if m.Content == content && m.RequestID != "" {
			return m.RequestID, nil
		}
	}
	return "", nil
}

// message is the 메시지 발송 결과 조회 of one message (https://api.ncloud-docs.com/docs/sens-brandmessage-get).
func (c *sensCall) message(id string) (sensMessage, *Error) {
	var out sensMessage
	err := c.do(http.MethodGet, c.path()+"/"+url.PathEscape(id), nil, &out)
	return out, err
}

// follow reads the request's messages until none is processing. Success when at least one
// reached a friend; estimated views are the recipients count.
func (c *sensCall) follow(requestID string, recipients int, progress func(int)) (Result, *Error) {
	pct, failures := 30, 0
	for {
		out, err := c.list(url.Values{"requestId": {requestID}})
		if err != nil {
			if err.Kind != Temporary || failures >= c.a.opts.PollRetries || c.ctx.Err() != nil {
				return Result{}, err
			}
			failures++
		} else {
			failures = 0
			done, ok, last := 0, 0, sensMessage{}
			for _, m := range out.Messages {
				switch {
				case m.MessageStatusName == "success":
					done++
					ok++
				case m.MessageStatusName == "fail" || m.RequestStatusName == "fail":
					// A request refused for this recipient never gets a message status.
					done++
					last = m
				}
			}
			if len(out.Messages) > 0 && done == len(out.Messages) {
				if ok == 0 {
					return Result{}, c.undelivered(requestID, last)
				}
				return Result{MessageID: requestID, EstimatedViews: recipients}, nil
			}
			pct = min(pct+10, 90)
			progress(pct)
		}
		t := time.NewTimer(c.a.opts.PollInterval)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return Result{}, &Error{Kind: Temporary, Message: "the publication was interrupted", Detail: c.ctx.Err().Error(), cause: c.ctx.Err()}
		}
	}
}

// undelivered is the error of a request no recipient received: the detail is the failed
// message's own result (메시지 발송 결과 조회), or the list's when that read fails.
func (c *sensCall) undelivered(requestID string, m sensMessage) *Error {
	if m.MessageID != "" {
		if one, err := c.message(m.MessageID); err == nil && one.MessageID == m.MessageID {
			m = one
		}
	}
	code, desc := m.MessageStatusCode, m.MessageStatusDesc
	if code == "" {
		code, desc = m.RequestStatusCode, m.RequestStatusDesc
	}
	return permanent(0, "KakaoTalk did not deliver the message to any recipient (the targeting reached none of them)",
		fmt.Sprintf("requestId %s: messageId %s: status %s %s", sanitize(requestID), model.Truncate(sanitize(m.MessageID), 80), model.Truncate(sanitize(code), 40), model.Truncate(sanitize(desc), 200)))
}

// do is one signed SENS request; a 2xx JSON answer is decoded into out.
func (c *sensCall) do(method, uri string, body []byte, out any) *Error {
	rctx, cancel := context.WithTimeout(c.ctx, c.a.opts.RequestTimeout)
	defer cancel()
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(rctx, method, c.a.base+uri, rd)
	if err != nil {
		return permanent(0, "the channel endpoint is misconfigured", "cannot build the request")
	}
	ts := strconv.FormatInt(c.a.opts.Now().UnixMilli(), 10)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.a.opts.UserAgent)
	req.Header.Set(SENSHeaderTimestamp, ts)
	req.Header.Set(SENSHeaderAccessKey, c.a.accessKey)
	req.Header.Set(SENSHeaderSignature, SENSSignature(c.a.secret, method, req.URL.RequestURI(), ts, c.a.accessKey))
	resp, err := c.a.client.Do(req)
	if err != nil {
		if c.ctx.Err() != nil {
			return &Error{Kind: Temporary, Message: "the publication was interrupted", Detail: c.ctx.Err().Error(), cause: c.ctx.Err()}
		}
		return networkError(err, rctx)
	}
	defer resp.Body.Close()
	limit := c.a.opts.MaxBodyBytes
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return networkError(err, rctx)
	}
	if int64(len(data)) > limit {
		return tooLarge(resp.StatusCode, limit)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return SENSError(resp.StatusCode, resp.Header, data, c.a.opts.Now())
	}
	if err := json.Unmarshal(data, out); err != nil {
		return temporary(resp.StatusCode, "KakaoTalk (SENS) sent an unreadable answer", "invalid JSON: "+sanitize(err.Error()))
	}
	return nil
}

// sensErrorBody is an error answer of SENS: the API gateway's {"error":{"errorCode","message","details"}}
// (authentication, throttling) or SENS's own {"status","errorMessage"} / {"statusCode","statusName"}.
type sensErrorBody struct {
	Error *struct {
		ErrorCode string `json:"errorCode"`
		Message   string `json:"message"`
		Details   string `json:"details"`
	} `json:"error"`
	Status       json.Number `json:"status"`
	ErrorMessage string      `json:"errorMessage"`
	StatusCode   string      `json:"statusCode"`
	StatusName   string      `json:"statusName"`
}

// SENSError classifies a non-2xx SENS answer:
//
//   - 401 and 403 (the API gateway's authentication failures: a wrong access key or signature,
//     gateway errorCode 200/210; a plusFriendId the project does not own or whose sender key is
//     blocked) → NeedsReconnect: nothing is retried until someone fixes the account;
//   - 429 (gateway errorCode 300/400 throttling) → RateLimited (Retry-After when given);
//   - 5xx → Temporary; the rest Permanent.
//
// The detail keeps the status and the gateway's or SENS's code.
func SENSError(status int, hdr http.Header, body []byte, now time.Time) *Error {
	var b sensErrorBody
	_ = json.Unmarshal(body, &b)
	code, msg := "", ""
	switch {
	case b.Error != nil:
		code, msg = b.Error.ErrorCode, b.Error.Message
		if b.Error.Details != "" {
			msg += ": " + b.Error.Details
		}
	case b.ErrorMessage != "":
		code, msg = b.Status.String(), b.ErrorMessage
	case b.StatusName != "":
		code, msg = b.StatusCode, b.StatusName
	default:
		msg = strings.TrimSpace(string(body))
	}
	msg = model.Truncate(sanitize(msg), 200)
	detail := fmt.Sprintf("HTTP %d", status)
	if code != "" {
		detail += ": SENS code " + model.Truncate(sanitize(code), 40)
	}
	if msg != "" {
		detail += ": " + msg
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return &Error{Kind: NeedsReconnect, HTTPStatus: status, Detail: detail,
			Message: "KakaoTalk (SENS) refused the store's channel or the dealer credentials; reconnect the KakaoTalk channel"}
	case status == http.StatusTooManyRequests:
		wait := sensThrottleWait
		if v := hdr.Get("Retry-After"); v != "" {
			wait = retryAfter(v, now)
		}
		return &Error{Kind: RateLimited, HTTPStatus: status, RetryAfter: wait, Detail: detail,
			Message: fmt.Sprintf("KakaoTalk (SENS) is limiting requests; trying again in %s", wait)}
	case status >= 500:
		return temporary(status, "KakaoTalk (SENS) is having a temporary problem", detail)
	}
	return permanent(status, "KakaoTalk (SENS) rejected the message", detail)
}

var _ AccountAdapter = (*SENSAdapter)(nil)
