package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/app"
	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/secrets"
)

// TestEmbeddedSimulatorSpeaksRealProtocols: with no CHANNELS_CONFIG, an event of a store with
// accounts publishes INSTAGRAM through the Graph API emulation, NAVER through the Cafe API and
// KAKAO through SENS brand messages, as the store's accounts (tokens the simulator never saw before: it
// learns them from the database); the partner channels keep partner-v1. An event without a store
// still publishes every channel through partner-v1 (the simulator-only fallback), and an account
// that needs reconnecting is refused, never replaced by the fallback.
func TestEmbeddedSimulatorSpeaksRealProtocols(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, config.RoleAll)
	a := startApp(t, cfg)
	sim := a.Simulator
	if sim == nil {
		t.Fatal("no embedded simulator without CHANNELS_CONFIG")
	}
	ctx := context.Background()
	storeWithAccounts(t, a, cfg, model.Store{ID: "s1", Name: "빵집"}, map[model.Channel]string{
		model.ChannelInstagram: `{"igUserId":"17841999","accessToken":"IGAA-embedded"}`,
		model.ChannelNaver:     `{"clubId":"3100","menuId":"7","accessToken":"AAAA-embedded","refreshToken":"refresh-embedded"}`,
		model.ChannelKakao:     `{"senderKey":"sk-embedded","plusFriendId":"@embedded-bakery","recipients":["010-1234-5678","01087654321"]}`,
	})

	store, err := a.Store.CreateEvent(ctx, model.Event{Title: "봄 세일", Description: "빵 20%", StoreID: "s1", ImageURL: "https://img.example.com/a.jpg"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Engine.StartDistribution(ctx, store.ID, []model.Channel{model.ChannelInstagram, model.ChannelNaver, model.ChannelKakao, model.ChannelUridongneTV}, "test"); err != nil {
		t.Fatal(err)
	}
	waitCompleted(t, a, store.ID)
	d, err := a.Store.FindDistribution(ctx, store.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[model.Channel]model.ChannelState{}
	for _, c := range d.Channels {
		got[c.Channel] = c
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	if ig := got[model.ChannelInstagram]; sim.InstagramPosts("17841999") != 1 || !strings.HasPrefix(str(ig.PostURL), "https://www.instagram.com/") || str(ig.PostID) == "" {
		t.Errorf("INSTAGRAM: %d Graph posts, permalink %q, media id %q; want 1 post with its permalink", sim.InstagramPosts("17841999"), str(ig.PostURL), str(ig.PostID))
	}
	if nv := got[model.ChannelNaver]; sim.NaverArticles("3100") != 1 || !strings.HasPrefix(str(nv.PostURL), "https://cafe.naver.com/") {
		t.Errorf("NAVER: %d cafe articles, url %q; want 1 article with its cafe URL", sim.NaverArticles("3100"), str(nv.PostURL))
	}
	if kk := got[model.ChannelKakao]; sim.KakaoSends("@embedded-bakery") != 1 || !strings.HasPrefix(str(kk.MessageID), "RSENS") {
		t.Errorf("KAKAO: %d SENS sends, message id %q; want 1 send with its SENS id", sim.KakaoSends("@embedded-bakery"), str(kk.MessageID))
	}
	for _, ch := range []model.Channel{model.ChannelNaver, model.ChannelKakao} {
		if n := sim.Stats(ch).Submits; n != 0 {
			t.Errorf("%s: %d partner-v1 submits for a store with an account, want 0", ch, n)
		}
	}
	igSubmits := sim.Stats(model.ChannelInstagram).Submits // the Graph emulation counts its calls too
	if n := sim.Stats(model.ChannelUridongneTV).Submits; n != 1 {
		t.Errorf("URIDONGNETV: %d partner-v1 submits, want 1", n)
	}

	// No store: partner-v1 for every channel, the real protocols untouched.
	plain, err := a.Store.CreateEvent(ctx, model.Event{Title: "no store", StoreName: "가게"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Engine.StartDistribution(ctx, plain.ID, []model.Channel{model.ChannelInstagram, model.ChannelNaver, model.ChannelKakao}, "test"); err != nil {
		t.Fatal(err)
	}
	waitCompleted(t, a, plain.ID)
	for ch, before := range map[model.Channel]int{model.ChannelInstagram: igSubmits, model.ChannelNaver: 0, model.ChannelKakao: 0} {
		if n := sim.Stats(ch).Submits; n != before+1 {
			t.Errorf("%s: %d partner-v1 submits for an event without a store, want 1", ch, n-before)
		}
	}
	if sim.InstagramPosts("17841999") != 1 || sim.NaverArticles("3100") != 1 || sim.KakaoSends("@embedded-bakery") != 1 {
		t.Error("an event without a store reached a real-protocol emulation")
	}

	// An account that needs reconnecting is refused up front: no fallback to partner-v1.
	if err := a.Store.MarkAccountNeedsReconnect(ctx, "s1", model.ChannelInstagram, "token expired"); err != nil {
		t.Fatal(err)
	}
	again, err := a.Store.CreateEvent(ctx, model.Event{Title: "again", StoreID: "s1", ImageURL: "https://img.example.com/b.jpg"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Engine.StartDistribution(ctx, again.ID, []model.Channel{model.ChannelInstagram}, "test")
	var unavailable *model.UnavailableError
	if !errors.As(err, &unavailable) || len(unavailable.Checks) != 1 || unavailable.Checks[0].Reason != model.PreflightNeedsReconnect {
		t.Fatalf("start with an account to reconnect = %v, want channel_unavailable needs_reconnect", err)
	}
	if n := sim.Stats(model.ChannelInstagram).Submits; n != igSubmits+1 {
		t.Errorf("INSTAGRAM submits %d after the refusal, want still %d", n, igSubmits+1)
	}

	// A store without an account row for the channel: the partner-v1 fallback.
	if _, err := a.Store.CreateStore(ctx, model.Store{ID: "s2", Name: "꽃집"}, model.AuditEntry{Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	bare, err := a.Store.CreateEvent(ctx, model.Event{Title: "bare store", StoreID: "s2"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Engine.StartDistribution(ctx, bare.ID, []model.Channel{model.ChannelNaver}, "test"); err != nil {
		t.Fatal(err)
	}
	waitCompleted(t, a, bare.ID)
	if n := sim.Stats(model.ChannelNaver).Submits; n != 2 || sim.NaverArticles("3100") != 1 {
		t.Errorf("NAVER for a store without an account: %d partner-v1 submits (want 2 in all), %d articles (want 1)", n, sim.NaverArticles("3100"))
	}

	// A disconnected account is refused, not replaced by the fallback.
	if _, err := a.Store.Pool.Exec(ctx, `UPDATE channel_accounts SET status = 'disconnected' WHERE store_id = 's1' AND channel = 'KAKAO'`); err != nil {
		t.Fatal(err)
	}
	off, err := a.Store.CreateEvent(ctx, model.Event{Title: "disconnected", StoreID: "s1"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Engine.StartDistribution(ctx, off.ID, []model.Channel{model.ChannelKakao}, "test")
	if !errors.As(err, &unavailable) || len(unavailable.Checks) != 1 || unavailable.Checks[0].Reason != model.PreflightNoAccount {
		t.Fatalf("start with a disconnected account = %v, want channel_unavailable no_account", err)
	}
}

// storeWithAccounts creates store st in a's database with an account per channel of accounts
// (the credential JSON of bin/distribution account set), sealed with cfg's key, and returns the
// key ring that opens them.
func storeWithAccounts(t *testing.T, a *app.App, cfg config.Config, st model.Store, accounts map[model.Channel]string) *secrets.Keyring {
	t.Helper()
	keys, _, err := cfg.SecretsKeysOrDev()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := secrets.New(keys.Current, keys.Previous)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := a.Store.CreateStore(ctx, st, model.AuditEntry{Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	for ch, raw := range accounts {
		cred, err := model.ParseCredentials(ch, []byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Store.SetChannelAccount(ctx, st.ID, cred, ring, model.AuditEntry{Actor: "admin"}); err != nil {
			t.Fatal(err)
		}
	}
	return ring
}
