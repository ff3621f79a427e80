package channels

// The kakao-sens wire format checked against NAVER Cloud's brand message pages (see the header of
// kakao_sens.go), and the brand message rules (targeting, list pages, one message's result)
// against the simulator over HTTP.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
)

type wireCall struct {
	method, uri string
	body        []byte
}

// wireSim is the simulator behind a recorder of every call.
func wireSim(t *testing.T) (*simulator.Server, Adapter, func() []wireCall) {
	t.Helper()
	sim := simulator.New(simulator.Config{})
	t.Cleanup(sim.Close)
	sim.RegisterSENSProject(sensService, sensAccess, []byte(sensSecret))
	sim.RegisterKakaoChannel(kakaoFriend)
	var (
		mu    sync.Mutex
		calls []wireCall
	)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls = append(calls, wireCall{r.Method, r.URL.RequestURI(), data})
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(data))
		sim.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	opts := fastOpts()
	opts.AllowInsecureLoopback = true
	reg := NewRegistry(map[model.Channel]Endpoint{model.ChannelKakao: {URL: ts.URL, Protocol: ProtocolKakaoSENS,
		ServiceID: sensService, AccessKey: sensAccess, Secret: []byte(sensSecret)}}, opts)
	t.Cleanup(reg.Close)
	return sim, reg.Adapter(model.ChannelKakao), func() []wireCall {
		mu.Lock()
		defer mu.Unlock()
		return append([]wireCall(nil), calls...)
	}
}

func kakaoRequestWith(cp Checkpoint, cred string) Request {
	r := kakaoRequest(cp, kakaoFriend)
	r.Account.Credentials = []byte(cred)
	return r
}

// TestKakaoSENSBrandSendBody: the send is POST /brandmessage/v2/services/{serviceId}/messages
// with plusFriendId, messageType TEXT, the targeting (I when the account says none) and one
// message per recipient (to, countryCode, content); no 친구톡 isAd; the status reads are the
// brand message list by requestId with pageSize.
func TestKakaoSENSBrandSendBody(t *testing.T) {
	t.Parallel()
	_, a, calls := wireSim(t)
	if _, err := a.Publish(context.Background(), kakaoRequest(&memCheckpoint{}, kakaoFriend), nil); err != nil {
		t.Fatal(err)
	}
	var sends []wireCall
	reads := 0
	for _, c := range calls() {
		switch {
		case c.method == http.MethodPost:
			sends = append(sends, c)
		case c.method == http.MethodGet && strings.HasPrefix(c.uri, "/brandmessage/v2/services/"+strings.ReplaceAll(sensService, ":", "%3A")+"/messages?") ||
			c.method == http.MethodGet && strings.HasPrefix(c.uri, "/brandmessage/v2/services/"+sensService+"/messages?"):
			if !strings.Contains(c.uri, "requestId=") || !strings.Contains(c.uri, "pageSize=100") {
				t.Errorf("status read %s", c.uri)
			}
			reads++
		default:
			t.Errorf("unexpected call %s %s", c.method, c.uri)
		}
	}
	if len(sends) != 1 || reads < 2 || !strings.Contains(sends[0].uri, "/brandmessage/v2/services/") || !strings.HasSuffix(sends[0].uri, "/messages") {
		t.Fatalf("sends %+v, %d reads", sends, reads)
	}
	var body map[string]any
	if err := json.Unmarshal(sends[0].body, &body); err != nil {
		t.Fatal(err)
	}
	if body["plusFriendId"] != kakaoFriend || body["messageType"] != "TEXT" || body["targeting"] != "I" {
		t.Fatalf("send body %s", sends[0].body)
	}
	msgs, _ := body["messages"].([]any)
	if len(msgs) != 2 {
		t.Fatalf("send body %s", sends[0].body)
	}
	for i, m := range msgs {
		mm := m.(map[string]any)
		if _, has := mm["isAd"]; has || mm["countryCode"] != "82" || mm["to"] == "" || !strings.HasPrefix(fmt.Sprint(mm["content"]), KakaoAdPrefix) {
			t.Errorf("message %d %v", i, mm)
		}
	}
}

