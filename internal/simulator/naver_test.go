package simulator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
)

func TestParseFailNaverCafe(t *testing.T) {
	t.Parallel()
	wantFailRules(t, model.ChannelNaver, []failCase{
		{"NAVER=024", simulator.FailRule{Naver: "024"}},
		{"naver=429x2", simulator.FailRule{Naver: "429x2"}},
		{"NAVER=500x1", simulator.FailRule{Naver: "500x1"}},
		{"NAVER=Refresh-Fail", simulator.FailRule{Naver: "refresh-fail"}},
		{"NAVER=24", simulator.FailRule{First: 24}}, // a plain count keeps its meaning
		{"NAVER=always", simulator.FailRule{Always: true}},
	}, []string{"NAVER=429x0", "NAVER=429x", "NAVER=418x2", "NAVER=024x2x2", "KAKAO=429x2", "INSTAGRAM=refresh-fail", "NAVER=024\x00"})
}

// TestNaverCafeWire: the emulation's answers as Naver documents them, over HTTP.
func TestNaverCafeWire(t *testing.T) {
	t.Parallel()
	sim := simulator.New(simulator.Config{})
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(ts.Close)
	sim.RegisterNaverAccount("100", "5", "acc", "ref")
	post := func(path, token, body string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var v map[string]any
		b, _ := io.ReadAll(res.Body)
		json.Unmarshal(b, &v)
		return res.StatusCode, v
	}
	enc := func(s string) string { return url.QueryEscape(url.QueryEscape(s)) }
	body := "subject=" + enc("100% 세일") + "&content=" + enc("1+1 <b>")
	code, v := post("/v1/cafe/100/menu/5/articles", "acc", body)
	msg, _ := v["message"].(map[string]any)
	result, _ := msg["result"].(map[string]any)
	if code != 200 || msg["status"] != "200" || result["articleId"] != float64(1) || result["articleUrl"] != "https://cafe.naver.com/simcafe100/1" || result["msgId"] == nil || result["cafeUrl"] == nil {
		t.Errorf("article = %d %v", code, v)
	}
	if s, c, ok := sim.NaverArticle("100", 0); !ok || s != "100% 세일" || c != "1+1 <b>" {
		t.Errorf("stored %q %q", s, c)
	}
	for _, tc := range []struct {
		path, token, body string
		status            int
		code              string
	}{
		{"/v1/cafe/100/menu/5/articles", "", body, 401, "024"},
		{"/v1/cafe/100/menu/5/articles", "wrong", body, 401, "024"},
		{"/v1/cafe/101/menu/5/articles", "acc", body, 403, "403"},
		{"/v1/cafe/100/menu/5/articles", "acc", "subject=&content=x", 400, "999"},
		{"/v1/cafe/100/menu/5/articles", "acc", "subject=" + url.QueryEscape("%ff%fe") + "&content=x", 400, "999"},
	} {
		if code, v := post(tc.path, tc.token, tc.body); code != tc.status || v["errorCode"] != tc.code || v["errorMessage"] == nil {
			t.Errorf("%s %q %q = %d %v, want %d %s", tc.path, tc.token, tc.body, code, v, tc.status, tc.code)
		}
	}
	// Refresh: a new access token, the old one invalid.
	code, v = post("/oauth2.0/token", "", "grant_type=refresh_token&client_id=c&client_secret=s&refresh_token=ref")
	newTok, _ := v["access_token"].(string)
	if code != 200 || newTok == "" || v["expires_in"] != "3600" || v["token_type"] != "bearer" {
		t.Fatalf("refresh = %d %v", code, v)
	}
	if code, _ := post("/v1/cafe/100/menu/5/articles", "acc", body); code != 401 {
		t.Errorf("old token after refresh = %d", code)
	}
	if code, _ := post("/v1/cafe/100/menu/5/articles", newTok, body); code != 200 {
		t.Errorf("new token = %d", code)
	}
	if code, v := post("/oauth2.0/token", "", "grant_type=refresh_token&client_id=c&client_secret=s&refresh_token=nope"); code != 200 || v["error"] != "invalid_grant" {
		t.Errorf("bad refresh = %d %v", code, v)
	}
}

// TestNaverAdminAccount: `distribution simulator` takes Naver members over the loopback admin route.
func TestNaverAdminAccount(t *testing.T) {
	t.Parallel()
	sim := simulator.New(simulator.Config{})
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(ts.Close)
	put := func(body string) int {
		req, _ := http.NewRequest(http.MethodPut, ts.URL+"/_admin/naver/accounts", strings.NewReader(body))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := put(`{"clubId":31,"menuId":"2","accessToken":"a","refreshToken":"r"}`); code != http.StatusNoContent {
		t.Fatalf("put = %d", code)
	}
	for _, bad := range []string{`{}`, `{"clubId":"1","menuId":"2","accessToken":"a"}`, `not json`} {
		if code := put(bad); code != http.StatusBadRequest {
			t.Errorf("put %s = %d", bad, code)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/cafe/31/menu/2/articles", strings.NewReader("subject=s&content=c"))
	req.Header.Set("Authorization", "Bearer a")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || sim.NaverArticles("31") != 1 {
		t.Errorf("article with the registered token = %d", res.StatusCode)
	}
}
