package engine_test

// Token upkeep (issue 14 point 7) against the simulator over HTTP and a real Postgres: which
// accounts are renewed, what is stored, the needs_reconnect alert with its deep link, temporary
// failures, and concurrent passes.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/alerts"
	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/engine"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/secrets"
	"github.com/marketing-platform/distribution/internal/testkit"
)

type upHarness struct {
	*accountHarness
	reg *channels.Registry
}

// upkeepIG builds an Instagram account harness (alerts to n when given) without any account.
func upkeepIG(t *testing.T, fail string, n *alerts.Notifier) *upHarness {
	t.Helper()
	sim, base := startSimulator(t, fail)
	reg := channels.NewRegistry(map[model.Channel]channels.Endpoint{model.ChannelInstagram: {URL: base, Protocol: channels.ProtocolInstagramGraph, Version: "v23.0"}},
		channels.Options{PollInterval: 2 * time.Millisecond, AllowInsecureLoopback: true})
	t.Cleanup(reg.Close)
	key := make([]byte, 32)
	rand.Read(key)
	ring, err := secrets.New(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessOpts(t, engine.Config{Workers: 2, Alerts: n}, nil, engine.Options{Adapters: reg.Adapter, Sealer: ring})
	return &upHarness{accountHarness: &accountHarness{harness: h, sim: sim, ring: ring}, reg: reg}
}

// connectIG connects store's INSTAGRAM account with token, registered with the simulator as
// issued age ago and expiring in expiresIn; the account's connected_at is set age ago too.
func (h *accountHarness) connectIG(store, user, token string, age, expiresIn time.Duration) {
	h.t.Helper()
	ctx := context.Background()
	now := time.Now()
	h.sim.RegisterInstagramToken(user, token, now.Add(-age), now.Add(expiresIn))
	if _, err := h.store.CreateStore(ctx, model.Store{ID: store, Name: "가게 " + store}, model.AuditEntry{Actor: "admin@x"}); err != nil {
		h.t.Fatal(err)
	}
	cred, err := model.ParseCredentials(model.ChannelInstagram, []byte(`{"igUserId":"`+user+`","accessToken":"`+token+
		`","expiresAt":"`+now.Add(expiresIn).UTC().Format(time.RFC3339)+`"}`))
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.store.SetChannelAccount(ctx, store, cred, h.ring, model.AuditEntry{Actor: "admin@x"}); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.store.Pool.Exec(ctx, `UPDATE channel_accounts SET connected_at = now() - $2::interval WHERE store_id = $1`, store, age); err != nil {
		h.t.Fatal(err)
	}
}

func (h *accountHarness) storeAccount(store string, ch model.Channel) (model.ChannelAccount, map[string]string) {
	h.t.Helper()
	secret, a, err := h.store.AccountCredentials(context.Background(), store, ch, h.ring)
	if err != nil {
		h.t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(secret, &m); err != nil {
		h.t.Fatal(err)
	}
	return a, m
}

func TestTokenUpkeepInstagram(t *testing.T) {
	t.Parallel()
	h := upkeepIG(t, "", nil)
	day := 24 * time.Hour
	h.connectIG("old", "1001", "IGSIM-old", 55*day, 5*day)        // due: old and near its expiry
	h.connectIG("fresh", "1002", "IGSIM-fresh", time.Hour, 3*day) // near its expiry but too young
	h.connectIG("far", "1003", "IGSIM-far", 30*day, 30*day)       // old, expiry far away
	st, err := h.eng.TokenUpkeep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Refreshed != 1 || st.NeedsReconnect != 0 || st.Failed != 0 || h.sim.InstagramRefreshes() != 1 {
		t.Fatalf("stats %+v, simulator refreshes %d: want exactly the old token renewed", st, h.sim.InstagramRefreshes())
	}
	a, m := h.storeAccount("old", model.ChannelInstagram)
	if m["accessToken"] == "IGSIM-old" || !strings.HasPrefix(m["accessToken"], "IGSIM1") || m["igUserId"] != "1001" {
		t.Errorf("stored credentials %v: want the renewed token", m)
	}
	if a.Status != model.AccountConnected || a.ExpiresAt == nil || time.Until(*a.ExpiresAt) < 59*day || a.LastError != "" {
		t.Errorf("account %+v: want connected for 60 days", a)
	}
	if exp, err := time.Parse(time.RFC3339, m["expiresAt"]); err != nil || !exp.Equal(*a.ExpiresAt) {
		t.Errorf("credentials expiresAt %q vs account %v", m["expiresAt"], a.ExpiresAt)
	}
	if n := h.count(`SELECT count(*) FROM channel_accounts WHERE position($1::bytea in credentials) > 0`, []byte(m["accessToken"])); n != 0 {
		t.Error("the renewed token is stored in clear")
	}
	if n := h.count(`SELECT count(*) FROM audit_log WHERE actor = 'system' AND action = $1 AND channel = 'INSTAGRAM'
		AND detail LIKE 'store old,%' AND position($2 in detail) = 0`, model.AuditAccountRefresh, m["accessToken"]); n != 1 {
		t.Errorf("%d system audit entries of the renewal without the token, want 1", n)
	}
	if got := h.counter("distribution_account_upkeep_total", map[string]string{"channel": "INSTAGRAM", "outcome": "refreshed"}); got != 1 {
		t.Errorf("refreshed counter %v, want 1", got)
	}
	fa, fm := h.storeAccount("fresh", model.ChannelInstagram)
	if fm["accessToken"] != "IGSIM-fresh" || fa.Status != model.AccountExpiring {
		t.Errorf("fresh account %+v %v: want untouched and shown expiring", fa, fm["accessToken"])
	}
	if far, fm := h.storeAccount("far", model.ChannelInstagram); fm["accessToken"] != "IGSIM-far" || far.Status != model.AccountConnected {
		t.Errorf("far account %+v: want untouched and connected", far)
	}
	// The renewed token publishes (the simulator knows it) and the next pass does nothing.
	if st, err := h.eng.TokenUpkeep(context.Background()); err != nil || st.Refreshed != 0 || h.sim.InstagramRefreshes() != 1 {
		t.Errorf("second pass %+v %v: want nothing renewed", st, err)
	}
	h.startEvent(model.ChannelInstagram, "up1", "세일", "설명", "https://img.example.com/a.jpg", "old")
	h.waitOverall("up1", "COMPLETED")
}

// A refresh Instagram refuses with 190 marks the account needs_reconnect and alerts the webhook
// with a link to the store's page; the alert carries no token.
func TestTokenUpkeepNeedsReconnectAlerts(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		msgs []alerts.AccountMessage
		raw  []string
	)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m alerts.AccountMessage
		if json.Unmarshal(b, &m) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		msgs, raw = append(msgs, m), append(raw, string(b))
		mu.Unlock()
	}))
	t.Cleanup(ts.Close)
	n, err := alerts.New(alerts.Config{WebhookURL: ts.URL, PublicURL: "https://dist.example.com/app", RetryBase: 10 * time.Millisecond,
		AllowInsecureLoopback: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	h := upkeepIG(t, "INSTAGRAM=refresh-190", n)
	h.connectIG("s-dead", "2001", "IGSIM-dead", 40*24*time.Hour, 2*24*time.Hour)
	st, err := h.eng.TokenUpkeep(context.Background())
	if err != nil || st.NeedsReconnect != 1 {
		t.Fatalf("stats %+v %v: want one needs_reconnect", st, err)
	}
	a, m := h.storeAccount("s-dead", model.ChannelInstagram)
	if a.Status != model.AccountNeedsReconnect || !strings.Contains(a.LastError, "Graph error code 190") || m["accessToken"] != "IGSIM-dead" {
		t.Errorf("account %+v: want needs_reconnect with the platform's code, credentials kept", a)
	}
	testkit.Eventually(t, 20*time.Second, "account alert delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(msgs) == 1
	})
	mu.Lock()
	defer mu.Unlock()
	got := msgs[0]
	if got.Event != alerts.EventAccountNeedsReconnect || !strings.Contains(got.Text, "https://dist.example.com/app/stores/s-dead") ||
		len(got.Blocks) != 2 || got.Blocks[1].Elements[0].URL != "https://dist.example.com/app/stores/s-dead" || !strings.Contains(got.Text, "s-dead") {
		t.Errorf("alert %+v: want event account.needs_reconnect and the store's deep link", got)
	}
	if strings.Contains(raw[0], "IGSIM-dead") {
		t.Error("the alert carries the token")
	}
	// The account is no longer a candidate: a second pass neither refreshes nor alerts again.
	if _, err := h.store.Pool.Exec(context.Background(), `UPDATE channel_accounts SET upkeep_checked_at = NULL`); err != nil {
		t.Fatal(err)
	}
	if st, err := h.eng.TokenUpkeep(context.Background()); err != nil || st != (engine.UpkeepStats{}) {
		t.Errorf("second pass %+v %v: want nothing", st, err)
	}
	if n := h.count(`SELECT count(*) FROM river_job WHERE kind = $1`, alerts.AccountKind); n != 1 {
		t.Errorf("%d account alert jobs, want 1", n)
	}
}

