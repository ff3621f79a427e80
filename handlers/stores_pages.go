package handlers

// The stores pages (issue 14 point 2, managers): /stores lists each store with its channel
// accounts' status; /stores/{id} shows each account and connects, reconnects or disconnects it.
// Instagram and Naver connect through the platform's OAuth authorization-code flow
// (internal/channels/oauth.go); KakaoTalk (a BizMessage dealer, no OAuth) through the dealer's
// fields on the page. The state parameter is 32 random bytes; only its SHA-256 is stored
// (migration 0020), bound to the manager's user and session, the store and the channel, for ten
// minutes, and taken once by the callback. Whatever the callback receives other than a valid
// state and a code the platform exchanges (error=access_denied, an unknown, expired, reused or
// someone else's state, a token endpoint refusing) writes no account and says why on the page.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

// StoreAccounts writes the stores' channel accounts from the pages (db.DB with the credentials'
// key: internal/app).
type StoreAccounts interface {
	CreateOAuthState(ctx context.Context, s model.OAuthState, ttl time.Duration) error
	TakeOAuthState(ctx context.Context, stateHash []byte, userID int64, sessionID string) (model.OAuthState, error)
	// ConnectChannelAccount seals and stores c (db.SetChannelAccount) with its audit entry.
	ConnectChannelAccount(ctx context.Context, storeID string, c model.Credentials, audit model.AuditEntry) (model.ChannelAccount, error)
	DisconnectChannelAccount(ctx context.Context, storeID string, ch model.Channel, audit model.AuditEntry) (model.ChannelAccount, error)
}

// OAuthFlow is one channel's authorization-code flow (channels.OAuthClient).
type OAuthFlow interface {
	AuthorizeURL(redirectURI, state string) string
	AuthorizeHost() string
	Exchange(ctx context.Context, code, redirectURI, state string) (model.OAuthToken, error)
}

// OAuthConnector gives the channels whose accounts connect through OAuth in this deployment.
type OAuthConnector interface {
	OAuthFlow(ch model.Channel) (OAuthFlow, bool)
}

// OAuthCallbackPath is the redirect URI's path, registered with each platform's application.
const OAuthCallbackPath = "/stores/oauth/callback"

// oauthStateTTL is how long a connect flow may take, consent included.
const oauthStateTTL = 10 * time.Minute

// storeDone and storeErr map the done= and error= parameters of the 303s back to a store page
// to their notices: only these keys exist, so a crafted link cannot put words on the page.
var (
	storeDone = map[string]string{"connected": "stores.flash.connected", "reconnected": "stores.flash.reconnected",
		"disconnected": "stores.flash.disconnected"}
	storeErr = map[string]string{"oauth_denied": "stores.err.denied", "oauth_state": "stores.err.state",
		"oauth_token": "stores.err.token", "oauth_failed": "stores.err.failed"}
)

func storeNotice(c echo.Context, lang string) (views.Flash, string) {
	if key, ok := storeDone[c.QueryParam("done")]; ok {
		return views.Flash{Kind: views.ToastOK, Text: views.T(lang, key)}, ""
	}
	if key, ok := storeErr[c.QueryParam("error")]; ok {
		return views.Flash{}, views.T(lang, key)
	}
	return views.Flash{}, ""
}

func (h *Handlers) storeAccounts() (StoreAccounts, error) {
	if h.deps.StoreAccounts == nil {
		return nil, model.Errorf(model.EUNAVAILABLE, "store accounts are not configured")
	}
	return h.deps.StoreAccounts, nil
}

// StoresPage serves GET /stores (managers).
func (h *Handlers) StoresPage(c echo.Context) error {
	stores, err := h.deps.Store.FindStores(c.Request().Context())
	if err != nil {
		return err
	}
	p := NewPage(c, "stores.title")
	p.Now = time.Now()
	v := views.StoresView{Stores: stores}
	v.Flash, v.Error = storeNotice(c, p.Lang)
	return Render(c, http.StatusOK, views.Stores(p, v))
}

// StorePage serves GET /stores/{id} (managers).
func (h *Handlers) StorePage(c echo.Context) error {
	v := views.StoreView{}
	v.Flash, v.Error = storeNotice(c, Lang(c))
	return h.renderStore(c, http.StatusOK, c.Param("id"), v, nil)
}

