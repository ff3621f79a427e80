package db_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// MarkExpiringAccounts shows accounts within 7 days of their expiry as expiring, and back as
// connected once the expiry moved away; needs_reconnect is left alone.
func TestMarkExpiringAccounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	ring := storesRing(t, storesKey(3), nil)
	for _, s := range []string{"near", "far", "dead"} {
		mustStore(t, d, s)
		exp := "2099-01-01T00:00:00Z"
		if s != "far" {
			exp = time.Now().Add(3 * 24 * time.Hour).UTC().Format(time.RFC3339)
		}
		if _, err := d.SetChannelAccount(ctx, s, storesCred(t, model.ChannelInstagram, `{"igUserId":"1","accessToken":"t","expiresAt":"`+exp+`"}`), ring, model.AuditEntry{Actor: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	// SetChannelAccount already shows near expiries as expiring; start from connected.
	if _, err := d.Pool.Exec(ctx, `UPDATE channel_accounts SET status = 'connected'`); err != nil {
		t.Fatal(err)
	}
	if err := d.MarkAccountNeedsReconnect(ctx, "dead", model.ChannelInstagram, "190"); err != nil {
		t.Fatal(err)
	}
	if n, err := d.MarkExpiringAccounts(ctx); err != nil || n != 1 {
		t.Fatalf("marked %d %v, want 1", n, err)
	}
	status := func(s string) model.AccountStatus {
		accts, err := d.FindChannelAccounts(ctx, s)
		if err != nil || len(accts) != 1 {
			t.Fatalf("%v %v", accts, err)
		}
		return accts[0].Status
	}
	if status("near") != model.AccountExpiring || status("far") != model.AccountConnected || status("dead") != model.AccountNeedsReconnect {
		t.Errorf("near %s far %s dead %s", status("near"), status("far"), status("dead"))
	}
	if _, err := d.Pool.Exec(ctx, `UPDATE channel_accounts SET expires_at = now() + interval '30 days' WHERE store_id = 'near'`); err != nil {
		t.Fatal(err)
	}
	if n, err := d.MarkExpiringAccounts(ctx); err != nil || n != 1 || status("near") != model.AccountConnected {
		t.Errorf("marked %d %v, near %s: want connected again", n, err, status("near"))
	}
}

// UpkeepAccount skips an account another pass holds (no wait) and one looked at within the
// interval; its outcome is written with the lock held.
func TestUpkeepAccountClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	ring := storesRing(t, storesKey(5), nil)
	mustStore(t, d, "s")
	if _, err := d.SetChannelAccount(ctx, "s", storesCred(t, model.ChannelInstagram, `{"igUserId":"1","accessToken":"old"}`), ring, model.AuditEntry{Actor: "x"}); err != nil {
		t.Fatal(err)
	}
	key := db.AccountKey{StoreID: "s", Channel: model.ChannelInstagram}
	keys, err := d.UpkeepCandidates(ctx, []model.Channel{model.ChannelInstagram, model.ChannelNaver}, time.Minute, 10)
	if err != nil || len(keys) != 1 || keys[0] != key {
		t.Fatalf("candidates %v %v", keys, err)
	}
	// Another pass holds the row: this one passes over it at once.
	holder, err := d.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, `SELECT 1 FROM channel_accounts WHERE store_id = 's' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	decide := func(_ context.Context, a db.UpkeepAccount) db.UpkeepOutcome {
		calls.Add(1)
		if string(a.Secret) != `{"accessToken":"old","igUserId":"1"}` && string(a.Secret) != `{"igUserId":"1","accessToken":"old"}` {
			t.Errorf("secret %s", a.Secret)
		}
		exp := a.Now.Add(60 * 24 * time.Hour)
		return db.UpkeepOutcome{Kind: db.UpkeepRefreshed, Credentials: []byte(`{"igUserId":"1","accessToken":"new"}`), ExpiresAt: &exp}
	}
	start := time.Now()
	if _, claimed, err := d.UpkeepAccount(ctx, key, time.Minute, ring, decide, nil); err != nil || claimed || calls.Load() != 0 || time.Since(start) > 5*time.Second {
		t.Errorf("claimed %v %v calls %d: want the held account skipped without waiting", claimed, err, calls.Load())
	}
	holder.Rollback(ctx) //nolint:errcheck
	out, claimed, err := d.UpkeepAccount(ctx, key, time.Minute, ring, decide, func(context.Context, pgx.Tx, model.ChannelAccount, string) error {
		t.Error("the reconnect hook ran for a renewal")
		return nil
	})
	if err != nil || !claimed || out.Kind != db.UpkeepRefreshed || calls.Load() != 1 {
		t.Fatalf("%+v %v %v", out, claimed, err)
	}
	secret, a, err := d.AccountCredentials(ctx, "s", model.ChannelInstagram, ring)
	if err != nil || string(secret) != `{"igUserId":"1","accessToken":"new"}` || a.Status != model.AccountConnected || a.ExpiresAt == nil {
		t.Errorf("after the renewal %s %+v %v", secret, a, err)
	}
	// Looked at within the interval: not claimed again.
	if _, claimed, err := d.UpkeepAccount(ctx, key, time.Minute, ring, decide, nil); err != nil || claimed {
		t.Errorf("claimed %v %v within the interval", claimed, err)
	}
	// A dead token: needs_reconnect and the hook in the same transaction.
	if _, err := d.Pool.Exec(ctx, `UPDATE channel_accounts SET upkeep_checked_at = NULL`); err != nil {
		t.Fatal(err)
	}
	hooked := false
	_, claimed, err = d.UpkeepAccount(ctx, key, time.Minute, ring,
		func(context.Context, db.UpkeepAccount) db.UpkeepOutcome {
			return db.UpkeepOutcome{Kind: db.UpkeepNeedsReconnect, Error: "Graph error code 190\r\n\x00 \xff"}
		},
		func(ctx context.Context, tx pgx.Tx, a model.ChannelAccount, msg string) error {
			hooked = a.StoreID == "s" && a.Status == model.AccountNeedsReconnect
			return nil
		})
	if err != nil || !claimed || !hooked {
		t.Fatalf("%v %v hooked %v", claimed, err, hooked)
	}
	if _, a, _ := d.AccountCredentials(ctx, "s", model.ChannelInstagram, ring); a.Status != model.AccountNeedsReconnect || a.LastError == "" {
		t.Errorf("account %+v", a)
	}
	if keys, err := d.UpkeepCandidates(ctx, []model.Channel{model.ChannelInstagram}, 0, 10); err != nil || len(keys) != 0 {
		t.Errorf("a needs_reconnect account is a candidate: %v %v", keys, err)
	}
}
