package simulator

// The SENS brand message emulation (kakao.go) over HTTP: the send body's rules, targeting,
// the list's pages and time formats, one message's result, and the ended 친구톡 paths.

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

type sensClient struct {
	t      *testing.T
	base   string
	secret []byte
}

func newSENSClient(t *testing.T) (*Server, *sensClient) {
	t.Helper()
	s := New(Config{})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(s.Close)
	secret := []byte("simulator-sens-secret-key-000000000000")
	s.RegisterSENSProject("svc", "AK", secret)
	return s, &sensClient{t: t, base: ts.URL, secret: secret}
}

// do sends one signed call and decodes a JSON answer into out (when not nil).
func (c *sensClient) do(method, uri, body string, out any) int {
	c.t.Helper()
	at := strconv.FormatInt(time.Now().UnixMilli(), 10)
	var rd io.Reader = http.NoBody
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, c.base+uri, rd)
	req.Header.Set("x-ncp-apigw-timestamp", at)
	req.Header.Set("x-ncp-iam-access-key", "AK")
	req.Header.Set("x-ncp-apigw-signature-v2", sensSignature(c.secret, method, req.URL.RequestURI(), at, "AK"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		data, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: %d %s", method, uri, resp.StatusCode, data)
		}
	}
	return resp.StatusCode
}

const brandPath = "/brandmessage/v2/services/svc/messages"

type brandList struct {
	RequestID string     `json:"requestId"`
	Messages  []sensItem `json:"messages"`
	NextToken string     `json:"nextToken"`
}

// TestSENSBrandSendBody: what the send accepts and refuses, hostile input included.
func TestSENSBrandSendBody(t *testing.T) {
	t.Parallel()
	s, c := newSENSClient(t)
	s.RegisterKakaoChannel("@ch")
	msg := func(to, content string) string {
		b, _ := json.Marshal(map[string]string{"to": to, "countryCode": "82", "content": content})
		return string(b)
	}
	ok := msg("01012345678", "(광고) hi")
	for body, want := range map[string]int{
		`{"plusFriendId":"@ch","messageType":"TEXT","targeting":"I","messages":[` + ok + `]}`:                            202,
		`{"plusFriendId":"@ch","messageType":"TEXT","messages":[` + ok + `]}`:                                            202, // targeting defaults to I
		`{"plusFriendId":"@ch","messageType":"TEXT","targeting":"M","messages":[` + ok + `]}`:                            202,
		`{"plusFriendId":"@ch","messageType":"TEXT","targeting":"N","messages":[` + ok + `]}`:                            202,
		`{"plusFriendId":"@ch","messageType":"TEXT","targeting":"F","messages":[` + ok + `]}`:                            400,
		`{"plusFriendId":"@ch","messageType":"TEXT","targeting":"I\n","messages":[` + ok + `]}`:                          400,
		`{"plusFriendId":"@ch","messageType":"text","messages":[` + ok + `]}`:                                            400,
		`{"plusFriendId":"@ch","messageType":"IMAGE","messages":[` + ok + `]}`:                                           400, // TEXT only
		`{"plusFriendId":"@ch","messages":[` + ok + `]}`:                                                                 400,
		`{"messageType":"TEXT","messages":[` + ok + `]}`:                                                                 400,
		`{"plusFriendId":"@ch","messageType":"TEXT","messages":[]}`:                                                      400,
		`{"plusFriendId":"@ch","messageType":"TEXT","messages":[` + msg("010-1234-5678", "x") + `]}`:                     400,
		`{"plusFriendId":"@ch","messageType":"TEXT","messages":[` + msg("0101234\x005678", "x") + `]}`:                   400,
		`{"plusFriendId":"@ch","messageType":"TEXT","messages":[` + msg("01012345678", "") + `]}`:                        400,
		`{"plusFriendId":"@ch","messageType":"TEXT","messages":[` + msg("01012345678", strings.Repeat("가", 1300)) + `]}`: 202,
		`{"plusFriendId":"@ch","messageType":"TEXT","messages":[` + msg("01012345678", strings.Repeat("가", 1301)) + `]}`: 400,
		`{"plusFriendId":"@other","messageType":"TEXT","messages":[` + ok + `]}`:                                         403,
		"{\"plusFriendId\":\"@ch\",\xff":                                                                                 400,
	} {
		if got := c.do(http.MethodPost, brandPath, body, nil); got != want {
			t.Errorf("%.120s: %d, want %d", body, got, want)
		}
	}
	// M and N need the channel's brand message subscription.
	s.SetKakaoNonFriends("@new", nil, false)
	for tg, want := range map[string]int{"I": 202, "M": 400, "N": 400} {
		if got := c.do(http.MethodPost, brandPath, `{"plusFriendId":"@new","messageType":"TEXT","targeting":"`+tg+`","messages":[`+ok+`]}`, nil); got != want {
			t.Errorf("unsubscribed channel, targeting %s: %d, want %d", tg, got, want)
		}
	}
	// 친구톡 ended: its paths are gone.
	if got := c.do(http.MethodPost, "/friendtalk/v2/services/svc/messages", `{"plusFriendId":"@ch","messages":[`+ok+`]}`, nil); got != http.StatusNotFound {
		t.Errorf("friendtalk send: %d, want 404", got)
	}
}

