package auth_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/auth"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

func loginDevice(t *testing.T, s *auth.Service, email, password, ip, device string) (auth.LoginResult, error) {
	t.Helper()
	return s.LoginDevice(context.Background(), auth.LoginRequest{Email: email, Password: password, IP: ip, DeviceCookie: device})
}

// expireAccountLock ends the account's lock and window as if 16 minutes had passed (never slept).
func expireAccountLock(t *testing.T, d *db.DB, email string) {
	t.Helper()
	if _, err := d.Pool.Exec(context.Background(), `UPDATE login_throttle SET locked_until = now() - interval '1 second',
		window_start = now() - interval '16 minutes' WHERE key = 'account:' || $1`, email); err != nil {
		t.Fatal(err)
	}
}

// TestLoginConcurrentWrongPasswords (RELIABILITY A1): 60 wrong passwords at once for one account
// evaluate at most the limit (5); the rest are refused before any hashing. Before, the limit was
// checked before hashing and counted after, and nearly all 60 were evaluated.
func TestLoginConcurrentWrongPasswords(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, "owner@example.com", "password1", model.RoleManager, "cli"); err != nil {
		t.Fatal(err)
	}
	before := s.Verifications()
	codes := make(chan string, 60)
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := s.Login(ctx, "owner@example.com", "wrong-password", fmt.Sprintf("198.51.100.%d", i+1), "")
			codes <- model.ErrorCode(err)
		}()
	}
	wg.Wait()
	close(codes)
	n := map[string]int{}
	for c := range codes {
		n[c]++
	}
	if got := s.Verifications() - before; got != 5 || n[model.EUNAUTHORIZED] != 5 || n[model.ETOOMANY] != 55 {
		t.Fatalf("60 concurrent wrong passwords: %d verifications, outcomes %v; want 5 verifications, 5 unauthorized, 55 too_many", got, n)
	}
}

