package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/marketing-platform/distribution/internal/model"
)

func (a *uiApp) userID(email string) string {
	a.t.Helper()
	u, err := a.db.FindUserByEmail(context.Background(), email)
	if err != nil {
		a.t.Fatal(err)
	}
	return strconv.FormatInt(u.ID, 10)
}

func flashText(t *testing.T, r uiResp) string {
	t.Helper()
	return strings.TrimSpace(r.doc(t).Find(`[data-flash]`).Text())
}

func formError(t *testing.T, r uiResp) string {
	t.Helper()
	return strings.TrimSpace(r.doc(t).Find(`[data-form-error]`).Text())
}

// TestUserAdministration: a manager creates a user, changes the role (the user's open session
// follows at once), disables (the session ends), enables and resets the password; every step is
// in the audit log with the manager's name and IP.
func TestUserAdministration(t *testing.T) {
	t.Parallel()
	a := newMgrApp(t, 0, nil)
	mgr := a.login("boss@example.com", model.RoleManager)

	r := mgr.post("/users", url.Values{"email": {"Ann@Example.com"}, "role": {"marketer"}, "password": {"first-pass"}}, false)
	wantLocation(t, "create user", r, "/users?done=user_created")
	page := mgr.get("/users?done=user_created")
	if got := flashText(t, page); got != "User created." {
		t.Errorf("flash %q", got)
	}
	id := a.userID("ann@example.com")
	if page.doc(t).Find(`tr[data-user-id="`+id+`"][data-user-role="marketer"]`).Length() != 1 {
		t.Fatal("new user not listed")
	}
	// A crafted done= shows nothing.
	if got := flashText(t, mgr.get("/users?done=you+were+hacked")); got != "" {
		t.Errorf("crafted flash %q", got)
	}

	// Ann logs in as a marketer; the role change reaches her open session on the next request.
	ann := a.client()
	ann.get("/login")
	wantCode(t, "ann login", ann.post("/login", url.Values{"email": {"ann@example.com"}, "password": {"first-pass"}}, false), http.StatusSeeOther)
	wantCode(t, "ann reports as marketer", ann.get("/reports"), http.StatusForbidden)
	wantLocation(t, "promote", mgr.post("/users/"+id+"/role", url.Values{"role": {"manager"}}, false), "/users?done=role_changed")
	wantCode(t, "ann reports as manager", ann.get("/reports"), http.StatusOK)
	wantLocation(t, "demote", mgr.post("/users/"+id+"/role", url.Values{"role": {"staff"}}, false), "/users?done=role_changed")
	wantCode(t, "ann reports as staff", ann.get("/reports"), http.StatusForbidden)

	// Disable ends her session at once; she cannot log in; enable lets her back.
	wantLocation(t, "disable", mgr.post("/users/"+id+"/disable", nil, false), "/users?done=user_disabled")
	wantLocation(t, "ann after disable", ann.get("/"), "/login")
	ann.get("/login")
	wantCode(t, "disabled login", ann.post("/login", url.Values{"email": {"ann@example.com"}, "password": {"first-pass"}}, false), http.StatusUnauthorized)
	wantLocation(t, "enable", mgr.post("/users/"+id+"/enable", nil, false), "/users?done=user_enabled")
	wantCode(t, "enabled login", ann.post("/login", url.Values{"email": {"ann@example.com"}, "password": {"first-pass"}}, false), http.StatusSeeOther)
	wantCode(t, "ann back", ann.get("/"), http.StatusOK)

	// Password reset: her session ends; the old password fails, the new one works.
	wantLocation(t, "reset", mgr.post("/users/"+id+"/password", url.Values{"password": {"second-pass"}}, false), "/users?done=password_reset")
	wantLocation(t, "ann after reset", ann.get("/"), "/login")
	ann.get("/login")
	wantCode(t, "old password", ann.post("/login", url.Values{"email": {"ann@example.com"}, "password": {"first-pass"}}, false), http.StatusUnauthorized)
	wantCode(t, "new password", ann.post("/login", url.Values{"email": {"ann@example.com"}, "password": {"second-pass"}}, false), http.StatusSeeOther)

	// Refusals re-render the page with the reason.
	for _, tc := range []struct {
		what, path string
		form       url.Values
		status     int
		msg        string
	}{
		{"duplicate", "/users", url.Values{"email": {"ann@example.com"}, "role": {"staff"}, "password": {"password1"}}, 409, "A user with email “ann@example.com” already exists."},
		{"short password", "/users", url.Values{"email": {"bob@example.com"}, "role": {"staff"}, "password": {"short"}}, 400, "Password must be at least 8 characters."},
		{"bad role", "/users", url.Values{"email": {"bob@example.com"}, "role": {"root"}, "password": {"password1"}}, 400, "Unknown role “root”: choose marketer, staff or manager."},
		{"bad email", "/users", url.Values{"email": {"bob"}, "role": {"staff"}, "password": {"password1"}}, 400, "Email must look like name@example.com (at most 254 characters)."},
		{"self disable", "/users/" + a.userID("boss@example.com") + "/disable", nil, 409, "You cannot disable your own account."},
		{"last manager", "/users/" + a.userID("boss@example.com") + "/role", url.Values{"role": {"staff"}}, 409, "boss@example.com is the last enabled manager; make someone else a manager first."},
		{"unknown user", "/users/99999/role", url.Values{"role": {"staff"}}, 404, "User not found."},
		{"bad id", "/users/abc/role", url.Values{"role": {"staff"}}, 404, "Unknown user."},
		{"bad role change", "/users/" + id + "/role", url.Values{"role": {"root"}}, 400, "Unknown role “root”: choose marketer, staff or manager."},
		{"short reset", "/users/" + id + "/password", url.Values{"password": {"x"}}, 400, "Password must be at least 8 characters."},
	} {
		r := mgr.post(tc.path, tc.form, false)
		wantCode(t, tc.what, r, tc.status)
		if got := formError(t, r); got != tc.msg {
			t.Errorf("%s: error %q, want %q", tc.what, got, tc.msg)
		}
	}
	// The create form keeps what was typed, never the password.
	r = mgr.post("/users", url.Values{"email": {"bob@example.com"}, "role": {"staff"}, "password": {"short"}}, false)
	d := r.doc(t)
	if v, _ := d.Find(`#nu-email`).Attr("value"); v != "bob@example.com" {
		t.Errorf("email refill %q", v)
	}
	if d.Find(`#nu-role option[value="staff"][selected]`).Length() != 1 {
		t.Error("role refill")
	}
	if strings.Contains(r.body, "short\"") {
		t.Error("password echoed")
	}

	// Without the CSRF token nothing changes.
	r = mgr.post("/users/"+id+"/role", url.Values{"role": {"manager"}, "_csrf": {"forged"}}, false)
	wantCode(t, "forged csrf", r, http.StatusForbidden)
	if n := a.count(`SELECT count(*) FROM users WHERE email = 'ann@example.com' AND role = 'staff'`); n != 1 {
		t.Error("a forged POST changed the role")
	}

	// The audit log has every change, with actor and IP.
	audit := mgr.get("/audit?actor=boss").doc(t)
	actions := map[string]int{}
	audit.Find(`tr[data-audit-entry]`).Each(func(_ int, s *goquery.Selection) {
		act, _ := s.Attr("data-audit-action")
		actions[act]++
		if ip := strings.TrimSpace(s.Find("td").Last().Text()); act != "user_add" && act != "login" && ip != "127.0.0.1" {
			t.Errorf("%s: ip %q", act, ip)
		}
	})
	for act, n := range map[string]int{"login": 1, "user_add": 1, "user.role": 2, "user.disable": 1, "user.enable": 1, "user.password_reset": 1} {
		if actions[act] != n {
			t.Errorf("audit %s = %d, want %d (all %v)", act, actions[act], n, actions)
		}
	}
	if got := audit.Find(`tr[data-audit-action="user.role"] td`).Eq(5).Text(); !strings.Contains(got, "ann@example.com role") {
		t.Errorf("role change detail %q", got)
	}
	// Ann's logins are audited under her name.
	if n := mgr.get("/audit?actor=ann&action=login").doc(t).Find(`tr[data-audit-entry]`).Length(); n != 3 {
		t.Errorf("ann's logins: %d, want 3", n)
	}
}

