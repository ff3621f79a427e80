package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// apiStatus is the status of GET /api/v1/events with bearer token tok.
func (a *uiApp) apiStatus(tok string) int {
	a.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.url+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// issueToken creates a token owned by user ownerID (0: the service account named after it).
func (a *uiApp) issueToken(spec db.TokenSpec) (string, int64) {
	a.t.Helper()
	tok, row, err := a.auth.IssueToken(context.Background(), spec)
	if err != nil {
		a.t.Fatal(err)
	}
	return tok, row.ID
}

// tokenStream opens the detail stream of ev as the holder of API token tok and waits until it
// is connected.
func (a *uiApp) tokenStream(tok, ev string) *sseReader {
	a.t.Helper()
	c := a.client()
	c.bearer = tok
	s, res := c.openStream("/events/" + ev + "/stream")
	if res.StatusCode != http.StatusOK {
		a.t.Fatalf("token stream: %d", res.StatusCode)
	}
	s.waitFor("token stream connected", func(ev sseEvent) bool { return isSignals(ev) && strings.Contains(ev.data, "connected") })
	return s
}

// TestTokenStreamEndsWithOwner (RELIABILITY.md S6 for machines; a token never carries more than
// its owner may do now): a stream opened
// with an API token ends at once — within waitEnd's 5 s, far below the periodic check's 30 s —
// when a manager on another replica demotes the token's owner below the token's role, disables
// the owner or revokes the token, also a legacy token without owner, and when the token expires;
// the token is refused (401) afterwards.
func TestTokenStreamEndsWithOwner(t *testing.T) {
	t.Parallel()
	u := dbtest.NewURL(t)
	a := newReplica(t, u, true)  // serves the machine's streams
	b := newReplica(t, u, false) // serves the manager
	a.event("ev1", "x", model.ChannelKakao)
	mgr := b.login("boss@example.com", model.RoleManager)
	b.login("sam@example.com", model.RoleStaff)
	sam := a.userID("sam@example.com")
	samID, _ := strconv.ParseInt(sam, 10, 64)
	tok, _ := a.issueToken(db.TokenSpec{Name: "sam-bot", Role: model.RoleStaff, CreatedBy: "sam@example.com", OwnerID: samID})

	// Owner demoted below the token's role: the stream goes offline and ends; 401 after.
	s := a.tokenStream(tok, "ev1")
	wantLocation(t, "demote owner", mgr.post("/users/"+sam+"/role", url.Values{"role": {"marketer"}}, false), "/users?done=role_changed")
	if !waitEnd(t, "owner demoted", s) {
		t.Error("the token's stream was not told to go offline")
	}
	if got := a.apiStatus(tok); got != http.StatusUnauthorized {
		t.Fatalf("token of a demoted owner: API %d, want 401", got)
	}

	// Owner promoted to manager: the staff token works again; then disabled: the stream ends.
	wantLocation(t, "promote owner", mgr.post("/users/"+sam+"/role", url.Values{"role": {"manager"}}, false), "/users?done=role_changed")
	if got := a.apiStatus(tok); got != http.StatusOK {
		t.Fatalf("token of an owner promoted to manager: API %d, want 200", got)
	}
	s = a.tokenStream(tok, "ev1")
	wantLocation(t, "disable owner", mgr.post("/users/"+sam+"/disable", nil, false), "/users?done=user_disabled")
	if !waitEnd(t, "owner disabled", s) {
		t.Error("the token's stream was not told to go offline")
	}
	if got := a.apiStatus(tok); got != http.StatusUnauthorized {
		t.Fatalf("token of a disabled owner: API %d, want 401", got)
	}

	// Revoked on /tokens (a CLI token of a service account), and a legacy token without owner.
	cli, cliID := a.issueToken(db.TokenSpec{Name: "upstream", Role: model.RoleMarketer, CreatedBy: "cli"})
	s = a.tokenStream(cli, "ev1")
	mgr.get("/tokens")
	wantLocation(t, "revoke", mgr.post("/tokens/"+strconv.FormatInt(cliID, 10)+"/revoke", nil, false), "/tokens?done=token_revoked")
	waitEnd(t, "token revoked", s)
	legacy, legacyID := a.issueToken(db.TokenSpec{Name: "legacy", Role: model.RoleMarketer, CreatedBy: "cli"})
	a.exec(`UPDATE api_tokens SET owner_id = NULL WHERE id = $1`, legacyID)
	s = a.tokenStream(legacy, "ev1")
	wantLocation(t, "revoke legacy", mgr.post("/tokens/"+strconv.FormatInt(legacyID, 10)+"/revoke", nil, false), "/tokens?done=token_revoked")
	waitEnd(t, "legacy token revoked", s)

	// Expiry: nobody acts; the stream ends when the token expires (by the DB clock), not later.
	short, _ := a.issueToken(db.TokenSpec{Name: "short", Role: model.RoleMarketer, CreatedBy: "cli", ExpiresIn: 3 * time.Second})
	s = a.tokenStream(short, "ev1")
	if !waitEnd(t, "token expired", s) {
		t.Error("the expired token's stream was not told to go offline")
	}
	if got := a.apiStatus(short); got != http.StatusUnauthorized {
		t.Fatalf("expired token: API %d, want 401", got)
	}
}

// TestTokenPageOwnersAndExpiry: a token made on /tokens belongs to the manager who made it and
// may expire; the page shows owner, creator, last use and expiry, and marks a token refused
// because its owner was disabled; CLI tokens show their service account, which /users labels.
func TestTokenPageOwnersAndExpiry(t *testing.T) {
	t.Parallel()
	a := newMgrApp(t, 0, nil)
	boss := a.login("boss@example.com", model.RoleManager)
	other := a.login("other@example.com", model.RoleManager)

	other.get("/tokens")
	r := other.post("/tokens", url.Values{"name": {"reporting"}, "role": {"staff"}, "expires": {"30d"}}, false)
	wantCode(t, "create token", r, http.StatusCreated)
	secret, _ := r.doc(t).Find(`input[data-new-token]`).Attr("value")
	if got := a.apiStatus(secret); got != http.StatusOK {
		t.Fatalf("new token: API %d", got)
	}
	if _, err := a.auth.CreateToken(context.Background(), "upstream", model.RoleMarketer, "cli"); err != nil {
		t.Fatal(err)
	}

	row := func(name string) (owner, createdBy, lastUsed, expires, blocked string) {
		t.Helper()
		var found bool
		boss.get("/tokens").doc(t).Find(`tr[data-token-id]`).Each(func(_ int, tr *goquery.Selection) {
			if strings.TrimSpace(tr.Find(`th`).Text()) != name {
				return
			}
			found = true
			owner = strings.Join(strings.Fields(tr.Find(`[data-token-owner]`).Text()), " ")
			createdBy = strings.TrimSpace(tr.Find(`[data-token-created-by]`).Text())
			lastUsed, _ = tr.Find(`[data-token-last-used] time`).Attr("datetime")
			expires = strings.TrimSpace(tr.Find(`[data-token-expires]`).Text())
			blocked, _ = tr.Attr("data-token-blocked")
		})
		if !found {
			t.Fatalf("token %q not listed", name)
		}
		return
	}
	owner, createdBy, lastUsed, expires, blocked := row("reporting")
	if owner != "other@example.com" || createdBy != "other@example.com" || lastUsed == "" || expires == "Never" || expires == "" || blocked != "false" {
		t.Fatalf("reporting row: owner %q, created by %q, last used %q, expires %q, blocked %q", owner, createdBy, lastUsed, expires, blocked)
	}
	if owner, createdBy, _, expires, _ := row("upstream"); owner != "service:upstream service account" || createdBy != "cli" || expires != "Never" {
		t.Fatalf("upstream row: owner %q, created by %q, expires %q", owner, createdBy, expires)
	}
	if boss.get("/users").doc(t).Find(`tr:has([data-service-account]) th`).Text() == "" {
		t.Error("/users does not label the service account")
	}

	// The owner disabled: the token is refused, and the page says why.
	wantLocation(t, "disable owner", boss.post("/users/"+a.userID("other@example.com")+"/disable", nil, false), "/users?done=user_disabled")
	if got := a.apiStatus(secret); got != http.StatusUnauthorized {
		t.Fatalf("token of a disabled owner: API %d, want 401", got)
	}
	if _, _, _, _, blocked := row("reporting"); blocked != "true" {
		t.Errorf("reporting row blocked = %q after its owner was disabled", blocked)
	}

	// Bad expiries are refused with the form refilled; nothing is created.
	boss.get("/tokens")
	for _, bad := range []string{"soon", "2000-01-01"} {
		r := boss.post("/tokens", url.Values{"name": {"bad-expiry"}, "role": {"staff"}, "expires": {bad}}, false)
		wantCode(t, "expires "+bad, r, http.StatusBadRequest)
		if v, _ := r.doc(t).Find(`#nt-expires`).Attr("value"); v != bad {
			t.Errorf("expires %q: form refilled with %q", bad, v)
		}
		if formError(t, r) == "" {
			t.Errorf("expires %q: no error shown", bad)
		}
	}
	if n := len(mustTokens(t, a)); n != 2 {
		t.Errorf("%d tokens after refused creations, want 2", n)
	}
}

func mustTokens(t *testing.T, a *uiApp) []db.APIToken {
	t.Helper()
	tokens, err := a.db.FindTokens(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}
