package db_test

import (
	"context"
	"io/fs"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
	"github.com/marketing-platform/distribution/migrations"
)

// wantLive fails unless the token of hash authenticates (live) or not, by both checks that
// matter: a new request (FindTokenByHash) and a running stream's re-check (TokenActive).
func wantLive(t *testing.T, what string, d *db.DB, id int64, hash []byte, live bool) {
	t.Helper()
	ctx := context.Background()
	_, err := d.FindTokenByHash(ctx, hash)
	switch {
	case live && err != nil:
		t.Fatalf("%s: token refused: %v", what, err)
	case !live && model.ErrorCode(err) != model.EUNAUTHORIZED:
		t.Fatalf("%s: token accepted (err = %v), want EUNAUTHORIZED", what, err)
	}
	if ok, err := d.TokenActive(ctx, id); err != nil || ok != live {
		t.Fatalf("%s: TokenActive = %v, %v; want %v", what, ok, err, live)
	}
}

// TestTokenDiesWithOwner: a token works only while its owner is enabled and holds at least the
// token's role (so it never keeps rights its owner lost): a staff token dies when its owner becomes
// a marketer, lives when they become a manager, dies when they are disabled and comes back when
// re-enabled.
func TestTokenDiesWithOwner(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	acctUser(t, d, "boss@example.com", model.RoleManager)
	sam := acctUser(t, d, "sam@example.com", model.RoleStaff)
	audit := model.AuditEntry{Actor: "boss@example.com", Action: "user.change"}
	h := acctHash("sam-token")
	tok, err := d.CreateOwnedToken(ctx, db.TokenSpec{Name: "sam's bot", Role: model.RoleStaff, CreatedBy: sam.Email, OwnerID: sam.ID}, h)
	if err != nil {
		t.Fatal(err)
	}
	if tok.OwnerID == nil || *tok.OwnerID != sam.ID || tok.OwnerEmail != sam.Email || tok.OwnerService || !tok.Live || tok.ExpiresAt != nil {
		t.Fatalf("new token = %+v", tok)
	}
	wantLive(t, "owner staff", d, tok.ID, h, true)

	change := func(ch db.UserChange) {
		t.Helper()
		if _, err := d.UpdateUser(ctx, sam.ID, ch, audit); err != nil {
			t.Fatal(err)
		}
	}
	change(db.UserChange{Role: model.RoleMarketer})
	wantLive(t, "owner demoted to marketer", d, tok.ID, h, false)
	change(db.UserChange{Role: model.RoleManager})
	wantLive(t, "owner promoted to manager", d, tok.ID, h, true)
	yes, no := true, false
	change(db.UserChange{Disabled: &yes})
	wantLive(t, "owner disabled", d, tok.ID, h, false)
	tokens, err := d.FindTokens(ctx)
	if err != nil || len(tokens) != 1 || tokens[0].Live || tokens[0].RevokedAt != nil || tokens[0].Expired {
		t.Fatalf("listed = %+v, %v; want one token, refused but neither revoked nor expired", tokens, err)
	}
	change(db.UserChange{Disabled: &no})
	wantLive(t, "owner enabled again", d, tok.ID, h, true)

	// A token its owner could not use is refused at creation.
	ann := acctUser(t, d, "ann@example.com", model.RoleMarketer)
	if _, err := d.CreateOwnedToken(ctx, db.TokenSpec{Name: "x", Role: model.RoleStaff, OwnerID: ann.ID}, acctHash("x")); model.ErrorCode(err) != model.ECONFLICT {
		t.Fatalf("token above its owner's role: err = %v, want ECONFLICT", err)
	}
	change(db.UserChange{Disabled: &yes})
	if _, err := d.CreateOwnedToken(ctx, db.TokenSpec{Name: "y", Role: model.RoleStaff, OwnerID: sam.ID}, acctHash("y")); model.ErrorCode(err) != model.ECONFLICT {
		t.Fatalf("token of a disabled owner: err = %v, want ECONFLICT", err)
	}
	if _, err := d.CreateOwnedToken(ctx, db.TokenSpec{Name: "z", Role: model.RoleStaff, OwnerID: 424242}, acctHash("z")); model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatalf("token of an unknown owner: err = %v, want ENOTFOUND", err)
	}
}

