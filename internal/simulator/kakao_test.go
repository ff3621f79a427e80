package simulator

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

func TestParseFailKakaoDealerRules(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]FailRule{
		"KAKAO=auth":             {Dealer: "auth"},
		"kakao=Throttle":         {Dealer: "throttle"},
		"KAKAO=throttlex2":       {Dealer: "throttlex2"},
		"KAKAO=send-lost":        {Dealer: "send-lost"},
		"KAKAO=3":                {First: 3}, // bare numbers keep meaning partner-v1 failures
		"KAKAO=always":           {Always: true},
		"INSTAGRAM=publish-lost": {Graph: "publish-lost"},
	} {
		rules, err := ParseFail(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		for _, r := range rules {
			if r != want {
				t.Errorf("%s = %+v, want %+v", in, r, want)
			}
			if FormatFail(rules) != strings.ToUpper(in[:strings.Index(in, "=")])+"="+r.String() {
				t.Errorf("format %q", FormatFail(rules))
			}
		}
	}
	for _, bad := range []string{"KAKAO=throttlex0", "KAKAO=throttlexx", "KAKAO=throttlex99999", "NAVER=auth", "KAKAO=send-lost\x00", "KAKAO=publish-lost"} {
		if _, err := ParseFail(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := ParseFail("KAKAO=bogus"); err == nil || !strings.Contains(err.Error(), "throttlex<count>") {
		t.Errorf("hint missing: %v", err)
	}
}

// TestSENSEmulationAuth: the emulation checks the signature, the key, the 5-minute window and the
// channel, answering the API gateway's error body.
func TestSENSEmulationAuth(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	secret := []byte("simulator-sens-secret-key-000000000000")
	s.RegisterSENSProject("svc", "AK", secret)
	s.RegisterKakaoChannel("@ch")
	path := "/brandmessage/v2/services/svc/messages"
	body := `{"plusFriendId":"@ch","messageType":"TEXT","targeting":"I","messages":[{"to":"01012345678","countryCode":"82","content":"(광고) hi"}]}`
	send := func(key string, sec []byte, at time.Time, b string) int {
		ts2 := strconv.FormatInt(at.UnixMilli(), 10)
		req, _ := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(b))
		req.Header.Set("x-ncp-apigw-timestamp", ts2)
		req.Header.Set("x-ncp-iam-access-key", key)
		req.Header.Set("x-ncp-apigw-signature-v2", sensSignature(sec, http.MethodPost, path, ts2, key))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	now := time.Now()
	for _, tc := range []struct {
		name string
		key  string
		sec  []byte
		at   time.Time
		body string
		want int
	}{
		{"good", "AK", secret, now, body, 202},
		{"wrong secret", "AK", []byte("x"), now, body, 401},
		{"wrong key", "AK2", secret, now, body, 401},
		{"stale timestamp", "AK", secret, now.Add(-6 * time.Minute), body, 401},
		{"unknown channel", "AK", secret, now, strings.Replace(body, "@ch", "@other", 1), 403},
		{"no messageType", "AK", secret, now, strings.Replace(body, `"messageType":"TEXT",`, "", 1), 400},
	} {
		if got := send(tc.key, tc.sec, tc.at, tc.body); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	if s.KakaoSends("@ch") != 1 || s.Stats(model.ChannelKakao).Submits != 0 {
		t.Errorf("sends %d", s.KakaoSends("@ch"))
	}
}