// A temporary failure (HTTP 500, is_transient) changes nothing; the account is looked at again
// next interval (not by another pass of the same interval), and then renewed.
func TestTokenUpkeepTemporaryFailure(t *testing.T) {
	t.Parallel()
	h := upkeepIG(t, "INSTAGRAM=refresh-500", nil)
	h.connectIG("s-tmp", "3001", "IGSIM-tmp", 40*24*time.Hour, 10*24*time.Hour)
	// Expiry 10 days away is not due: push it within the window without touching the status.
	if _, err := h.store.Pool.Exec(context.Background(), `UPDATE channel_accounts SET expires_at = now() + interval '6 days'`); err != nil {
		t.Fatal(err)
	}
	st, err := h.eng.TokenUpkeep(context.Background())
	if err != nil || st.Failed != 1 {
		t.Fatalf("stats %+v %v: want one temporary failure", st, err)
	}
	a, m := h.storeAccount("s-tmp", model.ChannelInstagram)
	if a.Status == model.AccountNeedsReconnect || a.LastError != "" || m["accessToken"] != "IGSIM-tmp" {
		t.Errorf("account %+v: want the status and credentials untouched", a)
	}
	if st, err := h.eng.TokenUpkeep(context.Background()); err != nil || st != (engine.UpkeepStats{}) {
		t.Errorf("same interval %+v %v: want the account left for the next interval", st, err)
	}
	h.sim.SetFail(nil)
	if _, err := h.store.Pool.Exec(context.Background(), `UPDATE channel_accounts SET upkeep_checked_at = now() - interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	if st, err := h.eng.TokenUpkeep(context.Background()); err != nil || st.Refreshed != 1 {
		t.Errorf("next interval %+v %v: want the token renewed", st, err)
	}
}

// A renewal whose answer is lost (the platform renewed, the connection dropped) stores nothing:
// the old token stays, still publishes, and the next interval renews again.
func TestTokenUpkeepLostAnswer(t *testing.T) {
	t.Parallel()
	h := upkeepIG(t, "INSTAGRAM=refresh-lost", nil)
	h.connectIG("s-lost", "6001", "IGSIM-lost", 40*24*time.Hour, 4*24*time.Hour)
	st, err := h.eng.TokenUpkeep(context.Background())
	if err != nil || st.Failed != 1 || h.sim.InstagramRefreshes() != 1 {
		t.Fatalf("stats %+v %v, simulator renewals %d: want one renewal whose answer was lost", st, err, h.sim.InstagramRefreshes())
	}
	a, m := h.storeAccount("s-lost", model.ChannelInstagram)
	if m["accessToken"] != "IGSIM-lost" || a.Status != model.AccountExpiring || a.LastError != "" {
		t.Errorf("account %+v token %q: want the old token kept and the status unchanged", a, m["accessToken"])
	}
	h.startEvent(model.ChannelInstagram, "lost1", "세일", "설명", "https://img.example.com/a.jpg", "s-lost")
	h.waitOverall("lost1", "COMPLETED")
	h.sim.SetFail(nil)
	if _, err := h.store.Pool.Exec(context.Background(), `UPDATE channel_accounts SET upkeep_checked_at = now() - interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	if st, err := h.eng.TokenUpkeep(context.Background()); err != nil || st.Refreshed != 1 {
		t.Errorf("next interval %+v %v: want the token renewed", st, err)
	}
	if _, m := h.storeAccount("s-lost", model.ChannelInstagram); m["accessToken"] == "IGSIM-lost" {
		t.Error("the token was not renewed")
	}
}

// Passes of several replicas at once renew each account once.
func TestTokenUpkeepConcurrentPasses(t *testing.T) {
	t.Parallel()
	h := upkeepIG(t, "", nil)
	for _, s := range []string{"c1", "c2", "c3"} {
		h.connectIG(s, "40"+s, "IGSIM-"+s, 50*24*time.Hour, 24*time.Hour)
	}
	other, err := engine.New(engine.Config{}, h.store, engine.Options{Adapters: h.reg.Adapter, Sealer: h.ring, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	engines := []*engine.Engine{h.eng, other, h.eng, other}
	var wg sync.WaitGroup
	total := make([]engine.UpkeepStats, len(engines))
	for i, e := range engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := e.TokenUpkeep(context.Background())
			if err != nil {
				t.Error(err)
			}
			total[i] = st
		}()
	}
	wg.Wait()
	sum := 0
	for _, st := range total {
		sum += st.Refreshed
	}
	if sum != 3 || h.sim.InstagramRefreshes() != 3 {
		t.Errorf("%d renewals reported, simulator renewed %d: want each of the 3 accounts once", sum, h.sim.InstagramRefreshes())
	}
	if n := h.count(`SELECT count(*) FROM audit_log WHERE action = $1`, model.AuditAccountRefresh); n != 3 {
		t.Errorf("%d renewal audit entries, want 3", n)
	}
}

func TestTokenUpkeepNaver(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, fail string
		expiresIn  time.Duration
		want       model.AccountStatus
		refreshed  bool
	}{
		{"near expiry renewed", "", 5 * time.Minute, model.AccountConnected, true},
		{"all but expired renewed", "", 30 * time.Second, model.AccountConnected, true},
		// `account set` takes the access token's expiresAt as the account's: near, so expiring
		// until the first renewal leaves the account's expiry to the refresh token (unknown).
		{"not due", "", 50 * time.Minute, model.AccountExpiring, false},
		{"refresh refused", "NAVER=refresh-fail", 5 * time.Minute, model.AccountNeedsReconnect, false},
		{"token endpoint down", "NAVER=refresh-500", 5 * time.Minute, model.AccountExpiring, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newNaverHarness(t, tc.fail)
			exp := time.Now().Add(tc.expiresIn).UTC().Format(time.RFC3339)
			h.connectStore(model.ChannelNaver, `{"clubId":"`+nvClub+`","menuId":"`+nvMenu+`","accessToken":"`+nvAccess+`","refreshToken":"`+nvRefresh+`","expiresAt":"`+exp+`"}`)
			if _, err := h.eng.TokenUpkeep(context.Background()); err != nil {
				t.Fatal(err)
			}
			a, m := h.account()
			renewed := m["accessToken"] != nvAccess
			if a.Status != tc.want || renewed != tc.refreshed || h.sim.NaverRefreshes() != map[bool]int{true: 1, false: 0}[tc.refreshed] {
				t.Errorf("account %+v renewed %v (refreshes %d): want %s, renewed %v", a, renewed, h.sim.NaverRefreshes(), tc.want, tc.refreshed)
			}
			if renewed && (m["refreshToken"] != nvRefresh || m["expiresAt"] == exp || a.ExpiresAt != nil) {
				t.Errorf("credentials %v, account expiry %v: want the refresh token kept, a new expiresAt, the account's expiry unknown", m, a.ExpiresAt)
			}
			if tc.want == model.AccountNeedsReconnect && !strings.Contains(a.LastError, "invalid_grant") {
				t.Errorf("last error %q: want Naver's invalid_grant", a.LastError)
			}
		})
	}
}