// TestSENSBrandTargeting: I reaches the friends, N the non-friends, M everyone; a message is
// "processing" first; one message's result answers the same.
func TestSENSBrandTargeting(t *testing.T) {
	t.Parallel()
	s, c := newSENSClient(t)
	s.SetKakaoNonFriends("@ch", []string{"01099998888"}, true)
	want := map[string][2]string{ // targeting → friend's, non-friend's final status
		"I": {"success", "fail"},
		"N": {"fail", "success"},
		"M": {"success", "success"},
	}
	for tg, w := range want {
		var sent struct {
			RequestID string `json:"requestId"`
			Messages  []struct {
				MessageID string `json:"messageId"`
			} `json:"messages"`
		}
		body := `{"plusFriendId":"@ch","messageType":"TEXT","targeting":"` + tg + `","messages":[{"to":"01011112222","content":"a"},{"to":"01099998888","content":"a"}]}`
		if got := c.do(http.MethodPost, brandPath, body, &sent); got != 202 || sent.RequestID == "" || len(sent.Messages) != 2 {
			t.Fatalf("%s: send %d %+v", tg, got, sent)
		}
		var l brandList
		c.do(http.MethodGet, brandPath+"?requestId="+sent.RequestID, "", &l)
		if len(l.Messages) != 2 || l.Messages[0].MessageStatusName != "processing" || l.Messages[0].MessageType != "TEXT" {
			t.Fatalf("%s: first read %+v", tg, l)
		}
		c.do(http.MethodGet, brandPath+"?requestId="+sent.RequestID, "", &l)
		for i, m := range l.Messages {
			if m.MessageStatusName != w[i] || m.RequestStatusName != "success" || m.CompleteTime == "" {
				t.Errorf("%s: message %d %+v, want %s", tg, i, m, w[i])
			}
			if (m.MessageStatusName == "fail") != (m.MessageStatusCode == "SIM-TARGETING") {
				t.Errorf("%s: message %d code %q", tg, i, m.MessageStatusCode)
			}
		}
		var one sensItem
		if got := c.do(http.MethodGet, brandPath+"/"+url.PathEscape(sent.Messages[1].MessageID), "", &one); got != 200 || one.MessageStatusName != w[1] || one.To != "01099998888" || one.RequestID != sent.RequestID {
			t.Errorf("%s: get %d %+v", tg, got, one)
		}
	}
	if got := s.KakaoTargetings("@ch"); strings.Join(got, "") == "" || len(got) != 3 {
		t.Errorf("targetings %q", got)
	}
	var e map[string]any
	if got := c.do(http.MethodGet, brandPath+"/nope", "", &e); got != 404 {
		t.Errorf("unknown message: %d", got)
	}
}

// TestSENSBrandListPagesAndTimes: pageSize and nextToken walk every message; the time window
// takes the table's "YYYY-MM-DD HH:mm:ss" and the example's "T" form and needs plusFriendId.
func TestSENSBrandListPagesAndTimes(t *testing.T) {
	t.Parallel()
	s, c := newSENSClient(t)
	s.RegisterKakaoChannel("@ch")
	var msgs []string
	for i := range 45 {
		msgs = append(msgs, `{"to":"0101234`+strconv.Itoa(1000+i)+`","content":"page"}`)
	}
	var sent struct {
		RequestID string `json:"requestId"`
	}
	if got := c.do(http.MethodPost, brandPath, `{"plusFriendId":"@ch","messageType":"TEXT","messages":[`+strings.Join(msgs, ",")+`]}`, &sent); got != 202 {
		t.Fatalf("send %d", got)
	}
	seen, token, pages := map[string]bool{}, "", 0
	for {
		q := url.Values{"requestId": {sent.RequestID}}
		if token != "" {
			q.Set("nextToken", token)
		}
		var l brandList
		if got := c.do(http.MethodGet, brandPath+"?"+q.Encode(), "", &l); got != 200 {
			t.Fatalf("page %d: %d", pages, got)
		}
		pages++
		for _, m := range l.Messages {
			seen[m.MessageID] = true
		}
		if token = l.NextToken; token == "" {
			break
		}
	}
	if len(seen) != 45 || pages != 3 { // default pageSize 20
		t.Errorf("%d messages in %d pages", len(seen), pages)
	}
	kst := time.FixedZone("KST", 9*3600)
	from, to := time.Now().Add(-time.Minute).In(kst), time.Now().Add(time.Minute).In(kst)
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		var l brandList
		q := url.Values{"plusFriendId": {"@ch"}, "requestStartTime": {from.Format(layout)}, "requestEndTime": {to.Format(layout)}, "pageSize": {"100"}}
		if got := c.do(http.MethodGet, brandPath+"?"+q.Encode(), "", &l); got != 200 || len(l.Messages) != 45 || l.NextToken != "" {
			t.Errorf("%s: %d, %d messages, next %q", layout, got, len(l.Messages), l.NextToken)
		}
	}
	for _, q := range []url.Values{
		{"requestStartTime": {from.Format("2006-01-02 15:04:05")}, "requestEndTime": {to.Format("2006-01-02 15:04:05")}}, // no plusFriendId
		{"plusFriendId": {"@ch"}, "requestStartTime": {"2026-01-01 00:00:00\n"}, "requestEndTime": {"2026-01-02 00:00:00"}},
		{"plusFriendId": {"@ch"}, "requestStartTime": {"2026-01-01 00:00:00"}, "requestEndTime": {"2026-03-01 00:00:00"}}, // over 31 days
		{"requestId": {sent.RequestID}, "pageSize": {"101"}},
		{"requestId": {sent.RequestID}, "nextToken": {"bogus"}},
		{},
	} {
		if got := c.do(http.MethodGet, brandPath+"?"+q.Encode(), "", nil); got != 400 {
			t.Errorf("%v: %d, want 400", q, got)
		}
	}
}
