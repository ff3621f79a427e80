package db_test

import (
	"context"
	"testing"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/secrets"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// A bulk retry of a channel whose store account is optional (the embedded simulator's routes):
// an event without a store, or whose store has no account on the channel, is retried; one whose
// store has an account that cannot publish (needs reconnecting) is left FAILED. The count, the
// preview and the retry agree.
func TestRetryMatchingOptionalAccounts(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	ring, err := secrets.New(make([]byte, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"bare", "dead"} {
		if _, err := d.CreateStore(ctx, model.Store{ID: s, Name: s}, model.AuditEntry{Actor: "admin"}); err != nil {
			t.Fatal(err)
		}
	}
	cred, err := model.ParseCredentials(model.ChannelKakao, []byte(`{"senderKey":"sk"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.SetChannelAccount(ctx, "dead", cred, ring, model.AuditEntry{Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	if err := d.MarkAccountNeedsReconnect(ctx, "dead", model.ChannelKakao, "refused"); err != nil {
		t.Fatal(err)
	}
	for id, store := range map[string]string{"nostore": "", "bare": "bare", "dead": "dead"} {
		dist := engStart(t, d, id, model.ChannelKakao)
		if store != "" {
			if _, err := d.AttachEventToStore(ctx, id, store); err != nil {
				t.Fatal(err)
			}
		}
		engFail(t, d, dist.Channels[0])
	}
	f := db.RetryFilter{OptionalAccountChannels: []model.Channel{model.ChannelKakao}}
	if n, err := d.CountRetryMatching(ctx, f); err != nil || n != 2 {
		t.Fatalf("count = %d, %v; want 2 (no store, no account)", n, err)
	}
	cands, err := d.FindRetryCandidates(ctx, f, 10)
	if err != nil || len(cands) != 2 {
		t.Fatalf("preview = %v, %v; want 2 rows", cands, err)
	}
	rows, _, _, err := d.RetryMatchingBatch(ctx, f, 0, 10, "s@x", engNoEnqueue)
	if err != nil || len(rows) != 2 {
		t.Fatalf("retried %v, %v; want 2", rows, err)
	}
	for _, r := range rows {
		if r.EventID == "dead" {
			t.Error("the event whose account needs reconnecting was retried")
		}
	}
	// As a required account, only a usable one passes: none here.
	if n, err := d.CountRetryMatching(ctx, db.RetryFilter{AccountChannels: []model.Channel{model.ChannelKakao}}); err != nil || n != 0 {
		t.Errorf("required-account count = %d, %v; want 0", n, err)
	}
}
