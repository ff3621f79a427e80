package handlers_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// storesApp is the service with INSTAGRAM (instagram-graph) and NAVER (naver-cafe) configured
// with OAuth applications on a simulator, and one store.
type storesApp struct {
	*uiApp
	sim   *simulator.Server
	simTS *httptest.Server
}

func newStoresApp(t *testing.T) *storesApp {
	t.Helper()
	sim := simulator.New(simulator.Config{})
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(sim.Close)
	sim.RegisterOAuthClient(model.ChannelInstagram, "ig-app", "ig-app-secret-value")
	sim.RegisterOAuthClient(model.ChannelNaver, "nv-app", "nv-app-secret-value")
	dir := t.TempDir()
	for name, secret := range map[string]string{"ig.secret": "ig-app-secret-value", "nv.secret": "nv-app-secret-value"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "channels.json")
	cfgJSON := fmt.Sprintf(`{"allowInsecureLoopback":true,"channels":{
		"INSTAGRAM":{"protocol":"instagram-graph","url":%[1]q,"version":"v23.0","authorizeUrl":%[2]q,"tokenUrl":%[3]q,"clientId":"ig-app","clientSecretFile":"ig.secret"},
		"NAVER":{"protocol":"naver-cafe","url":%[1]q,"tokenUrl":%[4]q,"authorizeUrl":%[5]q,"clientId":"nv-app","clientSecretFile":"nv.secret"}}}`,
		ts.URL, ts.URL+"/oauth/authorize", ts.URL+"/oauth/access_token", ts.URL+"/oauth2.0/token", ts.URL+"/oauth2.0/authorize")
	if err := os.WriteFile(path, []byte(cfgJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	ui := newReplicaWith(t, dbtest.NewURL(t), false, func(c *config.Config) {
		c.ChannelsConfig = path
		c.Secrets = config.SecretsKeys{Current: key}
	})
	if _, err := ui.db.CreateStore(context.Background(), model.Store{ID: "s1", Name: "행복 <b>베이커리</b>"}, model.AuditEntry{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	return &storesApp{uiApp: ui, sim: sim, simTS: ts}
}

func (a *storesApp) count(sql string, args ...any) int {
	a.t.Helper()
	var n int
	if err := a.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		a.t.Fatal(err)
	}
	return n
}

// connect posts a connect form and returns the authorization URL the answer sends the browser to.
func (a *storesApp) connect(c *uiClient, ch model.Channel, form url.Values) *url.URL {
	a.t.Helper()
	c.get("/stores/s1") // the page's CSRF token
	r := c.post("/stores/s1/channels/"+string(ch)+"/connect", form, false)
	wantCode(a.t, "connect "+string(ch), r, http.StatusOK)
	d := r.doc(a.t)
	href, _ := d.Find(`a[data-action="continue-oauth"]`).Attr("href")
	refresh, _ := d.Find(`meta[http-equiv="refresh"]`).Attr("content")
	if href == "" || refresh != "0;url="+href {
		a.t.Fatalf("connect answer: link %q, refresh %q", href, refresh)
	}
	u, err := url.Parse(href)
	if err != nil || !strings.HasPrefix(href, a.simTS.URL+"/") {
		a.t.Fatalf("authorization URL %q is not the simulator's", href)
	}
	if got := u.Query().Get("redirect_uri"); got != a.url+"/stores/oauth/callback" {
		a.t.Fatalf("redirect_uri %q", got)
	}
	return u
}

// consent answers the simulator's consent page as a person would (allow or deny) and returns
// the path and query our callback is sent to.
func (a *storesApp) consent(authz *url.URL, decision string) string {
	a.t.Helper()
	q := authz.Query()
	form := url.Values{"client_id": {q.Get("client_id")}, "redirect_uri": {q.Get("redirect_uri")}, "state": {q.Get("state")},
		"decision": {decision}, "account": {"17841400000000077"}}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.PostForm(a.simTS.URL+authz.Path, form)
	if err != nil {
		a.t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(loc, a.url+"/stores/oauth/callback?") {
		a.t.Fatalf("consent: %d, Location %q", res.StatusCode, loc)
	}
	loc, _, _ = strings.Cut(strings.TrimPrefix(loc, a.url), "#")
	return loc
}

func (a *storesApp) account(ch model.Channel) (status, ref string) {
	a.t.Helper()
	err := a.db.Pool.QueryRow(context.Background(), `SELECT status, account_ref FROM channel_accounts WHERE store_id = 's1' AND channel = $1`, string(ch)).Scan(&status, &ref)
	if err != nil {
		return "", ""
	}
	return status, ref
}

// The stores pages for managers only, with each account's status chip; connecting Instagram
// through the platform's OAuth lands back on the store page connected, audited without the
// token, which appears nowhere on the pages.
func TestStoresPagesConnectInstagram(t *testing.T) {
	t.Parallel()
	a := newStoresApp(t)
	for _, role := range []model.Role{model.RoleMarketer, model.RoleStaff} {
		c := a.login(string(role)+"@example.com", role)
		for _, p := range []string{"/stores", "/stores/s1"} {
			if r := c.get(p); r.status != http.StatusForbidden {
				t.Errorf("%s GET %s: %d, want 403", role, p, r.status)
			}
		}
		if d := c.get("/").doc(t); d.Find(`nav a[href="/stores"]`).Length() != 0 {
			t.Errorf("%s sees the stores link", role)
		}
	}
	m := a.login("manager@example.com", model.RoleManager)
	r := m.get("/stores")
	wantCode(t, "stores", r, http.StatusOK)
	d := r.doc(t)
	if d.Find(`nav a[href="/stores"]`).Length() != 1 {
		t.Error("no stores link in the managers' navigation")
	}
	if d.Find(`tr[data-store-id="s1"] [data-account-channel="INSTAGRAM"] [data-account-status="disconnected"]`).Length() != 1 {
		t.Fatalf("store row: %s", r.body)
	}
	if strings.Contains(r.body, "<b>베이커리</b>") {
		t.Error("store name not escaped")
	}
	d = m.get("/stores/s1").doc(t)
	for ch, kind := range map[string]string{"INSTAGRAM": "oauth", "NAVER": "oauth", "KAKAO": "kakao"} {
		if d.Find(`[data-account-channel="`+ch+`"] [data-connect="`+kind+`"]`).Length() != 1 {
			t.Errorf("%s: no %s connect form", ch, kind)
		}
	}

	// CSRF: a connect without the token is refused, nothing stored.
	if r := m.post("/stores/s1/channels/INSTAGRAM/connect", url.Values{"_csrf": {"forged"}}, false); r.status != http.StatusForbidden {
		t.Errorf("connect with a forged CSRF token: %d, want 403", r.status)
	}
	if n := a.count(`SELECT count(*) FROM oauth_states`); n != 0 {
		t.Fatalf("%d states after a forged post", n)
	}

	authz := a.connect(m, model.ChannelInstagram, nil)
	if q := authz.Query(); q.Get("client_id") != "ig-app" || !strings.Contains(q.Get("scope"), "instagram_business_content_publish") || len(q.Get("state")) != 43 {
		t.Fatalf("authorize query %v", q)
	}
	cb := a.consent(authz, "allow")
	r = m.get(cb)
	wantLocation(t, "callback", r, "/stores/s1?done=connected#account-INSTAGRAM")
	if st, ref := a.account(model.ChannelInstagram); st != "connected" || ref != "17841400000000077" {
		t.Fatalf("account %s %s", st, ref)
	}
	page := m.get("/stores/s1?done=connected")
	d = page.doc(t)
	if d.Find(`[data-account-channel="INSTAGRAM"] [data-account-status="connected"]`).Length() != 1 ||
		d.Find(`[data-account-channel="INSTAGRAM"] [data-account-expires]`).Length() != 1 ||
		!strings.Contains(d.Find(`[data-account-channel="INSTAGRAM"] [data-account-connected-by]`).Text(), "manager@example.com") ||
		d.Find(`[data-account-channel="INSTAGRAM"] button[data-action="disconnect-account"]`).Length() != 1 {
		t.Fatalf("store page after connecting: %s", page.body)
	}
	if !strings.Contains(d.Find(`[role="status"], [data-flash]`).Text()+page.body, "The account is connected.") {
		t.Error("no connected notice")
	}
	if a.count(`SELECT count(*) FROM audit_log WHERE action = 'account.connect' AND channel = 'INSTAGRAM' AND actor = 'manager@example.com' AND detail NOT LIKE '%IGAA%'`) != 1 {
		t.Error("the connect is not audited (or its detail holds the token)")
	}
	if strings.Contains(page.body, "IGAAsim") || strings.Contains(m.get("/stores").body, "IGAAsim") {
		t.Error("a token shows on the pages")
	}
	if a.sim.OAuthExchanges(model.ChannelInstagram) != 1 {
		t.Errorf("exchanges %d", a.sim.OAuthExchanges(model.ChannelInstagram))
	}

	// Reconnect is audited as such; disconnect deletes the credentials.
	r = m.get(a.consent(a.connect(m, model.ChannelInstagram, nil), "allow"))
	wantLocation(t, "reconnect", r, "/stores/s1?done=reconnected#account-INSTAGRAM")
	if a.count(`SELECT count(*) FROM audit_log WHERE action = 'account.reconnect'`) != 1 {
		t.Error("the reconnect is not audited")
	}
	m.get("/stores/s1")
	r = m.post("/stores/s1/channels/INSTAGRAM/disconnect", nil, false)
	wantLocation(t, "disconnect", r, "/stores/s1?done=disconnected#account-INSTAGRAM")
	if st, _ := a.account(model.ChannelInstagram); st != "disconnected" {
		t.Errorf("status after disconnect %q", st)
	}
	if a.count(`SELECT count(*) FROM channel_accounts WHERE channel = 'INSTAGRAM' AND length(credentials) = 0 AND key_id = ''`) != 1 ||
		a.count(`SELECT count(*) FROM audit_log WHERE action = 'account.disconnect' AND actor = 'manager@example.com'`) != 1 {
		t.Error("disconnect kept the credentials or was not audited")
	}
	if d := m.get("/stores/s1").doc(t); d.Find(`[data-account-channel="INSTAGRAM"] [data-account-status="disconnected"]`).Length() != 1 ||
		d.Find(`[data-account-channel="INSTAGRAM"] button[data-action="disconnect-account"]`).Length() != 0 {
		t.Error("store page after disconnect")
	}
}

// Whatever the callback receives other than this session's fresh state and a good code writes
// no account and says why on the page: a denial, a reused, expired, forged or another manager's
// state, a code the token endpoint refuses.
func TestStoresOAuthCallbackRefusals(t *testing.T) {
	t.Parallel()
	a := newStoresApp(t)
	m := a.login("m1@example.com", model.RoleManager)
	other := a.login("m2@example.com", model.RoleManager)
	nothingWritten := func(what string) {
		t.Helper()
		if n := a.count(`SELECT count(*) FROM channel_accounts`); n != 0 {
			t.Fatalf("%s: %d accounts written", what, n)
		}
		if n := a.count(`SELECT count(*) FROM audit_log WHERE action LIKE 'account.%'`); n != 0 {
			t.Fatalf("%s: %d account audit entries", what, n)
		}
	}
	wantStoresError := func(what string, r uiResp, loc, text string) {
		t.Helper()
		wantLocation(t, what, r, loc)
		page := m.get(strings.Split(loc, "#")[0])
		if !strings.Contains(page.doc(t).Find(`[data-form-error]`).Text(), text) {
			t.Errorf("%s: page does not say %q", what, text)
		}
		nothingWritten(what)
	}

	// Denied on the platform's page: the state is used up.
	cb := a.consent(a.connect(m, model.ChannelInstagram, nil), "deny")
	wantStoresError("denied", m.get(cb), "/stores/s1?error=oauth_denied#account-INSTAGRAM", "permission was refused")
	wantStoresError("denied, replayed", m.get(cb), "/stores?error=oauth_state", "already used")
	wantStoresError("denied without a state", m.get("/stores/oauth/callback?error=access_denied&error_reason=user_denied"), "/stores?error=oauth_denied", "permission was refused")

	// Another manager's state is refused to m1 and stays usable by its owner.
	cb = a.consent(a.connect(other, model.ChannelInstagram, nil), "allow")
	wantStoresError("another manager's state", m.get(cb), "/stores?error=oauth_state", "someone else")
	// A forged or malformed state.
	q, _ := url.ParseQuery(strings.SplitN(cb, "?", 2)[1])
	for name, st := range map[string]string{"forged": strings.Repeat("A", 43), "short": "abc", "CRLF": q.Get("state")[:41] + "\r\n",
		"NUL": q.Get("state")[:42] + "\x00", "invalid UTF-8": q.Get("state")[:42] + "\xff", "empty": ""} {
		wantStoresError(name+" state", m.get("/stores/oauth/callback?"+url.Values{"code": {q.Get("code")}, "state": {st}}.Encode()), "/stores?error=oauth_state", "invalid")
	}
	wantStoresError("two states", m.get(cb+"&state="+q.Get("state")), "/stores?error=oauth_state", "invalid")
	r := other.get(cb)
	wantLocation(t, "owner's callback", r, "/stores/s1?done=connected#account-INSTAGRAM")
	a.exec(`DELETE FROM channel_accounts`)
	a.exec(`DELETE FROM audit_log WHERE action LIKE 'account.%'`)

	// Expired: ten minutes passed (the database clock).
	authz := a.connect(m, model.ChannelInstagram, nil)
	a.exec(`UPDATE oauth_states SET expires_at = now() - interval '1 second'`)
	wantStoresError("expired", m.get(a.consent(authz, "allow")), "/stores?error=oauth_state", "expired")

	// The token endpoint refuses the code (made up, or already exchanged).
	authz = a.connect(m, model.ChannelInstagram, nil)
	wantStoresError("bad code", m.get("/stores/oauth/callback?"+url.Values{"code": {"sim-not-a-code"}, "state": {authz.Query().Get("state")}}.Encode()),
		"/stores/s1?error=oauth_token#account-INSTAGRAM", "refused to issue a token")
	// Another platform error, and a code with a line break.
	authz = a.connect(m, model.ChannelInstagram, nil)
	wantStoresError("server_error", m.get("/stores/oauth/callback?"+url.Values{"error": {"server_error"}, "state": {authz.Query().Get("state")}}.Encode()),
		"/stores/s1?error=oauth_failed#account-INSTAGRAM", "answered with an error")
	authz = a.connect(m, model.ChannelInstagram, nil)
	wantStoresError("code with CRLF", m.get("/stores/oauth/callback?"+url.Values{"code": {"a\r\nb"}, "state": {authz.Query().Get("state")}}.Encode()),
		"/stores/s1?error=oauth_failed#account-INSTAGRAM", "answered with an error")

	// An API token cannot start a flow (no browser session to bind it to).
	tok, err := a.auth.CreateToken(context.Background(), "mgr-bot", model.RoleManager, "test")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, a.url+"/stores/s1/channels/INSTAGRAM/connect", strings.NewReader(""))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("token connect: %d, want 400", res.StatusCode)
	}
	nothingWritten("token connect")
}

// Naver: the cafe club and menu are asked before the redirect (digits only: hostile text is
// refused with nothing stored), kept with the state, and become the account's board.
func TestStoresConnectNaverBoard(t *testing.T) {
	t.Parallel()
	a := newStoresApp(t)
	m := a.login("m@example.com", model.RoleManager)
	m.get("/stores/s1")
	for name, f := range map[string][2]string{
		"empty": {"", "1"}, "letters": {"12a", "1"}, "script": {"<script>", "1"}, "CRLF": {"12\r\n3", "1"},
		"NUL": {"12\x003", "1"}, "invalid UTF-8": {"12\xff", "1"}, "fullwidth digits": {"１２", "1"},
		"too long": {strings.Repeat("1", 21), "1"}, "negative": {"-1", "2"}, "menu hostile": {"123", "4 OR 1=1"},
	} {
		r := m.post("/stores/s1/channels/NAVER/connect", url.Values{"club_id": {f[0]}, "menu_id": {f[1]}}, false)
		if r.status != http.StatusBadRequest || !strings.Contains(r.doc(t).Find(`[data-form-error]`).Text(), "digits") {
			t.Errorf("%s: %d", name, r.status)
		}
		if strings.Contains(r.body, "<script>") {
			t.Errorf("%s: the hostile value is echoed unescaped", name)
		}
	}
	if n := a.count(`SELECT count(*) FROM oauth_states`); n != 0 {
		t.Fatalf("%d states stored for refused boards", n)
	}
	authz := a.connect(m, model.ChannelNaver, url.Values{"club_id": {" 28385054 "}, "menu_id": {"7"}})
	if q := authz.Query(); q.Get("client_id") != "nv-app" || q.Get("response_type") != "code" || q.Get("scope") != "" {
		t.Fatalf("Naver authorize query %v", q)
	}
	r := m.get(a.consent(authz, "allow"))
	wantLocation(t, "naver callback", r, "/stores/s1?done=connected#account-NAVER")
	if st, ref := a.account(model.ChannelNaver); st != "connected" || ref != "28385054/7" {
		t.Fatalf("naver account %s %s", st, ref)
	}
	if v, _ := m.get("/stores/s1").doc(t).Find(`#naver-club`).Attr("value"); v != "28385054" {
		t.Errorf("club field prefilled with %q", v)
	}
}

// KakaoTalk has no OAuth: the dealer's fields on the page become the account (hostile input
// refused, nothing stored).
func TestStoresConnectKakaoFields(t *testing.T) {
	t.Parallel()
	a := newStoresApp(t)
	m := a.login("m@example.com", model.RoleManager)
	m.get("/stores/s1")
	for name, f := range map[string]url.Values{
		"no sender":      {"sender_key": {" "}},
		"CRLF sender":    {"sender_key": {"abc\r\ndef"}},
		"NUL sender":     {"sender_key": {"abc\x00"}},
		"bad UTF-8":      {"sender_key": {"abc\xff"}},
		"bad recipient":  {"sender_key": {"k1"}, "recipients": {"010-1234-5678"}},
		"script plus id": {"sender_key": {"k1"}, "plus_friend_id": {"@a\nb"}},
	} {
		if r := m.post("/stores/s1/channels/KAKAO/connect", f, false); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, r.status)
		}
	}
	if n := a.count(`SELECT count(*) FROM channel_accounts`); n != 0 {
		t.Fatalf("%d accounts after refused forms", n)
	}
	r := m.post("/stores/s1/channels/KAKAO/connect", url.Values{"sender_key": {"sk-abc"}, "plus_friend_id": {"@bakery"}, "recipients": {"01012345678\r\n\r\n01087654321\n"}}, false)
	wantLocation(t, "kakao", r, "/stores/s1?done=connected#account-KAKAO")
	if st, ref := a.account(model.ChannelKakao); st != "connected" || ref != "sk-abc" {
		t.Fatalf("kakao account %s %s", st, ref)
	}
}