// TestLoginDeviceCookie (RELIABILITY A2): someone else's wrong passwords never lock the owner out of
// a browser that logged in before; that browser is throttled on its own counter.
func TestLoginDeviceCookie(t *testing.T) {
	t.Parallel()
	s, d := newService(t)
	ctx := context.Background()
	for _, e := range []string{"owner@example.com", "other@example.com"} {
		if _, err := s.CreateUser(ctx, e, "password1", model.RoleManager, "cli"); err != nil {
			t.Fatal(err)
		}
	}
	first, err := loginDevice(t, s, "owner@example.com", "password1", "192.0.2.1", "")
	if err != nil || first.DeviceCookie == "" {
		t.Fatalf("first login: %v, device cookie %q", err, first.DeviceCookie)
	}
	device := first.DeviceCookie
	if again, err := loginDevice(t, s, "owner@example.com", "password1", "192.0.2.1", device); err != nil || again.DeviceCookie != device {
		t.Fatalf("login with the device cookie: %v; cookie kept: %v", err, again.DeviceCookie == device)
	}

	attacker := "203.0.113.66"
	t.Run("account locked for strangers, not for the owner's browser", func(t *testing.T) {
		for i := range 5 {
			if _, err := loginDevice(t, s, "owner@example.com", "guess", attacker, ""); model.ErrorCode(err) != model.EUNAUTHORIZED {
				t.Fatalf("guess %d: %v", i+1, err)
			}
		}
		if _, err := loginDevice(t, s, "owner@example.com", "password1", "192.0.2.200", ""); model.ErrorCode(err) != model.ETOOMANY {
			t.Fatalf("unknown browser while the account is locked: %v, want too_many", err)
		}
		// Same address as the attacker, even: the device cookie is what counts.
		for _, ip := range []string{"192.0.2.1", attacker} {
			if _, err := loginDevice(t, s, "owner@example.com", "password1", ip, device); err != nil {
				t.Fatalf("owner's browser from %s while the account is locked: %v", ip, err)
			}
		}
	})
	t.Run("20 from one address lock that address for the account", func(t *testing.T) {
		// 5 more from the first subtest's account window make 5; three more windows make 20.
		for range 3 {
			expireAccountLock(t, d, "owner@example.com")
			for i := range 5 {
				if _, err := loginDevice(t, s, "owner@example.com", "guess", attacker, ""); model.ErrorCode(err) != model.EUNAUTHORIZED {
					t.Fatalf("guess %d: %v", i+1, err)
				}
			}
		}
		expireAccountLock(t, d, "owner@example.com")
		if _, err := loginDevice(t, s, "owner@example.com", "password1", attacker, ""); model.ErrorCode(err) != model.ETOOMANY {
			t.Fatalf("21st attempt from one address after the account lock lapsed: %v, want too_many", err)
		}
		// Another address may still try the account; the owner's browser logs in.
		if _, err := loginDevice(t, s, "owner@example.com", "password1", attacker, device); err != nil {
			t.Fatalf("owner's browser: %v", err)
		}
		if _, err := loginDevice(t, s, "owner@example.com", "password1", "192.0.2.201", ""); err != nil {
			t.Fatalf("another address after the account lock lapsed: %v", err)
		}
	})
	t.Run("a device cookie locks only itself", func(t *testing.T) {
		stolen := device
		for i := range 5 {
			if _, err := loginDevice(t, s, "owner@example.com", "guess", "192.0.2.50", stolen); model.ErrorCode(err) != model.EUNAUTHORIZED {
				t.Fatalf("guess %d with the device cookie: %v", i+1, err)
			}
		}
		if _, err := loginDevice(t, s, "owner@example.com", "password1", "192.0.2.50", stolen); model.ErrorCode(err) != model.ETOOMANY {
			t.Fatalf("device cookie after 5 failures: %v, want too_many", err)
		}
		// Those failures were not the account's: a new browser can log in (and gets its own cookie).
		res, err := loginDevice(t, s, "owner@example.com", "password1", "192.0.2.51", "")
		if err != nil || res.DeviceCookie == "" || res.DeviceCookie == stolen {
			t.Fatalf("new browser: %v (cookie %q)", err, res.DeviceCookie)
		}
	})
	t.Run("forged or foreign device cookies count as unknown browsers", func(t *testing.T) {
		other, err := loginDevice(t, s, "other@example.com", "password1", "192.0.2.2", "")
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(other.DeviceCookie, ".")
		forged := strings.Join([]string{parts[0], parts[1], strings.Repeat("A", len(parts[2]))}, ".")
		// forged, the owner's (another account's) cookie, garbage
		for _, bad := range []string{forged, device, "x.y.z", strings.Repeat("a", 5000)} {
			for range 5 {
				loginDevice(t, s, "other@example.com", "guess", "192.0.2.60", bad) //nolint:errcheck
			}
		}
		// Had any of them counted as a device, the account would not be locked.
		if _, err := loginDevice(t, s, "other@example.com", "password1", "192.0.2.61", ""); model.ErrorCode(err) != model.ETOOMANY {
			t.Fatalf("account after 20 failures with bad cookies: %v, want too_many", err)
		}
		// The other account's genuine cookie still works for its own account...
		if _, err := loginDevice(t, s, "other@example.com", "password1", "192.0.2.61", other.DeviceCookie); err != nil {
			t.Fatalf("other's own browser: %v", err)
		}
	})
}

// TestLoginBurstDoesNotStarveOthers: a burst of 300 logins from one address is refused before it
// queues for a hashing slot (at most the per-address limit is ever verified), and another user's
// login meanwhile succeeds.
func TestLoginBurstDoesNotStarveOthers(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	// Real argon2 cost and the production bound of 4 concurrent verifications.
	s := auth.NewService(d, auth.Config{MaxConcurrentHashes: 4}, nil)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, "busy@example.com", "password1", model.RoleStaff, "cli"); err != nil {
		t.Fatal(err)
	}
	before := s.Verifications()
	throttled := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	var mu sync.Mutex
	n := map[string]int{}
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := s.Login(ctx, fmt.Sprintf("spray%d@example.com", i), "guess", "203.0.113.7", "")
			code := model.ErrorCode(err)
			mu.Lock()
			n[code]++
			mu.Unlock()
			if code == model.ETOOMANY {
				once.Do(func() { close(throttled) })
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-throttled: // the burst is being refused now
	case <-done:
		select {
		case <-throttled:
		default:
			t.Fatalf("no request of the burst was throttled: %v", n)
		}
	}
	if _, _, err := s.Login(ctx, "busy@example.com", "password1", "198.51.100.9", ""); err != nil {
		t.Fatalf("another user's login during the burst: %v", err)
	}
	wg.Wait()
	if got := s.Verifications() - before; got > 31 || n[model.EUNAUTHORIZED] > 30 || n[model.ETOOMANY] < 270 || n[model.EINTERNAL] != 0 {
		t.Fatalf("burst of 300: %d verifications, outcomes %v; want at most 30 evaluated (+1 for the other user), the rest too_many", got, n)
	}
}

