package simulator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
)

type oauthWire struct {
	t  *testing.T
	ts *httptest.Server
	hc *http.Client
}

func newOAuthWire(t *testing.T, fail string) (*simulator.Server, *oauthWire) {
	t.Helper()
	rules, err := simulator.ParseFail(fail)
	if err != nil {
		t.Fatal(err)
	}
	sim := simulator.New(simulator.Config{Fail: rules})
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(sim.Close)
	return sim, &oauthWire{t: t, ts: ts, hc: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (w *oauthWire) do(method, path string, form url.Values, hdr ...string) (int, http.Header, string) {
	w.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, w.ts.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := w.hc.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// consent answers the consent page's form and returns the redirect's query (and the raw Location).
func (w *oauthWire) consent(path string, form url.Values) (url.Values, string) {
	w.t.Helper()
	status, hdr, body := w.do(http.MethodPost, path, form)
	if status != http.StatusFound {
		w.t.Fatalf("consent %v: %d %s", form, status, body)
	}
	loc := hdr.Get("Location")
	u, err := url.Parse(loc)
	if err != nil || !strings.HasPrefix(loc, "https://dist.example/stores/oauth/callback?") {
		w.t.Fatalf("consent redirects to %q", loc)
	}
	return u.Query(), loc
}

const simRedirect = "https://dist.example/stores/oauth/callback"

// Business Login for Instagram as Meta documents it: the consent page, Deny → access_denied with
// the state, Allow → a code (and "#_"), the code exchanged once, only by its client and redirect
// URI, for a short-lived token and the user id, then a long-lived one; with SIMULATOR_FAIL
// INSTAGRAM=190 the account's old token stays dead and the new one publishes.
func TestSimulatorInstagramOAuth(t *testing.T) {
	t.Parallel()
	sim, w := newOAuthWire(t, "INSTAGRAM=190")
	sim.RegisterOAuthClient(model.ChannelInstagram, "app1", "sec1")
	sim.RegisterInstagramAccount("17841", "old-token")

	authz := url.Values{"client_id": {"app1"}, "redirect_uri": {simRedirect}, "response_type": {"code"},
		"scope": {"instagram_business_basic,instagram_business_content_publish"}, "state": {"st-1"}}
	for name, mut := range map[string]func(url.Values){
		"unknown client": func(v url.Values) { v.Set("client_id", "other") },
		"no scope":       func(v url.Values) { v.Del("scope") },
		"bad redirect":   func(v url.Values) { v.Set("redirect_uri", "javascript:alert(1)") },
		"token flow":     func(v url.Values) { v.Set("response_type", "token") },
	} {
		q := url.Values{}
		for k, vs := range authz {
			q[k] = append([]string(nil), vs...)
		}
		mut(q)
		if status, _, _ := w.do(http.MethodGet, "/oauth/authorize?"+q.Encode(), nil); status != http.StatusBadRequest {
			t.Errorf("authorize with %s: %d, want 400", name, status)
		}
	}
	status, _, page := w.do(http.MethodGet, "/oauth/authorize?"+authz.Encode(), nil)
	if status != http.StatusOK || !strings.Contains(page, `data-consent="allow"`) || !strings.Contains(page, `data-consent="deny"`) || !strings.Contains(page, `value="17841"`) {
		t.Fatalf("consent page %d: %s", status, page)
	}

	q, _ := w.consent("/oauth/authorize", url.Values{"client_id": {"app1"}, "redirect_uri": {simRedirect}, "state": {"st-1"}, "decision": {"deny"}})
	if q.Get("error") != "access_denied" || q.Get("error_reason") != "user_denied" || q.Get("state") != "st-1" || q.Get("code") != "" {
		t.Fatalf("deny redirects with %v", q)
	}
	allow := url.Values{"client_id": {"app1"}, "redirect_uri": {simRedirect}, "state": {"st-1"}, "decision": {"allow"}, "account": {"17841"}}
	q, loc := w.consent("/oauth/authorize", allow)
	if q.Get("code") == "" || q.Get("state") != "st-1" || !strings.HasSuffix(loc, "#_") {
		t.Fatalf("allow redirects to %s", loc)
	}
	exchange := func(code, secret, redirect string) (int, map[string]any) {
		status, _, body := w.do(http.MethodPost, "/oauth/access_token", url.Values{"client_id": {"app1"}, "client_secret": {secret},
			"grant_type": {"authorization_code"}, "redirect_uri": {redirect}, "code": {code}})
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("token answer %d is not JSON: %s", status, body)
		}
		return status, m
	}
	if status, m := exchange(q.Get("code"), "wrong", simRedirect); status != 400 || m["error_type"] != "OAuthException" {
		t.Errorf("wrong secret: %d %v", status, m)
	}
	if status, m := exchange(q.Get("code"), "sec1", simRedirect+"/other"); status != 400 || !strings.Contains(m["error_message"].(string), "redirect_uri") {
		t.Errorf("other redirect URI: %d %v", status, m)
	}
	if status, m := exchange(q.Get("code"), "sec1", simRedirect); status != 400 || !strings.Contains(m["error_message"].(string), "already used") {
		t.Errorf("the code survived a refused exchange: %d %v", status, m)
	}
	q, _ = w.consent("/oauth/authorize", allow)
	status, m := exchange(q.Get("code"), "sec1", simRedirect)
	data, _ := m["data"].([]any)
	if status != 200 || len(data) != 1 {
		t.Fatalf("exchange: %d %v", status, m)
	}
	grant := data[0].(map[string]any)
	short, _ := grant["access_token"].(string)
	if short == "" || grant["user_id"] != "17841" {
		t.Fatalf("grant %v", grant)
	}
	if status, _ := exchange(q.Get("code"), "sec1", simRedirect); status != 400 {
		t.Errorf("a code exchanged twice: %d", status)
	}
	status, _, body := w.do(http.MethodGet, "/access_token?"+url.Values{"grant_type": {"ig_exchange_token"}, "client_secret": {"sec1"}, "access_token": {"old-token"}}.Encode(), nil)
	if status != 400 || !strings.Contains(body, `"code":190`) {
		t.Errorf("long-lived exchange of a token not issued by the code flow: %d %s", status, body)
	}
	status, _, body = w.do(http.MethodGet, "/access_token?"+url.Values{"grant_type": {"ig_exchange_token"}, "client_secret": {"sec1"}, "access_token": {short}}.Encode(), nil)
	var ll struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if json.Unmarshal([]byte(body), &ll) != nil || status != 200 || ll.AccessToken == "" || ll.TokenType != "bearer" || ll.ExpiresIn != 60*24*3600 {
		t.Fatalf("long-lived exchange: %d %s", status, body)
	}
	graph := func(token string) (int, string) {
		s, _, b := w.do(http.MethodGet, "/v23.0/17841/content_publishing_limit?access_token="+url.QueryEscape(token), nil)
		return s, b
	}
	if s, b := graph("old-token"); s != 400 || !strings.Contains(b, `"code":190`) {
		t.Errorf("old token with INSTAGRAM=190: %d %s", s, b)
	}
	if s, b := graph(ll.AccessToken); s != 200 {
		t.Errorf("reconnected token refused: %d %s", s, b)
	}
	if sim.OAuthExchanges(model.ChannelInstagram) != 1 {
		t.Errorf("exchanges %d, want 1", sim.OAuthExchanges(model.ChannelInstagram))
	}
}

// Naver Login as documented: the state is required, Deny → error=access_denied with the state,
// the code is exchanged with the same state and client (a refusal is HTTP 200 with an error
// object), once; the member's token writes to the cafe board.
func TestSimulatorNaverOAuth(t *testing.T) {
	t.Parallel()
	sim, w := newOAuthWire(t, "")
	sim.RegisterOAuthClient(model.ChannelNaver, "nv1", "nsec")
	if status, _, _ := w.do(http.MethodGet, "/oauth2.0/authorize?"+url.Values{"client_id": {"nv1"}, "redirect_uri": {simRedirect}, "response_type": {"code"}}.Encode(), nil); status != 400 {
		t.Errorf("authorize without state: %d, want 400", status)
	}
	q, _ := w.consent("/oauth2.0/authorize", url.Values{"client_id": {"nv1"}, "redirect_uri": {simRedirect}, "state": {"s9"}, "decision": {"deny"}})
	if q.Get("error") != "access_denied" || q.Get("state") != "s9" || q.Get("error_description") == "" {
		t.Fatalf("deny: %v", q)
	}
	allow := url.Values{"client_id": {"nv1"}, "redirect_uri": {simRedirect}, "state": {"s9"}, "decision": {"allow"}}
	token := func(code, state string) map[string]string {
		status, _, body := w.do(http.MethodPost, "/oauth2.0/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {"nv1"},
			"client_secret": {"nsec"}, "code": {code}, "state": {state}})
		var m map[string]string
		if status != 200 || json.Unmarshal([]byte(body), &m) != nil {
			t.Fatalf("token %d %s", status, body)
		}
		return m
	}
	q, _ = w.consent("/oauth2.0/authorize", allow)
	if m := token(q.Get("code"), "other"); m["error"] != "invalid_request" || m["access_token"] != "" {
		t.Errorf("another state: %v", m)
	}
	q, _ = w.consent("/oauth2.0/authorize", allow)
	m := token(q.Get("code"), "s9")
	if m["access_token"] == "" || m["refresh_token"] == "" || m["token_type"] != "bearer" || m["expires_in"] != "3600" {
		t.Fatalf("grant %v", m)
	}
	if again := token(q.Get("code"), "s9"); again["error"] == "" {
		t.Errorf("a code exchanged twice: %v", again)
	}
	status, _, body := w.do(http.MethodPost, "/v1/cafe/28385054/menu/7/articles",
		url.Values{"subject": {url.QueryEscape("제목")}, "content": {url.QueryEscape("내용")}}, "Authorization", "Bearer "+m["access_token"])
	if status != 200 || sim.NaverArticles("28385054") != 1 {
		t.Errorf("article with the new token: %d %s", status, body)
	}
}
