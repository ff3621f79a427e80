package handlers_test

// INSTAGRAM over instagram-graph through the whole service: an expired token fails the channel
// once, marks the store's account, and the API's retry answers 409 needs_reconnect until the
// account is connected again.

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/secrets"
	"github.com/marketing-platform/distribution/internal/simulator"
	"github.com/marketing-platform/distribution/internal/testkit"
)

func TestAPIRetryNeedsReconnect(t *testing.T) {
	t.Parallel()
	sim := simulator.New(simulator.Config{Fail: map[model.Channel]simulator.FailRule{model.ChannelInstagram: {First: 190, Graph: "190"}}})
	base, stop, err := sim.StartLocal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	sim.RegisterInstagramAccount("1784100", "tok-1")
	reg := channels.NewRegistry(map[model.Channel]channels.Endpoint{
		model.ChannelInstagram: {URL: base, Protocol: channels.ProtocolInstagramGraph, Version: "v23.0"},
	}, channels.Options{PollInterval: 2 * time.Millisecond, AllowInsecureLoopback: true})
	t.Cleanup(reg.Close)
	a := newAPIApp(t, 2, reg.Adapter)

	wantStatus(t, a.as(model.RoleManager, http.MethodPost, "/api/v1/stores", map[string]any{"id": "st1", "name": "빵집"}), http.StatusCreated)
	// The service's keyring (the development key: no CHANNELS_CONFIG in tests).
	keys, _, err := a.app.Config.SecretsKeysOrDev()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := secrets.New(keys.Current, keys.Previous)
	if err != nil {
		t.Fatal(err)
	}
	connect := func() {
		cred, err := model.ParseCredentials(model.ChannelInstagram, []byte(`{"igUserId":"1784100","accessToken":"tok-1"}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.db.SetChannelAccount(context.Background(), "st1", cred, ring, model.AuditEntry{Actor: "admin"}); err != nil {
			t.Fatal(err)
		}
	}
	connect()
	wantStatus(t, a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events", map[string]any{"id": "igev", "title": "봄 세일", "storeId": "st1",
		"imageUrl": "https://img.example.com/a.jpg"}), http.StatusCreated)
	wantStatus(t, a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/igev/distribution", map[string]any{"channels": []model.Channel{model.ChannelInstagram}}), http.StatusAccepted)
	testkit.Eventually(t, 20*time.Second, "INSTAGRAM failed", func() bool {
		return a.count(`SELECT count(*) FROM channel_status WHERE event_id = 'igev' AND status = 'FAILED'`) == 1
	})
	if n := a.count(`SELECT count(*) FROM channel_accounts WHERE store_id = 'st1' AND status = 'needs_reconnect'`); n != 1 {
		t.Fatalf("account not marked needs_reconnect")
	}
	wantError(t, a.as(model.RoleStaff, http.MethodPost, "/api/v1/events/igev/distribution/channels/INSTAGRAM/retry", nil),
		http.StatusConflict, model.ENEEDSRECONNECT, "must be reconnected")
	if n := a.count(`SELECT count(*) FROM channel_attempts WHERE event_id = 'igev'`); n != 1 {
		t.Errorf("%d attempts, want 1 (no automatic retry, the refused retry ran nothing)", n)
	}

	// Reconnected: the retry is accepted and publishes once.
	sim.SetFail(nil)
	connect()
	wantStatus(t, a.as(model.RoleStaff, http.MethodPost, "/api/v1/events/igev/distribution/channels/INSTAGRAM/retry", nil), http.StatusAccepted)
	testkit.Eventually(t, 20*time.Second, "INSTAGRAM published", func() bool {
		return a.count(`SELECT count(*) FROM channel_status WHERE event_id = 'igev' AND status = 'SUCCESS' AND post_url LIKE 'https://www.instagram.com/p/%'`) == 1
	})
	if sim.InstagramPosts("1784100") != 1 {
		t.Errorf("posts %d", sim.InstagramPosts("1784100"))
	}
}