// TestTokenServiceAccount: a token without an owner (the CLI's) belongs to the service account
// "service:<name>", created with the token's role; that account never logs in, has no password,
// is not counted as a manager, and disabling it kills every token it owns.
func TestTokenServiceAccount(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	boss := acctUser(t, d, "boss@example.com", model.RoleManager)
	audit := model.AuditEntry{Actor: "boss@example.com", Action: "user.change"}

	h1, h2 := acctHash("svc-1"), acctHash("svc-2")
	id1, err := d.CreateToken(ctx, "Upstream", model.RoleStaff, h1, "cli")
	if err != nil {
		t.Fatal(err)
	}
	id2, err := d.CreateToken(ctx, "upstream", model.RoleMarketer, h2, "cli")
	if err != nil {
		t.Fatal(err)
	}
	t1, err := d.FindTokenByHash(ctx, h1)
	if err != nil {
		t.Fatal(err)
	}
	t2, _ := d.FindTokenByHash(ctx, h2)
	if t1.OwnerEmail != "service:upstream" || !t1.OwnerService || t1.OwnerID == nil || t2.OwnerID == nil || *t2.OwnerID != *t1.OwnerID {
		t.Fatalf("owners = %+v / %+v; want both the service account service:upstream", t1, t2)
	}
	svc, err := d.FindUserByID(ctx, *t1.OwnerID)
	if err != nil || !svc.Service || svc.Role != model.RoleStaff || svc.PasswordHash != "" {
		t.Fatalf("service account = %+v, %v", svc, err)
	}
	if _, err := d.FindUserByEmail(ctx, "service:upstream"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatalf("login lookup found the service account: %v", err)
	}
	if _, err := d.CreateToken(ctx, "upstream", model.RoleManager, acctHash("svc-3"), "cli"); model.ErrorCode(err) != model.ECONFLICT {
		t.Fatalf("token above its service account's role: err = %v, want ECONFLICT", err)
	}
	if _, err := d.UpdateUser(ctx, svc.ID, db.UserChange{PasswordHash: "$argon2id$x"}, audit); model.ErrorCode(err) != model.ECONFLICT {
		t.Fatalf("password for a service account: err = %v, want ECONFLICT", err)
	}

	yes := true
	if _, err := d.UpdateUser(ctx, svc.ID, db.UserChange{Disabled: &yes}, audit); err != nil {
		t.Fatal(err)
	}
	wantLive(t, "service account disabled (token 1)", d, id1, h1, false)
	wantLive(t, "service account disabled (token 2)", d, id2, h2, false)
	if _, err := d.CreateToken(ctx, "upstream", model.RoleMarketer, acctHash("svc-4"), "cli"); model.ErrorCode(err) != model.ECONFLICT {
		t.Fatalf("token for a disabled service account: err = %v, want ECONFLICT", err)
	}

	// A service account with the manager role is not "someone else in charge": the last person
	// who is a manager still cannot be demoted.
	if _, err := d.CreateToken(ctx, "ops", model.RoleManager, acctHash("ops"), "cli"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.UpdateUser(ctx, boss.ID, db.UserChange{Role: model.RoleStaff}, audit); model.ErrorCode(err) != model.ECONFLICT {
		t.Fatalf("demote the last human manager next to a manager service account: err = %v, want ECONFLICT", err)
	}

	// A person's account is never taken as a service account.
	acctUser(t, d, "service:bot@example.com", model.RoleManager)
	if _, err := d.CreateToken(ctx, "bot@example.com", model.RoleMarketer, acctHash("bot"), "cli"); model.ErrorCode(err) != model.ECONFLICT {
		t.Fatalf("token named after a person's service-like email: err = %v, want ECONFLICT", err)
	}
}

// TestTokenExpiry: a token may expire, relative to the DB clock or at an instant; an expired
// token is refused and listed as expired; an expiry in the past is refused at creation.
func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	h := acctHash("exp")
	tok, err := d.CreateOwnedToken(ctx, db.TokenSpec{Name: "temp", Role: model.RoleMarketer, ExpiresIn: time.Hour}, h)
	if err != nil {
		t.Fatal(err)
	}
	if tok.ExpiresAt == nil || tok.ExpiresIn < 59*time.Minute || tok.ExpiresIn > time.Hour || tok.Expired || !tok.Live {
		t.Fatalf("token = %+v; want expiring in an hour", tok)
	}
	var delta float64
	d.Pool.QueryRow(ctx, `SELECT abs(extract(epoch FROM expires_at - (now() + interval '1 hour'))) FROM api_tokens WHERE id = $1`, tok.ID).Scan(&delta) //nolint:errcheck
	if delta > 5 {
		t.Fatalf("expires_at is %v s away from now()+1h by the DB clock", delta)
	}
	wantLive(t, "not yet expired", d, tok.ID, h, true)
	acctExec(t, d, `UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, tok.ID)
	wantLive(t, "expired", d, tok.ID, h, false)
	tokens, err := d.FindTokens(ctx)
	if err != nil || len(tokens) != 1 || !tokens[0].Expired || tokens[0].Live {
		t.Fatalf("listed = %+v, %v; want one expired token", tokens, err)
	}

	at := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	tok2, err := d.CreateOwnedToken(ctx, db.TokenSpec{Name: "dated", Role: model.RoleMarketer, ExpiresAt: &at}, acctHash("dated"))
	if err != nil || tok2.ExpiresAt == nil || !tok2.ExpiresAt.Equal(at) {
		t.Fatalf("dated token = %+v, %v; want expiring at %v", tok2, err, at)
	}
	past := time.Now().Add(-48 * time.Hour)
	if _, err := d.CreateOwnedToken(ctx, db.TokenSpec{Name: "past", Role: model.RoleMarketer, ExpiresAt: &past}, acctHash("past")); model.ErrorCode(err) != model.EINVALID {
		t.Fatalf("expiry in the past: err = %v, want EINVALID", err)
	}
}

// TestTokenRevokeNotifies: revoking a token wakes the streams it authenticates, in every process:
// the notification carries its owner's id, or minus the token id for a legacy token without one.
func TestTokenRevokeNotifies(t *testing.T) {
	t.Parallel()
	a, b := twoProcesses(t)
	ctx := context.Background()
	heard := listen(t, b)
	listenerPID(t, b, 0)
	boss := acctUser(t, a, "boss@example.com", model.RoleManager)

	tok, err := a.CreateOwnedToken(ctx, db.TokenSpec{Name: "bot", Role: model.RoleStaff, OwnerID: boss.ID}, acctHash("bot"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.RevokeTokenAudited(ctx, tok.ID, model.AuditEntry{Actor: boss.Email, Action: model.AuditTokenRevoke}); err != nil {
		t.Fatal(err)
	}
	wantHeard(t, "revoke (audited)", heard, boss.ID)

	legacy, err := a.CreateToken(ctx, "legacy", model.RoleMarketer, acctHash("legacy"), "cli")
	if err != nil {
		t.Fatal(err)
	}
	acctExec(t, a, `UPDATE api_tokens SET owner_id = NULL WHERE id = $1`, legacy)
	if err := a.RevokeToken(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	wantHeard(t, "revoke of a token without owner", heard, -legacy)
}

// TestTokenOwnerBackfill runs migration 0008 over api_tokens rows as they were before it: tokens
// made on /tokens go to their maker, the rest to a service account per name with the highest
// role among them, and a row that cannot be placed keeps working without owner.
func TestTokenOwnerBackfill(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	acctExec(t, d, `ALTER TABLE api_tokens DROP COLUMN owner_id, DROP COLUMN expires_at`)
	acctExec(t, d, `ALTER TABLE users DROP COLUMN kind`)
	acctExec(t, d, `INSERT INTO users (email, password_hash, role) VALUES
		('boss@example.com', '', 'manager'), ('service:clash', '', 'marketer')`)
	acctExec(t, d, `INSERT INTO api_tokens (name, role, token_hash, created_by) VALUES
		('web', 'staff', 'h-web', 'boss@example.com'),
		('Upstream', 'marketer', 'h-up1', 'cli'),
		('upstream', 'staff', 'h-up2', 'cli'),
		('orphan', 'manager', 'h-orphan', 'gone@example.com'),
		('clash', 'marketer', 'h-clash', 'cli')`)
	sql, err := fs.ReadFile(migrations.FS, "0008_token_owners.sql")
	if err != nil {
		t.Fatal(err)
	}
	acctExec(t, d, string(sql))

	for _, tc := range []struct {
		hash, owner string
		service     bool
	}{
		{"h-web", "boss@example.com", false},
		{"h-up1", "service:upstream", true},
		{"h-up2", "service:upstream", true},
		{"h-orphan", "service:orphan", true},
		{"h-clash", "", false},
	} {
		tok, err := d.FindTokenByHash(ctx, []byte(tc.hash))
		if err != nil {
			t.Fatalf("%s after the backfill: %v", tc.hash, err)
		}
		if tok.OwnerEmail != tc.owner || tok.OwnerService != tc.service || (tc.owner == "") != (tok.OwnerID == nil) {
			t.Errorf("%s: owner %q service %v (id %v), want %q service %v", tc.hash, tok.OwnerEmail, tok.OwnerService, tok.OwnerID, tc.owner, tc.service)
		}
	}
	var role string
	d.Pool.QueryRow(ctx, `SELECT role FROM users WHERE email = 'service:upstream'`).Scan(&role) //nolint:errcheck
	if role != "staff" {
		t.Errorf("service:upstream has role %q, want staff (the highest of its tokens)", role)
	}
}
