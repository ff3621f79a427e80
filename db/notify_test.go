package db_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// twoProcesses opens two stores (two pools, as two replicas would have) on one fresh database.
func twoProcesses(t *testing.T) (a, b *db.DB) {
	t.Helper()
	u := dbtest.NewURL(t)
	open := func() *db.DB {
		d, err := db.Open(context.Background(), u, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(d.Close)
		return d
	}
	return open(), open()
}

// listen starts d's principal listener for the test and returns what it hears; it is stopped
// (and must return nil) at cleanup.
func listen(t *testing.T, d *db.DB) <-chan int64 {
	t.Helper()
	heard := make(chan int64, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- d.ListenPrincipalChanges(ctx, func(id int64) {
			select {
			case heard <- id:
			default:
				t.Error("listener: test channel full")
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("listener returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("listener did not stop")
		}
	})
	return heard
}

// listenerPID waits until a listener connection other than not has run its LISTEN, and returns
// its backend pid.
func listenerPID(t *testing.T, d *db.DB, not int32) int32 {
	t.Helper()
	var pid int32
	// The listener connects on its own goroutine.
	testkit.EventuallyErr(t, 10*time.Second, "a listening connection", func() error {
		return d.Pool.QueryRow(context.Background(), `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = $1 AND pid <> $2
			  AND state = 'idle' AND query ILIKE 'LISTEN %' LIMIT 1`, db.ListenerAppName, not).Scan(&pid)
	})
	return pid
}

// wantHeard fails unless the next id heard is want.
func wantHeard(t *testing.T, what string, heard <-chan int64, want int64) {
	t.Helper()
	select {
	case got := <-heard:
		if got != want {
			t.Fatalf("%s: heard user %d, want %d", what, got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no notification for user %d", what, want)
	}
}

// TestPrincipalChangesReachOtherProcesses: every change of what a user may do, made through one
// pool, is heard by the listener of another pool, with the user's id; a change that rolls back
// (or a logout of an unknown session) is not.
func TestPrincipalChangesReachOtherProcesses(t *testing.T) {
	t.Parallel()
	a, b := twoProcesses(t)
	ctx := context.Background()
	heard := listen(t, b)
	listenerPID(t, b, 0)

	boss := acctUser(t, a, "boss@example.com", model.RoleManager)
	ann := acctUser(t, a, "ann@example.com", model.RoleMarketer)
	audit := model.AuditEntry{Actor: "boss@example.com", Action: "user.change"}

	if _, err := a.UpdateUser(ctx, ann.ID, db.UserChange{Role: model.RoleStaff}, audit); err != nil {
		t.Fatal(err)
	}
	wantHeard(t, "role change", heard, ann.ID)

	// The last manager cannot be demoted: the transaction rolls back, and nothing is sent (the
	// next thing heard is the following change, of ann).
	if _, err := a.UpdateUser(ctx, boss.ID, db.UserChange{Role: model.RoleStaff}, audit); model.ErrorCode(err) != model.ECONFLICT {
		t.Fatalf("demote last manager: %v", err)
	}
	yes := true
	if _, err := a.UpdateUser(ctx, ann.ID, db.UserChange{Disabled: &yes}, audit); err != nil {
		t.Fatal(err)
	}
	wantHeard(t, "disable", heard, ann.ID)
	if _, err := a.UpdateUser(ctx, ann.ID, db.UserChange{PasswordHash: "$argon2id$other"}, audit); err != nil {
		t.Fatal(err)
	}
	wantHeard(t, "password reset", heard, ann.ID)
	if err := a.SetUserDisabled(ctx, boss.ID, false); err != nil {
		t.Fatal(err)
	}
	wantHeard(t, "set disabled", heard, boss.ID)

	// Logout: deleting an unknown session sends nothing, deleting boss's sends boss's id.
	sid := []byte("session-of-boss-0123456789abcdef")
	if err := a.CreateSession(ctx, sid, boss.ID, acctIdle, acctAbsolute, "127.0.0.1", "test"); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteSession(ctx, []byte("no-such-session")); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteSession(ctx, sid); err != nil {
		t.Fatal(err)
	}
	wantHeard(t, "logout", heard, boss.ID)
	if err := a.DeleteUserSessions(ctx, ann.ID); err != nil {
		t.Fatal(err)
	}
	wantHeard(t, "end all sessions", heard, ann.ID)
	select {
	case id := <-heard:
		t.Fatalf("unexpected notification for user %d", id)
	default:
	}
}

// TestPrincipalListenerReconnects: when its connection is killed, the listener connects again
// and LISTENs again, and later changes are heard.
func TestPrincipalListenerReconnects(t *testing.T) {
	t.Parallel()
	a, b := twoProcesses(t)
	ctx := context.Background()
	heard := listen(t, b)
	ann := acctUser(t, a, "ann@example.com", model.RoleMarketer)
	acctUser(t, a, "boss@example.com", model.RoleManager)
	audit := model.AuditEntry{Actor: "boss@example.com", Action: "user.change"}

	pid := listenerPID(t, b, 0)
	var killed bool
	if err := a.Pool.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminate listener %d: %v %v", pid, killed, err)
	}
	listenerPID(t, b, pid)

	if _, err := a.UpdateUser(ctx, ann.ID, db.UserChange{Role: model.RoleStaff}, audit); err != nil {
		t.Fatal(err)
	}
	wantHeard(t, "role change after reconnect", heard, ann.ID)
}
