package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/auth"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// cheap keeps argon2 fast in tests; the code path is the same.
var cheap = auth.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newService(t testing.TB) (*auth.Service, *db.DB) {
	t.Helper()
	d := dbtest.New(t)
	return auth.NewService(d, auth.Config{Argon2: cheap}, nil), d
}

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	h, err := auth.HashPassword("correct horse", auth.DefaultArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string with the default parameters", h)
	}
	h2, _ := auth.HashPassword("correct horse", auth.DefaultArgon2)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{{"correct horse", true}, {"correct hors", false}, {"", false}, {"Correct horse", false}} {
		ok, err := auth.VerifyPassword(h, tc.pw)
		if err != nil || ok != tc.want {
			t.Errorf("verify %q = %v, %v; want %v", tc.pw, ok, err, tc.want)
		}
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", // absurd memory: refused, not allocated
		strings.Replace(h, "$v=19$", "$v=16$", 1)} {
		if ok, err := auth.VerifyPassword(bad, "x"); ok || err == nil {
			t.Errorf("verify against %q = %v, %v; want an error", bad, ok, err)
		}
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	s, d := newService(t)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, "Ann@Example.com", "password1", model.RoleStaff, "cli"); err != nil {
		t.Fatal(err)
	}

	secret, p, err := s.Login(ctx, " ann@example.COM ", "password1", "192.0.2.1", "ua")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "ann@example.com" || p.Role != model.RoleStaff || p.UserID == 0 || p.SessionID == "" {
		t.Fatalf("principal = %+v", p)
	}
	if len(secret) != 43 {
		t.Fatalf("cookie value %q: want 43 base64url characters", secret)
	}
	got, err := s.Authenticate(ctx, secret)
	if err != nil || got != p {
		t.Fatalf("authenticate = %+v, %v; want %+v", got, err, p)
	}
	secret2, _, err := s.Login(ctx, "ann@example.com", "password1", "192.0.2.1", "ua")
	if err != nil || secret2 == secret {
		t.Fatalf("second login: %v (same secret: %v)", err, secret2 == secret)
	}
	var stored int
	d.Pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE id = sha256(decode(translate($1, '-_', '+/') || '=', 'base64'))`, secret).Scan(&stored) //nolint:errcheck
	if stored != 1 {
		t.Fatal("session row is not keyed by the SHA-256 of the cookie secret")
	}

	for _, tc := range []struct{ name, email, pw string }{
		{"wrong password", "ann@example.com", "password2"},
		{"unknown user", "nobody@example.com", "password1"},
		{"empty", "", ""},
		{"huge password", "ann@example.com", strings.Repeat("x", 5000)},
	} {
		_, _, err := s.Login(ctx, tc.email, tc.pw, "192.0.2.2", "ua")
		if model.ErrorCode(err) != model.EUNAUTHORIZED || model.ErrorMessage(err) != auth.MsgBadCredentials {
			t.Errorf("%s: err = %v, want the generic unauthorized message", tc.name, err)
		}
	}
	var failed, ok int
	d.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE action = 'login_failed' AND ip = '192.0.2.2'),
		count(*) FILTER (WHERE action = 'login' AND actor = 'ann@example.com') FROM audit_log`).Scan(&failed, &ok) //nolint:errcheck
	if failed != 4 || ok != 2 {
		t.Errorf("audit log has %d failed and %d successful logins, want 4 and 2", failed, ok)
	}

	if err := s.Logout(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, secret); model.ErrorCode(err) != model.EUNAUTHORIZED {
		t.Fatalf("after logout: %v", err)
	}
	for _, bad := range []string{"", "short", strings.Repeat("!", 43), secret + "A"} {
		if _, err := s.Authenticate(ctx, bad); model.ErrorCode(err) != model.EUNAUTHORIZED {
			t.Errorf("authenticate %q: err = %v", bad, err)
		}
	}
}