// renderStore renders store id's page; form, when set, is the refused connect form's values.
func (h *Handlers) renderStore(c echo.Context, status int, id string, v views.StoreView, form url.Values) error {
	p := NewPage(c, "stores.title")
	p.Now = time.Now()
	if !model.ValidEventID(id) {
		return Render(c, http.StatusNotFound, views.Stores(p, views.StoresView{Error: views.T(p.Lang, "stores.err.not_found")}))
	}
	s, err := h.deps.Store.FindStoreByID(c.Request().Context(), id)
	if model.ErrorCode(err) == model.ENOTFOUND {
		return Render(c, http.StatusNotFound, views.Stores(p, views.StoresView{Error: views.T(p.Lang, "stores.err.not_found")}))
	}
	if err != nil {
		return err
	}
	p.Title = s.Name + " · " + p.Title
	v.Store = s
	for _, ch := range views.AccountChannels() {
		sc := views.StoreChannel{Channel: ch, Connect: views.ConnectCLI}
		for i := range s.Accounts {
			if s.Accounts[i].Channel == ch {
				sc.Account = &s.Accounts[i]
			}
		}
		if _, ok := h.oauthFlow(ch); ok {
			sc.Connect = views.ConnectOAuth
		} else if ch == model.ChannelKakao {
			sc.Connect = views.ConnectKakao
		}
		if ch == model.ChannelNaver {
			if sc.Account != nil {
				sc.ClubID, sc.MenuID, _ = strings.Cut(sc.Account.AccountRef, "/")
			}
			if form != nil {
				sc.ClubID, sc.MenuID = model.Truncate(form.Get("club_id"), 20), model.Truncate(form.Get("menu_id"), 20)
			}
		}
		v.Channels = append(v.Channels, sc)
	}
	return Render(c, status, views.Store(p, v))
}

func (h *Handlers) oauthFlow(ch model.Channel) (OAuthFlow, bool) {
	if h.deps.OAuth == nil || !model.AccountChannel(ch) || ch == model.ChannelKakao {
		return nil, false
	}
	return h.deps.OAuth.OAuthFlow(ch)
}

// storeChannelParams reads :id and :ch of a store account route and finds the store.
func (h *Handlers) storeChannelParams(c echo.Context) (string, model.Channel, model.Store, error) {
	id, ch := c.Param("id"), model.Channel(c.Param("ch"))
	if !model.ValidEventID(id) || !model.AccountChannel(ch) {
		return "", "", model.Store{}, model.Errorf(model.ENOTFOUND, "no such store account")
	}
	s, err := h.deps.Store.FindStoreByID(c.Request().Context(), id)
	return id, ch, s, err
}

// redirectURI is the OAuth callback's absolute URL: PUBLIC_URL when it is configured, else the
// scheme and host the manager's browser used for this request.
func (h *Handlers) redirectURI(c echo.Context) string {
	base := strings.TrimRight(h.deps.PublicURL, "/")
	if base == "" {
		base = c.Scheme() + "://" + c.Request().Host
	}
	return base + OAuthCallbackPath
}

var (
	digitsRE = regexp.MustCompile(`^[0-9]{1,20}$`)
	phoneRE  = regexp.MustCompile(`^[0-9]{9,15}$`)
)

