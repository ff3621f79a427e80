package handlers_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/db"
	service "github.com/marketing-platform/distribution/internal/app"
	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// newReplica is one web process of the application over the database at dbURL, built by
// internal/app as serve builds it (ROLE=web: insert-only engine, live hub on a private Redis,
// principal listener, HTTP server), stopped when the test ends. withLive no longer changes the
// wiring (serve has no variant without Redis); it says whether the test reads a.cache and a.hub.
func newReplica(t *testing.T, dbURL string, withLive bool) *uiApp {
	t.Helper()
	return newReplicaWith(t, dbURL, withLive, nil)
}

// newReplicaWith is newReplica with a last say on the config (a small stream cap) and options
// (a store that counts its reads).
func newReplicaWith(t *testing.T, dbURL string, withLive bool, adjust func(*config.Config), opts ...service.Option) *uiApp {
	t.Helper()
	cfg := testServiceConfig(t, 0, dbURL, dbtest.StartRedis(t).URL)
	if adjust != nil {
		adjust(&cfg)
	}
	s := startTestService(t, cfg, append([]service.Option{service.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	a := &uiApp{t: t, db: s.Store, auth: s.Auth, eng: s.Engine, url: s.URL()}
	if withLive {
		a.cache, a.hub = s.Cache, s.Hub
	}
	waitListening(t, s.Store)
	return a
}

// waitListening waits until d's principal listener has run its LISTEN (polls with a deadline:
// the listener connects on its own goroutine).
func waitListening(t *testing.T, d *db.DB) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, "the principal listener's LISTEN", func() bool {
		var n int
		if err := d.Pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = $1 AND state = 'idle'
			  AND query ILIKE 'LISTEN %'`, db.ListenerAppName).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	})
}

// waitEnd reads s until it ends, failing after the deadline (far shorter than the periodic
// session check, so only the notification can have ended it). It reports whether the page was
// told to go offline.
func waitEnd(t *testing.T, what string, s *sseReader) (offline bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev, open := <-s.ch:
			if !open {
				return offline
			}
			if isSignals(ev) && strings.Contains(ev.data, `"_live":"offline"`) {
				offline = true
			}
		case <-deadline:
			t.Fatalf("%s: stream still open", what)
		}
	}
}

// TestStreamEndsOnPrincipalChange (S6 across replicas): a manager changes a user's role, disables
// them, and a session of theirs logs out, all on replica B; the user's open detail streams on
// replica A end at once — not at the next periodic check — offline when the session is gone,
// and the reconnect is authenticated afresh.
func TestStreamEndsOnPrincipalChange(t *testing.T) {
	t.Parallel()
	u := dbtest.NewURL(t)
	a := newReplica(t, u, true)  // serves the user's streams
	b := newReplica(t, u, false) // serves the manager
	a.event("ev1", "x", model.ChannelKakao)
	mgr := b.login("boss@example.com", model.RoleManager)
	user := a.login("s@example.com", model.RoleStaff)
	id := a.userID("s@example.com")
	connected := func(ev sseEvent) bool { return isSignals(ev) && strings.Contains(ev.data, "connected") }

	// Role change: the stream ends (not offline: the reconnect renders for a marketer).
	s, _ := user.openStream("/events/ev1/stream")
	s.waitFor("connected", connected)
	wantLocation(t, "demote", mgr.post("/users/"+id+"/role", url.Values{"role": {"marketer"}}, false), "/users?done=role_changed")
	if waitEnd(t, "after role change", s) {
		t.Error("a role change is not a logout")
	}
	s, res := user.openStream("/events/ev1/stream")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("reconnect as marketer: %d", res.StatusCode)
	}
	s.waitFor("connected again", connected)

	// Another session of the same user logs out: this stream re-checks and keeps running;
	// that session's own stream goes offline.
	other := a.client()
	other.get("/login")
	wantCode(t, "second login", other.post("/login", url.Values{"email": {"s@example.com"}, "password": {uiPassword}}, false), http.StatusSeeOther)
	other.get("/")
	s2, _ := other.openStream("/events/ev1/stream")
	s2.waitFor("second connected", connected)
	wantLocation(t, "logout", other.post("/logout", nil, false), "/login")
	if !waitEnd(t, "after logout", s2) {
		t.Error("logged-out stream was not told to go offline")
	}

	// Disable: the stream goes offline and ends; the reconnect is refused.
	wantLocation(t, "disable", mgr.post("/users/"+id+"/disable", nil, false), "/users?done=user_disabled")
	if !waitEnd(t, "after disable", s) {
		t.Error("disabled user's stream was not told to go offline")
	}
	if _, res := user.openStream("/events/ev1/stream"); res.StatusCode == http.StatusOK {
		t.Error("a disabled user's stream reconnected")
	}
}