func TestLoginDisabledUser(t *testing.T) {
	t.Parallel()
	s, d := newService(t)
	ctx := context.Background()
	u, _ := s.CreateUser(ctx, "off@example.com", "password1", model.RoleManager, "cli")
	if err := d.SetUserDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.Login(ctx, "off@example.com", "password1", "192.0.2.1", "")
	if model.ErrorMessage(err) != auth.MsgBadCredentials {
		t.Fatalf("disabled user login: %v", err)
	}
}

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	s, d := newService(t)
	ctx := context.Background()
	s.CreateUser(ctx, "victim@example.com", "password1", model.RoleStaff, "cli") //nolint:errcheck

	t.Run("per account", func(t *testing.T) {
		for i := range 5 {
			ip := "198.51.100." + string(rune('1'+i)) // different IPs: only the account counter trips
			if _, _, err := s.Login(ctx, "victim@example.com", "wrong-pass", ip, ""); model.ErrorCode(err) != model.EUNAUTHORIZED {
				t.Fatalf("failure %d: %v", i+1, err)
			}
		}
		// Even the right password is refused while locked, from anywhere.
		_, _, err := s.Login(ctx, "victim@example.com", "password1", "203.0.113.50", "")
		if model.ErrorCode(err) != model.ETOOMANY {
			t.Fatalf("6th attempt: %v, want too_many", err)
		}
		// The lock expires by itself (back-dated, never slept).
		if _, err := d.Pool.Exec(ctx, `UPDATE login_throttle SET locked_until = now() - interval '1 second',
			window_start = now() - interval '16 minutes' WHERE key = 'account:victim@example.com'`); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Login(ctx, "victim@example.com", "password1", "203.0.113.50", ""); err != nil {
			t.Fatalf("after the lockout: %v", err)
		}
	})
	t.Run("per IP", func(t *testing.T) {
		ip := "192.0.2.77"
		for i := range 30 {
			email := "guess" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "@example.com"
			if _, _, err := s.Login(ctx, email, "x", ip, ""); model.ErrorCode(err) != model.EUNAUTHORIZED {
				t.Fatalf("failure %d: %v", i+1, err)
			}
		}
		if _, _, err := s.Login(ctx, "victim@example.com", "password1", ip, ""); model.ErrorCode(err) != model.ETOOMANY {
			t.Fatalf("31st attempt from one IP: %v, want too_many", err)
		}
		if _, _, err := s.Login(ctx, "victim@example.com", "password1", "192.0.2.78", ""); err != nil {
			t.Fatalf("another IP is not locked: %v", err)
		}
	})
	t.Run("IPv6 per /64", func(t *testing.T) {
		for i := range 30 {
			ip := "2001:db8:1:2::" + string(rune('a'+i%6)) + string(rune('0'+i/6))
			s.Login(ctx, "spray"+string(rune('a'+i%26))+string(rune('a'+i/26))+"@example.com", "x", ip, "") //nolint:errcheck
		}
		if _, _, err := s.Login(ctx, "victim@example.com", "password1", "2001:db8:1:2:ffff::1", ""); model.ErrorCode(err) != model.ETOOMANY {
			t.Fatalf("same /64: %v, want too_many", err)
		}
	})
}

