package channels

// Token renewal and views (upkeep.go, views.go) against the simulator over HTTP.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
)

func TestRefreshDue(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	g := &GraphAdapter{}
	day := 24 * time.Hour
	for _, tc := range []struct {
		name    string
		issued  time.Duration
		expires *time.Time
		want    bool
	}{
		{"old, near expiry", -30 * day, at(6 * day), true},
		{"old, expired", -61 * day, at(-time.Hour), true}, // Instagram answers 190: needs reconnect
		{"old, unknown expiry", -2 * day, nil, true},
		{"old, far expiry", -30 * day, at(30 * day), false},
		{"young, near expiry", -23 * time.Hour, at(2 * day), false},
	} {
		if got := g.RefreshDue(nil, now.Add(tc.issued), tc.expires, now); got != tc.want {
			t.Errorf("instagram %s: %v, want %v", tc.name, got, tc.want)
		}
	}
	n := &NaverAdapter{}
	for _, tc := range []struct {
		creds string
		want  bool
	}{
		{`{"refreshToken":"r","expiresAt":"2026-03-01T00:09:00Z"}`, true},
		{`{"refreshToken":"r","expiresAt":"2026-02-28T00:00:00Z"}`, true},
		{`{"refreshToken":"r","expiresAt":"2026-03-01T00:11:00Z"}`, false},
		{`{"refreshToken":"","expiresAt":"2026-03-01T00:01:00Z"}`, false},
		{`{"refreshToken":"r"}`, false},
		{`{"refreshToken":"r","expiresAt":"soon\r\n"}`, false},
		{`not json`, false},
	} {
		if got := n.RefreshDue([]byte(tc.creds), time.Time{}, nil, now); got != tc.want {
			t.Errorf("naver %s: %v, want %v", tc.creds, got, tc.want)
		}
	}
}

func TestNaverRefreshToken(t *testing.T) {
	t.Parallel()
	sim, a := naverSim(t, "")
	acct := Account{StoreID: "s", Ref: nvClub + "/" + nvMenu, Credentials: []byte(`{"clubId":"` + nvClub + `","menuId":"` + nvMenu +
		`","accessToken":"` + nvAccess + `","refreshToken":"` + nvRefresh + `","members":1500}`)}
	res, err := a.(TokenRefresher).RefreshToken(context.Background(), acct)
	if err != nil {
		t.Fatal(err)
	}
	var c naverCredentials
	if json.Unmarshal(res.Credentials, &c) != nil || c.AccessToken == nvAccess || c.RefreshToken != nvRefresh || c.ExpiresAt == "" ||
		c.Members == nil || *c.Members != 1500 || res.ExpiresAt != nil || sim.NaverRefreshes() != 1 {
		t.Errorf("renewed %s (expiry %v, refreshes %d)", res.Credentials, res.ExpiresAt, sim.NaverRefreshes())
	}
	_, bad := naverSim(t, "NAVER=refresh-fail")
	if _, err := bad.(TokenRefresher).RefreshToken(context.Background(), acct); err == nil || err.Kind != NeedsReconnect || !strings.Contains(err.Detail, "invalid_grant") {
		t.Errorf("refused refresh: %v", err)
	}
	_, down := naverSim(t, "NAVER=refresh-500")
	if _, err := down.(TokenRefresher).RefreshToken(context.Background(), acct); err == nil || err.Kind != Temporary {
		t.Errorf("token endpoint down: %v", err)
	}
}

func TestEstimateViews(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		followers int64
		rate      float64
		want      int
	}{{2001, 0.3, 600}, {0, 0.3, 0}, {10, 1, 10}, {1 << 40, 1, 1<<31 - 1}, {3, 0.5, 2}} {
		if got := EstimateViews(tc.followers, tc.rate); got != tc.want {
			t.Errorf("EstimateViews(%d, %v) = %d, want %d", tc.followers, tc.rate, got, tc.want)
		}
	}
}

// The Naver estimate is the account's configured members; the Instagram one followers × rate.
func TestEstimatedViewsAtPublish(t *testing.T) {
	t.Parallel()
	_, a := naverSim(t, "")
	req := naverRequest(&memCheckpoint{}, nil)
	req.Account.Credentials = []byte(strings.Replace(string(req.Account.Credentials), `}`, `,"members":777}`, 1))
	res, err := a.Publish(context.Background(), req, nil)
	if err != nil || res.EstimatedViews != 777 {
		t.Errorf("naver: %+v %v, want 777", res, err)
	}
	res, err = a.Publish(context.Background(), naverRequest(&memCheckpoint{}, nil), nil)
	if err != nil || res.EstimatedViews != 0 {
		t.Errorf("naver without members: %+v %v, want 0", res, err)
	}

	sim, base := startSim(t, simulator.Config{})
	sim.RegisterInstagramAccount("ig1", "IGSIM-p")
	sim.SetInstagramFollowers("ig1", 1000)
	opts := fastOpts()
	opts.AllowInsecureLoopback, opts.InstagramReachRate = true, 0.25
	reg := NewRegistry(map[model.Channel]Endpoint{model.ChannelInstagram: {URL: base, Protocol: ProtocolInstagramGraph, Version: "v23.0"}}, opts)
	t.Cleanup(reg.Close)
	ig := request("evt-ig", model.ChannelInstagram, "1:INSTAGRAM:r0")
	ig.ImageURL = "https://img.example.com/a.jpg"
	ig.Account = &Account{StoreID: "s", Ref: "ig1", Credentials: []byte(`{"igUserId":"ig1","accessToken":"IGSIM-p"}`)}
	res, err = reg.Adapter(model.ChannelInstagram).Publish(context.Background(), ig, nil)
	if err != nil || res.EstimatedViews != 250 || res.PostID == "" {
		t.Errorf("instagram: %+v %v, want 250", res, err)
	}
	// Measured: the post's insights.
	v, cerr := reg.Adapter(model.ChannelInstagram).(ViewsMeasurer).MeasureViews(context.Background(), *ig.Account, res.PostID)
	wv, wr := simulator.InstagramInsightsAt(0)
	if cerr != nil || v.Views != wv || v.Reach != wr {
		t.Errorf("measure: %+v %v, want %d/%d", v, cerr, wv, wr)
	}
	_, cerr = reg.Adapter(model.ChannelInstagram).(ViewsMeasurer).MeasureViews(context.Background(),
		Account{StoreID: "s", Ref: "ig1", Credentials: []byte(`{"igUserId":"ig1","accessToken":"dead"}`)}, res.PostID)
	if cerr == nil || cerr.Kind != NeedsReconnect {
		t.Errorf("measure with a dead token: %v", cerr)
	}
}
