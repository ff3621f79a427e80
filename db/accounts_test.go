package db_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

const (
	acctIdle     = 2 * time.Hour
	acctAbsolute = 12 * time.Hour
)

func acctUser(t testing.TB, d *db.DB, email string, role model.Role) model.User {
	t.Helper()
	u, err := d.CreateUser(context.Background(), email, "$argon2id$dummy", role)
	if err != nil {
		t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

func acctExec(t testing.TB, d *db.DB, sql string, args ...any) {
	t.Helper()
	if _, err := d.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func acctHash(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func TestUsers(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()

	u := acctUser(t, d, "  Alice@Example.COM ", model.RoleStaff)
	if u.Email != "alice@example.com" || u.Role != model.RoleStaff || u.ID == 0 || u.Disabled {
		t.Fatalf("created user = %+v", u)
	}
	if _, err := d.CreateUser(ctx, "ALICE@example.com", "x", model.RoleManager); model.ErrorCode(err) != model.ECONFLICT {
		t.Fatalf("duplicate email: err = %v, want conflict", err)
	}
	if _, err := d.CreateUser(ctx, "bob@example.com", "x", model.Role("admin")); model.ErrorCode(err) != model.EINVALID {
		t.Fatalf("bad role: err = %v, want invalid", err)
	}
	got, err := d.FindUserByEmail(ctx, " alice@EXAMPLE.com")
	if err != nil || got.ID != u.ID || got.PasswordHash != "$argon2id$dummy" {
		t.Fatalf("find by email = %+v, %v", got, err)
	}
	if got, err := d.FindUserByID(ctx, u.ID); err != nil || got.Email != u.Email {
		t.Fatalf("find by id = %+v, %v", got, err)
	}
	if _, err := d.FindUserByEmail(ctx, "nobody@example.com"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatalf("unknown email: err = %v, want not_found", err)
	}
	if _, err := d.FindUserByID(ctx, 999999); model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatalf("unknown id: err = %v, want not_found", err)
	}
}

func TestSessions(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	u := acctUser(t, d, "s@example.com", model.RoleMarketer)

	live := func(t *testing.T, id []byte) bool {
		t.Helper()
		_, _, err := d.FindSession(ctx, id, acctAbsolute)
		if err != nil && model.ErrorCode(err) != model.EUNAUTHORIZED {
			t.Fatalf("find session: %v", err)
		}
		return err == nil
	}

	t.Run("create and find", func(t *testing.T) {
		id := acctHash("a")
		if err := d.CreateSession(ctx, id, u.ID, acctIdle, acctAbsolute, "192.0.2.1", "test-agent"); err != nil {
			t.Fatal(err)
		}
		s, gotU, err := d.FindSession(ctx, id, acctAbsolute)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(s.IDHash, id) || s.UserID != u.ID || gotU.Email != u.Email || s.IP != "192.0.2.1" || s.UserAgent != "test-agent" || s.Stale {
			t.Fatalf("session = %+v, user = %+v", s, gotU)
		}
		if d := s.ExpiresAt.Sub(s.CreatedAt); d < acctIdle-time.Second || d > acctIdle+time.Second {
			t.Fatalf("expires %s after creation, want %s", d, acctIdle)
		}
	})
	t.Run("acctIdle expiry", func(t *testing.T) {
		id := acctHash("idle")
		d.CreateSession(ctx, id, u.ID, acctIdle, acctAbsolute, "", "") //nolint:errcheck
		acctExec(t, d, `UPDATE sessions SET created_at = now() - interval '3 hours', last_seen_at = now() - interval '2 hours 1 minute',
			expires_at = now() - interval '1 minute' WHERE id = $1`, id)
		if live(t, id) {
			t.Fatal("idle-expired session still found")
		}
		// Touching cannot resurrect it.
		if err := d.TouchSession(ctx, id, acctIdle, acctAbsolute); err != nil {
			t.Fatal(err)
		}
		if live(t, id) {
			t.Fatal("touch revived an expired session")
		}
	})
	t.Run("acctAbsolute expiry", func(t *testing.T) {
		id := acctHash("abs")
		d.CreateSession(ctx, id, u.ID, acctIdle, acctAbsolute, "", "") //nolint:errcheck
		// Busy all day: seen a minute ago, acctIdle expiry still ahead, but created 12h01m ago.
		acctExec(t, d, `UPDATE sessions SET created_at = now() - interval '12 hours 1 minute',
			last_seen_at = now() - interval '1 minute', expires_at = now() + interval '1 hour' WHERE id = $1`, id)
		if live(t, id) {
			t.Fatal("session older than the acctAbsolute timeout still found")
		}
	})
	t.Run("touch slides but never past absolute", func(t *testing.T) {
		id := acctHash("touch")
		d.CreateSession(ctx, id, u.ID, acctIdle, acctAbsolute, "", "") //nolint:errcheck
		acctExec(t, d, `UPDATE sessions SET created_at = now() - interval '11 hours', last_seen_at = now() - interval '30 minutes',
			expires_at = now() + interval '90 minutes' WHERE id = $1`, id)
		s, _, err := d.FindSession(ctx, id, acctAbsolute)
		if err != nil || !s.Stale {
			t.Fatalf("want a stale live session, got %+v, %v", s, err)
		}
		if err := d.TouchSession(ctx, id, acctIdle, acctAbsolute); err != nil {
			t.Fatal(err)
		}
		s, _, err = d.FindSession(ctx, id, acctAbsolute)
		if err != nil || s.Stale {
			t.Fatalf("after touch: %+v, %v", s, err)
		}
		if want := s.CreatedAt.Add(acctAbsolute); !s.ExpiresAt.Equal(want) {
			t.Fatalf("expires_at = %s, want capped at created_at+12h = %s", s.ExpiresAt, want)
		}
		acctExec(t, d, `UPDATE sessions SET created_at = now() - interval '1 hour', last_seen_at = now() - interval '5 minutes' WHERE id = $1`, id)
		d.TouchSession(ctx, id, acctIdle, acctAbsolute) //nolint:errcheck
		s, _, _ = d.FindSession(ctx, id, acctAbsolute)
		if got := s.ExpiresAt.Sub(s.LastSeenAt); got < acctIdle-time.Second || got > acctIdle+time.Second {
			t.Fatalf("slid expiry to %s after last_seen, want %s", got, acctIdle)
		}
	})
	t.Run("disabled user", func(t *testing.T) {
		v := acctUser(t, d, "disabled@example.com", model.RoleStaff)
		id := acctHash("disabled")
		d.CreateSession(ctx, id, v.ID, acctIdle, acctAbsolute, "", "") //nolint:errcheck
		acctExec(t, d, `UPDATE users SET disabled = true WHERE id = $1`, v.ID)
		if live(t, id) {
			t.Fatal("session of a disabled user still found")
		}
	})
	t.Run("delete", func(t *testing.T) {
		a, b := acctHash("d1"), acctHash("d2")
		v := acctUser(t, d, "del@example.com", model.RoleStaff)
		d.CreateSession(ctx, a, v.ID, acctIdle, acctAbsolute, "", "") //nolint:errcheck
		d.CreateSession(ctx, b, v.ID, acctIdle, acctAbsolute, "", "") //nolint:errcheck
		if err := d.DeleteSession(ctx, a); err != nil {
			t.Fatal(err)
		}
		if live(t, a) || !live(t, b) {
			t.Fatal("DeleteSession removed the wrong session")
		}
		if err := d.DeleteUserSessions(ctx, v.ID); err != nil {
			t.Fatal(err)
		}
		if live(t, b) {
			t.Fatal("DeleteUserSessions left a session")
		}
	})
	t.Run("disable ends sessions", func(t *testing.T) {
		v := acctUser(t, d, "off@example.com", model.RoleStaff)
		id := acctHash("off")
		d.CreateSession(ctx, id, v.ID, acctIdle, acctAbsolute, "", "") //nolint:errcheck
		if err := d.SetUserDisabled(ctx, v.ID, true); err != nil {
			t.Fatal(err)
		}
		var n int
		d.Pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE user_id = $1`, v.ID).Scan(&n) //nolint:errcheck
		if n != 0 {
			t.Fatalf("%d sessions left after disable", n)
		}
	})
}

func TestTokens(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	h := acctHash("tok")
	id, err := d.CreateToken(ctx, "upstream", model.RoleMarketer, h, "cli")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := d.FindTokenByHash(ctx, h)
	if err != nil || tok.ID != id || tok.Name != "upstream" || tok.Role != model.RoleMarketer || tok.CreatedBy != "cli" {
		t.Fatalf("find token = %+v, %v", tok, err)
	}
	var lastUsed *time.Time
	d.Pool.QueryRow(ctx, `SELECT last_used_at FROM api_tokens WHERE id = $1`, id).Scan(&lastUsed) //nolint:errcheck
	if lastUsed == nil {
		t.Fatal("last_used_at not recorded")
	}
	// Within a minute: no new write.
	acctExec(t, d, `UPDATE api_tokens SET last_used_at = now() - interval '30 seconds' WHERE id = $1`, id)
	d.FindTokenByHash(ctx, h) //nolint:errcheck
	var fresh bool
	d.Pool.QueryRow(ctx, `SELECT last_used_at < now() - interval '20 seconds' FROM api_tokens WHERE id = $1`, id).Scan(&fresh) //nolint:errcheck
	if !fresh {
		t.Fatal("last_used_at rewritten within a minute")
	}
	acctExec(t, d, `UPDATE api_tokens SET last_used_at = now() - interval '2 minutes' WHERE id = $1`, id)
	d.FindTokenByHash(ctx, h)                                                                                                  //nolint:errcheck
	d.Pool.QueryRow(ctx, `SELECT last_used_at > now() - interval '10 seconds' FROM api_tokens WHERE id = $1`, id).Scan(&fresh) //nolint:errcheck
	if !fresh {
		t.Fatal("last_used_at not refreshed after a minute")
	}

	if _, err := d.FindTokenByHash(ctx, acctHash("other")); model.ErrorCode(err) != model.EUNAUTHORIZED {
		t.Fatalf("unknown token: err = %v", err)
	}
	if err := d.RevokeToken(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := d.FindTokenByHash(ctx, h); model.ErrorCode(err) != model.EUNAUTHORIZED {
		t.Fatalf("revoked token: err = %v", err)
	}
	if err := d.RevokeToken(ctx, 424242); model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatalf("revoke unknown: err = %v", err)
	}
	if _, err := d.CreateToken(ctx, "", model.RoleStaff, acctHash("empty"), "cli"); model.ErrorCode(err) != model.EINVALID {
		t.Fatalf("empty name: err = %v", err)
	}
}

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	p := db.ThrottlePolicy{MaxFailures: 3, Window: 15 * time.Minute, Lockout: 15 * time.Minute}
	reserve := func(keys ...string) bool {
		t.Helper()
		var tk []db.ThrottleKey
		for _, k := range keys {
			tk = append(tk, db.ThrottleKey{Key: k, Policy: p})
		}
		ok, _, err := d.ReserveLoginAttempt(ctx, tk)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	failures := func(key string) int {
		t.Helper()
		var n int
		d.Pool.QueryRow(ctx, `SELECT coalesce((SELECT failures FROM login_throttle WHERE key = $1), 0)`, key).Scan(&n) //nolint:errcheck
		return n
	}

	for range 3 {
		if !reserve("k") {
			t.Fatal("refused before reaching the limit")
		}
	}
	if reserve("k") {
		t.Fatal("4th attempt reserved with a limit of 3")
	}
	if !reserve("other") {
		t.Fatal("lock leaked to another key")
	}
	// All or nothing: a locked key refuses the attempt and charges none of the others.
	if reserve("fresh", "k") || failures("fresh") != 0 {
		t.Fatalf("attempt with a locked key charged fresh (%d)", failures("fresh"))
	}
	// The lock ends by itself; a stale window starts over.
	acctExec(t, d, `UPDATE login_throttle SET locked_until = now() - interval '1 second', window_start = now() - interval '16 minutes' WHERE key = 'k'`)
	if !reserve("k") || failures("k") != 1 {
		t.Fatalf("after the lock: failures = %d, want 1", failures("k"))
	}
	// A lock outlasting its window still refuses.
	reserve("k")
	reserve("k")
	acctExec(t, d, `UPDATE login_throttle SET window_start = now() - interval '1 hour' WHERE key = 'k'`)
	if reserve("k") {
		t.Fatal("locked key reserved once its window was stale")
	}
	// A release below the limit lifts the lock the reservation set.
	if err := d.ReleaseLoginAttempt(ctx, "k", p); err != nil {
		t.Fatal(err)
	}
	if failures("k") != 2 || !reserve("k") {
		t.Fatalf("after release: failures = %d, want 2 and a free attempt", failures("k"))
	}
	if err := d.ResetLoginFailures(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if failures("k") != 0 {
		t.Fatal("reset left the row")
	}

	// Prune drops idle rows but keeps live locks.
	reserve("idle")
	reserve("lockme")
	reserve("lockme")
	reserve("lockme")
	acctExec(t, d, `UPDATE login_throttle SET window_start = now() - interval '1 hour'`)
	if err := d.PruneAccounts(ctx, 15*time.Minute); err != nil {
		t.Fatal(err)
	}
	var n int
	d.Pool.QueryRow(ctx, `SELECT count(*) FROM login_throttle`).Scan(&n) //nolint:errcheck
	if n != 1 || reserve("lockme") {
		t.Fatalf("after prune: %d rows (want only the locked one)", n)
	}
}

// TestReserveLoginAttemptConcurrent: 60 attempts at once on one key reserve exactly the limit.
// Checking first and counting afterwards (the old RecordLoginFailure) let most of them through.
func TestReserveLoginAttemptConcurrent(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	keys := []db.ThrottleKey{
		{Key: "account:a@example.com", Policy: db.ThrottlePolicy{MaxFailures: 5, Window: time.Hour, Lockout: time.Hour}},
		{Key: "ip:192.0.2.1", Policy: db.ThrottlePolicy{MaxFailures: 30, Window: time.Hour, Lockout: time.Hour}},
	}
	var granted atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, _, err := d.ReserveLoginAttempt(ctx, keys)
			if err != nil {
				errs <- err
			}
			if ok {
				granted.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var ipFailures int
	d.Pool.QueryRow(ctx, `SELECT failures FROM login_throttle WHERE key = 'ip:192.0.2.1'`).Scan(&ipFailures) //nolint:errcheck
	if granted.Load() != 5 || ipFailures != 5 {
		t.Fatalf("60 concurrent reservations: %d granted, ip counted %d; want 5 and 5", granted.Load(), ipFailures)
	}
}

func TestClearLockout(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	u := acctUser(t, d, "a|b@example.com", model.RoleStaff)
	other := acctUser(t, d, "b@example.com", model.RoleStaff)
	acctExec(t, d, `INSERT INTO login_throttle (key, failures, locked_until) VALUES
		('account:a|b@example.com', 5, now() + interval '1 hour'),
		('acctip:ip:192.0.2.1|a|b@example.com', 20, now() + interval '1 hour'),
		('acctip:ip:192.0.2.1|b@example.com', 20, now() + interval '1 hour'),
		('device:abc', 5, now() + interval '1 hour')`)
	locked, err := d.LockedOutEmails(ctx, []string{u.Email, other.Email, "c@example.com"})
	if err != nil || !locked[u.Email] || !locked[other.Email] || len(locked) != 2 {
		t.Fatalf("locked out = %v, %v", locked, err)
	}
	if _, err := d.ClearLockout(ctx, u.ID, model.AuditEntry{Actor: "boss@example.com", Action: model.AuditUserUnlock, IP: "192.0.2.9"}); err != nil {
		t.Fatal(err)
	}
	var keys []string
	rows, _ := d.Pool.Query(ctx, `SELECT key FROM login_throttle ORDER BY key`)
	for rows.Next() {
		var k string
		rows.Scan(&k) //nolint:errcheck
		keys = append(keys, k)
	}
	if strings.Join(keys, " ") != "acctip:ip:192.0.2.1|b@example.com device:abc" {
		t.Fatalf("rows left after clearing a|b@example.com: %q", keys)
	}
	var detail string
	d.Pool.QueryRow(ctx, `SELECT detail FROM audit_log WHERE action = 'user.unlock' AND actor = 'boss@example.com'`).Scan(&detail) //nolint:errcheck
	if detail != "a|b@example.com: 2 lockouts cleared" {
		t.Fatalf("audit detail %q", detail)
	}
	if _, err := d.ClearLockout(ctx, 999999, model.AuditEntry{Actor: "x", Action: model.AuditUserUnlock}); model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatalf("unknown user: %v", err)
	}
}

// TestAddThrottledAudit: refused logins from one address in one window share one audit row.
func TestAddThrottledAudit(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := model.AuditEntry{Actor: fmt.Sprintf("guess%d@example.com", i), Action: model.AuditLoginThrottled, IP: "192.0.2.7"}
			if err := d.AddThrottledAudit(ctx, e, 15*time.Minute); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	d.AddThrottledAudit(ctx, model.AuditEntry{Actor: "x", Action: model.AuditLoginThrottled, IP: "192.0.2.8"}, 15*time.Minute) //nolint:errcheck
	var n int
	var detail string
	d.Pool.QueryRow(ctx, `SELECT count(*), max(detail) FROM audit_log WHERE ip = '192.0.2.7'`).Scan(&n, &detail) //nolint:errcheck
	if n != 1 || detail != "40 throttled attempts" {
		t.Fatalf("40 throttled attempts: %d rows, detail %q; want 1 row \"40 throttled attempts\"", n, detail)
	}
	// A new window starts a new row.
	acctExec(t, d, `UPDATE audit_log SET at = now() - interval '16 minutes' WHERE ip = '192.0.2.7'`)
	d.AddThrottledAudit(ctx, model.AuditEntry{Actor: "y", Action: model.AuditLoginThrottled, IP: "192.0.2.7"}, 15*time.Minute) //nolint:errcheck
	d.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE ip = '192.0.2.7'`).Scan(&n)                                     //nolint:errcheck
	if n != 2 {
		t.Fatalf("after the window: %d rows, want 2", n)
	}
}

func TestPruneAudit(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	for _, actor := range []string{"old", "new"} {
		if err := d.AddAudit(ctx, model.AuditEntry{Actor: actor, Action: "login"}); err != nil {
			t.Fatal(err)
		}
	}
	acctExec(t, d, `UPDATE audit_log SET at = now() - interval '401 days' WHERE actor = 'old'`)
	n, err := d.PruneAudit(ctx, 400*24*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("prune = %d, %v; want 1 row", n, err)
	}
	var left string
	d.Pool.QueryRow(ctx, `SELECT string_agg(actor, ',') FROM audit_log`).Scan(&left) //nolint:errcheck
	if left != "new" {
		t.Fatalf("left %q, want new", left)
	}
}

func TestAddAudit(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	if err := d.AddAudit(ctx, model.AuditEntry{Actor: "a@example.com", Action: "login", IP: "192.0.2.9"}); err != nil {
		t.Fatal(err)
	}
	if err := d.AddAudit(ctx, model.AuditEntry{Actor: "a@example.com", Action: "retry", EventID: "ev1", Channel: "KAKAO", Detail: "manual"}); err != nil {
		t.Fatal(err)
	}
	var nullEvents, n int
	d.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE event_id IS NULL) FROM audit_log`).Scan(&n, &nullEvents) //nolint:errcheck
	if n != 2 || nullEvents != 1 {
		t.Fatalf("audit rows = %d (null event ids %d), want 2 (1)", n, nullEvents)
	}
}