func TestSessionTimeouts(t *testing.T) {
	t.Parallel()
	s, d := newService(t)
	ctx := context.Background()
	s.CreateUser(ctx, "t@example.com", "password1", model.RoleMarketer, "cli") //nolint:errcheck
	login := func() string {
		secret, _, err := s.Login(ctx, "t@example.com", "password1", "192.0.2.1", "")
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	backdate := func(sql string) {
		if _, err := d.Pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}

	secret := login()
	// Active 90 minutes ago, idle timeout 2h: still valid, and the visit slides the expiry.
	backdate(`UPDATE sessions SET created_at = now() - interval '3 hours', last_seen_at = now() - interval '90 minutes', expires_at = now() + interval '30 minutes'`)
	if _, err := s.Authenticate(ctx, secret); err != nil {
		t.Fatalf("within idle timeout: %v", err)
	}
	var left time.Duration
	var us int64
	d.Pool.QueryRow(ctx, `SELECT (extract(epoch FROM expires_at - now()) * 1e6)::bigint FROM sessions`).Scan(&us) //nolint:errcheck
	if left = time.Duration(us) * time.Microsecond; left < 119*time.Minute {
		t.Fatalf("expiry not slid: %s left", left)
	}
	// Idle for longer than 2h.
	backdate(`UPDATE sessions SET last_seen_at = now() - interval '2 hours 1 minute', expires_at = now() - interval '1 minute'`)
	if _, err := s.Authenticate(ctx, secret); model.ErrorCode(err) != model.EUNAUTHORIZED {
		t.Fatalf("idle-expired: %v", err)
	}

	backdate(`DELETE FROM sessions`)
	secret = login()
	// In use all the time, but logged in more than 12h ago.
	backdate(`UPDATE sessions SET created_at = now() - interval '12 hours 1 minute', last_seen_at = now() - interval '1 minute', expires_at = now() + interval '1 hour'`)
	if _, err := s.Authenticate(ctx, secret); model.ErrorCode(err) != model.EUNAUTHORIZED {
		t.Fatalf("absolute-expired: %v", err)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	s, d := newService(t)
	ctx := context.Background()
	tok, err := s.CreateToken(ctx, "upstream-event-service", model.RoleMarketer, "cli")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "dst_") || len(tok) != 4+43 {
		t.Fatalf("token %q: want dst_ + 43 characters", tok)
	}
	p, err := s.AuthenticateToken(ctx, tok)
	if err != nil || p.Role != model.RoleMarketer || p.TokenID == 0 || p.UserID != 0 || p.Name != "token:upstream-event-service" {
		t.Fatalf("authenticate token = %+v, %v", p, err)
	}
	var plain int
	d.Pool.QueryRow(ctx, `SELECT count(*) FROM api_tokens WHERE position($1::bytea IN token_hash) > 0`, []byte(tok[4:])).Scan(&plain) //nolint:errcheck
	if plain != 0 {
		t.Fatal("token stored in plaintext")
	}
	for _, bad := range []string{"", "dst_", tok[4:], "xyz_" + tok[4:], tok[:len(tok)-1], tok + "x"} {
		if _, err := s.AuthenticateToken(ctx, bad); model.ErrorCode(err) != model.EUNAUTHORIZED {
			t.Errorf("token %q: err = %v", bad, err)
		}
	}
	if err := d.RevokeToken(ctx, p.TokenID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateToken(ctx, tok); model.ErrorCode(err) != model.EUNAUTHORIZED {
		t.Fatalf("revoked: %v", err)
	}
	if _, err := s.CreateToken(ctx, " ", model.RoleStaff, "cli"); model.ErrorCode(err) != model.EINVALID {
		t.Fatalf("blank name: %v", err)
	}
	if _, err := s.CreateToken(ctx, "x", model.Role("root"), "cli"); model.ErrorCode(err) != model.EINVALID {
		t.Fatalf("bad role: %v", err)
	}
	var audits int
	d.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'token_create' AND actor = 'cli'`).Scan(&audits) //nolint:errcheck
	if audits != 1 {
		t.Fatalf("token_create audit rows = %d, want 1", audits)
	}
}

func TestCreateUserValidation(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	ctx := context.Background()
	for _, tc := range []struct {
		email, pw string
		role      model.Role
	}{
		{"no-at-sign", "password1", model.RoleStaff},
		{"a@example.com", "short", model.RoleStaff},
		{"a@example.com", "한국어비번", model.RoleStaff}, // 5 characters, 15 bytes: characters count
		{"a@example.com", "password1", model.Role("admin")},
		{"a b@example.com", "password1", model.RoleStaff},
		{"a\x00@example.com", "password1", model.RoleStaff},
		{"a\r@example.com", "password1", model.RoleStaff},
		{"a\x1b@example.com", "password1", model.RoleStaff},
		{"a\xff@example.com", "password1", model.RoleStaff},
	} {
		if _, err := s.CreateUser(ctx, tc.email, tc.pw, tc.role, "cli"); model.ErrorCode(err) != model.EINVALID {
			t.Errorf("CreateUser(%q, %q, %q): err = %v, want invalid", tc.email, tc.pw, tc.role, err)
		}
	}
	if _, err := s.CreateUser(ctx, "a@example.com", "password1", model.RoleStaff, "cli"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, "A@example.com", "password2", model.RoleStaff, "cli"); model.ErrorCode(err) != model.ECONFLICT {
		t.Fatalf("duplicate: %v", err)
	}
}

func TestReadPasswordLine(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"s3cret pass\nrest\n": "s3cret pass", "crlf-pass\r\n": "crlf-pass", "no-newline": "no-newline"} {
		got, err := auth.ReadPasswordLine(strings.NewReader(in))
		if err != nil || got != want {
			t.Errorf("ReadPasswordLine(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := auth.ReadPasswordLine(strings.NewReader("\n")); model.ErrorCode(err) != model.EINVALID {
		t.Errorf("empty line: %v", err)
	}
}

func TestContext(t *testing.T) {
	t.Parallel()
	if _, ok := auth.FromContext(context.Background()); ok {
		t.Fatal("principal in an empty context")
	}
	p := model.Principal{UserID: 7, Role: model.RoleStaff}
	if got, ok := auth.FromContext(auth.NewContext(context.Background(), p)); !ok || got != p {
		t.Fatalf("round trip = %+v, %v", got, ok)
	}
}
