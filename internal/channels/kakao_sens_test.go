package channels

// The kakao-sens adapter against the simulator's SENS brand message emulation, over real HTTP.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
)

const (
	sensService = "ncp:kkobizmsg:kr:2712345:sens"
	sensAccess  = "ncpAccessKeyTest0001"
	sensSecret  = "ncp-secret-key-for-tests-0123456789abcdef"
	kakaoFriend = "@우리동네빵집"
)

func sensSim(t *testing.T, fail string, secret string) (*simulator.Server, Adapter) {
	t.Helper()
	rules, err := simulator.ParseFail(fail)
	if err != nil {
		t.Fatal(err)
	}
	sim, base := startSim(t, simulator.Config{Fail: rules})
	sim.RegisterSENSProject(sensService, sensAccess, []byte(sensSecret))
	sim.RegisterKakaoChannel(kakaoFriend)
	opts := fastOpts()
	opts.AllowInsecureLoopback = true
	reg := NewRegistry(map[model.Channel]Endpoint{model.ChannelKakao: {URL: base, Protocol: ProtocolKakaoSENS,
		ServiceID: sensService, AccessKey: sensAccess, Secret: []byte(secret)}}, opts)
	t.Cleanup(reg.Close)
	return sim, reg.Adapter(model.ChannelKakao)
}

func kakaoRequest(cp Checkpoint, friend string) Request {
	r := request("evt-kakao", model.ChannelKakao, "1:KAKAO:r0")
	r.Account = &Account{StoreID: "store-1", Ref: friend, Credentials: []byte(`{"plusFriendId":"` + friend + `","recipients":["01012345678","01087654321"]}`)}
	r.Checkpoint = cp
	return r
}

func TestKakaoSENSPublish(t *testing.T) {
	t.Parallel()
	sim, a := sensSim(t, "", sensSecret)
	cp := &memCheckpoint{}
	var log progressLog
	res, err := a.Publish(context.Background(), kakaoRequest(cp, kakaoFriend), log.fn)
	if err != nil {
		t.Fatal(err)
	}
	log.check(t)
	if !strings.HasPrefix(res.MessageID, "RSENS") || res.EstimatedViews != 2 || cp.v != res.MessageID {
		t.Fatalf("result %+v, checkpoint %q", res, cp.v)
	}
	if n := sim.KakaoSends(kakaoFriend); n != 1 {
		t.Fatalf("%d sends, want 1", n)
	}
	// The advertising rules on the wire: "(광고)" first, the opt-out line last, to every friend.
	contents := sim.KakaoContents(kakaoFriend)
	if len(contents) != 2 {
		t.Fatalf("contents %q", contents)
	}
	for _, c := range contents {
		if !strings.HasPrefix(c, KakaoAdPrefix+" 봄맞이 세일") || !strings.HasSuffix(c, "\n\n"+KakaoOptOut) || !strings.Contains(c, "전 품목 20% 할인") {
			t.Fatalf("content %q", c)
		}
	}
	if a.(AccountAdapter).NeedsAccount() != true {
		t.Fatal("kakao-sens must publish as the store's account")
	}
}

func TestKakaoSENSSendLostIsNotSentTwice(t *testing.T) {
	t.Parallel()
	sim, a := sensSim(t, "KAKAO=send-lost", sensSecret)
	cp := &memCheckpoint{}
	_, err := a.Publish(context.Background(), kakaoRequest(cp, kakaoFriend), nil)
	var ce *Error
	if !errors.As(err, &ce) || ce.Kind != Temporary || !strings.HasPrefix(cp.v, sensSendingPrefix) {
		t.Fatalf("first attempt: %v, checkpoint %q", err, cp.v)
	}
	res, err := a.Publish(context.Background(), kakaoRequest(cp, kakaoFriend), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := sim.KakaoSends(kakaoFriend); n != 1 || res.MessageID == "" || cp.v != res.MessageID {
		t.Fatalf("%d sends (want exactly 1), result %+v, checkpoint %q", n, res, cp.v)
	}
}

func TestKakaoSENSAuthFailuresNeedReconnect(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, fail, secret, friend string }{
		{"dealer auth fault", "KAKAO=auth", sensSecret, kakaoFriend},
		{"wrong secret key", "", "another-secret-key-of-the-same-size-000000", kakaoFriend},
		{"unknown or blocked channel", "", sensSecret, "@someone-else"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim, a := sensSim(t, tc.fail, tc.secret)
			_, err := a.Publish(context.Background(), kakaoRequest(&memCheckpoint{}, tc.friend), nil)
			var ce *Error
			if !errors.As(err, &ce) || ce.Kind != NeedsReconnect || (ce.HTTPStatus != 401 && ce.HTTPStatus != 403) {
				t.Fatalf("err %v", err)
			}
			if sim.KakaoSends(kakaoFriend) != 0 {
				t.Fatal("a message was sent")
			}
		})
	}
}