// ConnectAccountForm serves POST /stores/{id}/channels/{ch}/connect (managers). Instagram and
// Naver: a new state, then the page that sends the browser to the platform's consent page
// (Naver: fields club_id and menu_id, digits, kept with the state). KakaoTalk: fields sender_key,
// plus_friend_id and recipients (one phone number a line) stored as the account at once.
func (h *Handlers) ConnectAccountForm(c echo.Context) error {
	acc, err := h.storeAccounts()
	if err != nil {
		return err
	}
	id, ch, s, err := h.storeChannelParams(c)
	if err != nil {
		return err
	}
	lang := Lang(c)
	actor, _ := Principal(c)
	existing := false
	for _, a := range s.Accounts {
		existing = existing || (a.Channel == ch && a.Status != model.AccountDisconnected)
	}
	form, _ := c.FormParams()
	if ch == model.ChannelKakao {
		return h.connectKakao(c, acc, s.ID, form, existing)
	}
	flow, ok := h.oauthFlow(ch)
	if !ok {
		return model.Errorf(model.ENOTFOUND, "%s accounts are connected with `bin/distribution account set` in this deployment", ch)
	}
	if actor.UserID == 0 || actor.SessionID == "" {
		return h.renderStore(c, http.StatusBadRequest, id, views.StoreView{Error: views.T(lang, "stores.err.session_only")}, nil)
	}
	st := model.OAuthState{UserID: actor.UserID, SessionID: actor.SessionID, StoreID: s.ID, Channel: ch,
		RedirectURI: h.redirectURI(c), Reconnect: existing}
	if ch == model.ChannelNaver {
		st.ClubID, st.MenuID = strings.TrimSpace(form.Get("club_id")), strings.TrimSpace(form.Get("menu_id"))
		if !digitsRE.MatchString(st.ClubID) || !digitsRE.MatchString(st.MenuID) {
			return h.renderStore(c, http.StatusBadRequest, id, views.StoreView{Error: views.T(lang, "stores.err.bad_board")}, form)
		}
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	state := base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(state))
	st.StateHash = sum[:]
	if err := acc.CreateOAuthState(c.Request().Context(), st, oauthStateTTL); err != nil {
		return err
	}
	p := NewPage(c, "stores.redirect_title")
	return Render(c, http.StatusOK, views.OAuthRedirect(p, flow.AuthorizeURL(st.RedirectURI, state), flow.AuthorizeHost()))
}

// connectKakao stores the dealer's fields as the store's KAKAO account.
func (h *Handlers) connectKakao(c echo.Context, acc StoreAccounts, storeID string, form url.Values, existing bool) error {
	lang := Lang(c)
	bad := func() error {
		return h.renderStore(c, http.StatusBadRequest, storeID, views.StoreView{Error: views.T(lang, "stores.err.bad_kakao")}, nil)
	}
	sender, plus := strings.TrimSpace(form.Get("sender_key")), strings.TrimSpace(form.Get("plus_friend_id"))
	if sender == "" || model.CheckLine("sender_key", sender, 200) != nil || model.CheckLine("plus_friend_id", plus, 100) != nil {
		return bad()
	}
	recipients := []string{}
	for line := range strings.Lines(form.Get("recipients")) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if !phoneRE.MatchString(line) || len(recipients) >= 1000 {
			return bad()
		}
		recipients = append(recipients, line)
	}
	m := map[string]any{"senderKey": sender, "recipients": recipients}
	if plus != "" {
		m["plusFriendId"] = plus
	}
	blob, err := json.Marshal(m)
	if err != nil {
		return err
	}
	cred, err := model.ParseCredentials(model.ChannelKakao, blob)
	if err != nil {
		return bad()
	}
	actor, _ := Principal(c)
	audit := model.AuditEntry{Actor: actor.Name, IP: c.RealIP(), Action: model.AuditAccountConnect}
	done := "connected"
	if existing {
		audit.Action, done = model.AuditAccountReconnect, "reconnected"
	}
	if _, err := acc.ConnectChannelAccount(c.Request().Context(), storeID, cred, audit); err != nil {
		if userFacing(err) {
			return bad()
		}
		return err
	}
	return c.Redirect(http.StatusSeeOther, views.StoreURL(storeID)+"?done="+done+"#account-KAKAO")
}

// DisconnectAccountForm serves POST /stores/{id}/channels/{ch}/disconnect (managers): the
// credentials are deleted, the account shows disconnected; audited.
func (h *Handlers) DisconnectAccountForm(c echo.Context) error {
	acc, err := h.storeAccounts()
	if err != nil {
		return err
	}
	id, ch, _, err := h.storeChannelParams(c)
	if err != nil {
		return err
	}
	actor, _ := Principal(c)
	_, err = acc.DisconnectChannelAccount(c.Request().Context(), id, ch, model.AuditEntry{Actor: actor.Name, IP: c.RealIP()})
	if model.ErrorCode(err) == model.ENOTFOUND {
		return h.renderStore(c, http.StatusNotFound, id, views.StoreView{Error: views.T(Lang(c), "stores.err.no_account")}, nil)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, views.StoreURL(id)+"?done=disconnected#account-"+string(ch))
}

