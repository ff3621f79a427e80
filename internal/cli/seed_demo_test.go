package cli

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/app"
	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/quiethours"
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