// TestClearLockout: an account locked by failed logins is marked on /users with a "clear lockout"
// button (CSRF-protected POST, managers only); clearing it lets the user log in again at once, and
// the audit log names the manager who did it.
func TestClearLockout(t *testing.T) {
	t.Parallel()
	a := newMgrApp(t, 0, nil)
	mgr := a.login("boss@example.com", model.RoleManager)
	if _, err := a.auth.CreateUser(context.Background(), "ann@example.com", uiPassword, model.RoleStaff, "test"); err != nil {
		t.Fatal(err)
	}
	id := a.userID("ann@example.com")
	row := `tr[data-user-id="` + id + `"]`
	if mgr.get("/users").doc(t).Find(row+` form[data-action="clear-lockout"]`).Length() != 0 {
		t.Fatal("clear-lockout button on an account that is not locked")
	}

	guesser := a.client()
	guesser.get("/login")
	for i := range 5 {
		wantCode(t, fmt.Sprintf("wrong password %d", i+1), guesser.post("/login", url.Values{"email": {"ann@example.com"}, "password": {"wrong-pass"}}, false), http.StatusUnauthorized)
	}
	ann := a.client() // a browser that never logged in: no device cookie, so the account lock applies
	ann.get("/login")
	wantCode(t, "ann while locked", ann.post("/login", url.Values{"email": {"ann@example.com"}, "password": {uiPassword}}, false), http.StatusTooManyRequests)

	page := mgr.get("/users").doc(t)
	if page.Find(row+` [data-locked-out]`).Length() != 1 || page.Find(row+` form[data-action="clear-lockout"] input[name="_csrf"]`).Length() != 1 {
		t.Fatal("locked account: no lockout notice or no CSRF-protected clear-lockout form")
	}
	if page.Find(`form[data-action="clear-lockout"]`).Length() != 1 {
		t.Fatal("clear-lockout offered for accounts that are not locked")
	}
	wantCode(t, "forged csrf", mgr.post("/users/"+id+"/unlock", url.Values{"_csrf": {"forged"}}, false), http.StatusForbidden)
	wantCode(t, "ann still locked", ann.post("/login", url.Values{"email": {"ann@example.com"}, "password": {uiPassword}}, false), http.StatusTooManyRequests)
	wantCode(t, "unknown user", mgr.post("/users/99999/unlock", nil, false), http.StatusNotFound)

	wantLocation(t, "clear lockout", mgr.post("/users/"+id+"/unlock", nil, false), "/users?done=unlocked")
	after := mgr.get("/users?done=unlocked")
	if got := flashText(t, after); got != "Lockout cleared." {
		t.Errorf("flash %q", got)
	}
	if after.doc(t).Find(row+` [data-locked-out]`).Length() != 0 {
		t.Error("still marked locked after clearing")
	}
	wantCode(t, "ann after clearing", ann.post("/login", url.Values{"email": {"ann@example.com"}, "password": {uiPassword}}, false), http.StatusSeeOther)

	entries := mgr.get("/audit?actor=boss&action=user.unlock").doc(t).Find(`tr[data-audit-entry]`)
	if entries.Length() != 1 || !strings.Contains(entries.Text(), "ann@example.com: 1 lockouts cleared") {
		t.Fatalf("audit of the unlock: %d rows %q", entries.Length(), strings.Join(strings.Fields(entries.Text()), " "))
	}
}

