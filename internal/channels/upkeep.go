package channels

// Token upkeep (issue 14 point 7): the adapters whose tokens expire renew them before they do,
// called by the engine's upkeep loop (internal/engine/upkeep.go) with the store account locked.

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Instagram's refresh rules (Refresh Access Token reference,
// https://developers.facebook.com/documentation/instagram-platform/reference/refresh_access_token):
// "Refresh a long-lived access token that is at least 24 hours old but has not expired.
// Refreshed tokens are valid for 60 days from the date at which they are refreshed."
const (
	IGRefreshMinAge = 24 * time.Hour
	// IGRefreshWithin is how close to its expiry an Instagram token is refreshed (the account
	// shows as expiring from then on: db.ExpiringWithin).
	IGRefreshWithin = 7 * 24 * time.Hour
	// NaverRefreshWithin is how close to its expiry a Naver access token (an hour) is refreshed.
	NaverRefreshWithin = 10 * time.Minute
)

// Refreshed is a renewed token: the account's new credential JSON and the account's expiry
// (nil = unknown or not tied to this token).
type Refreshed struct {
	Credentials []byte
	ExpiresAt   *time.Time
}

// TokenRefresher is an adapter whose protocol renews a store account's token.
type TokenRefresher interface {
	// RefreshDue reports whether the account's token should be renewed now: creds is its
	// credential JSON, issued when the token was issued, expires the account's expiry.
	RefreshDue(creds []byte, issued time.Time, expires *time.Time, now time.Time) bool
	// RefreshToken renews the token. Errors: NeedsReconnect when the platform says the token
	// is dead; Temporary or RateLimited when trying again later may work; Permanent otherwise.
	RefreshToken(ctx context.Context, acct Account) (Refreshed, *Error)
}

// RefreshDue implements TokenRefresher: an Instagram token at least 24 hours old and within 7
// days of its expiry (or of unknown expiry: refreshing tells it).
func (g *GraphAdapter) RefreshDue(_ []byte, issued time.Time, expires *time.Time, now time.Time) bool {
	if now.Sub(issued) < IGRefreshMinAge {
		return false
	}
	return expires == nil || expires.Sub(now) <= IGRefreshWithin
}