// validState accepts what ConnectAccountForm issues: 43 base64url characters.
var stateRE = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// OAuthCallback serves GET /stores/oauth/callback (managers): the platform sends the browser
// back with code and state, or error and state. The state must be one this manager's session
// started, unexpired and unused; it is taken (deleted) before anything else happens.
func (h *Handlers) OAuthCallback(c echo.Context) error {
	acc, err := h.storeAccounts()
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	q := c.QueryParams()
	actor, _ := Principal(c)
	state := q.Get("state")
	if state == "" && q.Get("error") == "access_denied" {
		// A denial that does not echo the state (older Instagram pages document none): nothing
		// to take, nothing written; say what happened rather than "invalid link".
		return c.Redirect(http.StatusSeeOther, "/stores?error=oauth_denied")
	}
	if !stateRE.MatchString(state) || actor.UserID == 0 || actor.SessionID == "" || len(q["state"]) != 1 {
		return c.Redirect(http.StatusSeeOther, "/stores?error=oauth_state")
	}
	sum := sha256.Sum256([]byte(state))
	st, err := acc.TakeOAuthState(ctx, sum[:], actor.UserID, actor.SessionID)
	if model.ErrorCode(err) == model.ENOTFOUND {
		h.logger.Warn("OAuth callback with an unknown, expired, used or foreign state", slog.String("user", actor.Name))
		return c.Redirect(http.StatusSeeOther, "/stores?error=oauth_state")
	}
	if err != nil {
		return err
	}
	back := func(param, key string) error {
		return c.Redirect(http.StatusSeeOther, views.StoreURL(st.StoreID)+"?"+param+"="+key+"#account-"+string(st.Channel))
	}
	log := h.logger.With(slog.String("store_id", st.StoreID), slog.String("channel", string(st.Channel)))
	if e := q.Get("error"); e != "" {
		log.Info("OAuth consent not given", slog.String("error", model.Truncate(model.SanitizeLine(e, 60), 60)))
		if e == "access_denied" {
			return back("error", "oauth_denied")
		}
		return back("error", "oauth_failed")
	}
	code := q.Get("code")
	if code == "" || len(code) > 2048 || model.CheckLine("code", code, 2048) != nil {
		return back("error", "oauth_failed")
	}
	flow, ok := h.oauthFlow(st.Channel)
	if !ok {
		return back("error", "oauth_failed")
	}
	tok, err := flow.Exchange(ctx, code, st.RedirectURI, state)
	if err != nil {
		log.Warn("OAuth token exchange failed", slog.String("error", err.Error())) // no token or secret in it
		return back("error", "oauth_token")
	}
	var m map[string]any
	switch st.Channel {
	case model.ChannelInstagram:
		m = map[string]any{"igUserId": tok.AccountID, "accessToken": tok.AccessToken}
	case model.ChannelNaver:
		m = map[string]any{"clubId": st.ClubID, "menuId": st.MenuID, "accessToken": tok.AccessToken, "refreshToken": tok.RefreshToken}
	}
	if tok.ExpiresAt != nil {
		m["expiresAt"] = tok.ExpiresAt.UTC().Format(time.RFC3339)
	}
	blob, err := json.Marshal(m)
	if err != nil {
		return err
	}
	cred, err := model.ParseCredentials(st.Channel, blob)
	if err != nil {
		log.Warn("OAuth token answer is not usable credentials", slog.String("error", model.ErrorMessage(err)))
		return back("error", "oauth_token")
	}
	audit := model.AuditEntry{Actor: actor.Name, IP: c.RealIP(), Action: model.AuditAccountConnect}
	done := "connected"
	if st.Reconnect {
		audit.Action, done = model.AuditAccountReconnect, "reconnected"
	}
	if _, err := acc.ConnectChannelAccount(ctx, st.StoreID, cred, audit); err != nil {
		if userFacing(err) {
			return back("error", "oauth_token")
		}
		return err
	}
	log.Info("store account connected through OAuth", slog.String("action", audit.Action))
	return back("done", done)
}
