package simulator

// OAuth authorization-code endpoints of the platforms whose accounts the stores pages connect
// (internal/channels/oauth.go is the client), as the platforms document them:
//
// Instagram, Business Login for Instagram
// (https://developers.facebook.com/docs/instagram-platform/instagram-api-with-instagram-login/business-login,
// https://developers.facebook.com/docs/instagram-platform/reference/oauth-authorize,
// https://developers.facebook.com/docs/instagram-platform/reference/oauth-access-token,
// https://developers.facebook.com/documentation/instagram-platform/reference/access_token):
//
//	GET  /oauth/authorize     client_id, redirect_uri, response_type=code, scope, state → consent page;
//	                          Allow → redirect_uri?code=…&state=…#_ ; Deny → redirect_uri?error=access_denied
//	                          &error_reason=user_denied&error_description=The+user+denied+your+request&state=…
//	POST /oauth/access_token  client_id, client_secret, grant_type=authorization_code, redirect_uri, code
//	                          → {"data":[{"access_token","user_id","permissions"}]} (a short-lived token), or
//	                          HTTP 400 {"error_type":"OAuthException","code":400,"error_message"}
//	GET  /access_token        grant_type=ig_exchange_token, client_secret, access_token
//	                          → {"access_token","token_type":"bearer","expires_in":5184000} (60 days)
//
// Naver Login (https://developers.naver.com/docs/login/api/api.md):
//
//	GET  /oauth2.0/authorize  response_type=code, client_id, redirect_uri, state → consent page;
//	                          Allow → redirect_uri?code=…&state=… ; Deny → redirect_uri?state=…&error=access_denied
//	                          &error_description=Canceled+By+User
//	POST /oauth2.0/token      grant_type=authorization_code, client_id, client_secret, code, state
//	                          → {"access_token","refresh_token","token_type":"bearer","expires_in":"3600"},
//	                          or HTTP 200 {"error":"invalid_request","error_description":…}
//
// Codes are single use (taken by the first exchange, whatever its outcome), live ten minutes, and
// are bound to the client id and the redirect URI (Naver: to the client id and the state, which
// its token request carries instead). A channel with a client registered (RegisterOAuthClient)
// answers only that client id and secret; without one any non-empty pair is accepted. The tokens
// issued are valid in the Graph and Cafe emulations for the account that consented; an Instagram
// token issued here is not refused by a SIMULATOR_FAIL "INSTAGRAM=190" rule, which kills the
// tokens the account had before: a reconnect replaces a dead token with a working one.

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// OAuthCodeLifetime is how long an authorization code can be exchanged.
const OAuthCodeLifetime = 10 * time.Minute

// igLongLivedSeconds is a long-lived Instagram token's life: 60 days.
const igLongLivedSeconds = 60 * 24 * 3600

// DefaultInstagramLogin is the Instagram user who consents when no account is registered.
const DefaultInstagramLogin = "17841400000000001"

type oauthClient struct{ id, secret string }

type oauthCode struct {
	ch                           model.Channel
	clientID, redirectURI, state string
	account                      string // Instagram user id that consented
	expires                      time.Time
}

type oauthState struct {
	clients map[model.Channel]oauthClient
	codes   map[string]*oauthCode
	fresh   map[string]bool // Instagram tokens issued here (not killed by the 190 rule)
	issued  int
	// Exchanges counts code exchanges per channel that granted a token.
	exchanges map[model.Channel]int
}

func newOAuthState() *oauthState {
	return &oauthState{clients: map[model.Channel]oauthClient{}, codes: map[string]*oauthCode{},
		fresh: map[string]bool{}, exchanges: map[model.Channel]int{}}
}

// RegisterOAuthClient makes ch's OAuth endpoints answer only clientID with secret.
func (s *Server) RegisterOAuthClient(ch model.Channel, clientID, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth.clients[ch] = oauthClient{id: clientID, secret: secret}
}

// OAuthExchanges returns how many authorization codes of ch were exchanged for a token.
func (s *Server) OAuthExchanges(ch model.Channel) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.oauth.exchanges[ch]
}

func (s *Server) oauthRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /oauth/authorize", s.authorizePage(model.ChannelInstagram))
	mux.HandleFunc("POST /oauth/authorize", s.authorizeDecision(model.ChannelInstagram))
	mux.HandleFunc("POST /oauth/access_token", s.igCodeExchange)
	mux.HandleFunc("GET /access_token", s.igLongLived)
	mux.HandleFunc("GET /oauth2.0/authorize", s.authorizePage(model.ChannelNaver))
	mux.HandleFunc("POST /oauth2.0/authorize", s.authorizeDecision(model.ChannelNaver))
}

