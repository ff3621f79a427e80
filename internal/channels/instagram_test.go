package channels

// The instagram-graph adapter against the simulator's Graph API emulation, over real HTTP.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
)

const (
	igUser  = "17841400000000001"
	igToken = "IGAAtest-token-1"
)

// memCheckpoint is a Checkpoint in memory (the engine's is a table row).
type memCheckpoint struct {
	mu    sync.Mutex
	v     string
	saves int
}

func (m *memCheckpoint) Load(context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.v, nil
}

func (m *memCheckpoint) Save(_ context.Context, v string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.v = v
	m.saves++
	return nil
}

func igSim(t *testing.T, fail string) (*simulator.Server, Adapter) {
	t.Helper()
	rules, err := simulator.ParseFail(fail)
	if err != nil {
		t.Fatal(err)
	}
	sim, base := startSim(t, simulator.Config{Fail: rules})
	sim.RegisterInstagramAccount(igUser, igToken)
	opts := fastOpts()
	opts.AllowInsecureLoopback = true
	reg := NewRegistry(map[model.Channel]Endpoint{model.ChannelInstagram: {URL: base, Protocol: ProtocolInstagramGraph, Version: "v23.0"}}, opts)
	t.Cleanup(reg.Close)
	return sim, reg.Adapter(model.ChannelInstagram)
}

func igRequest(cp Checkpoint) Request {
	r := request("evt-ig", model.ChannelInstagram, "1:INSTAGRAM:r0")
	r.Account = &Account{StoreID: "store-1", Ref: igUser, Credentials: []byte(`{"igUserId":"` + igUser + `","accessToken":"` + igToken + `"}`)}
	r.Checkpoint = cp
	return r
}

func TestInstagramGraphPublish(t *testing.T) {
	t.Parallel()
	sim, a := igSim(t, "")
	cp := &memCheckpoint{}
	var log progressLog
	res, err := a.Publish(context.Background(), igRequest(cp), log.fn)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	log.check(t)
	if res.PostID == "" || !strings.HasPrefix(res.PostURL, "https://www.instagram.com/p/") {
		t.Errorf("result %+v: want the media id and its permalink", res)
	}
	if sim.InstagramPosts(igUser) != 1 || sim.InstagramContainers(igUser) != 1 || cp.v == "" || cp.saves != 1 {
		t.Errorf("posts %d containers %d checkpoint %q/%d", sim.InstagramPosts(igUser), sim.InstagramContainers(igUser), cp.v, cp.saves)
	}
	if st := sim.Stats(model.ChannelInstagram); st.Polls < simulator.IGPollsToFinish+2 {
		t.Errorf("stats %+v: want the container polled until FINISHED, then the permalink read", st)
	}
	// The same key again: the container is PUBLISHED, the post is found, nothing is published.
	again, err := a.Publish(context.Background(), igRequest(cp), nil)
	if err != nil || again.PostID != res.PostID || again.PostURL != res.PostURL || sim.InstagramPosts(igUser) != 1 {
		t.Errorf("second Publish of the same key = %+v, %v; posts %d: want the same post, none new", again, err, sim.InstagramPosts(igUser))
	}
}

func TestInstagramGraphContainerErrorMakesANewContainer(t *testing.T) {
	t.Parallel()
	sim, a := igSim(t, "INSTAGRAM=container-error")
	cp := &memCheckpoint{}
	_, err := a.Publish(context.Background(), igRequest(cp), nil)
	wantErr(t, err, Temporary, "container ERROR")
	first := cp.v
	res, err := a.Publish(context.Background(), igRequest(cp), nil)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if cp.v == first || sim.InstagramContainers(igUser) != 2 || sim.InstagramPosts(igUser) != 1 || res.PostID == "" {
		t.Errorf("checkpoint %q (was %q), containers %d, posts %d: want a new container and one post", cp.v, first, sim.InstagramContainers(igUser), sim.InstagramPosts(igUser))
	}
}

func TestInstagramGraphPublishLostPublishesOnce(t *testing.T) {
	t.Parallel()
	sim, a := igSim(t, "INSTAGRAM=publish-lost")
	cp := &memCheckpoint{}
	_, err := a.Publish(context.Background(), igRequest(cp), nil)
	wantErr(t, err, Temporary, "interrupted")
	if sim.InstagramPosts(igUser) != 1 {
		t.Fatalf("posts %d after the lost answer, want 1", sim.InstagramPosts(igUser))
	}
	res, err := a.Publish(context.Background(), igRequest(cp), nil)
	if err != nil || res.PostID == "" || res.PostURL == "" {
		t.Fatalf("retry = %+v, %v", res, err)
	}
	if sim.InstagramPosts(igUser) != 1 || sim.InstagramContainers(igUser) != 1 {
		t.Errorf("posts %d containers %d: want exactly one of each", sim.InstagramPosts(igUser), sim.InstagramContainers(igUser))
	}
}

