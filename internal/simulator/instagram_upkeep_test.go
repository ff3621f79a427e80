package simulator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
)

func TestParseFailRefresh(t *testing.T) {
	t.Parallel()
	wantFailRules(t, model.ChannelInstagram, []failCase{
		{"INSTAGRAM=refresh-190", simulator.FailRule{Refresh: "refresh-190"}},
		{"instagram=Refresh-500", simulator.FailRule{Refresh: "refresh-500"}},
		{"INSTAGRAM=refresh-lost", simulator.FailRule{Refresh: "refresh-lost"}},
	}, []string{"KAKAO=refresh-190", "NAVER=refresh-190", "NAVER=refresh-lost", "INSTAGRAM=refresh-", "INSTAGRAM=refresh-190\x00"})
	wantFailRules(t, model.ChannelNaver, []failCase{
		{"NAVER=refresh-500", simulator.FailRule{Refresh: "refresh-500"}},
		{"NAVER=refresh-fail", simulator.FailRule{Naver: "refresh-fail"}},
	}, nil)
}

// getJSON does a GET and decodes the JSON answer.
func getJSON(t *testing.T, u string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("GET %s: %q is not JSON", u, b)
	}
	return resp.StatusCode, m
}

func graphCode(m map[string]any) float64 {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(float64)
	return c
}

// TestInstagramRefreshWire: refresh_access_token as the reference documents it: at least 24
// hours old and unexpired, a new token valid 60 days, the old one still working.
func TestInstagramRefreshWire(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sim := simulator.New(simulator.Config{Now: func() time.Time { return now }})
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(ts.Close)
	sim.RegisterInstagramToken("u1", "IGSIM-old", now.Add(-30*24*time.Hour), now.Add(3*24*time.Hour))
	sim.RegisterInstagramToken("u1", "IGSIM-young", now.Add(-2*time.Hour), now.Add(50*24*time.Hour))
	sim.RegisterInstagramToken("u1", "IGSIM-expired", now.Add(-70*24*time.Hour), now.Add(-time.Second))
	refresh := func(tok, grant string) (int, map[string]any) {
		return getJSON(t, ts.URL+"/refresh_access_token?"+url.Values{"grant_type": {grant}, "access_token": {tok}}.Encode())
	}
	status, m := refresh("IGSIM-old", "ig_refresh_token")
	fresh, _ := m["access_token"].(string)
	if status != 200 || fresh == "" || fresh == "IGSIM-old" || m["token_type"] != "bearer" || m["expires_in"] != float64(60*24*3600) {
		t.Fatalf("refresh: %d %v", status, m)
	}
	if sim.InstagramRefreshes() != 1 {
		t.Errorf("refreshes %d", sim.InstagramRefreshes())
	}
	for _, tok := range []string{"IGSIM-old", fresh} {
		if status, m := getJSON(t, ts.URL+"/v23.0/u1?"+url.Values{"fields": {"followers_count"}, "access_token": {tok}}.Encode()); status != 200 || m["id"] != "u1" {
			t.Errorf("token %s after the refresh: %d %v", tok, status, m)
		}
	}
	// The fresh token is itself too young to refresh.
	for _, tc := range []struct {
		tok, grant string
		code       float64
	}{
		{"IGSIM-young", "ig_refresh_token", 100}, {fresh, "ig_refresh_token", 100},
		{"IGSIM-expired", "ig_refresh_token", 190}, {"nope\r\n", "ig_refresh_token", 190},
		{"IGSIM-old", "ig_exchange_token", 100},
	} {
		if status, m := refresh(tc.tok, tc.grant); status != 400 || graphCode(m) != tc.code {
			t.Errorf("refresh %q (%s): %d %v, want 400 code %v", tc.tok, tc.grant, status, m, tc.code)
		}
	}
	sim.SetFail(map[model.Channel]simulator.FailRule{model.ChannelInstagram: {Refresh: "refresh-500"}})
	if status, m := refresh("IGSIM-old", "ig_refresh_token"); status != 500 || graphCode(m) != 2 {
		t.Errorf("refresh-500: %d %v", status, m)
	}
	sim.SetFail(map[model.Channel]simulator.FailRule{model.ChannelInstagram: {Refresh: "refresh-190"}})
	if status, m := refresh("IGSIM-old", "ig_refresh_token"); status != 400 || graphCode(m) != 190 {
		t.Errorf("refresh-190: %d %v", status, m)
	}
}

// TestInstagramFollowersAndInsightsWire: followers_count on the user node and the media
// insights (views, reach; impressions refused), growing with the post's age.
func TestInstagramFollowersAndInsightsWire(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sim := simulator.New(simulator.Config{Now: func() time.Time { return now }})
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(ts.Close)
	sim.RegisterInstagramAccount("u2", "IGSIM-t")
	sim.RegisterInstagramAccount("u3", "IGSIM-other")
	sim.SetInstagramFollowers("u2", 4321)
	sim.SeedInstagramPosts("u2", now.Add(-3*time.Hour))
	media := sim.InstagramLatestMedia("u2")
	q := func(v url.Values) string { v.Set("access_token", "IGSIM-t"); return v.Encode() }
	if status, m := getJSON(t, ts.URL+"/v23.0/u2?"+q(url.Values{"fields": {"followers_count,media_count"}})); status != 200 ||
		m["followers_count"] != float64(4321) || m["media_count"] != float64(1) {
		t.Errorf("user node: %d %v", status, m)
	}
	if a, b := sim.InstagramFollowers("u9"), sim.InstagramFollowers("u9"); a != b || a < 1000 || a > 9999 {
		t.Errorf("default followers %d %d: want a stable number", a, b)
	}
	status, m := getJSON(t, ts.URL+"/v23.0/"+media+"/insights?"+q(url.Values{"metric": {"views,reach"}}))
	data, _ := m["data"].([]any)
	views, reach := simulator.InstagramInsightsAt(3 * time.Hour)
	if status != 200 || len(data) != 2 || views != 220 || reach != 170 {
		t.Fatalf("insights: %d %v (views %d reach %d)", status, m, views, reach)
	}
	for i, want := range []struct {
		name string
		v    int
	}{{"views", views}, {"reach", reach}} {
		d := data[i].(map[string]any)
		vals := d["values"].([]any)
		if d["name"] != want.name || d["period"] != "lifetime" || vals[0].(map[string]any)["value"] != float64(want.v) {
			t.Errorf("metric %d: %v, want %s %d", i, d, want.name, want.v)
		}
	}
	if status, m := getJSON(t, ts.URL+"/v23.0/"+media+"/insights?"+q(url.Values{"metric": {"impressions"}})); status != 400 || graphCode(m) != 100 {
		t.Errorf("impressions: %d %v, want refused (deprecated)", status, m)
	}
	other := url.Values{"metric": {"views"}, "access_token": {"IGSIM-other"}}
	if status, m := getJSON(t, ts.URL+"/v23.0/"+media+"/insights?"+other.Encode()); status != 400 || graphCode(m) != 100 {
		t.Errorf("another account's media: %d %v", status, m)
	}
}
