package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/auth"
	"github.com/marketing-platform/distribution/internal/model"
)

// TestTokenOwnerPrincipal: a token's principal names its owner and its expiry (what streams
// watch), and the token stops authenticating, and re-validating, the moment its owner loses its
// role or is disabled, or it expires.
func TestTokenOwnerPrincipal(t *testing.T) {
	t.Parallel()
	s, d := newService(t)
	ctx := context.Background()
	boss, err := s.CreateUser(ctx, "boss@example.com", "boss-password", model.RoleManager, "cli")
	if err != nil {
		t.Fatal(err)
	}
	sam, err := s.CreateUser(ctx, "sam@example.com", "sam-password", model.RoleStaff, "cli")
	if err != nil {
		t.Fatal(err)
	}
	actor := model.Principal{UserID: boss.ID, Name: boss.Email, Role: model.RoleManager}
	tok, row, err := s.IssueToken(ctx, db.TokenSpec{Name: "sam-bot", Role: model.RoleStaff, CreatedBy: sam.Email, OwnerID: sam.ID, ExpiresIn: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.AuthenticateToken(ctx, tok)
	if err != nil || p.TokenID != row.ID || p.OwnerID != sam.ID || p.UserID != 0 || p.Role != model.RoleStaff {
		t.Fatalf("principal = %+v, %v; want token %d owned by %d", p, err, row.ID, sam.ID)
	}
	if left := time.Until(p.TokenExpiry); left < 59*time.Minute || left > time.Hour {
		t.Fatalf("token expiry in %v, want about an hour", left)
	}
	if _, err := s.Revalidate(ctx, p); err != nil {
		t.Fatalf("revalidate live token: %v", err)
	}
	if _, err := s.ChangeRole(ctx, actor, "", sam.ID, model.RoleMarketer); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateToken(ctx, tok); model.ErrorCode(err) != model.EUNAUTHORIZED {
		t.Fatalf("owner demoted: authenticate err = %v, want EUNAUTHORIZED", err)
	}
	if _, err := s.Revalidate(ctx, p); model.ErrorCode(err) != model.EUNAUTHORIZED {
		t.Fatalf("owner demoted: revalidate err = %v, want EUNAUTHORIZED", err)
	}
	if _, err := s.ChangeRole(ctx, actor, "", sam.ID, model.RoleManager); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Revalidate(ctx, p); err != nil {
		t.Fatalf("owner promoted: revalidate: %v", err)
	}
	if _, err := s.SetDisabled(ctx, actor, "", sam.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateToken(ctx, tok); model.ErrorCode(err) != model.EUNAUTHORIZED {
		t.Fatalf("owner disabled: authenticate err = %v, want EUNAUTHORIZED", err)
	}
	if _, err := s.Revalidate(ctx, p); model.ErrorCode(err) != model.EUNAUTHORIZED {
		t.Fatalf("owner disabled: revalidate err = %v, want EUNAUTHORIZED", err)
	}
	if _, err := s.SetDisabled(ctx, actor, "", sam.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pool.Exec(ctx, `UPDATE api_tokens SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateToken(ctx, tok); model.ErrorCode(err) != model.EUNAUTHORIZED {
		t.Fatalf("expired: authenticate err = %v, want EUNAUTHORIZED", err)
	}
	var detail string
	d.Pool.QueryRow(ctx, `SELECT detail FROM audit_log WHERE action = 'token_create'`).Scan(&detail) //nolint:errcheck
	if !strings.Contains(detail, "owner=sam@example.com") || !strings.Contains(detail, "expires=") {
		t.Fatalf("token_create audit detail %q: want owner and expiry", detail)
	}
}

// TestServiceAccountCannotLogIn: CLI tokens' service account never logs in, even with a valid
// password hash planted in its row; nobody can create a person named like a service account.
func TestServiceAccountCannotLogIn(t *testing.T) {
	t.Parallel()
	s, d := newService(t)
	ctx := context.Background()
	if _, err := s.CreateToken(ctx, "upstream", model.RoleStaff, "cli"); err != nil {
		t.Fatal(err)
	}
	h, err := auth.HashPassword("planted-password", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pool.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE email = 'service:upstream'`, h); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Login(ctx, "service:upstream", "planted-password", "192.0.2.1", "test"); model.ErrorCode(err) != model.EUNAUTHORIZED {
		t.Fatalf("service account login: err = %v, want EUNAUTHORIZED", err)
	}
	if _, err := s.CreateUser(ctx, "service:x@example.com", "long-enough-pw", model.RoleStaff, "cli"); model.ErrorCode(err) != model.EINVALID {
		t.Fatalf("person named like a service account: err = %v, want EINVALID", err)
	}
}

func TestParseExpiry(t *testing.T) {
	t.Parallel()
	kst := time.FixedZone("KST", 9*3600)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{{"", 0}, {"720h", 720 * time.Hour}, {" 90m ", 90 * time.Minute}, {"30d", 30 * 24 * time.Hour}} {
		d, at, err := auth.ParseExpiry(tc.in, time.UTC)
		if err != nil || d != tc.want || at != nil {
			t.Errorf("ParseExpiry(%q) = %v, %v, %v; want %v", tc.in, d, at, err, tc.want)
		}
	}
	day := time.Now().AddDate(0, 1, 0).In(kst).Format("2006-01-02")
	_, at, err := auth.ParseExpiry(day, kst)
	if err != nil || at == nil || at.In(kst).Format("15:04") != "00:00" || at.In(kst).AddDate(0, 0, -1).Format("2006-01-02") != day {
		t.Fatalf("ParseExpiry(%q) = %v, %v; want the midnight after that day in KST", day, at, err)
	}
	for _, bad := range []string{"0s", "-1h", "soon", "0d", "99999d", "2026-13-45", "100000h", "1y"} {
		if _, _, err := auth.ParseExpiry(bad, time.UTC); model.ErrorCode(err) != model.EINVALID {
			t.Errorf("ParseExpiry(%q): err = %v, want EINVALID", bad, err)
		}
	}
}

// A token name is one line: it becomes the service account's email ("service:NAME") and is shown
// on /tokens and in the audit log.
func TestTokenNameIsOneLine(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	ctx := context.Background()
	for _, name := range []string{"bot\nx", "bot\rx", "a\x00b", "\x1b[31m", "bad\xff"} {
		if _, err := s.CreateToken(ctx, name, model.RoleStaff, "cli"); model.ErrorCode(err) != model.EINVALID {
			t.Errorf("CreateToken(%q): %v, want invalid", name, err)
		}
	}
	if _, err := s.CreateToken(ctx, "  upstream bot  ", model.RoleStaff, "cli"); err != nil {
		t.Fatal(err)
	}
}