func TestKakaoSENSThrottledTwiceThenSent(t *testing.T) {
	t.Parallel()
	sim, a := sensSim(t, "KAKAO=throttlex2", sensSecret)
	cp := &memCheckpoint{}
	for i := range 2 {
		_, err := a.Publish(context.Background(), kakaoRequest(cp, kakaoFriend), nil)
		var ce *Error
		if !errors.As(err, &ce) || ce.Kind != RateLimited || ce.RetryAfter <= 0 || !strings.Contains(ce.Detail, "SENS code 400") {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	res, err := a.Publish(context.Background(), kakaoRequest(cp, kakaoFriend), nil)
	if err != nil || res.MessageID == "" || sim.KakaoSends(kakaoFriend) != 1 {
		t.Fatalf("res %+v err %v sends %d", res, err, sim.KakaoSends(kakaoFriend))
	}
}

func TestKakaoSENSNoAccountOrRecipients(t *testing.T) {
	t.Parallel()
	_, a := sensSim(t, "", sensSecret)
	r := kakaoRequest(nil, kakaoFriend)
	r.Account = nil
	if _, err := a.Publish(context.Background(), r, nil); err == nil || !strings.Contains(err.Error(), ErrNoKakaoAccount) {
		t.Fatalf("no account: %v", err)
	}
	r.Account = &Account{StoreID: "s", Ref: kakaoFriend, Credentials: []byte(`{"plusFriendId":"x"}`)}
	var ce *Error
	if _, err := a.Publish(context.Background(), r, nil); !errors.As(err, &ce) || ce.Kind != Permanent || !strings.Contains(err.Error(), "recipients") {
		t.Fatalf("no recipients: %v", err)
	}
	for _, bad := range []string{"010\n1234", "010-1234-567\u0000", "+821012345678", "1234", "\ufffd"} {
		r.Account.Credentials, _ = json.Marshal(KakaoCredentials{PlusFriendID: "x", Recipients: []string{"01012345678", bad}})
		if _, err := a.Publish(context.Background(), r, nil); !errors.As(err, &ce) || ce.Kind != Permanent || !strings.Contains(err.Error(), "recipient 2 ") {
			t.Fatalf("recipient %q: %v", bad, err)
		}
	}
}

func TestBrandMessageContentHostile(t *testing.T) {
	t.Parallel()
	r := Request{Title: "(광고) 이미 붙은 제목\r\n", Description: strings.Repeat("가", 5000) + "\x00\xff"}
	c := BrandMessageContent(r)
	if !strings.HasPrefix(c, "(광고) 이미 붙은 제목") || strings.Count(c, KakaoAdPrefix) != 1 || !strings.HasSuffix(c, "\n\n"+KakaoOptOut) || len([]rune(c)) > maxBrandTextRunes {
		t.Fatalf("content %d runes, %q…%q", len([]rune(c)), c[:40], c[len(c)-40:])
	}
}

func TestSENSErrorTable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		body   string
		kind   ErrorKind
		detail string
	}{
		{401, `{"error":{"errorCode":"200","message":"Authentication Failed","details":"Invalid authentication information."}}`, NeedsReconnect, "HTTP 401: SENS code 200: Authentication Failed: Invalid authentication information."},
		{401, `{"error":{"errorCode":"210","message":"Permission Denied"}}`, NeedsReconnect, "SENS code 210"},
		{403, `{"status":403,"errorMessage":"plusFriendId is not registered"}`, NeedsReconnect, "SENS code 403: plusFriendId is not registered"},
		{429, `{"error":{"errorCode":"400","message":"Rate Limit Exceeded"}}`, RateLimited, "SENS code 400"},
		{500, `{"error":{"errorCode":"500","message":"Internal Server Error"}}`, Temporary, "HTTP 500"},
		{503, `<html>down</html>`, Temporary, "HTTP 503: <html>down</html>"},
		{400, `{"status":400,"errorMessage":"invalid request body"}`, Permanent, "invalid request body"},
		{404, `{"statusCode":"404","statusName":"fail"}`, Permanent, "SENS code 404: fail"},
		{400, "bad\x00\xffbody\nline", Permanent, "HTTP 400"},
	} {
		e := SENSError(tc.status, http.Header{}, []byte(tc.body), fastOpts().WithDefaults().Now())
		if e.Kind != tc.kind || !strings.Contains(e.Detail, tc.detail) || e.HTTPStatus != tc.status || strings.ContainsRune(e.Detail, 0) {
			t.Errorf("%d %s: kind %v detail %q", tc.status, tc.body, e.Kind, e.Detail)
		}
	}
}

func TestKakaoSENSConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sens.key"), []byte(sensSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := `{"channels":{"KAKAO":{"protocol":"kakao-sens","url":"https://sens.apigw.ntruss.com","serviceId":"` + sensService + `","accessKey":"` + sensAccess + `","secretKeyFile":"sens.key"}}}`
	p := filepath.Join(dir, "channels.json")
	if err := os.WriteFile(p, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	fc, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	cc := fc.Channels[model.ChannelKakao]
	if cc.Protocol != ProtocolKakaoSENS || cc.ServiceID != sensService || cc.AccessKey != sensAccess || string(cc.Secret) != sensSecret {
		t.Fatalf("config %+v", cc)
	}
	if s := strings.Join([]string{strings.TrimSpace(fmtV(cc)), fmtV(cc.Secret)}, " "); strings.Contains(s, sensSecret) {
		t.Fatal("the secret key is printable")
	}
	reg, err := NewRegistryFromConfig(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if _, ok := reg.Adapter(model.ChannelKakao).(*SENSAdapter); !ok || !reg.NeedsAccounts() {
		t.Fatal("KAKAO is not the SENS adapter, or accounts are not required")
	}
	for _, tc := range []struct{ json, want string }{
		{`{"channels":{"NAVER":{"protocol":"kakao-sens","url":"https://sens.apigw.ntruss.com"}}}`, "applies to KAKAO only"},
		{`{"channels":{"KAKAO":{"protocol":"kakao-sens"}}}`, "url is required"},
		{`{"channels":{"KAKAO":{"protocol":"kakao-sens","url":"http://sens.apigw.ntruss.com","serviceId":"a","accessKey":"b","secretKeyFile":"c"}}}`, "must use https"},
		{`{"channels":{"KAKAO":{"protocol":"kakao-sens","url":"https://sens.apigw.ntruss.com","accessKey":"b","secretKeyFile":"c"}}}`, "serviceId is required"},
		{`{"channels":{"KAKAO":{"protocol":"kakao-sens","url":"https://sens.apigw.ntruss.com","serviceId":"a/b","accessKey":"b","secretKeyFile":"c"}}}`, "serviceId is required"},
		{`{"channels":{"KAKAO":{"protocol":"kakao-sens","url":"https://sens.apigw.ntruss.com","serviceId":"a","secretKeyFile":"c"}}}`, "accessKey is required"},
		{`{"channels":{"KAKAO":{"protocol":"kakao-sens","url":"https://sens.apigw.ntruss.com","serviceId":"a","accessKey":"b\n"}}}`, "accessKey is required"},
		{`{"channels":{"KAKAO":{"protocol":"kakao-sens","url":"https://sens.apigw.ntruss.com","serviceId":"a","accessKey":"b"}}}`, "secretKeyFile is required"},
		{`{"channels":{"KAKAO":{"protocol":"kakao-sens","url":"https://sens.apigw.ntruss.com","serviceId":"a","accessKey":"b","secretKeyFile":"c","secretFile":"d"}}}`, "do not apply to kakao-sens"},
	} {
		if _, err := ParseConfig([]byte(tc.json)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.json, err, tc.want)
		}
	}
	short := filepath.Join(dir, "short.json")
	if err := os.WriteFile(short, []byte(strings.Replace(good, "sens.key", "nope.key", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(short); err == nil || !strings.Contains(err.Error(), "channel KAKAO: secretKeyFile") {
		t.Fatalf("missing key file: %v", err)
	}
}

func fmtV(v any) string { return fmt.Sprintf("%v %+v %#v %s", v, v, v, v) }
