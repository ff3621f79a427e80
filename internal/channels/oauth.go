package channels

// The OAuth authorization-code flows with which the stores pages connect a store's account
// (handlers/stores_pages.go builds the state and takes the callback; this file speaks to the
// platforms). Neither platform documents PKCE (code_challenge / code_verifier) for these flows,
// so none is sent: the state parameter, bound server-side to the manager's session, store and
// channel and used once, is what protects the callback.
//
// Instagram (Business Login for Instagram, "Instagram API with Instagram Login"):
// https://developers.facebook.com/docs/instagram-platform/instagram-api-with-instagram-login/business-login
//   - authorize: GET https://www.instagram.com/oauth/authorize?client_id&redirect_uri&response_type=code
//     &scope=instagram_business_basic,instagram_business_content_publish&state
//     (https://developers.facebook.com/docs/instagram-platform/reference/oauth-authorize); the
//     browser comes back with ?code=…&state=… (Meta appends "#_"), or, when the person cancels,
//     ?error=access_denied&error_reason=user_denied&error_description=…
//   - code → short-lived token: POST https://api.instagram.com/oauth/access_token with client_id,
//     client_secret, grant_type=authorization_code, redirect_uri (the same), code → {"data":
//     [{"access_token","user_id","permissions"}]} (older pages: a flat {"access_token","user_id"});
//     a refusal is HTTP 400 {"error_type":"OAuthException","code":400,"error_message":…}
//     (https://developers.facebook.com/docs/instagram-platform/reference/oauth-access-token).
//   - short-lived → long-lived (60 days): GET https://graph.instagram.com/access_token
//     ?grant_type=ig_exchange_token&client_secret&access_token → {"access_token","token_type",
//     "expires_in"} (https://developers.facebook.com/documentation/instagram-platform/reference/access_token).
//
// Naver (네이버 로그인 API 명세, https://developers.naver.com/docs/login/api/api.md):
//   - authorize: GET https://nid.naver.com/oauth2.0/authorize?response_type=code&client_id
//     &redirect_uri&state; back with ?code&state, or ?state&error&error_description.
//   - token: POST https://nid.naver.com/oauth2.0/token grant_type=authorization_code, client_id,
//     client_secret, code, state → {"access_token","refresh_token","token_type":"bearer",
//     "expires_in":"3600"}, or HTTP 200 with {"error","error_description"}.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// InstagramScopes are the permissions asked for: read the account, publish content.
const InstagramScopes = "instagram_business_basic,instagram_business_content_publish"

// OAuthClient runs one channel's authorization-code flow. Its secret never leaves the token
// requests; errors carry the platform's sanitized words, never a token or the secret.
type OAuthClient struct {
	ch           model.Channel
	protocol     Protocol
	authorizeURL string
	tokenURL     string
	graphURL     string // instagram-graph: the Graph host root, for the long-lived exchange
	clientID     string
	secret       ClientSecret
	client       *http.Client
	opts         Options
}

// AddOAuth makes ch's accounts connectable through OAuth with ep's AuthorizeURL, TokenURL,
// ClientID and ClientSecret (ep.URL is the Graph host for instagram-graph). The embedded
// simulator's registry is given its endpoints this way; call it before the registry is shared.
func (r *Registry) AddOAuth(ch model.Channel, ep Endpoint) {
	p := ep.Protocol
	if p == "" { // the embedded simulator: the platform the channel stands for
		switch ch {
		case model.ChannelInstagram:
			p = ProtocolInstagramGraph
		case model.ChannelNaver:
			p = ProtocolNaverCafe
		}
	}
	if p != ProtocolInstagramGraph && p != ProtocolNaverCafe {
		return
	}
	r.oauth[ch] = &OAuthClient{ch: ch, protocol: p, authorizeURL: ep.AuthorizeURL, tokenURL: ep.TokenURL,
		graphURL: trimBase(ep.URL), clientID: ep.ClientID, secret: ep.ClientSecret, client: r.client, opts: r.opts}
}

// OAuth returns ch's OAuth client, if its accounts connect through OAuth in this deployment.
func (r *Registry) OAuth(ch model.Channel) (*OAuthClient, bool) {
	o, ok := r.oauth[ch]
	return o, ok
}

// AuthorizeURL is where the manager's browser goes to consent, with state and redirectURI.
func (o *OAuthClient) AuthorizeURL(redirectURI, state string) string {
	q := url.Values{"client_id": {o.clientID}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "state": {state}}
	if o.protocol == ProtocolInstagramGraph {
		q.Set("scope", InstagramScopes)
	}
	return o.authorizeURL + "?" + q.Encode()
}

// AuthorizeHost is the host of the authorization endpoint (shown on the redirect page).
func (o *OAuthClient) AuthorizeHost() string {
	u, err := url.Parse(o.authorizeURL)
	if err != nil {
		return ""
	}
	return u.Host
}

// Exchange trades the callback's code for the account's tokens (and, for Instagram, the
// long-lived token and the user id). state is the callback's (Naver wants it again).
func (o *OAuthClient) Exchange(ctx context.Context, code, redirectURI, state string) (model.OAuthToken, error) {
	if o.protocol == ProtocolInstagramGraph {
		return o.exchangeInstagram(ctx, code, redirectURI)
	}
	return o.exchangeNaver(ctx, code, state)
}