// A channel FAILED because its store's account must be reconnected says so on its card, with a
// link to the store for managers only.
func TestChannelCardReconnectLink(t *testing.T) {
	t.Parallel()
	a := newStoresApp(t)
	m := a.login("m@example.com", model.RoleManager)
	m.get(a.consent(a.connect(m, model.ChannelInstagram, nil), "allow"))
	ctx := context.Background()
	if _, err := a.db.CreateEvent(ctx, model.Event{ID: "ev-r", Title: "Reconnect me", StoreID: "s1", ImageURL: "https://img.example.com/a.jpg"}, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.eng.StartDistribution(ctx, "ev-r", []model.Channel{model.ChannelInstagram}, "test"); err != nil {
		t.Fatal(err)
	}
	a.setChannel("ev-r", model.ChannelInstagram, model.StatusFailed, 0, model.ReconnectPrefix("s1")+"the store's Instagram access has expired")
	card := m.get("/events/ev-r").doc(t).Find(`[data-channel="INSTAGRAM"][data-status="FAILED"]`)
	if href, _ := card.Find(`a[data-action="reconnect"]`).Attr("href"); href != "/stores/s1" || card.Find(`[data-needs-reconnect]`).Length() != 1 {
		t.Fatalf("manager's card: link %q", href)
	}
	s := a.login("s@example.com", model.RoleStaff)
	card = s.get("/events/ev-r").doc(t).Find(`[data-channel="INSTAGRAM"][data-status="FAILED"]`)
	if card.Find(`[data-needs-reconnect]`).Length() != 1 || card.Find(`a[data-action="reconnect"]`).Length() != 0 {
		t.Error("staff's card: want the text without the link")
	}
}

// Without CHANNELS_CONFIG the embedded simulator provides the OAuth endpoints too: Instagram and
// Naver connect through its consent pages, with the client the app registered with it.
func TestStoresConnectEmbeddedSimulator(t *testing.T) {
	t.Parallel()
	ui := newReplicaWith(t, dbtest.NewURL(t), false, nil)
	if _, err := ui.db.CreateStore(context.Background(), model.Store{ID: "s1", Name: "embedded"}, model.AuditEntry{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	m := ui.login("m@example.com", model.RoleManager)
	d := m.get("/stores/s1").doc(t)
	for _, ch := range []string{"INSTAGRAM", "NAVER"} {
		if d.Find(`[data-account-channel="`+ch+`"] [data-connect="oauth"]`).Length() != 1 {
			t.Fatalf("%s cannot connect through OAuth with the embedded simulator", ch)
		}
	}
	r := m.post("/stores/s1/channels/INSTAGRAM/connect", nil, false)
	wantCode(t, "connect", r, http.StatusOK)
	href, _ := r.doc(t).Find(`a[data-action="continue-oauth"]`).Attr("href")
	authz, err := url.Parse(href)
	if err != nil || authz.Path != "/oauth/authorize" || authz.Query().Get("client_id") != "sim-instagram-app" {
		t.Fatalf("authorization URL %q", href)
	}
	sim := &storesApp{uiApp: ui, simTS: &httptest.Server{URL: authz.Scheme + "://" + authz.Host}}
	wantLocation(t, "callback", m.get(sim.consent(authz, "allow")), "/stores/s1?done=connected#account-INSTAGRAM")
	if st, ref := sim.account(model.ChannelInstagram); st != "connected" || ref != "17841400000000077" {
		t.Fatalf("account %s %s", st, ref)
	}
}