// TestLoginThrottledAudit (RELIABILITY A3): 300 refused attempts from one address add one audit row
// counting them, and attacker-chosen text in audit rows is bounded.
func TestLoginThrottledAudit(t *testing.T) {
	t.Parallel()
	s, d := newService(t)
	ctx := context.Background()
	count := func(sql string) (n int) {
		t.Helper()
		if err := d.Pool.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for range 5 {
		s.Login(ctx, "target@example.com", "guess", "203.0.113.9", "") //nolint:errcheck
	}
	rowsBefore := count(`SELECT count(*) FROM audit_log`)
	for i := range 300 {
		if _, _, err := s.Login(ctx, "target@example.com", "guess", "203.0.113.9", ""); model.ErrorCode(err) != model.ETOOMANY {
			t.Fatalf("attempt %d: %v, want too_many", i+1, err)
		}
	}
	if added := count(`SELECT count(*) FROM audit_log`) - rowsBefore; added != 1 {
		t.Fatalf("300 throttled attempts added %d audit rows, want 1", added)
	}
	var detail string
	d.Pool.QueryRow(ctx, `SELECT detail FROM audit_log WHERE action = 'login_throttled' AND ip = '203.0.113.9'`).Scan(&detail) //nolint:errcheck
	if detail != "300 throttled attempts" {
		t.Fatalf("aggregate detail %q", detail)
	}

	huge := strings.Repeat("가", 5000) + "\r\nforged@example.com" + strings.Repeat("x", 5000)
	s.Login(ctx, huge, "guess", "192.0.2.99", "")                  //nolint:errcheck
	s.Login(ctx, "a@b.c", "guess", strings.Repeat("9", 10000), "") //nolint:errcheck
	var actor, ip string
	rows, _ := d.Pool.Query(ctx, `SELECT actor, ip FROM audit_log`)
	for rows.Next() {
		if err := rows.Scan(&actor, &ip); err != nil {
			t.Fatal(err)
		}
		if utf8.RuneCountInString(actor) > 254 || utf8.RuneCountInString(ip) > 64 || strings.ContainsAny(actor, "\r\n") {
			t.Errorf("unbounded attacker text in an audit row: actor %d runes (%.40q), ip %d runes", utf8.RuneCountInString(actor), actor, utf8.RuneCountInString(ip))
		}
	}
}

// TestPruneAuditRetention: Prune deletes audit rows older than AuditRetention, keeps the rest.
func TestPruneAuditRetention(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := auth.NewService(d, auth.Config{Argon2: cheap, AuditRetention: 30 * 24 * time.Hour}, nil)
	ctx := context.Background()
	for _, a := range []string{"old", "recent"} {
		if err := d.AddAudit(ctx, model.AuditEntry{Actor: a, Action: "login"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Pool.Exec(ctx, `UPDATE audit_log SET at = now() - CASE actor WHEN 'old' THEN interval '31 days' ELSE interval '29 days' END`); err != nil {
		t.Fatal(err)
	}
	if err := s.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	var left string
	d.Pool.QueryRow(ctx, `SELECT string_agg(actor, ',') FROM audit_log`).Scan(&left) //nolint:errcheck
	if left != "recent" {
		t.Fatalf("after prune with 30 days retention: %q, want recent", left)
	}
}

// TestDeviceCookieAcrossReplicas: the signing key lives in PostgreSQL, so a device cookie issued by
// one process is honoured by another (a replica, or the same service after a restart).
func TestDeviceCookieAcrossReplicas(t *testing.T) {
	t.Parallel()
	s1, d := newService(t)
	ctx := context.Background()
	if _, err := s1.CreateUser(ctx, "owner@example.com", "password1", model.RoleStaff, "cli"); err != nil {
		t.Fatal(err)
	}
	first, err := loginDevice(t, s1, "owner@example.com", "password1", "192.0.2.1", "")
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		loginDevice(t, s1, "owner@example.com", "guess", "203.0.113.5", "") //nolint:errcheck
	}
	s2 := auth.NewService(d, auth.Config{Argon2: cheap}, nil)
	if _, err := loginDevice(t, s2, "owner@example.com", "password1", "192.0.2.1", ""); model.ErrorCode(err) != model.ETOOMANY {
		t.Fatalf("replica, unknown browser: %v, want too_many", err)
	}
	if _, err := loginDevice(t, s2, "owner@example.com", "password1", "192.0.2.1", first.DeviceCookie); err != nil {
		t.Fatalf("replica, browser with the first process's device cookie: %v", err)
	}
}
