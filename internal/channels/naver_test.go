package channels

// The naver-cafe adapter against the simulator's Cafe API emulation (and hostile servers), over
// real HTTP.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
)

const (
	nvClub    = "31000001"
	nvMenu    = "3"
	nvAccess  = "AAAAnaver-access-1"
	nvRefresh = "naver-refresh-1"
)

func naverAdapter(t *testing.T, base string) Adapter {
	t.Helper()
	opts := fastOpts()
	opts.AllowInsecureLoopback = true
	reg := NewRegistry(map[model.Channel]Endpoint{model.ChannelNaver: {URL: base, Protocol: ProtocolNaverCafe,
		TokenURL: base + "/oauth2.0/token", ClientID: "cid", ClientSecret: "csecret"}}, opts)
	t.Cleanup(reg.Close)
	return reg.Adapter(model.ChannelNaver)
}

func naverSim(t *testing.T, fail string) (*simulator.Server, Adapter) {
	t.Helper()
	rules, err := simulator.ParseFail(fail)
	if err != nil {
		t.Fatal(err)
	}
	sim, base := startSim(t, simulator.Config{Fail: rules})
	sim.RegisterNaverAccount(nvClub, nvMenu, nvAccess, nvRefresh)
	return sim, naverAdapter(t, base)
}

// naverRequest is a NAVER request with the store's account; saved collects refreshed credentials.
func naverRequest(cp Checkpoint, saved *[]string) Request {
	r := request("evt-nv", model.ChannelNaver, "1:NAVER:r0")
	r.Account = &Account{StoreID: "store-1", Ref: nvClub + "/" + nvMenu,
		Credentials: []byte(`{"clubId":"` + nvClub + `","menuId":"` + nvMenu + `","accessToken":"` + nvAccess + `","refreshToken":"` + nvRefresh + `"}`),
		SaveCredentials: func(_ context.Context, c []byte, exp *time.Time) error {
			if saved != nil {
				*saved = append(*saved, string(c))
			}
			return nil
		}}
	r.Checkpoint = cp
	return r
}

func TestNaverCafePublish(t *testing.T) {
	t.Parallel()
	sim, a := naverSim(t, "")
	cp := &memCheckpoint{}
	res, err := a.Publish(context.Background(), naverRequest(cp, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.PostID != "1" || res.PostURL != "https://cafe.naver.com/simcafe"+nvClub+"/1" || sim.NaverArticles(nvClub) != 1 {
		t.Errorf("result %+v, articles %d", res, sim.NaverArticles(nvClub))
	}
	if cp.v != naverSubmitted {
		t.Errorf("checkpoint %q: want submitted kept", cp.v)
	}
	// A later attempt of the same key finds "submitted": it refuses rather than posting twice.
	_, err = a.Publish(context.Background(), naverRequest(cp, nil), nil)
	var ce *Error
	if !errors.As(err, &ce) || ce.Kind != Permanent || !strings.Contains(ce.Message, "may already be on the board") || sim.NaverArticles(nvClub) != 1 {
		t.Errorf("second attempt = %v, articles %d: want a permanent refusal and no second article", err, sim.NaverArticles(nvClub))
	}
}

func TestNaverCafeRefresh(t *testing.T) {
	t.Parallel()
	sim, a := naverSim(t, "NAVER=024")
	var saved []string
	res, err := a.Publish(context.Background(), naverRequest(&memCheckpoint{}, &saved), nil)
	if err != nil || res.PostID != "1" {
		t.Fatalf("publish = %+v, %v", res, err)
	}
	if len(saved) != 1 || !strings.Contains(saved[0], `"accessToken":"sim-naver-access-1`) || !strings.Contains(saved[0], `"refreshToken":"`+nvRefresh) || !strings.Contains(saved[0], `"expiresAt":"`) {
		t.Errorf("saved credentials %v", saved)
	}
	if sim.NaverRefreshes() != 1 {
		t.Errorf("refreshes %d", sim.NaverRefreshes())
	}
}

func TestNaverCafeErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		fail  string
		kind  ErrorKind
		words string
	}{
		{"NAVER=429x1", RateLimited, "limiting requests"},
		{"NAVER=500x1", Temporary, "temporary problem"},
		{"NAVER=403x1", Permanent, "is the member in the cafe"},
		{"NAVER=024x5", NeedsReconnect, "reconnect the Naver Cafe account"},
		{"NAVER=refresh-fail", NeedsReconnect, "refused to renew"},
	} {
		sim, a := naverSim(t, tc.fail)
		if tc.fail == "NAVER=refresh-fail" {
			sim.ExpireNaverToken(nvAccess)
		}
		cp := &memCheckpoint{}
		_, err := a.Publish(context.Background(), naverRequest(cp, nil), nil)
		var ce *Error
		if !errors.As(err, &ce) || ce.Kind != tc.kind || !strings.Contains(ce.Message, tc.words) {
			t.Errorf("%s: %v (kind %v), want %v %q", tc.fail, err, ce, tc.kind, tc.words)
			continue
		}
		if cp.v == naverSubmitted {
			t.Errorf("%s: checkpoint still submitted after an error answer: the retry would refuse", tc.fail)
		}
		if strings.Contains(err.Error(), nvAccess) || strings.Contains(err.Error(), nvRefresh) || strings.Contains(err.Error(), "csecret") {
			t.Errorf("%s: error shows a credential: %v", tc.fail, err)
		}
	}
}