// TestTokenAdministration: a token is shown once, works on the API, is listed without its secret
// and stops working when revoked.
func TestTokenAdministration(t *testing.T) {
	t.Parallel()
	a := newMgrApp(t, 0, nil)
	mgr := a.login("boss@example.com", model.RoleManager)
	mgr.get("/tokens")
	r := mgr.post("/tokens", url.Values{"name": {"upstream 이벤트"}, "role": {"marketer"}}, false)
	wantCode(t, "create token", r, http.StatusCreated)
	secret, _ := r.doc(t).Find(`input[data-new-token]`).Attr("value")
	if !strings.HasPrefix(secret, "dst_") {
		t.Fatalf("token %q", secret)
	}
	api := func() int {
		req, _ := http.NewRequest(http.MethodGet, a.url+"/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if s := api(); s != http.StatusOK {
		t.Fatalf("new token: API %d", s)
	}
	list := mgr.get("/tokens")
	if strings.Contains(list.body, secret) || strings.Contains(list.body, secret[4:]) {
		t.Fatal("the token list shows the secret again")
	}
	row := list.doc(t).Find(`tr[data-token-revoked="false"]`)
	if row.Length() != 1 || !strings.Contains(row.Text(), "upstream 이벤트") {
		t.Fatalf("token row %q", row.Text())
	}
	tid, _ := row.Attr("data-token-id")
	wantLocation(t, "revoke", mgr.post("/tokens/"+tid+"/revoke", nil, false), "/tokens?done=token_revoked")
	if s := api(); s != http.StatusUnauthorized {
		t.Fatalf("revoked token: API %d", s)
	}
	if mgr.get("/tokens").doc(t).Find(`tr[data-token-id="`+tid+`"][data-token-revoked="true"]`).Length() != 1 {
		t.Error("token not shown revoked")
	}
	wantCode(t, "empty name", mgr.post("/tokens", url.Values{"name": {" "}, "role": {"staff"}}, false), http.StatusBadRequest)
	wantCode(t, "unknown token", mgr.post("/tokens/424242/revoke", nil, false), http.StatusNotFound)
	actions := map[string]int{}
	mgr.get("/audit").doc(t).Find(`tr[data-audit-entry]`).Each(func(_ int, s *goquery.Selection) {
		act, _ := s.Attr("data-audit-action")
		actions[act]++
	})
	if actions["token_create"] != 1 || actions["token.revoke"] != 1 {
		t.Errorf("audit %v", actions)
	}
}

// TestAuditPage: filters, keyset pages and bad input.
func TestAuditPage(t *testing.T) {
	t.Parallel()
	a := newMgrApp(t, 0, nil)
	mgr := a.login("boss@example.com", model.RoleManager)
	a.event("ev-audit", "Audited", model.ChannelKakao)
	a.exec(`INSERT INTO audit_log (actor, action, event_id, channel, detail, ip)
		SELECT 'bot' || i, 'channel.retry', 'ev-audit', 'KAKAO', '<b>detail</b>', '10.0.0.' || i FROM generate_series(1, 120) i`)
	seen, pages := 0, 0
	for path := "/audit?action=channel.retry"; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		d := mgr.get(path).doc(t)
		seen += d.Find(`tr[data-audit-entry]`).Length()
		path, _ = d.Find(`a[data-action="next-page"]`).Attr("href")
	}
	if seen != 120 || pages != 3 {
		t.Errorf("%d entries on %d pages", seen, pages)
	}
	r := mgr.get("/audit?event=ev-audit&action=distribution.start")
	d := r.doc(t)
	if n := d.Find(`tr[data-audit-entry]`).Length(); n != 1 {
		t.Errorf("start entries %d", n)
	}
	if strings.Contains(mgr.get("/audit").body, "<b>detail</b>") {
		t.Error("audit detail not escaped")
	}
	for _, q := range []string{"event=../x", "from=2025-99-01", "from=2025-03-10&to=2025-03-01", "cursor=zzz"} {
		wantCode(t, q, mgr.get("/audit?"+q), http.StatusBadRequest)
	}
}