// clientOK reports whether id (and secret, when checkSecret) are ch's client. Caller holds s.mu.
func (s *Server) clientOKLocked(ch model.Channel, id, secret string, checkSecret bool) bool {
	if id == "" || (checkSecret && secret == "") {
		return false
	}
	c, ok := s.oauth.clients[ch]
	if !ok {
		return true
	}
	return c.id == id && (!checkSecret || c.secret == secret)
}

var consentPage = template.Must(template.New("consent").Parse(`<!DOCTYPE html>
<html lang="ko"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Platform}} (simulator)</title></head>
<body data-consent-page="{{.Channel}}">
<h1>{{.Platform}}</h1>
<p>An application asks to publish as your account. 앱이 계정으로 게시할 권한을 요청합니다.</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="client_id" value="{{.ClientID}}">
<input type="hidden" name="redirect_uri" value="{{.RedirectURI}}">
<input type="hidden" name="state" value="{{.State}}">
{{if .AskAccount}}<label>Instagram user id <input name="account" value="{{.Account}}" data-consent-account></label>{{end}}
<button type="submit" name="decision" value="allow" data-consent="allow">허용 / Allow</button>
<button type="submit" name="decision" value="deny" data-consent="deny">거부 / Deny</button>
</form></body></html>`))

// validRedirect accepts an absolute http(s) redirect URI without a fragment.
func validRedirect(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Fragment == "" && len(raw) <= 2000
}

func (s *Server) authorizePage(ch model.Channel) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		clientID, redirectURI := q.Get("client_id"), q.Get("redirect_uri")
		s.mu.Lock()
		ok := s.clientOKLocked(ch, clientID, "", false)
		account := s.defaultIGUserLocked()
		s.mu.Unlock()
		switch {
		case !ok:
			http.Error(w, "Invalid platform app", http.StatusBadRequest)
			return
		case !validRedirect(redirectURI):
			http.Error(w, "Invalid redirect_uri", http.StatusBadRequest)
			return
		case q.Get("response_type") != "code":
			http.Error(w, "response_type must be code", http.StatusBadRequest)
			return
		case ch == model.ChannelInstagram && !strings.Contains(q.Get("scope"), "instagram_business_basic"):
			http.Error(w, "Invalid scope: instagram_business_basic is required", http.StatusBadRequest)
			return
		case ch == model.ChannelNaver && q.Get("state") == "":
			http.Error(w, "state is required", http.StatusBadRequest) // Naver requires it
			return
		}
		platform, action := "Instagram", "/oauth/authorize"
		if ch == model.ChannelNaver {
			platform, action = "NAVER", "/oauth2.0/authorize"
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = consentPage.Execute(w, map[string]any{"Platform": platform, "Channel": string(ch), "Action": action,
			"ClientID": clientID, "RedirectURI": redirectURI, "State": q.Get("state"),
			"AskAccount": ch == model.ChannelInstagram, "Account": account})
	}
}

// defaultIGUserLocked is the Instagram user who consents by default: the one registered account
// user (the lowest id when several), else DefaultInstagramLogin.
func (s *Server) defaultIGUserLocked() string {
	var users []string
	for _, u := range s.ig.accounts {
		users = append(users, u)
	}
	if len(users) == 0 {
		return DefaultInstagramLogin
	}
	slices.Sort(users)
	return users[0]
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) authorizeDecision(ch model.Channel) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		f := r.PostForm
		clientID, redirectURI, state := f.Get("client_id"), f.Get("redirect_uri"), f.Get("state")
		s.mu.Lock()
		ok := s.clientOKLocked(ch, clientID, "", false)
		s.mu.Unlock()
		if !ok || !validRedirect(redirectURI) {
			http.Error(w, "Invalid platform app or redirect_uri", http.StatusBadRequest)
			return
		}
		u, _ := url.Parse(redirectURI)
		q := u.Query()
		if f.Get("decision") != "allow" {
			q.Set("error", "access_denied")
			if ch == model.ChannelInstagram {
				q.Set("error_reason", "user_denied")
				q.Set("error_description", "The user denied your request")
			} else {
				q.Set("error_description", "Canceled By User")
			}
		} else {
			account := strings.TrimSpace(f.Get("account"))
			if ch == model.ChannelInstagram && (account == "" || len(account) > 40 || strings.Trim(account, "0123456789") != "") {
				http.Error(w, "Instagram user id must be digits", http.StatusBadRequest)
				return
			}
			code := "sim-" + randomHex(16)
			s.mu.Lock()
			s.oauth.codes[code] = &oauthCode{ch: ch, clientID: clientID, redirectURI: redirectURI, state: state,
				account: account, expires: s.now().Add(OAuthCodeLifetime)}
			s.mu.Unlock()
			q.Set("code", code)
		}
		if state != "" {
			q.Set("state", state)
		}
		u.RawQuery = q.Encode()
		loc := u.String()
		if ch == model.ChannelInstagram && q.Get("code") != "" {
			loc += "#_" // Meta appends it to the redirect; it is not part of the code
		}
		http.Redirect(w, r, loc, http.StatusFound)
	}
}