// TestKakaoSENSTargeting: the account's targeting goes on the wire and decides who receives:
// I reaches the friends, M everyone; when nobody is reached the channel fails with the failed
// message's own result (메시지 발송 결과 조회), and an unknown targeting is refused before sending.
func TestKakaoSENSTargeting(t *testing.T) {
	t.Parallel()
	sim, a, calls := wireSim(t)
	sim.SetKakaoNonFriends(kakaoFriend, []string{"01012345678", "01087654321"}, true)
	recipients := `"recipients":["010-1234-5678","01087654321"]`

	res, err := a.Publish(context.Background(), kakaoRequestWith(&memCheckpoint{}, `{"plusFriendId":"`+kakaoFriend+`",`+recipients+`,"targeting":"M"}`), nil)
	if err != nil || res.EstimatedViews != 2 {
		t.Fatalf("M: %+v %v", res, err)
	}
	_, err = a.Publish(context.Background(), kakaoRequestWith(&memCheckpoint{}, `{"plusFriendId":"`+kakaoFriend+`",`+recipients+`}`), nil)
	var ce *Error
	if !errors.As(err, &ce) || ce.Kind != Permanent || !strings.Contains(ce.Detail, "SIM-TARGETING") || !strings.Contains(ce.Detail, "messageId RSENS") {
		t.Fatalf("I to non-friends only: %v", err)
	}
	gets := 0
	for _, c := range calls() {
		if c.method == http.MethodGet && strings.Contains(c.uri, "/messages/RSENS") {
			gets++
		}
	}
	if gets != 1 {
		t.Errorf("%d reads of one message's result, want 1", gets)
	}
	if got := sim.KakaoTargetings(kakaoFriend); fmt.Sprint(got) != "[M I]" {
		t.Errorf("targetings on the wire %v", got)
	}
	for _, bad := range []string{`"F"`, `"i"`, `"I\n"`, `"I\u0000"`} {
		_, err := a.Publish(context.Background(), kakaoRequestWith(&memCheckpoint{}, `{"plusFriendId":"`+kakaoFriend+`",`+recipients+`,"targeting":`+bad+`}`), nil)
		if !errors.As(err, &ce) || ce.Kind != Permanent || !strings.Contains(ce.Message, "targeting") {
			t.Errorf("targeting %s: %v", bad, err)
		}
	}
	if n := sim.KakaoSends(kakaoFriend); n != 2 {
		t.Errorf("%d sends, want 2 (a bad targeting sends nothing)", n)
	}
}

// TestKakaoSENSLostSendFoundOnALaterPage: the look-up by time after a lost answer reads every
// page of the list (earlier requests of the channel fill the first ones) and sends nothing again.
func TestKakaoSENSLostSendFoundOnALaterPage(t *testing.T) {
	t.Parallel()
	sim, a, calls := wireSim(t)
	var nums []string
	for i := range maxSENSRecipients {
		nums = append(nums, fmt.Sprintf(`"0101000%04d"`, i))
	}
	many := `{"plusFriendId":"` + kakaoFriend + `","recipients":[` + strings.Join(nums, ",") + `]}`
	for i := range 2 {
		r := kakaoRequestWith(&memCheckpoint{}, many)
		r.Title = fmt.Sprintf("earlier %d", i)
		if _, err := a.Publish(context.Background(), r, nil); err != nil {
			t.Fatal(err)
		}
	}
	rules, _ := simulator.ParseFail("KAKAO=send-lost")
	sim.SetFail(rules)
	cp := &memCheckpoint{}
	if _, err := a.Publish(context.Background(), kakaoRequest(cp, kakaoFriend), nil); err == nil || !strings.HasPrefix(cp.v, sensSendingPrefix) {
		t.Fatalf("lost send: %v, checkpoint %q", err, cp.v)
	}
	before := len(calls())
	res, err := a.Publish(context.Background(), kakaoRequest(cp, kakaoFriend), nil)
	if err != nil || cp.v != res.MessageID || res.EstimatedViews != 2 {
		t.Fatalf("retry: %+v %v (checkpoint %q)", res, err, cp.v)
	}
	if n := sim.KakaoSends(kakaoFriend); n != 3 {
		t.Fatalf("%d sends, want 3: the lost one must not be sent again", n)
	}
	pages := 0
	for _, c := range calls()[before:] {
		if strings.Contains(c.uri, "requestStartTime=") {
			pages++
			if !strings.Contains(c.uri, "plusFriendId=") || !strings.Contains(c.uri, "+") { // "YYYY-MM-DD HH:mm:ss", the space URL-encoded
				t.Errorf("look-up %s", c.uri)
			}
		}
	}
	if pages != 3 {
		t.Errorf("%d look-up pages, want 3 (202 messages, 100 a page)", pages)
	}
}

// TestKakaoCredentialsTargeting: `account set` keeps a valid targeting and refuses another.
func TestKakaoCredentialsTargeting(t *testing.T) {
	t.Parallel()
	for _, tg := range []string{`"I"`, `"M"`, `"N"`, `null`} {
		if _, err := model.ParseCredentials(model.ChannelKakao, []byte(`{"senderKey":"sk","targeting":`+tg+`}`)); err != nil {
			t.Errorf("targeting %s: %v", tg, err)
		}
	}
	if _, err := model.ParseCredentials(model.ChannelKakao, []byte(`{"senderKey":"sk","recipients":["01012345678"]}`)); err != nil {
		t.Errorf("old form without targeting: %v", err)
	}
	for _, tg := range []string{`"F"`, `"m"`, `""`, `"I\n"`, `"I\u0000"`, `1`, `["I"]`} {
		if _, err := model.ParseCredentials(model.ChannelKakao, []byte(`{"senderKey":"sk","targeting":`+tg+`}`)); err == nil || !strings.Contains(err.Error(), "targeting") {
			t.Errorf("targeting %s: %v", tg, err)
		}
	}
}
