package db_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

func adminUser(t testing.TB, d *db.DB, email string, role model.Role) model.User {
	t.Helper()
	u, err := d.CreateUser(context.Background(), email, "hash", role)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func adminSession(t testing.TB, d *db.DB, userID int64, id byte) {
	t.Helper()
	if err := d.CreateSession(context.Background(), []byte{id}, userID, time.Hour, time.Hour, "", ""); err != nil {
		t.Fatal(err)
	}
}

func TestAdminUpdateUser(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	boss := adminUser(t, d, "boss@example.com", model.RoleManager)
	ann := adminUser(t, d, "ann@example.com", model.RoleMarketer)
	adminSession(t, d, ann.ID, 1)
	audit := func(action string) model.AuditEntry {
		return model.AuditEntry{Actor: boss.Email, Action: action, Detail: ann.Email, IP: "192.0.2.1"}
	}

	// A role change keeps the session, and the session reads the new role at once.
	u, err := d.UpdateUser(ctx, ann.ID, db.UserChange{Role: model.RoleStaff}, audit(model.AuditUserRole))
	if err != nil || u.Role != model.RoleStaff {
		t.Fatalf("role change: %+v %v", u, err)
	}
	if _, su, err := d.FindSession(ctx, []byte{1}, time.Hour); err != nil || su.Role != model.RoleStaff {
		t.Fatalf("session after role change: role %s err %v", su.Role, err)
	}

	// Disabling ends the sessions.
	yes, no := true, false
	if _, err := d.UpdateUser(ctx, ann.ID, db.UserChange{Disabled: &yes}, audit(model.AuditUserDisable)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.FindSession(ctx, []byte{1}, time.Hour); model.ErrorCode(err) != model.EUNAUTHORIZED {
		t.Fatalf("session of a disabled user: %v", err)
	}
	if n := engCount(t, d, `SELECT count(*) FROM sessions WHERE user_id = $1`, ann.ID); n != 0 {
		t.Errorf("%d sessions left", n)
	}
	if _, err := d.UpdateUser(ctx, ann.ID, db.UserChange{Disabled: &no}, audit(model.AuditUserEnable)); err != nil {
		t.Fatal(err)
	}

	// A new password ends the sessions too.
	adminSession(t, d, ann.ID, 2)
	u, err = d.UpdateUser(ctx, ann.ID, db.UserChange{PasswordHash: "new-hash"}, audit(model.AuditUserPassword))
	if err != nil || u.PasswordHash != "new-hash" || u.Disabled {
		t.Fatalf("password reset: %+v %v", u, err)
	}
	if n := engCount(t, d, `SELECT count(*) FROM sessions WHERE user_id = $1`, ann.ID); n != 0 {
		t.Errorf("%d sessions left after a password reset", n)
	}

	// The last manager can be neither demoted nor disabled; with a second one they can.
	_, err = d.UpdateUser(ctx, boss.ID, db.UserChange{Role: model.RoleStaff}, audit(model.AuditUserRole))
	wantCode(t, err, model.ECONFLICT)
	_, err = d.UpdateUser(ctx, boss.ID, db.UserChange{Disabled: &yes}, audit(model.AuditUserDisable))
	wantCode(t, err, model.ECONFLICT)
	if _, err := d.UpdateUser(ctx, ann.ID, db.UserChange{Role: model.RoleManager}, audit(model.AuditUserRole)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.UpdateUser(ctx, boss.ID, db.UserChange{Role: model.RoleStaff}, audit(model.AuditUserRole)); err != nil {
		t.Fatalf("demote with another manager left: %v", err)
	}

	_, err = d.UpdateUser(ctx, 987654, db.UserChange{Role: model.RoleStaff}, audit(model.AuditUserRole))
	wantCode(t, err, model.ENOTFOUND)
	_, err = d.UpdateUser(ctx, ann.ID, db.UserChange{Role: "root"}, audit(model.AuditUserRole))
	wantCode(t, err, model.EINVALID)

	// Every successful change wrote exactly one audit row; refused ones none.
	if n := engCount(t, d, `SELECT count(*) FROM audit_log WHERE actor = 'boss@example.com' AND ip = '192.0.2.1'`); n != 6 {
		t.Errorf("%d audit rows, want 6", n)
	}

	users, err := d.FindUsers(ctx, "ANN")
	if err != nil || len(users) != 1 || users[0].Email != "ann@example.com" {
		t.Errorf("FindUsers(ANN) = %+v, %v", users, err)
	}
	if users, _ := d.FindUsers(ctx, "%"); len(users) != 0 {
		t.Errorf("FindUsers(%%) matched %d: LIKE wildcards must be literal", len(users))
	}
	if users, _ := d.FindUsers(ctx, ""); len(users) != 2 {
		t.Errorf("FindUsers() = %d users", len(users))
	}
}

// Two managers demoting each other at the same time: one wins, one is refused.
func TestAdminLastManagerRace(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	a := adminUser(t, d, "a@example.com", model.RoleManager)
	b := adminUser(t, d, "b@example.com", model.RoleManager)
	errs := make(chan error, 2)
	for _, u := range []model.User{a, b} {
		go func() {
			_, err := d.UpdateUser(ctx, u.ID, db.UserChange{Role: model.RoleMarketer}, model.AuditEntry{Actor: "x", Action: model.AuditUserRole})
			errs <- err
		}()
	}
	var ok, conflict int
	for range 2 {
		switch model.ErrorCode(<-errs) {
		case "":
			ok++
		case model.ECONFLICT:
			conflict++
		}
	}
	if ok != 1 || conflict != 1 {
		t.Errorf("ok %d conflict %d, want 1 and 1", ok, conflict)
	}
	if n := engCount(t, d, `SELECT count(*) FROM users WHERE role = 'manager'`); n != 1 {
		t.Errorf("%d managers left", n)
	}
}

func TestAdminTokens(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	id1, err := d.CreateToken(ctx, "upstream", model.RoleMarketer, []byte("h1"), "boss")
	if err != nil {
		t.Fatal(err)
	}
	id2, err := d.CreateToken(ctx, "ops", model.RoleStaff, []byte("h2"), "boss")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := d.RevokeTokenAudited(ctx, id1, model.AuditEntry{Actor: "boss", Action: model.AuditTokenRevoke})
	if err != nil || tok.RevokedAt == nil || tok.Name != "upstream" {
		t.Fatalf("revoke: %+v %v", tok, err)
	}
	if _, err := d.RevokeTokenAudited(ctx, id1, model.AuditEntry{Actor: "boss", Action: model.AuditTokenRevoke}); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	if n := engCount(t, d, `SELECT count(*) FROM audit_log WHERE action = 'token.revoke' AND detail = 'upstream role=marketer'`); n != 1 {
		t.Errorf("%d revoke audit rows, want 1", n)
	}
	_, err = d.RevokeTokenAudited(ctx, 999, model.AuditEntry{Actor: "boss", Action: model.AuditTokenRevoke})
	wantCode(t, err, model.ENOTFOUND)
	if _, err := d.FindTokenByHash(ctx, []byte("h1")); model.ErrorCode(err) != model.EUNAUTHORIZED {
		t.Errorf("revoked token still authenticates: %v", err)
	}
	for id, want := range map[int64]bool{id1: false, id2: true, 999: false} {
		if got, err := d.TokenActive(ctx, id); err != nil || got != want {
			t.Errorf("TokenActive(%d) = %v %v, want %v", id, got, err, want)
		}
	}
	tokens, err := d.FindTokens(ctx)
	if err != nil || len(tokens) != 2 || tokens[0].ID != id2 || tokens[1].RevokedAt == nil {
		t.Errorf("FindTokens = %+v %v: live first", tokens, err)
	}
}

func TestAdminFindAudit(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	for i := range 7 {
		e := model.AuditEntry{Actor: fmt.Sprintf("user%d@example.com", i%2), Action: model.AuditRetry, EventID: "ev1", Channel: "KAKAO", IP: "10.0.0.1"}
		if i%3 == 0 {
			e.Action, e.EventID, e.Channel = model.AuditLogin, "", ""
		}
		if err := d.AddAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// Page through everything, 3 at a time: newest first, no duplicates.
	f := model.AuditFilter{Limit: 3}
	var ids []int64
	for range 5 {
		page, err := d.FindAudit(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			ids = append(ids, e.ID)
		}
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	if len(ids) != 7 {
		t.Fatalf("paged %d entries, want 7", len(ids))
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] >= ids[i-1] {
			t.Fatalf("ids not newest first: %v", ids)
		}
	}
	for _, tc := range []struct {
		f    model.AuditFilter
		want int
	}{
		{model.AuditFilter{Action: model.AuditLogin}, 3},
		{model.AuditFilter{Actor: "USER1"}, 3},
		{model.AuditFilter{Actor: "%"}, 0},
		{model.AuditFilter{EventID: "ev1"}, 4},
		{model.AuditFilter{From: time.Now().Add(time.Hour)}, 0},
		{model.AuditFilter{To: time.Now().Add(time.Hour)}, 7},
	} {
		page, err := d.FindAudit(ctx, tc.f)
		if err != nil || len(page.Entries) != tc.want {
			t.Errorf("FindAudit(%+v) = %d entries, %v; want %d", tc.f, len(page.Entries), err, tc.want)
		}
	}
	_, err := d.FindAudit(ctx, model.AuditFilter{EventID: "../x"})
	wantCode(t, err, model.EINVALID)
	_, err = d.FindAudit(ctx, model.AuditFilter{Cursor: "bogus"})
	wantCode(t, err, model.EINVALID)
}