// takeCodeLocked removes code and returns it if it belongs to ch and has not expired.
func (s *Server) takeCodeLocked(ch model.Channel, code string) (*oauthCode, bool) {
	c, ok := s.oauth.codes[code]
	if !ok {
		return nil, false
	}
	delete(s.oauth.codes, code) // single use, whatever the outcome
	if c.ch != ch || !s.now().Before(c.expires) {
		return nil, false
	}
	return c, true
}

func igOAuthError(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"error_type": "OAuthException", "code": 400, "error_message": msg})
}

func (s *Server) igCodeExchange(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		igOAuthError(w, "Invalid request")
		return
	}
	f := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Get("grant_type") != "authorization_code" {
		igOAuthError(w, "Invalid grant_type")
		return
	}
	if !s.clientOKLocked(model.ChannelInstagram, f.Get("client_id"), f.Get("client_secret"), true) {
		igOAuthError(w, "Invalid platform app")
		return
	}
	c, ok := s.takeCodeLocked(model.ChannelInstagram, f.Get("code"))
	switch {
	case !ok:
		igOAuthError(w, "Matching code was not found or was already used")
		return
	case c.clientID != f.Get("client_id"):
		igOAuthError(w, "Invalid platform app")
		return
	case c.redirectURI != f.Get("redirect_uri"):
		igOAuthError(w, "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request")
		return
	}
	s.oauth.issued++
	token := fmt.Sprintf("IGAAsim-short-%d-%s", s.oauth.issued, randomHex(8))
	s.ig.accounts[token] = c.account
	s.oauth.fresh[token] = true
	s.oauth.exchanges[model.ChannelInstagram]++
	writeJSON(w, http.StatusOK, map[string]any{"data": []any{map[string]string{
		"access_token": token, "user_id": c.account, "permissions": "instagram_business_basic,instagram_business_content_publish"}}})
}

func (s *Server) igLongLived(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	if q.Get("grant_type") != "ig_exchange_token" {
		graphError(w, http.StatusBadRequest, "OAuthException", 100, 0, false, "Unsupported grant_type")
		return
	}
	if c, ok := s.oauth.clients[model.ChannelInstagram]; q.Get("client_secret") == "" || ok && c.secret != q.Get("client_secret") {
		graphError(w, http.StatusBadRequest, "OAuthException", 101, 0, false, "Error validating client secret.")
		return
	}
	short := q.Get("access_token")
	user, known := s.ig.accounts[short]
	if !known || !s.oauth.fresh[short] {
		graphError(w, http.StatusBadRequest, "OAuthException", 190, 0, false, "Invalid OAuth access token - Cannot parse access token")
		return
	}
	s.oauth.issued++
	token := fmt.Sprintf("IGAAsim-long-%d-%s", s.oauth.issued, randomHex(12))
	s.ig.accounts[token] = user
	s.oauth.fresh[token] = true
	writeJSON(w, http.StatusOK, map[string]any{"access_token": token, "token_type": "bearer", "expires_in": igLongLivedSeconds})
}

// naverCodeGrant answers grant_type=authorization_code on /oauth2.0/token (naver.go routes it).
func (s *Server) naverCodeGrant(w http.ResponseWriter, f url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	refuse := func(code, desc string) {
		// Naver answers a refused token request with HTTP 200 and an error object.
		writeJSON(w, http.StatusOK, map[string]string{"error": code, "error_description": desc})
	}
	if !s.clientOKLocked(model.ChannelNaver, f.Get("client_id"), f.Get("client_secret"), true) {
		refuse("invalid_client", "Invalid client_id or client_secret")
		return
	}
	c, ok := s.takeCodeLocked(model.ChannelNaver, f.Get("code"))
	if !ok || c.clientID != f.Get("client_id") || c.state != f.Get("state") {
		refuse("invalid_request", "no valid data in session")
		return
	}
	s.oauth.issued++
	// A Naver member's token is not bound to a cafe: the article call accepts any club and menu.
	a := &naverAccount{access: fmt.Sprintf("sim-naver-oauth-access-%d-%s", s.oauth.issued, randomHex(8)),
		refresh: fmt.Sprintf("sim-naver-oauth-refresh-%d-%s", s.oauth.issued, randomHex(8))}
	s.naver.byAccess[a.access] = a
	s.naver.byRefresh[a.refresh] = a
	s.oauth.exchanges[model.ChannelNaver]++
	writeJSON(w, http.StatusOK, map[string]string{"access_token": a.access, "refresh_token": a.refresh,
		"token_type": "bearer", "expires_in": "3600"})
}
