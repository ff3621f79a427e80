package simulator

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSENSEmulationIsAd: isAd is a boolean defaulting to true
// (https://api.ncloud-docs.com/docs/sens-friendtalk-send); the older string form is accepted; an
// ad (including one that does not say isAd) must start with "(광고)"; anything else is refused.
func TestSENSEmulationIsAd(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	secret := []byte("simulator-sens-secret-key-000000000000")
	s.RegisterSENSProject("svc", "AK", secret)
	s.RegisterKakaoChannel("@ch")
	path := "/friendtalk/v2/services/svc/messages"
	send := func(msg string) int {
		at := strconv.FormatInt(time.Now().UnixMilli(), 10)
		req, _ := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(`{"plusFriendId":"@ch","messages":[`+msg+`]}`))
		req.Header.Set("x-ncp-apigw-timestamp", at)
		req.Header.Set("x-ncp-iam-access-key", "AK")
		req.Header.Set("x-ncp-apigw-signature-v2", sensSignature(secret, http.MethodPost, path, at, "AK"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for msg, want := range map[string]int{
		`{"isAd":true,"to":"01012345678","content":"(광고) hi"}`:      202,
		`{"isAd":"true","to":"01012345678","content":"(광고) hi"}`:    202,
		`{"isAd":false,"to":"01012345678","content":"hi"}`:          202,
		`{"isAd":"false","to":"01012345678","content":"hi"}`:        202,
		`{"to":"01012345678","content":"hi"}`:                       400, // isAd defaults to true
		`{"isAd":true,"to":"01012345678","content":"hi"}`:           400,
		`{"isAd":1,"to":"01012345678","content":"(광고) hi"}`:         400,
		`{"isAd":"yes","to":"01012345678","content":"(광고) hi"}`:     400,
		`{"isAd":"true\u0000","to":"01012345678","content":"(광고)"}`: 400,
	} {
		if got := send(msg); got != want {
			t.Errorf("%s: %d, want %d", msg, got, want)
		}
	}
}