func TestInstagramGraphErrors(t *testing.T) {
	t.Parallel()
	t.Run("190", func(t *testing.T) {
		t.Parallel()
		sim, a := igSim(t, "INSTAGRAM=190")
		_, err := a.Publish(context.Background(), igRequest(&memCheckpoint{}), nil)
		e := wantErr(t, err, NeedsReconnect, "reconnect the Instagram account")
		if e.HTTPStatus != 400 || !strings.Contains(e.Detail, "code 190 subcode 463") || !strings.Contains(e.Detail, "fbtrace_id Sim") {
			t.Errorf("detail %q status %d", e.Detail, e.HTTPStatus)
		}
		if sim.InstagramContainers(igUser) != 0 {
			t.Error("a container was made with a dead token")
		}
	})
	t.Run("613x2", func(t *testing.T) {
		t.Parallel()
		sim, a := igSim(t, "INSTAGRAM=613x2")
		for i := range 2 {
			_, err := a.Publish(context.Background(), igRequest(&memCheckpoint{}), nil)
			if e := wantErr(t, err, RateLimited, "limiting requests (code 613)"); e.RetryAfter != graphThrottleWait {
				t.Errorf("call %d: retry after %s", i, e.RetryAfter)
			}
		}
		if _, err := a.Publish(context.Background(), igRequest(&memCheckpoint{}), nil); err != nil || sim.InstagramPosts(igUser) != 1 {
			t.Errorf("third Publish: %v, posts %d", err, sim.InstagramPosts(igUser))
		}
	})
	t.Run("unknown token", func(t *testing.T) {
		t.Parallel()
		_, a := igSim(t, "")
		req := igRequest(nil)
		req.Account.Credentials = []byte(`{"igUserId":"` + igUser + `","accessToken":"someone else's"}`)
		_, err := a.Publish(context.Background(), req, nil)
		wantErr(t, err, NeedsReconnect, "Cannot parse access token")
	})
	t.Run("no account", func(t *testing.T) {
		t.Parallel()
		_, a := igSim(t, "")
		req := igRequest(nil)
		req.Account = nil
		_, err := a.Publish(context.Background(), req, nil)
		wantErr(t, err, Permanent, ErrNoInstagramAccount)
	})
	t.Run("token not in the detail", func(t *testing.T) {
		t.Parallel()
		opts := fastOpts()
		opts.AllowInsecureLoopback = true
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close()
		}))
		t.Cleanup(srv.Close)
		reg := NewRegistry(map[model.Channel]Endpoint{model.ChannelInstagram: {URL: srv.URL, Protocol: ProtocolInstagramGraph, Version: "v23.0"}}, opts)
		t.Cleanup(reg.Close)
		req := igRequest(&memCheckpoint{v: "1790000"}) // a GET carries the token in the query
		_, err := reg.Adapter(model.ChannelInstagram).Publish(context.Background(), req, nil)
		e := asError(t, err)
		if strings.Contains(e.Error(), igToken) {
			t.Errorf("error shows the access token: %v", e)
		}
	})
}

