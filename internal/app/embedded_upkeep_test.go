package app_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
)

// TestEmbeddedSimulatorTokenUpkeepAndViews: with no CHANNELS_CONFIG (make run), the token upkeep
// and the views measurement reach the embedded simulator too, as the store's accounts, whose
// tokens the simulator only learns from the database (a restarted simulator never saw them): an
// Instagram token two days old and expiring in three days and a Naver token expiring in five
// minutes are renewed, and an Instagram post published as the store gets measured views.
func TestEmbeddedSimulatorTokenUpkeepAndViews(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, config.RoleAll)
	a := startApp(t, cfg)
	ctx := context.Background()
	igExpiry := time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)
	nvExpiry := time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339)
	ring := storeWithAccounts(t, a, cfg, model.Store{ID: "up1", Name: "꽃집"}, map[model.Channel]string{
		model.ChannelInstagram: `{"igUserId":"17841777","accessToken":"IGAA-upkeep-old","expiresAt":"` + igExpiry + `"}`,
		model.ChannelNaver:     `{"clubId":"3101","menuId":"8","accessToken":"AAAA-upkeep-old","refreshToken":"refresh-upkeep","expiresAt":"` + nvExpiry + `"}`,
	})
	// Connected two days ago: Instagram refreshes only tokens at least 24 h old.
	if _, err := a.Store.Pool.Exec(ctx, "UPDATE channel_accounts SET connected_at = now() - interval '2 days' WHERE store_id = 'up1'"); err != nil {
		t.Fatal(err)
	}

	stats, err := a.Engine.TokenUpkeep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Refreshed != 2 || stats.NeedsReconnect != 0 || stats.Failed != 0 {
		t.Fatalf("upkeep through the embedded simulator = %+v, want both accounts refreshed", stats)
	}
	for ch, old := range map[model.Channel]string{model.ChannelInstagram: "IGAA-upkeep-old", model.ChannelNaver: "AAAA-upkeep-old"} {
		creds, acct, err := a.Store.AccountCredentials(ctx, "up1", ch, ring)
		if err != nil {
			t.Fatal(err)
		}
		var c struct{ AccessToken string }
		if err := json.Unmarshal(creds, &c); err != nil {
			t.Fatal(err)
		}
		if c.AccessToken == old || c.AccessToken == "" || acct.Status != model.AccountConnected {
			t.Errorf("%s after upkeep: status %s, token renewed: %v", ch, acct.Status, c.AccessToken != old && c.AccessToken != "")
		}
	}

	// A post published with the renewed token is measured through the insights emulation.
	ev, err := a.Store.CreateEvent(ctx, model.Event{Title: "꽃 세일", StoreID: "up1", ImageURL: "https://img.example.com/f.jpg"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Engine.StartDistribution(ctx, ev.ID, []model.Channel{model.ChannelInstagram}, "test"); err != nil {
		t.Fatal(err)
	}
	waitCompleted(t, a, ev.ID)
	d, err := a.Store.FindDistribution(ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cs := d.Channels[0]; cs.Status != model.StatusSuccess || cs.PostURL == nil || !strings.Contains(*cs.PostURL, "instagram.com/p/") {
		t.Fatalf("INSTAGRAM = %+v, want SUCCESS with a Graph permalink", cs)
	}
	n, err := a.Engine.MeasureViews(ctx)
	if err != nil || n != 1 {
		t.Fatalf("MeasureViews = %d, %v; want the one post measured", n, err)
	}
}