// TestNaverCafeConnectionRefused: a request that never left clears the checkpoint.
func TestNaverCafeConnectionRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	l.Close()
	cp := &memCheckpoint{}
	_, err = naverAdapter(t, base).Publish(context.Background(), naverRequest(cp, nil), nil)
	var ce *Error
	if !errors.As(err, &ce) || ce.Kind != Temporary || cp.v != naverNotSent {
		t.Errorf("publish = %v, checkpoint %q: want temporary and not-sent", err, cp.v)
	}
}

func TestNaverErrorBodies(t *testing.T) {
	t.Parallel()
	huge := `{"errorCode":"403","errorMessage":"` + strings.Repeat("가", 2<<20) + `"}`
	for _, tc := range []struct {
		status int
		body   string
		kind   ErrorKind
		want   string // in Error()
	}{
		{400, `{}`, Permanent, "Naver Cafe rejected the post (HTTP 400)"},
		{400, `{"errorCode":"999"}`, Permanent, "errorCode 999"},
		{400, `{"errorMessage":"제목이 없습니다"}`, Permanent, "제목이 없습니다"},
		{403, `{"errorCode":403,"errorMessage":"권한 없음"}`, Permanent, "errorCode 403: 권한 없음"},
		{502, `<html><body>Bad Gateway</body></html>`, Temporary, "HTTP 502"},
		{400, "{\"errorCode\":\"9\xff\\u0000\",\"errorMessage\":\"bad\xfe\\nline\\u0007\"}", Permanent, "errorCode 9"},
		{400, "{\"errorCode\":\"1\x00\n", Permanent, "(HTTP 400)"},
		{429, ``, RateLimited, "limiting"},
		{401, `<html>login</html>`, NeedsReconnect, "reconnect the Naver Cafe account"},
		{403, huge, Temporary, "too large"},
		{200, `{"message":{"status":"200","result":{}}}`, Permanent, "unreadable answer"},
		{200, `not json`, Permanent, "unreadable answer"},
	} {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			fmt.Fprint(w, tc.body)
		}))
		cred := naverRequest(&memCheckpoint{}, nil)
		// Without a refresh token a 401 needs a reconnect at once.
		cred.Account.Credentials = []byte(`{"clubId":"1","menuId":"2","accessToken":"tok"}`)
		_, err := naverAdapter(t, ts.URL).Publish(context.Background(), cred, nil)
		ts.Close()
		var ce *Error
		if !errors.As(err, &ce) || ce.Kind != tc.kind || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("HTTP %d %.60q: %v (kind %v), want %v containing %q", tc.status, tc.body, err, ce, tc.kind, tc.want)
			continue
		}
		if len(ce.Message) > 600 || len(ce.Detail) > 600 || strings.ContainsAny(ce.Message+ce.Detail, "\x00\n\a") || !utf8.ValidString(ce.Message+ce.Detail) {
			t.Errorf("HTTP %d: unsafe message %q / detail %q", tc.status, ce.Message, ce.Detail)
		}
	}
}

func TestNaverCafeConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("naver.secret", "  Abc123XyZ9\n")
	good := `{"channels":{"NAVER":{"protocol":"naver-cafe","url":"https://openapi.naver.com/","tokenUrl":"https://nid.naver.com/oauth2.0/token","clientId":"myClientId","clientSecretFile":"naver.secret"}}}`
	fc, err := LoadConfig(write("good.json", good))
	if err != nil {
		t.Fatal(err)
	}
	cc := fc.Channels[model.ChannelNaver]
	if cc.Protocol != ProtocolNaverCafe || cc.URL != "https://openapi.naver.com" || cc.TokenURL != "https://nid.naver.com/oauth2.0/token" || cc.ClientID != "myClientId" || string(cc.ClientSecret) != "Abc123XyZ9" {
		t.Errorf("config %+v", cc)
	}
	for _, s := range []string{fmt.Sprint(cc), fmt.Sprintf("%+v", cc), fmt.Sprintf("%#v", cc)} {
		if strings.Contains(s, "Abc123XyZ9") {
			t.Errorf("client secret printed: %s", s)
		}
	}
	reg, err := NewRegistryFromConfig(filepath.Join(dir, "good.json"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if _, ok := reg.Adapter(model.ChannelNaver).(*NaverAdapter); !ok || !reg.NeedsAccounts() {
		t.Errorf("registry adapter %T, needs accounts %v", reg.Adapter(model.ChannelNaver), reg.NeedsAccounts())
	}
	write("empty.secret", " \n")
	write("two.secret", "a\nb")
	base := `"protocol":"naver-cafe","url":"https://openapi.naver.com","tokenUrl":"https://nid.naver.com/oauth2.0/token"`
	for i, tc := range []struct{ content, want string }{
		{`{"channels":{"NAVER":{` + base + `,"clientSecretFile":"naver.secret"}}}`, "clientId is required"},
		{`{"channels":{"NAVER":{` + base + `,"clientId":"a\nb","clientSecretFile":"naver.secret"}}}`, "clientId is required"},
		{`{"channels":{"NAVER":{` + base + `,"clientId":"c"}}}`, "clientSecretFile is required"},
		{`{"channels":{"NAVER":{` + base + `,"clientId":"c","clientSecretFile":"empty.secret"}}}`, "clientSecretFile: " + filepath.Join(dir, "empty.secret") + " is empty"},
		{`{"channels":{"NAVER":{` + base + `,"clientId":"c","clientSecretFile":"two.secret"}}}`, "on one line"},
		{`{"channels":{"NAVER":{` + base + `,"clientId":"c","clientSecretFile":"missing"}}}`, "no such file"},
		{`{"channels":{"NAVER":{` + base + `,"clientId":"c","clientSecretFile":"naver.secret","secretFile":"naver.secret"}}}`, "do not apply to protocol naver-cafe"},
		{`{"channels":{"NAVER":{"protocol":"naver-cafe","url":"http://openapi.naver.com","tokenUrl":"https://nid.naver.com/oauth2.0/token","clientId":"c","clientSecretFile":"naver.secret"}}}`, "must use https"},
		{`{"channels":{"NAVER":{"protocol":"naver-cafe","url":"https://openapi.naver.com","tokenUrl":"https://10.0.0.1/token","clientId":"c","clientSecretFile":"naver.secret"}}}`, "tokenUrl: "},
		{`{"channels":{"INSTAGRAM":{` + base + `,"clientId":"c","clientSecretFile":"naver.secret"}}}`, "protocol naver-cafe applies to NAVER only"},
		{`{"channels":{"RINGOBIZ":{"url":"https://r.example","secretFile":"naver.secret","clientId":"c"}}}`, "apply to protocol naver-cafe, not partner-v1"},
	} {
		_, err := LoadConfig(write(fmt.Sprintf("bad%d.json", i), tc.content))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadConfig(%s) = %v, want %q", tc.content, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "Abc123XyZ9") {
			t.Errorf("error shows the secret: %v", err)
		}
	}
}
