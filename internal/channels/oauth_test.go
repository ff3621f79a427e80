package channels_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/model"
)

// The Instagram code exchange reads both documented answer shapes (Business Login's
// {"data":[…]} and the flat one, user_id a number or a string), builds the long-lived token's
// expiry, and a refusal's error carries the platform's words, never the secret or a token.
func TestOAuthClientInstagramExchange(t *testing.T) {
	t.Parallel()
	const secret = "app-secret-never-shown"
	var tokenAnswer string
	var tokenStatus int
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.PostForm.Get("client_secret") != secret || r.PostForm.Get("grant_type") != "authorization_code" ||
			r.PostForm.Get("redirect_uri") != "https://dist.example/stores/oauth/callback" || r.PostForm.Get("code") != "c1" {
			t.Errorf("token request %v", r.PostForm)
		}
		w.WriteHeader(tokenStatus)
		w.Write([]byte(tokenAnswer))
	})
	mux.HandleFunc("GET /access_token", func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query(); q.Get("grant_type") != "ig_exchange_token" || q.Get("access_token") != "short-1" || q.Get("client_secret") != secret {
			w.WriteHeader(400)
			w.Write([]byte(`{"error":{"message":"Invalid OAuth access token","type":"OAuthException","code":190}}`))
			return
		}
		w.Write([]byte(`{"access_token":"long-1","token_type":"bearer","expires_in":5183944}`))
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	reg := channels.NewRegistry(map[model.Channel]channels.Endpoint{model.ChannelInstagram: {Protocol: channels.ProtocolInstagramGraph,
		URL: ts.URL, Version: "v23.0", AuthorizeURL: "https://www.instagram.com/oauth/authorize", TokenURL: ts.URL + "/oauth/access_token",
		ClientID: "990602627938098", ClientSecret: secret}}, channels.Options{AllowInsecureLoopback: true, Now: func() time.Time { return now }})
	t.Cleanup(reg.Close)
	o, ok := reg.OAuth(model.ChannelInstagram)
	if !ok {
		t.Fatal("no OAuth client for INSTAGRAM")
	}
	if _, ok := reg.OAuth(model.ChannelKakao); ok {
		t.Error("KAKAO has an OAuth client")
	}
	u, _ := url.Parse(o.AuthorizeURL("https://dist.example/stores/oauth/callback", "st"))
	if q := u.Query(); u.Host != "www.instagram.com" || q.Get("client_id") != "990602627938098" || q.Get("response_type") != "code" ||
		q.Get("scope") != channels.InstagramScopes || q.Get("state") != "st" || q.Get("code_challenge") != "" {
		t.Errorf("authorize URL %s", u)
	}
	for name, body := range map[string]string{
		"business login": `{"data":[{"access_token":"short-1","user_id":"17841405793187218","permissions":"instagram_business_basic"}]}`,
		"flat":           `{"access_token":"short-1","user_id":17841405793187218}`,
	} {
		tokenStatus, tokenAnswer = 200, body
		tok, err := o.Exchange(context.Background(), "c1", "https://dist.example/stores/oauth/callback", "st")
		if err != nil || tok.AccountID != "17841405793187218" || tok.AccessToken != "long-1" || tok.ExpiresAt == nil ||
			!tok.ExpiresAt.Equal(now.Add(5183944*time.Second)) {
			t.Errorf("%s: %+v, %v", name, tok, err)
		}
	}
	for name, body := range map[string]string{
		"refused":         `{"error_type":"OAuthException","code":400,"error_message":"Matching code was not found or was already used"}`,
		"token with CRLF": `{"access_token":"short\r\n1","user_id":"1"}`,
		"no user":         `{"access_token":"short-1"}`,
		"not JSON":        `<html>oops</html>`,
	} {
		tokenStatus, tokenAnswer = 400, body
		if name != "refused" {
			tokenStatus = 200
		}
		_, err := o.Exchange(context.Background(), "c1", "https://dist.example/stores/oauth/callback", "st")
		if err == nil || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "short") {
			t.Errorf("%s: %v", name, err)
		}
		if name == "refused" && !strings.Contains(err.Error(), "already used") {
			t.Errorf("refusal without the platform's words: %v", err)
		}
	}
}
