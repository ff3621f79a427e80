package db_test

import (
	"context"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// TestPublishCheckpointsAndEventAccounts: the container checkpoint upserts per (channel row, key);
// an event finds its store's account, or none.
func TestPublishCheckpointsAndEventAccounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.New(t)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := store.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO events (id, title) VALUES ('e1', 't'), ('e2', 't')`)
	exec(`INSERT INTO distribution_status (event_id, overall_status, started_at) VALUES ('e1', 'IN_PROGRESS', now())`)
	var csID int64
	if err := store.Pool.QueryRow(ctx, `INSERT INTO channel_status (distribution_status_id, channel, status, event_id)
		SELECT id, 'INSTAGRAM', 'IN_PROGRESS', 'e1' FROM distribution_status WHERE event_id = 'e1' RETURNING id`).Scan(&csID); err != nil {
		t.Fatal(err)
	}
	if v, err := store.LoadCheckpoint(ctx, csID, "k1"); err != nil || v != "" {
		t.Fatalf("empty checkpoint = %q, %v", v, err)
	}
	for _, v := range []string{"17900001", "17900002"} {
		if err := store.SaveCheckpoint(ctx, csID, "k1", v); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.SaveCheckpoint(ctx, csID, "k2", "other"); err != nil {
		t.Fatal(err)
	}
	if v, err := store.LoadCheckpoint(ctx, csID, "k1"); err != nil || v != "17900002" {
		t.Errorf("checkpoint k1 = %q, %v; want the latest value", v, err)
	}
	if err := store.SaveCheckpoint(ctx, csID, "k1", strings.Repeat("x", 201)); err == nil {
		t.Error("an oversized value was stored")
	}

	ring := storesRing(t, storesKey(1), nil)
	if _, err := store.CreateStore(ctx, model.Store{ID: "s1", Name: "S"}, model.AuditEntry{Actor: "a"}); err != nil {
		t.Fatal(err)
	}
	exec(`UPDATE events SET store_id = 's1' WHERE id = 'e1'`)
	if _, _, ok, err := store.EventAccount(ctx, "e1", model.ChannelInstagram, ring); ok || err != nil {
		t.Errorf("store without an account: ok %v err %v", ok, err)
	}
	if _, _, ok, err := store.EventAccount(ctx, "e2", model.ChannelInstagram, ring); ok || err != nil {
		t.Errorf("event without a store: ok %v err %v", ok, err)
	}
	cred, err := model.ParseCredentials(model.ChannelInstagram, []byte(`{"igUserId":"178","accessToken":"tok"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.SetChannelAccount(ctx, "s1", cred, ring, model.AuditEntry{Actor: "a"}); err != nil {
		t.Fatal(err)
	}
	secret, acct, ok, err := store.EventAccount(ctx, "e1", model.ChannelInstagram, ring)
	if !ok || err != nil || acct.AccountRef != "178" || !strings.Contains(string(secret), `"accessToken":"tok"`) {
		t.Errorf("EventAccount = %q %+v %v %v", secret, acct, ok, err)
	}
	if err := store.MarkAccountNeedsReconnect(ctx, "s1", model.ChannelInstagram, strings.Repeat("é", 600)); err != nil {
		t.Fatal(err)
	}
	st, ok, err := store.EventAccountStatus(ctx, "e1", model.ChannelInstagram)
	if st != model.AccountNeedsReconnect || !ok || err != nil {
		t.Errorf("status %q %v %v", st, ok, err)
	}
	if _, ok, _ := store.EventAccountStatus(ctx, "e2", model.ChannelInstagram); ok {
		t.Error("an event without a store has an account status")
	}
}