// TestGraphErrorBodies: the classifier on hand-made bodies, hostile ones included.
func TestGraphErrorBodies(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for _, tc := range []struct {
		name   string
		status int
		body   string
		kind   ErrorKind
		detail string
	}{
		{"190 subcode", 400, `{"error":{"message":"Error validating access token","type":"OAuthException","code":190,"error_subcode":460,"fbtrace_id":"AbC"}}`, NeedsReconnect, "code 190 subcode 460 (OAuthException): Error validating access token; fbtrace_id AbC"},
		{"190 no subcode", 401, `{"error":{"code":190}}`, NeedsReconnect, "code 190"},
		{"4", 400, `{"error":{"code":4,"message":"Application request limit reached"}}`, RateLimited, "code 4"},
		{"17", 400, `{"error":{"code":17}}`, RateLimited, "code 17"},
		{"32", 400, `{"error":{"code":32}}`, RateLimited, "code 32"},
		{"613", 400, `{"error":{"code":613,"is_transient":true}}`, RateLimited, "code 613"},
		{"transient", 400, `{"error":{"code":9004,"is_transient":true,"message":"try again"}}`, Temporary, "try again"},
		{"code 2", 400, `{"error":{"code":2}}`, Temporary, "code 2"},
		{"5xx", 503, `{"error":{"code":100}}`, Temporary, "HTTP 503"},
		{"permanent", 400, `{"error":{"code":100,"error_subcode":2207052,"message":"media could not be fetched"}}`, Permanent, "2207052"},
		{"missing fields", 400, `{"error":{}}`, Permanent, "code 0"},
		{"wrong types", 400, `{"error":{"code":"190","message":5,"fbtrace_id":["x"]}}`, Permanent, "HTTP 400"},
		{"float code", 400, `{"error":{"code":613.0,"message":"x"}}`, RateLimited, "code 613"},
		{"error string", 400, `{"error":"bad"}`, Permanent, "HTTP 400"},
		{"null error", 500, `{"error":null}`, Temporary, "HTTP 500"},
		{"html", 502, `<html><body><h1>502 Bad Gateway</h1></body></html>`, Temporary, "HTTP 502"},
		{"html 400", 400, `<!DOCTYPE html><title>Error</title>`, Permanent, "HTTP 400"},
		{"empty", 400, ``, Permanent, "HTTP 400"},
		{"control chars", 400, "{\"error\":{\"code\":100,\"message\":\"a\\u0000b\\nc\\u001b[31m\",\"fbtrace_id\":\"t\\r\\nX-Evil: 1\"}}", Permanent, "a b c [31m"},
		{"invalid utf8", 400, "{\"error\":{\"code\":100,\"message\":\"caf\xc3\x28\"}}", Permanent, "HTTP 400"},
		{"huge message", 400, `{"error":{"code":100,"message":"` + strings.Repeat("가", 100000) + `"}}`, Permanent, "code 100"},
	} {
		e, _ := GraphError(tc.status, http.Header{}, []byte(tc.body), now)
		if e.Kind != tc.kind || !strings.Contains(e.Detail, tc.detail) {
			t.Errorf("%s: kind %s detail %q, want %s containing %q", tc.name, e.Kind, e.Detail, tc.kind, tc.detail)
		}
		if len([]rune(e.Message)) > 400 || len(e.Detail) > 2000 || strings.ContainsAny(e.Message+e.Detail, "\x00\n\r\x1b") {
			t.Errorf("%s: message or detail not bounded and clean: %q / %q", tc.name, e.Message, e.Detail)
		}
	}
	// Retry-After is honoured on throttling when present.
	e, _ := GraphError(400, http.Header{"Retry-After": {"7"}}, []byte(`{"error":{"code":613}}`), now)
	if e.RetryAfter != 7*time.Second {
		t.Errorf("retry after %s, want 7s", e.RetryAfter)
	}
}

// TestGraphHugeBody: an oversized answer is refused, not read.
func TestGraphHugeBody(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		w.Write([]byte(`{"error":{"message":"` + strings.Repeat("x", 2<<20) + `"}}`))
	}))
	t.Cleanup(srv.Close)
	opts := fastOpts()
	opts.AllowInsecureLoopback = true
	reg := NewRegistry(map[model.Channel]Endpoint{model.ChannelInstagram: {URL: srv.URL, Protocol: ProtocolInstagramGraph, Version: "v23.0"}}, opts)
	t.Cleanup(reg.Close)
	_, err := reg.Adapter(model.ChannelInstagram).Publish(context.Background(), igRequest(nil), nil)
	wantErr(t, err, Temporary, "too large")
}

func TestInstagramGraphConfig(t *testing.T) {
	t.Parallel()
	fc, err := ParseConfig([]byte(`{"channels":{"INSTAGRAM":{"protocol":"instagram-graph","url":"https://graph.instagram.com/","version":"v23.0"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if cc := fc.Channels[model.ChannelInstagram]; cc.Protocol != ProtocolInstagramGraph || cc.URL != "https://graph.instagram.com" || cc.Version != "v23.0" {
		t.Errorf("config %+v", cc)
	}
	for _, tc := range []struct{ content, want string }{
		{`{"channels":{"INSTAGRAM":{"protocol":"instagram-graph","url":"https://graph.instagram.com","version":"23"}}}`, `version "23"`},
		{`{"channels":{"INSTAGRAM":{"protocol":"instagram-graph","url":"https://graph.instagram.com","version":"v23.0\n"}}}`, `version`},
		{`{"channels":{"INSTAGRAM":{"protocol":"instagram-graph","version":"v23.0"}}}`, "url is required"},
		{`{"channels":{"INSTAGRAM":{"protocol":"instagram-graph","url":"http://graph.instagram.com","version":"v23.0"}}}`, "must use https"},
		{`{"channels":{"INSTAGRAM":{"protocol":"instagram-graph","url":"https://graph.instagram.com","version":"v23.0","secretFile":"x"}}}`, "secretFile applies to protocol partner-v1"},
		{`{"channels":{"KAKAO":{"protocol":"instagram-graph","url":"https://graph.instagram.com","version":"v23.0"}}}`, "INSTAGRAM only"},
	} {
		if _, err := ParseConfig([]byte(tc.content)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseConfig(%s) = %v, want %q", tc.content, err, tc.want)
		}
	}
}