// RefreshToken implements TokenRefresher with
//
//	GET https://graph.instagram.com/refresh_access_token?grant_type=ig_refresh_token&access_token=…
//	→ {"access_token", "token_type": "bearer", "expires_in": seconds}
//
// on the configured host (unversioned path, as the reference above shows). The returned
// credentials are the account's with the new accessToken and expiresAt.
func (g *GraphAdapter) RefreshToken(ctx context.Context, acct Account) (Refreshed, *Error) {
	if g.badCfg != nil {
		return Refreshed{}, g.badCfg
	}
	cred, cerr := g.credentials(Request{Account: &acct})
	if cerr != nil {
		return Refreshed{}, cerr
	}
	host := g.base[:strings.LastIndex(g.base, "/")] // base is host + "/" + version
	q := url.Values{"grant_type": {"ig_refresh_token"}, "access_token": {cred.AccessToken}}
	rctx, cancel := context.WithTimeout(ctx, g.opts.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, host+"/refresh_access_token?"+q.Encode(), http.NoBody)
	if err != nil {
		return Refreshed{}, permanent(0, "the channel endpoint is misconfigured", "cannot build the request")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", g.opts.UserAgent)
	status, hdr, data, rerr := readBounded(ctx, rctx, g.client, req, g.opts.MaxBodyBytes)
	if rerr != nil {
		rerr.Message = "could not renew the Instagram token: " + rerr.Message
		return Refreshed{}, rerr
	}
	if status < 200 || status > 299 {
		e, _ := GraphError(status, hdr, data, g.opts.Now())
		if e.Kind == NeedsReconnect {
			e.Message = "Instagram refused to renew the store's access token; reconnect the Instagram account" + strings.TrimPrefix(e.Message, "the store's Instagram access has expired or was revoked; reconnect the Instagram account")
		} else {
			e.Message = "could not renew the Instagram token: " + e.Message
		}
		return Refreshed{}, e
	}
	var out struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if json.Unmarshal(data, &out) != nil || out.AccessToken == "" || len(out.AccessToken) > 4096 || strings.ContainsAny(out.AccessToken, "\r\n\x00 ") {
		return Refreshed{}, temporary(status, "could not renew the Instagram token: Instagram sent an unreadable answer", "refresh_access_token answer without access_token")
	}
	var m map[string]any
	if err := json.Unmarshal(acct.Credentials, &m); err != nil {
		return Refreshed{}, &Error{Kind: NeedsReconnect, Message: "the store's Instagram credentials are unreadable; connect the account again", Detail: "credential JSON"}
	}
	m["accessToken"] = out.AccessToken
	var expires *time.Time
	delete(m, "expiresAt")
	if secs := expiresIn(out.ExpiresIn); secs > 0 {
		t := g.opts.Now().Add(time.Duration(secs) * time.Second).UTC().Truncate(time.Second)
		expires = &t
		m["expiresAt"] = t.Format(time.RFC3339)
	}
	blob, err := json.Marshal(m)
	if err != nil {
		return Refreshed{}, permanent(0, "internal error: cannot encode the credentials", err.Error())
	}
	g.logger.Info("Instagram token renewed", slog.String("channel", string(g.ch)), slog.String("store_id", acct.StoreID))
	return Refreshed{Credentials: blob, ExpiresAt: expires}, nil
}

// RefreshDue implements TokenRefresher: a Naver access token with a refresh token that expires
// within NaverRefreshWithin (or has expired). A token without a known expiry is renewed by the
// publication that finds it refused (naverCall.publish).
func (n *NaverAdapter) RefreshDue(creds []byte, _ time.Time, _ *time.Time, now time.Time) bool {
	var c naverCredentials
	if json.Unmarshal(creds, &c) != nil || c.RefreshToken == "" || c.ExpiresAt == "" {
		return false
	}
	t, err := time.Parse(time.RFC3339, c.ExpiresAt)
	return err == nil && t.Sub(now) <= NaverRefreshWithin
}

// RefreshToken implements TokenRefresher with the adapter's own refresh (naverCall.refresh:
// grant_type=refresh_token at the configured tokenUrl). The account's expiry stays unknown: the
// access token's hour is kept in the credentials, as a publication's refresh keeps it.
func (n *NaverAdapter) RefreshToken(ctx context.Context, acct Account) (Refreshed, *Error) {
	if n.badCfg != nil {
		return Refreshed{}, n.badCfg
	}
	req := Request{Account: &acct}
	cred, cerr := accountCredentials(req, n.ch, ErrNoNaverAccount, "Naver Cafe credentials", "credential JSON without clubId, menuId or refreshToken",
		func(c naverCredentials) bool { return c.RefreshToken != "" && c.ClubID != "" && c.MenuID != "" })
	if cerr != nil {
		return Refreshed{}, cerr
	}
	var saved []byte
	acct.SaveCredentials = func(_ context.Context, creds []byte, _ *time.Time) error {
		saved = creds
		return nil
	}
	c := &naverCall{n: n, ctx: ctx, req: req, cred: cred}
	if err := c.refresh(); err != nil {
		return Refreshed{}, err
	}
	if saved == nil {
		return Refreshed{}, permanent(0, "internal error: the renewed Naver token was not kept", "")
	}
	return Refreshed{Credentials: saved}, nil
}

// readBounded sends req and reads at most limit bytes of the answer. The error is a network
// failure, the caller's context ending or a body too large.
func readBounded(parent, rctx context.Context, client *http.Client, req *http.Request, limit int64) (int, http.Header, []byte, *Error) {
	resp, err := client.Do(req)
	if err != nil {
		if parent.Err() != nil {
			return 0, nil, nil, &Error{Kind: Temporary, Message: "the request was interrupted", Detail: parent.Err().Error(), cause: parent.Err()}
		}
		return 0, nil, nil, networkError(redactURLError(err), rctx)
	}
	defer resp.Body.Close()
	if resp.ContentLength > limit {
		return 0, nil, nil, tooLarge(resp.StatusCode, limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return 0, nil, nil, networkError(redactURLError(err), rctx)
	}
	if int64(len(data)) > limit {
		return 0, nil, nil, tooLarge(resp.StatusCode, limit)
	}
	return resp.StatusCode, resp.Header, data, nil
}

var (
	_ TokenRefresher = (*GraphAdapter)(nil)
	_ TokenRefresher = (*NaverAdapter)(nil)
)
