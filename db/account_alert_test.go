package db_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// TestMarkAccountNeedsReconnectThenOnce: jobs of several events finding the same dead token at
// once mark the account together; the alert hook runs once, for the change, with the platform's
// words made safe (a NUL and a line break in them would otherwise fail the write or the alert).
func TestMarkAccountNeedsReconnectThenOnce(t *testing.T) {
	t.Parallel()
	store := dbtest.New(t)
	ctx := context.Background()
	ring := storesRing(t, storesKey(1), nil)
	if _, err := store.CreateStore(ctx, model.Store{ID: "s1", Name: "S"}, model.AuditEntry{Actor: "a"}); err != nil {
		t.Fatal(err)
	}
	cred, err := model.ParseCredentials(model.ChannelInstagram, []byte(`{"igUserId":"178","accessToken":"tok"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.SetChannelAccount(ctx, "s1", cred, ring, model.AuditEntry{Actor: "a"}); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	var got model.ChannelAccount
	hook := func(ctx context.Context, tx pgx.Tx, a model.ChannelAccount, lastError string) error {
		calls.Add(1)
		got = a
		return nil
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := store.MarkAccountNeedsReconnectThen(ctx, "s1", model.ChannelInstagram, "token dead\x00\r\nreally", hook); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("hook ran %d times for one change, want 1", n)
	}
	if got.StoreID != "s1" || got.Channel != model.ChannelInstagram || got.LastError != "token dead   really" {
		t.Errorf("hook got %+v", got)
	}
	accts, err := store.FindChannelAccounts(ctx, "s1")
	if err != nil || len(accts) != 1 || accts[0].Status != model.AccountNeedsReconnect {
		t.Fatalf("accounts %+v %v", accts, err)
	}
	// Marked again while still needs_reconnect: no second alert. A store without the account:
	// nothing, no error.
	if err := store.MarkAccountNeedsReconnectThen(ctx, "s1", model.ChannelInstagram, "again", hook); err != nil || calls.Load() != 1 {
		t.Errorf("second marking: %v, hook calls %d", err, calls.Load())
	}
	if err := store.MarkAccountNeedsReconnectThen(ctx, "s1", model.ChannelNaver, "none", hook); err != nil || calls.Load() != 1 {
		t.Errorf("marking a missing account: %v, hook calls %d", err, calls.Load())
	}
}