func (o *OAuthClient) exchangeInstagram(ctx context.Context, code, redirectURI string) (model.OAuthToken, error) {
	form := url.Values{"client_id": {o.clientID}, "client_secret": {string(o.secret)}, "grant_type": {"authorization_code"},
		"redirect_uri": {redirectURI}, "code": {code}}
	status, body, err := o.do(ctx, http.MethodPost, o.tokenURL, form)
	if err != nil {
		return model.OAuthToken{}, err
	}
	type grant struct {
		AccessToken string      `json:"access_token"`
		UserID      json.Number `json:"user_id"`
	}
	var out struct {
		Data []grant `json:"data"`
		grant
		ErrorType    string `json:"error_type"`
		ErrorMessage string `json:"error_message"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	jerr := dec.Decode(&out)
	g := out.grant
	if len(out.Data) > 0 {
		g = out.Data[0]
	}
	if status != http.StatusOK || jerr != nil || !tokenShape(g.AccessToken) || !digits(g.UserID.String()) {
		return model.OAuthToken{}, fmt.Errorf("the Instagram token endpoint refused the authorization code (HTTP %d%s)", status, platformWords(out.ErrorType, out.ErrorMessage))
	}
	// The short-lived token (an hour) becomes a long-lived one (60 days).
	q := url.Values{"grant_type": {"ig_exchange_token"}, "client_secret": {string(o.secret)}, "access_token": {g.AccessToken}}
	status, body, err = o.do(ctx, http.MethodGet, o.graphURL+"/access_token?"+q.Encode(), nil)
	if err != nil {
		return model.OAuthToken{}, err
	}
	var ll struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
		Error       *graphErrorBody `json:"error"`
	}
	jerr = json.Unmarshal(body, &ll)
	if status != http.StatusOK || jerr != nil || !tokenShape(ll.AccessToken) {
		words := ""
		if ll.Error != nil {
			words = platformWords(ll.Error.Type, ll.Error.Message)
		}
		return model.OAuthToken{}, fmt.Errorf("the Instagram Graph API refused to exchange the token for a long-lived one (HTTP %d%s)", status, words)
	}
	tok := model.OAuthToken{AccountID: g.UserID.String(), AccessToken: ll.AccessToken}
	if secs := expiresIn(ll.ExpiresIn); secs > 0 {
		t := o.opts.Now().Add(time.Duration(secs) * time.Second).UTC().Truncate(time.Second)
		tok.ExpiresAt = &t
	}
	return tok, nil
}

func (o *OAuthClient) exchangeNaver(ctx context.Context, code, state string) (model.OAuthToken, error) {
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {o.clientID}, "client_secret": {string(o.secret)},
		"code": {code}, "state": {state}}
	status, body, err := o.do(ctx, http.MethodPost, o.tokenURL, form)
	if err != nil {
		return model.OAuthToken{}, err
	}
	var out struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		Error        string `json:"error"`
		Description  string `json:"error_description"`
	}
	jerr := json.Unmarshal(body, &out)
	if status != http.StatusOK || jerr != nil || out.Error != "" || !tokenShape(out.AccessToken) || !tokenShape(out.RefreshToken) {
		return model.OAuthToken{}, fmt.Errorf("the Naver Login token endpoint refused the authorization code (HTTP %d%s)", status, platformWords(out.Error, out.Description))
	}
	// The access token's hour is not the account's expiry: the adapter renews it with the refresh
	// token (naver.go), so the account's expiry is left unknown.
	return model.OAuthToken{AccessToken: out.AccessToken, RefreshToken: out.RefreshToken}, nil
}

// do sends one token request and reads its answer (bounded); network errors name the host only.
func (o *OAuthClient) do(ctx context.Context, method, u string, form url.Values) (int, []byte, error) {
	rctx, cancel := context.WithTimeout(ctx, o.opts.RequestTimeout)
	defer cancel()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(rctx, method, u, body)
	if err != nil {
		return 0, nil, fmt.Errorf("the %s token endpoint is misconfigured", o.ch)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", o.opts.UserAgent)
	resp, err := o.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("could not reach the %s token endpoint %s", o.ch, req.URL.Host)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, o.opts.MaxBodyBytes))
	if err != nil {
		return 0, nil, fmt.Errorf("could not read the %s token endpoint's answer", o.ch)
	}
	return resp.StatusCode, data, nil
}

// tokenShape accepts a token that can be stored and sent back: one line, no spaces, bounded.
func tokenShape(s string) bool {
	return s != "" && len(s) <= 4096 && !strings.ContainsAny(s, " \r\n\t\x00")
}

func digits(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// platformWords is ": <type> <message>" from a refusal, sanitized, or "".
func platformWords(typ, msg string) string {
	w := strings.TrimSpace(sanitize(typ) + " " + sanitize(msg))
	if w == "" {
		return ""
	}
	return ": " + model.Truncate(w, 200)
}
