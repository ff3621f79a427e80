package cli

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/app"
	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/quiethours"
	"github.com/marketing-platform/distribution/internal/secrets"
	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// TestSeedDemoPublishesRealProtocols is `make run`: seed, then serve with no CHANNELS_CONFIG.
// The started demo events publish every channel, INSTAGRAM, NAVER and KAKAO through their real
// protocols as the demo stores' accounts: a Graph permalink, a cafe article URL, a SENS request id.
func TestSeedDemoPublishesRealProtocols(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewURL(t)
	var out bytes.Buffer
	if err := run(ctx, []string{"seed"}, strings.NewReader(""), &out, env(map[string]string{"DATABASE_URL": url, "LOG_LEVEL": "error"})); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DatabaseURL, cfg.RedisURL, cfg.Addr = url, dbtest.StartRedis(t).URL, "127.0.0.1:0"
	cfg.SimulatorStep, cfg.MaintenanceStartAtOnce, cfg.KakaoQuietHours = 0, true, quiethours.Off
	cfg.JobFetchPollInterval = 20 * time.Millisecond
	a, err := app.New(cfg, app.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Stop(sctx)
	})
	var d model.Distribution
	testkit.EventuallyErr(t, 60*time.Second, "the demo distribution to finish", func() (err error) {
		if d, err = a.Store.FindDistribution(ctx, demoEvents[0].ID); err == nil && !d.OverallStatus.Terminal() {
			err = fmt.Errorf("still %s", d.OverallStatus)
		}
		return err
	})
	got := map[model.Channel]string{}
	for _, c := range d.Channels {
		switch {
		case c.Status != model.StatusSuccess:
			got[c.Channel] = string(c.Status)
		case c.PostURL != nil:
			got[c.Channel] = *c.PostURL
		case c.MessageID != nil:
			got[c.Channel] = *c.MessageID
		}
	}
	if d.OverallStatus != model.OverallCompleted || !strings.HasPrefix(got[model.ChannelInstagram], "https://www.instagram.com/") ||
		!strings.HasPrefix(got[model.ChannelNaver], "https://cafe.naver.com/") || !strings.HasPrefix(got[model.ChannelKakao], "RSENS") {
		t.Fatalf("demo distribution %s: %v; want a Graph permalink, a cafe article URL and a SENS request id", d.OverallStatus, got)
	}
	if a.Simulator.Stats(model.ChannelNaver).Submits != 0 || a.Simulator.Stats(model.ChannelKakao).Submits != 0 {
		t.Error("a demo event used the partner-v1 fallback")
	}
}

// TestSeedUpgradesOldDemo: a database seeded before the embedded simulator spoke the real
// protocols (demo KAKAO account without recipients, demo events without an image) gets them on
// the next seed, once; an account someone set and a started event are left alone.
func TestSeedUpgradesOldDemo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewURL(t)
	seedOnce := func() {
		t.Helper()
		var out bytes.Buffer
		if err := run(ctx, []string{"seed"}, strings.NewReader(""), &out, env(map[string]string{"DATABASE_URL": url, "LOG_LEVEL": "error"})); err != nil {
			t.Fatal(err)
		}
	}
	seedOnce()
	store, err := db.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	keys, _, err := config.Default().SecretsKeysOrDev()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := secrets.New(keys.Current, nil)
	if err != nil {
		t.Fatal(err)
	}
	set := func(storeID, raw string) {
		t.Helper()
		cred, err := model.ParseCredentials(model.ChannelKakao, []byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.SetChannelAccount(ctx, storeID, cred, ring, model.AuditEntry{Actor: "admin"}); err != nil {
			t.Fatal(err)
		}
	}
	set("demo-happy-bakery", `{"senderKey":"demo-sender-key-demo-happy-bakery"}`) // the old demo account
	set("demo-brew-seongsu", `{"senderKey":"someone-real"}`)                      // set by a person
	if _, err := store.Pool.Exec(ctx, `UPDATE events SET image_url = '' WHERE id IN ($1, $2)`, demoEvents[0].ID, demoEvents[5].ID); err != nil {
		t.Fatal(err)
	}
	audits := func() (n int) {
		t.Helper()
		if err := store.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'account.set'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := audits()
	seedOnce()
	if got, _, err := store.AccountCredentials(ctx, "demo-happy-bakery", model.ChannelKakao, ring); err != nil || !strings.Contains(string(got), `"recipients"`) {
		t.Errorf("old demo KAKAO account after seed: %q, %v; want recipients", got, err)
	}
	if got, _, err := store.AccountCredentials(ctx, "demo-brew-seongsu", model.ChannelKakao, ring); err != nil || strings.Contains(string(got), "recipients") {
		t.Errorf("an account someone set was replaced: %q, %v", got, err)
	}
	for i, want := range map[int]string{0: "", 5: demoEvents[5].ImageURL} { // 0 started: left as it is
		if e, err := store.FindEventByID(ctx, demoEvents[i].ID); err != nil || e.ImageURL != want {
			t.Errorf("%s image %q, %v; want %q", demoEvents[i].ID, e.ImageURL, err, want)
		}
	}
	if n := audits(); n != before+1 {
		t.Errorf("%d account audits after the upgrade, want %d", n, before+1)
	}
	seedOnce()
	if n := audits(); n != before+1 {
		t.Errorf("a third seed changed accounts again: %d audits, want %d", n, before+1)
	}
}
